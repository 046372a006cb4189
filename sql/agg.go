package sql

import (
	"github.com/cockroachdb/apd/v3"
	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
)

// aggregate is one aggregate function call of a query.
type aggregate struct {
	name     string
	arg      *scalar // nil for count(*)
	distinct bool
	typ      types.T
	// sep and order are string_agg's separator and ORDER BY (see stringagg.go).
	sep   string
	order []aggOrder
}

// aggState accumulates one aggregate over a group.
type aggState struct {
	agg   *aggregate
	count int64
	acc   types.Datum
	seen  map[string]bool
}

func (c *compiler) aggregate(n *ast.AggregateFuncExpr) (*scalar, error) {
	if c.aggs == nil {
		return nil, pgerror.New(pgerror.CodeGroupingError, "aggregate functions are not allowed here")
	}
	// The argument reads input rows and may not aggregate again.
	inner := &compiler{scope: c.scope, params: c.params, session: c.session, excludedOffset: -1, q: c.q}
	args := n.Args
	var sep string
	if n.F == ast.AggFuncGroupConcat {
		// The dialect's spelling of string_agg(x, 'sep'): the separator comes last.
		var err error
		if args, sep, err = stringAggSeparator(args); err != nil {
			return nil, err
		}
	} else if n.Order != nil {
		return nil, pgerror.Unsupported("ORDER BY in aggregate " + n.F)
	}
	a, err := buildAggregate(inner, n.F, args, n.Distinct)
	if err != nil {
		return nil, err
	}
	if n.F == ast.AggFuncGroupConcat {
		a.sep = sep
		if a.order, err = compileAggOrder(inner, n.Order); err != nil {
			return nil, err
		}
	}
	slot := len(*c.aggs)
	*c.aggs = append(*c.aggs, a)
	return &scalar{typ: a.typ, colOrd: -1, eval: func(_ *evalCtx, row []types.Datum) (types.Datum, error) {
		return row[slot], nil
	}}, nil
}

// buildAggregate compiles an aggregate function's argument with inner and settles its result
// type.
func buildAggregate(inner *compiler, name string, args []ast.ExprNode, distinct bool) (*aggregate, error) {
	a := &aggregate{name: name, distinct: distinct}
	// tidb spells count(*) as count(1), which counts every row as well.
	if !(name == "count" && len(args) == 0) {
		if len(args) != 1 {
			return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function %s with %d arguments does not exist", name, len(args))
		}
		arg, err := inner.compile(args[0])
		if err != nil {
			return nil, err
		}
		if arg.untyped {
			arg, _ = coerce(arg, types.String)
		}
		a.arg = arg
	}
	switch name {
	case "count":
		a.typ = types.Int8
	case "sum":
		switch a.arg.typ.Family {
		case types.IntFamily:
			if a.arg.typ.Width == 64 {
				a.typ = types.Numeric
			} else {
				a.typ = types.Int8
			}
		case types.FloatFamily:
			a.typ = types.Float8
		case types.DecimalFamily:
			a.typ = types.Numeric
		case types.IntervalFamily:
			a.typ = types.IntervalT
		default:
			return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function sum(%s) does not exist", a.arg.typ.String())
		}
	case "avg":
		switch a.arg.typ.Family {
		case types.IntFamily, types.DecimalFamily:
			a.typ = types.Numeric
		case types.FloatFamily:
			a.typ = types.Float8
		case types.IntervalFamily:
			a.typ = types.IntervalT
		default:
			return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function avg(%s) does not exist", a.arg.typ.String())
		}
	case "min", "max":
		a.typ = a.arg.typ
	case ast.AggFuncGroupConcat:
		a.typ = types.String
	default:
		return nil, pgerror.Unsupported("aggregate function " + name)
	}
	return a, nil
}

func newAggState(a *aggregate) *aggState {
	s := &aggState{agg: a}
	if a.distinct {
		s.seen = map[string]bool{}
	}
	return s
}

func (s *aggState) add(ec *evalCtx, row []types.Datum) error {
	a := s.agg
	if a.arg == nil {
		s.count++
		return nil
	}
	v, err := a.arg.eval(ec, row)
	if err != nil || v == nil {
		return err
	}
	if s.seen != nil {
		k := string(types.AppendGroupKey(nil, a.arg.typ, v))
		if s.seen[k] {
			return nil
		}
		s.seen[k] = true
	}
	s.count++
	switch a.name {
	case "count":
		return nil
	case ast.AggFuncGroupConcat:
		return s.addString(ec, row, v)
	case "min", "max":
		if s.acc == nil {
			s.acc = v
			return nil
		}
		c := types.Compare(a.arg.typ, v, s.acc)
		if a.name == "min" && c < 0 || a.name == "max" && c > 0 {
			s.acc = v
		}
		return nil
	}
	// sum and avg accumulate in the result type (numeric, float8, int8 or interval).
	sumT := a.typ
	cv, err := types.Cast(v, a.arg.typ, sumT)
	if err != nil {
		return err
	}
	if s.acc == nil {
		s.acc = cv
		return nil
	}
	_, s.acc, err = types.BinaryOp("+", sumT, s.acc, sumT, cv)
	return err
}

func (s *aggState) result() (types.Datum, error) {
	switch s.agg.name {
	case "count":
		return s.count, nil
	case ast.AggFuncGroupConcat:
		return s.stringResult()
	case "avg":
		if s.count == 0 {
			return nil, nil
		}
		switch s.agg.typ.Family {
		case types.FloatFamily:
			return s.acc.(float64) / float64(s.count), nil
		case types.IntervalFamily:
			_, out, err := types.BinaryOp("/", types.IntervalT, s.acc, types.Int8, s.count)
			return out, err
		}
		_, out, err := types.BinaryOp("/", types.Numeric, s.acc, types.Numeric, apd.New(s.count, 0))
		return out, err
	}
	return s.acc, nil
}
