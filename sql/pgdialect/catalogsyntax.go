package pgdialect

import "strings"

// The syntax psql and drivers use in their catalog queries: OPERATOR(pg_catalog.~), COLLATE
// pg_catalog.default, the regular expression operators and ARRAY(subquery).

// regexOperators are PostgreSQL's POSIX regular expression match operators. They are "other"
// operators (the precedence of -> and @>), so they travel the same way: meridian_op('~', a, b).
var regexOperators = wordSet(`~ !~ ~* !~*`)

// ignoredCollations are the collations that change nothing in Meridian, which compares
// strings bytewise (C collation) everywhere: the default one and C/POSIX themselves.
var ignoredCollations = map[string]bool{"default": true, "c": true, "posix": true, "ucs_basic": true}

// catalogSyntax rewrites OPERATOR(schema.op) into the bare operator, and drops COLLATE
// clauses that name a collation meaning bytewise comparison; another collation is refused
// (0A000) rather than ignored, since it would change results.
func (r *rewriter) catalogSyntax() error {
	for i := 0; i < len(r.toks); i++ {
		t := r.toks[i]
		switch {
		case t.is("operator") && !t.gen && i+1 < len(r.toks) && r.toks[i+1].isOp("(") && (i == 0 || !r.toks[i-1].isOp(".")):
			// OPERATOR(op) or OPERATOR(schema.op); only pg_catalog's operators exist.
			m := r.matchParen(i + 1)
			if m < 0 {
				return r.syntaxError(len(r.toks))
			}
			inner := r.toks[i+2 : m]
			if len(inner) == 3 && isName(inner[0]) && inner[1].isOp(".") {
				if !(inner[0].kind == tokIdent && inner[0].text == "pg_catalog" || inner[0].kind == tokQIdent && inner[0].text == "pg_catalog") {
					return notSupported("operators outside schema pg_catalog are not supported")
				}
				inner = inner[2:]
			}
			if len(inner) != 1 || inner[0].kind != tokOp {
				return r.syntaxError(i + 2)
			}
			opTok := inner[0]
			r.replace(i, m+1, opTok)
		case t.is("current_schema", "current_catalog") && !t.gen && (i == 0 || !r.toks[i-1].isOp(".")) &&
			(i+1 == len(r.toks) || !r.toks[i+1].isOp("(")):
			// SQL's CURRENT_SCHEMA and CURRENT_CATALOG, which PostgreSQL reserves: function
			// calls without parentheses.
			name := "current_schema"
			if t.text == "current_catalog" {
				name = "current_database"
			}
			r.replace(i, i+1, ident(name), op("("), op(")"))
			i += 2
		case t.is("collate") && !t.gen:
			j := i + 1
			if j+2 < len(r.toks) && isName(r.toks[j]) && r.toks[j+1].isOp(".") && isName(r.toks[j+2]) {
				if !strings.EqualFold(r.toks[j].text, "pg_catalog") {
					return notSupported("collation %s.%s is not supported", r.toks[j].text, r.toks[j+2].text)
				}
				j += 2
			}
			if j >= len(r.toks) || !isName(r.toks[j]) {
				return r.syntaxError(j)
			}
			name := r.toks[j].text
			if !ignoredCollations[strings.ToLower(name)] {
				return notSupported("collation \"%s\" is not supported; Meridian compares strings bytewise (collation \"C\")", name)
			}
			r.replace(i, j+1)
			i--
		}
	}
	return nil
}

// isRegexOperator reports whether toks[i] is a regular expression operator in binary
// position: the prefix ~ is bitwise NOT, which stays refused.
func (r *rewriter) isRegexOperator(i int) bool {
	t := r.toks[i]
	if t.kind != tokOp || !regexOperators[t.text] {
		return false
	}
	if i == 0 {
		return false
	}
	prev := r.toks[i-1]
	if prev.kind == tokOp && !prev.isOp(")") && !prev.isOp("]") && !(len(prev.text) > 1 && prev.text[1] == '\'') {
		return false
	}
	return !(prev.kind == tokIdent && isOperatorWord(prev.text))
}

// arraySubqueries rewrites ARRAY(SELECT ...) as meridian_array_subquery((SELECT ...)), which
// the planner compiles into the array of the subquery's one column.
func (r *rewriter) arraySubqueries() error {
	for i := 0; i+1 < len(r.toks); i++ {
		if !r.toks[i].is("array") || r.toks[i].gen || !r.toks[i+1].isOp("(") || i > 0 && r.toks[i-1].isOp(".") {
			continue
		}
		m := r.matchParen(i + 1)
		if m < 0 {
			return r.syntaxError(len(r.toks))
		}
		if m == i+2 || !r.toks[i+2].is("select", "with", "values") && !r.toks[i+2].isOp("(") {
			continue // left for the arrays step to refuse
		}
		// The call's own tokens are generated, so scanning on from here finds only the
		// ARRAY(...) forms nested in the subquery.
		r.replace(i, m+1, funcCall("meridian_array_subquery", r.toks[i+1:m+1])...)
	}
	return nil
}
