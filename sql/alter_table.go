package sql

import (
	"context"
	"fmt"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/parser"
	"github.com/meridiandb/meridian/sql/pgdialect"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// ALTER TABLE applies its actions in order to a copy of the descriptor, then, if an action
// needs it, passes once over the table's rows in the same transaction: new columns get
// their defaults written into every row (a volatile default is evaluated per row, as
// PostgreSQL does), and new NOT NULL, CHECK and FOREIGN KEY constraints are validated.
// The descriptor and the rewritten rows commit together, so a concurrent reader sees the
// table entirely before or entirely after the change. Dropping a column leaves its values
// in the rows: values are tagged with column IDs, which are never reused, and decoding
// skips the IDs the descriptor no longer has.

type alterTablePlan struct {
	schemaChange
	table *ast.TableName
	specs []*ast.AlterTableSpec
	// dropIfExists names the constraints dropped with IF EXISTS.
	dropIfExists map[string]bool
	// isView marks ALTER VIEW, which names a view (ALTER TABLE may too, as in PostgreSQL).
	isView bool
}

func (s *Session) planAlterTable(n *ast.AlterTableStmt, opts *pgdialect.DDL, isView bool) (plan, error) {
	p := &alterTablePlan{table: n.Table, specs: n.Specs, dropIfExists: map[string]bool{}, isView: isView}
	for _, name := range opts.DropConstraintIfExists {
		p.dropIfExists[name] = true
	}
	for _, spec := range n.Specs {
		switch spec.Tp {
		case ast.AlterTableAddColumns, ast.AlterTableDropColumn, ast.AlterTableRenameColumn, ast.AlterTableRenameTable,
			ast.AlterTableAlterColumn, ast.AlterTableAddConstraint, ast.AlterTableDropCheck, ast.AlterTableDropForeignKey:
		case ast.AlterTableModifyColumn, ast.AlterTableChangeColumn:
			return nil, pgerror.Unsupported("ALTER COLUMN ... TYPE")
		case ast.AlterTableDropPrimaryKey:
			return nil, pgerror.Unsupported("dropping a primary key")
		default:
			return nil, pgerror.Unsupported("this ALTER TABLE action")
		}
		if spec.Position != nil && spec.Position.Tp != ast.ColumnPositionNone {
			return nil, pgerror.Unsupported("column positions")
		}
	}
	return p, nil
}

// alteration is what the actions of one ALTER TABLE left for the pass over the rows.
type alteration struct {
	added    map[uint32]bool // columns added, whose values the rows get
	notNull  map[uint32]bool // columns made NOT NULL (or added so), to validate
	checks   []string        // CHECK constraints added, by name
	fks      []string        // FOREIGN KEY constraints added, by name
	notices  []notice
	original *catalog.Table
}

func (p *alterTablePlan) run(ctx context.Context, x *execCtx) (*result, error) {
	s := x.session
	tbl, err := s.lookupTableAt(ctx, x.txn, p.table.Schema.O, p.table.Name.O, 0)
	if pgerror.Code(err) == pgerror.CodeWrongObjectType {
		if v, verr := s.lookupViewAt(ctx, x.txn, p.table.Schema.O, p.table.Name.O, 0); verr == nil {
			return p.alterView(ctx, x, v)
		}
	}
	if err != nil {
		return nil, err
	}
	if p.isView {
		return nil, notAView(tbl.Name)
	}
	if err := s.checkTableOwner(ctx, x.txn, tbl); err != nil {
		return nil, err
	}
	edits := newTableEdits(s, x.txn)
	nt := edits.adopt(tbl)
	a := &alteration{added: map[uint32]bool{}, notNull: map[uint32]bool{}, original: tbl}
	for _, spec := range p.specs {
		if err := p.apply(ctx, x, edits, nt, spec, a); err != nil {
			return nil, err
		}
	}
	if len(a.added) > 0 || len(a.notNull) > 0 || len(a.checks) > 0 || len(a.fks) > 0 {
		if err := rewriteAndValidate(ctx, x, nt, a); err != nil {
			return nil, err
		}
	}
	if err := edits.write(ctx); err != nil {
		return nil, err
	}
	if err := x.finishRead(ctx); err != nil {
		return nil, err
	}
	return &result{tag: "ALTER TABLE", notices: a.notices}, nil
}

// tableWhat names the table being altered as messages about its dependents do.
func (p *alterTablePlan) tableWhat(ctx context.Context, x *execCtx, nt *catalog.Table) string {
	return "table " + x.session.displayName(ctx, x.txn, nt.DatabaseID, nt.ParentSchemaID(), nt.Name)
}

// visibleColumn finds a column users can name.
func visibleColumn(tbl *catalog.Table, name string) (*catalog.Column, int, bool) {
	c, ord, ok := tbl.ColumnByName(name)
	if !ok || c.Hidden {
		return nil, -1, false
	}
	return c, ord, true
}

func noSuchColumn(tbl *catalog.Table, name string) error {
	return pgerror.New(pgerror.CodeUndefinedColumn, "column %q of relation %q does not exist", name, tbl.Name)
}

func (p *alterTablePlan) apply(ctx context.Context, x *execCtx, edits *tableEdits, nt *catalog.Table, spec *ast.AlterTableSpec, a *alteration) error {
	s := x.session
	switch spec.Tp {
	case ast.AlterTableAddColumns:
		for _, def := range spec.NewColumns {
			if err := s.addColumn(ctx, x.txn, edits, nt, def, spec.IfNotExists, a); err != nil {
				return err
			}
		}
	case ast.AlterTableDropColumn:
		name := spec.OldColumnName.Name.O
		if _, _, ok := visibleColumn(nt, name); ok {
			if err := s.refuseIfViewsRead(ctx, x.txn, nt.DatabaseID, nt.ID, "drop", p.tableWhat(ctx, x, nt), name); err != nil {
				return err
			}
		}
		return s.dropColumn(ctx, x.txn, edits, nt, name, spec.IfExists, a)
	case ast.AlterTableRenameColumn:
		from, to := spec.OldColumnName.Name.O, spec.NewColumnName.Name.O
		col, _, ok := visibleColumn(nt, from)
		if !ok {
			return noSuchColumn(nt, from)
		}
		if err := s.refuseIfViewsRead(ctx, x.txn, nt.DatabaseID, nt.ID, "rename", p.tableWhat(ctx, x, nt), from); err != nil {
			return err
		}
		if _, _, taken := nt.ColumnByName(to); taken {
			return pgerror.New(pgerror.CodeDuplicateColumn, "column %q of relation %q already exists", to, nt.Name)
		}
		col.Name = to
		return renameColumnInChecks(nt, from, to)
	case ast.AlterTableRenameTable:
		to := spec.NewTable
		if to.Schema.O != "" && !schemaNamed(to.Schema.O, nt) {
			return pgerror.Unsupported("moving a table to another schema")
		}
		if err := s.refuseIfViewsRead(ctx, x.txn, nt.DatabaseID, nt.ID, "rename", p.tableWhat(ctx, x, nt), ""); err != nil {
			return err
		}
		if _, ok := edits.renamed[nt.ID]; !ok {
			edits.renamed[nt.ID] = nt.Name
		}
		nt.Name = to.Name.O
	case ast.AlterTableAlterColumn:
		return s.alterColumn(nt, spec.NewColumns[0], a)
	case ast.AlterTableAddConstraint:
		c := spec.Constraint
		switch c.Tp {
		case ast.ConstraintCheck, ast.ConstraintForeignKey:
		case ast.ConstraintUniq, ast.ConstraintUniqKey, ast.ConstraintUniqIndex:
			return pgerror.Unsupported("UNIQUE constraints")
		case ast.ConstraintPrimaryKey:
			return s.addPrimaryKey(ctx, x, nt, c, a, len(p.specs)) // alter_pk.go
		default:
			return pgerror.Unsupported("this constraint")
		}
		check, fk, err := tableConstraintDef(c)
		if err != nil {
			return err
		}
		if check != nil {
			added, err := s.addCheck(nt, *check)
			if err != nil {
				return err
			}
			a.checks = append(a.checks, added.Name)
		}
		if fk != nil {
			if err := s.addForeignKey(ctx, x.txn, edits, nt, *fk, false); err != nil {
				return err
			}
			a.fks = append(a.fks, nt.ForeignKeys[len(nt.ForeignKeys)-1].Name)
		}
	case ast.AlterTableDropCheck:
		return s.dropConstraint(ctx, edits, nt, spec.Constraint.Name, p.dropIfExists, a)
	case ast.AlterTableDropForeignKey:
		return s.dropConstraint(ctx, edits, nt, spec.Name, p.dropIfExists, a)
	}
	return nil
}

// addColumn applies ADD COLUMN.
func (s *Session) addColumn(ctx context.Context, t *txn.Txn, edits *tableEdits, nt *catalog.Table, def *ast.ColumnDef, ifNotExists bool, a *alteration) error {
	name := def.Name.Name.O
	if _, _, taken := nt.ColumnByName(name); taken {
		if ifNotExists {
			a.notices = append(a.notices, notice{Code: pgerror.CodeDuplicateColumn, Message: fmt.Sprintf("column %q of relation %q already exists, skipping", name, nt.Name)})
			return nil
		}
		return pgerror.New(pgerror.CodeDuplicateColumn, "column %q of relation %q already exists", name, nt.Name)
	}
	col, serial, err := s.newColumn(nt, def)
	if err != nil {
		return err
	}
	nt.NextColumnID++
	var checks []checkDef
	var fks []fkDef
	for _, opt := range def.Options {
		if handled, err := columnConstraintOption(&col, opt, &checks, &fks); handled || err != nil {
			if err != nil {
				return err
			}
			continue
		}
		switch opt.Tp {
		case ast.ColumnOptionNotNull:
			col.Nullable = false
		case ast.ColumnOptionNull:
			col.Nullable = true
		case ast.ColumnOptionDefaultValue:
			if serial != nil {
				return pgerror.New(pgerror.CodeSyntaxError, "multiple default values specified for column %q of table %q", col.Name, nt.Name)
			}
			ident, err := identityColumn(nt, &col, opt.Expr)
			if err != nil {
				return err
			}
			if ident != nil {
				serial = ident
				continue
			}
			if v, ok := opt.Expr.(*parser.Value); ok && v.Val == nil {
				continue
			}
			col.Default = parser.RestoreSQL(opt.Expr)
			if _, err := compileDefault(s, &col); err != nil {
				return err
			}
		case ast.ColumnOptionPrimaryKey:
			return pgerror.Unsupported("adding a primary key")
		case ast.ColumnOptionUniqKey:
			return pgerror.Unsupported("UNIQUE constraints")
		default:
			return pgerror.Unsupported("this column option")
		}
	}
	nt.Columns = append(nt.Columns, col)
	a.added[col.ID] = true
	if !col.Nullable {
		a.notNull[col.ID] = true
	}
	if serial != nil {
		sc, err := s.srv.cat.SchemaByID(ctx, t, nt.DatabaseID, nt.ParentSchemaID())
		if err != nil {
			return err
		}
		if err := s.createOwnedSequences(ctx, t, nt, sc.Name, []serialColumn{*serial}); err != nil {
			return err
		}
	}
	for _, c := range checks {
		added, err := s.addCheck(nt, c)
		if err != nil {
			return err
		}
		a.checks = append(a.checks, added.Name)
	}
	for _, d := range fks {
		if err := s.addForeignKey(ctx, t, edits, nt, d, false); err != nil {
			return err
		}
		a.fks = append(a.fks, nt.ForeignKeys[len(nt.ForeignKeys)-1].Name)
	}
	return nil
}

// dropColumn applies DROP COLUMN: the constraints of the table that involve the column go
// with it (as in PostgreSQL, without CASCADE), and so does a sequence it owns.
func (s *Session) dropColumn(ctx context.Context, t *txn.Txn, edits *tableEdits, nt *catalog.Table, name string, ifExists bool, a *alteration) error {
	col, ord, ok := visibleColumn(nt, name)
	if !ok {
		if ifExists {
			a.notices = append(a.notices, notice{Code: pgerror.CodeUndefinedColumn, Message: fmt.Sprintf("column %q of relation %q does not exist, skipping", name, nt.Name)})
			return nil
		}
		return noSuchColumn(nt, name)
	}
	if nt.IsPrimaryKeyColumn(col.ID) {
		return pgerror.Unsupported(fmt.Sprintf("dropping column %q, which is part of the primary key of %q,", name, nt.Name))
	}
	var checks []catalog.CheckConstraint
	for _, c := range nt.Checks {
		mentions, err := checkMentions(&c, name)
		if err != nil {
			return err
		}
		if !mentions {
			checks = append(checks, c)
		}
	}
	nt.Checks = checks
	var fks []catalog.ForeignKey
	for _, fk := range nt.ForeignKeys {
		if !containsID(fk.Columns, col.ID) {
			fks = append(fks, fk)
			continue
		}
		parent := nt
		if fk.ReferencedTable != nt.ID {
			var err error
			if parent, err = edits.get(ctx, fk.ReferencedTable); err != nil {
				return err
			}
		}
		removeForeignKeyRef(parent, nt.ID, fk.Name)
	}
	nt.ForeignKeys = fks
	var owned []catalog.OwnedSequence
	for _, o := range nt.OwnedSequences {
		if o.ColumnID != col.ID {
			owned = append(owned, o)
			continue
		}
		seq, err := s.srv.cat.SequenceByID(ctx, t, o.SequenceID)
		if err != nil {
			return err
		}
		if seq != nil {
			if err := dropSequence(ctx, t, s.srv.cat, seq); err != nil {
				return err
			}
		}
	}
	nt.OwnedSequences = owned
	delete(a.added, col.ID)
	delete(a.notNull, col.ID)
	nt.Columns = append(nt.Columns[:ord:ord], nt.Columns[ord+1:]...)
	return nil
}

func containsID(ids []uint32, id uint32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// alterColumn applies ALTER COLUMN SET/DROP DEFAULT and SET/DROP NOT NULL (which the
// dialect carries as defaults of marker functions).
func (s *Session) alterColumn(nt *catalog.Table, def *ast.ColumnDef, a *alteration) error {
	name := def.Name.Name.O
	col, _, ok := visibleColumn(nt, name)
	if !ok {
		return noSuchColumn(nt, name)
	}
	if len(def.Options) == 0 { // DROP DEFAULT
		if col.Identity != "" {
			return pgerror.New(pgerror.CodeObjectNotInPrereqState, "column %q of relation %q is an identity column", name, nt.Name).
				WithHint("Use ALTER TABLE ... ALTER COLUMN ... DROP IDENTITY instead.")
		}
		col.Default = ""
		return nil
	}
	e := def.Options[0].Expr
	if p, ok := e.(*ast.ParenthesesExpr); ok {
		e = p.Expr
	}
	if f, ok := e.(*ast.FuncCallExpr); ok && len(f.Args) == 0 {
		switch f.FnName.L {
		case pgdialect.SetNotNullMarker:
			if col.Nullable {
				col.Nullable = false
				a.notNull[col.ID] = true
			}
			return nil
		case pgdialect.DropNotNullMarker:
			if nt.IsPrimaryKeyColumn(col.ID) {
				return pgerror.New(pgerror.CodeInvalidTableDefinition, "column %q is in a primary key", name)
			}
			if col.Identity != "" {
				return pgerror.New(pgerror.CodeObjectNotInPrereqState, "column %q of relation %q is an identity column", name, nt.Name)
			}
			col.Nullable = true
			delete(a.notNull, col.ID)
			return nil
		}
	}
	if col.Identity != "" {
		return pgerror.New(pgerror.CodeObjectNotInPrereqState, "column %q of relation %q is an identity column", name, nt.Name).
			WithHint("Use ALTER TABLE ... ALTER COLUMN ... DROP IDENTITY instead.")
	}
	if v, ok := e.(*parser.Value); ok && v.Val == nil {
		col.Default = ""
		return nil
	}
	col.Default = parser.RestoreSQL(e)
	_, err := compileDefault(s, col)
	return err
}

// dropConstraint applies DROP CONSTRAINT for CHECK and FOREIGN KEY constraints.
func (s *Session) dropConstraint(ctx context.Context, edits *tableEdits, nt *catalog.Table, name string, ifExists map[string]bool, a *alteration) error {
	for i, c := range nt.Checks {
		if c.Name == name {
			nt.Checks = append(nt.Checks[:i:i], nt.Checks[i+1:]...)
			return nil
		}
	}
	if fk, ok := nt.ForeignKeyByName(name); ok {
		parent := nt
		if fk.ReferencedTable != nt.ID {
			var err error
			if parent, err = edits.get(ctx, fk.ReferencedTable); err != nil {
				return err
			}
		}
		removeForeignKeyRef(parent, nt.ID, name)
		nt.ForeignKeys = removeForeignKey(nt.ForeignKeys, name)
		return nil
	}
	if name == nt.PrimaryKeyName() {
		return pgerror.Unsupported("dropping a primary key")
	}
	if ifExists[name] {
		a.notices = append(a.notices, notice{Code: pgerror.CodeUndefinedObject, Message: fmt.Sprintf("constraint %q of relation %q does not exist, skipping", name, nt.Name)})
		return nil
	}
	return pgerror.New(pgerror.CodeUndefinedObject, "constraint %q of relation %q does not exist", name, nt.Name)
}

// rewriteAndValidate passes over the rows of the altered table: writes the values of added
// columns and validates new constraints. Rows are read with the table's old descriptor.
func rewriteAndValidate(ctx context.Context, x *execCtx, nt *catalog.Table, a *alteration) error {
	s := x.session
	old := a.original
	defaults := make([]*scalar, len(nt.Columns))
	for i := range nt.Columns {
		if a.added[nt.Columns[i].ID] {
			d, err := compileDefault(s, &nt.Columns[i])
			if err != nil {
				return err
			}
			defaults[i] = d
		}
	}
	var checks []compiledCheck
	all, err := s.compileChecks(nt)
	if err != nil {
		return err
	}
	for _, c := range all {
		for _, name := range a.checks {
			if c.name == name {
				checks = append(checks, c)
			}
		}
	}
	var fkChanges []rowChange
	b := &txn.Batch{}
	start, end := rowenc.PrimarySpan(old.KeyID())
	err = scanRows(ctx, x.txn, old, start, end, func(oldRow []types.Datum) error {
		row := make([]types.Datum, len(nt.Columns))
		rewrite := false
		for i, c := range nt.Columns {
			if d := defaults[i]; d != nil {
				v, err := d.eval(x.ec, nil)
				if err != nil {
					return err
				}
				if v != nil {
					if row[i], err = assign(nt, i, d, v, x.ec.settings()); err != nil {
						return err
					}
					rewrite = true
				}
				continue
			}
			if o := old.ColumnOrdinal(c.ID); o >= 0 {
				row[i] = oldRow[o]
			}
		}
		for i, c := range nt.Columns {
			if row[i] == nil && a.notNull[c.ID] {
				return pgerror.New(pgerror.CodeNotNullViolation, "column %q of relation %q contains null values", c.Name, nt.Name)
			}
		}
		for _, c := range checks {
			v, err := c.expr.eval(x.ec, row)
			if err != nil {
				return err
			}
			if v != nil && !v.(bool) {
				return pgerror.New(pgerror.CodeCheckViolation, "check constraint %q of relation %q is violated by some row", c.name, nt.Name)
			}
		}
		if len(a.fks) > 0 {
			fkChanges = append(fkChanges, rowChange{new: row})
		}
		if rewrite {
			k, v, err := rowenc.EncodeRow(nt, row)
			if err != nil {
				return err
			}
			b.Put(k, v)
			if b.Len() >= scanPageSize {
				err := x.txn.Run(ctx, b)
				b = &txn.Batch{}
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if b.Len() > 0 {
		if err := x.txn.Run(ctx, b); err != nil {
			return err
		}
	}
	if len(fkChanges) == 0 {
		return nil
	}
	r := &fkRun{x: x, tables: map[uint32]*catalog.Table{nt.ID: nt}, checks: map[uint32][]compiledCheck{}}
	for _, name := range a.fks {
		fk, _ := nt.ForeignKeyByName(name)
		if err := r.checkParents(ctx, nt, fk, fkChanges); err != nil {
			return err
		}
	}
	return nil
}
