package sql

import (
	"fmt"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/opcode"

	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
)

// subquery is a query used inside an expression. An uncorrelated one runs once per
// statement and its result is kept; a correlated one (it reads columns of the enclosing
// query) runs for each row it is evaluated on, with that row visible to its outer column
// references (ec.outer at the enclosing query's depth).
type subquery struct {
	plan       relNode
	correlated bool
	depth      int // the enclosing query's depth
}

// subqueryExpr unwraps the query of a subquery expression.
func subqueryQuery(e ast.ExprNode) (ast.ResultSetNode, error) {
	for {
		p, ok := e.(*ast.ParenthesesExpr)
		if !ok {
			break
		}
		e = p.Expr
	}
	sq, ok := e.(*ast.SubqueryExpr)
	if !ok {
		return nil, pgerror.Unsupported("this subquery form")
	}
	return sq.Query, nil
}

// planSubquery plans a subquery of c's query as a query one level deeper.
func (c *compiler) planSubquery(query ast.ResultSetNode) (*subquery, error) {
	if c.q == nil {
		return nil, pgerror.Unsupported("subqueries in this statement")
	}
	inner := &queryScope{p: c.q.p, outer: c, depth: c.q.depth + 1, ctes: c.q.ctes, correlated: new(bool)}
	node, err := c.q.p.planQuery(query, inner)
	if err != nil {
		return nil, err
	}
	return &subquery{plan: node, correlated: *inner.correlated, depth: c.q.depth}, nil
}

// outerReference makes a column of an enclosing query, compiled by its own compiler as s,
// readable here: it evaluates s on the row the enclosing query is evaluating.
func (c *compiler) outerReference(s *scalar) *scalar {
	*c.q.correlated = true
	depth := c.q.outer.q.depth
	return &scalar{typ: s.typ, untyped: s.untyped, colOrd: -1, eval: func(ec *evalCtx, _ []types.Datum) (types.Datum, error) {
		if depth >= len(ec.outer) {
			return nil, pgerror.New(pgerror.CodeInternalError, "outer reference evaluated outside its subquery")
		}
		return s.eval(ec, ec.outer[depth])
	}}
}

// run runs the subquery for the enclosing row, passing its rows to f until f returns false.
func (sq *subquery) run(ec *evalCtx, row []types.Datum, f func([]types.Datum) bool) error {
	for len(ec.outer) <= sq.depth {
		ec.outer = append(ec.outer, nil)
	}
	saved := ec.outer[sq.depth]
	ec.outer[sq.depth] = row
	defer func() { ec.outer[sq.depth] = saved }()
	return runNode(ec.ctx, ec.x, sq.plan, func(r []types.Datum) (bool, error) {
		return f(r), nil
	})
}

// cached returns the kept result of an uncorrelated subquery, computing it with compute the
// first time.
func (sq *subquery) cached(ec *evalCtx, row []types.Datum, compute func() (any, error)) (any, error) {
	if sq.correlated {
		return compute()
	}
	if v, ok := ec.subqueryResults[sq]; ok {
		return v, nil
	}
	v, err := compute()
	if err != nil {
		return nil, err
	}
	if ec.subqueryResults == nil {
		ec.subqueryResults = map[*subquery]any{}
	}
	ec.subqueryResults[sq] = v
	return v, nil
}

// scalarSubquery compiles (SELECT …) used as a value: its one column of at most one row,
// NULL for none.
func (c *compiler) scalarSubquery(n *ast.SubqueryExpr) (*scalar, error) {
	sq, err := c.planSubquery(n.Query)
	if err != nil {
		return nil, err
	}
	cols := visibleColumns(sq.plan.cols())
	if len(cols) != 1 {
		return nil, pgerror.New(pgerror.CodeSyntaxError, "subquery must return only one column")
	}
	col := cols[0]
	return &scalar{typ: sq.plan.cols()[col].typ, colOrd: -1, eval: func(ec *evalCtx, row []types.Datum) (types.Datum, error) {
		return sq.cached(ec, row, func() (any, error) {
			var out types.Datum
			n := 0
			err := sq.run(ec, row, func(r []types.Datum) bool {
				n++
				out = r[col]
				return n < 2
			})
			if err != nil {
				return nil, err
			}
			if n > 1 {
				return nil, pgerror.New(pgerror.CodeCardinalityViolation, "more than one row returned by a subquery used as an expression")
			}
			return out, nil
		})
	}}, nil
}

// exists compiles [NOT] EXISTS (SELECT …).
func (c *compiler) exists(n *ast.ExistsSubqueryExpr) (*scalar, error) {
	query, err := subqueryQuery(n.Sel)
	if err != nil {
		return nil, err
	}
	sq, err := c.planSubquery(query)
	if err != nil {
		return nil, err
	}
	not := n.Not
	return &scalar{typ: types.Bool, colOrd: -1, eval: func(ec *evalCtx, row []types.Datum) (types.Datum, error) {
		v, err := sq.cached(ec, row, func() (any, error) {
			found := false
			err := sq.run(ec, row, func([]types.Datum) bool {
				found = true
				return false
			})
			return found, err
		})
		if err != nil {
			return nil, err
		}
		return v.(bool) != not, nil
	}}, nil
}

// comparedSubquery plans the one-column subquery of x IN (…) or x op ANY/ALL (…) and
// compiles x, typed by the subquery's column: the plan, that column's ordinal and type, and x.
func (c *compiler) comparedSubquery(sub, x ast.ExprNode) (sq *subquery, col int, t types.T, l *scalar, err error) {
	query, err := subqueryQuery(sub)
	if err != nil {
		return nil, 0, t, nil, err
	}
	if sq, err = c.planSubquery(query); err != nil {
		return nil, 0, t, nil, err
	}
	cols := visibleColumns(sq.plan.cols())
	if len(cols) != 1 {
		return nil, 0, t, nil, pgerror.New(pgerror.CodeSyntaxError, "subquery has too many columns")
	}
	col = cols[0]
	t = sq.plan.cols()[col].typ
	l, err = c.compileWant(x, t)
	return sq, col, t, l, err
}

// subqueryValues is the one column of an uncorrelated IN subquery's rows, as a set.
type subqueryValues struct {
	set     map[string]struct{}
	hasNull bool
}

// inSubquery compiles x [NOT] IN (SELECT …): true if some row equals x; otherwise NULL if x
// or some row is NULL, else false.
func (c *compiler) inSubquery(n *ast.PatternInExpr) (*scalar, error) {
	sq, col, rt, l, err := c.comparedSubquery(n.Sel, n.Expr)
	if err != nil {
		return nil, err
	}
	eq, err := comparisonType(l.typ, rt, "IN")
	if err != nil {
		return nil, err
	}
	not := n.Not
	lt := l.typ
	return &scalar{typ: types.Bool, colOrd: -1, eval: func(ec *evalCtx, row []types.Datum) (types.Datum, error) {
		x, err := l.eval(ec, row)
		if err != nil {
			return nil, err
		}
		v, err := sq.cached(ec, row, func() (any, error) {
			vals := &subqueryValues{set: map[string]struct{}{}}
			var runErr error
			err := sq.run(ec, row, func(r []types.Datum) bool {
				d := r[col]
				if d == nil {
					vals.hasNull = true
					return true
				}
				k, err := castTo(d, rt, eq)
				if err != nil {
					runErr = err
					return false
				}
				key := string(types.AppendGroupKey(nil, eq, k))
				if _, ok := vals.set[key]; !ok {
					if err := ec.x.mem.grow(int64(len(key) + 48)); err != nil {
						runErr = err
						return false
					}
					vals.set[key] = struct{}{}
				}
				return true
			})
			if err == nil {
				err = runErr
			}
			return vals, err
		})
		if err != nil {
			return nil, err
		}
		vals := v.(*subqueryValues)
		if x == nil {
			if len(vals.set) == 0 && !vals.hasNull {
				return not, nil // nothing to compare with: IN is false
			}
			return nil, nil
		}
		k, err := castTo(x, lt, eq)
		if err != nil {
			return nil, err
		}
		if _, ok := vals.set[string(types.AppendGroupKey(nil, eq, k))]; ok {
			return !not, nil
		}
		if vals.hasNull {
			return nil, nil
		}
		return not, nil
	}}, nil
}

// compareSubquery compiles x op ANY|SOME|ALL (SELECT …).
func (c *compiler) compareSubquery(n *ast.CompareSubqueryExpr) (*scalar, error) {
	sq, col, rt, l, err := c.comparedSubquery(n.R, n.L)
	if err != nil {
		return nil, err
	}
	op, ok := binaryOpNames[n.Op]
	if !ok || n.Op == opcode.Plus || n.Op == opcode.Minus || n.Op == opcode.Mul || n.Op == opcode.Div || n.Op == opcode.Mod || n.Op == opcode.IntDiv {
		return nil, pgerror.Unsupported("this operator with ANY/ALL (subquery)")
	}
	lt, all := l.typ, n.All
	return &scalar{typ: types.Bool, colOrd: -1, eval: func(ec *evalCtx, row []types.Datum) (types.Datum, error) {
		x, err := l.eval(ec, row)
		if err != nil {
			return nil, err
		}
		v, err := sq.cached(ec, row, func() (any, error) {
			var vals []types.Datum
			err := sq.run(ec, row, func(r []types.Datum) bool {
				vals = append(vals, r[col])
				return true
			})
			return vals, err
		})
		if err != nil {
			return nil, err
		}
		// ANY: true if some comparison is true, else NULL if some is NULL, else false.
		// ALL: false if some comparison is false, else NULL if some is NULL, else true.
		sawNull := false
		for _, d := range v.([]types.Datum) {
			if x == nil || d == nil {
				sawNull = true
				continue
			}
			_, res, err := types.BinaryOp(op, lt, x, rt, d)
			if err != nil {
				return nil, err
			}
			if res == nil {
				sawNull = true
				continue
			}
			if b := res.(bool); b != all {
				return b, nil
			}
		}
		if sawNull {
			return nil, nil
		}
		return all, nil
	}}, nil
}

// visibleColumns are the ordinals of the columns a query shows (not hidden).
func visibleColumns(cols []scopeColumn) []int {
	var out []int
	for i, c := range cols {
		if !c.hidden {
			out = append(out, i)
		}
	}
	return out
}

// comparisonType is the type two sides of an equality are compared in: the same type, or
// the wider numeric type.
func comparisonType(a, b types.T, what string) (types.T, error) {
	if a.Family == b.Family && a.Family != types.IntFamily && a.Family != types.FloatFamily {
		return a, nil
	}
	if t, ok := commonType(a, b); ok {
		return t, nil
	}
	return types.T{}, pgerror.New(pgerror.CodeUndefinedFunction, "operator does not exist: %s = %s", a.String(), b.String()).
		WithHint(fmt.Sprintf("No operator matches the given name and argument types (in %s).", what))
}

// castTo converts d from type from to type to for comparison: within a family values
// compare as they are (numeric typmods are not applied to comparisons).
func castTo(d types.Datum, from, to types.T) (types.Datum, error) {
	if from.Family == to.Family {
		return d, nil
	}
	return types.Cast(d, from, to)
}
