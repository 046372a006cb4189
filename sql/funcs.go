package sql

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"
	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/sql/parser"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
)

// Version is what version() reports.
const Version = "PostgreSQL 16.0 (Meridian 0.1)"

func (c *compiler) args(n *ast.FuncCallExpr, want types.T) ([]*scalar, error) {
	out := make([]*scalar, len(n.Args))
	for i, a := range n.Args {
		s, err := c.compileWant(a, want)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

func wantArgs(name string, args []*scalar, n int) error {
	if len(args) != n {
		return pgerror.New(pgerror.CodeUndefinedFunction, "function %s with %d argument(s) does not exist", name, len(args))
	}
	return nil
}

func (c *compiler) funcCall(n *ast.FuncCallExpr, want types.T) (*scalar, error) {
	name := n.FnName.L
	if isSetFunc(name) {
		return c.setFuncSlot(n)
	}
	if s, ok, err := c.typeFuncs(n, name, want); ok {
		return s, err
	}
	if s, ok, err := c.sequenceFuncs(n, name); ok {
		return s, err
	}
	if s, ok, err := c.catalogFuncs(n, name); ok {
		return s, err
	}
	if s, ok, err := c.settingFuncs(n, name); ok {
		return s, err
	}
	if s, ok, err := c.builtinCall(n, name); ok {
		return s, err
	}
	switch name {
	case "meridian_cast":
		return c.castCall(n)
	case "trim":
		return c.trimCall(n)
	case "meridian_ilike":
		return c.like(&ast.PatternLikeOrIlikeExpr{Expr: n.Args[0], Pattern: n.Args[1], IsLike: false, Escape: '\\'})
	case "localtimestamp":
		return &scalar{typ: types.Timestamp, colOrd: -1, eval: func(ec *evalCtx, _ []types.Datum) (types.Datum, error) {
			return types.CastWith(ec.txnTime, types.TimestampTZ, types.Timestamp, ec.settings())
		}}, nil
	case "now", "current_timestamp", "transaction_timestamp", "statement_timestamp":
		return &scalar{typ: types.TimestampTZ, colOrd: -1, eval: func(ec *evalCtx, _ []types.Datum) (types.Datum, error) {
			return ec.txnTime, nil
		}}, nil
	case "cluster_logical_timestamp":
		// The transaction's hybrid-logical read timestamp as a decimal (nanoseconds, then the
		// logical counter as ten digits after the point): the form AS OF SYSTEM TIME reads.
		return &scalar{typ: types.Numeric, colOrd: -1, eval: func(ec *evalCtx, _ []types.Datum) (types.Datum, error) {
			return hlcToDecimal(ec.readTS), nil
		}}, nil
	case "follower_read_timestamp":
		return &scalar{typ: types.TimestampTZ, colOrd: -1, eval: func(ec *evalCtx, _ []types.Datum) (types.Datum, error) {
			return ec.txnTime.Add(-followerReadOffset), nil
		}}, nil
	case "clock_timestamp":
		return &scalar{typ: types.TimestampTZ, colOrd: -1, eval: func(*evalCtx, []types.Datum) (types.Datum, error) {
			return time.Now().UTC().Truncate(time.Microsecond), nil
		}}, nil
	case "current_date":
		return &scalar{typ: types.Date, colOrd: -1, eval: func(ec *evalCtx, _ []types.Datum) (types.Datum, error) {
			// Today in the session time zone.
			return types.CastWith(ec.txnTime, types.TimestampTZ, types.Date, ec.settings())
		}}, nil
	case "version":
		return constScalar(types.String, Version), nil
	case "current_database", "database":
		return &scalar{typ: types.String, colOrd: -1, eval: func(ec *evalCtx, _ []types.Datum) (types.Datum, error) {
			return ec.session.database, nil
		}}, nil
	case "current_user", "session_user", "user", "current_role":
		return &scalar{typ: types.String, colOrd: -1, eval: func(ec *evalCtx, _ []types.Datum) (types.Datum, error) {
			return ec.session.user, nil
		}}, nil
	case "gen_random_uuid", "uuid_generate_v4":
		return &scalar{typ: types.UUIDType, colOrd: -1, eval: func(*evalCtx, []types.Datum) (types.Datum, error) {
			return newUUID(), nil
		}}, nil
	case "unique_rowid":
		return &scalar{typ: types.Int8, colOrd: -1, eval: func(ec *evalCtx, _ []types.Datum) (types.Datum, error) {
			return ec.session.srv.uniqueRowID(), nil
		}}, nil
	case "coalesce", "ifnull", "nullif", "greatest", "least":
		return c.variadicSameType(n, name)
	case "pg_sleep":
		args, err := c.args(n, types.Float8)
		if err != nil {
			return nil, err
		}
		if err := wantArgs(name, args, 1); err != nil {
			return nil, err
		}
		arg := args[0]
		return &scalar{typ: types.String, colOrd: -1, eval: func(ec *evalCtx, row []types.Datum) (types.Datum, error) {
			v, err := arg.eval(ec, row)
			if err != nil || v == nil {
				return "", err
			}
			secs, err := types.Cast(v, arg.typ, types.Float8)
			if err != nil {
				return nil, err
			}
			t := time.NewTimer(time.Duration(secs.(float64) * float64(time.Second)))
			defer t.Stop()
			select {
			case <-t.C:
				return "", nil
			case <-ec.ctx.Done():
				return nil, ec.ctx.Err()
			}
		}}, nil
	case "meridian_force_panic":
		// Tests use it to check that a panicking session cannot take the node down.
		return &scalar{typ: types.Bool, colOrd: -1, eval: func(*evalCtx, []types.Datum) (types.Datum, error) {
			panic("meridian_force_panic() called")
		}}, nil
	case parser.ConcatOp:
		return c.concatOp(n)
	}
	args, err := c.args(n, types.Unknown)
	if err != nil {
		return nil, err
	}
	for i, a := range args {
		if a.untyped {
			args[i], _ = coerce(a, types.String)
		}
	}
	switch name {
	case "lower", "upper":
		if err := wantArgs(name, args, 1); err != nil {
			return nil, err
		}
		f := strings.ToLower
		if name == "upper" {
			f = strings.ToUpper
		}
		return c.derived(types.String, args, func(v []types.Datum) (types.Datum, error) {
			s, ok := v[0].(string)
			if !ok {
				return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function %s(%s) does not exist", name, args[0].typ.String())
			}
			return f(s), nil
		}, true), nil
	case "length", "char_length", "character_length":
		if err := wantArgs(name, args, 1); err != nil {
			return nil, err
		}
		return c.derived(types.Int4, args, func(v []types.Datum) (types.Datum, error) {
			switch s := v[0].(type) {
			case string:
				return int64(utf8.RuneCountInString(s)), nil
			case []byte:
				return int64(len(s)), nil
			}
			return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function %s(%s) does not exist", name, args[0].typ.String())
		}, true), nil
	case "abs":
		if err := wantArgs(name, args, 1); err != nil {
			return nil, err
		}
		t := args[0].typ
		return c.derived(t, args, func(v []types.Datum) (types.Datum, error) {
			switch x := v[0].(type) {
			case int64:
				if x == math.MinInt64 {
					return nil, pgerror.New(pgerror.CodeNumericValueOutOfRange, "bigint out of range")
				}
				if x < 0 {
					return -x, nil
				}
				return x, nil
			case float64:
				return math.Abs(x), nil
			case *apd.Decimal:
				return new(apd.Decimal).Abs(x), nil
			}
			return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function abs(%s) does not exist", t.String())
		}, true), nil
	case "pg_typeof":
		if err := wantArgs(name, args, 1); err != nil {
			return nil, err
		}
		return constScalar(types.String, args[0].typ.String()), nil
	}
	return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function %s(%s) does not exist", name, strings.Join(typeNames(args), ", ")).
		WithHint("No function matches the given name and argument types.")
}

// concatOp compiles a || b. Arrays and jsonb have their own forms; otherwise one side must
// be a string (or both bytea), and the other is converted with its output function. An
// untyped side is text, or bytea next to bytea.
func (c *compiler) concatOp(n *ast.FuncCallExpr) (*scalar, error) {
	if len(n.Args) != 2 {
		return nil, pgerror.New(pgerror.CodeInternalError, "|| takes two operands")
	}
	if s, ok, err := c.containerConcat(n); ok {
		return s, err
	}
	args, err := c.args(n, types.Unknown)
	if err != nil {
		return nil, err
	}
	for i, a := range args {
		if !a.untyped {
			continue
		}
		t := types.String
		if o := args[1-i]; !o.untyped && o.typ.Family == types.BytesFamily {
			t = types.Bytes
		}
		if args[i], err = c.coerceArg(a, t); err != nil {
			return nil, err
		}
	}
	lt, rt := args[0].typ, args[1].typ
	resT, _, err := types.BinaryOp("||", lt, nil, rt, nil)
	if err != nil {
		return nil, err
	}
	if resT.Family == types.StringFamily && (lt.Family != types.StringFamily || rt.Family != types.StringFamily) {
		// A non-string side is cast to text, which the session's settings (TimeZone,
		// extra_float_digits) shape.
		return &scalar{typ: resT, colOrd: -1, eval: func(ec *evalCtx, row []types.Datum) (types.Datum, error) {
			vals, null, err := evalArgs(ec, row, args, true)
			if err != nil || null {
				return nil, err
			}
			st := ec.settings()
			out := make([]string, 2)
			for i, t := range []types.T{lt, rt} {
				v, err := types.CastWith(vals[i], t, types.String, st)
				if err != nil {
					return nil, err
				}
				out[i] = v.(string)
			}
			return out[0] + out[1], nil
		}}, nil
	}
	return c.derived(resT, args, func(v []types.Datum) (types.Datum, error) {
		_, out, err := types.BinaryOp("||", lt, v[0], rt, v[1])
		return out, err
	}, true), nil
}

// containerConcat compiles a || b when either side is an array or jsonb: an untyped side
// takes the other's type (a literal '{...}' next to an array is an array). ok is false for
// the string and bytea forms, which the caller handles.
func (c *compiler) containerConcat(n *ast.FuncCallExpr) (*scalar, bool, error) {
	probe := &compiler{scope: c.scope, params: &paramTypes{types: append([]types.T(nil), c.params.types...), order: c.params.order},
		aggs: c.aggs, excludedOffset: c.excludedOffset, session: c.session, q: c.q, aggBase: c.aggBase, winBase: c.winBase}
	if c.aggs != nil {
		probe.aggs = new([]*aggregate) // typing only: the real compile below collects them
	}
	if c.windows != nil {
		probe.windows = new([]*windowFunc)
	}
	var kinds []types.Family
	for _, a := range n.Args {
		s, err := probe.compile(a)
		if err != nil {
			return nil, true, err
		}
		if !s.untyped {
			kinds = append(kinds, s.typ.Family)
		}
	}
	container := false
	for _, f := range kinds {
		container = container || f == types.ArrayFamily || f == types.JSONBFamily
	}
	if !container {
		return nil, false, nil
	}
	l, r, err := c.unify(n.Args[0], n.Args[1])
	if err != nil {
		return nil, true, err
	}
	lt, rt := l.typ, r.typ
	resT, _, err := types.BinaryOp("||", lt, nil, rt, nil)
	if err != nil {
		return nil, true, err
	}
	return c.derived(resT, []*scalar{l, r}, func(v []types.Datum) (types.Datum, error) {
		_, out, err := types.BinaryOp("||", lt, v[0], rt, v[1])
		return out, err
	}, false), true, nil
}

func argTypes(args []*scalar) []types.T {
	out := make([]types.T, len(args))
	for i, a := range args {
		out[i] = a.typ
	}
	return out
}

func typeNames(args []*scalar) []string {
	var out []string
	for _, a := range args {
		out = append(out, a.typ.String())
	}
	return out
}

// variadicSameType compiles COALESCE, NULLIF, GREATEST and LEAST. The arguments of
// COALESCE, GREATEST and LEAST take their common type; NULLIF returns its first argument's
// type and compares with =.
func (c *compiler) variadicSameType(n *ast.FuncCallExpr, name string) (*scalar, error) {
	args, err := c.args(n, types.Unknown)
	if err != nil {
		return nil, err
	}
	if len(args) == 0 || name == "nullif" && len(args) != 2 || name == "ifnull" && len(args) != 2 {
		return nil, pgerror.New(pgerror.CodeUndefinedFunction, "wrong number of arguments to %s", name)
	}
	if name == "nullif" {
		return c.nullif(args)
	}
	t, err := commonArgType(args, strings.ToUpper(name))
	if err != nil {
		return nil, err
	}
	for i, a := range args {
		if a.untyped {
			args[i], err = c.coerceArg(a, t)
		} else if !exactType(a.typ, t) {
			args[i] = castScalar(a, t)
		}
		if err != nil {
			return nil, err
		}
	}
	out := &scalar{typ: t, colOrd: -1}
	out.eval = func(ec *evalCtx, row []types.Datum) (types.Datum, error) {
		if name == "coalesce" || name == "ifnull" {
			for _, a := range args {
				v, err := a.eval(ec, row)
				if err != nil || v != nil {
					return v, err
				}
			}
			return nil, nil
		}
		var best types.Datum
		for _, a := range args {
			v, err := a.eval(ec, row)
			if err != nil {
				return nil, err
			}
			if v == nil {
				continue
			}
			if best == nil {
				best = v
				continue
			}
			if cmp := types.Compare(t, v, best); name == "greatest" && cmp > 0 || name == "least" && cmp < 0 {
				best = v
			}
		}
		return best, nil
	}
	return out, nil
}

// nullif is NULLIF(a, b): NULL when a = b, else a, typed as a.
func (c *compiler) nullif(args []*scalar) (*scalar, error) {
	var err error
	switch {
	case args[0].untyped && args[1].untyped:
		args[0], _ = coerce(args[0], types.String)
		args[1], _ = coerce(args[1], types.String)
	case args[0].untyped:
		args[0], err = c.coerceArg(args[0], args[1].typ)
	case args[1].untyped:
		args[1], err = c.coerceArg(args[1], args[0].typ)
	}
	if err != nil {
		return nil, err
	}
	lt, rt := args[0].typ, args[1].typ
	if _, _, err := types.BinaryOp("=", lt, nil, rt, nil); err != nil {
		return nil, err
	}
	a, b := args[0], args[1]
	return &scalar{typ: lt, colOrd: -1, eval: func(ec *evalCtx, row []types.Datum) (types.Datum, error) {
		x, err := a.eval(ec, row)
		if err != nil || x == nil {
			return x, err
		}
		y, err := b.eval(ec, row)
		if err != nil || y == nil {
			return x, err
		}
		_, eq, err := types.BinaryOp("=", lt, x, rt, y)
		if err != nil {
			return nil, err
		}
		if eq == true {
			return nil, nil
		}
		return x, nil
	}}, nil
}

// castCall compiles meridian_cast(expr, 'type'), the dialect's spelling of expr::type.
func (c *compiler) castCall(n *ast.FuncCallExpr) (*scalar, error) {
	if len(n.Args) != 2 {
		return nil, fmt.Errorf("meridian_cast takes 2 arguments")
	}
	tv, ok := n.Args[1].(*parser.Value)
	if !ok {
		return nil, fmt.Errorf("meridian_cast: type must be a literal")
	}
	name, _ := tv.Val.(string)
	t, err := types.ParseTypeName(name)
	if err != nil {
		return nil, err
	}
	if t.Family == types.OIDFamily {
		// The reg* types read names, which needs the catalog (pgcatalog_funcs.go).
		arg, err := c.compile(n.Args[0])
		if err != nil {
			return nil, err
		}
		return c.regCast(arg, t)
	}
	// An array constructor takes its element type from the cast, so that ARRAY[]::int[] has
	// one; other expressions are typed by themselves.
	argWant := types.Unknown
	if fc, ok := n.Args[0].(*ast.FuncCallExpr); ok && fc.FnName.L == "meridian_array" && t.Family == types.ArrayFamily {
		argWant = t
	}
	arg, err := c.compileWant(n.Args[0], argWant)
	if err != nil {
		return nil, err
	}
	if arg.untyped {
		if arg.param != 0 {
			c.params.infer(arg.param, t)
			return coerce(arg, t)
		}
		if arg.constant && arg.val == nil {
			return constScalar(t, nil), nil
		}
		// A literal cast parses the text as the target type, as in PostgreSQL.
		arg, err = coerce(arg, t)
		if err != nil {
			return nil, err
		}
		if arg.typ == t {
			return arg, nil
		}
	}
	return castScalar(arg, t), nil
}
