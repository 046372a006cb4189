package sql

import (
	"context"
	"fmt"
	"time"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
)

// tableFunctionCall recognizes the front end's form of a function in FROM:
// (SELECT meridian_table_function(f(args))), with a second argument 'ordinality' for
// f(args) WITH ORDINALITY.
func tableFunctionCall(n ast.ResultSetNode) (f *ast.FuncCallExpr, ordinality, ok bool) {
	sel, ok := n.(*ast.SelectStmt)
	if !ok || sel.From != nil || sel.Fields == nil || len(sel.Fields.Fields) != 1 {
		return nil, false, false
	}
	outer, ok := sel.Fields.Fields[0].Expr.(*ast.FuncCallExpr)
	if !ok || outer.FnName.L != "meridian_table_function" || len(outer.Args) < 1 || len(outer.Args) > 2 {
		return nil, false, false
	}
	ordinality = len(outer.Args) == 2
	f, ok = outer.Args[0].(*ast.FuncCallExpr)
	return f, ordinality, ok
}

// tableFuncNode produces the rows of a set-returning function: generate_series over
// integers or timestamps, unnest of an array, pg_partition_ancestors (no rows: Meridian
// has no partitions). Its column is named by the FROM item's alias, as PostgreSQL names a
// scalar function's column; WITH ORDINALITY adds a bigint column numbering the rows from 1.
type tableFuncNode struct {
	name       string
	args       []*scalar
	scope      []scopeColumn
	ordinality bool
}

func (p *planner) planTableFunc(f *ast.FuncCallExpr, ordinality bool, alias string, qs *queryScope) (relNode, error) {
	name := f.FnName.L
	c := qs.compiler(nil)
	n := &tableFuncNode{name: name, ordinality: ordinality}
	var typ types.T
	switch name {
	case "generate_series":
		if len(f.Args) < 2 || len(f.Args) > 3 {
			return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function generate_series with %d arguments does not exist", len(f.Args))
		}
		start, err := c.compile(f.Args[0])
		if err != nil {
			return nil, err
		}
		want := start.typ
		if start.untyped {
			want = types.Int8
		}
		n.args = []*scalar{}
		for _, a := range f.Args[:2] {
			s, err := c.compileWant(a, want)
			if err != nil {
				return nil, err
			}
			n.args = append(n.args, s)
		}
		switch want.Family {
		case types.IntFamily:
			typ = types.Int8
			if n.args[0].typ.Width == 32 && n.args[1].typ.Width == 32 {
				typ = types.Int4
			}
			for i := range n.args {
				n.args[i] = castScalar(n.args[i], types.Int8)
			}
			if len(f.Args) == 3 {
				step, err := c.compileWant(f.Args[2], types.Int8)
				if err != nil {
					return nil, err
				}
				n.args = append(n.args, castScalar(step, types.Int8))
			}
		case types.TimestampFamily, types.TimestampTZFamily:
			typ = want
			if len(f.Args) != 3 {
				return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function generate_series(%s, %s) does not exist", want.String(), want.String())
			}
			step, err := c.compileWant(f.Args[2], types.IntervalT)
			if err != nil {
				return nil, err
			}
			if step.typ.Family != types.IntervalFamily {
				return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function generate_series(%s, %s, %s) does not exist", want.String(), want.String(), step.typ.String())
			}
			n.args = append(n.args, step)
		default:
			return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function generate_series(%s, %s) does not exist", n.args[0].typ.String(), n.args[1].typ.String())
		}
	case "unnest":
		if len(f.Args) != 1 {
			return nil, pgerror.Unsupported("unnest of several arrays")
		}
		arr, err := c.compile(f.Args[0])
		if err != nil {
			return nil, err
		}
		if arr.typ.Family != types.ArrayFamily {
			return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function unnest(%s) does not exist", arr.typ.String())
		}
		n.args = []*scalar{arr}
		typ = arr.typ.ElemType()
	case "pg_partition_ancestors":
		if len(f.Args) != 1 {
			return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function pg_partition_ancestors with %d arguments does not exist", len(f.Args))
		}
		rel, err := c.catalogArg(f.Args[0], types.RegClassT)
		if err != nil {
			return nil, err
		}
		n.args = []*scalar{rel}
		typ = types.RegClassT
	default:
		return nil, pgerror.Unsupported(fmt.Sprintf("%s() in FROM", name))
	}
	col, ord := alias, "ordinality"
	names := p.columnAliases(alias)
	limit := 1
	if ordinality {
		limit = 2
	}
	if len(names) > limit {
		return nil, pgerror.New(pgerror.CodeInvalidColumnReference, "too many column aliases specified for function %s", name)
	}
	if len(names) > 0 {
		col = names[0]
	}
	if len(names) > 1 {
		ord = names[1]
	}
	n.scope = []scopeColumn{{table: alias, name: col, typ: typ}}
	if ordinality {
		n.scope = append(n.scope, scopeColumn{table: alias, name: ord, typ: types.Int8})
	}
	return n, nil
}

func (n *tableFuncNode) cols() []scopeColumn { return n.scope }

func (n *tableFuncNode) run(ctx context.Context, x *execCtx, emit emitFn) error {
	if n.ordinality {
		inner, ord := emit, int64(0)
		emit = func(row []types.Datum) (bool, error) {
			ord++
			return inner(append(row[:len(row):len(row)], ord))
		}
	}
	vals := make([]types.Datum, len(n.args))
	for i, a := range n.args {
		v, err := a.eval(x.ec, nil)
		if err != nil {
			return err
		}
		if v == nil {
			return nil // a NULL argument: no rows
		}
		vals[i] = v
	}
	if n.name == "pg_partition_ancestors" {
		return nil
	}
	if n.name == "unnest" {
		for _, e := range vals[0].(types.Array).Elems {
			if more, err := emit([]types.Datum{e}); err != nil || !more {
				return err
			}
		}
		return nil
	}
	if n.scope[0].typ.Family == types.IntFamily {
		start, stop, step := vals[0].(int64), vals[1].(int64), int64(1)
		if len(vals) == 3 {
			step = vals[2].(int64)
		}
		if step == 0 {
			return pgerror.New(pgerror.CodeInvalidParameterValue, "step size cannot equal zero")
		}
		for v := start; step > 0 && v <= stop || step < 0 && v >= stop; v += step {
			if err := ctx.Err(); err != nil {
				return err
			}
			if more, err := emit([]types.Datum{v}); err != nil || !more {
				return err
			}
			if step > 0 && v > stop-step || step < 0 && v < stop-step {
				break // the next value would overflow past stop
			}
		}
		return nil
	}
	t := n.scope[0].typ
	cur, stop, step := vals[0].(time.Time), vals[1].(time.Time), vals[2]
	zero, _ := types.Cast("0 seconds", types.String, types.IntervalT)
	cmp := types.Compare(types.IntervalT, step, zero)
	if cmp == 0 {
		return pgerror.New(pgerror.CodeInvalidParameterValue, "step size cannot equal zero")
	}
	for cmp > 0 && !cur.After(stop) || cmp < 0 && !cur.Before(stop) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if more, err := emit([]types.Datum{cur}); err != nil || !more {
			return err
		}
		_, next, err := types.BinaryOp("+", t, cur, types.IntervalT, step)
		if err != nil {
			return err
		}
		cur = next.(time.Time)
	}
	return nil
}

func (n *tableFuncNode) describe() nodeDesc {
	return nodeDesc{name: "function " + n.name}
}
