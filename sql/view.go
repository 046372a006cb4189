package sql

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/parser"
	"github.com/meridiandb/meridian/sql/pgdialect"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/privilege"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// Views. A view is a descriptor of its own kind (catalog.View) in the relation namespace.
// It stores its body as normalized SQL with every relation it reads schema-qualified and
// every * expanded, so the body means at each use what it meant at creation; a query that
// names the view re-parses the body and plans it as a derived table, checking the body's
// reads as the view's owner, as PostgreSQL does. Because the body names its tables and
// columns, renaming or dropping what it reads is refused while the view exists (2BP01);
// DROP ... CASCADE drops the views too.

// maxViewDepth bounds views over views. A view cannot reference itself (its body is
// planned, and so must resolve, before it exists), so the bound only guards against a
// damaged catalog.
const maxViewDepth = 64

// viewBody is what planning a view's body needs beyond what planning a query does
// (planner.view).
type viewBody struct {
	// owner is the role whose privileges the body's reads are checked as.
	owner string
	// creating marks CREATE VIEW's planning of the body: it rewrites each * into the
	// columns it stands for, and checks no privileges, which PostgreSQL checks only when
	// the view is used.
	creating bool
	depth    int
}

// expandStars, while a view is created, replaces the * items of a SELECT of its body by
// the columns they stand for in scope, so that the stored body keeps the columns it had
// when its tables gain more.
func (v *viewBody) expandStars(n *ast.SelectStmt, scope []scopeColumn) {
	if v == nil || !v.creating || n.Fields == nil {
		return
	}
	var out []*ast.SelectField
	changed := false
	for _, f := range n.Fields.Fields {
		if f.WildCard == nil {
			out = append(out, f)
			continue
		}
		changed = true
		tn := f.WildCard.Table.O
		for _, col := range scope {
			if tn != "" && col.table != tn || col.hidden {
				continue
			}
			out = append(out, &ast.SelectField{Expr: &ast.ColumnNameExpr{Name: &ast.ColumnName{Table: ast.NewCIStr(col.table), Name: ast.NewCIStr(col.name)}}})
		}
	}
	if changed {
		n.Fields.Fields = out
	}
}

// checkRead requires want on a relation a query reads: of the session's user, or, in a
// view's body, of the view's owner.
func (p *planner) checkRead(acl privilege.ACL, want privilege.Kind, kind, name string) error {
	role := p.s.user
	if p.view != nil {
		if p.view.creating {
			return nil
		}
		role = p.view.owner
	}
	if role == privilege.Root {
		return nil
	}
	acting, err := p.s.srv.cat.ActingRoles(p.ctx, p.txn, role, p.s.cacheVersion())
	if err != nil {
		return err
	}
	if !acl.Allows(acting, want) {
		return pgerror.New(CodeInsufficientPrivilege, "permission denied for %s %s", kind, name)
	}
	return nil
}

// readable is a relation a query can read from: a table or a view.
type readable struct {
	table *catalog.Table
	view  *catalog.View
}

// resolveReadable finds the table or view schema.name reading descriptors at version at.
func (s *Session) resolveReadable(ctx context.Context, t *txn.Txn, schema, name string, at uint64) (readable, error) {
	return resolveRelation(ctx, s, t, schema, name, at, func(db, sc uint32, name string, at uint64) (readable, error) {
		tbl, err := s.srv.cat.LookupTableIn(ctx, t, db, sc, name, at)
		if err == nil {
			return readable{table: tbl}, nil
		}
		if pgerror.Code(err) != pgerror.CodeWrongObjectType {
			return readable{}, err
		}
		v, verr := s.srv.cat.LookupView(ctx, t, db, sc, name, at)
		if verr != nil {
			return readable{}, err // a sequence: "is not a table"
		}
		return readable{view: v}, nil
	})
}

// lookupViewAt finds view schema.name reading descriptors at version at (0: from t).
func (s *Session) lookupViewAt(ctx context.Context, t *txn.Txn, schema, name string, at uint64) (*catalog.View, error) {
	return resolveRelation(ctx, s, t, schema, name, at, func(db, sc uint32, name string, at uint64) (*catalog.View, error) {
		return s.srv.cat.LookupView(ctx, t, db, sc, name, at)
	})
}

// planViewRef plans a FROM item naming view v: its body as a derived table named alias
// (the view's name if none), with the view's column names.
func (p *planner) planViewRef(v *catalog.View, alias string, lock *lockSpec) (logical, error) {
	name := v.Name
	if alias != "" {
		name = alias
	}
	if lock != nil && lock.covers(name) {
		return nil, pgerror.Unsupported("locking clauses on views")
	}
	if err := p.checkRead(v.Privileges(), privilege.Select, "view", v.Name); err != nil {
		return nil, err
	}
	depth := 1
	if p.view != nil {
		depth = p.view.depth + 1
	}
	if depth > maxViewDepth {
		return nil, pgerror.New(pgerror.CodeInvalidObjectDefinition, "infinite recursion detected in rules for relation %q", v.Name)
	}
	node, err := p.s.planViewQuery(p.ctx, p.txn, v.Query, v.ColumnAliases, &viewBody{owner: v.Privileges().Owner, depth: depth})
	if err != nil {
		return nil, err
	}
	in := node.cols()
	if len(in) != len(v.Columns) {
		return nil, pgerror.New(pgerror.CodeInternalError, "view %q returns %d columns, but was defined with %d", v.Name, len(in), len(v.Columns))
	}
	names := p.columnAliases(name)
	if len(names) > len(v.Columns) {
		return nil, pgerror.New(pgerror.CodeInvalidColumnReference, "table %q has %d columns available but %d columns specified", name, len(v.Columns), len(names))
	}
	scope := make([]scopeColumn, len(in))
	exprs := make([]*scalar, len(in))
	for i, col := range v.Columns {
		sc := scopeColumn{table: name, name: col.Name, typ: col.Type, tableID: v.ID, attrNum: uint16(i + 1)}
		if i < len(names) {
			sc.name = names[i]
		}
		scope[i] = sc
		exprs[i] = &scalar{typ: col.Type, colOrd: i, eval: columnReader(i)}
	}
	return &logicalDerived{name: name, node: &projectNode{input: node, exprs: exprs, scope: scope, passthrough: true}}, nil
}

// planViewQuery parses and plans a view's body.
func (s *Session) planViewQuery(ctx context.Context, t *txn.Txn, query string, aliases map[string][]string, vb *viewBody) (relNode, error) {
	stmt, err := parser.ParseOne(query, query)
	if err != nil {
		return nil, fmt.Errorf("parsing the body of a view: %w", err)
	}
	rs, ok := stmt.(ast.ResultSetNode)
	if !ok {
		return nil, pgerror.New(pgerror.CodeInternalError, "the body of a view is not a query: %s", query)
	}
	pl := &planner{s: s, ctx: ctx, txn: t, params: &paramTypes{}, aliases: aliases, view: vb}
	return pl.planQuery(rs, pl.topScope())
}

type createViewPlan struct {
	schemaChange
	name *ast.TableName
	// columns is the view's column list, nil if none.
	colNames []string
	// body is the query as normalized SQL, parsed afresh by each execution, which
	// rewrites it.
	body       string
	aliases    map[string][]string
	definition string
	orReplace  bool
}

func (s *Session) planCreateView(n *ast.CreateViewStmt, st pgdialect.Statement) (plan, error) {
	if st.View == nil {
		return nil, pgerror.New(pgerror.CodeSyntaxError, "syntax error in CREATE VIEW")
	}
	if n.CheckOption != ast.CheckOptionCascaded || n.Definer != nil && !n.Definer.CurrentUser {
		return nil, pgerror.Unsupported("CREATE VIEW options")
	}
	p := &createViewPlan{name: n.ViewName, body: parser.RestoreSQL(n.Select), aliases: st.ColumnAliases,
		definition: strings.TrimSpace(st.View.Definition), orReplace: n.OrReplace}
	for _, c := range n.Cols {
		p.colNames = append(p.colNames, c.O)
	}
	return p, nil
}

func (p *createViewPlan) run(ctx context.Context, x *execCtx) (*result, error) {
	s := x.session
	cat := s.srv.cat
	d, sc, err := s.creationSchema(ctx, x.txn, p.name.Schema.O)
	if err != nil {
		return nil, err
	}
	if err := s.checkCreateIn(ctx, x.txn, d, sc); err != nil {
		return nil, err
	}
	stmt, err := parser.ParseOne(p.body, p.definition)
	if err != nil {
		return nil, err
	}
	deps, err := s.qualifyViewBody(ctx, x.txn, stmt)
	if err != nil {
		return nil, err
	}
	pl := &planner{s: s, ctx: ctx, txn: x.txn, params: &paramTypes{}, aliases: p.aliases, view: &viewBody{owner: s.user, creating: true}}
	node, err := pl.planQuery(stmt.(ast.ResultSetNode), pl.topScope())
	if err != nil {
		return nil, err
	}
	cols := node.cols()
	if len(p.colNames) > len(cols) {
		return nil, pgerror.New(pgerror.CodeSyntaxError, "CREATE VIEW specifies more column names than columns")
	}
	v := &catalog.View{DatabaseID: d.ID, SchemaID: sc.ID, Name: p.name.Name.O, Query: parser.RestoreSQL(stmt),
		ColumnAliases: p.aliases, Definition: p.definition, DependsOn: deps}
	seen := map[string]bool{}
	for i, col := range cols {
		vc := catalog.ViewColumn{Name: col.name, Type: col.typ}
		if i < len(p.colNames) {
			vc.Name = p.colNames[i]
		}
		if col.untyped {
			vc.Type = types.String // PostgreSQL makes an unknown-typed column text
		}
		if seen[vc.Name] {
			return nil, pgerror.New(pgerror.CodeDuplicateColumn, "column %q specified more than once", vc.Name)
		}
		seen[vc.Name] = true
		v.Columns = append(v.Columns, vc)
	}
	old, err := cat.LookupView(ctx, x.txn, d.ID, sc.ID, v.Name, 0)
	switch {
	case err == nil && p.orReplace:
		if err := s.replaceView(ctx, x.txn, old, v); err != nil {
			return nil, err
		}
	case err == nil || pgerror.Code(err) == pgerror.CodeWrongObjectType && !p.orReplace:
		return nil, pgerror.New(pgerror.CodeDuplicateTable, "relation %q already exists", v.Name)
	case pgerror.Code(err) == pgerror.CodeWrongObjectType:
		return nil, pgerror.New(pgerror.CodeWrongObjectType, "%q is not a view", v.Name)
	case pgerror.Code(err) != pgerror.CodeUndefinedTable:
		return nil, err
	default:
		v.ACL = &privilege.ACL{Owner: s.user} // the creator owns it
		if err := cat.CreateView(ctx, x.txn, v); err != nil {
			return nil, err
		}
	}
	if err := x.finishRead(ctx); err != nil {
		return nil, err
	}
	return &result{tag: "CREATE VIEW"}, nil
}

// replaceView is CREATE OR REPLACE VIEW of an existing view: as in PostgreSQL, the new
// body may add columns at the end but must keep the existing ones, by name and type.
func (s *Session) replaceView(ctx context.Context, t *txn.Txn, old, v *catalog.View) error {
	ok, err := s.owns(ctx, t, old.Privileges())
	if err != nil {
		return err
	}
	if !ok {
		return pgerror.New(CodeInsufficientPrivilege, "must be owner of view %s", old.Name)
	}
	if len(v.Columns) < len(old.Columns) {
		return pgerror.New(pgerror.CodeInvalidTableDefinition, "cannot drop columns from view")
	}
	for i, oc := range old.Columns {
		nc := v.Columns[i]
		if nc.Name != oc.Name {
			return pgerror.New(pgerror.CodeInvalidTableDefinition, "cannot change name of view column %q to %q", oc.Name, nc.Name).
				WithHint("Use ALTER VIEW ... RENAME COLUMN ... to change name of view column instead.")
		}
		if nc.Type != oc.Type {
			return pgerror.New(pgerror.CodeInvalidTableDefinition, "cannot change data type of view column %q from %s to %s", oc.Name, oc.Type.String(), nc.Type.String())
		}
	}
	// The new body was planned against the old view, so it cannot read itself directly;
	// reading a view that reads this one would make a cycle.
	if cyclic, err := s.viewReaches(ctx, t, v.DependsOn, old.ID); err != nil {
		return err
	} else if cyclic {
		return pgerror.New(pgerror.CodeInvalidObjectDefinition, "infinite recursion detected in rules for relation %q", old.Name)
	}
	old.Query, old.ColumnAliases, old.Definition, old.Columns, old.DependsOn = v.Query, v.ColumnAliases, v.Definition, v.Columns, v.DependsOn
	return s.srv.cat.UpdateView(ctx, t, old, "")
}

// viewReaches reports whether the relations ids, or the views among them transitively,
// read the relation target.
func (s *Session) viewReaches(ctx context.Context, t *txn.Txn, ids []uint32, target uint32) (bool, error) {
	seen := map[uint32]bool{}
	for len(ids) > 0 {
		id := ids[0]
		ids = ids[1:]
		if id == target {
			return true, nil
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		v, err := s.srv.cat.ViewByID(ctx, t, id)
		if err != nil {
			return false, err
		}
		if v != nil {
			ids = append(ids, v.DependsOn...)
		}
	}
	return false, nil
}

// qualifyViewBody schema-qualifies each unqualified relation a view's body reads (not the
// body's own WITH queries), so the stored body does not depend on the search_path, and
// returns the IDs of the tables and views it reads.
func (s *Session) qualifyViewBody(ctx context.Context, t *txn.Txn, stmt ast.Node) ([]uint32, error) {
	refs := &tableRefs{ctes: map[string]bool{}}
	stmt.Accept(refs)
	var deps []uint32
	seen := map[uint32]bool{}
	for _, tn := range refs.names {
		schema := strings.ToLower(tn.Schema.O)
		if schema == pgCatalogSchema || schema == infoSchemaSchema {
			continue
		}
		if schema == "" && refs.ctes[tn.Name.O] {
			continue
		}
		rel, err := s.resolveReadable(ctx, t, tn.Schema.O, tn.Name.O, 0)
		if err != nil {
			if schema == "" && pgerror.Code(err) == pgerror.CodeUndefinedTable && catalogTables[pgCatalogSchema][tn.Name.O] != nil {
				tn.Schema = ast.NewCIStr(pgCatalogSchema)
				continue
			}
			return nil, err
		}
		id, db, sc := uint32(0), uint32(0), uint32(0)
		if rel.view != nil {
			id, db, sc = rel.view.ID, rel.view.DatabaseID, rel.view.ParentSchemaID()
		} else {
			id, db, sc = rel.table.ID, rel.table.DatabaseID, rel.table.ParentSchemaID()
		}
		if schema == "" {
			scd, err := s.srv.cat.SchemaByID(ctx, t, db, sc)
			if err != nil {
				return nil, err
			}
			if scd == nil {
				return nil, fmt.Errorf("schema %d of relation %q is missing", sc, tn.Name.O)
			}
			tn.Schema = ast.NewCIStr(scd.Name)
		}
		if !seen[id] {
			seen[id] = true
			deps = append(deps, id)
		}
	}
	return deps, nil
}

// tableRefs collects the relations a query's FROM items name and the names of its WITH
// queries.
type tableRefs struct {
	names []*ast.TableName
	ctes  map[string]bool
}

func (v *tableRefs) Enter(n ast.Node) (ast.Node, bool) {
	switch x := n.(type) {
	case *ast.TableSource:
		if tn, ok := x.Source.(*ast.TableName); ok {
			v.names = append(v.names, tn)
		}
	case *ast.WithClause:
		for _, c := range x.CTEs {
			v.ctes[c.Name.O] = true
		}
	}
	return n, false
}

func (v *tableRefs) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// dependentViews finds the views of database db that read, directly or through other
// views, the relations of roots (by ID, with how messages name them), leaving out those
// in roots. lines say, for DETAIL, what each depends on; rootOf names, for each, the root
// it depends on.
func (s *Session) dependentViews(ctx context.Context, t *txn.Txn, db uint32, roots map[uint32]string) (views []*catalog.View, lines []string, rootOf []string, err error) {
	objs, err := s.srv.cat.ObjectsOf(ctx, t, db)
	if err != nil {
		return nil, nil, nil, err
	}
	sort.Slice(objs.Views, func(i, j int) bool { return objs.Views[i].ID < objs.Views[j].ID })
	desc := map[uint32]string{}
	root := map[uint32]string{}
	for id, d := range roots {
		desc[id], root[id] = d, d
	}
	for changed := true; changed; {
		changed = false
		for _, v := range objs.Views {
			if _, ok := desc[v.ID]; ok {
				continue
			}
			for _, dep := range v.DependsOn {
				if what, ok := desc[dep]; ok {
					d := "view " + s.displayName(ctx, t, v.DatabaseID, v.ParentSchemaID(), v.Name)
					lines = append(lines, fmt.Sprintf("%s depends on %s", d, what))
					desc[v.ID], root[v.ID] = d, root[dep]
					views = append(views, v)
					rootOf = append(rootOf, root[dep])
					changed = true
					break
				}
			}
		}
	}
	return views, lines, rootOf, nil
}

// displayName names a relation as PostgreSQL's messages do: qualified unless its schema is
// on the search_path.
func (s *Session) displayName(ctx context.Context, t *txn.Txn, db, schema uint32, name string) string {
	if schema == catalog.PublicSchemaID || schema == 0 {
		return s.qualifyUnlessOnPath(catalog.PublicSchema, name)
	}
	sc, err := s.srv.cat.SchemaByID(ctx, t, db, schema)
	if err != nil || sc == nil {
		return name
	}
	return s.qualifyUnlessOnPath(sc.Name, name)
}

func (s *Session) qualifyUnlessOnPath(schema, name string) string {
	for _, p := range s.searchPath() {
		if p == schema {
			return name
		}
	}
	return schema + "." + name
}

// dropDependentViews deals with the views that read relations being dropped (roots): with
// cascade it drops them, returning the notices PostgreSQL gives; without, it fails with
// 2BP01 naming them.
func (s *Session) dropDependentViews(ctx context.Context, t *txn.Txn, db uint32, roots map[uint32]string, cascade bool) ([]notice, error) {
	views, lines, rootOf, err := s.dependentViews(ctx, t, db, roots)
	if err != nil || len(views) == 0 {
		return nil, err
	}
	if !cascade {
		return nil, pgerror.New(pgerror.CodeDependentObjects, "cannot drop %s because other objects depend on it", rootOf[0]).
			WithDetail(strings.Join(lines, "\n")).
			WithHint("Use DROP ... CASCADE to drop the dependent objects too.")
	}
	var notices []notice
	if len(views) == 1 {
		notices = append(notices, notice{Code: pgerror.CodeSuccessfulCompletion, Message: "drop cascades to " + strings.SplitN(lines[0], " depends on ", 2)[0]})
	} else {
		notices = append(notices, notice{Code: pgerror.CodeSuccessfulCompletion, Message: fmt.Sprintf("drop cascades to %d other objects", len(views))})
	}
	for _, v := range views {
		if err := s.srv.cat.DropView(ctx, t, v); err != nil {
			return nil, err
		}
	}
	return notices, nil
}

// refuseIfViewsRead fails with 2BP01 when views read the relation id (or, when column is
// not "", that column of it): the stored bodies name what they read, so they would break
// if it were renamed or dropped. verb and what say what the statement would do ("rename",
// "table t").
func (s *Session) refuseIfViewsRead(ctx context.Context, t *txn.Txn, db, id uint32, verb, what, column string) error {
	objs, err := s.srv.cat.ObjectsOf(ctx, t, db)
	if err != nil {
		return err
	}
	sort.Slice(objs.Views, func(i, j int) bool { return objs.Views[i].ID < objs.Views[j].ID })
	var lines []string
	for _, v := range objs.Views {
		if !v.DependsOnRelation(id) {
			continue
		}
		name := "view " + s.displayName(ctx, t, v.DatabaseID, v.ParentSchemaID(), v.Name)
		if column == "" {
			lines = append(lines, fmt.Sprintf("%s depends on %s", name, what))
			continue
		}
		uses, err := viewNamesColumn(v, column)
		if err != nil {
			return err
		}
		if uses {
			lines = append(lines, fmt.Sprintf("%s depends on column %s of %s", name, column, what))
		}
	}
	if len(lines) == 0 {
		return nil
	}
	target := what
	if column != "" {
		target = fmt.Sprintf("column %s of %s", column, what)
	}
	e := pgerror.New(pgerror.CodeDependentObjects, "cannot %s %s because other objects depend on it", verb, target).
		WithDetail(strings.Join(lines, "\n"))
	if verb == "drop" {
		return e.WithHint("Use DROP ... CASCADE to drop the dependent objects too.")
	}
	return e.WithHint("Views refer to what they read by name: drop the dependent views first, and create them again afterwards.")
}

// viewNamesColumn reports whether a view's body names a column called name (of any of
// the relations it reads: a conservative answer, which may refuse a change that would
// not have broken the view).
func viewNamesColumn(v *catalog.View, name string) (bool, error) {
	stmt, err := parser.ParseOne(v.Query, v.Query)
	if err != nil {
		return false, fmt.Errorf("parsing the body of view %q: %w", v.Name, err)
	}
	f := &columnNameFinder{name: name}
	stmt.Accept(f)
	return f.found, nil
}

type columnNameFinder struct {
	name  string
	found bool
}

func (f *columnNameFinder) Enter(n ast.Node) (ast.Node, bool) {
	switch x := n.(type) {
	case *ast.ColumnName:
		f.found = f.found || x.Name.O == f.name
	case *ast.Join:
		if x.Using != nil {
			for _, c := range x.Using {
				f.found = f.found || c.Name.O == f.name
			}
		}
		f.found = f.found || x.NaturalJoin
	}
	return n, false
}

func (f *columnNameFinder) Leave(n ast.Node) (ast.Node, bool) { return n, true }

type dropViewPlan struct {
	schemaChange
	names    []*ast.TableName
	ifExists bool
	cascade  bool
}

func (p *dropViewPlan) run(ctx context.Context, x *execCtx) (*result, error) {
	s := x.session
	var notices []notice
	var views []*catalog.View
	roots := map[uint32]string{}
	for _, tn := range p.names {
		v, err := s.lookupViewAt(ctx, x.txn, tn.Schema.O, tn.Name.O, 0)
		if err != nil {
			if p.ifExists && pgerror.Code(err) == pgerror.CodeUndefinedTable {
				notices = append(notices, notice{Code: pgerror.CodeUndefinedTable, Message: fmt.Sprintf("view %q does not exist, skipping", tn.Name.O)})
				continue
			}
			if pgerror.Code(err) == pgerror.CodeWrongObjectType {
				return nil, pgerror.Flatten(err).WithHint("Use DROP TABLE to remove a table.")
			}
			return nil, err
		}
		if ok, err := s.owns(ctx, x.txn, v.Privileges()); err != nil {
			return nil, err
		} else if !ok {
			return nil, pgerror.New(CodeInsufficientPrivilege, "must be owner of view %s", v.Name)
		}
		if _, dup := roots[v.ID]; dup {
			continue
		}
		views = append(views, v)
		roots[v.ID] = "view " + s.displayName(ctx, x.txn, v.DatabaseID, v.ParentSchemaID(), v.Name)
	}
	if len(views) > 0 {
		more, err := s.dropDependentViews(ctx, x.txn, views[0].DatabaseID, roots, p.cascade)
		if err != nil {
			return nil, err
		}
		notices = append(notices, more...)
		for _, v := range views {
			if err := s.srv.cat.DropView(ctx, x.txn, v); err != nil {
				return nil, err
			}
		}
	}
	if err := x.finishRead(ctx); err != nil {
		return nil, err
	}
	return &result{tag: "DROP VIEW", notices: notices}, nil
}

// renameView is ALTER VIEW (or ALTER TABLE) v RENAME TO name.
func (s *Session) renameView(ctx context.Context, t *txn.Txn, v *catalog.View, to *ast.TableName) error {
	if ok, err := s.owns(ctx, t, v.Privileges()); err != nil {
		return err
	} else if !ok {
		return pgerror.New(CodeInsufficientPrivilege, "must be owner of view %s", v.Name)
	}
	if to.Schema.O != "" {
		return pgerror.Unsupported("moving a view to another schema")
	}
	if to.Name.O == v.Name {
		return pgerror.New(pgerror.CodeDuplicateTable, "relation %q already exists", v.Name)
	}
	what := "view " + s.displayName(ctx, t, v.DatabaseID, v.ParentSchemaID(), v.Name)
	if err := s.refuseIfViewsRead(ctx, t, v.DatabaseID, v.ID, "rename", what, ""); err != nil {
		return err
	}
	nv := *v
	nv.Name = to.Name.O
	return s.srv.cat.UpdateView(ctx, t, &nv, v.Name)
}

// alterView runs ALTER VIEW, and ALTER TABLE naming a view: only RENAME TO.
func (p *alterTablePlan) alterView(ctx context.Context, x *execCtx, v *catalog.View) (*result, error) {
	if len(p.specs) != 1 || p.specs[0].Tp != ast.AlterTableRenameTable {
		return nil, pgerror.Unsupported("this ALTER VIEW action")
	}
	if err := x.session.renameView(ctx, x.txn, v, p.specs[0].NewTable); err != nil {
		return nil, err
	}
	if err := x.finishRead(ctx); err != nil {
		return nil, err
	}
	tag := "ALTER TABLE"
	if p.isView {
		tag = "ALTER VIEW"
	}
	return &result{tag: tag}, nil
}

// notAView is the error for ALTER VIEW or DROP VIEW naming another kind of relation.
func notAView(name string) error {
	return pgerror.New(pgerror.CodeWrongObjectType, "%q is not a view", name)
}

// viewWriteError turns err, the failure to resolve the table an INSERT, UPDATE or DELETE
// (verb) writes, into 0A000 when the name is a view's: Meridian's views are not
// updatable.
func (s *Session) viewWriteError(ctx context.Context, t *txn.Txn, refs *ast.TableRefsClause, verb string, err error) error {
	if pgerror.Code(err) != pgerror.CodeWrongObjectType {
		return err
	}
	tn, _, serr := singleTable(refs)
	if serr != nil {
		return err
	}
	v, verr := s.lookupViewAt(ctx, t, tn.Schema.O, tn.Name.O, s.cacheVersion())
	if verr != nil {
		return err
	}
	return pgerror.New(pgerror.CodeFeatureNotSupported, "cannot %s view %q", verb, v.Name).
		WithDetail("Meridian's views are not automatically updatable.").
		WithHint("Write to the tables the view reads instead.")
}
