package sql

import (
	"context"
	"math"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// planner plans the queries of one statement.
type planner struct {
	s      *Session
	ctx    context.Context
	txn    *txn.Txn
	params *paramTypes
	// lock is the statement's locking clause, applied to the scans of the query it is on.
	lock *lockSpec
	// aliases are the column alias lists of the statement's FROM items, by alias.
	aliases map[string][]string
	// view is set while planning a view's body (view.go).
	view *viewBody
}

// queryScope is what one query level's expressions see beyond their own rows: the
// enclosing query (whose columns correlated subqueries read), the WITH clauses in force.
type queryScope struct {
	p     *planner
	outer *compiler // the enclosing query's expression compiler; nil at the top
	depth int
	ctes  *cteScope
	// windowDefs are the named windows of the SELECT being planned (WINDOW w AS (…)).
	windowDefs map[string]*ast.WindowSpec
	// correlated is set when the query (or a derived table within it) reads a column of
	// an enclosing query. Shared by the derived tables of the level.
	correlated *bool
}

func (p *planner) topScope() *queryScope {
	return &queryScope{p: p, correlated: new(bool)}
}

// derived is the scope of a derived table or CTE body planned within qs: a separate query
// that sees the same enclosing queries.
func (qs *queryScope) derived(ctes *cteScope) *queryScope {
	return &queryScope{p: qs.p, outer: qs.outer, depth: qs.depth, ctes: ctes, correlated: qs.correlated}
}

func (qs *queryScope) compiler(scope []scopeColumn) *compiler {
	return &compiler{scope: scope, params: qs.p.params, session: qs.p.s, excludedOffset: -1, q: qs}
}

// planQuery plans a query expression: a SELECT, a set operation, a parenthesized query.
func (p *planner) planQuery(n ast.ResultSetNode, qs *queryScope) (relNode, error) {
	switch q := n.(type) {
	case *ast.SelectStmt:
		return p.planSelectStmt(q, qs)
	case *ast.SetOprStmt:
		return p.planSetOp(q, qs)
	case *ast.SubqueryExpr:
		return p.planQuery(q.Query, qs)
	}
	return nil, pgerror.Unsupported("this query form")
}

// planSelectStmt plans one SELECT: FROM and WHERE (with conditions pushed down to the
// scans and joins), then grouping, window functions, the output expressions, DISTINCT,
// ORDER BY and LIMIT.
func (p *planner) planSelectStmt(n *ast.SelectStmt, qs *queryScope) (relNode, error) {
	switch {
	case n.Kind == ast.SelectStmtKindValues:
		return nil, pgerror.Unsupported("VALUES lists here")
	case n.SelectIntoOpt != nil:
		return nil, pgerror.Unsupported("SELECT INTO")
	}
	if n.With != nil {
		ctes, err := p.withClause(n.With, qs)
		if err != nil {
			return nil, err
		}
		qs = &queryScope{p: p, outer: qs.outer, depth: qs.depth, ctes: ctes, correlated: qs.correlated}
	}
	lock := p.lock
	p.lock = nil // a locking clause applies to its own query, not to subqueries
	if n.LockInfo != nil && n.LockInfo.LockType != ast.SelectLockNone {
		l, err := lockStrengthOf(n.LockInfo)
		if err != nil {
			return nil, err
		}
		lock = &l
		if err := checkLockable(n, &l); err != nil {
			return nil, err
		}
	}

	// FROM and WHERE.
	var from logical
	if n.Kind == ast.SelectStmtKindTable {
		from = nil // TABLE t: handled below as SELECT * FROM t
	}
	if n.From != nil && n.From.TableRefs != nil {
		var err error
		if from, err = p.planFrom(n.From.TableRefs, qs, lock); err != nil {
			return nil, err
		}
	} else if lock != nil && len(lock.tables) > 0 {
		return nil, pgerror.New(pgerror.CodeUndefinedTable, "relation %q in %s clause not found in FROM clause", lock.tables[0].Name.O, lock.name)
	}
	var input relNode
	if from != nil {
		var rest []ast.ExprNode
		if n.Where != nil {
			for _, conj := range conjuncts(n.Where) {
				if !from.push(conj, qs) {
					rest = append(rest, conj)
				}
			}
		}
		var err error
		if input, err = from.build(qs); err != nil {
			return nil, err
		}
		if len(rest) > 0 {
			c := qs.compiler(input.cols())
			pred, err := compileWhere(c, andAll(rest))
			if err != nil {
				return nil, err
			}
			input = &filterNode{input: input, pred: pred}
		}
	} else {
		input = &valuesNode{rows: [][]*scalar{{}}}
		if n.Where != nil {
			c := qs.compiler(nil)
			pred, err := compileWhere(c, n.Where)
			if err != nil {
				return nil, err
			}
			input = &filterNode{input: input, pred: pred}
		}
	}
	return p.finishSelect(n, input, qs)
}

// compileWhere compiles a WHERE (or ON) condition, which must be boolean.
func compileWhere(c *compiler, e ast.ExprNode) (*scalar, error) {
	f, err := c.compileWant(e, types.Bool)
	if err != nil {
		return nil, err
	}
	if f.typ.Family != types.BoolFamily {
		return nil, pgerror.New(pgerror.CodeDatatypeMismatch, "argument of WHERE must be type boolean, not type %s", f.typ.String())
	}
	return f, nil
}

// finishSelect plans what follows FROM and WHERE.
func (p *planner) finishSelect(n *ast.SelectStmt, input relNode, qs *queryScope) (relNode, error) {
	inScope := input.cols()
	qs.windowDefs = nil
	for i := range n.WindowSpecs {
		if qs.windowDefs == nil {
			qs.windowDefs = map[string]*ast.WindowSpec{}
		}
		qs.windowDefs[n.WindowSpecs[i].Name.O] = &n.WindowSpecs[i]
	}
	c := qs.compiler(inScope)
	fields, distinctOn, err := expandFields(n.Fields, inScope, input)
	if err != nil {
		return nil, err
	}
	p.view.expandStars(n, inScope)

	// Compile the outputs allowing aggregates, to learn whether the query aggregates.
	var aggs []*aggregate
	aggBase := 0
	var wins []*windowFunc
	winBase := 0
	var setFuncs []*setFunc
	setFuncBase := 0
	ac := *c
	ac.aggs, ac.aggBase = &aggs, &aggBase
	ac.windows, ac.winBase = &wins, &winBase
	ac.setFuncs, ac.setFuncBase = &setFuncs, &setFuncBase
	outputs, err := compileFields(&ac, fields)
	if err != nil {
		return nil, err
	}
	aggregated := len(aggs) > 0 || n.GroupBy != nil || n.Having != nil
	var groupBy []*scalar
	var having *scalar
	if aggregated {
		for _, item := range groupItems(n.GroupBy) {
			if pos, ok := item.(*ast.PositionExpr); ok && (pos.P != nil || pos.N < 1 || pos.N > len(fields)) {
				return nil, pgerror.New(pgerror.CodeInvalidColumnReference, "GROUP BY position %d is not in select list", pos.N)
			}
			g, err := c.compile(resolveGroupItem(item, fields, inScope))
			if err != nil {
				return nil, err
			}
			if err := checkComparable(g.typ, "equality"); err != nil {
				return nil, err
			}
			groupBy = append(groupBy, g)
		}
		for _, f := range fields {
			if err := checkGrouped(f.expr, n.GroupBy, fields, inScope); err != nil {
				return nil, err
			}
		}
		if n.Having != nil {
			hc := ac
			hc.windows, hc.setFuncs = nil, nil
			if having, err = hc.compileWant(n.Having.Expr, types.Bool); err != nil {
				return nil, err
			}
		}
	} else {
		wins, setFuncs = nil, nil
		c.windows, c.winBase = &wins, &winBase
		c.setFuncs, c.setFuncBase = &setFuncs, &setFuncBase
		if outputs, err = compileFields(c, fields); err != nil {
			return nil, err
		}
	}
	oc := c // compiles ORDER BY and DISTINCT ON
	if aggregated {
		oc = &ac
	}

	// Output columns, then sort keys that are not outputs, as hidden extra columns.
	exprs := append([]*scalar(nil), outputs...)
	var outScope []scopeColumn
	for i, f := range fields {
		col := scopeColumn{name: f.name, typ: outputs[i].typ, untyped: outputs[i].untyped}
		if outputs[i].untyped {
			col.typ = types.String
		}
		if o := outputs[i].colOrd; o >= 0 && !aggregated && o < len(inScope) {
			col.tableID, col.attrNum = inScope[o].tableID, inScope[o].attrNum
			col.table = inScope[o].table
		} else if o >= 0 && aggregated && o < len(inScope) {
			col.tableID, col.attrNum = inScope[o].tableID, inScope[o].attrNum
		}
		outScope = append(outScope, col)
	}
	extra := func(s *scalar) int {
		exprs = append(exprs, s)
		outScope = append(outScope, scopeColumn{name: "?key?", typ: s.typ, hidden: true})
		return len(exprs) - 1
	}
	var keys []sortKey
	var orderText []string
	if n.OrderBy != nil {
		for _, item := range n.OrderBy.Items {
			col := -1
			expr, nullsFirst := orderItem(item)
			item := &ast.ByItem{Expr: expr, Desc: item.Desc}
			if pos, ok := item.Expr.(*ast.PositionExpr); ok {
				if pos.P != nil || pos.N < 1 || pos.N > len(fields) {
					return nil, pgerror.New(pgerror.CodeInvalidColumnReference, "ORDER BY position %d is not in select list", pos.N)
				}
				col = pos.N - 1
			} else if cn, ok := item.Expr.(*ast.ColumnNameExpr); ok && cn.Name.Table.O == "" && outputIndex(fields, cn.Name.Name.O) >= 0 {
				col = outputIndex(fields, cn.Name.Name.O)
			} else {
				e, err := oc.compile(item.Expr)
				if err != nil {
					return nil, err
				}
				if e.untyped {
					e, _ = coerce(e, types.String)
				}
				if n.Distinct {
					if col = sameOutput(fields, outputs, item.Expr, e); col < 0 {
						return nil, pgerror.New(pgerror.CodeInvalidColumnReference, "for SELECT DISTINCT, ORDER BY expressions must appear in select list")
					}
				} else {
					col = extra(e)
				}
			}
			if err := checkComparable(outScope[col].typ, "ordering"); err != nil {
				return nil, err
			}
			keys = append(keys, sortKey{col: col, desc: item.Desc, nullsFirst: nullsFirst})
			orderText = append(orderText, orderItemText(item))
		}
	}
	var onCols []int
	if distinctOn != nil {
		for i, e := range distinctOn {
			s, err := oc.compile(e)
			if err != nil {
				return nil, err
			}
			col := sameOutput(fields, outputs, e, s)
			if col < 0 {
				col = extra(s)
			}
			onCols = append(onCols, col)
			if i < len(keys) && keys[i].col != col && !sameExpr(exprs[keys[i].col], s) {
				return nil, pgerror.New(pgerror.CodeInvalidColumnReference, "SELECT DISTINCT ON expressions must match initial ORDER BY expressions")
			}
		}
		if len(keys) < len(onCols) {
			for _, col := range onCols[len(keys):] {
				keys = append(keys, sortKey{col: col})
			}
		}
	}
	aggBase = len(aggs)

	// Assemble: group, having, windows, render, distinct, sort, limit.
	node := input
	if aggregated {
		scope := make([]scopeColumn, 0, len(aggs)+len(inScope))
		for _, a := range aggs {
			scope = append(scope, scopeColumn{name: a.name, typ: a.typ, hidden: true})
		}
		for _, col := range inScope {
			col.hidden = true
			scope = append(scope, col)
		}
		node = &aggNode{input: node, groupBy: groupBy, aggs: aggs, scope: scope, label: groupLabel(n.GroupBy)}
		if having != nil {
			node = &filterNode{input: node, pred: having}
		}
	}
	if len(wins) > 0 {
		winBase = len(node.cols())
		node = newWindowNode(node, wins)
	}
	if len(setFuncs) > 0 {
		setFuncBase = len(node.cols())
		node = newProjectSetNode(node, setFuncs)
	}
	render := &projectNode{input: node, exprs: exprs, scope: outScope, passthrough: true}
	for _, e := range exprs {
		render.passthrough = render.passthrough && e.colOrd >= 0
	}
	node = render
	var plainDistinct *distinctNode
	if n.Distinct && distinctOn == nil {
		on := make([]int, len(fields))
		for i := range on {
			on[i] = i
		}
		plainDistinct = &distinctNode{input: node, on: on}
		node = plainDistinct
	}
	limitRows, offsetRows, err := p.limitClause(n.Limit, c)
	if err != nil {
		return nil, err
	}
	if len(keys) > 0 {
		if distinctOn == nil && !aggregated && len(wins) == 0 && len(setFuncs) == 0 && scanProvidesOrder(input, keys, exprs) {
			keys = nil
		}
	}
	if plainDistinct != nil {
		// Its order matters only when the scan's order stands in for ORDER BY.
		plainDistinct.unordered = len(keys) > 0 || n.OrderBy == nil
	}
	if len(keys) > 0 {
		sn := &sortNode{input: node, keys: keys, label: strings.Join(orderText, ", ")}
		if limitRows != nil && distinctOn == nil {
			sn.limit, sn.offset = limitRows, offsetRows
		}
		node = sn
	}
	if distinctOn != nil {
		node = &distinctNode{input: node, on: onCols, label: "(" + strings.Join(exprTexts(distinctOn), ", ") + ")"}
	}
	if limitRows != nil || offsetRows != nil {
		if limitRows != nil && len(keys) == 0 && distinctOn == nil && !n.Distinct && !aggregated && len(wins) == 0 && len(setFuncs) == 0 {
			setLimitHint(input, limitRows, offsetRows)
		}
		node = &limitNode{input: node, limit: limitRows, offset: offsetRows}
	}
	if len(exprs) > len(fields) {
		node = trimColumns(node, len(fields))
	}
	return node, nil
}

// trimColumns drops the hidden columns after the first n.
func trimColumns(node relNode, n int) relNode {
	cols := node.cols()
	exprs := make([]*scalar, n)
	for i := range exprs {
		exprs[i] = &scalar{typ: cols[i].typ, colOrd: i, eval: columnReader(i)}
	}
	return &projectNode{input: node, exprs: exprs, scope: cols[:n:n], passthrough: true}
}

// limitClause compiles LIMIT and OFFSET, which may not refer to the rows.
func (p *planner) limitClause(l *ast.Limit, c *compiler) (limit, offset *scalar, err error) {
	if l == nil {
		return nil, nil, nil
	}
	lc := *c
	lc.scope = nil
	lc.aggs, lc.windows, lc.setFuncs = nil, nil, nil
	if l.Count != nil {
		if limit, err = lc.compileWant(l.Count, types.Int8); err != nil {
			return nil, nil, err
		}
	}
	if l.Offset != nil {
		if offset, err = lc.compileWant(l.Offset, types.Int8); err != nil {
			return nil, nil, err
		}
	}
	return limit, offset, nil
}

// setLimitHint tells a scan under a plain LIMIT how many rows it needs to read first.
func setLimitHint(n relNode, limit, offset *scalar) {
	sn, ok := n.(*scanNode)
	if !ok || !limit.constant || offset != nil && !offset.constant {
		return
	}
	k, ok := limit.val.(int64)
	if !ok {
		return
	}
	if offset != nil {
		o, ok := offset.val.(int64)
		if !ok || o > math.MaxInt64-k {
			return
		}
		k += o
	}
	if k >= 0 {
		sn.limitHint = max(k, 1)
	}
}

// scanProvidesOrder reports whether the input is a single table read in an order that
// satisfies the sort keys (which must be bare columns of it), and if so sets the scan's
// direction.
func scanProvidesOrder(input relNode, keys []sortKey, exprs []*scalar) bool {
	sn, ok := input.(*scanNode)
	if !ok || sn.src.scan.index != nil { // an index scan yields the index's order
		return false
	}
	tbl := sn.src.table
	ords := tbl.PrimaryKeyOrdinals()
	// A key column the WHERE clause pins to one value is constant in the scan's output, so
	// the order continues with the next column: WHERE a = 1 ORDER BY b reads (a, b) in order.
	kc := sn.src.scan.kc
	pinned := func(i int) bool {
		return kc != nil && i < len(kc.eqs) && len(kc.eqs[i]) == 1 &&
			kc.eqs[i][0].typ.Family == tbl.Columns[ords[i]].Type.Family // not = ANY(array)
	}
	reverse, first := false, true
	i := 0
	for _, k := range keys {
		col := exprs[k.col].colOrd
		for i < len(ords) && ords[i] != col && pinned(i) {
			i++
		}
		if i == len(ords) || col != ords[i] {
			return false
		}
		if pinned(i) {
			i++
			continue // ordering by a constant: any direction holds
		}
		if k.nullsFirst != k.desc {
			return false
		}
		r := k.desc != tbl.PrimaryKeyDesc[i]
		if first {
			reverse, first = r, false
		} else if r != reverse {
			return false
		}
		i++
	}
	sn.src.scan.reverse = reverse
	return true
}

// sameOutput finds the output column an ORDER BY or DISTINCT ON expression repeats.
func sameOutput(fields []field, outputs []*scalar, e ast.ExprNode, s *scalar) int {
	text := exprText(e)
	for i, f := range fields {
		if exprText(f.expr) == text {
			return i
		}
		if s.colOrd >= 0 && outputs[i].colOrd == s.colOrd {
			return i
		}
	}
	return -1
}

func sameExpr(a, b *scalar) bool {
	return a.colOrd >= 0 && a.colOrd == b.colOrd
}

func exprTexts(es []ast.ExprNode) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = exprText(e)
	}
	return out
}

func orderItemText(item *ast.ByItem) string {
	t := exprText(item.Expr)
	if item.Desc {
		t += " DESC"
	}
	return t
}

func groupLabel(g *ast.GroupByClause) string {
	if g == nil {
		return ""
	}
	return "by " + strings.Join(exprTexts(groupItems(g)), ", ")
}

// andAll joins conditions with AND.
func andAll(es []ast.ExprNode) ast.ExprNode {
	if len(es) == 0 {
		return nil
	}
	out := es[0]
	for _, e := range es[1:] {
		out = &ast.BinaryOperationExpr{Op: opLogicAnd, L: out, R: e}
	}
	return out
}

// checkLockable refuses locking clauses on queries whose rows are not table rows.
func checkLockable(n *ast.SelectStmt, lk *lockSpec) error {
	switch {
	case n.Distinct:
		return pgerror.New(pgerror.CodeFeatureNotSupported, "%s is not allowed with DISTINCT clause", lk.name)
	case n.GroupBy != nil:
		return pgerror.New(pgerror.CodeFeatureNotSupported, "%s is not allowed with GROUP BY clause", lk.name)
	case n.Having != nil:
		return pgerror.New(pgerror.CodeFeatureNotSupported, "%s is not allowed with HAVING clause", lk.name)
	case hasAggregate(n.Fields):
		return pgerror.New(pgerror.CodeFeatureNotSupported, "%s is not allowed with aggregate functions", lk.name)
	}
	for _, tn := range lk.tables {
		if tn.Schema.O != "" {
			return pgerror.New(pgerror.CodeSyntaxError, "%s must specify unqualified relation names", lk.name)
		}
	}
	return nil
}

func hasAggregate(fl *ast.FieldList) bool {
	v := &aggFinder{}
	for _, f := range fl.Fields {
		if f.Expr != nil {
			f.Expr.Accept(v)
		}
	}
	return v.found
}

type aggFinder struct{ found bool }

func (v *aggFinder) Enter(n ast.Node) (ast.Node, bool) {
	switch n.(type) {
	case *ast.AggregateFuncExpr:
		v.found = true
		return n, true
	case *ast.SubqueryExpr, *ast.WindowFuncExpr:
		return n, true
	}
	return n, v.found
}

func (v *aggFinder) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// orderItem unwraps the front end's NULLS FIRST/LAST marker of a sort item, returning the
// expression and where its NULLs go (by default last ascending, first descending).
func orderItem(item *ast.ByItem) (ast.ExprNode, bool) {
	if f, ok := item.Expr.(*ast.FuncCallExpr); ok && len(f.Args) == 1 {
		switch f.FnName.L {
		case "meridian_nulls_first":
			return f.Args[0], true
		case "meridian_nulls_last":
			return f.Args[0], false
		}
	}
	return item.Expr, item.Desc
}
