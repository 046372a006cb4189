package sql

import (
	"context"
	"crypto/rand"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/opcode"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/sql/parser"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
)

// scalar is a compiled, typed expression.
type scalar struct {
	typ types.T
	// untyped marks a string literal or NULL whose type is decided by its context, like
	// PostgreSQL's "unknown" literals: '5' compared with an int column is the integer 5.
	untyped bool
	// constant is set when the value does not depend on the row or parameters.
	constant bool
	val      types.Datum // the value when constant
	eval     func(ec *evalCtx, row []types.Datum) (types.Datum, error)
	// colOrd is the input ordinal when the expression is a bare column reference, else -1.
	colOrd int
	// param is the 1-based parameter number when the expression is a bare $n, else 0.
	param int
}

func constScalar(t types.T, v types.Datum) *scalar {
	return &scalar{typ: t, constant: true, val: v, colOrd: -1,
		eval: func(*evalCtx, []types.Datum) (types.Datum, error) { return v, nil }}
}

// evalCtx is what expressions can see while they run.
type evalCtx struct {
	// ctx is the statement's context, for functions that block.
	ctx    context.Context
	params []types.Datum
	// txnTime is the statement's transaction timestamp (now(), current_timestamp).
	txnTime time.Time
	// readTS is the transaction's read timestamp (cluster_logical_timestamp()).
	readTS  hlc.Timestamp
	session *Session
	// x is the execution the expressions belong to, which subqueries run in.
	x *execCtx
	// outer holds, by query depth, the row each enclosing query is evaluating, which
	// correlated subqueries' outer column references read.
	outer [][]types.Datum
	// subqueryResults caches the results of uncorrelated subqueries for the statement.
	subqueryResults map[*subquery]any
}

// scopeColumn is a column an expression can reference.
type scopeColumn struct {
	table string
	name  string
	typ   types.T
	// hidden columns are left out of SELECT *: a table's implicit rowid, the columns an
	// operator adds for its own use (sort keys, aggregate slots), the inputs of a merged
	// USING column.
	hidden bool
	// untyped marks an output column of an untyped literal ('x', NULL), whose type a set
	// operation takes from the other side.
	untyped bool
	// qualifiedOnly columns answer only references qualified by their table: the two
	// inputs of a USING column, which unqualified references see merged.
	qualifiedOnly bool
	// tableID and attrNum name the table column the values come from, if any, for
	// RowDescription.
	tableID uint32
	attrNum uint16
}

// compiler turns AST expressions into scalars against a scope of input columns.
type compiler struct {
	scope []scopeColumn
	// params collects the parameter types, inferred from context where the client left
	// them unspecified.
	params *paramTypes
	// aggs, when non-nil, allows aggregate functions: each one becomes a slot of the
	// aggregation output, and column references read the group's first row after the slots.
	aggs *[]*aggregate
	// excluded, for INSERT ... ON CONFLICT DO UPDATE, is the proposed row VALUES(col) reads.
	excludedOffset int
	session        *Session
	// q is the query the expressions belong to: the enclosing queries (for correlated
	// subqueries) and the WITH clauses in force. Nil outside queries.
	q *queryScope
	// aggBase, with aggs, is where the group's first input row starts in aggregated rows
	// (after the aggregate slots, whose number is known only once the query is planned).
	aggBase *int
	// windows, when non-nil, allows window functions, each a slot after winBase.
	windows *[]*windowFunc
	winBase *int
	// setFuncs, when non-nil, allows set-returning functions (in a select list), each a
	// slot after setFuncBase that a projectSetNode fills.
	setFuncs    *[]*setFunc
	setFuncBase *int
}

type paramTypes struct {
	types []types.T
	order []int // k-th ? in the text → $n (1-based)
}

func (p *paramTypes) typeOf(n int) types.T { return p.types[n-1] }

// infer fixes parameter n's type if the client did not.
func (p *paramTypes) infer(n int, t types.T) {
	if p.types[n-1].Family == types.UnknownFamily && t.Family != types.UnknownFamily {
		p.types[n-1] = t
	}
}

func (c *compiler) compile(e ast.ExprNode) (*scalar, error) {
	return c.compileWant(e, types.Unknown)
}

// compileWant compiles e; want is the type the context expects, used to type parameters and
// untyped literals.
func (c *compiler) compileWant(e ast.ExprNode, want types.T) (*scalar, error) {
	s, err := c.compileExpr(e, want)
	if err != nil {
		return nil, err
	}
	if want.Family != types.UnknownFamily && s.untyped {
		return coerce(s, want)
	}
	return s, nil
}

func (c *compiler) compileExpr(e ast.ExprNode, want types.T) (*scalar, error) {
	switch n := e.(type) {
	case *parser.Param:
		num := c.params.order[n.Order]
		c.params.infer(num, want)
		s := &scalar{colOrd: -1, param: num, eval: func(ec *evalCtx, _ []types.Datum) (types.Datum, error) {
			return ec.params[num-1], nil
		}}
		s.typ = c.params.typeOf(num)
		if s.typ.Family == types.UnknownFamily {
			// Unknown until bound: treated as text, like PostgreSQL's unknown parameters.
			s.typ = types.String
			s.untyped = true
		}
		return s, nil
	case *parser.Value:
		return literal(n.Val)
	case *ast.ParenthesesExpr:
		return c.compileExpr(n.Expr, want)
	case *ast.ColumnNameExpr:
		return c.column(n.Name)
	case *ast.BinaryOperationExpr:
		return c.binary(n)
	case *ast.UnaryOperationExpr:
		return c.unary(n)
	case *ast.IsNullExpr:
		arg, err := c.compile(n.Expr)
		if err != nil {
			return nil, err
		}
		not := n.Not
		return c.derived(types.Bool, []*scalar{arg}, func(v []types.Datum) (types.Datum, error) {
			return (v[0] == nil) != not, nil
		}, false), nil
	case *ast.IsTruthExpr:
		arg, err := c.compileWant(n.Expr, types.Bool)
		if err != nil {
			return nil, err
		}
		if arg.typ.Family != types.BoolFamily {
			return nil, pgerror.New(pgerror.CodeDatatypeMismatch, "argument of IS %s must be type boolean, not type %s", truthName(n.True), arg.typ.String())
		}
		want, not := n.True != 0, n.Not
		return c.derived(types.Bool, []*scalar{arg}, func(v []types.Datum) (types.Datum, error) {
			is := v[0] != nil && v[0].(bool) == want
			return is != not, nil
		}, false), nil
	case *ast.PatternInExpr:
		return c.in(n)
	case *ast.BetweenExpr:
		return c.between(n)
	case *ast.PatternLikeOrIlikeExpr:
		return c.like(n)
	case *ast.FuncCallExpr:
		return c.funcCall(n, want)
	case *ast.AggregateFuncExpr:
		return c.aggregate(n)
	case *ast.CaseExpr:
		return c.caseExpr(n)
	case *ast.DefaultExpr:
		return nil, pgerror.Unsupported("DEFAULT in this position")
	case *ast.ValuesExpr:
		return c.excludedColumn(n.Column.Name)
	case *ast.FuncCastExpr:
		return nil, pgerror.Unsupported("this form of CAST")
	case *ast.SubqueryExpr:
		return c.scalarSubquery(n)
	case *ast.ExistsSubqueryExpr:
		return c.exists(n)
	case *ast.CompareSubqueryExpr:
		return c.compareSubquery(n)
	case *ast.WindowFuncExpr:
		return c.windowFunc(n)
	case *ast.RowExpr:
		return nil, pgerror.Unsupported("row constructors")
	case *ast.VariableExpr:
		return nil, pgerror.Unsupported("variables")
	}
	return nil, pgerror.Unsupported(fmt.Sprintf("expression %s", parser.RestoreSQL(e)))
}

func truthName(v int64) string {
	if v != 0 {
		return "TRUE"
	}
	return "FALSE"
}

// literal types a constant the way PostgreSQL types literals.
func literal(v any) (*scalar, error) {
	switch x := v.(type) {
	case nil:
		s := constScalar(types.Unknown, nil)
		s.untyped = true
		return s, nil
	case bool:
		return constScalar(types.Bool, x), nil
	case int64:
		if x >= math.MinInt32 && x <= math.MaxInt32 {
			return constScalar(types.Int4, x), nil
		}
		return constScalar(types.Int8, x), nil
	case uint64:
		if x <= math.MaxInt64 {
			return constScalar(types.Int8, int64(x)), nil
		}
		d, _, err := apd.NewFromString(strconv.FormatUint(x, 10))
		if err != nil {
			return nil, err
		}
		return constScalar(types.Numeric, d), nil
	case float64:
		d, _, err := apd.NewFromString(strconv.FormatFloat(x, 'g', -1, 64))
		if err != nil {
			return constScalar(types.Float8, x), nil
		}
		return constScalar(types.Numeric, d), nil
	case parser.DecimalLiteral:
		d, _, err := apd.NewFromString(string(x))
		if err != nil {
			return nil, pgerror.New(pgerror.CodeInvalidTextRepresent, "invalid numeric literal %q", string(x))
		}
		return constScalar(types.Numeric, d), nil
	case string:
		s := constScalar(types.String, x)
		s.untyped = true
		return s, nil
	case parser.BytesLiteral:
		return constScalar(types.Bytes, []byte(x)), nil
	}
	return nil, pgerror.Unsupported(fmt.Sprintf("literal of type %T", v))
}

// coerce gives an untyped literal or parameter the type t.
func coerce(s *scalar, t types.T) (*scalar, error) {
	if !s.untyped || t.Family == types.UnknownFamily {
		return s, nil
	}
	if s.param != 0 {
		c := *s
		c.typ, c.untyped = t, false
		inner := s.eval
		c.eval = func(ec *evalCtx, row []types.Datum) (types.Datum, error) {
			v, err := inner(ec, row)
			if err != nil || v == nil {
				return v, err
			}
			if str, ok := v.(string); ok {
				return types.ParseTextWith(t, str, ec.settings())
			}
			return v, nil
		}
		return &c, nil
	}
	if s.constant {
		if s.val == nil {
			return constScalar(t, nil), nil
		}
		if types.CastUsesSettings(types.String, t) {
			return stableLiteral(t, s.val.(string))
		}
		v, err := types.ParseText(t, s.val.(string))
		if err != nil {
			return nil, err
		}
		return constScalar(t, v), nil
	}
	return castScalar(s, t), nil
}

// castScalar converts s to t at run time.
func castScalar(s *scalar, t types.T) *scalar {
	from := s.typ
	inner := s.eval
	out := &scalar{typ: t, colOrd: -1, eval: func(ec *evalCtx, row []types.Datum) (types.Datum, error) {
		v, err := inner(ec, row)
		if err != nil || v == nil {
			return nil, err
		}
		return types.CastWith(v, from, t, ec.settings())
	}}
	if s.constant && !types.CastUsesSettings(from, t) {
		v, err := out.eval(nil, nil)
		if err == nil {
			return constScalar(t, v)
		}
	}
	return out
}

func (c *compiler) column(n *ast.ColumnName) (*scalar, error) {
	name := n.Name.O
	table := n.Table.O
	found := -1
	for i, col := range c.scope {
		if col.name != name || table != "" && col.table != table || table == "" && col.qualifiedOnly {
			continue
		}
		if found >= 0 {
			return nil, pgerror.New(pgerror.CodeAmbiguousColumn, "column reference %q is ambiguous", name)
		}
		found = i
	}
	if found < 0 && c.q != nil && c.q.outer != nil {
		if s, err := c.q.outer.column(n); err == nil {
			return c.outerReference(s), nil
		} else if pgerror.Code(err) != pgerror.CodeUndefinedColumn {
			return nil, err
		}
	}
	if found < 0 {
		if table != "" {
			return nil, pgerror.New(pgerror.CodeUndefinedColumn, "column %s.%s does not exist", table, name)
		}
		return nil, pgerror.New(pgerror.CodeUndefinedColumn, "column %q does not exist", name)
	}
	return c.columnAt(found), nil
}

// columnAt reads the scope's column found.
func (c *compiler) columnAt(found int) *scalar {
	if c.aggs != nil {
		// In aggregated rows the group's first input row follows the aggregate slots.
		base := c.aggBase
		return &scalar{typ: c.scope[found].typ, colOrd: found, eval: func(_ *evalCtx, row []types.Datum) (types.Datum, error) {
			return row[*base+found], nil
		}}
	}
	return &scalar{typ: c.scope[found].typ, colOrd: found, eval: columnReader(found)}
}

func columnReader(ord int) func(*evalCtx, []types.Datum) (types.Datum, error) {
	return func(_ *evalCtx, row []types.Datum) (types.Datum, error) {
		return row[ord], nil
	}
}

func (c *compiler) excludedColumn(n *ast.ColumnName) (*scalar, error) {
	if c.excludedOffset < 0 {
		return nil, pgerror.New(pgerror.CodeSyntaxError, "VALUES(%s) is only allowed in ON CONFLICT DO UPDATE", n.Name.O)
	}
	for i := 0; i < c.excludedOffset; i++ {
		if c.scope[i].name == n.Name.O {
			ord := c.excludedOffset + i
			return &scalar{typ: c.scope[i].typ, colOrd: -1, eval: columnReader(ord)}, nil
		}
	}
	return nil, pgerror.New(pgerror.CodeUndefinedColumn, "column excluded.%s does not exist", n.Name.O)
}

// derived builds a scalar from argument scalars. strict functions return NULL when any
// argument is NULL without calling f. Constant arguments fold at compile time.
func (c *compiler) derived(t types.T, args []*scalar, f func([]types.Datum) (types.Datum, error), strict bool) *scalar {
	allConst := true
	for _, a := range args {
		allConst = allConst && a.constant
	}
	s := &scalar{typ: t, colOrd: -1}
	s.eval = func(ec *evalCtx, row []types.Datum) (types.Datum, error) {
		vals, null, err := evalArgs(ec, row, args, strict)
		if err != nil || null {
			return nil, err
		}
		return f(vals)
	}
	if allConst {
		if v, err := s.eval(nil, nil); err == nil {
			return constScalar(t, v)
		}
	}
	return s
}

// unify types an operator's operands: an untyped side takes the other side's type.
func (c *compiler) unify(l, r ast.ExprNode) (*scalar, *scalar, error) {
	ls, err := c.compile(l)
	if err != nil {
		return nil, nil, err
	}
	rs, err := c.compileWant(r, typedOrUnknown(ls))
	if err != nil {
		return nil, nil, err
	}
	if ls.untyped && !rs.untyped {
		if ls, err = c.compileWant(l, rs.typ); err != nil {
			return nil, nil, err
		}
	}
	return ls, rs, nil
}

func typedOrUnknown(s *scalar) types.T {
	if s.untyped {
		return types.Unknown
	}
	return s.typ
}

var binaryOpNames = map[opcode.Op]string{
	opcode.Plus: "+", opcode.Minus: "-", opcode.Mul: "*", opcode.Div: "/", opcode.Mod: "%",
	opcode.IntDiv: "/", opcode.EQ: "=", opcode.NE: "<>", opcode.LT: "<", opcode.LE: "<=",
	opcode.GT: ">", opcode.GE: ">=", opcode.And: "&", opcode.Or: "|", opcode.LeftShift: "<<",
	opcode.RightShift: ">>",
}

func (c *compiler) binary(n *ast.BinaryOperationExpr) (*scalar, error) {
	switch n.Op {
	case opcode.LogicAnd, opcode.LogicOr:
		return c.logic(n)
	case opcode.NullEQ:
		ls, rs, err := c.unify(n.L, n.R)
		if err != nil {
			return nil, err
		}
		lt, rt := ls.typ, rs.typ
		return c.derived(types.Bool, []*scalar{ls, rs}, func(v []types.Datum) (types.Datum, error) {
			if v[0] == nil || v[1] == nil {
				return v[0] == nil && v[1] == nil, nil
			}
			_, eq, err := types.BinaryOp("=", lt, v[0], rt, v[1])
			return eq, err
		}, false), nil
	}
	name, ok := binaryOpNames[n.Op]
	if !ok {
		return nil, pgerror.Unsupported(fmt.Sprintf("operator %s", n.Op.String()))
	}
	ls, rs, err := c.unify(n.L, n.R)
	if err != nil {
		return nil, err
	}
	if ls.untyped && rs.untyped {
		// Two unknowns: PostgreSQL resolves them as text.
		ls, _ = coerce(ls, types.String)
		rs, _ = coerce(rs, types.String)
	}
	lt, rt := ls.typ, rs.typ
	resT, _, err := types.BinaryOp(name, lt, nil, rt, nil)
	if err != nil {
		return nil, err
	}
	return c.derived(resT, []*scalar{ls, rs}, func(v []types.Datum) (types.Datum, error) {
		_, out, err := types.BinaryOp(name, lt, v[0], rt, v[1])
		return out, err
	}, true), nil
}

func (c *compiler) boolArg(e ast.ExprNode, op string) (*scalar, error) {
	s, err := c.compileWant(e, types.Bool)
	if err != nil {
		return nil, err
	}
	if s.typ.Family != types.BoolFamily && !(s.constant && s.val == nil) {
		return nil, pgerror.New(pgerror.CodeDatatypeMismatch, "argument of %s must be type boolean, not type %s", op, s.typ.String())
	}
	return s, nil
}

func (c *compiler) logic(n *ast.BinaryOperationExpr) (*scalar, error) {
	and := n.Op == opcode.LogicAnd
	opName := "OR"
	if and {
		opName = "AND"
	}
	l, err := c.boolArg(n.L, opName)
	if err != nil {
		return nil, err
	}
	r, err := c.boolArg(n.R, opName)
	if err != nil {
		return nil, err
	}
	// Three-valued logic: FALSE AND NULL is FALSE, TRUE OR NULL is TRUE.
	return c.derived(types.Bool, []*scalar{l, r}, func(v []types.Datum) (types.Datum, error) {
		a, aNull := asBool(v[0])
		b, bNull := asBool(v[1])
		if and {
			if !aNull && !a || !bNull && !b {
				return false, nil
			}
			if aNull || bNull {
				return nil, nil
			}
			return true, nil
		}
		if !aNull && a || !bNull && b {
			return true, nil
		}
		if aNull || bNull {
			return nil, nil
		}
		return false, nil
	}, false), nil
}

func asBool(d types.Datum) (val, isNull bool) {
	if d == nil {
		return false, true
	}
	return d.(bool), false
}

func (c *compiler) unary(n *ast.UnaryOperationExpr) (*scalar, error) {
	switch n.Op {
	case opcode.Not, opcode.Not2:
		arg, err := c.boolArg(n.V, "NOT")
		if err != nil {
			return nil, err
		}
		return c.derived(types.Bool, []*scalar{arg}, func(v []types.Datum) (types.Datum, error) {
			return !v[0].(bool), nil
		}, true), nil
	case opcode.Minus:
		arg, err := c.compile(n.V)
		if err != nil {
			return nil, err
		}
		if arg.untyped {
			if arg, err = coerce(arg, types.Numeric); err != nil {
				return nil, err
			}
		}
		t := arg.typ
		return c.derived(t, []*scalar{arg}, func(v []types.Datum) (types.Datum, error) {
			return types.UnaryMinus(t, v[0])
		}, true), nil
	case opcode.Plus:
		return c.compile(n.V)
	}
	return nil, pgerror.Unsupported(fmt.Sprintf("unary operator %s", n.Op.String()))
}

// equalsFn returns a comparison of two values of the given types.
func equalsFn(lt, rt types.T) func(a, b types.Datum) (bool, error) {
	return func(a, b types.Datum) (bool, error) {
		_, eq, err := types.BinaryOp("=", lt, a, rt, b)
		if err != nil {
			return false, err
		}
		return eq.(bool), nil
	}
}

func (c *compiler) in(n *ast.PatternInExpr) (*scalar, error) {
	if n.Sel != nil {
		return c.inSubquery(n)
	}
	l, err := c.compile(n.Expr)
	if err != nil {
		return nil, err
	}
	args := []*scalar{l}
	for _, e := range n.List {
		s, err := c.compileWant(e, typedOrUnknown(l))
		if err != nil {
			return nil, err
		}
		args = append(args, s)
	}
	if l.untyped && len(args) > 1 {
		if l, err = coerce(l, args[1].typ); err != nil {
			return nil, err
		}
		args[0] = l
	}
	eqs := make([]func(a, b types.Datum) (bool, error), len(args))
	for i := 1; i < len(args); i++ {
		if _, _, err := types.BinaryOp("=", l.typ, nil, args[i].typ, nil); err != nil {
			return nil, err
		}
		eqs[i] = equalsFn(l.typ, args[i].typ)
	}
	not := n.Not
	return c.derived(types.Bool, args, func(v []types.Datum) (types.Datum, error) {
		if v[0] == nil {
			return nil, nil
		}
		sawNull := false
		for i := 1; i < len(v); i++ {
			if v[i] == nil {
				sawNull = true
				continue
			}
			eq, err := eqs[i](v[0], v[i])
			if err != nil {
				return nil, err
			}
			if eq {
				return !not, nil
			}
		}
		if sawNull {
			return nil, nil
		}
		return not, nil
	}, false), nil
}

func (c *compiler) between(n *ast.BetweenExpr) (*scalar, error) {
	lo := &ast.BinaryOperationExpr{Op: opcode.GE, L: n.Expr, R: n.Left}
	hi := &ast.BinaryOperationExpr{Op: opcode.LE, L: n.Expr, R: n.Right}
	var e ast.ExprNode = &ast.BinaryOperationExpr{Op: opcode.LogicAnd, L: lo, R: hi}
	if n.Not {
		e = &ast.UnaryOperationExpr{Op: opcode.Not, V: e}
	}
	return c.compile(e)
}

func (c *compiler) like(n *ast.PatternLikeOrIlikeExpr) (*scalar, error) {
	l, err := c.compileWant(n.Expr, types.String)
	if err != nil {
		return nil, err
	}
	p, err := c.compileWant(n.Pattern, types.String)
	if err != nil {
		return nil, err
	}
	if l.typ.Family != types.StringFamily || p.typ.Family != types.StringFamily {
		return nil, pgerror.New(pgerror.CodeUndefinedFunction, "operator does not exist: %s ~~ %s", l.typ.String(), p.typ.String())
	}
	not, ci := n.Not, !n.IsLike
	escape := n.Escape
	if escape == 0 {
		escape = '\\'
	}
	return c.derived(types.Bool, []*scalar{l, p}, func(v []types.Datum) (types.Datum, error) {
		s, pat := v[0].(string), v[1].(string)
		if ci {
			s, pat = strings.ToLower(s), strings.ToLower(pat)
		}
		m, err := likeMatch(s, pat, escape)
		if err != nil {
			return nil, err
		}
		return m != not, nil
	}, true), nil
}

// likeMatch matches s against a LIKE pattern (% any run, _ one character).
func likeMatch(s, pat string, escape byte) (bool, error) {
	sr, pr := []rune(s), []rune(pat)
	var match func(i, j int) (bool, error)
	memo := map[[2]int]bool{}
	match = func(i, j int) (bool, error) {
		if v, ok := memo[[2]int{i, j}]; ok {
			return v, nil
		}
		var res bool
		switch {
		case j == len(pr):
			res = i == len(sr)
		case pr[j] == '%':
			for k := i; k <= len(sr); k++ {
				ok, err := match(k, j+1)
				if err != nil {
					return false, err
				}
				if ok {
					res = true
					break
				}
			}
		case pr[j] == rune(escape):
			if j+1 == len(pr) {
				return false, pgerror.New("22025", "LIKE pattern must not end with escape character")
			}
			res = i < len(sr) && sr[i] == pr[j+1]
			if res {
				var err error
				if res, err = match(i+1, j+2); err != nil {
					return false, err
				}
			}
		case pr[j] == '_':
			if i < len(sr) {
				var err error
				if res, err = match(i+1, j+1); err != nil {
					return false, err
				}
			}
		default:
			if i < len(sr) && sr[i] == pr[j] {
				var err error
				if res, err = match(i+1, j+1); err != nil {
					return false, err
				}
			}
		}
		memo[[2]int{i, j}] = res
		return res, nil
	}
	return match(0, 0)
}

func (c *compiler) caseExpr(n *ast.CaseExpr) (*scalar, error) {
	var value *scalar
	var err error
	if n.Value != nil {
		if value, err = c.compile(n.Value); err != nil {
			return nil, err
		}
	}
	var conds, results []*scalar
	resT := types.Unknown
	for _, w := range n.WhenClauses {
		var cond *scalar
		if value != nil {
			cond, err = c.compile(&ast.BinaryOperationExpr{Op: opcode.EQ, L: n.Value, R: w.Expr})
		} else {
			cond, err = c.boolArg(w.Expr, "CASE/WHEN")
		}
		if err != nil {
			return nil, err
		}
		r, err := c.compile(w.Result)
		if err != nil {
			return nil, err
		}
		if !r.untyped && resT.Family == types.UnknownFamily {
			resT = r.typ
		}
		conds, results = append(conds, cond), append(results, r)
	}
	var elseS *scalar
	if n.ElseClause != nil {
		if elseS, err = c.compile(n.ElseClause); err != nil {
			return nil, err
		}
		if !elseS.untyped && resT.Family == types.UnknownFamily {
			resT = elseS.typ
		}
	}
	if resT.Family == types.UnknownFamily {
		resT = types.String
	}
	for i, r := range results {
		if results[i], err = c.toType(r, resT); err != nil {
			return nil, err
		}
	}
	if elseS != nil {
		if elseS, err = c.toType(elseS, resT); err != nil {
			return nil, err
		}
	}
	return &scalar{typ: resT, colOrd: -1, eval: func(ec *evalCtx, row []types.Datum) (types.Datum, error) {
		for i, cond := range conds {
			v, err := cond.eval(ec, row)
			if err != nil {
				return nil, err
			}
			if b, ok := v.(bool); ok && b {
				return results[i].eval(ec, row)
			}
		}
		if elseS != nil {
			return elseS.eval(ec, row)
		}
		return nil, nil
	}}, nil
}

// toType converts s to t: untyped values are coerced, same-family values pass, others cast.
func (c *compiler) toType(s *scalar, t types.T) (*scalar, error) {
	if s.untyped {
		return coerce(s, t)
	}
	if s.typ.Family == t.Family {
		return s, nil
	}
	return castScalar(s, t), nil
}

func newUUID() types.UUID {
	var u types.UUID
	if _, err := rand.Read(u[:]); err != nil {
		panic(err)
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// evalArgs evaluates a call's arguments on row. A strict call stops at a NULL argument, and
// null reports it: the call's result is then NULL.
func evalArgs(ec *evalCtx, row []types.Datum, args []*scalar, strict bool) (vals []types.Datum, null bool, err error) {
	vals = make([]types.Datum, len(args))
	for i, a := range args {
		v, err := a.eval(ec, row)
		if err != nil {
			return nil, false, err
		}
		if v == nil && strict {
			return nil, true, nil
		}
		vals[i] = v
	}
	return vals, false, nil
}
