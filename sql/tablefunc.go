package sql

import (
	"context"
	"fmt"
	"iter"
	"strings"
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

// setFunc is a compiled call of a set-returning function: generate_series over integers or
// timestamps, unnest of an array, information_schema._pg_expandarray (the elements of an
// array with their positions, as records), pg_partition_ancestors (no rows: Meridian has no
// partitions). The same call runs in FROM and in a select list.
type setFunc struct {
	name string
	args []*scalar
	// typ is the type of each value; a record type for a function returning several columns.
	typ types.T
}

// isSetFunc tells the set-returning functions setFuncCall compiles.
func isSetFunc(name string) bool {
	switch name {
	case "generate_series", "unnest", "_pg_expandarray", "pg_partition_ancestors":
		return true
	}
	return false
}

func (c *compiler) setFuncCall(f *ast.FuncCallExpr) (*setFunc, error) {
	name := f.FnName.L
	fn := &setFunc{name: name}
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
		for _, a := range f.Args[:2] {
			s, err := c.compileWant(a, want)
			if err != nil {
				return nil, err
			}
			fn.args = append(fn.args, s)
		}
		switch want.Family {
		case types.IntFamily:
			fn.typ = types.Int8
			if fn.args[0].typ.Width == 32 && fn.args[1].typ.Width == 32 {
				fn.typ = types.Int4
			}
			for i := range fn.args {
				fn.args[i] = castScalar(fn.args[i], types.Int8)
			}
			if len(f.Args) == 3 {
				step, err := c.compileWant(f.Args[2], types.Int8)
				if err != nil {
					return nil, err
				}
				fn.args = append(fn.args, castScalar(step, types.Int8))
			}
		case types.TimestampFamily, types.TimestampTZFamily:
			fn.typ = want
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
			fn.args = append(fn.args, step)
		default:
			return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function generate_series(%s, %s) does not exist", fn.args[0].typ.String(), fn.args[1].typ.String())
		}
	case "unnest", "_pg_expandarray":
		if len(f.Args) != 1 {
			if name == "unnest" {
				return nil, pgerror.Unsupported("unnest of several arrays")
			}
			return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function %s with %d arguments does not exist", name, len(f.Args))
		}
		arr, err := c.compile(f.Args[0])
		if err != nil {
			return nil, err
		}
		if arr.typ.Family != types.ArrayFamily {
			return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function %s(%s) does not exist", name, arr.typ.String())
		}
		fn.args = []*scalar{arr}
		fn.typ = arr.typ.ElemType()
		if name == "_pg_expandarray" {
			fn.typ = types.RecordType([]types.RecordField{{Name: "x", Type: fn.typ}, {Name: "n", Type: types.Int4}})
		}
	case "pg_partition_ancestors":
		if len(f.Args) != 1 {
			return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function pg_partition_ancestors with %d arguments does not exist", len(f.Args))
		}
		rel, err := c.catalogArg(f.Args[0], types.RegClassT)
		if err != nil {
			return nil, err
		}
		fn.args = []*scalar{rel}
		fn.typ = types.RegClassT
	default:
		return nil, pgerror.New(pgerror.CodeInternalError, "%s is not a set-returning function", name)
	}
	return fn, nil
}

// each calls yield with each value the function returns for its arguments evaluated on row,
// until yield returns false.
func (f *setFunc) each(ctx context.Context, ec *evalCtx, row []types.Datum, yield func(types.Datum) (bool, error)) error {
	vals := make([]types.Datum, len(f.args))
	for i, a := range f.args {
		v, err := a.eval(ec, row)
		if err != nil {
			return err
		}
		if v == nil {
			return nil // a NULL argument: no rows
		}
		vals[i] = v
	}
	switch f.name {
	case "pg_partition_ancestors":
		return nil
	case "unnest", "_pg_expandarray":
		for i, e := range vals[0].(types.Array).Elems {
			v := e
			if f.name == "_pg_expandarray" {
				v = types.Record{e, int64(i + 1)}
			}
			if more, err := yield(v); err != nil || !more {
				return err
			}
		}
		return nil
	}
	if f.typ.Family == types.IntFamily {
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
			if more, err := yield(v); err != nil || !more {
				return err
			}
			if step > 0 && v > stop-step || step < 0 && v < stop-step {
				break // the next value would overflow past stop
			}
		}
		return nil
	}
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
		if more, err := yield(cur); err != nil || !more {
			return err
		}
		_, next, err := types.BinaryOp("+", f.typ, cur, types.IntervalT, step)
		if err != nil {
			return err
		}
		cur = next.(time.Time)
	}
	return nil
}

// setFuncSlot compiles a set-returning function in a select list: the call becomes a slot
// of the projectSetNode below the projection, and the expression reads the slot.
func (c *compiler) setFuncSlot(n *ast.FuncCallExpr) (*scalar, error) {
	if c.setFuncs == nil {
		return nil, pgerror.New(pgerror.CodeFeatureNotSupported, "set-returning functions are not allowed here: %s() belongs in FROM or a select list", n.FnName.L)
	}
	inner := *c
	inner.setFuncs = nil // PostgreSQL allows nested set-returning calls; Meridian does not
	fn, err := inner.setFuncCall(n)
	if err != nil {
		return nil, err
	}
	slot, base := len(*c.setFuncs), c.setFuncBase
	*c.setFuncs = append(*c.setFuncs, fn)
	return &scalar{typ: fn.typ, colOrd: -1, eval: func(_ *evalCtx, row []types.Datum) (types.Datum, error) {
		return row[*base+slot], nil
	}}, nil
}

// fieldSelection compiles (expr).name, which the front end spells meridian_field(expr, 'name').
func (c *compiler) fieldSelection(n *ast.FuncCallExpr) (*scalar, error) {
	if len(n.Args) != 2 {
		return nil, pgerror.New(pgerror.CodeSyntaxError, "syntax error in field selection")
	}
	name, err := opName(n.Args[1])
	if err != nil {
		return nil, err
	}
	rec, err := c.compile(n.Args[0])
	if err != nil {
		return nil, err
	}
	if rec.typ.Family != types.RecordFamily {
		return nil, pgerror.New(pgerror.CodeWrongObjectType, "column notation .%s applied to type %s, which is not a composite type", name, rec.typ.String())
	}
	for i, f := range rec.typ.RecordFields() {
		if f.Name == name {
			return c.derived(f.Type, []*scalar{rec}, func(v []types.Datum) (types.Datum, error) {
				return v[0].(types.Record)[i], nil
			}, true), nil
		}
	}
	return nil, pgerror.New(pgerror.CodeUndefinedColumn, "could not identify column \"%s\" in record data type", name)
}

// projectSetNode adds the values of a select list's set-returning functions to each input
// row. As in PostgreSQL 10 and later, the functions run in lockstep: an input row yields as
// many rows as its longest function returns, the shorter ones padded with NULLs, and none
// when every function returns nothing.
type projectSetNode struct {
	input relNode
	funcs []*setFunc
	scope []scopeColumn
}

func newProjectSetNode(input relNode, funcs []*setFunc) *projectSetNode {
	n := &projectSetNode{input: input, funcs: funcs, scope: input.cols()}
	for _, f := range funcs {
		n.scope = append(n.scope, scopeColumn{name: f.name, typ: f.typ, hidden: true})
	}
	return n
}

func (n *projectSetNode) cols() []scopeColumn { return n.scope }

func (n *projectSetNode) run(ctx context.Context, x *execCtx, emit emitFn) error {
	return runNode(ctx, x, n.input, func(in []types.Datum) (bool, error) {
		extend := func(vals ...types.Datum) []types.Datum {
			return append(append(make([]types.Datum, 0, len(in)+len(vals)), in...), vals...)
		}
		if len(n.funcs) == 1 {
			stopped := false
			err := n.funcs[0].each(ctx, x.ec, in, func(v types.Datum) (bool, error) {
				more, err := emit(extend(v))
				stopped = !more
				return more, err
			})
			return !stopped, err
		}
		// Several functions: pull one value from each per output row.
		nexts := make([]func() (types.Datum, bool), len(n.funcs))
		errs := make([]error, len(n.funcs))
		for i, f := range n.funcs {
			next, stop := iter.Pull(func(yield func(types.Datum) bool) {
				errs[i] = f.each(ctx, x.ec, in, func(v types.Datum) (bool, error) { return yield(v), nil })
			})
			defer stop()
			nexts[i] = next
		}
		for {
			vals, any := make([]types.Datum, len(n.funcs)), false
			for i, next := range nexts {
				v, ok := next()
				if errs[i] != nil {
					return false, errs[i]
				}
				if ok {
					vals[i], any = v, true
				}
			}
			if !any {
				return true, nil
			}
			if more, err := emit(extend(vals...)); err != nil || !more {
				return more, err
			}
		}
	})
}

func (n *projectSetNode) describe() nodeDesc {
	names := make([]string, len(n.funcs))
	for i, f := range n.funcs {
		names[i] = f.name + "()"
	}
	return nodeDesc{name: "project set", details: []string{strings.Join(names, ", ")}, inputs: []relNode{n.input}}
}

// tableFuncNode produces the rows of a set-returning function in FROM. A function of
// scalars has one column, named by the FROM item's alias as PostgreSQL names it; one of
// records has a column per field. WITH ORDINALITY adds a bigint column numbering the rows
// from 1.
type tableFuncNode struct {
	fn         *setFunc
	scope      []scopeColumn
	ordinality bool
}

func (p *planner) planTableFunc(f *ast.FuncCallExpr, ordinality bool, alias string, qs *queryScope) (relNode, error) {
	if !isSetFunc(f.FnName.L) {
		return nil, pgerror.Unsupported(fmt.Sprintf("%s() in FROM", f.FnName.L))
	}
	fn, err := qs.compiler(nil).setFuncCall(f)
	if err != nil {
		return nil, err
	}
	n := &tableFuncNode{fn: fn, ordinality: ordinality}
	cols := []types.RecordField{{Name: alias, Type: fn.typ}}
	if fields := fn.typ.RecordFields(); fields != nil {
		cols = fields
	}
	names := p.columnAliases(alias)
	if ordinality {
		cols = append(cols, types.RecordField{Name: "ordinality", Type: types.Int8})
	}
	if len(names) > len(cols) {
		return nil, pgerror.New(pgerror.CodeInvalidColumnReference, "too many column aliases specified for function %s", fn.name)
	}
	for i, c := range cols {
		if i < len(names) {
			c.Name = names[i]
		}
		n.scope = append(n.scope, scopeColumn{table: alias, name: c.Name, typ: c.Type})
	}
	return n, nil
}

func (n *tableFuncNode) cols() []scopeColumn { return n.scope }

func (n *tableFuncNode) run(ctx context.Context, x *execCtx, emit emitFn) error {
	ord := int64(0)
	return n.fn.each(ctx, x.ec, nil, func(v types.Datum) (bool, error) {
		row := make([]types.Datum, 0, len(n.scope))
		if rec, ok := v.(types.Record); ok {
			row = append(row, rec...)
		} else {
			row = append(row, v)
		}
		if n.ordinality {
			ord++
			row = append(row, ord)
		}
		return emit(row)
	})
}

func (n *tableFuncNode) describe() nodeDesc {
	return nodeDesc{name: "function " + n.fn.name}
}
