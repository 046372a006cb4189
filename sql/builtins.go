package sql

import (
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
)

// The built-in functions of builtins_*.go are declared as overloads and resolved the way
// PostgreSQL resolves a call (the "Function Type Resolution" rules of its manual, in the
// form that matters for these signatures): a candidate must accept every argument, either
// exactly, through an implicit cast, or as an untyped literal; the candidate with the most
// exact matches wins, then the one whose conversions land on the preferred type of their
// category (double precision for numbers, text for strings), then the earlier declaration.

// anyType is a parameter that takes a value of any type as it is, like PostgreSQL's "any"
// pseudo-type; an untyped literal passed to it becomes text.
var anyType = types.T{Family: types.UnknownFamily}

// builtinFn evaluates a call. ts are the argument types after resolution, which functions
// taking "any" need to render their arguments; ec is nil when the call is folded at compile
// time, which only happens to calls not marked volatile.
type builtinFn func(ec *evalCtx, ts []types.T, v []types.Datum) (types.Datum, error)

// overload is one signature of a built-in function.
type overload struct {
	params []types.T
	// variadic: the last parameter repeats, at least once (VARIADIC in PostgreSQL).
	variadic bool
	ret      types.T
	fn       builtinFn
	// nullCall: the function sees NULL arguments; otherwise it is strict and a NULL
	// argument makes the result NULL without calling it.
	nullCall bool
	// volatile functions read the session or the clock, or change state: they run for every
	// row and are never folded.
	volatile bool
}

// builtins holds every function of builtins_*.go by name; each file adds its own in init.
var builtins = map[string][]overload{}

func register(name string, ovs ...overload) {
	builtins[name] = append(builtins[name], ovs...)
}

// sig builds an overload with fixed parameter and result types.
func sig(ret types.T, fn builtinFn, params ...types.T) overload {
	return overload{params: params, ret: ret, fn: fn}
}

// preferredType reports PostgreSQL's preferred type of a category: the type an argument is
// converted to when several candidates would accept it.
func preferredType(t types.T) bool {
	switch t.Family {
	case types.FloatFamily:
		return t.Width == 64
	case types.StringFamily:
		return t.StringKind == types.Text
	case types.TimestampTZFamily, types.IntervalFamily, types.BoolFamily:
		return true
	}
	return false
}

// implicitCast reports whether PostgreSQL converts a value of type from to type to without
// being asked: integers widen, integers and numerics become floating point or numeric,
// string kinds become text, dates become timestamps, time becomes interval.
func implicitCast(from, to types.T) bool {
	f, t := from.Family, to.Family
	switch {
	case f == t && (f == types.IntFamily || f == types.FloatFamily):
		return from.Width <= to.Width
	case f == t:
		return true
	case f == types.IntFamily:
		return t == types.DecimalFamily || t == types.FloatFamily
	case f == types.DecimalFamily:
		return t == types.FloatFamily
	case f == types.DateFamily:
		return t == types.TimestampFamily || t == types.TimestampTZFamily
	case f == types.TimestampFamily:
		return t == types.TimestampTZFamily
	case f == types.TimeFamily:
		return t == types.IntervalFamily
	}
	return false
}

// exactType reports an argument that needs no conversion for the parameter.
func exactType(arg, param types.T) bool {
	if arg.Family != param.Family {
		return false
	}
	switch arg.Family {
	case types.IntFamily, types.FloatFamily:
		return arg.Width == param.Width
	case types.ArrayFamily:
		return arg.Elem == param.Elem
	}
	return true
}

// typeCategory is PostgreSQL's type category (pg_type.typcategory) of the types Meridian
// has: values convert implicitly only within a category.
func typeCategory(t types.T) string {
	switch t.Family {
	case types.IntFamily, types.FloatFamily, types.DecimalFamily:
		return "numeric"
	case types.StringFamily:
		return "string"
	case types.DateFamily, types.TimestampFamily, types.TimestampTZFamily, types.TimeFamily:
		return "datetime"
	}
	return t.String()
}

// commonArgType resolves the type of arguments that must share one (COALESCE, GREATEST,
// LEAST): the first preferred type of their category, else the last type the
// others convert to implicitly. Untyped values adapt; all untyped is text.
func commonArgType(args []*scalar, construct string) (types.T, error) {
	var t types.T
	found := false
	for _, a := range args {
		if a.untyped {
			continue
		}
		switch {
		case !found:
			t, found = a.typ, true
		case typeCategory(a.typ) != typeCategory(t):
			return t, pgerror.New(pgerror.CodeDatatypeMismatch, "%s types %s and %s cannot be matched", construct, signatureTypeName(&scalar{typ: t}), signatureTypeName(a))
		case preferredType(t):
		case preferredType(a.typ) || implicitCast(t, a.typ):
			t = a.typ
		}
	}
	if !found {
		return types.String, nil
	}
	for _, a := range args {
		if !a.untyped && !implicitCast(a.typ, t) {
			return t, pgerror.New(pgerror.CodeDatatypeMismatch, "%s types %s and %s cannot be matched", construct, signatureTypeName(&scalar{typ: t}), signatureTypeName(a))
		}
	}
	return t, nil
}

// paramAt is the parameter an argument at position i binds to.
func (o *overload) paramAt(i int) types.T {
	if i >= len(o.params) {
		return o.params[len(o.params)-1]
	}
	return o.params[i]
}

type matchScore struct{ exact, preferred int }

// match reports whether o accepts args and how well.
func (o *overload) match(args []*scalar) (matchScore, bool) {
	var sc matchScore
	if len(args) != len(o.params) && !(o.variadic && len(args) >= len(o.params)) {
		return sc, false
	}
	for i, a := range args {
		p := o.paramAt(i)
		switch {
		case p.Family == types.UnknownFamily:
			// "any" takes everything as it is; it beats no one and loses to no one.
		case a.untyped:
			if preferredType(p) {
				sc.preferred++
			}
		case exactType(a.typ, p):
			sc.exact++
		case implicitCast(a.typ, p):
			if preferredType(p) {
				sc.preferred++
			}
		default:
			return sc, false
		}
	}
	return sc, true
}

// builtinCall compiles a call of a function of the builtins table; ok is false for other
// names.
func (c *compiler) builtinCall(n *ast.FuncCallExpr, name string) (*scalar, bool, error) {
	ovs, ok := builtins[name]
	if !ok {
		return nil, false, nil
	}
	args, err := c.args(n, types.Unknown)
	if err != nil {
		return nil, true, err
	}
	s, err := c.resolveCall(name, ovs, args)
	return s, true, err
}

// resolveCall picks the overload of name that fits args and compiles the call.
func (c *compiler) resolveCall(name string, ovs []overload, args []*scalar) (*scalar, error) {
	var tied []int
	var bestScore matchScore
	for i := range ovs {
		sc, ok := ovs[i].match(args)
		switch {
		case !ok:
		case len(tied) == 0 || sc.exact > bestScore.exact || sc.exact == bestScore.exact && sc.preferred > bestScore.preferred:
			tied, bestScore = []int{i}, sc
		case sc == bestScore:
			tied = append(tied, i)
		}
	}
	if len(tied) == 0 {
		return nil, noSuchFunction(name, args)
	}
	best, err := breakTie(ovs, tied, args)
	if err != nil {
		return nil, pgerror.New("42725", "function %s(%s) is not unique", name, strings.Join(signatureNames(args), ", ")).
			WithHint("Could not choose a best candidate function. You might need to add explicit type casts.")
	}
	o := &ovs[best]
	conv := make([]*scalar, len(args))
	ts := make([]types.T, len(args))
	for i, a := range args {
		p := o.paramAt(i)
		var err error
		switch {
		case p.Family == types.UnknownFamily:
			conv[i] = a
			if a.untyped {
				conv[i], err = c.coerceArg(a, types.String)
			}
		case a.untyped:
			conv[i], err = c.coerceArg(a, p)
		case exactType(a.typ, p):
			conv[i] = a
		default:
			conv[i] = castScalar(a, p)
		}
		if err != nil {
			return nil, err
		}
		ts[i] = conv[i].typ
	}
	ret := o.ret
	fn := o.fn
	if !o.volatile {
		return c.derived(ret, conv, func(v []types.Datum) (types.Datum, error) {
			return fn(nil, ts, v)
		}, !o.nullCall), nil
	}
	strict := !o.nullCall
	return &scalar{typ: ret, colOrd: -1, eval: func(ec *evalCtx, row []types.Datum) (types.Datum, error) {
		vals, null, err := evalArgs(ec, row, conv, strict)
		if err != nil || null {
			return nil, err
		}
		return fn(ec, ts, vals)
	}}, nil
}

// breakTie chooses among equally good candidates as PostgreSQL does for untyped
// arguments: where a candidate takes a string, the literal is a string; candidates still
// disagreeing about an untyped argument's type make the call ambiguous.
func breakTie(ovs []overload, tied []int, args []*scalar) (int, error) {
	for i, a := range args {
		if !a.untyped || len(tied) < 2 {
			continue
		}
		var strs []int
		for _, k := range tied {
			if ovs[k].paramAt(i).Family == types.StringFamily {
				strs = append(strs, k)
			}
		}
		if len(strs) > 0 {
			tied = strs
		}
	}
	for i, a := range args {
		if !a.untyped {
			continue
		}
		first := ovs[tied[0]].paramAt(i)
		for _, k := range tied[1:] {
			if p := ovs[k].paramAt(i); p.Family != first.Family {
				return 0, errAmbiguous
			}
		}
	}
	return tied[0], nil
}

var errAmbiguous = pgerror.New("42725", "ambiguous call")

// coerceArg gives an untyped argument the parameter's type; a parameter ($n) the client
// left untyped is inferred to be of that type.
func (c *compiler) coerceArg(a *scalar, t types.T) (*scalar, error) {
	if a.param != 0 && c.params != nil {
		c.params.infer(a.param, t)
	}
	return coerce(a, t)
}

// noSuchFunction is PostgreSQL's error for a call no signature accepts.
func noSuchFunction(name string, args []*scalar) error {
	return pgerror.New(pgerror.CodeUndefinedFunction, "function %s(%s) does not exist", name, strings.Join(signatureNames(args), ", ")).
		WithHint("No function matches the given name and argument types. You might need to add explicit type casts.")
}

func signatureNames(args []*scalar) []string {
	names := make([]string, len(args))
	for i, a := range args {
		names[i] = signatureTypeName(a)
	}
	return names
}

// signatureTypeName names an argument's type as PostgreSQL's function signatures do:
// without modifiers, and "unknown" for an untyped literal.
func signatureTypeName(a *scalar) string {
	if a.untyped {
		return "unknown"
	}
	t := a.typ
	switch t.Family {
	case types.StringFamily:
		if t.StringKind == types.Char {
			return "character"
		}
		t.Width = 0
	case types.DecimalFamily:
		t.Precision, t.Scale = 0, 0
	}
	return t.String()
}
