package sql

import (
	"context"
	"fmt"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/pgdialect"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// The DDL of secondary indexes: CREATE INDEX, DROP INDEX, the UNIQUE and INDEX elements of
// CREATE TABLE, ALTER TABLE ... ADD CONSTRAINT ... UNIQUE and DROP CONSTRAINT, and SHOW
// INDEXES. Adding and dropping an index on an existing table runs as an online schema
// change (schemachange.go) outside an explicit transaction, and within the transaction's
// own writes inside one.

// CodeDependentObjectsStillExist is PostgreSQL's SQLSTATE for a drop that something else
// needs (2BP01).
const CodeDependentObjectsStillExist = "2BP01"

// indexDef is a secondary index as a statement declares it.
type indexDef struct {
	// name is "" for a name chosen as PostgreSQL does (see defaultIndexName).
	name       string
	columns    []pgdialect.IndexColumn
	stored     []string
	unique     bool
	constraint bool
}

// indexDefFromConstraint reads an INDEX or UNIQUE element of CREATE TABLE, or the UNIQUE
// constraint of ALTER TABLE ADD CONSTRAINT, with its INCLUDE/STORING columns.
func indexDefFromConstraint(c *ast.Constraint, stored []string) (indexDef, error) {
	def := indexDef{name: c.Name, stored: stored}
	switch c.Tp {
	case ast.ConstraintUniq, ast.ConstraintUniqKey, ast.ConstraintUniqIndex:
		def.unique, def.constraint = true, true
	case ast.ConstraintIndex, ast.ConstraintKey:
	default:
		return indexDef{}, fmt.Errorf("constraint type %d is no index", c.Tp)
	}
	if o := c.Option; o != nil && (o.Comment != "" || o.Visibility != ast.IndexVisibilityDefault || o.ParserName.O != "") {
		return indexDef{}, pgerror.Unsupported("this index option")
	}
	for _, k := range c.Keys {
		if k.Expr != nil || k.Column == nil {
			return indexDef{}, pgerror.Unsupported("expression indexes")
		}
		if k.Length > 0 {
			return indexDef{}, pgerror.Unsupported("index prefix lengths")
		}
		def.columns = append(def.columns, pgdialect.IndexColumn{Name: k.Column.Name.O, Desc: k.Desc})
	}
	return def, nil
}

// buildIndex resolves def against tbl into an index named name (without ID or state).
func buildIndex(tbl *catalog.Table, def indexDef, name string) (catalog.Index, error) {
	idx := catalog.Index{Name: name, Unique: def.unique, Constraint: def.constraint}
	for _, c := range def.columns {
		col, _, ok := tbl.ColumnByName(c.Name)
		if !ok {
			return catalog.Index{}, pgerror.New(pgerror.CodeUndefinedColumn, "column %q does not exist", c.Name)
		}
		if idx.HasKeyColumn(col.ID) {
			return catalog.Index{}, pgerror.New(pgerror.CodeDuplicateColumn, "column %q appears twice in the index", c.Name)
		}
		if !rowenc.KeyEncodable(col.Type) {
			return catalog.Index{}, pgerror.New(pgerror.CodeFeatureNotSupported, "column %q of type %s cannot be indexed", col.Name, col.Type.String()).
				WithHint("Meridian cannot yet order json, jsonb or array values in an index; INCLUDE the column instead.")
		}
		idx.ColumnIDs = append(idx.ColumnIDs, col.ID)
		idx.ColumnDesc = append(idx.ColumnDesc, c.Desc)
	}
	for _, n := range def.stored {
		col, _, ok := tbl.ColumnByName(n)
		if !ok {
			return catalog.Index{}, pgerror.New(pgerror.CodeUndefinedColumn, "column %q does not exist", n)
		}
		switch {
		case idx.HasKeyColumn(col.ID):
			return catalog.Index{}, pgerror.New(pgerror.CodeDuplicateColumn, "column %q is a key column of the index and cannot also be included", n)
		case tbl.IsPrimaryKeyColumn(col.ID):
			continue // every entry holds the primary key already
		}
		for _, id := range idx.StoredColumnIDs {
			if id == col.ID {
				return catalog.Index{}, pgerror.New(pgerror.CodeDuplicateColumn, "column %q is included twice", n)
			}
		}
		idx.StoredColumnIDs = append(idx.StoredColumnIDs, col.ID)
	}
	return idx, nil
}

// defaultIndexName is PostgreSQL's first choice of name for an index of tbl: the table and
// column names joined by "_", ending in "_key" for a UNIQUE constraint and "_idx" otherwise.
func defaultIndexName(tbl *catalog.Table, def indexDef) string {
	parts := []string{tbl.Name}
	for _, c := range def.columns {
		parts = append(parts, c.Name)
	}
	if def.constraint {
		return strings.Join(parts, "_") + "_key"
	}
	return strings.Join(parts, "_") + "_idx"
}

// sameIndex reports whether idx is what def declares (under any name).
func sameIndex(tbl *catalog.Table, idx *catalog.Index, def indexDef) bool {
	want, err := buildIndex(tbl, def, idx.Name)
	if err != nil || want.Unique != idx.Unique || want.Constraint != idx.Constraint ||
		len(want.ColumnIDs) != len(idx.ColumnIDs) || len(want.StoredColumnIDs) != len(idx.StoredColumnIDs) {
		return false
	}
	for i := range want.ColumnIDs {
		if want.ColumnIDs[i] != idx.ColumnIDs[i] || want.ColumnDesc[i] != idx.ColumnDesc[i] {
			return false
		}
	}
	for i := range want.StoredColumnIDs {
		if want.StoredColumnIDs[i] != idx.StoredColumnIDs[i] {
			return false
		}
	}
	return true
}

// relationExists is PostgreSQL's error for a name the relation namespace already holds.
func relationExists(name string) error {
	return pgerror.New(pgerror.CodeDuplicateTable, "relation %q already exists", name)
}

// newIndexName decides the name of the index def adds to tbl (read in t): def's own, or the
// first default name free in the relation namespace (name, name1, name2, ...). An index of
// tbl that is not public and already has the name is returned as stale: a build that was
// interrupted (or is still running elsewhere), which must be dropped before the name can be
// taken again. reserved are names a statement is about to take.
func (s *Session) newIndexName(ctx context.Context, t *txn.Txn, tbl *catalog.Table, def indexDef, reserved map[string]bool) (name string, stale *catalog.Index, err error) {
	if def.name != "" {
		if idx := tbl.IndexByName(def.name); idx != nil && !idx.Readable() {
			return def.name, idx, nil
		}
		if reserved[def.name] || def.name == tbl.Name {
			return "", nil, relationExists(def.name)
		}
		taken, err := s.srv.cat.RelationNameTaken(ctx, t, tbl.DatabaseID, tbl.ParentSchemaID(), def.name)
		if err != nil {
			return "", nil, err
		}
		if taken {
			return "", nil, relationExists(def.name)
		}
		return def.name, nil, nil
	}
	base := defaultIndexName(tbl, def)
	for n := 0; ; n++ {
		cand := base
		if n > 0 {
			cand = fmt.Sprintf("%s%d", base, n)
		}
		if idx := tbl.IndexByName(cand); idx != nil && !idx.Readable() && sameIndex(tbl, idx, def) {
			return cand, idx, nil
		}
		if reserved[cand] || cand == tbl.Name || tbl.IndexByName(cand) != nil {
			continue
		}
		taken, err := s.srv.cat.RelationNameTaken(ctx, t, tbl.DatabaseID, tbl.ParentSchemaID(), cand)
		if err != nil {
			return "", nil, err
		}
		if !taken {
			return cand, nil, nil
		}
	}
}

// addTableIndexes gives a new table (not yet stored) the indexes its CREATE TABLE declares,
// public at once: the table has no rows to index.
func (s *Session) addTableIndexes(ctx context.Context, t *txn.Txn, tbl *catalog.Table, defs []indexDef) error {
	reserved := map[string]bool{tbl.PrimaryKeyName(): true}
	tbl.Indexes = nil
	for _, def := range defs {
		name, _, err := s.newIndexName(ctx, t, tbl, def, reserved)
		if err != nil {
			return err
		}
		idx, err := buildIndex(tbl, def, name)
		if err != nil {
			return err
		}
		idx.ID, idx.State = tbl.AllocateIndexID(), catalog.IndexPublic
		tbl.Indexes = append(tbl.Indexes, idx)
		reserved[name] = true
	}
	return nil
}

func (s *Session) planIndexStatement(ctx context.Context, t *txn.Txn, ix *pgdialect.IndexStatement) (plan, error) {
	if ix.Drop {
		return &dropIndexPlan{stmt: ix}, nil
	}
	tbl, err := s.resolveTable(ctx, t, &ast.TableName{Schema: ast.NewCIStr(ix.Table.Schema), Name: ast.NewCIStr(ix.Table.Name)})
	if err != nil {
		return nil, err
	}
	if err := s.checkTableOwner(ctx, t, tbl); err != nil {
		return nil, err
	}
	def := indexDef{name: ix.Name, columns: ix.Columns, stored: ix.Stored, unique: ix.Unique}
	if _, err := buildIndex(tbl, def, ix.Name); err != nil {
		return nil, err
	}
	return &createIndexPlan{tableID: tbl.ID, def: def, ifNotExists: ix.IfNotExists, concurrently: ix.Concurrently, tag: "CREATE INDEX"}, nil
}

// createIndexPlan adds an index to an existing table: CREATE INDEX, or ALTER TABLE ADD
// CONSTRAINT ... UNIQUE.
type createIndexPlan struct {
	schemaChange
	tableID      uint32
	def          indexDef
	ifNotExists  bool
	concurrently bool
	tag          string
}

func (p *createIndexPlan) run(ctx context.Context, x *execCtx) (*result, error) {
	s := x.session
	if !x.autocommit {
		if p.concurrently {
			return nil, pgerror.New(pgerror.CodeActiveSQLTransaction, "CREATE INDEX CONCURRENTLY cannot run inside a transaction block")
		}
		notices, err := s.addIndexInTxn(ctx, x.txn, p.tableID, p.def, p.ifNotExists)
		if err != nil {
			return nil, err
		}
		return &result{tag: p.tag, notices: notices}, nil
	}
	// The implicit transaction has only read; each step of the schema change commits a
	// transaction of its own.
	if err := x.finishRead(ctx); err != nil {
		return nil, err
	}
	notices, err := s.addIndexOnline(ctx, p.tableID, p.def, p.ifNotExists)
	if err != nil {
		return nil, s.toPGError(err) // never retryable: the statement's transaction is over
	}
	return &result{tag: p.tag, notices: notices}, nil
}

// dropIndexPlan drops indexes: DROP INDEX.
type dropIndexPlan struct {
	schemaChange
	stmt *pgdialect.IndexStatement
}

// indexToDrop is an index found by name, in the table that has it.
type indexToDrop struct {
	table *catalog.Table
	index *catalog.Index
}

// findIndex resolves an index name of DROP INDEX in t; nil without error when the index
// does not exist.
func (s *Session) findIndex(ctx context.Context, t *txn.Txn, n pgdialect.IndexName) (*indexToDrop, error) {
	var tbl *catalog.Table
	if n.Table != "" {
		var err error
		if tbl, err = s.resolveTable(ctx, t, &ast.TableName{Schema: ast.NewCIStr(n.Schema), Name: ast.NewCIStr(n.Table)}); err != nil {
			return nil, err
		}
		if tbl, err = s.srv.cat.TableByID(ctx, t, tbl.ID); err != nil || tbl == nil {
			return nil, err
		}
	} else {
		var err error
		tbl, err = resolveRelation(ctx, s, t, n.Schema, n.Name, 0, func(db, sc uint32, name string, _ uint64) (*catalog.Table, error) {
			id, ok, err := s.srv.cat.LookupIndexTable(ctx, t, db, sc, name)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, pgerror.New(pgerror.CodeUndefinedTable, "no index %q", name)
			}
			return s.srv.cat.TableByID(ctx, t, id)
		})
		if pgerror.Code(err) == pgerror.CodeUndefinedTable {
			return nil, nil
		}
		if err != nil || tbl == nil {
			return nil, err
		}
	}
	if n.Name == tbl.PrimaryKeyName() {
		return &indexToDrop{table: tbl}, nil
	}
	idx := tbl.IndexByName(n.Name)
	if idx == nil {
		return nil, nil
	}
	return &indexToDrop{table: tbl, index: idx}, nil
}

// constraintRequiresIndex is PostgreSQL's refusal to drop the index of a constraint.
func constraintRequiresIndex(tbl *catalog.Table, name string) error {
	return pgerror.New(CodeDependentObjectsStillExist, "cannot drop index %s because constraint %s on table %s requires it", name, name, tbl.Name).
		WithHint(fmt.Sprintf("You can drop constraint %s on table %s instead.", name, tbl.Name))
}

func (p *dropIndexPlan) run(ctx context.Context, x *execCtx) (*result, error) {
	s := x.session
	if p.stmt.Concurrently && !x.autocommit {
		return nil, pgerror.New(pgerror.CodeActiveSQLTransaction, "DROP INDEX CONCURRENTLY cannot run inside a transaction block")
	}
	if p.stmt.Concurrently && len(p.stmt.Indexes) > 1 {
		return nil, pgerror.New(pgerror.CodeFeatureNotSupported, "DROP INDEX CONCURRENTLY does not support dropping multiple objects")
	}
	var notices []notice
	var drops []*indexToDrop
	for _, n := range p.stmt.Indexes {
		d, err := s.findIndex(ctx, x.txn, n)
		if err != nil {
			return nil, err
		}
		if d == nil {
			if !p.stmt.IfExists {
				return nil, pgerror.New(pgerror.CodeUndefinedObject, "index %q does not exist", n.Name)
			}
			notices = append(notices, notice{Code: pgerror.CodeUndefinedObject, Message: fmt.Sprintf("index %q does not exist, skipping", n.Name)})
			continue
		}
		if d.index == nil || d.index.Constraint {
			return nil, constraintRequiresIndex(d.table, n.Name)
		}
		if err := s.checkTableOwner(ctx, x.txn, d.table); err != nil {
			return nil, err
		}
		drops = append(drops, d)
	}
	if !x.autocommit {
		for _, d := range drops {
			if err := s.dropIndexInTxn(ctx, x.txn, d.table.ID, d.index.ID); err != nil {
				return nil, err
			}
		}
		return &result{tag: "DROP INDEX", notices: notices}, nil
	}
	if err := x.finishRead(ctx); err != nil {
		return nil, err
	}
	for _, d := range drops {
		if err := s.dropIndexOnline(ctx, d.table.ID, d.index.ID); err != nil {
			return nil, s.toPGError(err)
		}
	}
	return &result{tag: "DROP INDEX", notices: notices}, nil
}

// planAlterTableIndex plans the ALTER TABLE actions of secondary indexes, each alone in its
// statement: ADD [CONSTRAINT name] UNIQUE (columns) [INCLUDE (columns)], built online like
// CREATE INDEX, and DROP CONSTRAINT name of a UNIQUE constraint. ok is false for any other
// ALTER TABLE, which planAlterTable plans.
func (s *Session) planAlterTableIndex(ctx context.Context, t *txn.Txn, n *ast.AlterTableStmt, stored map[int][]string) (pl plan, ok bool, err error) {
	if len(n.Specs) != 1 {
		for _, spec := range n.Specs {
			if spec.Tp == ast.AlterTableAddConstraint && isUniqueConstraint(spec.Constraint) {
				return nil, true, pgerror.Unsupported("ADD UNIQUE with other ALTER TABLE actions")
			}
		}
		return nil, false, nil
	}
	spec := n.Specs[0]
	switch {
	case spec.Tp == ast.AlterTableAddConstraint && isUniqueConstraint(spec.Constraint):
	case spec.Tp == ast.AlterTableAddConstraint && (spec.Constraint.Tp == ast.ConstraintIndex || spec.Constraint.Tp == ast.ConstraintKey):
		return nil, true, pgerror.Unsupported("ALTER TABLE ... ADD INDEX (use CREATE INDEX)")
	case spec.Tp == ast.AlterTableDropCheck:
	default:
		return nil, false, nil
	}
	tbl, err := s.resolveTable(ctx, t, n.Table)
	if err != nil {
		return nil, true, err
	}
	if spec.Tp == ast.AlterTableDropCheck {
		// DROP CONSTRAINT names a constraint of any kind; only a unique one is an index.
		if idx := tbl.IndexByName(spec.Constraint.Name); idx == nil || !idx.Unique {
			return nil, false, nil
		}
		if err := s.checkTableOwner(ctx, t, tbl); err != nil {
			return nil, true, err
		}
		return &dropConstraintPlan{tableID: tbl.ID, name: spec.Constraint.Name}, true, nil
	}
	if err := s.checkTableOwner(ctx, t, tbl); err != nil {
		return nil, true, err
	}
	def, err := indexDefFromConstraint(spec.Constraint, stored[0])
	if err != nil {
		return nil, true, err
	}
	if _, err := buildIndex(tbl, def, def.name); err != nil {
		return nil, true, err
	}
	return &createIndexPlan{tableID: tbl.ID, def: def, tag: "ALTER TABLE"}, true, nil
}

func isUniqueConstraint(c *ast.Constraint) bool {
	return c != nil && (c.Tp == ast.ConstraintUniq || c.Tp == ast.ConstraintUniqKey || c.Tp == ast.ConstraintUniqIndex)
}

// dropConstraintPlan drops a UNIQUE constraint with its index: ALTER TABLE DROP CONSTRAINT.
type dropConstraintPlan struct {
	schemaChange
	tableID uint32
	name    string
}

func (p *dropConstraintPlan) run(ctx context.Context, x *execCtx) (*result, error) {
	s := x.session
	tbl, err := s.srv.cat.TableByID(ctx, x.txn, p.tableID)
	if err != nil {
		return nil, err
	}
	if tbl == nil {
		return nil, pgerror.New(pgerror.CodeUndefinedTable, "relation with ID %d does not exist", p.tableID)
	}
	if p.name == tbl.PrimaryKeyName() {
		return nil, pgerror.Unsupported("dropping a primary key")
	}
	idx := tbl.IndexByName(p.name)
	if idx == nil || !idx.Constraint {
		return nil, pgerror.New(pgerror.CodeUndefinedObject, "constraint %q of relation %q does not exist", p.name, tbl.Name)
	}
	if !x.autocommit {
		if err := s.dropIndexInTxn(ctx, x.txn, tbl.ID, idx.ID); err != nil {
			return nil, err
		}
		return &result{tag: "ALTER TABLE"}, nil
	}
	if err := x.finishRead(ctx); err != nil {
		return nil, err
	}
	if err := s.dropIndexOnline(ctx, tbl.ID, idx.ID); err != nil {
		return nil, s.toPGError(err)
	}
	return &result{tag: "ALTER TABLE"}, nil
}

// planShowIndexes answers SHOW INDEXES FROM t: a row per column of each public index, the
// primary key's first, with the implicit primary key columns of secondary indexes and their
// stored columns, as CockroachDB lists them.
func (s *Session) planShowIndexes(tn *ast.TableName) (plan, error) {
	cols := textColumns("table_name", "index_name", "non_unique", "seq_in_index", "column_name", "direction", "storing", "implicit")
	cols[2].typ, cols[3].typ, cols[6].typ, cols[7].typ = types.Bool, types.Int8, types.Bool, types.Bool
	return &showPlan{cols: cols, rows: func(ctx context.Context, x *execCtx) ([][]types.Datum, error) {
		tbl, err := s.resolveTable(ctx, x.txn, tn)
		if err != nil {
			return nil, err
		}
		var rows [][]types.Datum
		add := func(index string, unique bool, seq int, colID uint32, dir string, storing, implicit bool) {
			col := tbl.Columns[tbl.ColumnOrdinal(colID)]
			rows = append(rows, []types.Datum{tbl.Name, index, !unique, int64(seq), col.Name, dir, storing, implicit})
		}
		direction := func(desc bool) string {
			if desc {
				return "DESC"
			}
			return "ASC"
		}
		for i, id := range tbl.PrimaryKey {
			add(tbl.PrimaryKeyName(), true, i+1, id, direction(tbl.PrimaryKeyDesc[i]), false, false)
		}
		for i := range tbl.Indexes {
			idx := &tbl.Indexes[i]
			if !idx.Readable() {
				continue
			}
			seq := 0
			for j, id := range idx.ColumnIDs {
				seq++
				add(idx.Name, idx.Unique, seq, id, direction(idx.ColumnDesc[j]), false, false)
			}
			suffix, desc := tbl.KeySuffixColumns(idx)
			for j, id := range suffix {
				seq++
				add(idx.Name, idx.Unique, seq, id, direction(desc[j]), false, true)
			}
			for _, id := range idx.StoredColumnIDs {
				seq++
				add(idx.Name, idx.Unique, seq, id, "N/A", true, false)
			}
		}
		return rows, nil
	}}, nil
}
