package sql

import (
	"context"
	"fmt"
	"hash/maphash"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
)

// setOpKind is UNION, INTERSECT or EXCEPT.
type setOpKind int

const (
	unionOp setOpKind = iota
	intersectOp
	exceptOp
)

func (k setOpKind) String() string { return [...]string{"UNION", "INTERSECT", "EXCEPT"}[k] }

// setOpNode combines two queries' rows. UNION ALL streams both; the others remember rows
// (the right side's, or those already passed), charged to the memory budget.
type setOpNode struct {
	kind        setOpKind
	all         bool
	left, right relNode
	scope       []scopeColumn
}

func (n *setOpNode) cols() []scopeColumn { return n.scope }

func (n *setOpNode) run(ctx context.Context, x *execCtx, emit emitFn) error {
	typs := colTypes(n.scope)
	var key []byte
	keyOf := func(row []types.Datum) []byte {
		key = groupKey(key[:0], typs, row)
		return key
	}
	if n.kind == unionOp {
		// A set operation's order is its ORDER BY's, sorted above it: UNION may go to disk.
		d := newDeduper(x, true)
		defer d.close()
		stopped := false
		pass := func(row []types.Datum) (bool, error) {
			if !n.all {
				if first, err := d.first(keyOf(row), row); err != nil || !first {
					return err == nil, err
				}
			}
			more, err := emit(row)
			stopped = !more
			return more, err
		}
		if err := runNode(ctx, x, n.left, pass); err != nil || stopped {
			return err
		}
		if err := runNode(ctx, x, n.right, pass); err != nil || stopped {
			return err
		}
		return d.finish(ctx, keyOf, emit)
	}
	// INTERSECT and EXCEPT count the right side's rows, then stream the left side. Once
	// the counts outgrow their share of the budget, the right rows of keys not counted then
	// go to disk, partitioned by key; so do the left rows of keys not counted in memory, and
	// each partition is then handled in memory the same way, after the rest.
	counts := newKeyCounts()
	counts.spillable = true
	defer counts.release(x)
	var rightParts, leftParts *partitionFile
	defer func() {
		for _, f := range []*partitionFile{rightParts, leftParts} {
			if f != nil {
				_ = f.close()
			}
		}
	}()
	seed := maphash.MakeSeed()
	partitionOf := func(key []byte) int { return int(maphash.Bytes(seed, key) % spillPartitions) }
	err := runNode(ctx, x, n.right, func(row []types.Datum) (bool, error) {
		k := keyOf(row)
		if rightParts != nil {
			if _, counted := counts.m[string(k)]; counted {
				counts.m[string(k)]++
				return true, nil
			}
			return true, rightParts.add(partitionOf(k), row)
		}
		err := counts.add(x, k, 1)
		if err == nil || len(counts.m) == 0 || !isOutOfMemory(err) {
			return err == nil, err
		}
		if rightParts, err = x.newPartitionFile(); err != nil {
			return false, err
		}
		return true, rightParts.add(partitionOf(k), row)
	})
	if err != nil {
		return err
	}
	stopped := false
	emitTo := func(row []types.Datum) (bool, error) {
		more, err := emit(row)
		stopped = !more
		return more, err
	}
	// The keys a non-ALL INTERSECT or EXCEPT has passed, which may go to disk too.
	emitted := newDeduper(x, true)
	defer emitted.close()
	err = runNode(ctx, x, n.left, func(row []types.Datum) (bool, error) {
		k := keyOf(row)
		if _, counted := counts.m[string(k)]; !counted && rightParts != nil {
			if leftParts == nil {
				var err error
				if leftParts, err = x.newPartitionFile(); err != nil {
					return false, err
				}
			}
			return true, leftParts.add(partitionOf(k), row)
		}
		return n.passLeft(counts, emitted, k, row, emitTo)
	})
	if err == nil && !stopped {
		err = emitted.finish(ctx, keyOf, emitTo)
	}
	if err != nil || stopped || rightParts == nil {
		return err
	}
	// Each partition's keys were counted nowhere else, and its rows' too.
	counts.release(x)
	counts.m = nil // what it held goes, with its charge
	for _, f := range []*partitionFile{rightParts, leftParts} {
		if f != nil {
			if err := f.finish(); err != nil {
				return err
			}
		}
	}
	for p := range spillPartitions {
		if err := ctx.Err(); err != nil {
			return err
		}
		counts, emitted := newKeyCounts(), newDeduper(x, false)
		err := rightParts.rows(p, func(row []types.Datum) (bool, error) {
			return true, counts.add(x, keyOf(row), 1)
		})
		if err == nil && leftParts != nil {
			err = leftParts.rows(p, func(row []types.Datum) (bool, error) {
				return n.passLeft(counts, emitted, keyOf(row), row, emitTo)
			})
		}
		counts.release(x)
		emitted.close()
		if err != nil || stopped {
			return err
		}
	}
	return nil
}

// passLeft decides the fate of a left row of INTERSECT or EXCEPT whose key the right side's
// counts hold if it has any: it emits the row if it passes (once per key unless ALL, which
// emitted decides, perhaps later), and counts what it used.
func (n *setOpNode) passLeft(counts *keyCounts, emitted *deduper, key []byte, row []types.Datum, emit emitFn) (bool, error) {
	c := counts.count(key)
	var out bool
	switch {
	case n.all:
		// INTERSECT ALL passes a row as often as both sides have it; EXCEPT ALL as often as
		// the left side has it more.
		out = c > 0 == (n.kind == intersectOp)
		if c > 0 {
			counts.m[string(key)]--
		}
	case n.kind == intersectOp:
		out = c > 0
	default: // EXCEPT
		out = c == 0
	}
	if !out {
		return true, nil
	}
	if !n.all {
		if first, err := emitted.first(key, row); err != nil || !first {
			return err == nil, err
		}
	}
	return emit(row)
}

func (n *setOpNode) describe() nodeDesc {
	name := strings.ToLower(n.kind.String())
	if n.all {
		name += " all"
	}
	return nodeDesc{name: name, inputs: []relNode{n.left, n.right}}
}

// planSetOp plans UNION, INTERSECT and EXCEPT (INTERSECT binding tighter), then the ORDER
// BY and LIMIT that apply to the whole.
func (p *planner) planSetOp(n *ast.SetOprStmt, qs *queryScope) (relNode, error) {
	if n.With != nil {
		ctes, err := p.withClause(n.With, qs)
		if err != nil {
			return nil, err
		}
		qs = &queryScope{p: p, outer: qs.outer, depth: qs.depth, ctes: ctes, correlated: qs.correlated}
	}
	node, err := p.planSetOpList(n.SelectList, qs)
	if err != nil {
		return nil, err
	}
	return p.orderAndLimit(node, n.OrderBy, n.Limit, qs)
}

type setOpTerm struct {
	node relNode
	op   *ast.SetOprType // the operator before the term; nil for the first
}

func (p *planner) planSetOpList(l *ast.SetOprSelectList, qs *queryScope) (relNode, error) {
	if l.With != nil {
		ctes, err := p.withClause(l.With, qs)
		if err != nil {
			return nil, err
		}
		qs = &queryScope{p: p, outer: qs.outer, depth: qs.depth, ctes: ctes, correlated: qs.correlated}
	}
	var terms []setOpTerm
	for i, sel := range l.Selects {
		var node relNode
		var op *ast.SetOprType
		var err error
		switch s := sel.(type) {
		case *ast.SelectStmt:
			op = s.AfterSetOperator
			node, err = p.planSelectStmt(s, qs)
		case *ast.SetOprSelectList:
			op = s.AfterSetOperator
			node, err = p.planSetOpList(s, qs)
		default:
			err = pgerror.Unsupported("this set operation operand")
		}
		if err != nil {
			return nil, err
		}
		if i == 0 {
			op = nil
		}
		terms = append(terms, setOpTerm{node: node, op: op})
	}
	// INTERSECT first, then UNION and EXCEPT from left to right.
	var folded []setOpTerm
	for _, t := range terms {
		if t.op != nil && (*t.op == ast.Intersect || *t.op == ast.IntersectAll) && len(folded) > 0 {
			last := &folded[len(folded)-1]
			node, err := combine(last.node, t.node, *t.op)
			if err != nil {
				return nil, err
			}
			last.node = node
			continue
		}
		folded = append(folded, t)
	}
	node := folded[0].node
	for _, t := range folded[1:] {
		var err error
		if node, err = combine(node, t.node, *t.op); err != nil {
			return nil, err
		}
	}
	if l.OrderBy != nil || l.Limit != nil {
		return p.orderAndLimit(node, l.OrderBy, l.Limit, qs)
	}
	return node, nil
}

// combine makes a set operation of two queries, converting columns to common types.
func combine(left, right relNode, op ast.SetOprType) (relNode, error) {
	kind, all := unionOp, false
	switch op {
	case ast.UnionAll:
		all = true
	case ast.Intersect:
		kind = intersectOp
	case ast.IntersectAll:
		kind, all = intersectOp, true
	case ast.Except:
		kind = exceptOp
	case ast.ExceptAll:
		kind, all = exceptOp, true
	}
	lcols, rcols := visibleColumns(left.cols()), visibleColumns(right.cols())
	if len(lcols) != len(rcols) {
		return nil, pgerror.New(pgerror.CodeSyntaxError, "each %s query must have the same number of columns", kind)
	}
	scope := make([]scopeColumn, len(lcols))
	targets := make([]types.T, len(lcols))
	for i := range lcols {
		lc, rc := left.cols()[lcols[i]], right.cols()[rcols[i]]
		t, err := unifyColumnTypes(lc, rc, kind.String())
		if err != nil {
			return nil, err
		}
		targets[i] = t
		scope[i] = scopeColumn{name: lc.name, typ: t, untyped: lc.untyped && rc.untyped}
	}
	return &setOpNode{kind: kind, all: all, left: convertColumns(left, lcols, targets), right: convertColumns(right, rcols, targets), scope: scope}, nil
}

// unifyColumnTypes is PostgreSQL's resolution of a set operation's (or VALUES') column
// type: an untyped literal takes the other side's type, numbers widen.
func unifyColumnTypes(a, b scopeColumn, what string) (types.T, error) {
	switch {
	case a.untyped && b.untyped:
		return types.String, nil
	case a.untyped:
		return b.typ, nil
	case b.untyped:
		return a.typ, nil
	}
	if t, ok := commonType(a.typ, b.typ); ok {
		return t, nil
	}
	return types.T{}, pgerror.New(pgerror.CodeDatatypeMismatch, "%s types %s and %s cannot be matched", what, a.typ.String(), b.typ.String())
}

// commonType is the type two values of types a and b are both converted to: the wider of
// two numbers, the same family otherwise.
func commonType(a, b types.T) (types.T, bool) {
	if a.Family == b.Family {
		switch a.Family {
		case types.IntFamily, types.FloatFamily:
			if b.Width > a.Width {
				return b, true
			}
			return a, true
		case types.DecimalFamily:
			return types.Numeric, true
		case types.StringFamily:
			if a.StringKind != b.StringKind || a.Width != b.Width {
				return types.String, true
			}
		}
		return a, true
	}
	ra, rb := numericRank(a), numericRank(b)
	if ra == 0 || rb == 0 {
		if a.Family == types.UnknownFamily {
			return b, true
		}
		if b.Family == types.UnknownFamily {
			return a, true
		}
		return types.T{}, false
	}
	switch max(ra, rb) {
	case 2:
		return types.Numeric, true
	case 3:
		return types.Float8, true
	}
	return types.Int8, true
}

// convertColumns projects a query's visible columns, converted to the target types.
func convertColumns(n relNode, cols []int, targets []types.T) relNode {
	in := n.cols()
	same := len(cols) == len(in)
	exprs := make([]*scalar, len(cols))
	scope := make([]scopeColumn, len(cols))
	for i, c := range cols {
		col := in[c]
		s := &scalar{typ: col.typ, colOrd: c, eval: columnReader(c)}
		if col.untyped && targets[i].Family != types.StringFamily {
			s = textCast(s, targets[i])
			same = false
		} else if col.typ.Family != targets[i].Family {
			s = castScalar(s, targets[i])
			same = false
		}
		if c != i {
			same = false
		}
		exprs[i] = s
		col.typ = targets[i]
		scope[i] = col
	}
	if same {
		return n
	}
	return &projectNode{input: n, exprs: exprs, scope: scope, passthrough: true}
}

// textCast converts an untyped literal's text to type t, as PostgreSQL resolves unknown
// literals.
func textCast(s *scalar, t types.T) *scalar {
	return &scalar{typ: t, colOrd: -1, eval: func(ec *evalCtx, row []types.Datum) (types.Datum, error) {
		v, err := s.eval(ec, row)
		if err != nil || v == nil {
			return nil, err
		}
		str, ok := v.(string)
		if !ok {
			return types.Cast(v, s.typ, t)
		}
		return types.ParseText(t, str)
	}}
}

// orderAndLimit applies a set operation's ORDER BY (by output column names or positions)
// and LIMIT.
func (p *planner) orderAndLimit(node relNode, ob *ast.OrderByClause, l *ast.Limit, qs *queryScope) (relNode, error) {
	scope := node.cols()
	if ob != nil {
		var keys []sortKey
		var texts []string
		for _, item := range ob.Items {
			col := -1
			expr, nullsFirst := orderItem(item)
			switch e := expr.(type) {
			case *ast.PositionExpr:
				if e.P != nil || e.N < 1 || e.N > len(scope) {
					return nil, pgerror.New(pgerror.CodeInvalidColumnReference, "ORDER BY position %d is not in select list", e.N)
				}
				col = e.N - 1
			case *ast.ColumnNameExpr:
				for i, c := range scope {
					if c.name == e.Name.Name.O && !c.hidden && e.Name.Table.O == "" {
						col = i
						break
					}
				}
				if col < 0 {
					return nil, pgerror.New(pgerror.CodeUndefinedColumn, "column %q does not exist", e.Name.Name.O)
				}
			default:
				return nil, pgerror.New(pgerror.CodeFeatureNotSupported, "invalid UNION/INTERSECT/EXCEPT ORDER BY clause").
					WithDetail("Only result column names can be used, not expressions or functions.")
			}
			keys = append(keys, sortKey{col: col, desc: item.Desc, nullsFirst: nullsFirst})
			texts = append(texts, orderItemText(item))
		}
		sn := &sortNode{input: node, keys: keys, label: strings.Join(texts, ", ")}
		node = sn
		if l != nil {
			limit, offset, err := p.limitClause(l, qs.compiler(nil))
			if err != nil {
				return nil, err
			}
			if limit != nil {
				sn.limit, sn.offset = limit, offset
			}
		}
	}
	if l != nil {
		limit, offset, err := p.limitClause(l, qs.compiler(nil))
		if err != nil {
			return nil, err
		}
		node = &limitNode{input: node, limit: limit, offset: offset}
	}
	return node, nil
}

// cteScope holds the WITH clauses in force: a query sees its own and its enclosing
// queries'.
type cteScope struct {
	parent *cteScope
	defs   map[string]*cteDef
}

// cteDef is one common table expression. References plan its query again (each reference
// runs it), except the recursive term's reference to its own CTE, which reads the rows of
// the previous iteration.
type cteDef struct {
	name      string
	cols      []string
	query     ast.ResultSetNode
	recursive bool
	scope     *cteScope // what its query sees
	// planning marks a CTE whose query is being planned: a non-recursive CTE does not see
	// itself.
	planning bool
	inAnchor bool
	work     *workTable
}

func (c *cteScope) lookup(name string) *cteDef {
	for s := c; s != nil; s = s.parent {
		if d := s.defs[name]; d != nil && !(d.planning && !d.recursive) {
			return d
		}
	}
	return nil
}

func (p *planner) withClause(w *ast.WithClause, qs *queryScope) (*cteScope, error) {
	scope := &cteScope{parent: qs.ctes, defs: map[string]*cteDef{}}
	for _, cte := range w.CTEs {
		name := cte.Name.O
		if scope.defs[name] != nil {
			return nil, pgerror.New("42712", "WITH query name %q specified more than once", name)
		}
		def := &cteDef{name: name, query: cte.Query.Query, recursive: w.IsRecursive || cte.IsRecursive, scope: scope}
		for _, c := range cte.ColNameList {
			def.cols = append(def.cols, c.O)
		}
		scope.defs[name] = def
	}
	// Plan each CTE once now, as PostgreSQL analyzes even the ones nothing references, so
	// that their errors show.
	for _, cte := range w.CTEs {
		if _, err := p.planCTERef(scope.defs[cte.Name.O], qs.derived(scope)); err != nil {
			return nil, err
		}
	}
	return scope, nil
}

// planCTERef plans a reference to a CTE.
func (p *planner) planCTERef(def *cteDef, qs *queryScope) (relNode, error) {
	if def.work != nil {
		return &workScanNode{wt: def.work}, nil
	}
	if def.planning {
		// Only a recursive CTE sees itself, and only from the recursive term of a union.
		return nil, pgerror.New(pgerror.CodeInvalidRecursion, "recursive query %q does not have the form non-recursive-term UNION [ALL] recursive-term", def.name)
	}
	if def.inAnchor {
		return nil, pgerror.New(pgerror.CodeInvalidRecursion, "recursive reference to query %q must not appear within its non-recursive term", def.name)
	}
	if def.recursive {
		if so, ok := def.query.(*ast.SetOprStmt); ok && len(so.SelectList.Selects) > 1 {
			return p.planRecursive(def, so, qs)
		}
	}
	def.planning = true
	node, err := p.planQuery(def.query, qs.derived(def.scope))
	def.planning = false
	if err != nil {
		return nil, err
	}
	return p.cteColumns(def, node)
}

// cteColumns names a CTE's columns by its column list.
func (p *planner) cteColumns(def *cteDef, node relNode) (relNode, error) {
	if def.cols == nil {
		return node, nil
	}
	vis := visibleColumns(node.cols())
	if len(def.cols) > len(vis) {
		return nil, pgerror.New(pgerror.CodeInvalidColumnReference, "WITH query %q has %d columns available but %d columns specified", def.name, len(vis), len(def.cols))
	}
	return renamed(node, def.name, def.cols), nil
}

// planRecursive plans WITH RECURSIVE's non-recursive-term UNION [ALL] recursive-term.
func (p *planner) planRecursive(def *cteDef, so *ast.SetOprStmt, qs *queryScope) (relNode, error) {
	sels := so.SelectList.Selects
	last := sels[len(sels)-1]
	var op *ast.SetOprType
	switch s := last.(type) {
	case *ast.SelectStmt:
		op = s.AfterSetOperator
	case *ast.SetOprSelectList:
		op = s.AfterSetOperator
	}
	if op == nil || (*op != ast.Union && *op != ast.UnionAll) || so.OrderBy != nil || so.Limit != nil {
		return nil, pgerror.New(pgerror.CodeInvalidRecursion, "recursive query %q does not have the form non-recursive-term UNION [ALL] recursive-term", def.name)
	}
	anchorList := &ast.SetOprSelectList{Selects: sels[:len(sels)-1]}
	bodyScope := qs.derived(def.scope)
	def.inAnchor = true
	anchor, err := p.planSetOpList(anchorList, bodyScope)
	def.inAnchor = false
	if err != nil {
		return nil, err
	}
	anchor, err = p.cteColumns(def, anchor)
	if err != nil {
		return nil, err
	}
	vis := visibleColumns(anchor.cols())
	scope := make([]scopeColumn, len(vis))
	for i, c := range vis {
		col := anchor.cols()[c]
		col.table, col.qualifiedOnly = def.name, false
		if col.untyped {
			col.typ, col.untyped = types.String, false
		}
		scope[i] = col
	}
	targets := colTypes(scope)
	anchor = convertColumns(anchor, vis, targets)
	wt := &workTable{scope: scope}
	def.work = wt
	var rec relNode
	switch s := last.(type) {
	case *ast.SelectStmt:
		rec, err = p.planSelectStmt(s, bodyScope)
	case *ast.SetOprSelectList:
		rec, err = p.planSetOpList(s, bodyScope)
	}
	def.work = nil
	if err != nil {
		return nil, err
	}
	rvis := visibleColumns(rec.cols())
	if len(rvis) != len(vis) {
		return nil, pgerror.New(pgerror.CodeSyntaxError, "each UNION query must have the same number of columns")
	}
	for i, c := range rvis {
		rc := rec.cols()[c]
		if !rc.untyped {
			if _, ok := commonType(targets[i], rc.typ); !ok {
				return nil, pgerror.New(pgerror.CodeDatatypeMismatch, "recursive query %q column %d has type %s in non-recursive term but type %s overall", def.name, i+1, targets[i].String(), rc.typ.String())
			}
		}
	}
	rec = convertColumns(rec, rvis, targets)
	return &recursiveNode{name: def.name, anchor: anchor, rec: rec, wt: wt, all: *op == ast.UnionAll, scope: scope}, nil
}

// workTable holds the rows of a recursive CTE's previous iteration.
type workTable struct {
	scope []scopeColumn
	rows  [][]types.Datum
}

// workScanNode reads the work table: the recursive term's reference to its CTE.
type workScanNode struct{ wt *workTable }

func (n *workScanNode) cols() []scopeColumn { return n.wt.scope }

func (n *workScanNode) run(ctx context.Context, x *execCtx, emit emitFn) error {
	for _, row := range n.wt.rows {
		if more, err := emit(row); err != nil || !more {
			return err
		}
	}
	return nil
}

func (n *workScanNode) describe() nodeDesc { return nodeDesc{name: "working table scan"} }

// recursiveNode runs a recursive CTE: the non-recursive term, then the recursive term over
// the previous iteration's new rows until an iteration adds none.
type recursiveNode struct {
	name        string
	anchor, rec relNode
	wt          *workTable
	all         bool
	scope       []scopeColumn
}

func (n *recursiveNode) cols() []scopeColumn { return n.scope }

func (n *recursiveNode) run(ctx context.Context, x *execCtx, emit emitFn) error {
	typs := colTypes(n.scope)
	seen := newKeyCounts()
	defer seen.release(x)
	var workBytes int64
	defer func() { x.mem.shrink(workBytes) }()
	var key []byte
	stopped := false
	iterate := func(in relNode) ([][]types.Datum, error) {
		var out [][]types.Datum
		var bytes int64
		err := runNode(ctx, x, in, func(row []types.Datum) (bool, error) {
			if !n.all {
				key = groupKey(key[:0], typs, row)
				if first, err := seen.firstTime(x, key); err != nil || !first {
					return err == nil, err
				}
			}
			sz := rowSize(row)
			if err := x.mem.grow(sz); err != nil {
				return false, err
			}
			bytes += sz
			out = append(out, row)
			more, err := emit(row)
			stopped = !more
			return more, err
		})
		x.mem.shrink(workBytes)
		workBytes = bytes
		return out, err
	}
	rows, err := iterate(n.anchor)
	for err == nil && !stopped && len(rows) > 0 {
		if err = ctx.Err(); err != nil {
			break
		}
		n.wt.rows = rows
		rows, err = iterate(n.rec)
	}
	n.wt.rows = nil
	return err
}

func (n *recursiveNode) describe() nodeDesc {
	kind := "union"
	if n.all {
		kind = "union all"
	}
	return nodeDesc{name: fmt.Sprintf("recursive cte %s (%s)", n.name, kind), inputs: []relNode{n.anchor, n.rec}}
}
