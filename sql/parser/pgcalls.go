package parser

import (
	"sort"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/sql/pgerror"
)

// PostgreSQL function calls that tidb's MySQL grammar reads differently or not at all.
// rewriteCalls adjusts the normalized text before tidb parses it, and fixCalls turns the
// result back into the nodes the SQL layer expects:
//
//   - concat(a, b) and a || b both parse as concat(a, b), but concat skips NULLs where ||
//     yields NULL. The function is spelled CONCAT (tidb keeps the spelling), and after
//     parsing the operator becomes ConcatOp and the function concat again.
//   - stddev() and variance() are MySQL's population forms in tidb's grammar and
//     PostgreSQL's sample forms; div() and mod() are operators there. The aggregates go
//     through the carrier below; the two functions are quoted, which makes them plain calls.
//   - Aggregates tidb does not know (string_agg, array_agg, bool_and, ...) cannot take
//     DISTINCT, ORDER BY or OVER in its grammar, nor can the known ones take ORDER BY. Such
//     a call f([DISTINCT] args [ORDER BY keys]) [OVER w] is carried through tidb's
//     group_concat, the one aggregate whose grammar has them all:
//     group_concat([DISTINCT] meridian_agg('f', args) [ORDER BY keys]) [OVER w].
//
// The names rewritten are the SQL layer's aggregates; RestoreSQL prints the fixed nodes
// back in PostgreSQL's spelling, which reads back the same.

// ConcatOp is the name the || operator's call carries after parsing.
const ConcatOp = "meridian_concat_op"

// pgOnlyAggregates are the aggregates tidb's grammar does not know, always carried; the
// other aggregates are carried only when the call has ORDER BY or DISTINCT.
var pgOnlyAggregates = map[string]bool{
	"string_agg": true, "array_agg": true, "bool_and": true, "bool_or": true, "every": true,
	"json_agg": true, "jsonb_agg": true, "json_object_agg": true, "jsonb_object_agg": true,
	"stddev": true, "variance": true,
}

var tidbAggregates = map[string]bool{
	"count": true, "sum": true, "avg": true, "min": true, "max": true, "bit_and": true, "bit_or": true,
	"bit_xor": true, "stddev_samp": true, "stddev_pop": true, "var_samp": true, "var_pop": true,
}

// notCallContext are words after which name( is a table and its column list, not a call.
var notCallContext = map[string]bool{
	"into": true, "table": true, "references": true, "on": true, "index": true, "update": true,
	"exists": true, "only": true, "view": true, "sequence": true, "type": true, "function": true,
	"procedure": true, "constraint": true,
}

type callTok struct {
	kind byte // 'w' word, 'q' quoted name, 's' string, 'n' number, 'p' punctuation
	s, e int
}

// scanCalls splits normalized text into the tokens rewriteCalls needs to see.
func scanCalls(text string) []callTok {
	var toks []callTok
	isWord := func(c byte) bool {
		return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
	}
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(text) {
				if text[j] == c {
					if j+1 < len(text) && text[j+1] == c {
						j += 2
						continue
					}
					break
				}
				j++
			}
			kind := byte('s')
			if c == '"' {
				kind = 'q'
			}
			toks = append(toks, callTok{kind, i, min(j+1, len(text))})
			i = j + 1
		case isWord(c):
			j := i + 1
			for j < len(text) && (isWord(text[j]) || text[j] >= '0' && text[j] <= '9' || text[j] == '$') {
				j++
			}
			toks = append(toks, callTok{'w', i, j})
			i = j
		case c >= '0' && c <= '9':
			j := i + 1
			for j < len(text) && (text[j] >= '0' && text[j] <= '9' || text[j] == '.' || isWord(text[j])) {
				j++
			}
			toks = append(toks, callTok{'n', i, j})
			i = j
		default:
			toks = append(toks, callTok{'p', i, i + 1})
			i++
		}
	}
	return toks
}

type textEdit struct {
	s, e int
	text string
}

// rewriteCalls applies the call rewrites described above to normalized text.
func rewriteCalls(text string) (string, error) {
	if !strings.Contains(text, "(") {
		return text, nil
	}
	toks := scanCalls(text)
	word := func(k int) string {
		if k < 0 || k >= len(toks) || toks[k].kind != 'w' {
			return ""
		}
		return strings.ToLower(text[toks[k].s:toks[k].e])
	}
	punct := func(k int, p byte) bool {
		return k >= 0 && k < len(toks) && toks[k].kind == 'p' && text[toks[k].s] == p
	}
	// FILTER and WITHIN GROUP follow a call's closing parenthesis.
	for i := 1; i+1 < len(toks); i++ {
		if !punct(i-1, ')') {
			continue
		}
		switch {
		case word(i) == "filter" && punct(i+1, '('):
			return "", pgerror.Unsupported("FILTER clauses of aggregate calls")
		case word(i) == "within" && word(i+1) == "group":
			return "", pgerror.Unsupported("ordered-set aggregates (WITHIN GROUP)")
		}
	}
	var edits []textEdit
	for i := 0; i+1 < len(toks); i++ {
		t := toks[i]
		var name string
		switch t.kind {
		case 'w':
			name = strings.ToLower(text[t.s:t.e])
		case 'q':
			name = text[t.s+1 : t.e-1]
		default:
			continue
		}
		// A call: the name directly followed by "(", not qualified, not a table name.
		if !punct(i+1, '(') || toks[i+1].s != t.e || punct(i-1, '.') || notCallContext[word(i-1)] {
			continue
		}
		switch name {
		case "concat":
			edits = append(edits, textEdit{t.s, t.e, "CONCAT"})
			continue
		case "div", "mod":
			edits = append(edits, textEdit{t.s, t.e, `"` + name + `"`})
			continue
		}
		if !pgOnlyAggregates[name] && !tidbAggregates[name] || t.kind != 'w' {
			continue
		}
		// Find the closing parenthesis and, at the call's own level, DISTINCT and ORDER BY.
		open, depth, closeIdx, orderIdx := i+1, 0, -1, -1
		for k := open; k < len(toks) && closeIdx < 0; k++ {
			switch {
			case punct(k, '('):
				depth++
			case punct(k, ')'):
				depth--
				if depth == 0 {
					closeIdx = k
				}
			case depth == 1 && word(k) == "order" && word(k+1) == "by" && orderIdx < 0:
				orderIdx = k
			}
		}
		if closeIdx < 0 {
			continue // unbalanced: tidb reports the syntax error
		}
		distinct := word(open+1) == "distinct"
		afterArgs := closeIdx
		if orderIdx >= 0 {
			afterArgs = orderIdx
		}
		window := word(closeIdx+1) == "over"
		if window && orderIdx >= 0 {
			return "", pgerror.New(pgerror.CodeFeatureNotSupported, "aggregate ORDER BY is not implemented for window functions")
		}
		if !pgOnlyAggregates[name] && orderIdx < 0 && !(distinct && strings.HasPrefix(name, "bit_")) {
			continue
		}
		argsStart := open + 1
		if distinct || word(open+1) == "all" {
			argsStart++
		}
		head := "meridian_agg('" + name + "'"
		if argsStart > open+1 {
			head = " " + head // after DISTINCT or ALL
		}
		if argsStart < afterArgs {
			head += ", "
		}
		insertAt := toks[argsStart-1].e
		edits = append(edits, textEdit{t.s, t.e, "group_concat"}, textEdit{insertAt, insertAt, head})
		closeAt := toks[afterArgs].s
		edits = append(edits, textEdit{closeAt, closeAt, ") "})
	}
	if len(edits) == 0 {
		return text, nil
	}
	// Insertions come before a replacement starting at the same offset.
	sort.SliceStable(edits, func(a, b int) bool {
		if edits[a].s != edits[b].s {
			return edits[a].s < edits[b].s
		}
		return edits[a].e == edits[a].s && edits[b].e != edits[b].s
	})
	var sb strings.Builder
	last := 0
	for _, e := range edits {
		sb.WriteString(text[last:e.s])
		sb.WriteString(e.text)
		last = e.e
	}
	sb.WriteString(text[last:])
	return sb.String(), nil
}

// callFixer undoes the rewrites' spellings in the parsed tree.
type callFixer struct{}

func (callFixer) Enter(n ast.Node) (ast.Node, bool) { return n, false }

func (callFixer) Leave(n ast.Node) (ast.Node, bool) {
	switch x := n.(type) {
	case *ast.FuncCallExpr:
		switch {
		case x.FnName.O == ast.Concat && x.Schema.O == "":
			x.FnName = ast.NewCIStr(ConcatOp)
		case x.FnName.O == "CONCAT":
			x.FnName = ast.NewCIStr("concat")
		}
	case *ast.AggregateFuncExpr:
		if name, args, ok := carried(x.F, x.Args); ok {
			x.F, x.Args = name, args
		}
	case *ast.WindowFuncExpr:
		if name, args, ok := carried(x.Name, x.Args); ok {
			x.Name, x.Args = name, args
		}
	}
	return n, true
}

// carried unwraps group_concat(meridian_agg('f', args...), separator) into f and args.
func carried(f string, args []ast.ExprNode) (string, []ast.ExprNode, bool) {
	if !strings.EqualFold(f, ast.AggFuncGroupConcat) || len(args) == 0 {
		return "", nil, false
	}
	inner, ok := args[0].(*ast.FuncCallExpr)
	if !ok || inner.FnName.L != "meridian_agg" || len(inner.Args) == 0 {
		return "", nil, false
	}
	v, ok := inner.Args[0].(*Value)
	if !ok {
		return "", nil, false
	}
	name, ok := v.Val.(string)
	if !ok {
		return "", nil, false
	}
	return name, inner.Args[1:], true
}
