package parser

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/format"
	"github.com/pingcap/tidb/pkg/parser/types"
)

// DecimalLiteral is the text of an exact numeric literal such as 1.50; the SQL layer decides
// its type from context.
type DecimalLiteral string

// BytesLiteral is the value of a hex (X'..') or bit (B'..') literal.
type BytesLiteral []byte

// Value is a literal in the AST. Val is nil (NULL), bool, int64, uint64, float64, string,
// DecimalLiteral or BytesLiteral.
type Value struct {
	ast.TexprNode
	Val    any
	offset int
}

// Param is a ? placeholder. Order is its 0-based position among the statement's
// placeholders, in text order (assigned by ParseOne; tidb's grammar only records offsets).
type Param struct {
	Value
	Order      int
	textOffset int
}

func init() {
	ast.NewValueExpr = func(v any, _ string, _ string) ast.ValueExpr {
		if ve, ok := v.(*Value); ok {
			return ve
		}
		n := &Value{Val: normalizeLiteral(v)}
		n.SetType(types.NewFieldType(0))
		return n
	}
	ast.NewParamMarkerExpr = func(offset int) ast.ParamMarkerExpr {
		p := &Param{textOffset: offset}
		p.SetType(types.NewFieldType(0))
		return p
	}
	ast.NewDecimal = func(s string) (any, error) { return DecimalLiteral(s), nil }
	ast.NewHexLiteral = func(s string) (any, error) { return parseRadixLiteral(s, 16) }
	ast.NewBitLiteral = func(s string) (any, error) { return parseRadixLiteral(s, 2) }
}

func normalizeLiteral(v any) any {
	switch t := v.(type) {
	case int:
		return int64(t)
	case float32:
		return float64(t)
	case []byte:
		return string(t)
	}
	return v
}

// parseRadixLiteral decodes x'0A0B', 0x0a0b, b'0101' or 0b0101 into bytes.
func parseRadixLiteral(s string, base int) (any, error) {
	body := s
	switch {
	case len(s) >= 3 && (s[0] == 'x' || s[0] == 'X' || s[0] == 'b' || s[0] == 'B') && s[1] == '\'':
		body = s[2 : len(s)-1]
	case len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'b'):
		body = s[2:]
	}
	bitsPerDigit := 4
	if base == 2 {
		bitsPerDigit = 1
	}
	total := len(body) * bitsPerDigit
	out := make([]byte, (total+7)/8)
	for i, c := range body {
		d, err := strconv.ParseUint(string(c), base, 8)
		if err != nil {
			return nil, fmt.Errorf("invalid literal %q", s)
		}
		bit := total - (i+1)*bitsPerDigit // position of the digit's lowest bit
		for j := 0; j < bitsPerDigit; j++ {
			if d&(1<<j) != 0 {
				b := bit + j
				out[len(out)-1-b/8] |= 1 << (b % 8)
			}
		}
	}
	return BytesLiteral(out), nil
}

// Restore implements ast.Node.
func (n *Value) Restore(ctx *format.RestoreCtx) error {
	switch v := n.Val.(type) {
	case nil:
		ctx.WriteKeyWord("NULL")
	case bool:
		if v {
			ctx.WriteKeyWord("TRUE")
		} else {
			ctx.WriteKeyWord("FALSE")
		}
	case string:
		ctx.WriteString(v)
	case BytesLiteral:
		ctx.WritePlainf("X'%X'", []byte(v))
	default:
		ctx.WritePlain(n.GetString())
	}
	return nil
}

// Format implements ast.ExprNode.
func (n *Value) Format(w io.Writer) { io.WriteString(w, n.GetString()) }

// Accept implements ast.Node.
func (n *Value) Accept(v ast.Visitor) (ast.Node, bool) {
	newNode, skip := v.Enter(n)
	if skip {
		return v.Leave(newNode)
	}
	return v.Leave(newNode)
}

// SetValue implements ast.ValueExpr.
func (n *Value) SetValue(v any) { n.Val = normalizeLiteral(v) }

// GetValue implements ast.ValueExpr.
func (n *Value) GetValue() any { return n.Val }

// GetDatumString implements ast.ValueExpr.
func (n *Value) GetDatumString() string { return n.GetString() }

// GetString implements ast.ValueExpr.
func (n *Value) GetString() string {
	switch v := n.Val.(type) {
	case nil:
		return "NULL"
	case string:
		return v
	case DecimalLiteral:
		return string(v)
	case BytesLiteral:
		return string(v)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return fmt.Sprint(n.Val)
}

// GetProjectionOffset implements ast.ValueExpr.
func (n *Value) GetProjectionOffset() int { return n.offset }

// SetProjectionOffset implements ast.ValueExpr.
func (n *Value) SetProjectionOffset(o int) { n.offset = o }

// Restore implements ast.Node.
func (p *Param) Restore(ctx *format.RestoreCtx) error {
	ctx.WritePlainf("$%d", p.Order+1)
	return nil
}

// Format implements ast.ExprNode.
func (p *Param) Format(w io.Writer) { fmt.Fprintf(w, "$%d", p.Order+1) }

// Accept implements ast.Node.
func (p *Param) Accept(v ast.Visitor) (ast.Node, bool) {
	newNode, skip := v.Enter(p)
	if skip {
		return v.Leave(newNode)
	}
	return v.Leave(newNode)
}

// SetOrder implements ast.ParamMarkerExpr.
func (p *Param) SetOrder(o int) { p.Order = o }

// restoreFlags render SQL the way ParseOne reads it back: standard strings, double-quoted names.
const restoreFlags = format.RestoreStringSingleQuotes | format.RestoreKeyWordLowercase |
	format.RestoreNameDoubleQuotes | format.RestoreStringWithoutCharset | format.RestoreSpacesAroundBinaryOperation

// RestoreSQL renders a node back to SQL text that ParseOne accepts (for stored defaults and
// error messages).
func RestoreSQL(n ast.Node) string {
	var sb strings.Builder
	if err := n.Restore(format.NewRestoreCtx(restoreFlags, &sb)); err != nil {
		return fmt.Sprintf("<%T>", n)
	}
	return sb.String()
}

// numberParams sets each placeholder's Order from its position in the text.
func numberParams(n ast.Node) {
	v := &paramCollector{}
	n.Accept(v)
	sort.Slice(v.params, func(i, j int) bool { return v.params[i].textOffset < v.params[j].textOffset })
	for i, p := range v.params {
		p.Order = i
	}
}

type paramCollector struct{ params []*Param }

func (v *paramCollector) Enter(n ast.Node) (ast.Node, bool) {
	if p, ok := n.(*Param); ok {
		v.params = append(v.params, p)
	}
	return n, false
}

func (v *paramCollector) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// DisplaySQL renders n for people (EXPLAIN): names unquoted, keywords upper case.
func DisplaySQL(n ast.Node) string {
	var sb strings.Builder
	if err := n.Restore(format.NewRestoreCtx(format.RestoreStringSingleQuotes|format.RestoreKeyWordUppercase, &sb)); err != nil {
		return fmt.Sprintf("<%T>", n)
	}
	return sb.String()
}
