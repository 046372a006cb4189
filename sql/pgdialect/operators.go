package pgdialect

import "strings"

// matchBracket returns the index of the bracket closing the one at i, or -1.
func (r *rewriter) matchBracket(i int) int {
	depth := 0
	for j := i; j < len(r.toks); j++ {
		switch {
		case r.toks[j].isOp("["):
			depth++
		case r.toks[j].isOp("]"):
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

// openBracket returns the index of the bracket opening the one closing at i, or -1.
func (r *rewriter) openBracket(i int) int {
	depth := 0
	for j := i; j >= 0; j-- {
		switch {
		case r.toks[j].isOp("]"):
			depth++
		case r.toks[j].isOp("["):
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

// extract rewrites EXTRACT(field FROM expr) as meridian_extract('field', expr): tidb's
// EXTRACT knows only MySQL's units, and PostgreSQL's (epoch, dow, isodow, julian...) are
// more.
func (r *rewriter) extract() error {
	for i := 0; i+1 < len(r.toks); i++ {
		if !r.toks[i].is("extract") || r.toks[i].gen || !r.toks[i+1].isOp("(") || i > 0 && r.toks[i-1].isOp(".") {
			continue
		}
		m := r.matchParen(i + 1)
		if m < 0 {
			return r.syntaxError(len(r.toks))
		}
		field := r.toks[i+2]
		if i+3 >= m || !r.toks[i+3].is("from") || field.kind != tokIdent && field.kind != tokString && field.kind != tokQIdent {
			return r.syntaxError(i + 2)
		}
		if i+4 == m {
			return r.syntaxError(m)
		}
		call := funcCall("meridian_extract", []token{str(field.text)}, r.toks[i+4:m])
		r.replace(i, m+1, call...)
	}
	return nil
}

// arrays rewrites ARRAY[a, b] as meridian_array(a, b), expr[i] as meridian_subscript(expr, i)
// and expr[lo:hi] as meridian_slice(expr, lo, hi) (an omitted bound is NULL). It runs after
// the casts, whose type names have taken their own brackets, so every bracket left belongs
// to one of these. Inner brackets are rewritten first.
func (r *rewriter) arrays() error {
	for i := len(r.toks) - 1; i >= 0; i-- {
		if !r.toks[i].isOp("[") {
			continue
		}
		m := r.matchBracket(i)
		if m < 0 {
			return r.syntaxError(i)
		}
		inner := r.toks[i+1 : m]
		if i > 0 && r.toks[i-1].is("array") && !r.toks[i-1].gen {
			if containsOp(inner, ":") {
				return r.syntaxError(i)
			}
			if len(inner) > 0 && inner[0].isOp("[") {
				return r.unsupported("multidimensional arrays")
			}
			call := funcCall("meridian_array", splitArgs(inner)...)
			r.replace(i-1, m+1, call...)
			continue
		}
		start, ok := r.primaryBefore(i - 1)
		if !ok || start == i {
			if i > 0 && (r.toks[i-1].isOp("[") || r.toks[i-1].isOp(",")) {
				return r.unsupported("multidimensional arrays") // ARRAY[[1], [2]]
			}
			return r.syntaxError(i)
		}
		if r.toks[0].is("update") && start > 0 && m+1 < len(r.toks) && r.toks[m+1].isOp("=") && (r.toks[start-1].is("set") || r.toks[start-1].isOp(",")) {
			return r.unsupported("assignment to array elements")
		}
		base := append([]token(nil), r.toks[start:i]...)
		var call []token
		if colon := topLevelColon(inner); colon >= 0 {
			lo, hi := inner[:colon], inner[colon+1:]
			if len(lo) == 0 {
				lo = []token{ident("null")}
			}
			if len(hi) == 0 {
				hi = []token{ident("null")}
			}
			call = funcCall("meridian_slice", base, lo, hi)
		} else {
			if len(inner) == 0 {
				return r.syntaxError(m)
			}
			call = funcCall("meridian_subscript", base, inner)
		}
		r.replace(start, m+1, call...)
		// The base may hold brackets of its own ((ARRAY[1, 2])[1], a[1][2]): scan on from the
		// end of the call, whose index brackets are already gone.
		i = start + len(call)
	}
	for i := 0; i+1 < len(r.toks); i++ {
		switch {
		case r.toks[i].is("array") && !r.toks[i].gen && r.toks[i+1].isOp("("):
			return r.unsupported("ARRAY(subquery)")
		case r.toks[i].is("cardinality") && r.toks[i+1].isOp("(") && (i == 0 || !r.toks[i-1].isOp(".")):
			// tidb reserves CARDINALITY; quoted, it reads as the function name it is.
			r.toks[i].kind = tokQIdent
		}
	}
	return nil
}

func containsOp(toks []token, op string) bool {
	for _, t := range toks {
		if t.isOp(op) {
			return true
		}
	}
	return false
}

// topLevelColon returns the index of a ':' outside parentheses in toks, or -1.
func topLevelColon(toks []token) int {
	depth := 0
	for k, t := range toks {
		switch {
		case t.isOp("("):
			depth++
		case t.isOp(")"):
			depth--
		case depth == 0 && t.isOp(":"):
			return k
		}
	}
	return -1
}

// splitArgs splits a comma-separated list at its top level.
func splitArgs(toks []token) [][]token {
	if len(toks) == 0 {
		return nil
	}
	var out [][]token
	depth, start := 0, 0
	for k, t := range toks {
		switch {
		case t.isOp("("):
			depth++
		case t.isOp(")"):
			depth--
		case depth == 0 && t.isOp(","):
			out = append(out, toks[start:k])
			start = k + 1
		}
	}
	return append(out, toks[start:])
}

// pgOtherOperators are PostgreSQL's JSON and containment operators that tidb lacks or reads
// otherwise (&& is AND to tidb, ? a placeholder). PostgreSQL gives them, with ||, one
// precedence: below arithmetic, above comparison, left-associative.
var pgOtherOperators = wordSet(`-> ->> #> #>> @> <@ && ? ?| ?&`)

// arithmeticOps bind more tightly than the other operators.
var arithmeticOps = wordSet(`+ - * / %`)

// leftOperandOps may join the primaries of an other operator's left operand: arithmetic,
// and || and the other operators themselves, being left-associative at the same level.
var leftOperandOps = wordSet(`+ - * / % ||`)

// operandBefore returns the start of the operand that ends at end and is made of primaries
// joined by the operators in joins (and prefixed by signs).
func (r *rewriter) operandBefore(end int, joins map[string]bool) (int, bool) {
	start, ok := r.primaryBefore(end)
	if !ok {
		return 0, false
	}
	for start > 0 {
		k := start - 1
		if r.isUnarySign(k) {
			start = k
			continue
		}
		if t := r.toks[k]; t.kind == tokOp && joins[t.text] && k > 0 {
			s, ok := r.primaryBefore(k - 1)
			if !ok {
				return 0, false
			}
			start = s
			continue
		}
		break
	}
	return start, true
}

// operandAfter returns the end of the operand starting at start made of primaries joined
// by the operators in joins.
func (r *rewriter) operandAfter(start int, joins map[string]bool) (int, bool) {
	end, ok := r.primaryAfter(start)
	if !ok {
		return 0, false
	}
	for end+1 < len(r.toks) && r.toks[end].kind == tokOp && joins[r.toks[end].text] {
		e, ok := r.primaryAfter(end + 1)
		if !ok {
			return 0, false
		}
		end = e
	}
	return end, true
}

// otherOperators rewrites a OP b, for the JSON and containment operators, as
// meridian_op('OP', a, b), left to right so that chains (j -> 'a' -> 'b') nest.
func (r *rewriter) otherOperators() error {
	for i := 0; i < len(r.toks); i++ {
		t := r.toks[i]
		if t.kind != tokOp || t.gen || !pgOtherOperators[t.text] && !r.isRegexOperator(i) {
			continue
		}
		start, ok := r.operandBefore(i-1, leftOperandOps)
		if !ok {
			return r.syntaxError(i)
		}
		end, ok := r.operandAfter(i+1, arithmeticOps)
		if !ok {
			return r.syntaxError(i + 1)
		}
		call := funcCall("meridian_op", []token{str(t.text)}, r.toks[start:i], r.toks[i+1:end])
		r.replace(start, end, call...)
		i = start + len(call) - 1
	}
	return nil
}

// anyAll rewrites a op ANY (b) and a op ALL (b), for an array b and a comparison op, as
// meridian_any('op', a, b) and meridian_all('op', a, b). SOME is ANY. The form with a
// subquery is left to tidb's grammar.
func (r *rewriter) anyAll() error {
	for i := 1; i+1 < len(r.toks); i++ {
		t := r.toks[i]
		if !t.is("any", "some", "all") || t.gen || !r.toks[i+1].isOp("(") || !comparisonOps[r.toks[i-1].text] || r.toks[i-1].kind != tokOp {
			continue
		}
		m := r.matchParen(i + 1)
		if m < 0 {
			return r.syntaxError(len(r.toks))
		}
		if m == i+2 {
			return r.syntaxError(m)
		}
		if r.toks[i+2].is("select", "with", "values") {
			continue
		}
		opIdx := i - 1
		start, ok := r.operandBefore(opIdx-1, leftOperandOps)
		if !ok {
			return r.syntaxError(opIdx)
		}
		name := "meridian_any"
		if t.is("all") {
			name = "meridian_all"
		}
		op := r.toks[opIdx].text
		if op == "!=" {
			op = "<>"
		}
		call := funcCall(name, []token{str(op)}, r.toks[start:opIdx], r.toks[i+2:m])
		r.replace(start, m+1, call...)
		i = start + len(call) - 1
	}
	return nil
}

// rejectLeftovers refuses what the rewrites could not place: an operator left where tidb
// would misread it, or a stray bracket or colon.
func (r *rewriter) rejectLeftovers() error {
	for i, t := range r.toks {
		if t.kind != tokOp || t.gen {
			continue
		}
		switch {
		case pgOtherOperators[t.text]:
			return r.unsupported("the operator " + t.text + " here")
		case t.text == "[" || t.text == "]" || t.text == ":":
			return r.syntaxError(i)
		case strings.HasPrefix(t.text, "#"):
			return r.syntaxError(i)
		}
	}
	return nil
}
