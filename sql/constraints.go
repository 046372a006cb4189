package sql

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/ranges/mvcc"
	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/parser"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// CHECK and FOREIGN KEY constraints: their declaration (CREATE TABLE, ALTER TABLE) and
// their definitions in descriptors. Enforcement is in fk.go.

// checkDef is a CHECK constraint as a statement declares it.
type checkDef struct {
	name string // "" for a name to choose
	expr ast.ExprNode
}

// fkDef is a FOREIGN KEY constraint as a statement declares it.
type fkDef struct {
	name       string // "" for a name to choose
	cols       []string
	parent     *ast.TableName
	parentCols []string // empty: the referenced table's primary key
	onDelete   catalog.ReferenceAction
	onUpdate   catalog.ReferenceAction
}

// referenceAction reads ON DELETE / ON UPDATE. Meridian does every action on delete, and
// NO ACTION, RESTRICT and CASCADE on update.
func referenceAction(opt ast.ReferOptionType, onUpdate bool) (catalog.ReferenceAction, error) {
	var a catalog.ReferenceAction
	switch opt {
	case ast.ReferOptionNoOption, ast.ReferOptionNoAction:
		a = catalog.NoAction
	case ast.ReferOptionRestrict:
		a = catalog.Restrict
	case ast.ReferOptionCascade:
		a = catalog.Cascade
	case ast.ReferOptionSetNull:
		a = catalog.SetNull
	case ast.ReferOptionSetDefault:
		a = catalog.SetDefault
	default:
		return 0, pgerror.Unsupported("this referential action")
	}
	if onUpdate && (a == catalog.SetNull || a == catalog.SetDefault) {
		return 0, pgerror.Unsupported("ON UPDATE " + a.String())
	}
	return a, nil
}

// newFKDef reads a REFERENCES clause for the columns cols.
func newFKDef(name string, cols []string, ref *ast.ReferenceDef) (fkDef, error) {
	d := fkDef{name: name, cols: cols, parent: ref.Table}
	if ref.Match == ast.MatchFull || ref.Match == ast.MatchPartial {
		return d, pgerror.Unsupported("MATCH FULL and MATCH PARTIAL foreign keys")
	}
	for _, k := range ref.IndexPartSpecifications {
		if k.Column == nil || k.Expr != nil {
			return d, pgerror.New(pgerror.CodeSyntaxError, "invalid referenced column list")
		}
		d.parentCols = append(d.parentCols, k.Column.Name.O)
	}
	var err error
	if ref.OnDelete != nil {
		if d.onDelete, err = referenceAction(ref.OnDelete.ReferOpt, false); err != nil {
			return d, err
		}
	}
	if ref.OnUpdate != nil {
		if d.onUpdate, err = referenceAction(ref.OnUpdate.ReferOpt, true); err != nil {
			return d, err
		}
	}
	return d, nil
}

// tableConstraintDef reads a table constraint other than PRIMARY KEY and UNIQUE.
func tableConstraintDef(c *ast.Constraint) (*checkDef, *fkDef, error) {
	switch c.Tp {
	case ast.ConstraintCheck:
		if !c.Enforced {
			return nil, nil, pgerror.Unsupported("NOT ENFORCED constraints")
		}
		return &checkDef{name: c.Name, expr: c.Expr}, nil, nil
	case ast.ConstraintForeignKey:
		var cols []string
		for _, k := range c.Keys {
			if k.Column == nil || k.Expr != nil {
				return nil, nil, pgerror.New(pgerror.CodeSyntaxError, "invalid foreign key column list")
			}
			cols = append(cols, k.Column.Name.O)
		}
		d, err := newFKDef(c.Name, cols, c.Refer)
		return nil, &d, err
	}
	return nil, nil, nil
}

// columnNamesIn lists the distinct column names an expression references, in order.
func columnNamesIn(e ast.ExprNode) []string {
	v := &columnCollector{seen: map[string]bool{}}
	e.Accept(v)
	return v.names
}

type columnCollector struct {
	names []string
	seen  map[string]bool
}

func (v *columnCollector) Enter(n ast.Node) (ast.Node, bool) {
	if c, ok := n.(*ast.ColumnNameExpr); ok && !v.seen[c.Name.Name.O] {
		v.seen[c.Name.Name.O] = true
		v.names = append(v.names, c.Name.Name.O)
	}
	return n, false
}

func (v *columnCollector) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// constraintNameTaken reports whether the table has a constraint of that name. Unique
// constraints, once they exist, belong here too.
func constraintNameTaken(tbl *catalog.Table, name string) bool {
	if name == tbl.PrimaryKeyName() {
		return true
	}
	for _, c := range tbl.Checks {
		if c.Name == name {
			return true
		}
	}
	_, ok := tbl.ForeignKeyByName(name)
	return ok
}

// chooseConstraintName is PostgreSQL's ChooseConstraintName: table_col1_col2_kind, with a
// number appended until it is free.
func chooseConstraintName(tbl *catalog.Table, cols []string, kind string) string {
	base := tbl.Name
	if len(cols) > 0 {
		base += "_" + strings.Join(cols, "_")
	}
	base += "_" + kind
	name := base
	for i := 1; constraintNameTaken(tbl, name); i++ {
		name = base + strconv.Itoa(i)
	}
	return name
}

// addCheck validates a CHECK constraint against tbl's columns and adds it to tbl.
func (s *Session) addCheck(tbl *catalog.Table, d checkDef) (*catalog.CheckConstraint, error) {
	if _, err := s.compileCheck(tbl, d.expr); err != nil {
		return nil, err
	}
	name := d.name
	if name == "" {
		// PostgreSQL names a check after its column when it references exactly one.
		var cols []string
		if names := columnNamesIn(d.expr); len(names) == 1 {
			cols = names
		}
		name = chooseConstraintName(tbl, cols, "check")
	} else if constraintNameTaken(tbl, name) {
		return nil, pgerror.New(pgerror.CodeDuplicateObject, "constraint %q for relation %q already exists", name, tbl.Name)
	}
	tbl.Checks = append(tbl.Checks, catalog.CheckConstraint{Name: name, Expr: parser.RestoreSQL(d.expr)})
	return &tbl.Checks[len(tbl.Checks)-1], nil
}

// compileCheck compiles a CHECK expression over tbl's columns; it must be boolean.
func (s *Session) compileCheck(tbl *catalog.Table, e ast.ExprNode) (*scalar, error) {
	c := &compiler{scope: tableScope(tbl, tbl.Name), params: &paramTypes{}, session: s, excludedOffset: -1}
	sc, err := c.compileWant(e, types.Bool)
	if err != nil {
		if pgerror.Code(err) == pgerror.CodeFeatureNotSupported && strings.Contains(err.Error(), "subqueries") {
			return nil, pgerror.New(pgerror.CodeFeatureNotSupported, "cannot use subquery in check constraint")
		}
		return nil, err
	}
	if sc.typ.Family != types.BoolFamily {
		return nil, pgerror.New(pgerror.CodeDatatypeMismatch, "argument of CHECK must be type boolean, not type %s", sc.typ.String())
	}
	return sc, nil
}

// parseCheck parses a stored CHECK expression.
func parseCheck(c *catalog.CheckConstraint) (ast.ExprNode, error) {
	node, err := parser.ParseOne("SELECT "+c.Expr, c.Expr)
	if err != nil {
		return nil, fmt.Errorf("check constraint %q: %w", c.Name, err)
	}
	return node.(*ast.SelectStmt).Fields.Fields[0].Expr, nil
}

// renameColumnInChecks rewrites the CHECK expressions of tbl that name column from.
func renameColumnInChecks(tbl *catalog.Table, from, to string) error {
	for i := range tbl.Checks {
		e, err := parseCheck(&tbl.Checks[i])
		if err != nil {
			return err
		}
		r := &columnRenamer{from: from, to: to}
		e.Accept(r)
		if r.changed {
			tbl.Checks[i].Expr = parser.RestoreSQL(e)
		}
	}
	return nil
}

type columnRenamer struct {
	from, to string
	changed  bool
}

func (v *columnRenamer) Enter(n ast.Node) (ast.Node, bool) {
	if c, ok := n.(*ast.ColumnNameExpr); ok && c.Name.Name.O == v.from {
		c.Name.Name = ast.NewCIStr(v.to)
		v.changed = true
	}
	return n, false
}

func (v *columnRenamer) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// checkMentions reports whether a stored CHECK expression references column name.
func checkMentions(c *catalog.CheckConstraint, name string) (bool, error) {
	e, err := parseCheck(c)
	if err != nil {
		return false, err
	}
	for _, n := range columnNamesIn(e) {
		if n == name {
			return true, nil
		}
	}
	return false, nil
}

// resolveForeignKey turns a declared foreign key of child into its definition, checking
// it against the referenced table. self is the child itself when the statement creates it
// (a self-reference names a table not stored yet).
func (s *Session) resolveForeignKey(ctx context.Context, t *txn.Txn, child *catalog.Table, d fkDef, self bool) (catalog.ForeignKey, *catalog.Table, error) {
	var fk catalog.ForeignKey
	var parent *catalog.Table
	if self && d.parent.Name.O == child.Name && (d.parent.Schema.O == "" || schemaNamed(d.parent.Schema.O, child)) {
		parent = child
	} else {
		var err error
		if parent, err = s.lookupTableAt(ctx, t, d.parent.Schema.O, d.parent.Name.O, 0); err != nil {
			return fk, nil, err
		}
		if parent.ID == child.ID {
			parent = child // the descriptor being changed, with this statement's columns
		}
		if parent.DatabaseID != child.DatabaseID {
			return fk, nil, pgerror.Unsupported("cross-database references")
		}
	}
	for _, name := range d.cols {
		col, _, ok := child.ColumnByName(name)
		if !ok {
			return fk, nil, pgerror.New(pgerror.CodeUndefinedColumn, "column %q referenced in foreign key constraint does not exist", name)
		}
		fk.Columns = append(fk.Columns, col.ID)
	}
	if len(d.parentCols) == 0 {
		if !hasExplicitPrimaryKey(parent) {
			return fk, nil, pgerror.New(pgerror.CodeInvalidForeignKey, "there is no primary key for referenced table %q", parent.Name)
		}
		fk.ReferencedColumns = append(fk.ReferencedColumns, parent.PrimaryKey...)
	} else {
		for _, name := range d.parentCols {
			col, _, ok := parent.ColumnByName(name)
			if !ok {
				return fk, nil, pgerror.New(pgerror.CodeUndefinedColumn, "column %q referenced in foreign key constraint does not exist", name)
			}
			fk.ReferencedColumns = append(fk.ReferencedColumns, col.ID)
		}
	}
	if len(fk.Columns) != len(fk.ReferencedColumns) {
		return fk, nil, pgerror.New(pgerror.CodeInvalidForeignKey, "number of referencing and referenced columns for foreign key disagree")
	}
	if !referencedKeyUsable(parent, fk.ReferencedColumns) {
		return fk, nil, pgerror.New(pgerror.CodeInvalidForeignKey, "there is no unique constraint matching given keys for referenced table %q", parent.Name)
	}
	fk.ReferencedTable = parent.ID
	fk.OnDelete, fk.OnUpdate = d.onDelete, d.onUpdate
	fk.Name = d.name
	if fk.Name == "" {
		fk.Name = chooseConstraintName(child, d.cols, "fkey")
	} else if constraintNameTaken(child, fk.Name) {
		return fk, nil, pgerror.New(pgerror.CodeDuplicateObject, "constraint %q for relation %q already exists", fk.Name, child.Name)
	}
	for i, id := range fk.Columns {
		cc, _ := child.ColumnByID(id)
		pc, _ := parent.ColumnByID(fk.ReferencedColumns[i])
		if !comparableForKey(cc.Type, pc.Type) {
			return fk, nil, pgerror.New(pgerror.CodeDatatypeMismatch, "foreign key constraint %q cannot be implemented", fk.Name).
				WithDetail(fmt.Sprintf("Key columns %q and %q are of incompatible types: %s and %s.", cc.Name, pc.Name, cc.Type.String(), pc.Type.String()))
		}
	}
	return fk, parent, nil
}

// schemaNamed reports whether a schema name in a statement names the schema of tbl.
func schemaNamed(schema string, tbl *catalog.Table) bool {
	return schema == catalog.PublicSchema && tbl.ParentSchemaID() == catalog.PublicSchemaID || schema != catalog.PublicSchema && tbl.ParentSchemaID() != catalog.PublicSchemaID
}

// hasExplicitPrimaryKey reports whether the table was declared with a primary key (not the
// hidden row ID).
func hasExplicitPrimaryKey(tbl *catalog.Table) bool {
	for _, id := range tbl.PrimaryKey {
		if c, ok := tbl.ColumnByID(id); ok && c.Hidden {
			return false
		}
	}
	return true
}

// referencedKeyUsable reports whether a foreign key may reference the columns cols of
// parent: they must be its primary key's columns (in any order). This is where a UNIQUE
// index over exactly those columns will be accepted too, once secondary indexes exist;
// fk.go's parent lookup then reads that index instead of the primary key.
func referencedKeyUsable(parent *catalog.Table, cols []uint32) bool {
	if len(cols) != len(parent.PrimaryKey) || !hasExplicitPrimaryKey(parent) {
		return false
	}
	for _, id := range cols {
		if !parent.IsPrimaryKeyColumn(id) {
			return false
		}
	}
	seen := map[uint32]bool{}
	for _, id := range cols {
		if seen[id] {
			return false
		}
		seen[id] = true
	}
	return true
}

// comparableForKey reports whether values of a referencing column of type a can be
// matched with a referenced column of type b.
func comparableForKey(a, b types.T) bool {
	if a.Family == b.Family {
		return a.Family != types.ArrayFamily || a.Elem == b.Elem
	}
	numeric := func(f types.Family) bool {
		return f == types.IntFamily || f == types.DecimalFamily || f == types.FloatFamily
	}
	return numeric(a.Family) && numeric(b.Family)
}

// addForeignKeyRef records on parent that fk of child references it.
func addForeignKeyRef(parent *catalog.Table, child uint32, name string) {
	parent.ReferencedBy = append(parent.ReferencedBy, catalog.ForeignKeyRef{Table: child, Name: name})
}

// removeForeignKeyRef forgets that fk name of child references parent.
func removeForeignKeyRef(parent *catalog.Table, child uint32, name string) {
	var out []catalog.ForeignKeyRef
	for _, r := range parent.ReferencedBy {
		if r.Table != child || r.Name != name {
			out = append(out, r)
		}
	}
	parent.ReferencedBy = out
}

// cloneTable returns a copy of tbl whose slices can be changed without touching tbl, which
// may be shared through the descriptor cache.
func cloneTable(tbl *catalog.Table) *catalog.Table {
	nt := *tbl
	nt.Columns = append([]catalog.Column(nil), tbl.Columns...)
	nt.PrimaryKey = append([]uint32(nil), tbl.PrimaryKey...)
	nt.PrimaryKeyDesc = append([]bool(nil), tbl.PrimaryKeyDesc...)
	nt.Checks = append([]catalog.CheckConstraint(nil), tbl.Checks...)
	nt.ForeignKeys = nil
	for _, fk := range tbl.ForeignKeys {
		fk.Columns = append([]uint32(nil), fk.Columns...)
		fk.ReferencedColumns = append([]uint32(nil), fk.ReferencedColumns...)
		nt.ForeignKeys = append(nt.ForeignKeys, fk)
	}
	nt.ReferencedBy = append([]catalog.ForeignKeyRef(nil), tbl.ReferencedBy...)
	nt.OwnedSequences = append([]catalog.OwnedSequence(nil), tbl.OwnedSequences...)
	return &nt
}

// tableEdits holds the descriptors a schema change modifies, so that each is read once (in
// the transaction) and written once, even when several changes touch the same table (a
// self-reference, two foreign keys to one parent).
type tableEdits struct {
	s       *Session
	t       *txn.Txn
	tables  map[uint32]*catalog.Table
	renamed map[uint32]string // old names of renamed tables
	order   []uint32
}

func newTableEdits(s *Session, t *txn.Txn) *tableEdits {
	return &tableEdits{s: s, t: t, tables: map[uint32]*catalog.Table{}, renamed: map[uint32]string{}}
}

// get returns the editable copy of the table with this ID.
func (e *tableEdits) get(ctx context.Context, id uint32) (*catalog.Table, error) {
	if tbl, ok := e.tables[id]; ok {
		return tbl, nil
	}
	tbl, err := e.s.srv.cat.TableByID(ctx, e.t, id)
	if err != nil {
		return nil, err
	}
	if tbl == nil {
		return nil, fmt.Errorf("table %d does not exist", id)
	}
	return e.adopt(tbl), nil
}

// adopt makes tbl (a copy) one of the tables to write.
func (e *tableEdits) adopt(tbl *catalog.Table) *catalog.Table {
	if have, ok := e.tables[tbl.ID]; ok {
		return have
	}
	nt := cloneTable(tbl)
	e.tables[tbl.ID] = nt
	e.order = append(e.order, tbl.ID)
	return nt
}

// forget drops a table from the ones to write (it is being dropped).
func (e *tableEdits) forget(id uint32) {
	delete(e.tables, id)
}

// write stores every edited table.
func (e *tableEdits) write(ctx context.Context) error {
	for _, id := range e.order {
		tbl, ok := e.tables[id]
		if !ok {
			continue
		}
		if err := e.s.srv.cat.UpdateTable(ctx, e.t, tbl, e.renamed[id]); err != nil {
			return err
		}
	}
	return nil
}

// conditionFailed reports whether err is a failed uniqueness condition.
func conditionFailed(err error) bool {
	var cfe *mvcc.ConditionFailedError
	return errors.As(err, &cfe)
}

// checkIdentityInsert refuses explicit values for GENERATED ALWAYS identity columns.
// values are the VALUES rows (nil entries stand for DEFAULT); fromSelect says the values
// come from a query instead.
func checkIdentityInsert(tbl *catalog.Table, targets []int, values [][]*scalar, fromSelect bool) error {
	for i, ord := range targets {
		col := &tbl.Columns[ord]
		if col.Identity != catalog.IdentityAlways {
			continue
		}
		explicit := fromSelect
		for _, row := range values {
			explicit = explicit || row[i] != nil
		}
		if explicit {
			return pgerror.New(pgerror.CodeGeneratedAlways, "cannot insert a non-DEFAULT value into column %q", col.Name).
				WithDetail(fmt.Sprintf("Column %q is an identity column defined as GENERATED ALWAYS.", col.Name)).
				WithHint("Use OVERRIDING SYSTEM VALUE to override.")
		}
	}
	return nil
}

// checkIdentityUpdate refuses setting a GENERATED ALWAYS identity column to anything but
// DEFAULT.
func checkIdentityUpdate(tbl *catalog.Table, list []*ast.Assignment) error {
	for _, a := range list {
		col, _, ok := tbl.ColumnByName(a.Column.Name.O)
		if !ok || col.Identity != catalog.IdentityAlways {
			continue
		}
		if _, isDefault := a.Expr.(*ast.DefaultExpr); !isDefault {
			return pgerror.New(pgerror.CodeGeneratedAlways, "column %q can only be updated to DEFAULT", col.Name).
				WithDetail(fmt.Sprintf("Column %q is an identity column defined as GENERATED ALWAYS.", col.Name))
		}
	}
	return nil
}
