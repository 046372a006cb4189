package sql

import (
	"math"
	"slices"
	"strings"

	"github.com/cockroachdb/apd/v3"
	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
)

// aggregate is one aggregate function call of a query.
type aggregate struct {
	name string
	arg  *scalar   // the first argument; nil for count(*)
	args []*scalar // every argument: string_agg's delimiter, json_object_agg's value
	// distinct keeps one of each distinct argument list.
	distinct bool
	// order is ORDER BY inside the call: the input is sorted before it is aggregated.
	order []windowOrder
	typ   types.T
	// argExprs are the arguments as written, which ORDER BY under DISTINCT must repeat.
	argExprs []ast.ExprNode
}

// aggState accumulates one aggregate over a group. result may be called more than once,
// with more rows added in between (a window's running aggregate), so it never consumes the
// state.
type aggState struct {
	agg   *aggregate
	count int64
	acc   types.Datum
	seen  map[string]bool
	// Float statistics, accumulated as PostgreSQL's float8_accum does (Youngs-Cramer).
	n, sx, sxx float64
	// Numeric statistics: exact sums of the values and of their squares.
	sumX, sumX2 *apd.Decimal
	// vals are the argument lists of a collecting aggregate (array_agg, string_agg, the
	// JSON aggregates); pending are the argument lists and sort keys of an ordered
	// aggregate, sorted and aggregated when the result is asked for.
	vals    [][]types.Datum
	pending [][]types.Datum
	str     strings.Builder
	// held is the memory charged to the statement's budget for collected values.
	held int64
	mem  *memAccount
}

// collectingAggs keep their inputs; nullInputAggs see rows whose first argument is NULL.
var (
	collectingAggs = map[string]bool{"array_agg": true, "json_agg": true, "jsonb_agg": true,
		"json_object_agg": true, "jsonb_object_agg": true}
	nullInputAggs = map[string]bool{"array_agg": true, "json_agg": true, "jsonb_agg": true,
		"json_object_agg": true, "jsonb_object_agg": true}
)

// aggregateNames are the aggregate functions buildAggregate knows, for the parser's sake
// and for window functions.
var aggregateNames = map[string]bool{
	"count": true, "sum": true, "avg": true, "min": true, "max": true,
	"bit_and": true, "bit_or": true, "bit_xor": true, "bool_and": true, "bool_or": true, "every": true,
	"stddev": true, "stddev_samp": true, "stddev_pop": true, "variance": true, "var_samp": true, "var_pop": true,
	"array_agg": true, "string_agg": true, "json_agg": true, "jsonb_agg": true,
	"json_object_agg": true, "jsonb_object_agg": true,
}

func (c *compiler) aggregate(n *ast.AggregateFuncExpr) (*scalar, error) {
	if c.aggs == nil {
		return nil, pgerror.New(pgerror.CodeGroupingError, "aggregate functions are not allowed here")
	}
	// The argument reads input rows and may not aggregate again.
	inner := &compiler{scope: c.scope, params: c.params, session: c.session, excludedOffset: -1, q: c.q}
	a, err := buildAggregate(inner, strings.ToLower(n.F), n.Args, n.Distinct)
	if err != nil {
		return nil, err
	}
	if n.Order != nil {
		if err := a.setOrder(inner, n.Order); err != nil {
			return nil, err
		}
	}
	slot := len(*c.aggs)
	*c.aggs = append(*c.aggs, a)
	return &scalar{typ: a.typ, colOrd: -1, eval: func(_ *evalCtx, row []types.Datum) (types.Datum, error) {
		return row[slot], nil
	}}, nil
}

// setOrder compiles ORDER BY inside an aggregate call. With DISTINCT, PostgreSQL requires
// the sort keys to be arguments, since rows equal on the arguments could sort apart.
func (a *aggregate) setOrder(inner *compiler, ob *ast.OrderByClause) error {
	for _, item := range ob.Items {
		s, err := inner.compile(item.Expr)
		if err != nil {
			return err
		}
		if s.untyped {
			s, _ = coerce(s, types.String)
		}
		if a.distinct {
			found := false
			text := exprText(item.Expr)
			for _, arg := range a.argExprs {
				found = found || exprText(arg) == text
			}
			if !found {
				return pgerror.New(pgerror.CodeInvalidColumnReference, "in an aggregate with DISTINCT, ORDER BY expressions must appear in argument list")
			}
		}
		a.order = append(a.order, windowOrder{e: s, desc: item.Desc})
	}
	return nil
}

// buildAggregate compiles an aggregate function's arguments with inner and settles its
// result type.
func buildAggregate(inner *compiler, name string, args []ast.ExprNode, distinct bool) (*aggregate, error) {
	a := &aggregate{name: name, distinct: distinct, argExprs: args}
	// tidb spells count(*) as count(1), which counts every row as well.
	if name == "count" && len(args) == 0 {
		a.typ = types.Int8
		return a, nil
	}
	arity := 1
	switch name {
	case "string_agg", "json_object_agg", "jsonb_object_agg":
		arity = 2
	}
	if !aggregateNames[name] {
		return nil, pgerror.Unsupported("aggregate function " + name)
	}
	// The wanted type of an untyped argument: booleans for the boolean aggregates, and
	// string_agg's delimiter follows its value.
	want := types.Unknown
	switch name {
	case "bool_and", "bool_or", "every":
		want = types.Bool
	}
	for _, e := range args {
		s, err := inner.compileWant(e, want)
		if err != nil {
			return nil, err
		}
		a.args = append(a.args, s)
	}
	if len(a.args) != arity {
		return nil, noSuchFunction(name, a.args)
	}
	if name == "string_agg" {
		if f := a.args[0].typ.Family; !a.args[0].untyped && f != types.StringFamily && f != types.BytesFamily {
			return nil, noSuchFunction(name, a.args) // no implicit cast to text or bytea
		}
		switch {
		case a.args[0].untyped && !a.args[1].untyped:
			a.args[0], _ = coerce(a.args[0], a.args[1].typ)
		case a.args[1].untyped:
			t := a.args[0].typ
			if a.args[0].untyped {
				t = types.String
			}
			var err error
			if a.args[1], err = coerce(a.args[1], t); err != nil {
				return nil, err
			}
		}
	}
	for i, s := range a.args {
		if s.untyped {
			a.args[i], _ = coerce(s, types.String)
		}
	}
	a.arg = a.args[0]
	t := a.arg.typ
	notExist := func() error { return noSuchFunction(name, a.args) }
	switch name {
	case "count":
		a.typ = types.Int8
	case "sum":
		switch t.Family {
		case types.IntFamily:
			if t.Width == 64 {
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
			return nil, notExist()
		}
	case "avg":
		switch t.Family {
		case types.IntFamily, types.DecimalFamily:
			a.typ = types.Numeric
		case types.FloatFamily:
			a.typ = types.Float8
		case types.IntervalFamily:
			a.typ = types.IntervalT
		default:
			return nil, notExist()
		}
	case "min", "max":
		a.typ = t
	case "bit_and", "bit_or", "bit_xor":
		if t.Family != types.IntFamily {
			return nil, notExist()
		}
		a.typ = t
	case "bool_and", "bool_or", "every":
		if t.Family != types.BoolFamily {
			return nil, notExist()
		}
		a.typ = types.Bool
	case "stddev", "stddev_samp", "stddev_pop", "variance", "var_samp", "var_pop":
		switch t.Family {
		case types.IntFamily, types.DecimalFamily:
			a.typ = types.Numeric
		case types.FloatFamily:
			a.typ = types.Float8
		default:
			return nil, notExist()
		}
	case "array_agg":
		if t.Family == types.ArrayFamily {
			return nil, pgerror.Unsupported("array_agg of arrays (multidimensional arrays)")
		}
		a.typ = types.ArrayOf(t)
	case "string_agg":
		dt := a.args[1].typ
		switch {
		case t.Family == types.StringFamily && dt.Family == types.StringFamily:
			a.typ = types.String
		case t.Family == types.BytesFamily && dt.Family == types.BytesFamily:
			a.typ = types.Bytes
		default:
			return nil, notExist()
		}
	case "json_agg", "json_object_agg":
		a.typ = types.JSONT
	case "jsonb_agg", "jsonb_object_agg":
		a.typ = types.JSONB
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

// charge counts n bytes of collected values against the statement's memory budget.
func (s *aggState) charge(ec *evalCtx, n int64) error {
	if ec == nil || ec.x == nil {
		return nil
	}
	s.mem = ec.x.mem
	if err := s.mem.grow(n); err != nil {
		return err
	}
	s.held += n
	return nil
}

// release returns the state's memory to the budget once its result is no longer needed.
func (s *aggState) release() {
	s.mem.shrink(s.held)
	s.held = 0
}

func (s *aggState) add(ec *evalCtx, row []types.Datum) error {
	a := s.agg
	if a.arg == nil {
		s.count++
		return nil
	}
	vals := make([]types.Datum, len(a.args), len(a.args)+len(a.order))
	for i, arg := range a.args {
		v, err := arg.eval(ec, row)
		if err != nil {
			return err
		}
		vals[i] = v
	}
	if len(a.order) > 0 {
		for _, o := range a.order {
			v, err := o.e.eval(ec, row)
			if err != nil {
				return err
			}
			vals = append(vals, v)
		}
		if err := s.charge(ec, rowSize(vals)+24); err != nil {
			return err
		}
		s.pending = append(s.pending, vals)
		return nil
	}
	return s.addValues(ec, vals)
}

// addValues aggregates one row's argument values.
func (s *aggState) addValues(ec *evalCtx, vals []types.Datum) error {
	a := s.agg
	v := vals[0]
	if v == nil && !nullInputAggs[a.name] {
		return nil
	}
	if s.seen != nil {
		var k []byte
		for i, arg := range a.args {
			k = types.AppendGroupKey(k, arg.typ, vals[i])
		}
		if s.seen[string(k)] {
			return nil
		}
		if err := s.charge(ec, int64(len(k))+16); err != nil {
			return err
		}
		s.seen[string(k)] = true
	}
	s.count++
	t := a.arg.typ
	switch a.name {
	case "count":
		return nil
	case "min", "max":
		if s.acc == nil {
			s.acc = v
			return nil
		}
		c := types.Compare(t, v, s.acc)
		if a.name == "min" && c < 0 || a.name == "max" && c > 0 {
			s.acc = v
		}
		return nil
	case "bit_and", "bit_or", "bit_xor":
		x := v.(int64)
		if s.acc == nil {
			s.acc = x
			return nil
		}
		acc := s.acc.(int64)
		switch a.name {
		case "bit_and":
			s.acc = acc & x
		case "bit_or":
			s.acc = acc | x
		default:
			s.acc = acc ^ x
		}
		return nil
	case "bool_and", "every", "bool_or":
		b := v.(bool)
		if s.acc == nil {
			s.acc = b
		} else if a.name == "bool_or" {
			s.acc = s.acc.(bool) || b
		} else {
			s.acc = s.acc.(bool) && b
		}
		return nil
	case "stddev", "stddev_samp", "stddev_pop", "variance", "var_samp", "var_pop":
		return s.addStatistic(t, v)
	case "string_agg":
		if err := s.charge(ec, datumSize(v)+datumSize(vals[1])+32); err != nil {
			return err
		}
		if s.count > 1 && vals[1] != nil {
			s.str.Write(bytesOf(vals[1]))
		}
		s.str.Write(bytesOf(v))
		return nil
	}
	if collectingAggs[a.name] {
		if a.name == "json_object_agg" || a.name == "jsonb_object_agg" {
			if v == nil {
				if a.name == "json_object_agg" {
					return pgerror.New("22004", "null value not allowed for object key")
				}
				return pgerror.New(pgerror.CodeInvalidParameterValue, "field name must not be null")
			}
		}
		if err := s.charge(ec, rowSize(vals)+24); err != nil {
			return err
		}
		s.vals = append(s.vals, vals)
		return nil
	}
	// sum and avg accumulate in the result type (numeric, float8, int8 or interval).
	sumT := a.typ
	cv, err := types.Cast(v, t, sumT)
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

// addStatistic accumulates a value for the variance and standard deviation aggregates.
func (s *aggState) addStatistic(t types.T, v types.Datum) error {
	if t.Family == types.FloatFamily {
		x := v.(float64)
		oldN := s.n
		s.n++
		s.sx += x
		if oldN > 0 {
			tmp := x*s.n - s.sx
			s.sxx += tmp * tmp / (s.n * oldN)
			if math.IsInf(s.sx, 0) || math.IsInf(s.sxx, 0) {
				if !math.IsInf(s.sx-x, 0) && !math.IsInf(x, 0) {
					return pgerror.New(pgerror.CodeNumericValueOutOfRange, "value out of range: overflow")
				}
				s.sxx = math.NaN()
			}
		} else if math.IsNaN(x) || math.IsInf(x, 0) {
			s.sxx = math.NaN()
		}
		return nil
	}
	d, err := types.Cast(v, t, types.Numeric)
	if err != nil {
		return err
	}
	_, sq, err := types.BinaryOp("*", types.Numeric, d, types.Numeric, d)
	if err != nil {
		return err
	}
	if s.sumX == nil {
		s.sumX, s.sumX2 = d.(*apd.Decimal), sq.(*apd.Decimal)
		return nil
	}
	_, x, err := types.BinaryOp("+", types.Numeric, s.sumX, types.Numeric, d)
	if err != nil {
		return err
	}
	_, x2, err := types.BinaryOp("+", types.Numeric, s.sumX2, types.Numeric, sq)
	if err != nil {
		return err
	}
	s.sumX, s.sumX2 = x.(*apd.Decimal), x2.(*apd.Decimal)
	return nil
}

// statistic is the variance or standard deviation, sample or population, as PostgreSQL's
// float8_var_samp and numeric_stddev_internal compute them.
func (s *aggState) statistic() (types.Datum, error) {
	name := s.agg.name
	sample := name == "stddev" || name == "stddev_samp" || name == "variance" || name == "var_samp"
	root := strings.HasPrefix(name, "stddev")
	if s.agg.typ.Family == types.FloatFamily {
		if s.n == 0 || sample && s.n == 1 {
			return nil, nil
		}
		den := s.n
		if sample {
			den = s.n - 1
		}
		v := s.sxx / den
		if root {
			return math.Sqrt(v), nil
		}
		return v, nil
	}
	n := s.count
	if n == 0 || sample && n == 1 {
		return nil, nil
	}
	if nan(s.sumX) || nan(s.sumX2) {
		return &apd.Decimal{Form: apd.NaN}, nil
	}
	// (N·Σx² − (Σx)²) / (N·(N−1)) for the sample, / N² for the population.
	nd := apd.New(n, 0)
	_, sq, err := types.BinaryOp("*", types.Numeric, s.sumX, types.Numeric, s.sumX)
	if err != nil {
		return nil, err
	}
	_, nx2, err := types.BinaryOp("*", types.Numeric, nd, types.Numeric, s.sumX2)
	if err != nil {
		return nil, err
	}
	_, num, err := types.BinaryOp("-", types.Numeric, nx2, types.Numeric, sq)
	if err != nil {
		return nil, err
	}
	if num.(*apd.Decimal).Sign() <= 0 {
		return apd.New(0, 0), nil // rounding cannot make a variance negative
	}
	den := apd.New(n*n, 0)
	if sample {
		den = apd.New(n*(n-1), 0)
	}
	_, v, err := types.BinaryOp("/", types.Numeric, num, types.Numeric, den)
	if err != nil || !root {
		return v, err
	}
	vd := v.(*apd.Decimal)
	return decimalResult(types.SqrtNumericScale(vd, types.Scale(vd)))
}

func nan(d *apd.Decimal) bool { return d != nil && (d.Form == apd.NaN || d.Form == apd.NaNSignaling) }

func (s *aggState) result() (types.Datum, error) {
	if len(s.agg.order) > 0 {
		return s.orderedResult()
	}
	a := s.agg
	switch a.name {
	case "count":
		return s.count, nil
	case "avg":
		if s.count == 0 {
			return nil, nil
		}
		switch a.typ.Family {
		case types.FloatFamily:
			return s.acc.(float64) / float64(s.count), nil
		case types.IntervalFamily:
			_, out, err := types.BinaryOp("/", types.IntervalT, s.acc, types.Int8, s.count)
			return out, err
		}
		_, out, err := types.BinaryOp("/", types.Numeric, s.acc, types.Numeric, apd.New(s.count, 0))
		return out, err
	case "stddev", "stddev_samp", "stddev_pop", "variance", "var_samp", "var_pop":
		return s.statistic()
	case "string_agg":
		if s.count == 0 {
			return nil, nil
		}
		if a.typ.Family == types.BytesFamily {
			return []byte(s.str.String()), nil
		}
		return s.str.String(), nil
	case "array_agg":
		if len(s.vals) == 0 {
			return nil, nil
		}
		elems := make([]types.Datum, len(s.vals))
		for i, v := range s.vals {
			elems[i] = v[0]
		}
		return types.Array{Elems: elems}, nil
	case "json_agg", "jsonb_agg", "json_object_agg", "jsonb_object_agg":
		if len(s.vals) == 0 {
			return nil, nil
		}
		return s.jsonResult()
	}
	return s.acc, nil
}

// orderedResult sorts the pending rows by the call's ORDER BY and aggregates them in that
// order, leaving the pending rows for later calls.
func (s *aggState) orderedResult() (types.Datum, error) {
	a := s.agg
	rows := slices.Clone(s.pending)
	na := len(a.args)
	slices.SortStableFunc(rows, func(x, y []types.Datum) int {
		for j, o := range a.order {
			c := types.Compare(o.e.typ, x[na+j], y[na+j])
			if o.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	plain := *a
	plain.order = nil
	st := newAggState(&plain)
	for _, r := range rows {
		if err := st.addValues(nil, r[:na]); err != nil {
			return nil, err
		}
	}
	return st.result()
}

// jsonResult builds json_agg's array or json_object_agg's object. The json forms keep
// PostgreSQL's text layout ("[1, 2]", "{ "k" : v }"); the jsonb forms are documents.
func (s *aggState) jsonResult() (types.Datum, error) {
	a := s.agg
	object := strings.HasSuffix(a.name, "_object_agg")
	valIdx := 0
	if object {
		valIdx = 1
	}
	vt := a.args[valIdx].typ
	if a.typ.Family == types.JSONBFamily {
		var keys []string
		elems := make([]types.JSON, len(s.vals))
		for i, v := range s.vals {
			j, err := types.ToJSON(vt, v[valIdx])
			if err != nil {
				return nil, err
			}
			elems[i] = j
			if object {
				keys = append(keys, textOf(a.args[0].typ, v[0]))
			}
		}
		if object {
			return types.JSONObjectOf(keys, elems), nil
		}
		return types.JSONArrayOf(elems...), nil
	}
	var sb strings.Builder
	if object {
		sb.WriteString("{ ")
	} else {
		sb.WriteByte('[')
	}
	for i, v := range s.vals {
		if i > 0 {
			sb.WriteString(", ")
		}
		if object {
			sb.Write(types.AppendJSON(nil, types.JSONStringOf(textOf(a.args[0].typ, v[0]))))
			sb.WriteString(" : ")
		}
		if err := appendJSONText(&sb, vt, v[valIdx]); err != nil {
			return nil, err
		}
	}
	if object {
		sb.WriteString(" }")
	} else {
		sb.WriteByte(']')
	}
	return sb.String(), nil
}

// appendJSONText writes a value as to_json shows it: json text as it was given, anything
// else converted.
func appendJSONText(sb *strings.Builder, t types.T, d types.Datum) error {
	if s, ok := d.(string); ok && t.Family == types.JSONFamily {
		sb.WriteString(s)
		return nil
	}
	j, err := types.ToJSON(t, d)
	if err != nil {
		return err
	}
	sb.Write(types.AppendJSON(nil, j))
	return nil
}
