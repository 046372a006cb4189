package sql

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/opcode"

	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/parser"
	"github.com/meridiandb/meridian/sql/pgdialect"
	"github.com/meridiandb/meridian/sql/types"
)

// Expressions as PostgreSQL prints them. Meridian keeps CHECK expressions and defaults as
// normalized SQL text in tidb's spelling (double-quoted names, the front end's marker calls
// such as meridian_cast); clients read them back through pg_get_constraintdef, pg_get_expr
// and information_schema, and tools compare them with what PostgreSQL prints. deparseExpr
// reproduces ruleutils.c's output for the expressions a constraint usually holds:
// comparisons, arithmetic, AND/OR/NOT, IS [NOT] NULL, IN (as = ANY (ARRAY[...])), BETWEEN
// (as two comparisons), LIKE (as ~~), casts and function calls; constants carry the type
// PostgreSQL's operator resolution would give them ('x'::text, '-1'::integer), and operands
// of mixed numeric types the implicit cast it would add. Anything else is printed in
// Meridian's spelling. Non-pretty output parenthesizes every operator expression, as
// pg_get_constraintdef(oid) does; pretty output only where precedence needs it.

// exprNode is an expression tree shaped like PostgreSQL's parse tree, for printing.
type exprNode struct {
	kind exprKind
	// text is a variable's or constant's printed form, a function's name, an operator, the
	// target type of a cast, or the suffix of a null or boolean test.
	text string
	args []*exprNode
	// typ is the expression's type; typed is false for an untyped string literal (whose
	// value is lit) and for what Meridian cannot type here.
	typ   types.T
	typed bool
	lit   string
	// sealed marks the AND or OR a BETWEEN becomes, which PostgreSQL's grammar never
	// merges into an enclosing chain.
	sealed bool
}

type exprKind uint8

const (
	exprVar      exprKind = iota // a column
	exprConst                    // a constant, printed with its decoration
	exprFunc                     // name(args)
	exprArray                    // ARRAY[args]
	exprCast                     // (arg)::type
	exprOp                       // binary (or prefix) operator
	exprAnd                      // BoolExpr AND
	exprOr                       // BoolExpr OR
	exprNot                      // BoolExpr NOT
	exprTest                     // arg IS [NOT] NULL / TRUE / ...
	exprDistinct                 // a IS DISTINCT FROM b
	exprArrayOp                  // a op ANY|ALL (array)
	exprRaw                      // printed as Meridian spells it
)

// deparseCheck prints a stored CHECK expression of t as PostgreSQL's pg_get_expr would.
func deparseCheck(t *catalog.Table, expr string, pretty bool) string {
	e, err := parseCheck(&catalog.CheckConstraint{Expr: expr})
	if err != nil {
		return expr
	}
	d := &deparser{table: t}
	return d.build(e).render(pretty)
}

type deparser struct {
	table *catalog.Table
}

func (d *deparser) build(e ast.ExprNode) *exprNode {
	switch n := e.(type) {
	case *ast.ParenthesesExpr:
		return d.build(n.Expr)
	case *ast.ColumnNameExpr:
		v := &exprNode{kind: exprVar, text: quoteIdentIfNeeded(n.Name.Name.O)}
		if d.table != nil {
			if c, _, ok := d.table.ColumnByName(n.Name.Name.O); ok {
				v.typ, v.typed = c.Type, true
			}
		}
		return v
	case *parser.Value:
		return constNode(n.Val)
	case *ast.UnaryOperationExpr:
		arg := d.build(n.V)
		switch n.Op {
		case opcode.Not, opcode.Not2:
			if b, ok := n.V.(*ast.BinaryOperationExpr); ok && b.Op == opcode.NullEQ {
				return d.distinct(b)
			}
			if p, ok := n.V.(*ast.ParenthesesExpr); ok {
				if b, ok := p.Expr.(*ast.BinaryOperationExpr); ok && b.Op == opcode.NullEQ {
					return d.distinct(b)
				}
			}
			return &exprNode{kind: exprNot, args: []*exprNode{arg}, typ: types.Bool, typed: true}
		case opcode.Minus:
			if arg.kind == exprConst && arg.typed && isNumericConst(arg) {
				return negate(arg)
			}
			return &exprNode{kind: exprOp, text: "-", args: []*exprNode{arg}, typ: arg.typ, typed: arg.typed}
		case opcode.Plus:
			return arg
		}
	case *ast.BinaryOperationExpr:
		l, r := d.build(n.L), d.build(n.R)
		switch n.Op {
		case opcode.LogicAnd:
			return boolNode(exprAnd, l, r)
		case opcode.LogicOr:
			return boolNode(exprOr, l, r)
		case opcode.NullEQ:
			return &exprNode{kind: exprNot, args: []*exprNode{d.distinct(n)}, typ: types.Bool, typed: true}
		}
		if op, ok := binaryOps[n.Op]; ok {
			return operator(op, l, r)
		}
	case *ast.IsNullExpr:
		suffix := " IS NULL"
		if n.Not {
			suffix = " IS NOT NULL"
		}
		return &exprNode{kind: exprTest, text: suffix, args: []*exprNode{d.build(n.Expr)}, typ: types.Bool, typed: true}
	case *ast.IsTruthExpr:
		suffix := " IS TRUE"
		if n.True == 0 {
			suffix = " IS FALSE"
		}
		if n.Not {
			suffix = strings.Replace(suffix, "IS", "IS NOT", 1)
		}
		return &exprNode{kind: exprTest, text: suffix, args: []*exprNode{d.build(n.Expr)}, typ: types.Bool, typed: true}
	case *ast.BetweenExpr:
		x, lo, hi := d.build(n.Expr), d.build(n.Left), d.build(n.Right)
		b := boolNode(exprAnd, operator(">=", x, lo), operator("<=", x, hi))
		if n.Not {
			b = boolNode(exprOr, operator("<", x, lo), operator(">", x, hi))
		}
		b.sealed = true
		return b
	case *ast.PatternInExpr:
		if n.Sel != nil {
			break
		}
		x := d.build(n.Expr)
		op := "="
		if n.Not {
			op = "<>"
		}
		if len(n.List) == 1 {
			return operator(op, x, d.build(n.List[0]))
		}
		var items []*exprNode
		for _, item := range n.List {
			items = append(items, d.build(item))
		}
		return arrayOp(op, !n.Not, x, items)
	case *ast.PatternLikeOrIlikeExpr:
		if esc := n.Escape; esc != 0 && esc != '\\' {
			break
		}
		op := "~~"
		if !n.IsLike {
			op = "~~*"
		}
		if n.Not {
			op = "!" + op
		}
		return operator(op, d.build(n.Expr), d.build(n.Pattern))
	case *ast.FuncCallExpr:
		return d.call(n)
	}
	return &exprNode{kind: exprRaw, text: parser.RestoreSQL(e)}
}

// distinct is a IS DISTINCT FROM b, from tidb's a <=> b (IS NOT DISTINCT FROM).
func (d *deparser) distinct(n *ast.BinaryOperationExpr) *exprNode {
	l, r := coerceOperands(d.build(n.L), d.build(n.R))
	return &exprNode{kind: exprDistinct, args: []*exprNode{l, r}, typ: types.Bool, typed: true}
}

// call prints a function call, and the front end's marker calls as what they stand for.
func (d *deparser) call(n *ast.FuncCallExpr) *exprNode {
	name := n.FnName.L
	lit := func(i int) (string, bool) {
		if i >= len(n.Args) {
			return "", false
		}
		v, ok := n.Args[i].(*parser.Value)
		if !ok {
			return "", false
		}
		s, ok := v.Val.(string)
		return s, ok
	}
	switch name {
	case "meridian_cast":
		typName, ok := lit(1)
		typ, err := types.ParseTypeName(typName)
		if !ok || err != nil {
			break
		}
		return exprCastTo(d.build(n.Args[0]), typ)
	case "meridian_op":
		if op, ok := lit(0); ok && len(n.Args) == 3 {
			return operator(op, d.build(n.Args[1]), d.build(n.Args[2]))
		}
	case "meridian_any", "meridian_all":
		if op, ok := lit(0); ok && len(n.Args) == 3 {
			arr := d.build(n.Args[2])
			if arr.kind == exprArray {
				return arrayOp(op, name == "meridian_any", d.build(n.Args[1]), arr.args)
			}
			node := &exprNode{kind: exprArrayOp, text: op + " " + strings.ToUpper(strings.TrimPrefix(name, "meridian_")),
				args: []*exprNode{d.build(n.Args[1]), arr}, typ: types.Bool, typed: true}
			return node
		}
	case "meridian_array":
		var items []*exprNode
		for _, a := range n.Args {
			items = append(items, d.build(a))
		}
		items = unifyTypes(items)
		arr := &exprNode{kind: exprArray, args: items}
		if len(items) > 0 && items[0].typed {
			arr.typ, arr.typed = types.ArrayOf(items[0].typ), true
		}
		return arr
	case "meridian_ilike":
		if len(n.Args) == 2 {
			return operator("~~*", d.build(n.Args[0]), d.build(n.Args[1]))
		}
	}
	if strings.HasPrefix(name, "meridian_") {
		return &exprNode{kind: exprRaw, text: parser.RestoreSQL(n)}
	}
	// Arguments are typed as for text parameters, which most string functions have:
	// literals are text and varchar is cast to it.
	f := &exprNode{kind: exprFunc, text: quoteIdentIfNeeded(name)}
	for _, a := range n.Args {
		arg := d.build(a)
		if !arg.typed && arg.kind == exprConst {
			arg = retype(arg, types.String)
		} else if arg.typed && arg.typ.Family == types.StringFamily && arg.typ.StringKind == types.VarChar {
			arg = toText(arg)
		}
		f.args = append(f.args, arg)
	}
	return f
}

var binaryOps = map[opcode.Op]string{
	opcode.LT: "<", opcode.LE: "<=", opcode.GT: ">", opcode.GE: ">=", opcode.EQ: "=", opcode.NE: "<>",
	opcode.Plus: "+", opcode.Minus: "-", opcode.Mul: "*", opcode.Div: "/", opcode.Mod: "%",
}

// constNode is a literal's constant: integers are integer (bigint past its range), decimals
// numeric, strings untyped until an operator gives them a type.
func constNode(v any) *exprNode {
	switch x := v.(type) {
	case nil:
		return &exprNode{kind: exprConst, text: "NULL"}
	case bool:
		if x {
			return &exprNode{kind: exprConst, text: "true", typ: types.Bool, typed: true}
		}
		return &exprNode{kind: exprConst, text: "false", typ: types.Bool, typed: true}
	case int64:
		return numberConst(strconv.FormatInt(x, 10), intLiteralType(x))
	case uint64:
		return numberConst(strconv.FormatUint(x, 10), types.Numeric)
	case parser.DecimalLiteral:
		return numberConst(string(x), types.Numeric)
	case float64:
		return numberConst(strconv.FormatFloat(x, 'g', -1, 64), types.Numeric)
	case string:
		return &exprNode{kind: exprConst, lit: x}
	}
	return &exprNode{kind: exprRaw, text: fmt.Sprint(v)}
}

// intLiteralType is the type PostgreSQL gives an integer literal.
func intLiteralType(x int64) types.T {
	if x >= math.MinInt32 && x <= math.MaxInt32 {
		return types.Int4
	}
	return types.Int8
}

// numberConst is a numeric constant of type t, printed as ruleutils prints it: an
// integer plain unless negative, a numeric plain when it looks like a decimal number,
// anything else quoted with its type.
func numberConst(digits string, t types.T) *exprNode {
	n := &exprNode{kind: exprConst, typ: t, typed: true, lit: digits}
	plain := digits != "" && digits[0] != '-'
	switch {
	case t.Family == types.IntFamily && t.Size() == 4:
	case t.Family == types.DecimalFamily:
		plain = plain && strings.ContainsAny(digits, ".eE")
	default:
		plain = false
	}
	if plain {
		n.text = digits
	} else {
		n.text = quoteSQLString(digits) + "::" + formatTypeName(t)
	}
	return n
}

func isNumericConst(n *exprNode) bool {
	return n.typ.Family == types.IntFamily || n.typ.Family == types.DecimalFamily
}

// negate folds a minus sign into a numeric constant, as PostgreSQL's grammar does.
func negate(n *exprNode) *exprNode {
	digits := "-" + n.lit
	t := n.typ
	if t.Family == types.IntFamily && digits == "-2147483648" {
		t = types.Int4
	}
	return numberConst(digits, t)
}

// formatTypeName is format_type's name for t; character without a length is bpchar, as a
// constant's label shows it.
func formatTypeName(t types.T) string {
	if isBpchar(t) && t.Width == 0 {
		return "bpchar"
	}
	return formatType(t.OID(), t.TypeModifier())
}

// retype gives an untyped string constant type t, as PostgreSQL coerces an unknown
// literal: the constant's value, printed as a constant of that type.
func retype(n *exprNode, t types.T) *exprNode {
	if n.typed || n.kind != exprConst || n.text == "NULL" {
		return n
	}
	switch t.Family {
	case types.IntFamily, types.DecimalFamily:
		if _, err := types.ParseText(t, n.lit); err == nil {
			return numberConst(strings.TrimSpace(n.lit), t)
		}
	case types.BoolFamily:
		if v, err := types.ParseText(t, n.lit); err == nil {
			return constNode(v)
		}
	}
	if t.Family == types.UnknownFamily {
		t = types.String
	}
	return &exprNode{kind: exprConst, text: quoteSQLString(n.lit) + "::" + formatTypeName(t), typ: t, typed: true, lit: n.lit}
}

// exprCastTo is an explicit cast. A literal cast is a constant of the type, as in PostgreSQL.
func exprCastTo(n *exprNode, t types.T) *exprNode {
	if !n.typed && n.kind == exprConst {
		return retype(n, t)
	}
	return &exprNode{kind: exprCast, text: formatTypeName(t), args: []*exprNode{n}, typ: t, typed: true}
}

// boolNode is l AND r (or OR). A chain a AND b AND c is one node, as PostgreSQL's grammar
// makes it, by merging r into a left operand that is such a chain itself (never a right
// one, nor a BETWEEN's).
func boolNode(kind exprKind, l, r *exprNode) *exprNode {
	if l.kind == kind && !l.sealed {
		return &exprNode{kind: kind, args: append(append([]*exprNode(nil), l.args...), r), typ: types.Bool, typed: true}
	}
	return &exprNode{kind: kind, args: []*exprNode{l, r}, typ: types.Bool, typed: true}
}

// booleanOps are the operators with a boolean result.
var booleanOps = map[string]bool{"<": true, "<=": true, ">": true, ">=": true, "=": true, "<>": true,
	"~~": true, "!~~": true, "~~*": true, "!~~*": true, "~": true, "!~": true, "~*": true, "!~*": true}

// operator is a binary operator over operands coerced as PostgreSQL's operator resolution
// would coerce them.
func operator(op string, l, r *exprNode) *exprNode {
	l, r = coerceOperands(l, r)
	n := &exprNode{kind: exprOp, text: op, args: []*exprNode{l, r}}
	if booleanOps[op] {
		n.typ, n.typed = types.Bool, true
	} else if l.typed {
		n.typ, n.typed = l.typ, true
	}
	return n
}

// arrayOp is x op ANY (ARRAY[items]) (ALL when any is false), what IN lists become.
func arrayOp(op string, any bool, x *exprNode, items []*exprNode) *exprNode {
	quant := " ANY"
	if !any {
		quant = " ALL"
	}
	if x.typed && x.typ.Family == types.StringFamily && x.typ.StringKind == types.VarChar {
		// PostgreSQL types the list as the operand's type, then compares as text: the
		// array of varchar constants is cast to text[].
		vc := types.T{Family: types.StringFamily, StringKind: types.VarChar}
		var elems []*exprNode
		for _, it := range items {
			elems = append(elems, retype(it, vc))
		}
		arr := &exprNode{kind: exprArray, args: elems, typ: types.ArrayOf(vc), typed: true}
		return &exprNode{kind: exprArrayOp, text: op + quant, typ: types.Bool, typed: true,
			args: []*exprNode{toText(x), exprCastTo(arr, types.ArrayOf(types.String))}}
	}
	all := unifyTypes(append([]*exprNode{x}, items...))
	x, items = all[0], all[1:]
	arr := &exprNode{kind: exprArray, args: items, typ: types.ArrayOf(x.typ), typed: x.typed}
	return &exprNode{kind: exprArrayOp, text: op + quant, args: []*exprNode{x, arr}, typ: types.Bool, typed: true}
}

// unifyTypes coerces a list of expressions (an IN list with its operand, an array's
// elements) to one type, as operands of one operator.
func unifyTypes(items []*exprNode) []*exprNode {
	var ref *exprNode
	for _, it := range items {
		if it.typed && (ref == nil || numericRank(it.typ) > numericRank(ref.typ)) {
			ref = it
		}
	}
	out := make([]*exprNode, len(items))
	for i, it := range items {
		if ref == nil {
			out[i] = retype(it, types.String)
			continue
		}
		out[i], _ = coerceOperands(it, ref)
	}
	return out
}

// numericRank orders the numeric types by PostgreSQL's implicit casts: integers, then
// numeric, then the floating point types; 0 for the others.
func numericRank(t types.T) int {
	switch t.Family {
	case types.IntFamily:
		return 1
	case types.DecimalFamily:
		return 2
	case types.FloatFamily:
		return 3
	}
	return 0
}

// coerceOperands types an operator's operands: an untyped literal takes the other
// operand's type (text for character types); integers meeting numeric or floating point,
// and numeric meeting floating point, are cast up (the integer types compare and add
// across sizes without a cast); varchar meets text as text.
func coerceOperands(l, r *exprNode) (*exprNode, *exprNode) {
	switch {
	case !l.typed && !r.typed:
		return retype(l, types.String), retype(r, types.String)
	case !l.typed:
		return retype(l, literalTarget(r.typ)), castStringOperand(r, l)
	case !r.typed:
		return castStringOperand(l, r), retype(r, literalTarget(l.typ))
	}
	lr, rr := numericRank(l.typ), numericRank(r.typ)
	switch {
	case lr > 0 && rr > 0 && lr != rr:
		if lr < rr {
			return exprCastTo(l, baseOf(r.typ)), r
		}
		return l, exprCastTo(r, baseOf(l.typ))
	case l.typ.Family == types.StringFamily && r.typ.Family == types.StringFamily:
		if isBpchar(l.typ) && isBpchar(r.typ) {
			return l, r
		}
		return toText(l), toText(r)
	}
	return l, r
}

// literalTarget is the type an untyped literal compared with a value of type t takes.
func literalTarget(t types.T) types.T {
	if t.Family == types.StringFamily {
		if isBpchar(t) {
			return types.T{Family: types.StringFamily, StringKind: types.Char}
		}
		return types.String
	}
	return baseOf(t)
}

// castStringOperand is the typed operand of an operator whose other operand is an untyped
// literal: a varchar (or name) operand is compared as text.
func castStringOperand(n, _ *exprNode) *exprNode {
	if n.typ.Family == types.StringFamily && !isBpchar(n.typ) {
		return toText(n)
	}
	return n
}

func isBpchar(t types.T) bool { return t.Family == types.StringFamily && t.StringKind == types.Char }

// toText casts a character operand that is not text to text.
func toText(n *exprNode) *exprNode {
	if n.typ.Family != types.StringFamily || n.typ.StringKind == types.Text {
		return n
	}
	return exprCastTo(n, types.String)
}

// render prints the tree, pretty or in pg_get_constraintdef's default form.
func (n *exprNode) render(pretty bool) string {
	var sb strings.Builder
	n.write(&sb, pretty)
	return sb.String()
}

func (n *exprNode) write(sb *strings.Builder, pretty bool) {
	wrap := !pretty
	child := func(i int) {
		c := n.args[i]
		paren := pretty && !c.simpleUnder(n, i)
		if paren {
			sb.WriteByte('(')
		}
		c.write(sb, pretty)
		if paren {
			sb.WriteByte(')')
		}
	}
	switch n.kind {
	case exprVar, exprConst, exprRaw:
		sb.WriteString(n.text)
		return
	case exprFunc, exprArray:
		if n.kind == exprArray {
			sb.WriteString("ARRAY[")
		} else {
			sb.WriteString(n.text + "(")
		}
		for i := range n.args {
			if i > 0 {
				sb.WriteString(", ")
			}
			child(i)
		}
		if n.kind == exprArray {
			sb.WriteByte(']')
		} else {
			sb.WriteByte(')')
		}
		return
	case exprCast:
		if wrap {
			sb.WriteByte('(')
		}
		child(0)
		if wrap {
			sb.WriteByte(')')
		}
		sb.WriteString("::" + n.text)
		return
	}
	if wrap {
		sb.WriteByte('(')
	}
	switch n.kind {
	case exprOp:
		if len(n.args) == 1 {
			sb.WriteString(n.text + " ")
			child(0)
			break
		}
		child(0)
		sb.WriteString(" " + n.text + " ")
		child(1)
	case exprAnd, exprOr:
		sep := " AND "
		if n.kind == exprOr {
			sep = " OR "
		}
		for i := range n.args {
			if i > 0 {
				sb.WriteString(sep)
			}
			child(i)
		}
	case exprNot:
		sb.WriteString("NOT ")
		child(0)
	case exprTest:
		child(0)
		sb.WriteString(n.text)
	case exprDistinct:
		child(0)
		sb.WriteString(" IS DISTINCT FROM ")
		child(1)
	case exprArrayOp:
		child(0)
		sb.WriteString(" " + n.text + " (")
		child(1)
		sb.WriteByte(')')
	}
	if wrap {
		sb.WriteByte(')')
	}
}

// simpleUnder is ruleutils' isSimpleNode: whether n, the i-th argument of parent, prints
// without parentheses in pretty output.
func (n *exprNode) simpleUnder(parent *exprNode, i int) bool {
	switch n.kind {
	case exprVar, exprConst, exprFunc, exprArray:
		return true
	case exprCast:
		return n.args[0].simpleUnder(n, 0)
	case exprOp:
		if parent.kind == exprOp {
			return arithmeticSimple(n, parent, i)
		}
		return testSimple(parent)
	case exprTest, exprDistinct:
		return testSimple(parent)
	case exprAnd, exprOr, exprNot:
		switch parent.kind {
		case exprAnd, exprOr, exprNot:
			switch n.kind {
			case exprNot, exprAnd:
				return parent.kind == exprAnd || parent.kind == exprOr
			case exprOr:
				return parent.kind == exprOr
			}
			return false
		case exprCast:
			return false
		case exprFunc, exprArray:
			return true
		}
	}
	return false
}

// arithmeticSimple: an operator under an operator needs no parentheses only when both are
// + - * / % and it binds tighter, or as tight and is the left operand.
func arithmeticSimple(n, parent *exprNode, i int) bool {
	if len(n.args) != 2 || len(parent.args) != 2 {
		return false
	}
	lo := func(op string) bool { return op == "+" || op == "-" }
	hi := func(op string) bool { return op == "*" || op == "/" || op == "%" }
	op, pop := n.text, parent.text
	if !(lo(op) || hi(op)) || !(lo(pop) || hi(pop)) {
		return false
	}
	if hi(op) && lo(pop) {
		return true
	}
	if lo(op) && hi(pop) {
		return false
	}
	return i == 0
}

// testSimple: an operator or test under a boolean connective, a function or an array
// needs no parentheses; under a cast or anything else it does.
func testSimple(parent *exprNode) bool {
	switch parent.kind {
	case exprAnd, exprOr, exprNot, exprFunc, exprArray:
		return true
	}
	return false
}

// nextvalDefault matches a default drawing from a sequence, as stored.
var nextvalDefault = regexp.MustCompile(`^` + pgdialect.SequenceFunctionPrefix + `nextval\('((?:[^']|'')*)'\)$`)

// defaultText is pg_get_expr of a column's default: a sequence's nextval names it as
// regclass output does (qualified unless visible), other defaults as defaultExprText
// shows them.
func (s *catalogSnapshot) defaultText(t *catalog.Table, c columnInfo) string {
	m := nextvalDefault.FindStringSubmatch(c.def)
	if m == nil {
		return defaultExprText(c.def, c.typ)
	}
	name := strings.ReplaceAll(m[1], "''", "'")
	seq := s.ownedSequence(t, c.id)
	if seq == nil {
		seq, _ = s.relationByName(name)
	}
	if seq != nil {
		name = s.qualifiedRelationName(seq)
	}
	return "nextval(" + quoteSQLString(name) + "::regclass)"
}
