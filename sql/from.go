package sql

import (
	"slices"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/opcode"

	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/privilege"
	"github.com/meridiandb/meridian/sql/types"
)

const opLogicAnd = opcode.LogicAnd

// logical is an item of a FROM clause before WHERE's conditions are pushed into it and its
// joins' algorithms are chosen.
type logical interface {
	scope() []scopeColumn
	// push takes a condition that refers to this item's columns only (and perhaps to
	// enclosing queries'), applying it as low in the tree as it is correct to; it
	// returns false, leaving the condition to the caller, when it cannot apply it.
	push(e ast.ExprNode, qs *queryScope) bool
	build(qs *queryScope) (relNode, error)
}

// planFrom plans a FROM clause into a logical tree.
func (p *planner) planFrom(j *ast.Join, qs *queryScope, lock *lockSpec) (logical, error) {
	l, err := p.planFromItem(j, qs, lock)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	if err := collectNames(l, names); err != nil {
		return nil, err
	}
	if lock != nil {
		for _, tn := range lock.tables {
			if !names[tn.Name.O] {
				return nil, pgerror.New(pgerror.CodeUndefinedTable, "relation %q in %s clause not found in FROM clause", tn.Name.O, lock.name)
			}
		}
	}
	return l, nil
}

// collectNames gathers the names of a FROM clause's tables and derived tables, which must
// differ.
func collectNames(l logical, names map[string]bool) error {
	var name string
	switch x := l.(type) {
	case *logicalScan:
		name = x.name
	case *logicalDerived:
		name = x.name
	case *logicalJoin:
		if err := collectNames(x.left, names); err != nil {
			return err
		}
		return collectNames(x.right, names)
	}
	if names[name] {
		return pgerror.New("42712", "table name %q specified more than once", name)
	}
	names[name] = true
	return nil
}

func (p *planner) planFromItem(n ast.ResultSetNode, qs *queryScope, lock *lockSpec) (logical, error) {
	switch x := n.(type) {
	case *ast.Join:
		if x.Right == nil {
			return p.planFromItem(x.Left, qs, lock)
		}
		return p.planJoin(x, qs, lock)
	case *ast.TableSource:
		return p.planTableSource(x, qs, lock)
	}
	return nil, pgerror.Unsupported("this FROM clause")
}

func (p *planner) planTableSource(ts *ast.TableSource, qs *queryScope, lock *lockSpec) (logical, error) {
	alias := ts.AsName.O
	switch src := ts.Source.(type) {
	case *ast.TableName:
		if src.Schema.O == "" {
			if def := qs.ctes.lookup(src.Name.O); def != nil {
				node, err := p.planCTERef(def, qs)
				if err != nil {
					return nil, err
				}
				if alias == "" {
					alias = src.Name.O
				}
				return &logicalDerived{name: alias, node: renamed(node, alias, p.columnAliases(alias))}, nil
			}
		}
		if vt, err := p.lookupVirtual(src); err != nil {
			return nil, err
		} else if vt != nil {
			if alias == "" {
				alias = vt.name
			}
			scope := make([]scopeColumn, len(vt.columns))
			for i, c := range vt.columns {
				c.table = alias
				scope[i] = c
			}
			if names := p.columnAliases(alias); names != nil {
				if err := applyColumnAliases(scope, names, alias); err != nil {
					return nil, err
				}
			}
			return &logicalDerived{name: alias, node: &vtableNode{vt: vt, scope: scope}}, nil
		}
		rel, err := p.s.resolveReadable(p.ctx, p.txn, src.Schema.O, src.Name.O, p.s.cacheVersion())
		if err != nil {
			return nil, err
		}
		if rel.view != nil {
			return p.planViewRef(rel.view, alias, lock)
		}
		tbl := rel.table
		name := tbl.Name
		if alias != "" {
			name = alias
		}
		var tl *lockSpec
		if lock != nil && lock.covers(name) {
			tl = lock
		}
		want := privilege.Select
		if tl != nil {
			want |= privilege.Update // as PostgreSQL: locking rows asks for the right to change them
		}
		if err := p.checkRead(tbl.Privileges(), want, "table", tbl.Name); err != nil {
			return nil, err
		}
		scope := tableScope(tbl, name)
		if names := p.columnAliases(name); names != nil {
			if err := applyColumnAliases(scope, names, name); err != nil {
				return nil, err
			}
		}
		return &logicalScan{tbl: tbl, name: name, cols: scope, lock: tl}, nil
	case *ast.SelectStmt, *ast.SetOprStmt:
		if f, ordinality, ok := tableFunctionCall(src); ok && alias != "" {
			node, err := p.planTableFunc(f, ordinality, alias, qs)
			if err != nil {
				return nil, err
			}
			return &logicalDerived{name: alias, node: node}, nil
		}
		if alias == "" {
			return nil, pgerror.New(pgerror.CodeSyntaxError, "subquery in FROM must have an alias").
				WithHint("For example, FROM (SELECT ...) [AS] foo.")
		}
		node, err := p.planQuery(src, qs.derived(qs.ctes))
		if err != nil {
			return nil, err
		}
		return &logicalDerived{name: alias, node: renamed(node, alias, p.columnAliases(alias))}, nil
	}
	return nil, pgerror.Unsupported("this FROM item")
}

// covers reports whether a locking clause applies to the table named name.
func (l *lockSpec) covers(name string) bool {
	if len(l.tables) == 0 {
		return true
	}
	for _, tn := range l.tables {
		if tn.Name.O == name {
			return true
		}
	}
	return false
}

// columnAliases are the column names an alias list gives the relation named alias, nil if
// none.
func (p *planner) columnAliases(alias string) []string {
	return p.aliases[strings.ToLower(alias)]
}

// applyColumnAliases renames the first visible columns of scope.
func applyColumnAliases(scope []scopeColumn, names []string, rel string) error {
	vis := visibleColumns(scope)
	if len(names) > len(vis) {
		return pgerror.New(pgerror.CodeInvalidColumnReference, "table %q has %d columns available but %d columns specified", rel, len(vis), len(names))
	}
	for i, name := range names {
		scope[vis[i]].name = name
	}
	return nil
}

// renamed qualifies a derived table's columns with its alias (and renames them by an alias
// list, if any).
func renamed(node relNode, alias string, names []string) relNode {
	in := node.cols()
	scope := make([]scopeColumn, len(in))
	exprs := make([]*scalar, len(in))
	for i, col := range in {
		col.table = alias
		col.qualifiedOnly = false
		scope[i] = col
		exprs[i] = &scalar{typ: col.typ, colOrd: i, eval: columnReader(i)}
	}
	if names != nil {
		_ = applyColumnAliases(scope, names, alias)
	}
	return &projectNode{input: node, exprs: exprs, scope: scope, passthrough: true}
}

// logicalScan is a table with the conditions pushed down to it.
type logicalScan struct {
	tbl   *catalog.Table
	name  string
	cols  []scopeColumn
	conds []ast.ExprNode
	lock  *lockSpec
}

func (s *logicalScan) scope() []scopeColumn { return s.cols }

func (s *logicalScan) push(e ast.ExprNode, qs *queryScope) bool {
	if !pushable(e) {
		return false
	}
	if _, ok := sidesOf(e, s.cols, nil); !ok {
		return false
	}
	s.conds = append(s.conds, e)
	return true
}

func (s *logicalScan) build(qs *queryScope) (relNode, error) {
	c := qs.compiler(s.cols)
	stats := qs.p.s.tableStats(qs.p.ctx, s.tbl)
	src, err := newSource(c, s.tbl, s.conds, stats)
	if err != nil {
		return nil, err
	}
	if s.lock != nil {
		src.scan.locking = s.lock.strength
	}
	n := newScanNode(src, s.cols)
	n.stats = stats
	n.est = scanEstimate(s.tbl, n.stats, s.conds)
	return n, nil
}

// newSource compiles a table's pushed-down conditions into its filter and the key spans
// they pin down.
func newSource(c *compiler, tbl *catalog.Table, conds []ast.ExprNode, st *tableStats) (*source, error) {
	src := &source{table: tbl, comp: c, scan: &tableScan{table: tbl}}
	if len(conds) == 0 {
		return src, nil
	}
	where := andAll(conds)
	f, err := compileWhere(c, where)
	if err != nil {
		return nil, err
	}
	src.filter = f
	if src.scan.kc, err = c.constrainKey(tbl, where); err != nil {
		return nil, err
	}
	if err := c.planIndexScan(src.scan, where, st); err != nil {
		return nil, err
	}
	if kc := src.scan.kc; src.scan.index == nil && kc != nil && len(kc.exact) > 0 {
		// Rows the spans return satisfy the conjuncts the spans express: only the rest
		// are filtered. Without a filter a LIMIT bounds the read itself, so a locking
		// read under LIMIT locks only the rows it returns.
		all := conjuncts(where)
		rest := slices.DeleteFunc(slices.Clone(all), func(e ast.ExprNode) bool { return slices.Contains(kc.exact, e) })
		if len(rest) == 0 {
			src.filter = nil
		} else if len(rest) < len(all) {
			if src.filter, err = compileWhere(c, andAll(rest)); err != nil {
				return nil, err
			}
		}
	}
	return src, nil
}

// logicalDerived is an already planned relation (a subquery in FROM, a CTE) with the
// conditions pushed down to it, which filter its rows.
type logicalDerived struct {
	name  string
	node  relNode
	conds []ast.ExprNode
}

func (d *logicalDerived) scope() []scopeColumn { return d.node.cols() }

func (d *logicalDerived) push(e ast.ExprNode, qs *queryScope) bool {
	if !pushable(e) {
		return false
	}
	if _, ok := sidesOf(e, d.node.cols(), nil); !ok {
		return false
	}
	d.conds = append(d.conds, e)
	return true
}

func (d *logicalDerived) build(qs *queryScope) (relNode, error) {
	if len(d.conds) == 0 {
		return d.node, nil
	}
	pred, err := compileWhere(qs.compiler(d.node.cols()), andAll(d.conds))
	if err != nil {
		return nil, err
	}
	return &filterNode{input: d.node, pred: pred}, nil
}

// logicalJoin is a join with the conditions (from ON and WHERE) that refer to both sides.
type logicalJoin struct {
	kind        joinKind
	left, right logical
	conds       []ast.ExprNode
	// using are the merged columns of USING or NATURAL: ordinals in each side's scope.
	using [][2]int
	cols  []scopeColumn
}

func (p *planner) planJoin(j *ast.Join, qs *queryScope, lock *lockSpec) (logical, error) {
	if j.StraightJoin {
		return nil, pgerror.Unsupported("STRAIGHT_JOIN")
	}
	left, err := p.planFromItem(j.Left, qs, lock)
	if err != nil {
		return nil, err
	}
	right, err := p.planFromItem(j.Right, qs, lock)
	if err != nil {
		return nil, err
	}
	lj := &logicalJoin{left: left, right: right}
	var on ast.ExprNode
	if j.On != nil {
		on = j.On.Expr
	}
	switch j.Tp {
	case ast.LeftJoin:
		lj.kind = leftJoin
	case ast.RightJoin:
		lj.kind = rightJoin
	}
	if f, ok := on.(*ast.FuncCallExpr); ok && f.FnName.L == "meridian_full_join" && len(f.Args) == 1 {
		lj.kind, on = fullJoin, f.Args[0]
	}
	if lock != nil && lj.kind != innerJoin {
		return nil, pgerror.New(pgerror.CodeFeatureNotSupported, "%s cannot be applied to the nullable side of an outer join", lock.name)
	}
	ls, rs := left.scope(), right.scope()
	var usingNames []string
	switch {
	case j.NaturalJoin:
		for _, lc := range ls {
			if lc.hidden {
				continue
			}
			for _, rc := range rs {
				if !rc.hidden && rc.name == lc.name {
					usingNames = append(usingNames, lc.name)
				}
			}
		}
	case len(j.Using) > 0:
		for _, cn := range j.Using {
			usingNames = append(usingNames, cn.Name.O)
		}
	}
	if f, ok := on.(*ast.FuncCallExpr); ok && f.FnName.L == "meridian_full_join_using" {
		lj.kind, on = fullJoin, nil
		for _, a := range f.Args {
			cn, ok := a.(*ast.ColumnNameExpr)
			if !ok {
				return nil, pgerror.New(pgerror.CodeSyntaxError, "syntax error in USING")
			}
			usingNames = append(usingNames, cn.Name.Name.O)
		}
	}
	for _, name := range usingNames {
		li, err := usingColumn(ls, name, "left")
		if err != nil {
			return nil, err
		}
		ri, err := usingColumn(rs, name, "right")
		if err != nil {
			return nil, err
		}
		lj.using = append(lj.using, [2]int{li, ri})
		eq := &ast.BinaryOperationExpr{Op: opcode.EQ,
			L: &ast.ColumnNameExpr{Name: &ast.ColumnName{Table: ast.NewCIStr(ls[li].table), Name: ast.NewCIStr(name)}},
			R: &ast.ColumnNameExpr{Name: &ast.ColumnName{Table: ast.NewCIStr(rs[ri].table), Name: ast.NewCIStr(name)}}}
		lj.conds = append(lj.conds, eq)
	}
	lj.cols = lj.joinedScope()
	if on != nil {
		for _, conj := range conjuncts(on) {
			lj.placeOn(conj, qs)
		}
	}
	return lj, nil
}

// usingColumn finds a USING column in one side.
func usingColumn(scope []scopeColumn, name, side string) (int, error) {
	found := -1
	for i, c := range scope {
		if c.name == name && !c.hidden {
			if found >= 0 {
				return 0, pgerror.New(pgerror.CodeAmbiguousColumn, "common column name %q appears more than once in %s table", name, side)
			}
			found = i
		}
	}
	if found < 0 {
		return 0, pgerror.New(pgerror.CodeUndefinedColumn, "column %q specified in USING clause does not exist in %s table", name, side)
	}
	return found, nil
}

// joinedScope is the join's columns: with USING, the merged columns first, then both sides
// (whose USING columns answer only qualified references); else both sides.
func (j *logicalJoin) joinedScope() []scopeColumn {
	ls, rs := j.left.scope(), j.right.scope()
	var out []scopeColumn
	for _, u := range j.using {
		c := ls[u[0]]
		if j.kind == rightJoin {
			c = rs[u[1]]
		}
		c.table, c.hidden, c.qualifiedOnly = "", false, false
		if j.kind == fullJoin {
			c.tableID, c.attrNum = 0, 0
		}
		out = append(out, c)
	}
	base := len(out)
	out = append(out, ls...)
	out = append(out, rs...)
	for _, u := range j.using {
		for _, i := range []int{base + u[0], base + len(ls) + u[1]} {
			out[i].hidden, out[i].qualifiedOnly = true, true
		}
	}
	return out
}

// placeOn places a conjunct of the ON clause: on the side it alone refers to when that is
// correct for the join kind (a condition on the inner side of an outer join filters that
// side), else in the join.
func (j *logicalJoin) placeOn(e ast.ExprNode, qs *queryScope) {
	if pushable(e) {
		sides, ok := sidesOf(e, j.left.scope(), j.right.scope())
		if ok {
			switch {
			case sides == sideLeft && (j.kind == innerJoin || j.kind == rightJoin):
				if j.left.push(e, qs) {
					return
				}
			case sides == sideRight && (j.kind == innerJoin || j.kind == leftJoin):
				if j.right.push(e, qs) {
					return
				}
			}
		}
	}
	j.conds = append(j.conds, e)
}

func (j *logicalJoin) scope() []scopeColumn { return j.cols }

func (j *logicalJoin) push(e ast.ExprNode, qs *queryScope) bool {
	if !pushable(e) {
		return false
	}
	if len(j.using) > 0 {
		// References to merged columns resolve above the join.
		if _, ok := sidesOf(e, j.cols[len(j.using):], nil); !ok || refersToMerged(e, j.cols[:len(j.using)]) {
			return false
		}
	}
	sides, ok := sidesOf(e, j.left.scope(), j.right.scope())
	if !ok {
		return false
	}
	switch {
	case sides == sideLeft && (j.kind == innerJoin || j.kind == leftJoin):
		return j.left.push(e, qs)
	case sides == sideRight && (j.kind == innerJoin || j.kind == rightJoin):
		return j.right.push(e, qs)
	case j.kind == innerJoin:
		j.conds = append(j.conds, e)
		return true
	}
	return false
}

func refersToMerged(e ast.ExprNode, merged []scopeColumn) bool {
	v := &columnRefs{}
	e.Accept(v)
	for _, r := range v.refs {
		if r.Table.O != "" {
			continue
		}
		for _, m := range merged {
			if m.name == r.Name.O {
				return true
			}
		}
	}
	return false
}

func (j *logicalJoin) build(qs *queryScope) (relNode, error) {
	l, err := j.left.build(qs)
	if err != nil {
		return nil, err
	}
	r, err := j.right.build(qs)
	if err != nil {
		return nil, err
	}
	ls, rs := l.cols(), r.cols()
	node, err := planJoinAlgorithm(j.kind, l, r, j.conds, qs, true)
	if err != nil {
		return nil, err
	}
	if len(j.using) == 0 {
		return node, nil
	}
	// Put the merged USING columns first: the left side's value, the right side's for a
	// right join, the first non-NULL of the two for a full join.
	exprs := make([]*scalar, 0, len(j.cols))
	for _, u := range j.using {
		li, ri := u[0], len(ls)+u[1]
		switch j.kind {
		case rightJoin:
			exprs = append(exprs, &scalar{typ: rs[u[1]].typ, colOrd: -1, eval: columnReader(ri)})
		case fullJoin:
			exprs = append(exprs, &scalar{typ: ls[u[0]].typ, colOrd: -1, eval: func(_ *evalCtx, row []types.Datum) (types.Datum, error) {
				if row[li] != nil {
					return row[li], nil
				}
				return row[ri], nil
			}})
		default:
			exprs = append(exprs, &scalar{typ: ls[u[0]].typ, colOrd: -1, eval: columnReader(li)})
		}
	}
	for i := range len(ls) + len(rs) {
		exprs = append(exprs, &scalar{typ: node.cols()[i].typ, colOrd: -1, eval: columnReader(i)})
	}
	return &projectNode{input: node, exprs: exprs, scope: j.cols, passthrough: true}, nil
}

// planJoinAlgorithm compiles a join's conditions and picks its algorithm by the estimated
// sizes of its inputs: a lookup join when the left input is small beside the right table,
// a merge join when both inputs are scans ordered on the keys, else a hash join that builds
// on the smaller input (swapping an inner join's sides, then restoring the column order),
// and a nested-loop join when no condition is an equality.
func planJoinAlgorithm(kind joinKind, l, r relNode, conds []ast.ExprNode, qs *queryScope, maySwap bool) (relNode, error) {
	ls, rs := l.cols(), r.cols()
	spec := joinSpec{kind: kind, left: l, right: r}
	spec.scope = append(append([]scopeColumn(nil), ls...), rs...)
	lc, rc := qs.compiler(ls), qs.compiler(rs)
	var rest []ast.ExprNode
	var pairs [][2]string
	for _, cond := range conds {
		lk, rk, text, ok := equiKey(cond, ls, rs, lc, rc)
		if !ok {
			rest = append(rest, cond)
			continue
		}
		spec.leftKeys = append(spec.leftKeys, lk)
		spec.rightKeys = append(spec.rightKeys, rk)
		pairs = append(pairs, text)
	}
	spec.onText = equalityText(pairs)
	if len(rest) > 0 {
		pred, err := compileWhere(qs.compiler(spec.scope), andAll(rest))
		if err != nil {
			return nil, err
		}
		spec.residual = pred
	}
	if len(spec.leftKeys) == 0 {
		return &nestedLoopJoinNode{spec}, nil
	}
	if lj := lookupable(&spec); lj != nil {
		return lj, nil
	}
	if mergeable(&spec) {
		return &mergeJoinNode{spec}, nil
	}
	if maySwap && kind == innerJoin && estimateRows(r) > 2*estimateRows(l) {
		// Build the hash table on the smaller side, then put the columns back in order.
		swapped, err := planJoinAlgorithm(kind, r, l, conds, qs, false)
		if err != nil {
			return nil, err
		}
		if _, isHash := swapped.(*hashJoinNode); isHash {
			return reorderColumns(swapped, len(rs), len(ls)), nil
		}
	}
	return &hashJoinNode{spec}, nil
}

// reorderColumns turns the columns of a join of (b, a) back into (a, b), where b has nb
// columns and a has na.
func reorderColumns(n relNode, nb, na int) relNode {
	in := n.cols()
	exprs := make([]*scalar, 0, nb+na)
	scope := make([]scopeColumn, 0, nb+na)
	for _, i := range append(seq(nb, nb+na), seq(0, nb)...) {
		exprs = append(exprs, &scalar{typ: in[i].typ, colOrd: -1, eval: columnReader(i)})
		scope = append(scope, in[i])
	}
	return &projectNode{input: n, exprs: exprs, scope: scope, passthrough: true}
}

func seq(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// equiKey recognizes a join equality between a column expression of each side, compiling
// each half against its side, cast to a common type.
func equiKey(e ast.ExprNode, ls, rs []scopeColumn, lc, rc *compiler) (lk, rk *scalar, text [2]string, ok bool) {
	for {
		p, isParen := e.(*ast.ParenthesesExpr)
		if !isParen {
			break
		}
		e = p.Expr
	}
	b, isBin := e.(*ast.BinaryOperationExpr)
	if !isBin || b.Op != opcode.EQ || !pushable(b) {
		return nil, nil, text, false
	}
	l, r := b.L, b.R
	sl, okl := sidesOf(l, ls, rs)
	sr, okr := sidesOf(r, ls, rs)
	if !okl || !okr {
		return nil, nil, text, false
	}
	if sl == sideRight && sr == sideLeft {
		l, r = r, l
	} else if !(sl == sideLeft && sr == sideRight) {
		return nil, nil, text, false
	}
	lk, err := lc.compile(l)
	if err != nil {
		return nil, nil, text, false
	}
	rk, err = rc.compile(r)
	if err != nil {
		return nil, nil, text, false
	}
	if lk.untyped || rk.untyped {
		return nil, nil, text, false
	}
	t, err := comparisonType(lk.typ, rk.typ, "join")
	if err != nil {
		return nil, nil, text, false
	}
	if lk.typ.Family != t.Family {
		lk = castScalar(lk, t)
	}
	if rk.typ.Family != t.Family {
		rk = castScalar(rk, t)
	}
	return lk, rk, [2]string{exprText(l), exprText(r)}, true
}

// mergeable reports whether both inputs are primary-key scans read forwards (not through a
// secondary index) in the order of the join keys, and puts the keys in that order.
func mergeable(j *joinSpec) bool {
	if j.kind != innerJoin && j.kind != leftJoin {
		return false
	}
	ls, lok := j.left.(*scanNode)
	rs, rok := j.right.(*scanNode)
	if !lok || !rok || ls.src.scan.reverse || rs.src.scan.reverse || ls.src.scan.index != nil || rs.src.scan.index != nil {
		return false
	}
	lpk, rpk := ls.src.table.PrimaryKeyOrdinals(), rs.src.table.PrimaryKeyOrdinals()
	n := len(j.leftKeys)
	if n > len(lpk) || n > len(rpk) {
		return false
	}
	lk, rk := make([]*scalar, n), make([]*scalar, n)
	used := make([]bool, n)
	for i := 0; i < n; i++ {
		if ls.src.table.PrimaryKeyDesc[i] || rs.src.table.PrimaryKeyDesc[i] {
			return false
		}
		found := false
		for k := range j.leftKeys {
			if !used[k] && j.leftKeys[k].colOrd == lpk[i] && j.rightKeys[k].colOrd == rpk[i] &&
				j.leftKeys[k].typ.Family == j.rightKeys[k].typ.Family {
				lk[i], rk[i], used[k], found = j.leftKeys[k], j.rightKeys[k], true, true
				break
			}
		}
		if !found {
			return false
		}
	}
	j.leftKeys, j.rightKeys = lk, rk
	return true
}

// lookupable returns a lookup join when the right input is a table whose whole primary key
// the join keys give, and the left input is estimated so small beside the table that
// looking its rows up (a random read each, batched) beats reading the table.
func lookupable(j *joinSpec) *lookupJoinNode {
	if j.kind != innerJoin && j.kind != leftJoin {
		return nil
	}
	rs, ok := j.right.(*scanNode)
	if !ok || estimateRows(j.left)*lookupCostFactor > tableRows(rs) {
		return nil
	}
	tbl := rs.src.table
	pk := tbl.PrimaryKeyOrdinals()
	if len(j.rightKeys) != len(pk) {
		return nil
	}
	lk := make([]*scalar, len(pk))
	for i, ord := range pk {
		for k, r := range j.rightKeys {
			if r.colOrd == ord && r.typ.Family == tbl.Columns[ord].Type.Family {
				lk[i] = j.leftKeys[k]
			}
		}
		if lk[i] == nil {
			return nil
		}
		if lk[i].typ.Family != tbl.Columns[ord].Type.Family {
			return nil
		}
	}
	spec := *j
	spec.leftKeys = lk
	return &lookupJoinNode{joinSpec: spec, table: tbl, target: rs}
}

// pushable reports whether a condition may move: it has no subquery (which may read
// columns anywhere), aggregate or window function.
func pushable(e ast.ExprNode) bool {
	v := &unpushableFinder{}
	e.Accept(v)
	return !v.found
}

type unpushableFinder struct{ found bool }

func (v *unpushableFinder) Enter(n ast.Node) (ast.Node, bool) {
	switch n.(type) {
	case *ast.SubqueryExpr, *ast.ExistsSubqueryExpr, *ast.AggregateFuncExpr, *ast.WindowFuncExpr, *ast.ValuesExpr, *ast.DefaultExpr, *ast.CompareSubqueryExpr:
		v.found = true
		return n, true
	}
	return n, v.found
}

func (v *unpushableFinder) Leave(n ast.Node) (ast.Node, bool) { return n, true }

type side int

const (
	sideNone  side = 0
	sideLeft  side = 1
	sideRight side = 2
	sideBoth  side = 3
)

// sidesOf reports which of two scopes an expression's column references resolve in. A
// reference that resolves in neither belongs to an enclosing query (or is an error the
// compiler reports later). ok is false when a reference is ambiguous between them.
func sidesOf(e ast.ExprNode, left, right []scopeColumn) (side, bool) {
	v := &columnRefs{}
	e.Accept(v)
	var s side
	for _, r := range v.refs {
		inL, inR := resolves(r, left), resolves(r, right)
		switch {
		case inL && inR:
			return 0, false
		case inL:
			s |= sideLeft
		case inR:
			s |= sideRight
		}
	}
	return s, true
}

// resolves reports whether a column reference names a column of scope.
func resolves(r *ast.ColumnName, scope []scopeColumn) bool {
	for _, c := range scope {
		if c.name != r.Name.O {
			continue
		}
		if r.Table.O == "" && !c.qualifiedOnly || r.Table.O != "" && c.table == r.Table.O {
			return true
		}
	}
	return false
}

type columnRefs struct{ refs []*ast.ColumnName }

func (v *columnRefs) Enter(n ast.Node) (ast.Node, bool) {
	if c, ok := n.(*ast.ColumnNameExpr); ok {
		v.refs = append(v.refs, c.Name)
	}
	return n, false
}

func (v *columnRefs) Leave(n ast.Node) (ast.Node, bool) { return n, true }
