package sql

import (
	"context"
	"fmt"
	"strings"

	"github.com/meridiandb/meridian/ranges/encoding"
	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// Enforcement of CHECK and FOREIGN KEY constraints on the rows statements write.
//
// CHECK constraints are evaluated on each new row before anything is written. Foreign keys
// are checked after the statement's own writes have been sent, in its transaction, so the
// checks read the statement's effects (a row inserted together with its parent, children
// deleted by a cascade): what PostgreSQL's NO ACTION checks at the end of the statement.
// RESTRICT is checked the same way; the two differ only with deferred constraints, which
// Meridian does not have. A referencing row's parent is read by primary key; the rows that
// reference a deleted or re-keyed parent row are found by a span scan when the foreign key's
// columns lead the child's primary key, else by a scan of the whole child table. All reads
// are plain reads of the serializable transaction: a concurrent transaction that deletes a
// parent whose existence a child insert read (or inserts a child in the span a parent
// delete scanned) conflicts with it, and one of the two retries.

// rowChange is one row a statement writes: old is nil for an insert, new for a delete.
type rowChange struct{ old, new []types.Datum }

// compiledCheck is a CHECK constraint ready to evaluate over a table's rows.
type compiledCheck struct {
	name string
	expr *scalar
}

// mutationConstraints are the constraints of the table a statement writes, compiled when
// the statement is planned. A nil *mutationConstraints has none.
type mutationConstraints struct {
	table  *catalog.Table
	checks []compiledCheck
	// related are the tables tbl's foreign keys involve, read when the statement is
	// planned: a plan lives no longer than the schema version it was made at.
	related map[uint32]*catalog.Table
}

// planMutationConstraints compiles the constraints of tbl for a statement that writes it,
// in t; nil when it has none beyond NOT NULL and its primary key.
func (s *Session) planMutationConstraints(ctx context.Context, t *txn.Txn, tbl *catalog.Table) (*mutationConstraints, error) {
	if len(tbl.Checks) == 0 && len(tbl.ForeignKeys) == 0 && len(tbl.ReferencedBy) == 0 {
		return nil, nil
	}
	checks, err := s.compileChecks(tbl)
	if err != nil {
		return nil, err
	}
	m := &mutationConstraints{table: tbl, checks: checks, related: map[uint32]*catalog.Table{tbl.ID: tbl}}
	var ids []uint32
	for _, fk := range tbl.ForeignKeys {
		ids = append(ids, fk.ReferencedTable)
	}
	for _, ref := range tbl.ReferencedBy {
		ids = append(ids, ref.Table)
	}
	for _, id := range ids {
		if m.related[id] != nil {
			continue
		}
		other, err := s.srv.cat.TableByID(ctx, t, id)
		if err != nil {
			return nil, err
		}
		if other == nil {
			return nil, fmt.Errorf("table %d of a foreign key of %q does not exist", id, tbl.Name)
		}
		m.related[id] = other
	}
	return m, nil
}

func (s *Session) compileChecks(tbl *catalog.Table) ([]compiledCheck, error) {
	var out []compiledCheck
	for i := range tbl.Checks {
		e, err := parseCheck(&tbl.Checks[i])
		if err != nil {
			return nil, err
		}
		sc, err := s.compileCheck(tbl, e)
		if err != nil {
			return nil, err
		}
		out = append(out, compiledCheck{name: tbl.Checks[i].Name, expr: sc})
	}
	return out, nil
}

// checkRow evaluates the CHECK constraints on a row about to be written.
func (m *mutationConstraints) checkRow(ec *evalCtx, row []types.Datum) error {
	if m == nil {
		return nil
	}
	return evalChecks(ec, m.table, m.checks, row)
}

func evalChecks(ec *evalCtx, tbl *catalog.Table, checks []compiledCheck, row []types.Datum) error {
	for _, c := range checks {
		v, err := c.expr.eval(ec, row)
		if err != nil {
			return err
		}
		if v != nil && !v.(bool) {
			return violation(pgerror.New(pgerror.CodeCheckViolation, "new row for relation %q violates check constraint %q", tbl.Name, c.name).
				WithDetail(fmt.Sprintf("Failing row contains %s.", rowText(tbl, row))), tbl, "", c.name)
		}
	}
	return nil
}

// rowText renders a row as PostgreSQL's constraint errors do: (1, null, abc).
func rowText(tbl *catalog.Table, row []types.Datum) string {
	var parts []string
	for i, c := range tbl.Columns {
		if c.Hidden {
			continue
		}
		if row[i] == nil {
			parts = append(parts, "null")
		} else {
			parts = append(parts, string(types.AppendText(nil, c.Type, row[i])))
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// write sends a statement's batch b, which makes changes to the table, and then enforces
// the foreign keys that involve it, cascading into other tables. Without foreign keys it is
// x.write, which may commit with the batch in one round.
func (m *mutationConstraints) write(ctx context.Context, x *execCtx, b *txn.Batch, changes []rowChange) error {
	if m == nil || len(m.table.ForeignKeys) == 0 && len(m.table.ReferencedBy) == 0 {
		return x.write(ctx, b)
	}
	if b.Len() > 0 {
		if err := x.txn.Run(ctx, b); err != nil {
			return err
		}
	}
	r := &fkRun{x: x, tables: make(map[uint32]*catalog.Table, len(m.related)), checks: map[uint32][]compiledCheck{m.table.ID: m.checks}}
	for id, tbl := range m.related {
		r.tables[id] = tbl
	}
	if err := r.afterChanges(ctx, m.table, changes, 0); err != nil {
		return err
	}
	if x.autocommit {
		return x.txn.Commit(ctx)
	}
	return nil
}

// maxCascadeDepth bounds chains of cascading actions.
const maxCascadeDepth = 64

// fkRun enforces foreign keys for one statement, reading the descriptors of related tables
// in its transaction.
type fkRun struct {
	x      *execCtx
	tables map[uint32]*catalog.Table
	checks map[uint32][]compiledCheck
}

func (r *fkRun) table(ctx context.Context, id uint32) (*catalog.Table, error) {
	if tbl, ok := r.tables[id]; ok {
		return tbl, nil
	}
	tbl, err := r.x.session.srv.cat.TableByID(ctx, r.x.txn, id)
	if err != nil {
		return nil, err
	}
	if tbl == nil {
		return nil, fmt.Errorf("table %d of a foreign key does not exist", id)
	}
	r.tables[id] = tbl
	return tbl, nil
}

func (r *fkRun) checksOf(tbl *catalog.Table) ([]compiledCheck, error) {
	if c, ok := r.checks[tbl.ID]; ok {
		return c, nil
	}
	c, err := r.x.session.compileChecks(tbl)
	if err != nil {
		return nil, err
	}
	r.checks[tbl.ID] = c
	return c, nil
}

// afterChanges enforces, after changes to tbl were written, the foreign keys that reference
// tbl (acting on the referencing rows) and then those of tbl (its new rows' parents must
// exist).
func (r *fkRun) afterChanges(ctx context.Context, tbl *catalog.Table, changes []rowChange, depth int) error {
	if depth > maxCascadeDepth {
		return pgerror.New(pgerror.CodeProgramLimitExceeded, "foreign key actions nest more than %d levels deep", maxCascadeDepth)
	}
	for _, ref := range tbl.ReferencedBy {
		if err := r.actOnReferencing(ctx, tbl, ref, changes, depth); err != nil {
			return err
		}
	}
	for i := range tbl.ForeignKeys {
		if err := r.checkParents(ctx, tbl, &tbl.ForeignKeys[i], changes); err != nil {
			return err
		}
	}
	return nil
}

// columnValues returns row's values of the columns cols, and whether none is NULL.
func columnValues(tbl *catalog.Table, row []types.Datum, cols []uint32) ([]types.Datum, bool) {
	vals := make([]types.Datum, len(cols))
	complete := true
	for i, id := range cols {
		vals[i] = row[tbl.ColumnOrdinal(id)]
		complete = complete && vals[i] != nil
	}
	return vals, complete
}

// tupleKey encodes values of the given types so that equal tuples have equal keys.
func tupleKey(typs []types.T, vals []types.Datum) (string, error) {
	var b []byte
	for i, v := range vals {
		var err error
		if b, err = rowenc.AppendKeyDatum(b, typs[i], v, false); err != nil {
			return "", err
		}
	}
	return string(b), nil
}

func columnTypes(tbl *catalog.Table, cols []uint32) []types.T {
	out := make([]types.T, len(cols))
	for i, id := range cols {
		out[i] = tbl.Columns[tbl.ColumnOrdinal(id)].Type
	}
	return out
}

// convertValues casts values of types from to types to.
func convertValues(vals []types.Datum, from, to []types.T) ([]types.Datum, error) {
	out := make([]types.Datum, len(vals))
	for i, v := range vals {
		if v == nil || from[i] == to[i] {
			out[i] = v
			continue
		}
		c, err := types.Cast(v, from[i], to[i])
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// keyText renders PostgreSQL's "Key (a, b)=(1, 2)".
func keyText(tbl *catalog.Table, cols []uint32, vals []types.Datum) string {
	names := make([]string, len(cols))
	texts := make([]string, len(cols))
	for i, id := range cols {
		c := tbl.Columns[tbl.ColumnOrdinal(id)]
		names[i] = c.Name
		if vals[i] == nil {
			texts[i] = "null"
		} else {
			texts[i] = string(types.AppendText(nil, c.Type, vals[i]))
		}
	}
	return fmt.Sprintf("Key (%s)=(%s)", strings.Join(names, ", "), strings.Join(texts, ", "))
}

// checkParents requires the parent row of every new row of child under fk.
func (r *fkRun) checkParents(ctx context.Context, child *catalog.Table, fk *catalog.ForeignKey, changes []rowChange) error {
	parent, err := r.table(ctx, fk.ReferencedTable)
	if err != nil {
		return err
	}
	childTypes, parentTypes := columnTypes(child, fk.Columns), columnTypes(parent, fk.ReferencedColumns)
	type lookup struct {
		vals []types.Datum // the child's values, for the message
	}
	var lookups []lookup
	seen := map[string]bool{}
	b := &txn.Batch{}
	for _, ch := range changes {
		if ch.new == nil {
			continue
		}
		vals, complete := columnValues(child, ch.new, fk.Columns)
		if !complete {
			continue // MATCH SIMPLE: a NULL in the key exempts the row
		}
		if ch.old != nil {
			if old, _ := columnValues(child, ch.old, fk.Columns); sameTuple(childTypes, old, vals) {
				continue
			}
		}
		pvals, err := convertValues(vals, childTypes, parentTypes)
		if err != nil {
			return err
		}
		prow := make([]types.Datum, len(parent.Columns))
		for i, id := range fk.ReferencedColumns {
			prow[parent.ColumnOrdinal(id)] = pvals[i]
		}
		key, err := rowenc.PrimaryKey(parent, prow)
		if err != nil {
			return err
		}
		if seen[string(key)] {
			continue
		}
		seen[string(key)] = true
		b.Get(key)
		lookups = append(lookups, lookup{vals: vals})
	}
	if len(lookups) == 0 {
		return nil
	}
	if err := r.x.txn.Run(ctx, b); err != nil {
		return err
	}
	for i, res := range b.Results {
		if len(res.Rows) == 0 {
			return violation(pgerror.New(pgerror.CodeForeignKeyViolation, "insert or update on table %q violates foreign key constraint %q", child.Name, fk.Name).
				WithDetail(fmt.Sprintf("%s is not present in table %q.", keyText(child, fk.Columns, lookups[i].vals), parent.Name)), child, "", fk.Name)
		}
	}
	return nil
}

func sameTuple(typs []types.T, a, b []types.Datum) bool {
	ka, err1 := tupleKey(typs, a)
	kb, err2 := tupleKey(typs, b)
	return err1 == nil && err2 == nil && ka == kb
}

// parentChange is a referenced key a statement deleted (newVals nil) or changed.
type parentChange struct {
	oldVals, newVals []types.Datum // in the parent's types
}

// actOnReferencing applies the foreign key ref of another table (or of parent itself) to
// the rows referencing parent rows the changes deleted or re-keyed.
func (r *fkRun) actOnReferencing(ctx context.Context, parent *catalog.Table, ref catalog.ForeignKeyRef, changes []rowChange, depth int) error {
	child, err := r.table(ctx, ref.Table)
	if err != nil {
		return err
	}
	fk, ok := child.ForeignKeyByName(ref.Name)
	if !ok || fk.ReferencedTable != parent.ID {
		return fmt.Errorf("table %q lists foreign key %q of %q, which does not reference it", parent.Name, ref.Name, child.Name)
	}
	parentTypes, childTypes := columnTypes(parent, fk.ReferencedColumns), columnTypes(child, fk.Columns)
	affected := map[string]parentChange{}
	for _, ch := range changes {
		if ch.old == nil {
			continue
		}
		oldVals, complete := columnValues(parent, ch.old, fk.ReferencedColumns)
		if !complete {
			continue
		}
		var newVals []types.Datum
		if ch.new != nil {
			newVals, _ = columnValues(parent, ch.new, fk.ReferencedColumns)
			if sameTuple(parentTypes, oldVals, newVals) {
				continue
			}
		}
		asChild, err := convertValues(oldVals, parentTypes, childTypes)
		if err != nil {
			return err
		}
		k, err := tupleKey(childTypes, asChild)
		if err != nil {
			return err
		}
		affected[k] = parentChange{oldVals: oldVals, newVals: newVals}
	}
	if len(affected) == 0 {
		return nil
	}
	referencing, err := r.referencingRows(ctx, child, fk, childTypes, affected)
	if err != nil || len(referencing) == 0 {
		return err
	}
	var childChanges []rowChange
	b := &txn.Batch{}
	for _, row := range referencing {
		pc := row.change
		action := fk.OnDelete
		if pc.newVals != nil {
			action = fk.OnUpdate
		}
		switch action {
		case catalog.NoAction, catalog.Restrict:
			return violation(pgerror.New(pgerror.CodeForeignKeyViolation, "update or delete on table %q violates foreign key constraint %q on table %q", parent.Name, fk.Name, child.Name).
				WithDetail(fmt.Sprintf("%s is still referenced from table %q.", keyText(parent, fk.ReferencedColumns, pc.oldVals), child.Name)), child, "", fk.Name)
		case catalog.Cascade:
			if pc.newVals == nil {
				key, err := rowenc.PrimaryKey(child, row.vals)
				if err != nil {
					return err
				}
				b.Del(key)
				childChanges = append(childChanges, rowChange{old: row.vals})
				continue
			}
		}
		updated := append([]types.Datum(nil), row.vals...)
		switch action {
		case catalog.Cascade:
			vals, err := convertValues(pc.newVals, parentTypes, childTypes)
			if err != nil {
				return err
			}
			for i, id := range fk.Columns {
				updated[child.ColumnOrdinal(id)] = vals[i]
			}
		case catalog.SetNull:
			for _, id := range fk.Columns {
				updated[child.ColumnOrdinal(id)] = nil
			}
		case catalog.SetDefault:
			for _, id := range fk.Columns {
				ord := child.ColumnOrdinal(id)
				d, err := compileDefault(r.x.session, &child.Columns[ord])
				if err != nil {
					return err
				}
				v, err := d.eval(r.x.ec, nil)
				if err != nil {
					return err
				}
				if v != nil {
					if v, err = assign(child, ord, d, v, r.x.ec.settings()); err != nil {
						return err
					}
				}
				updated[ord] = v
			}
		}
		for _, id := range fk.Columns {
			ord := child.ColumnOrdinal(id)
			if updated[ord] == nil && !child.Columns[ord].Nullable {
				return violation(pgerror.New(pgerror.CodeNotNullViolation, "null value in column %q of relation %q violates not-null constraint", child.Columns[ord].Name, child.Name).
					WithDetail(fmt.Sprintf("Failing row contains %s.", rowText(child, updated))), child, child.Columns[ord].Name, "")
			}
		}
		checks, err := r.checksOf(child)
		if err != nil {
			return err
		}
		if err := evalChecks(r.x.ec, child, checks, updated); err != nil {
			return err
		}
		oldKey, err := rowenc.PrimaryKey(child, row.vals)
		if err != nil {
			return err
		}
		if err := writeUpdatedRow(b, child, oldKey, updated); err != nil {
			return err
		}
		childChanges = append(childChanges, rowChange{old: row.vals, new: updated})
	}
	if err := childIndexEntries(ctx, r.x, b, child, childChanges); err != nil {
		return err
	}
	if err := r.x.txn.Run(ctx, b); err != nil {
		if conditionFailed(err) {
			return uniqueViolation(err, child)
		}
		return err
	}
	return r.afterChanges(ctx, child, childChanges, depth+1)
}

// referencingRow is a row of the child that references a changed parent key.
type referencingRow struct {
	vals   []types.Datum
	change parentChange
}

// referencingRows finds the rows of child whose key under fk is one of affected's.
func (r *fkRun) referencingRows(ctx context.Context, child *catalog.Table, fk *catalog.ForeignKey, childTypes []types.T, affected map[string]parentChange) ([]referencingRow, error) {
	var spans []keySpan
	if leadsPrimaryKey(child, fk.Columns) {
		for k := range affected {
			prefix := append(rowenc.IndexPrefix(child.KeyID()), k...)
			if anyDescending(child, len(fk.Columns)) {
				spans = nil // the tuple key is ascending; scan instead
				break
			}
			spans = append(spans, keySpan{start: prefix, end: encoding.PrefixEnd(prefix)})
		}
	}
	if spans == nil {
		start, end := rowenc.PrimarySpan(child.KeyID())
		spans = []keySpan{{start, end}}
	}
	var out []referencingRow
	for _, sp := range spans {
		err := scanRows(ctx, r.x.txn, child, sp.start, sp.end, func(row []types.Datum) error {
			vals, complete := columnValues(child, row, fk.Columns)
			if !complete {
				return nil
			}
			k, err := tupleKey(childTypes, vals)
			if err != nil {
				return err
			}
			if pc, ok := affected[k]; ok {
				out = append(out, referencingRow{vals: row, change: pc})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// leadsPrimaryKey reports whether cols are, in order, the first columns of tbl's primary
// key, so that rows with given values of them lie in one span.
func leadsPrimaryKey(tbl *catalog.Table, cols []uint32) bool {
	if len(cols) > len(tbl.PrimaryKey) {
		return false
	}
	for i, id := range cols {
		if tbl.PrimaryKey[i] != id {
			return false
		}
	}
	return true
}

func anyDescending(tbl *catalog.Table, n int) bool {
	for _, d := range tbl.PrimaryKeyDesc[:n] {
		if d {
			return true
		}
	}
	return false
}

// scanRows reads the rows of tbl in [start, end) in t, page by page.
func scanRows(ctx context.Context, t *txn.Txn, tbl *catalog.Table, start, end []byte, emit func(row []types.Datum) error) error {
	for start != nil {
		b := &txn.Batch{}
		b.Scan(start, end, scanPageSize, false)
		if err := t.Run(ctx, b); err != nil {
			return err
		}
		res := b.Results[0]
		for _, kv := range res.Rows {
			row := make([]types.Datum, len(tbl.Columns))
			if err := rowenc.DecodeRow(tbl, kv.Key, kv.Value, row); err != nil {
				return err
			}
			if err := emit(row); err != nil {
				return err
			}
		}
		start = res.ResumeKey
	}
	return nil
}

// childIndexEntries adds to b the index changes of the rows a cascading action deleted or
// updated.
func childIndexEntries(ctx context.Context, x *execCtx, b *txn.Batch, child *catalog.Table, changes []rowChange) error {
	if len(child.Indexes) == 0 {
		return nil
	}
	var deleted, olds [][]types.Datum
	for _, c := range changes {
		if c.new == nil {
			deleted = append(deleted, c.old)
		} else {
			olds = append(olds, c.old)
		}
	}
	if err := deleteRowsIndexEntries(ctx, x.txn, b, child, deleted); err != nil {
		return err
	}
	if len(olds) == 0 {
		return nil
	}
	owners, err := readEntryOwners(ctx, x.txn, child, olds)
	if err != nil {
		return err
	}
	for _, c := range changes {
		if c.new != nil {
			if err := updateIndexEntries(b, child, c.old, c.new, owners); err != nil {
				return err
			}
		}
	}
	return nil
}
