package pgdialect

import (
	"strings"
)

// primaryBefore returns the start of the primary expression ending at index end: a literal,
// parameter, (qualified) name, parenthesized expression, function call or CASE ... END.
func (r *rewriter) primaryBefore(end int) (int, bool) {
	if end < 0 || end >= len(r.toks) {
		return 0, false
	}
	t := r.toks[end]
	start := end
	switch {
	case t.isOp("]"):
		// A subscript a[i], a[i][j], (expr)[i], or an ARRAY[...] constructor.
		open := r.openBracket(end)
		switch {
		case open < 1:
			return 0, false
		case r.toks[open-1].is("array"):
			return open - 1, true
		}
		return r.primaryBefore(open - 1)
	case t.isOp(")"):
		start = r.openParen(end)
		if start < 0 {
			return 0, false
		}
		if start > 0 && isName(r.toks[start-1]) && !isKeywordBeforeParen(r.toks[start-1]) {
			start--
		}
	case t.is("end"):
		start = r.caseStart(end)
		if start < 0 {
			return 0, false
		}
		return start, true
	case t.kind == tokIdent && isOperatorWord(t.text):
		return 0, false
	case isName(t) || t.kind == tokString || t.kind == tokNumber || t.kind == tokParam:
	case t.kind == tokOp && len(t.text) > 1 && t.text[1] == '\'': // X'..' and B'..'
	default:
		return 0, false
	}
	for start >= 2 && r.toks[start-1].isOp(".") && isName(r.toks[start-2]) {
		start -= 2
	}
	return start, true
}

// caseStart returns the index of the CASE that the END at end closes, or -1.
func (r *rewriter) caseStart(end int) int {
	depth := 0
	for j := end; j >= 0; j-- {
		switch {
		case r.toks[j].is("end"):
			depth++
		case r.toks[j].is("case"):
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

func isName(t token) bool { return t.kind == tokIdent || t.kind == tokQIdent }

// isOperatorWord tells keywords that sit between operands from names.
func isOperatorWord(w string) bool {
	switch w {
	case "and", "or", "not", "is", "in", "like", "ilike", "between", "select", "where", "when", "then",
		"else", "from", "on", "as", "by", "case", "escape", "similar", "distinct":
		return true
	}
	return false
}

// isKeywordBeforeParen tells keywords that precede a parenthesized expression from function
// names.
func isKeywordBeforeParen(t token) bool {
	if t.kind != tokIdent {
		return false
	}
	return isOperatorWord(t.text) || t.is("values", "exists", "any", "all", "some", "return", "returning", "set", "using", "over", "filter", "within", "key", "check", "references", "into", "table", "update")
}

// primaryAfter returns the end (exclusive) of the primary expression starting at start,
// including a leading sign and trailing casts, which bind tighter than any binary operator.
func (r *rewriter) primaryAfter(start int) (int, bool) {
	if start >= len(r.toks) {
		return 0, false
	}
	t := r.toks[start]
	end := start + 1
	switch {
	case t.isOp("("):
		m := r.matchParen(start)
		if m < 0 {
			return 0, false
		}
		end = m + 1
	case t.isOp("-") || t.isOp("+"):
		return r.primaryAfter(start + 1)
	case t.is("case"):
		depth := 0
		end = -1
		for j := start; j < len(r.toks); j++ {
			if r.toks[j].is("case") {
				depth++
			} else if r.toks[j].is("end") {
				depth--
				if depth == 0 {
					end = j + 1
					break
				}
			}
		}
		if end < 0 {
			return 0, false
		}
	case t.kind == tokIdent && isOperatorWord(t.text):
		return 0, false
	case t.is("array") && end < len(r.toks) && r.toks[end].isOp("["):
		m := r.matchBracket(end)
		if m < 0 {
			return 0, false
		}
		end = m + 1
	case isName(t):
		for end+1 < len(r.toks) && r.toks[end].isOp(".") && isName(r.toks[end+1]) {
			end += 2
		}
		if end < len(r.toks) && r.toks[end].isOp("(") {
			m := r.matchParen(end)
			if m < 0 {
				return 0, false
			}
			end = m + 1
		}
	case t.kind == tokString || t.kind == tokNumber || t.kind == tokParam:
	case t.kind == tokOp && len(t.text) > 1 && t.text[1] == '\'':
	default:
		return 0, false
	}
	for end < len(r.toks) && r.toks[end].isOp("[") && !t.is("array") {
		m := r.matchBracket(end)
		if m < 0 {
			return 0, false
		}
		end = m + 1
	}
	for end+1 < len(r.toks) && r.toks[end].isOp("::") {
		_, typeEnd, err := r.typeName(end + 1)
		if err != nil {
			return 0, false
		}
		end = typeEnd
	}
	return end, true
}

// multiWordTypes are the type names of several words.
var multiWordTypes = [][]string{
	{"timestamp", "without", "time", "zone"}, {"timestamp", "with", "time", "zone"},
	{"time", "without", "time", "zone"}, {"time", "with", "time", "zone"},
	{"double", "precision"}, {"character", "varying"}, {"bit", "varying"}, {"national", "character", "varying"},
	{"national", "character"}, {"char", "varying"},
}

// typeName reads a PostgreSQL type name starting at i and returns its canonical text (lower
// case, single spaces, modifiers without spaces) and the index after it.
func (r *rewriter) typeName(i int) (string, int, error) {
	if i >= len(r.toks) || !isName(r.toks[i]) || r.toks[i].gen {
		return "", 0, r.syntaxError(i)
	}
	// A qualified name keeps only its last part when it is PostgreSQL's own catalog.
	if r.toks[i].is("pg_catalog") && i+2 < len(r.toks) && r.toks[i+1].isOp(".") {
		return r.typeName(i + 2)
	}
	words := []string{r.toks[i].text}
	j := i + 1
	for _, mw := range multiWordTypes {
		if r.toks[i].kind != tokIdent || r.toks[i].text != mw[0] || i+len(mw) > len(r.toks) {
			continue
		}
		match := true
		for k, w := range mw {
			if !r.toks[i+k].is(w) {
				match = false
				break
			}
		}
		if match {
			words, j = mw, i+len(mw)
			break
		}
	}
	if j < len(r.toks) && r.toks[j].isOp(".") {
		return "", 0, r.unsupported("user-defined types")
	}
	name := strings.Join(words, " ")
	if j < len(r.toks) && r.toks[j].isOp("(") {
		m := r.matchParen(j)
		if m < 0 {
			return "", 0, r.syntaxError(j)
		}
		var mods []string
		for k := j + 1; k < m; k++ {
			switch t := r.toks[k]; {
			case t.kind == tokNumber && (k == j+1 || r.toks[k-1].isOp(",")):
				mods = append(mods, t.text)
			case t.isOp(",") && k > j+1 && r.toks[k-1].kind == tokNumber:
			default:
				return "", 0, r.syntaxError(k)
			}
		}
		if len(mods) == 0 {
			return "", 0, r.syntaxError(m)
		}
		j = m + 1
		// timestamp(3) with time zone: the modifier goes after the first word.
		if len(words) == 1 && j+2 < len(r.toks) && r.toks[j].is("with", "without") && r.toks[j+1].is("time") && r.toks[j+2].is("zone") && (words[0] == "timestamp" || words[0] == "time") {
			name = words[0] + "(" + strings.Join(mods, ",") + ") " + r.toks[j].text + " time zone"
			j += 3
		} else {
			name += "(" + strings.Join(mods, ",") + ")"
		}
	}
	// Array suffixes: [], [n], ARRAY and ARRAY[n]; a bound is ignored, as in PostgreSQL, and
	// each further dimension adds a [] for the engine to refuse.
	for j < len(r.toks) {
		switch {
		case r.toks[j].isOp("[") && j+1 < len(r.toks) && r.toks[j+1].isOp("]"):
			j += 2
		case r.toks[j].isOp("[") && j+2 < len(r.toks) && r.toks[j+1].kind == tokNumber && r.toks[j+2].isOp("]"):
			j += 3
		case r.toks[j].is("array") && !r.toks[j].gen:
			j++
			if j+2 < len(r.toks) && r.toks[j].isOp("[") && r.toks[j+1].kind == tokNumber && r.toks[j+2].isOp("]") {
				j += 3
			}
		default:
			return name, j, nil
		}
		name += "[]"
	}
	return name, j, nil
}

// castCall builds meridian_cast(expr, 'type'): tidb's CAST knows only MySQL's types, so the
// PostgreSQL type travels as text for the engine to resolve.
func castCall(expr []token, typ string) []token {
	return funcCall("meridian_cast", expr, []token{str(typ)})
}

// funcCall builds name(arg, arg, ...) from the arguments' tokens.
func funcCall(name string, args ...[]token) []token {
	out := []token{ident(name), op("(")}
	for i, a := range args {
		if i > 0 {
			out = append(out, op(","))
		}
		out = append(out, a...)
	}
	return append(out, op(")"))
}

// casts rewrites expr::type and CAST(expr AS type).
func (r *rewriter) casts() error {
	for i := 0; i < len(r.toks); i++ {
		t := r.toks[i]
		switch {
		case t.isOp("::"):
			start, ok := r.primaryBefore(i - 1)
			if !ok {
				return r.syntaxError(i)
			}
			typ, end, err := r.typeName(i + 1)
			if err != nil {
				return err
			}
			call := castCall(append([]token(nil), r.toks[start:i]...), typ)
			r.replace(start, end, call...)
			i = start + len(call) - 1
		case t.is("cast") && !t.gen && i+1 < len(r.toks) && r.toks[i+1].isOp("("):
			m := r.matchParen(i + 1)
			if m < 0 {
				return r.syntaxError(len(r.toks))
			}
			as := r.topLevelIndex(i+2, func(t token) bool { return t.is("as") })
			if as < 0 || as > m || as == i+2 {
				return r.syntaxError(m)
			}
			typ, end, err := r.typeName(as + 1)
			if err != nil {
				return err
			}
			if end != m {
				return r.syntaxError(end)
			}
			r.replace(i, m+1, castCall(append([]token(nil), r.toks[i+2:as]...), typ)...)
			i-- // the operand may itself hold casts
		}
	}
	return nil
}

// literalTypes are the type names that may prefix a string to make a typed literal
// (date '2024-01-01').
var literalTypes = wordSet(`date time timestamp timestamptz timetz interval int int2 int4 int8
integer smallint bigint numeric decimal real float float4 float8 double bool boolean text varchar
char character bpchar bytea uuid json jsonb inet cidr oid bit varbit money name regclass`)

// intervalFields follow an interval literal in the SQL-standard form.
var intervalFields = wordSet(`year month day hour minute second`)

// typedLiterals rewrites type 'string' into a cast. tidb reads some of these with MySQL's
// rules and rejects the rest, and reads _charset 'x' as a character set introducer.
func (r *rewriter) typedLiterals() error {
	for i := 0; i+1 < len(r.toks); i++ {
		t := r.toks[i]
		if t.kind != tokIdent || t.gen || i > 0 && (r.toks[i-1].isOp(".") || r.toks[i-1].isOp("::")) {
			continue
		}
		if strings.HasPrefix(t.text, "_") && r.toks[i+1].kind == tokString {
			return r.syntaxError(i + 1)
		}
		if !literalTypes[t.text] {
			continue
		}
		typ, j, err := r.typeName(i)
		if err != nil || j >= len(r.toks) || r.toks[j].kind != tokString {
			continue
		}
		lit := r.toks[j]
		if j+1 < len(r.toks) && r.toks[j+1].kind == tokIdent && intervalFields[r.toks[j+1].text] {
			// interval '2' hour is two hours; a qualifier that would truncate a longer value,
			// or a range (DAY TO SECOND), is not supported.
			field := r.toks[j+1].text
			if typ != "interval" || !isPlainNumber(lit.text) || j+2 < len(r.toks) && (r.toks[j+2].is("to") || r.toks[j+2].isOp("(")) {
				return r.unsupported("interval literals with field qualifiers")
			}
			lit = str(strings.TrimSpace(lit.text) + " " + field)
			j++
		}
		call := castCall([]token{lit}, typ)
		r.replace(i, j+1, call...)
		i += len(call) - 1
	}
	return nil
}

// isPlainNumber reports whether s is a signed decimal number and nothing else.
func isPlainNumber(s string) bool {
	s = strings.TrimLeft(strings.TrimSpace(s), "+-")
	digits, dots := 0, 0
	for k := 0; k < len(s); k++ {
		switch {
		case s[k] >= '0' && s[k] <= '9':
			digits++
		case s[k] == '.':
			dots++
		default:
			return false
		}
	}
	return digits > 0 && dots <= 1
}

// isUnarySign reports whether toks[k] is a prefix + or -.
func (r *rewriter) isUnarySign(k int) bool {
	if k < 0 || !(r.toks[k].isOp("-") || r.toks[k].isOp("+")) {
		return false
	}
	if k == 0 {
		return true
	}
	p := r.toks[k-1]
	return p.kind == tokOp && !p.isOp(")") || p.kind == tokIdent && isOperatorWord(p.text)
}

// power rewrites a ^ b, PostgreSQL's exponentiation, as power(a, b): tidb reads ^ as XOR.
func (r *rewriter) power() error {
	for i := 0; i < len(r.toks); i++ {
		if !r.toks[i].isOp("^") {
			continue
		}
		start, ok := r.primaryBefore(i - 1)
		if !ok {
			return r.syntaxError(i)
		}
		if r.isUnarySign(start - 1) {
			// -a ^ b is (-a) ^ b in PostgreSQL; the sign is not part of the primary.
			return r.unsupported("^ with a signed left operand")
		}
		end, ok := r.primaryAfter(i + 1)
		if !ok {
			return r.syntaxError(i + 1)
		}
		call := funcCall("power", r.toks[start:i], r.toks[i+1:end])
		r.replace(start, end, call...)
		i = start + len(call) - 1
	}
	return nil
}

// comparisonOps bind more loosely than LIKE and more tightly than IS.
var comparisonOps = wordSet(`= < > <= >= <> !=`)

// looseNeighbor reports whether toks[k] binds more loosely than the operator whose operand
// it borders, so that taking the primary as the whole operand is right. aboveComparison is
// true for LIKE, which binds tighter than comparisons; IS binds more loosely than them.
func (r *rewriter) looseNeighbor(k int, aboveComparison bool) bool {
	if k < 0 || k >= len(r.toks) {
		return true
	}
	t := r.toks[k]
	switch t.kind {
	case tokOp:
		return t.isOp(",") || t.isOp("(") || t.isOp(")") || aboveComparison && comparisonOps[t.text]
	case tokIdent:
		return !t.is("escape", "between", "in", "like", "ilike", "similar", "collate", "at", "is", "isnull", "notnull")
	}
	return false
}

// ilike rewrites a [NOT] ILIKE b into [NOT] meridian_ilike(a, b).
func (r *rewriter) ilike() error {
	for i := 0; i < len(r.toks); i++ {
		if !r.toks[i].is("ilike") || r.toks[i].gen {
			continue
		}
		not := i > 0 && r.toks[i-1].is("not")
		leftEnd := i - 1
		if not {
			leftEnd--
		}
		start, ok := r.primaryBefore(leftEnd)
		if !ok {
			return r.syntaxError(i)
		}
		end, ok := r.primaryAfter(i + 1)
		if !ok {
			return r.syntaxError(i + 1)
		}
		if end < len(r.toks) && r.toks[end].is("escape") {
			return r.unsupported("ILIKE ... ESCAPE")
		}
		if !r.looseNeighbor(start-1, true) || !r.looseNeighbor(end, true) || r.isUnarySign(start-1) {
			return notSupported("ILIKE with an operand built by other operators is not supported; parenthesize the operand")
		}
		call := funcCall("meridian_ilike", r.toks[start:leftEnd+1], r.toks[i+1:end])
		if not {
			call = append([]token{op("("), ident("not")}, append(call, op(")"))...)
		}
		r.replace(start, end, call...)
		i = start + len(call) - 1
	}
	return nil
}

// distinctFrom rewrites a IS [NOT] DISTINCT FROM b with tidb's null-safe equality <=>.
func (r *rewriter) distinctFrom() error {
	for i := 0; i < len(r.toks); i++ {
		if !r.toks[i].is("is") {
			continue
		}
		j := i + 1
		not := j < len(r.toks) && r.toks[j].is("not")
		if not {
			j++
		}
		if j+1 >= len(r.toks) || !r.toks[j].is("distinct") || !r.toks[j+1].is("from") {
			continue
		}
		start, ok := r.primaryBefore(i - 1)
		if !ok {
			return r.syntaxError(i)
		}
		end, ok := r.primaryAfter(j + 2)
		if !ok {
			return r.syntaxError(j + 2)
		}
		if !r.looseNeighbor(start-1, false) || !r.looseNeighbor(end, false) || r.isUnarySign(start-1) {
			return notSupported("IS DISTINCT FROM with an operand built by other operators is not supported; parenthesize the operand")
		}
		call := []token{op("(")}
		if !not {
			call = append(call, ident("not"), op("("))
		}
		call = append(call, r.toks[start:i]...)
		call = append(call, op("<=>"))
		call = append(call, r.toks[j+2:end]...)
		if !not {
			call = append(call, op(")"))
		}
		call = append(call, op(")"))
		r.replace(start, end, call...)
		i = start + len(call) - 1
	}
	return nil
}

// atTimeZone rewrites a AT TIME ZONE z as timezone(z, a), PostgreSQL's own function form of
// the operator, which tidb's grammar lacks.
func (r *rewriter) atTimeZone() error {
	for i := 0; i+2 < len(r.toks); i++ {
		if !r.toks[i].is("at") || !r.toks[i+1].is("time") || !r.toks[i+2].is("zone") {
			continue
		}
		start, ok := r.primaryBefore(i - 1)
		if !ok {
			return r.syntaxError(i)
		}
		if r.isUnarySign(start - 1) {
			return r.unsupported("AT TIME ZONE with a signed operand")
		}
		end, ok := r.primaryAfter(i + 3)
		if !ok {
			return r.syntaxError(i + 3)
		}
		call := funcCall("timezone", r.toks[i+3:end], r.toks[start:i])
		r.replace(start, end, call...)
		i = start + len(call) - 1
	}
	return nil
}

// FieldCall is the call the front end makes of a field selection: (expr).name is
// meridian_field((expr), 'name'), with the name folded as an identifier is.
const FieldCall = "meridian_field"

// fieldSelections rewrites (expr).name, which tidb's grammar has no form for. PostgreSQL
// requires the parentheses, so a closing parenthesis followed by a dot and a name is always
// a field selection; selections chain, as in (expr).a.b. It runs before the casts, which
// take the primary before :: and must see the selection as one.
func (r *rewriter) fieldSelections() error {
	for i := 0; i+1 < len(r.toks); i++ {
		if !r.toks[i].isOp(")") || !r.toks[i+1].isOp(".") {
			continue
		}
		open := r.openParen(i)
		if open < 0 {
			return r.syntaxError(i)
		}
		if open > 0 && isName(r.toks[open-1]) && !isKeywordBeforeParen(r.toks[open-1]) {
			if !r.toks[open-1].gen || r.toks[open-1].text != FieldCall {
				return r.syntaxError(i + 1) // f(x).a: PostgreSQL wants (f(x)).a
			}
			open-- // the previous selection of a chain
		}
		if i+2 >= len(r.toks) {
			return r.syntaxError(len(r.toks))
		}
		f := r.toks[i+2]
		if f.isOp("*") {
			return r.unsupported("(composite).*")
		}
		if !isName(f) {
			return r.syntaxError(i + 2)
		}
		name := f.text
		if f.kind == tokIdent {
			name = strings.ToLower(name)
		}
		call := funcCall(FieldCall, r.toks[open:i+1], []token{str(name)})
		r.replace(open, i+3, call...)
		i = open + len(call) - 2 // the call's own ')' may start the next selection
	}
	return nil
}
