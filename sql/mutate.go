package sql

import (
	"bytes"
	"context"
	"fmt"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/parser"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/privilege"
	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// returning is a compiled RETURNING clause.
type returning struct {
	cols  []resultColumn
	exprs []*scalar
}

// planReturning compiles the RETURNING list the dialect cut out of the statement.
func (s *Session) planReturning(tbl *catalog.Table, scope []scopeColumn, p *prepared) (*returning, error) {
	if p.stmt.Returning == "" {
		return nil, nil
	}
	node, err := parser.ParseOne("SELECT "+p.stmt.Returning, p.stmt.Original)
	if err != nil {
		return nil, err
	}
	sel, ok := node.(*ast.SelectStmt)
	if !ok || sel.From != nil {
		return nil, pgerror.New(pgerror.CodeSyntaxError, "invalid RETURNING list")
	}
	fields, _, err := expandFields(sel.Fields, scope, nil)
	if err != nil {
		return nil, err
	}
	params := &paramTypes{types: p.params.types, order: p.stmt.ReturningParamOrder}
	c := &compiler{scope: scope, params: params, session: s, excludedOffset: -1}
	exprs, err := compileFields(c, fields)
	if err != nil {
		return nil, err
	}
	r := &returning{exprs: exprs}
	for i, f := range fields {
		rc := resultColumn{name: f.name, typ: exprs[i].typ}
		if exprs[i].untyped {
			rc.typ = types.String
		}
		if o := exprs[i].colOrd; o >= 0 {
			rc.tableID, rc.attrNum = tbl.ID, uint16(o+1)
		}
		r.cols = append(r.cols, rc)
	}
	return r, nil
}

func (r *returning) columns() []resultColumn {
	if r == nil {
		return nil
	}
	return r.cols
}

// rows evaluates the RETURNING list over the rows a statement changed.
func (r *returning) rows(ec *evalCtx, changed [][]types.Datum) ([][]types.Datum, error) {
	if r == nil {
		return nil, nil
	}
	out := make([][]types.Datum, len(changed))
	for i, row := range changed {
		vals := make([]types.Datum, len(r.exprs))
		for j, e := range r.exprs {
			v, err := e.eval(ec, row)
			if err != nil {
				return nil, err
			}
			vals[j] = v
		}
		out[i] = vals
	}
	return out, nil
}

func tableScope(tbl *catalog.Table, name string) []scopeColumn {
	scope := make([]scopeColumn, len(tbl.Columns))
	for i, col := range tbl.Columns {
		scope[i] = scopeColumn{table: name, name: col.Name, typ: col.Type, hidden: col.Hidden, tableID: tbl.ID, attrNum: uint16(i + 1)}
	}
	return scope
}

// assignment sets one column from an expression.
type assignment struct {
	ord  int
	expr *scalar
}

// compileAssignments compiles SET clauses.
func compileAssignments(c *compiler, tbl *catalog.Table, list []*ast.Assignment) ([]assignment, error) {
	var out []assignment
	seen := map[int]bool{}
	for _, a := range list {
		col, ord, ok := tbl.ColumnByName(a.Column.Name.O)
		if !ok {
			return nil, pgerror.New(pgerror.CodeUndefinedColumn, "column %q of relation %q does not exist", a.Column.Name.O, tbl.Name)
		}
		if seen[ord] {
			return nil, pgerror.New(pgerror.CodeSyntaxError, "multiple assignments to same column %q", col.Name)
		}
		seen[ord] = true
		var e *scalar
		if _, isDefault := a.Expr.(*ast.DefaultExpr); isDefault {
			d, err := compileDefault(c.session, col)
			if err != nil {
				return nil, err
			}
			e = d
		} else {
			var err error
			if e, err = c.compileWant(a.Expr, col.Type); err != nil {
				return nil, err
			}
		}
		out = append(out, assignment{ord: ord, expr: e})
	}
	return out, nil
}

// compileDefault compiles a column's DEFAULT expression (NULL when it has none).
func compileDefault(s *Session, col *catalog.Column) (*scalar, error) {
	if col.Default == "" {
		return constScalar(col.Type, nil), nil
	}
	node, err := parser.ParseOne("SELECT "+col.Default, col.Default)
	if err != nil {
		return nil, fmt.Errorf("default of column %q: %w", col.Name, err)
	}
	sel := node.(*ast.SelectStmt)
	c := &compiler{params: &paramTypes{}, session: s, excludedOffset: -1}
	return c.compileWant(sel.Fields.Fields[0].Expr, col.Type)
}

// assign converts v, produced by expression e, for storage in column ord (under the session
// settings st), checking NOT NULL.
func assign(tbl *catalog.Table, ord int, e *scalar, v types.Datum, st *types.Settings) (types.Datum, error) {
	col := &tbl.Columns[ord]
	if v == nil {
		if !col.Nullable {
			return nil, violation(pgerror.New(pgerror.CodeNotNullViolation, "null value in column %q of relation %q violates not-null constraint", col.Name, tbl.Name), tbl, col.Name, "")
		}
		return nil, nil
	}
	from := e.typ
	if e.untyped {
		from = types.String
	}
	if from == col.Type {
		return v, nil
	}
	return types.AssignCastWith(v, from, col.Type, st)
}

// errDuplicateKey is PostgreSQL's 23505 for a row whose primary key tbl already holds.
func errDuplicateKey(tbl *catalog.Table) *pgerror.Error {
	return violation(pgerror.New(pgerror.CodeUniqueViolation, "duplicate key value violates unique constraint %q", tbl.PrimaryKeyName()), tbl, "", tbl.PrimaryKeyName())
}

type conflictMode int

const (
	conflictError conflictMode = iota
	conflictDoNothing
	conflictDoUpdate
	conflictUpsert // UPSERT: the given columns replace the existing row's
)

type insertPlan struct {
	noSchemaChange
	rowFiller             // the table, the columns VALUES or SELECT fill, the defaults
	values    [][]*scalar // per VALUES row, per target; nil entries take the default
	sel       *selectPlan // INSERT ... SELECT
	mode      conflictMode
	updates   []assignment // DO UPDATE SET, over the existing row followed by the proposed one
	arbiters  []arbiter    // the unique constraints ON CONFLICT and UPSERT check
	ret       *returning
	cons      *mutationConstraints
}

// rowFiller builds the rows INSERT and COPY FROM write: the values given for the target
// columns, converted for them, and the defaults of the other columns, with NOT NULL checked.
type rowFiller struct {
	table    *catalog.Table
	targets  []int     // table ordinals of the given values
	defaults []*scalar // per table column
}

// newRowFiller resolves the target columns named (all visible columns for nil) and compiles
// the table's defaults.
func (s *Session) newRowFiller(tbl *catalog.Table, names []string) (rowFiller, error) {
	f := rowFiller{table: tbl}
	var err error
	if f.targets, err = columnOrdinals(tbl, names); err != nil {
		return f, err
	}
	for i := range tbl.Columns {
		d, err := compileDefault(s, &tbl.Columns[i])
		if err != nil {
			return f, err
		}
		f.defaults = append(f.defaults, d)
	}
	return f, nil
}

// fill returns the table row for vals, the values of the targets. exprOf(i) describes the
// type of vals[i]; nil means the target takes its default (DEFAULT).
func (f *rowFiller) fill(ec *evalCtx, vals []types.Datum, exprOf func(i int) *scalar) ([]types.Datum, error) {
	tbl := f.table
	row := make([]types.Datum, len(tbl.Columns))
	given := make([]bool, len(tbl.Columns))
	for i, ord := range f.targets {
		e := exprOf(i)
		if e == nil {
			continue // DEFAULT
		}
		var err error
		if row[ord], err = assign(tbl, ord, e, vals[i], ec.settings()); err != nil {
			return nil, err
		}
		given[ord] = true
	}
	for ord := range tbl.Columns {
		if given[ord] {
			continue
		}
		v, err := f.defaults[ord].eval(ec, nil)
		if err != nil {
			return nil, err
		}
		if row[ord], err = assign(tbl, ord, f.defaults[ord], v, ec.settings()); err != nil {
			return nil, err
		}
	}
	return row, nil
}

func (p *insertPlan) columns() []resultColumn { return p.ret.columns() }

func (p *insertPlan) explain() []string {
	lines := []string{"insert into " + p.table.Name}
	if p.sel != nil {
		return append(lines, indent(p.sel.explain())...)
	}
	return append(lines, fmt.Sprintf("  values (%d rows)", len(p.values)))
}

func (s *Session) planInsert(ctx context.Context, t *txn.Txn, n *ast.InsertStmt, p *prepared) (*insertPlan, error) {
	if n.Setlist {
		return nil, pgerror.Unsupported("INSERT ... SET")
	}
	tbl, name, err := s.resolveSingleTable(ctx, t, n.Table)
	if err != nil {
		return nil, s.viewWriteError(ctx, t, n.Table, "insert into", err)
	}
	var names []string
	if n.Columns != nil {
		names = make([]string, len(n.Columns))
		for i, cn := range n.Columns {
			names[i] = cn.Name.O
		}
	}
	filler, err := s.newRowFiller(tbl, names)
	if err != nil {
		return nil, err
	}
	ip := &insertPlan{rowFiller: filler}
	c := (&planner{s: s, ctx: ctx, txn: t, params: p.params}).topScope().compiler(nil)
	switch {
	case n.Select != nil:
		var sel ast.ResultSetNode
		switch q := n.Select.(type) {
		case *ast.SelectStmt:
			if q.Kind == ast.SelectStmtKindValues {
				return nil, pgerror.Unsupported("INSERT ... VALUES in this form")
			}
			sel = q
		case *ast.SetOprStmt:
			sel = q
		default:
			return nil, pgerror.Unsupported("this INSERT source")
		}
		if ip.sel, err = s.planSelect(ctx, t, sel, p); err != nil {
			return nil, err
		}
		if len(ip.sel.cols) != len(ip.targets) {
			return nil, pgerror.New(pgerror.CodeSyntaxError, "INSERT has %s expressions than target columns", moreOrFewer(len(ip.sel.cols), len(ip.targets)))
		}
	default:
		for _, list := range n.Lists {
			if len(list) != len(ip.targets) {
				return nil, pgerror.New(pgerror.CodeSyntaxError, "INSERT has %s expressions than target columns", moreOrFewer(len(list), len(ip.targets)))
			}
			row := make([]*scalar, len(list))
			for i, e := range list {
				if _, isDefault := e.(*ast.DefaultExpr); isDefault {
					continue
				}
				col := tbl.Columns[ip.targets[i]]
				if row[i], err = c.compileWant(e, col.Type); err != nil {
					return nil, err
				}
			}
			ip.values = append(ip.values, row)
		}
	}
	oc := p.stmt.OnConflict
	switch {
	case n.IsReplace:
		ip.mode = conflictUpsert
	case n.OnDuplicate != nil:
		ip.mode = conflictDoUpdate
	case n.IgnoreErr:
		ip.mode = conflictDoNothing
	}
	if ip.arbiters, err = conflictArbiters(tbl, oc, ip.mode); err != nil {
		return nil, err
	}
	if ip.mode == conflictDoUpdate {
		if oc != nil && len(oc.Columns) == 0 && oc.Constraint == "" {
			return nil, pgerror.New(pgerror.CodeSyntaxError, "ON CONFLICT DO UPDATE requires inference specification or constraint name")
		}
		// SET expressions see the existing row by name and the proposed row as VALUES(col).
		scope := append(tableScope(tbl, name), tableScope(tbl, "excluded")...)
		uc := &compiler{scope: scope, params: p.params, session: s, excludedOffset: len(tbl.Columns)}
		if ip.updates, err = compileAssignments(uc, tbl, n.OnDuplicate); err != nil {
			return nil, err
		}
	}
	if ip.ret, err = s.planReturning(tbl, tableScope(tbl, name), p); err != nil {
		return nil, err
	}
	if err := checkIdentityInsert(tbl, ip.targets, ip.values, ip.sel != nil); err != nil {
		return nil, err
	}
	if ip.cons, err = s.planMutationConstraints(ctx, t, tbl); err != nil {
		return nil, err
	}
	want := privilege.Insert
	if ip.mode == conflictUpsert || ip.mode == conflictDoUpdate {
		want |= privilege.Update
	}
	if p.stmt.Returning != "" {
		want |= privilege.Select
	}
	if err := s.checkTable(ctx, t, tbl, want); err != nil {
		return nil, err
	}
	return ip, nil
}

// mutationPrivileges is what an UPDATE or DELETE needs besides its own privilege: as in
// PostgreSQL, reading rows to choose them (WHERE) or to return them (RETURNING) needs SELECT.
func mutationPrivileges(own privilege.Kind, where bool, p *prepared) privilege.Kind {
	if where || p.stmt.Returning != "" {
		own |= privilege.Select
	}
	return own
}

func moreOrFewer(got, want int) string {
	if got > want {
		return "more"
	}
	return "fewer"
}

func sameColumns(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	set := map[string]bool{}
	for _, x := range a {
		set[x] = true
	}
	for _, x := range b {
		if !set[x] {
			return false
		}
	}
	return true
}

// proposedRows evaluates the rows the statement proposes to insert.
func (p *insertPlan) proposedRows(ctx context.Context, x *execCtx) ([][]types.Datum, error) {
	ec := x.ec
	var rows [][]types.Datum
	if p.sel != nil {
		src, err := p.sel.rows(ctx, x)
		if err != nil {
			return nil, err
		}
		for _, vals := range src {
			row, err := p.fill(ec, vals, p.selColumn)
			if err != nil {
				return nil, err
			}
			rows = append(rows, row)
		}
		return rows, nil
	}
	for _, exprs := range p.values {
		vals := make([]types.Datum, len(exprs))
		for i, e := range exprs {
			if e == nil {
				continue
			}
			v, err := e.eval(ec, nil)
			if err != nil {
				return nil, err
			}
			vals[i] = v
		}
		row, err := p.fill(ec, vals, func(i int) *scalar { return exprs[i] })
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// selColumn is a stand-in scalar describing the type of INSERT ... SELECT's column i.
func (p *insertPlan) selColumn(i int) *scalar {
	return &scalar{typ: p.sel.cols[i].typ, colOrd: -1}
}

func (p *insertPlan) run(ctx context.Context, x *execCtx) (*result, error) {
	tbl := p.table
	rows, err := p.proposedRows(ctx, x)
	if err != nil {
		return nil, err
	}
	b := &txn.Batch{}
	var changed [][]types.Datum
	var changes []rowChange
	if p.mode == conflictError {
		for _, row := range rows {
			if err := p.cons.checkRow(x.ec, row); err != nil {
				return nil, err
			}
			k, v, err := rowenc.EncodeRow(tbl, row)
			if err != nil {
				return nil, err
			}
			b.PutIfAbsent(k, v)
			if err := putIndexEntries(b, tbl, row); err != nil {
				return nil, err
			}
			changes = append(changes, rowChange{new: row})
		}
		changed = rows
	} else if changed, changes, err = p.writeWithConflicts(ctx, x, b, rows); err != nil {
		return nil, err
	}
	if err := p.cons.write(ctx, x, b, changes); err != nil {
		return nil, uniqueViolation(err, tbl)
	}
	out, err := p.ret.rows(x.ec, changed)
	if err != nil {
		return nil, err
	}
	return &result{cols: p.ret.columns(), rows: out, tag: fmt.Sprintf("INSERT 0 %d", len(changed))}, nil
}

// writeUpdatedRow writes a changed version of the row stored at oldKey; when its primary key
// changed, the row moves, and the new key must be free.
func writeUpdatedRow(b *txn.Batch, tbl *catalog.Table, oldKey []byte, row []types.Datum) error {
	k, v, err := rowenc.EncodeRow(tbl, row)
	if err != nil {
		return err
	}
	if bytes.Equal(k, oldKey) {
		b.Put(k, v)
		return nil
	}
	b.Del(oldKey)
	b.PutIfAbsent(k, v)
	return nil
}

type updatePlan struct {
	noSchemaChange
	src     *source
	updates []assignment
	ret     *returning
	cons    *mutationConstraints
}

func (p *updatePlan) columns() []resultColumn { return p.ret.columns() }

func (p *updatePlan) explain() []string {
	return append([]string{"update " + p.src.table.Name}, indent(explainTree(newScanNode(p.src, nil), nil))...)
}

func (s *Session) planUpdate(ctx context.Context, t *txn.Txn, n *ast.UpdateStmt, p *prepared) (*updatePlan, error) {
	if n.MultipleTable || n.Order != nil || n.Limit != nil || n.With != nil {
		return nil, pgerror.Unsupported("this form of UPDATE")
	}
	src, err := s.planSource(ctx, t, n.TableRefs, n.Where, p.params)
	if err != nil {
		return nil, s.viewWriteError(ctx, t, n.TableRefs, "update", err)
	}
	if err := s.checkTable(ctx, t, src.table, mutationPrivileges(privilege.Update, n.Where != nil, p)); err != nil {
		return nil, err
	}
	up := &updatePlan{src: src}
	if err := checkIdentityUpdate(src.table, n.List); err != nil {
		return nil, err
	}
	if up.updates, err = compileAssignments(src.comp, src.table, n.List); err != nil {
		return nil, err
	}
	if up.cons, err = s.planMutationConstraints(ctx, t, src.table); err != nil {
		return nil, err
	}
	if up.ret, err = s.planReturning(src.table, src.comp.scope, p); err != nil {
		return nil, err
	}
	return up, nil
}

func (p *updatePlan) run(ctx context.Context, x *execCtx) (*result, error) {
	tbl := p.src.table
	var olds [][]types.Datum
	if err := p.src.each(ctx, x, 0, func(row []types.Datum) (bool, error) {
		olds = append(olds, row)
		return true, nil
	}); err != nil {
		return nil, err
	}
	owners, err := readEntryOwners(ctx, x.txn, tbl, olds)
	if err != nil {
		return nil, err
	}
	b := &txn.Batch{}
	changed := make([][]types.Datum, 0, len(olds))
	changes := make([]rowChange, 0, len(olds))
	for _, old := range olds {
		row := append([]types.Datum(nil), old...)
		for _, a := range p.updates {
			v, err := a.expr.eval(x.ec, old)
			if err != nil {
				return nil, err
			}
			if row[a.ord], err = assign(tbl, a.ord, a.expr, v, x.ec.settings()); err != nil {
				return nil, err
			}
		}
		if err := p.cons.checkRow(x.ec, row); err != nil {
			return nil, err
		}
		oldKey, err := rowenc.PrimaryKey(tbl, old)
		if err != nil {
			return nil, err
		}
		if err := writeUpdatedRow(b, tbl, oldKey, row); err != nil {
			return nil, err
		}
		if err := updateIndexEntries(b, tbl, old, row, owners); err != nil {
			return nil, err
		}
		changed = append(changed, row)
		changes = append(changes, rowChange{old: old, new: row})
	}
	if err := p.cons.write(ctx, x, b, changes); err != nil {
		return nil, uniqueViolation(err, tbl)
	}
	out, err := p.ret.rows(x.ec, changed)
	if err != nil {
		return nil, err
	}
	return &result{cols: p.ret.columns(), rows: out, tag: fmt.Sprintf("UPDATE %d", len(changed))}, nil
}

type deletePlan struct {
	noSchemaChange
	src  *source
	ret  *returning
	cons *mutationConstraints
}

func (p *deletePlan) columns() []resultColumn { return p.ret.columns() }

func (p *deletePlan) explain() []string {
	return append([]string{"delete from " + p.src.table.Name}, indent(explainTree(newScanNode(p.src, nil), nil))...)
}

func (s *Session) planDelete(ctx context.Context, t *txn.Txn, n *ast.DeleteStmt, p *prepared) (*deletePlan, error) {
	if n.IsMultiTable || n.Order != nil || n.Limit != nil || n.With != nil {
		return nil, pgerror.Unsupported("this form of DELETE")
	}
	src, err := s.planSource(ctx, t, n.TableRefs, n.Where, p.params)
	if err != nil {
		return nil, s.viewWriteError(ctx, t, n.TableRefs, "delete from", err)
	}
	if err := s.checkTable(ctx, t, src.table, mutationPrivileges(privilege.Delete, n.Where != nil, p)); err != nil {
		return nil, err
	}
	dp := &deletePlan{src: src}
	if dp.ret, err = s.planReturning(src.table, src.comp.scope, p); err != nil {
		return nil, err
	}
	if dp.cons, err = s.planMutationConstraints(ctx, t, src.table); err != nil {
		return nil, err
	}
	return dp, nil
}

func (p *deletePlan) run(ctx context.Context, x *execCtx) (*result, error) {
	tbl := p.src.table
	b := &txn.Batch{}
	var deleted [][]types.Datum
	var changes []rowChange
	if err := p.src.each(ctx, x, 0, func(row []types.Datum) (bool, error) {
		k, err := rowenc.PrimaryKey(tbl, row)
		if err != nil {
			return false, err
		}
		b.Del(k)
		deleted = append(deleted, row)
		changes = append(changes, rowChange{old: row})
		return true, nil
	}); err != nil {
		return nil, err
	}
	if err := deleteRowsIndexEntries(ctx, x.txn, b, tbl, deleted); err != nil {
		return nil, err
	}
	if err := p.cons.write(ctx, x, b, changes); err != nil {
		return nil, err
	}
	out, err := p.ret.rows(x.ec, deleted)
	if err != nil {
		return nil, err
	}
	return &result{cols: p.ret.columns(), rows: out, tag: fmt.Sprintf("DELETE %d", len(deleted))}, nil
}
