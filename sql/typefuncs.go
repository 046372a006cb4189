package sql

import (
	"strings"
	"time"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/sql/parser"
	"github.com/meridiandb/meridian/sql/pgdialect"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
)

// The functions and operators of the time, interval, JSON and array types. The dialect
// spells PostgreSQL's operators that tidb lacks as calls: meridian_op('->', l, r),
// meridian_any('=', l, arr), meridian_array(...), meridian_subscript(a, i),
// meridian_slice(a, lo, hi) and meridian_extract('field', x).

// typeFuncs compiles the calls of this file; ok is false for a name it does not own.
func (c *compiler) typeFuncs(n *ast.FuncCallExpr, name string, want types.T) (s *scalar, ok bool, err error) {
	switch name {
	case "meridian_op":
		s, err = c.otherOp(n)
	case "meridian_any", "meridian_all":
		s, err = c.anyAll(n, name == "meridian_all")
	case "meridian_array":
		s, err = c.arrayConstructor(n, want)
	case "meridian_subscript", "meridian_slice":
		s, err = c.subscript(n, name == "meridian_slice")
	case pgdialect.FieldCall:
		s, err = c.fieldSelection(n)
	case "meridian_extract", "date_part", "date_trunc":
		s, err = c.datePart(n, name)
	case "timezone":
		s, err = c.atTimeZone(n)
	case "age":
		s, err = c.age(n)
	case "justify_hours", "justify_days", "justify_interval":
		s, err = c.justify(n, name)
	case "localtime":
		s = &scalar{typ: types.Time, colOrd: -1, eval: func(ec *evalCtx, _ []types.Datum) (types.Datum, error) {
			return types.CastWith(ec.txnTime, types.TimestampTZ, types.Time, ec.settings())
		}}
	case "current_time":
		err = pgerror.New(pgerror.CodeFeatureNotSupported, "type time with time zone is not supported: current_time returns it; use localtime")
	case "jsonb_build_object", "json_build_object", "jsonb_build_array", "json_build_array":
		s, err = c.jsonBuild(n, name)
	case "to_jsonb", "to_json", "jsonb_typeof", "json_typeof", "jsonb_array_length", "json_array_length":
		s, err = c.jsonUnary(n, name)
	case "jsonb_extract_path", "jsonb_extract_path_text", "json_extract_path", "json_extract_path_text":
		s, err = c.jsonExtractPath(n, name)
	case "array_length", "cardinality", "array_upper", "array_lower", "array_ndims", "array_append",
		"array_prepend", "array_cat", "array_position", "array_remove", "array_to_string":
		s, err = c.arrayFunc(n, name)
	case "string_to_array":
		s, err = c.stringToArray(n)
	case "array_agg", "jsonb_agg", "json_agg", "jsonb_object_agg", "json_object_agg", "string_agg",
		"bool_and", "bool_or", "every", "stddev", "variance":
		// tidb's grammar knows these only as plain calls.
		s, err = c.aggregate(&ast.AggregateFuncExpr{F: name, Args: n.Args})
	case "regexp_matches":
		err = pgerror.Unsupported("set-returning functions such as regexp_matches()").
			WithHint("regexp_match() returns the first match as an array.")
	case "jsonb_array_elements", "jsonb_array_elements_text", "jsonb_each", "jsonb_each_text",
		"jsonb_object_keys", "json_array_elements", "json_each", "json_object_keys",
		"regexp_split_to_table", "string_to_table":
		err = pgerror.Unsupported("set-returning functions such as " + name + "()")
	default:
		return nil, false, nil
	}
	return s, true, err
}

// opName reads the string literal naming the operator in the dialect's calls.
func opName(e ast.ExprNode) (string, error) {
	v, ok := e.(*parser.Value)
	if !ok {
		return "", pgerror.New(pgerror.CodeInternalError, "operator name must be a literal")
	}
	s, ok := v.Val.(string)
	if !ok {
		return "", pgerror.New(pgerror.CodeInternalError, "operator name must be a string")
	}
	return s, nil
}

func wantCallArgs(n *ast.FuncCallExpr, count int) error {
	if len(n.Args) != count {
		return pgerror.New(pgerror.CodeInternalError, "%s takes %d arguments", n.FnName.L, count)
	}
	return nil
}

// otherOp compiles the JSON and containment operators. The right operand's type follows
// the operator: -> takes an integer or text, the path operators and ?| ?& text[], ? text;
// @>, <@ and && take both sides of one type, so an untyped side takes the other's.
func (c *compiler) otherOp(n *ast.FuncCallExpr) (*scalar, error) {
	if err := wantCallArgs(n, 3); err != nil {
		return nil, err
	}
	op, err := opName(n.Args[0])
	if err != nil {
		return nil, err
	}
	if _, ok := regexOps[op]; ok {
		return c.regexMatch(op, n.Args[1], n.Args[2])
	}
	var l, r *scalar
	switch op {
	case "@>", "<@", "&&":
		if l, r, err = c.unify(n.Args[1], n.Args[2]); err != nil {
			return nil, err
		}
	default:
		if l, err = c.compile(n.Args[1]); err != nil {
			return nil, err
		}
		if l.untyped {
			if l, err = coerce(l, types.JSONB); err != nil {
				return nil, err
			}
		}
		rwant := types.String
		switch op {
		case "->", "->>":
			rwant = types.Unknown
		case "#>", "#>>", "?|", "?&":
			rwant = types.ArrayOf(types.String)
		}
		if r, err = c.compileWant(n.Args[2], rwant); err != nil {
			return nil, err
		}
	}
	if l.untyped && r.untyped {
		l, _ = coerce(l, types.String)
	}
	if r.untyped {
		if r, err = coerce(r, types.String); err != nil {
			return nil, err
		}
	}
	lt, rt := l.typ, r.typ
	resT, _, err := types.BinaryOp(op, lt, nil, rt, nil)
	if err != nil {
		return nil, err
	}
	return c.derived(resT, []*scalar{l, r}, func(v []types.Datum) (types.Datum, error) {
		_, out, err := types.BinaryOp(op, lt, v[0], rt, v[1])
		return out, err
	}, true), nil
}

// anyAll compiles l op ANY (arr) and l op ALL (arr). A parameter for the array takes the
// array of l's type, as pgx's = ANY($1) with a slice needs.
func (c *compiler) anyAll(n *ast.FuncCallExpr, all bool) (*scalar, error) {
	if err := wantCallArgs(n, 3); err != nil {
		return nil, err
	}
	op, err := opName(n.Args[0])
	if err != nil {
		return nil, err
	}
	l, err := c.compile(n.Args[1])
	if err != nil {
		return nil, err
	}
	awant := types.Unknown
	if !l.untyped {
		awant = types.ArrayOf(l.typ)
	}
	r, err := c.compileWant(n.Args[2], awant)
	if err != nil {
		return nil, err
	}
	if r.untyped {
		if r, err = coerce(r, types.ArrayOf(types.String)); err != nil {
			return nil, err
		}
	}
	if r.typ.Family != types.ArrayFamily {
		return nil, pgerror.New("42809", "op ANY/ALL (array) requires array on right side")
	}
	elem := r.typ.ElemType()
	if l.untyped {
		if l, err = coerce(l, elem); err != nil {
			return nil, err
		}
	}
	lt := l.typ
	if _, _, err := types.BinaryOp(op, lt, nil, elem, nil); err != nil {
		return nil, err
	}
	return c.derived(types.Bool, []*scalar{l, r}, func(v []types.Datum) (types.Datum, error) {
		if v[1] == nil {
			return nil, nil
		}
		arr := v[1].(types.Array)
		if len(arr.Elems) == 0 {
			return all, nil // true for ALL, false for ANY, whatever the left side
		}
		if v[0] == nil {
			return nil, nil
		}
		sawNull := false
		for _, e := range arr.Elems {
			_, res, err := types.BinaryOp(op, lt, v[0], elem, e)
			if err != nil {
				return nil, err
			}
			if res == nil {
				sawNull = true
				continue
			}
			if res.(bool) != all {
				return !all, nil // ANY found a match, or ALL a mismatch
			}
		}
		if sawNull {
			return nil, nil
		}
		return all, nil
	}, false), nil
}

// commonElemType picks the element type of ARRAY[...] from its typed elements: numbers
// widen to the widest (float, then numeric, then the widest integer), string kinds to text,
// dates and timestamps to the latest of date, timestamp, timestamptz; other families must
// agree.
func commonElemType(elems []*scalar) (types.T, error) {
	t := types.Unknown
	for _, e := range elems {
		if e.untyped {
			continue
		}
		et := e.typ
		switch {
		case et.Family == types.ArrayFamily:
			return types.T{}, pgerror.Unsupported("multidimensional arrays")
		case t.Family == types.UnknownFamily:
			t = et
		case t.Family == et.Family && t.Family == types.StringFamily:
			if t != et {
				t = types.String
			}
		case t.Family == et.Family && t.Family == types.IntFamily:
			if et.Width > t.Width {
				t = et
			}
		case t.Family == et.Family && t.Family == types.DecimalFamily:
			t = types.Numeric
		case t.Family == et.Family && t.Family == types.FloatFamily:
			t = types.Float8
		case t.Family == et.Family:
		case isNumberFamily(t.Family) && isNumberFamily(et.Family):
			if t.Family == types.FloatFamily || et.Family == types.FloatFamily {
				t = types.Float8
			} else {
				t = types.Numeric
			}
		case isTimeFamily(t.Family) && isTimeFamily(et.Family):
			if et.Family > t.Family {
				t = et
			}
		default:
			return types.T{}, pgerror.New(pgerror.CodeDatatypeMismatch, "ARRAY types %s and %s cannot be matched", t.String(), et.String())
		}
	}
	return t, nil
}

func isNumberFamily(f types.Family) bool {
	return f == types.IntFamily || f == types.FloatFamily || f == types.DecimalFamily
}

func isTimeFamily(f types.Family) bool {
	return f == types.DateFamily || f == types.TimestampFamily || f == types.TimestampTZFamily
}

// arrayConstructor compiles ARRAY[a, b, ...].
func (c *compiler) arrayConstructor(n *ast.FuncCallExpr, want types.T) (*scalar, error) {
	ewant := types.Unknown
	if want.Family == types.ArrayFamily {
		ewant = want.ElemType()
	} else if len(n.Args) == 0 {
		return nil, pgerror.New(pgerror.CodeIndeterminateDatatype, "cannot determine type of empty array").
			WithHint("Explicitly cast to the desired type, for example ARRAY[]::integer[].")
	}
	elems := make([]*scalar, len(n.Args))
	for i, a := range n.Args {
		s, err := c.compileWant(a, ewant)
		if err != nil {
			return nil, err
		}
		elems[i] = s
	}
	et, err := commonElemType(elems)
	if err != nil {
		return nil, err
	}
	switch {
	case et.Family == types.UnknownFamily && ewant.Family != types.UnknownFamily:
		et = ewant
	case et.Family == types.UnknownFamily:
		et = types.String // all untyped: text, as in PostgreSQL
	}
	for i, e := range elems {
		if elems[i], err = c.toType(e, et); err != nil {
			return nil, err
		}
	}
	return c.derived(types.ArrayOf(et), elems, func(v []types.Datum) (types.Datum, error) {
		return types.Array{Elems: append([]types.Datum(nil), v...)}, nil
	}, false), nil
}

// subscript compiles a[i] and a[lo:hi]: 1-based, NULL out of range, as PostgreSQL reads.
func (c *compiler) subscript(n *ast.FuncCallExpr, slice bool) (*scalar, error) {
	if len(n.Args) != 2 && !slice || len(n.Args) != 3 && slice {
		return nil, pgerror.New(pgerror.CodeSyntaxError, "syntax error in array subscript")
	}
	if inner, ok := n.Args[0].(*ast.FuncCallExpr); ok && (inner.FnName.L == "meridian_subscript" || inner.FnName.L == "meridian_slice") {
		return nil, pgerror.Unsupported("multidimensional array subscripts (a[i][j])")
	}
	a, err := c.compile(n.Args[0])
	if err != nil {
		return nil, err
	}
	switch a.typ.Family {
	case types.ArrayFamily:
	case types.JSONBFamily:
		return nil, pgerror.New(pgerror.CodeFeatureNotSupported, "jsonb subscripting is not supported").
			WithHint("Use the -> operator: j -> 'key' or j -> 0.")
	default:
		return nil, pgerror.New(pgerror.CodeDatatypeMismatch, "cannot subscript type %s because it does not support subscripting", a.typ.String())
	}
	args := []*scalar{a}
	for _, e := range n.Args[1:] {
		s, err := c.compileWant(e, types.Int4)
		if err != nil {
			return nil, err
		}
		if s.typ.Family != types.IntFamily && !(s.constant && s.val == nil) {
			return nil, pgerror.New(pgerror.CodeDatatypeMismatch, "array subscript must have type integer")
		}
		args = append(args, s)
	}
	// Elements are numbered from 1, or from 0 in int2vector and oidvector.
	first := int64(1)
	if a.typ.ZeroBased {
		first = 0
	}
	if !slice {
		return c.derived(a.typ.ElemType(), args, func(v []types.Datum) (types.Datum, error) {
			return v[0].(types.Array).Subscript(v[1].(int64) + 1 - first), nil
		}, true), nil
	}
	openLo, openHi := isNullLiteral(n.Args[1]), isNullLiteral(n.Args[2])
	sliced := a.typ
	sliced.ZeroBased = false // a slice is numbered from 1
	return c.derived(sliced, args, func(v []types.Datum) (types.Datum, error) {
		if v[0] == nil || v[1] == nil && !openLo || v[2] == nil && !openHi {
			return nil, nil
		}
		lo, hi := int64(1), int64(len(v[0].(types.Array).Elems))
		if !openLo {
			lo = v[1].(int64) + 1 - first
		}
		if !openHi {
			hi = v[2].(int64) + 1 - first
		}
		return v[0].(types.Array).Slice(lo, hi), nil
	}, false), nil
}

func isNullLiteral(e ast.ExprNode) bool {
	v, ok := e.(*parser.Value)
	return ok && v.Val == nil
}

// stringArg compiles an argument that must be text, such as a field name.
func (c *compiler) stringArg(e ast.ExprNode, fn string) (*scalar, error) {
	s, err := c.compileWant(e, types.String)
	if err != nil {
		return nil, err
	}
	if s.typ.Family != types.StringFamily {
		return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function %s(%s, ...) does not exist", fn, s.typ.String())
	}
	return s, nil
}

// dateTimeArg compiles a date/time argument; an untyped literal is read as timestamp
// (interval when it parses as one and not as a timestamp), and a date is widened where the
// function works on timestamps.
func (c *compiler) dateTimeArg(e ast.ExprNode, fn string, dates bool) (*scalar, error) {
	s, err := c.compile(e)
	if err != nil {
		return nil, err
	}
	if s.untyped {
		ts := types.Timestamp
		if s.constant && s.val != nil {
			if _, err := types.ParseText(types.Timestamp, s.val.(string)); err != nil {
				if _, err := types.ParseInterval(s.val.(string)); err == nil {
					ts = types.IntervalT
				}
			}
		}
		return coerce(s, ts)
	}
	switch s.typ.Family {
	case types.TimestampFamily, types.TimestampTZFamily, types.IntervalFamily, types.TimeFamily:
		return s, nil
	case types.DateFamily:
		if dates {
			return s, nil
		}
		return castScalar(s, types.TimestampTZ), nil // date_trunc(date) is date_trunc(timestamptz)
	}
	return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function %s(unknown, %s) does not exist", fn, s.typ.String()).
		WithHint("No function matches the given name and argument types. You might need to add explicit type casts.")
}

// datePart compiles EXTRACT (numeric), date_part (double precision) and date_trunc.
func (c *compiler) datePart(n *ast.FuncCallExpr, name string) (*scalar, error) {
	display := name
	if name == "meridian_extract" {
		display = "extract"
	}
	if len(n.Args) == 3 && name == "date_trunc" {
		return nil, pgerror.Unsupported("date_trunc with a time zone")
	}
	if len(n.Args) != 2 {
		return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function %s with %d argument(s) does not exist", display, len(n.Args))
	}
	field, err := c.stringArg(n.Args[0], display)
	if err != nil {
		return nil, err
	}
	x, err := c.dateTimeArg(n.Args[1], display, name != "date_trunc")
	if err != nil {
		return nil, err
	}
	if name == "date_trunc" && x.typ.Family == types.TimeFamily {
		return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function date_trunc(unknown, time without time zone) does not exist")
	}
	xt := x.typ
	resT := types.Numeric
	switch name {
	case "date_part":
		resT = types.Float8
	case "date_trunc":
		resT = xt
	}
	eval := func(v []types.Datum, st *types.Settings) (types.Datum, error) {
		f := v[0].(string)
		switch name {
		case "date_part":
			return types.DatePartWith(f, xt, v[1], st)
		case "date_trunc":
			return types.DateTruncWith(f, xt, v[1], st)
		}
		return types.ExtractWith(f, xt, v[1], st)
	}
	if xt.Family == types.TimestampTZFamily {
		// The fields of an instant are those of its reading in the session time zone.
		return stableDerived(resT, []*scalar{field, x}, eval), nil
	}
	return c.derived(resT, []*scalar{field, x}, func(v []types.Datum) (types.Datum, error) {
		return eval(v, types.DefaultSettings)
	}, true), nil
}

// age compiles age(a, b) and age(a), which is age from midnight of the current date.
func (c *compiler) age(n *ast.FuncCallExpr) (*scalar, error) {
	if len(n.Args) < 1 || len(n.Args) > 2 {
		return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function age with %d argument(s) does not exist", len(n.Args))
	}
	var args []*scalar
	for _, e := range n.Args {
		s, err := c.dateTimeArg(e, "age", true)
		if err != nil {
			return nil, err
		}
		if !isTimeFamily(s.typ.Family) {
			return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function age(%s) does not exist", s.typ.String())
		}
		args = append(args, s)
	}
	if len(args) == 2 {
		return c.derived(types.IntervalT, args, func(v []types.Datum) (types.Datum, error) {
			return types.Age(v[0].(time.Time), v[1].(time.Time))
		}, true), nil
	}
	arg := args[0]
	return &scalar{typ: types.IntervalT, colOrd: -1, eval: func(ec *evalCtx, row []types.Datum) (types.Datum, error) {
		v, err := arg.eval(ec, row)
		if err != nil || v == nil {
			return nil, err
		}
		y, m, d := ec.txnTime.UTC().Date()
		return types.Age(time.Date(y, m, d, 0, 0, 0, 0, time.UTC), v.(time.Time))
	}}, nil
}

func (c *compiler) justify(n *ast.FuncCallExpr, name string) (*scalar, error) {
	if len(n.Args) != 1 {
		return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function %s with %d argument(s) does not exist", name, len(n.Args))
	}
	arg, err := c.compileWant(n.Args[0], types.IntervalT)
	if err != nil {
		return nil, err
	}
	if arg.typ.Family != types.IntervalFamily {
		return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function %s(%s) does not exist", name, arg.typ.String())
	}
	fn := map[string]func(types.Interval) (types.Interval, error){
		"justify_hours": types.JustifyHours, "justify_days": types.JustifyDays, "justify_interval": types.JustifyInterval,
	}[name]
	return c.derived(types.IntervalT, []*scalar{arg}, func(v []types.Datum) (types.Datum, error) {
		return fn(v[0].(types.Interval))
	}, true), nil
}

// jsonResult is a jsonb value as the json_* spelling of a function returns it (json text).
func jsonResult(name string, j types.JSON) (types.T, types.Datum) {
	if strings.HasPrefix(name, "json_") || name == "to_json" {
		return types.JSONT, string(types.AppendJSON(nil, j))
	}
	return types.JSONB, j
}

// untypedToText coerces untyped arguments to text, as PostgreSQL resolves unknown
// arguments of functions taking any type.
func untypedToText(args []*scalar) {
	for i, a := range args {
		if a.untyped {
			args[i], _ = coerce(a, types.String)
		}
	}
}

// jsonBuild compiles jsonb_build_object(k, v, ...) and jsonb_build_array(v, ...).
func (c *compiler) jsonBuild(n *ast.FuncCallExpr, name string) (*scalar, error) {
	args, err := c.args(n, types.Unknown)
	if err != nil {
		return nil, err
	}
	untypedToText(args)
	object := strings.HasSuffix(name, "_object")
	if object && len(args)%2 != 0 {
		return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "argument list must have even number of elements").
			WithHint("The arguments of " + name + "() must consist of alternating keys and values.")
	}
	ts := argTypes(args)
	resT, _ := jsonResult(name, types.JSON{})
	return c.derived(resT, args, func(v []types.Datum) (types.Datum, error) {
		var keys []string
		var vals []types.JSON
		for i, d := range v {
			if object && i%2 == 0 {
				if d == nil {
					return nil, pgerror.New("22004", "argument %d: key must not be null", i+1)
				}
				k, err := types.Cast(d, ts[i], types.String)
				if err != nil {
					return nil, err
				}
				keys = append(keys, k.(string))
				continue
			}
			j, err := types.ToJSON(ts[i], d)
			if err != nil {
				return nil, err
			}
			vals = append(vals, j)
		}
		var out types.JSON
		if object {
			out = types.JSONObjectOf(keys, vals)
		} else {
			out = types.JSONArrayOf(vals...)
		}
		_, res := jsonResult(name, out)
		return res, nil
	}, false), nil
}

// jsonArg compiles an argument that must be json or jsonb; an untyped literal is jsonb.
func (c *compiler) jsonArg(e ast.ExprNode, fn string) (*scalar, error) {
	s, err := c.compileWant(e, types.JSONB)
	if err != nil {
		return nil, err
	}
	if s.typ.Family != types.JSONBFamily && s.typ.Family != types.JSONFamily {
		return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function %s(%s) does not exist", fn, s.typ.String()).
			WithHint("No function matches the given name and argument types. You might need to add explicit type casts.")
	}
	return s, nil
}

func (c *compiler) jsonUnary(n *ast.FuncCallExpr, name string) (*scalar, error) {
	if len(n.Args) != 1 {
		return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function %s with %d argument(s) does not exist", name, len(n.Args))
	}
	if name == "to_jsonb" || name == "to_json" {
		arg, err := c.compile(n.Args[0])
		if err != nil {
			return nil, err
		}
		args := []*scalar{arg}
		untypedToText(args)
		at := args[0].typ
		resT, _ := jsonResult(name, types.JSON{})
		return c.derived(resT, args, func(v []types.Datum) (types.Datum, error) {
			j, err := types.ToJSON(at, v[0])
			if err != nil {
				return nil, err
			}
			_, res := jsonResult(name, j)
			return res, nil
		}, true), nil
	}
	arg, err := c.jsonArg(n.Args[0], name)
	if err != nil {
		return nil, err
	}
	resT := types.String
	if strings.HasSuffix(name, "_array_length") {
		resT = types.Int4
	}
	return c.derived(resT, []*scalar{arg}, func(v []types.Datum) (types.Datum, error) {
		j, err := types.AsJSON(v[0])
		if err != nil {
			return nil, err
		}
		if resT.Family == types.StringFamily {
			return j.TypeName(), nil
		}
		switch j.Kind {
		case types.JSONArray:
			return int64(len(j.Elems)), nil
		case types.JSONObject:
			return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "cannot get array length of a non-array")
		}
		return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "cannot get array length of a scalar")
	}, true), nil
}

// jsonExtractPath compiles jsonb_extract_path(j, VARIADIC path) and its _text form: #> and
// #>> as functions.
func (c *compiler) jsonExtractPath(n *ast.FuncCallExpr, name string) (*scalar, error) {
	if len(n.Args) < 1 {
		return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function %s() does not exist", name)
	}
	j, err := c.jsonArg(n.Args[0], name)
	if err != nil {
		return nil, err
	}
	args := []*scalar{j}
	for _, e := range n.Args[1:] {
		s, err := c.stringArg(e, name)
		if err != nil {
			return nil, err
		}
		args = append(args, s)
	}
	op := "#>"
	if strings.HasSuffix(name, "_text") {
		op = "#>>"
	}
	jt := j.typ
	resT, _, err := types.BinaryOp(op, jt, nil, types.ArrayOf(types.String), nil)
	if err != nil {
		return nil, err
	}
	return c.derived(resT, args, func(v []types.Datum) (types.Datum, error) {
		if v[0] == nil {
			return nil, nil
		}
		path := types.Array{Elems: v[1:]}
		_, out, err := types.BinaryOp(op, jt, v[0], types.ArrayOf(types.String), path)
		return out, err
	}, false), nil
}

// arrayFunc compiles the array functions. An untyped argument takes the array type or its
// element type, whichever its position wants.
func (c *compiler) arrayFunc(n *ast.FuncCallExpr, name string) (*scalar, error) {
	arity := map[string][2]int{
		"array_length": {2, 2}, "cardinality": {1, 1}, "array_upper": {2, 2}, "array_lower": {2, 2}, "array_ndims": {1, 1},
		"array_append": {2, 2}, "array_prepend": {2, 2}, "array_cat": {2, 2}, "array_position": {2, 2}, "array_remove": {2, 2},
		"array_to_string": {2, 3},
	}[name]
	if len(n.Args) < arity[0] || len(n.Args) > arity[1] {
		return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function %s with %d argument(s) does not exist", name, len(n.Args))
	}
	arrIdx := 0
	if name == "array_prepend" {
		arrIdx = 1
	}
	arr, err := c.compile(n.Args[arrIdx])
	if err != nil {
		return nil, err
	}
	args := make([]*scalar, len(n.Args))
	args[arrIdx] = arr
	for i, e := range n.Args {
		if i == arrIdx {
			continue
		}
		want := types.Int4
		switch {
		case name == "array_cat":
			want = typedOrUnknown(arr)
		case name == "array_to_string":
			want = types.String
		case name == "array_append" || name == "array_prepend" || name == "array_position" || name == "array_remove":
			if arr.typ.Family == types.ArrayFamily && !arr.untyped {
				want = arr.typ.ElemType()
			} else {
				want = types.Unknown
			}
		}
		if args[i], err = c.compileWant(e, want); err != nil {
			return nil, err
		}
	}
	if arr.untyped {
		t := types.ArrayOf(types.String)
		if name != "array_cat" && len(args) > 1 && !args[1-arrIdx].untyped {
			t = types.ArrayOf(args[1-arrIdx].typ)
		} else if name == "array_cat" && !args[1].untyped {
			t = args[1].typ
		}
		if args[arrIdx], err = coerce(arr, t); err != nil {
			return nil, err
		}
		arr = args[arrIdx]
	}
	untypedToText(args)
	if arr.typ.Family != types.ArrayFamily {
		return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function %s(%s) does not exist", name, strings.Join(typeNames(args), ", ")).
			WithHint("No function matches the given name and argument types. You might need to add explicit type casts.")
	}
	at := arr.typ
	elem := at.ElemType()
	switch name {
	case "array_length", "array_upper", "array_lower", "cardinality", "array_ndims":
		if len(args) == 2 && args[1].typ.Family != types.IntFamily {
			return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function %s(%s) does not exist", name, strings.Join(typeNames(args), ", "))
		}
		return c.derived(types.Int4, args, func(v []types.Datum) (types.Datum, error) {
			n := int64(len(v[0].(types.Array).Elems))
			if name == "cardinality" {
				return n, nil
			}
			if n == 0 || len(v) == 2 && v[1].(int64) != 1 {
				return nil, nil // an empty array has no dimensions; arrays here have one
			}
			first := int64(1)
			if at.ZeroBased {
				first = 0
			}
			switch name {
			case "array_ndims":
				return int64(1), nil
			case "array_lower":
				return first, nil
			case "array_upper":
				return first + n - 1, nil
			}
			return n, nil
		}, true), nil
	case "array_append", "array_prepend":
		e := args[1-arrIdx]
		if _, _, err := types.BinaryOp("||", at, nil, e.typ, nil); err != nil || e.typ.Family == types.ArrayFamily {
			return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function %s(%s) does not exist", name, strings.Join(typeNames(args), ", "))
		}
		if e, err = c.toType(e, elem); err != nil {
			return nil, err
		}
		args[1-arrIdx] = e
		return c.derived(at, args, func(v []types.Datum) (types.Datum, error) {
			return types.ArrayAppend(v[arrIdx], v[1-arrIdx], name == "array_prepend"), nil
		}, false), nil
	case "array_cat":
		bt := args[1].typ
		resT, _, err := types.BinaryOp("||", at, nil, bt, nil)
		if err != nil || bt.Family != types.ArrayFamily {
			return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function array_cat(%s) does not exist", strings.Join(typeNames(args), ", "))
		}
		return c.derived(resT, args, func(v []types.Datum) (types.Datum, error) {
			_, out, err := types.BinaryOp("||", at, v[0], bt, v[1])
			return out, err
		}, false), nil
	case "array_position", "array_remove":
		et := args[1].typ
		if _, _, err := types.BinaryOp("=", elem, nil, et, nil); err != nil {
			return nil, err
		}
		return c.derived(map[bool]types.T{true: types.Int4, false: at}[name == "array_position"], args, func(v []types.Datum) (types.Datum, error) {
			if v[0] == nil {
				return nil, nil
			}
			a := v[0].(types.Array)
			var kept []types.Datum
			for i, x := range a.Elems {
				// IS NOT DISTINCT FROM: NULL finds NULL.
				same := x == nil && v[1] == nil
				if x != nil && v[1] != nil {
					_, eq, err := types.BinaryOp("=", elem, x, et, v[1])
					if err != nil {
						return nil, err
					}
					same = eq.(bool)
				}
				if name == "array_position" && same {
					return int64(i + 1), nil
				}
				if !same {
					kept = append(kept, x)
				}
			}
			if name == "array_position" {
				return nil, nil
			}
			return types.Array{Elems: kept}, nil
		}, false), nil
	}
	// array_to_string(a, delimiter [, null_string])
	for _, a := range args[1:] {
		if a.typ.Family != types.StringFamily {
			return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function array_to_string(%s) does not exist", strings.Join(typeNames(args), ", "))
		}
	}
	return c.derived(types.String, args, func(v []types.Datum) (types.Datum, error) {
		if v[0] == nil || v[1] == nil {
			return nil, nil
		}
		var sb strings.Builder
		first := true
		for _, e := range v[0].(types.Array).Elems {
			var s string
			switch {
			case e != nil:
				s = string(types.AppendText(nil, elem, e))
			case len(v) == 3 && v[2] != nil:
				s = v[2].(string)
			default:
				continue // NULLs are skipped without a null string
			}
			if !first {
				sb.WriteString(v[1].(string))
			}
			sb.WriteString(s)
			first = false
		}
		return sb.String(), nil
	}, false), nil
}

// stringToArray compiles string_to_array(s, delimiter [, null_string]).
func (c *compiler) stringToArray(n *ast.FuncCallExpr) (*scalar, error) {
	if len(n.Args) < 2 || len(n.Args) > 3 {
		return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function string_to_array with %d argument(s) does not exist", len(n.Args))
	}
	var args []*scalar
	for _, e := range n.Args {
		s, err := c.stringArg(e, "string_to_array")
		if err != nil {
			return nil, err
		}
		args = append(args, s)
	}
	return c.derived(types.ArrayOf(types.String), args, func(v []types.Datum) (types.Datum, error) {
		if v[0] == nil {
			return nil, nil
		}
		s := v[0].(string)
		if s == "" {
			return types.Array{}, nil
		}
		var parts []string
		switch {
		case v[1] == nil:
			for _, r := range s {
				parts = append(parts, string(r)) // a NULL delimiter splits into characters
			}
		case v[1].(string) == "":
			parts = []string{s}
		default:
			parts = strings.Split(s, v[1].(string))
		}
		out := types.Array{Elems: make([]types.Datum, len(parts))}
		for i, p := range parts {
			if len(v) == 3 && v[2] != nil && p == v[2].(string) {
				continue
			}
			out.Elems[i] = p
		}
		return out, nil
	}, false), nil
}
