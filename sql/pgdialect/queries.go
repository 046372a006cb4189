package pgdialect

import (
	"fmt"
	"strings"

	"github.com/meridiandb/meridian/sql/pgerror"
)

// This file rewrites query structure that tidb's grammar lacks or reads otherwise: FULL JOIN,
// VALUES lists used as queries, column alias lists and functions in FROM, DISTINCT ON,
// LATERAL, and a WITH clause ahead of INSERT. The rewrites run after the expression rewrites,
// so the tokens they move are already in tidb's terms (no casts or brackets left), and before
// the clause rewrites (LIMIT/OFFSET, locking, ON CONFLICT, RETURNING), which then see plain
// selects.

// joinWords make up join operators. FULL and OUTER are among them because PostgreSQL reserves
// them; tidb does not reserve FULL and would take it for a table alias.
var joinWords = wordSet(`join inner left right full cross natural outer`)

// clauseWords end a FROM list, and so a join condition, at their query level.
var clauseWords = wordSet(`where group having window order limit offset fetch union intersect
except for returning`)

// notAliasWords are words that follow a table reference and so are never its bare alias (all
// are reserved in PostgreSQL, where a bare alias must be an unreserved word).
var notAliasWords = wordSet(`join inner left right full cross natural outer where group having
window order limit offset fetch union intersect except for returning on using as tablesample
with into set`)

// setOpWords combine queries.
var setOpWords = wordSet(`union intersect except`)

// isJoinWord reports whether toks[k] is part of a join operator. LEFT, RIGHT and FULL before
// "(" are the functions of those names.
func (r *rewriter) isJoinWord(k int) bool {
	if k < 0 || k >= len(r.toks) {
		return false
	}
	t := r.toks[k]
	if t.kind != tokIdent || !joinWords[t.text] || k > 0 && r.toks[k-1].isOp(".") {
		return false
	}
	return !(t.is("left", "right", "full") && k+1 < len(r.toks) && r.toks[k+1].isOp("("))
}

// exprEnd returns the end (exclusive) of a join condition starting at from: the first token
// outside parentheses that starts the next join or clause, or the parenthesis closing the
// enclosing level.
func (r *rewriter) exprEnd(from int) int {
	depth := 0
	for k := from; k < len(r.toks); k++ {
		t := r.toks[k]
		switch {
		case t.isOp("(") || t.isOp("["):
			depth++
		case t.isOp(")") || t.isOp("]"):
			if depth == 0 {
				return k
			}
			depth--
		case depth > 0:
		case t.isOp(",") || t.isOp(";") || r.isJoinWord(k):
			return k
		case t.kind == tokIdent && (clauseWords[t.text] || t.is("on", "using", "as")):
			// AS: CockroachDB's AS OF SYSTEM TIME (now AS OF TIMESTAMP) after the FROM list.
			return k
		}
	}
	return len(r.toks)
}

// lateral refuses LATERAL. tidb's grammar reads LATERAL (subquery), but the planner does not
// plan correlated FROM items; unquoted, the word is always the keyword in PostgreSQL, except
// as a column label.
func (r *rewriter) lateral() error {
	for i, t := range r.toks {
		if t.is("lateral") && !t.gen && (i == 0 || !r.toks[i-1].isOp(".") && !r.toks[i-1].is("as")) {
			return r.unsupported("LATERAL")
		}
	}
	return nil
}

// fullJoins rewrites x FULL [OUTER] JOIN y ON cond as x LEFT JOIN y ON
// meridian_full_join(cond), and ... USING (a, b) as ... ON meridian_full_join_using(a, b):
// tidb has no full join, and would read FULL as an alias of x. Any other unquoted FULL where
// tidb could take it for an alias is a syntax error, as in PostgreSQL.
func (r *rewriter) fullJoins() error {
	for i := 0; i < len(r.toks); i++ {
		t := r.toks[i]
		if !t.is("full") || t.gen || i > 0 && r.toks[i-1].isOp(".") {
			continue
		}
		j := i + 1
		if j < len(r.toks) && r.toks[j].is("outer") {
			j++
		}
		if j >= len(r.toks) || !r.toks[j].is("join") {
			if j == i+1 && (j < len(r.toks) && r.toks[j].isOp("(") || i > 0 && r.toks[i-1].is("as", "match")) {
				continue // full(...), AS full, MATCH FULL
			}
			return r.syntaxError(i)
		}
		if i > 0 && r.toks[i-1].is("natural") {
			return r.unsupported("NATURAL FULL JOIN")
		}
		q, err := r.joinQualifier(j + 1)
		if err != nil {
			return err
		}
		if r.toks[q].is("on") {
			end := r.exprEnd(q + 1)
			if end == q+1 {
				return r.syntaxError(end)
			}
			r.replace(q, end, append([]token{ident("on")}, funcCall("meridian_full_join", r.toks[q+1:end])...)...)
		} else {
			names, end, err := r.parenNames(q + 1)
			if err != nil {
				return err
			}
			args := make([][]token, len(names))
			for k, n := range names {
				n.name = true
				args[k] = []token{n}
			}
			r.replace(q, end, append([]token{ident("on")}, funcCall("meridian_full_join_using", args...)...)...)
		}
		r.replace(i, j+1, ident("left"), ident("join"))
	}
	return nil
}

// joinQualifier returns the index of the ON or USING that qualifies the join whose right side
// starts at from. Joins nested on the right side (a FULL JOIN b JOIN c ON x ON y) take theirs
// first; CROSS and NATURAL joins take none.
func (r *rewriter) joinQualifier(from int) (int, error) {
	pending, depth := 1, 0
	for k := from; k < len(r.toks); k++ {
		t := r.toks[k]
		switch {
		case t.isOp("("):
			depth++
		case t.isOp(")"):
			depth--
			if depth < 0 {
				return 0, r.syntaxError(k)
			}
		case depth > 0:
		case t.is("join"):
			unqualified := false
			for m := k - 1; m >= from && r.isJoinWord(m); m-- {
				unqualified = unqualified || r.toks[m].is("cross", "natural")
			}
			if !unqualified {
				pending++
			}
		case t.is("on", "using"):
			if pending--; pending == 0 {
				return k, nil
			}
		case t.isOp(",") || t.kind == tokIdent && clauseWords[t.text]:
			return 0, r.syntaxError(k)
		}
	}
	return 0, r.syntaxError(len(r.toks))
}

// parenNames reads "(name, ...)" at i and returns the names and the index after it.
func (r *rewriter) parenNames(i int) ([]token, int, error) {
	if i >= len(r.toks) || !r.toks[i].isOp("(") {
		return nil, 0, r.syntaxError(i)
	}
	var names []token
	for k := i + 1; ; k += 2 {
		if k >= len(r.toks) || !isName(r.toks[k]) || r.toks[k].gen {
			return nil, 0, r.syntaxError(k)
		}
		names = append(names, r.toks[k])
		if k+1 >= len(r.toks) {
			return nil, 0, r.syntaxError(k + 1)
		}
		if r.toks[k+1].isOp(")") {
			return names, k + 2, nil
		}
		if !r.toks[k+1].isOp(",") {
			return nil, 0, r.syntaxError(k + 1)
		}
	}
}

// distinctOn rewrites SELECT DISTINCT ON (e1, e2) f1, ... as SELECT
// meridian_distinct_on(e1, e2), f1, ...: the planner takes the first field for the clause.
func (r *rewriter) distinctOn() error {
	for i := 1; i+2 < len(r.toks); i++ {
		if !r.toks[i].is("distinct") || r.toks[i].gen || !r.toks[i-1].is("select") || !r.toks[i+1].is("on") || !r.toks[i+2].isOp("(") {
			continue
		}
		m := r.matchParen(i + 2)
		if m < 0 {
			return r.syntaxError(len(r.toks))
		}
		if m == i+3 {
			return r.syntaxError(m)
		}
		// A select list must follow.
		if next := m + 1; next >= len(r.toks) || r.toks[next].isOp(")") || r.toks[next].isOp(",") || r.toks[next].is("from", "into") || r.toks[next].kind == tokIdent && clauseWords[r.toks[next].text] {
			return r.syntaxError(next)
		}
		call := append(funcCall("meridian_distinct_on", r.toks[i+3:m]), op(","))
		r.replace(i, m+1, call...)
	}
	return nil
}

// selectBefore reports whether a SELECT begins toks[i]'s parenthesis level before i: the
// FROM of a query, not of substring(x FROM n) or trim(... FROM x).
func (r *rewriter) selectBefore(i int) bool {
	depth := 0
	for k := i - 1; k >= 0; k-- {
		switch t := r.toks[k]; {
		case t.isOp(")"):
			depth++
		case t.isOp("("):
			if depth == 0 {
				return false
			}
			depth--
		case depth == 0 && t.is("select"):
			return true
		}
	}
	return false
}

// fromClauses walks each query's FROM list: it drops ONLY, moves column alias lists into
// Statement.ColumnAliases, and turns functions into derived tables. Subqueries in the list
// have FROM lists of their own, which the loop reaches later.
func (r *rewriter) fromClauses() error {
	for i := 0; i < len(r.toks); i++ {
		if r.toks[i].is("from") && !r.toks[i].gen && r.selectBefore(i) {
			if _, err := r.fromList(i + 1); err != nil {
				return err
			}
		}
	}
	return nil
}

// fromList reads the table references, joins and join conditions of a FROM list starting at
// i and returns the index after the list.
func (r *rewriter) fromList(i int) (int, error) {
	for {
		var err error
		if i, err = r.tableRef(i); err != nil {
			return 0, err
		}
	qualifiers:
		for i < len(r.toks) {
			switch t := r.toks[i]; {
			case t.is("on"):
				i = r.exprEnd(i + 1)
			case t.is("using") && i+1 < len(r.toks) && r.toks[i+1].isOp("("):
				m := r.matchParen(i + 1)
				if m < 0 {
					return 0, r.syntaxError(len(r.toks))
				}
				i = m + 1
			default:
				break qualifiers
			}
		}
		switch {
		case i < len(r.toks) && r.toks[i].isOp(","):
			i++
		case r.isJoinWord(i):
			for r.isJoinWord(i) && !r.toks[i].is("join") {
				i++
			}
			if i >= len(r.toks) || !r.toks[i].is("join") {
				return 0, r.syntaxError(i)
			}
			i++
		default:
			return i, nil
		}
	}
}

// parenthesizedJoin reports whether the parentheses at i and m hold table references rather
// than a query.
func (r *rewriter) parenthesizedJoin(i, m int) bool {
	if i+1 >= m {
		return false
	}
	first := r.toks[i+1]
	switch {
	case first.is("select", "with", "values", "table"):
		return false
	case first.isOp("("):
		// ((select ...) union (select ...)) or ((select ...) s JOIN t ON ...).
		k := r.topLevelIndex(i+1, func(t token) bool { return t.is("join") || t.isOp(",") })
		return k >= 0 && k < m
	}
	return true
}

// tableRef reads one table reference at i, with its alias, and returns the index after it.
func (r *rewriter) tableRef(i int) (int, error) {
	if i < len(r.toks) && r.toks[i].is("only") && !r.toks[i].gen && i+1 < len(r.toks) && isName(r.toks[i+1]) {
		// ONLY excludes inheritance children, which Meridian's tables do not have; tidb would
		// read ONLY as the table and the name as its alias.
		r.replace(i, i+1)
	}
	if i >= len(r.toks) {
		return i, nil // "FROM" and nothing: tidb reports it
	}
	t := r.toks[i]
	j, call := i, -1
	ordinality := false
	switch {
	case t.isOp("("):
		m := r.matchParen(i)
		if m < 0 {
			return 0, r.syntaxError(len(r.toks))
		}
		if r.parenthesizedJoin(i, m) {
			end, err := r.fromList(i + 1)
			if err != nil {
				return 0, err
			}
			if end >= len(r.toks) || !r.toks[end].isOp(")") {
				return 0, r.syntaxError(end)
			}
			if a, _ := r.alias(end + 1); a >= 0 {
				return 0, r.unsupported("aliases of parenthesized joins")
			}
			return end + 1, nil
		}
		j = m + 1
	case isName(t) && !(t.kind == tokIdent && notAliasWords[t.text]):
		j = i + 1
		for j+1 < len(r.toks) && r.toks[j].isOp(".") && isName(r.toks[j+1]) {
			j += 2
		}
		if j < len(r.toks) && r.toks[j].isOp("(") {
			m := r.matchParen(j)
			if m < 0 {
				return 0, r.syntaxError(len(r.toks))
			}
			call, j = j-1, m+1
			if j+1 < len(r.toks) && r.toks[j].is("with") && r.toks[j+1].is("ordinality") {
				ordinality = true
				r.replace(j, j+2)
			}
		}
	default:
		return i, nil // not a table reference: tidb reports it
	}
	a, end := r.alias(j)
	if a >= 0 && end < len(r.toks) && r.toks[end].isOp("(") {
		names, after, err := r.parenNames(end)
		if err != nil {
			return 0, err
		}
		if err := r.recordColumnAliases(r.toks[a].text, names); err != nil {
			return 0, err
		}
		r.replace(end, after)
	}
	if call >= 0 {
		// f(args) [AS] alias becomes (SELECT meridian_table_function(f(args))) AS alias, and
		// f(args) WITH ORDINALITY passes 'ordinality' as a second argument. The alias
		// defaults to the function's name, as in PostgreSQL.
		args := [][]token{r.toks[i:j]}
		if ordinality {
			args = append(args, []token{str("ordinality")})
		}
		wrapped := []token{op("("), ident("select")}
		wrapped = append(wrapped, funcCall("meridian_table_function", args...)...)
		wrapped = append(wrapped, op(")"))
		if a < 0 {
			name := r.toks[call]
			name.name = true
			wrapped = append(wrapped, ident("as"), name)
		}
		r.replace(i, j, wrapped...)
		end += len(wrapped) - (j - i)
	}
	return end, nil
}

// alias finds the alias after a table reference ending at j: it returns the alias's index
// (-1 if none) and the index after the alias.
func (r *rewriter) alias(j int) (int, int) {
	switch {
	case j+1 < len(r.toks) && r.toks[j].is("as") && !r.toks[j+1].is("of") && isName(r.toks[j+1]):
		return j + 1, j + 2
	case j < len(r.toks) && isName(r.toks[j]) && !(r.toks[j].kind == tokIdent && notAliasWords[r.toks[j].text]):
		return j, j + 1
	}
	return -1, j
}

// recordColumnAliases keeps a FROM item's column alias list under its alias as tidb stores
// it (lower-cased). One map serves the whole statement, so an alias name may carry only one.
func (r *rewriter) recordColumnAliases(alias string, names []token) error {
	key := strings.ToLower(alias)
	if _, dup := r.st.ColumnAliases[key]; dup {
		return notSupported("column alias lists on two relations named %q", key)
	}
	if r.st.ColumnAliases == nil {
		r.st.ColumnAliases = map[string][]string{}
	}
	cols := make([]string, len(names))
	for k, n := range names {
		cols[k] = n.text
	}
	r.st.ColumnAliases[key] = cols
	return nil
}

// valuesLists rewrites each VALUES list that stands for a query as a union of selects, which
// tidb reads (it knows VALUES only in INSERT and as MySQL's VALUES ROW(...)). INSERT's own
// VALUES is left to tidb.
func (r *rewriter) valuesLists() error {
	for i := 0; i < len(r.toks); i++ {
		t := r.toks[i]
		if !t.is("values") || t.gen {
			continue
		}
		query, insert := r.valuesIsQuery(i)
		if !query && !insert {
			continue
		}
		// The scan goes on from here: the rows may hold VALUES queries of their own.
		if err := r.valuesQuery(i, insert); err != nil {
			return err
		}
	}
	return nil
}

// valuesIsQuery tells whether the VALUES at i is a query, or else the source of the INSERT
// at main (which is rewritten only where tidb cannot read INSERT ... VALUES).
func (r *rewriter) valuesIsQuery(i int) (query, insert bool) {
	if i == 0 {
		return true, false
	}
	p := r.toks[i-1]
	switch {
	case p.is("default"):
		return false, false // INSERT ... DEFAULT VALUES
	case p.isOp("(") || p.is("union", "intersect", "except"):
		return true, false
	case p.is("all", "distinct") && i > 1 && r.toks[i-2].is("union", "intersect", "except"):
		return true, false
	case p.is("as") && r.toks[0].is("create"): // CREATE VIEW v AS VALUES ...
		return true, false
	}
	main := r.mainStatement()
	if main < 0 || r.depthAt(i) != 0 {
		return false, false
	}
	if main > 0 && i == main {
		return true, false // WITH x AS (...) VALUES ...
	}
	return false, r.toks[main].is("insert", "replace")
}

// depthAt returns how many parentheses are open at toks[i].
func (r *rewriter) depthAt(i int) int {
	depth := 0
	for _, t := range r.toks[:i] {
		switch {
		case t.isOp("("):
			depth++
		case t.isOp(")"):
			depth--
		}
	}
	return depth
}

// valuesQuery rewrites VALUES (a, b), (c, d) at i as SELECT a AS column1, b AS column2 UNION
// ALL SELECT c, d, PostgreSQL's column names. Among other set operations the union is
// parenthesized, being one operand; a trailing ORDER BY or LIMIT stays after it, applying
// to the whole as it does to the VALUES. For insert (an INSERT's VALUES), the list is left
// alone unless tidb could not read it as INSERT ... VALUES: followed by a set operation or
// ORDER BY/LIMIT, or preceded by a WITH clause.
func (r *rewriter) valuesQuery(i int, insert bool) error {
	type row struct {
		open  int
		cells [][]token
	}
	// An INSERT's own VALUES that does not read as rows is left for tidb to report.
	own := insert && r.mainStatement() == 0
	var rows []row
	j := i + 1
	for {
		if j >= len(r.toks) || !r.toks[j].isOp("(") {
			if own {
				return nil
			}
			return r.syntaxError(j)
		}
		m := r.matchParen(j)
		if m < 0 {
			if own {
				return nil
			}
			return r.syntaxError(len(r.toks))
		}
		if k := r.emptyArg(j, m); k >= 0 && !own {
			return r.syntaxError(k)
		}
		rows = append(rows, row{open: j, cells: splitArgs(r.toks[j+1 : m])})
		j = m + 1
		if j+1 < len(r.toks) && r.toks[j].isOp(",") && r.toks[j+1].isOp("(") {
			j++
			continue
		}
		break
	}
	// What follows the rows: the rest of the query or of the INSERT.
	tail := j < len(r.toks) && r.toks[j].kind == tokIdent && (setOpWords[r.toks[j].text] || r.toks[j].is("order", "limit", "offset", "fetch"))
	switch {
	case own && !tail:
		return nil // tidb's own INSERT ... VALUES [ON CONFLICT ...] [RETURNING ...]
	case j >= len(r.toks) || tail || r.toks[j].isOp(")"):
	case insert && r.toks[j].is("on", "returning"):
	case !insert && r.toks[j].is("for"):
		return notSupported("FOR UPDATE cannot be applied to VALUES")
	default:
		return r.syntaxError(j)
	}
	var out []token
	width := len(rows[0].cells)
	for k, rw := range rows {
		if len(rw.cells) != width {
			// PostgreSQL points at the row's first value.
			return r.errorAt(rw.cells[0][0], "VALUES lists must all be the same length")
		}
		if k > 0 {
			out = append(out, ident("union"), ident("all"))
		}
		out = append(out, ident("select"))
		for c, cell := range rw.cells {
			if len(cell) == 1 && cell[0].is("default") && !cell[0].gen {
				return r.errorAt(cell[0], "DEFAULT is not allowed in this context")
			}
			if c > 0 {
				out = append(out, op(","))
			}
			out = append(out, cell...)
			if k == 0 {
				out = append(out, ident("as"), ident(fmt.Sprintf("column%d", c+1)))
			}
		}
	}
	setOpBefore := i > 0 && r.toks[i-1].is("union", "intersect", "except") ||
		i > 1 && r.toks[i-1].is("all", "distinct") && r.toks[i-2].is("union", "intersect", "except")
	setOpAfter := tail && setOpWords[r.toks[j].text]
	if len(rows) > 1 && (setOpBefore || setOpAfter) {
		out = append(append([]token{op("(")}, out...), op(")"))
	}
	r.replace(i, j, out...)
	return nil
}

// emptyArg returns the index of the token after an empty item of the list in the
// parentheses at open and close ("(,", ",," or ",)"), -1 if there is none; an empty list
// is one empty item.
func (r *rewriter) emptyArg(open, close int) int {
	depth := 0
	for k := open + 1; k <= close; k++ {
		switch t := r.toks[k]; {
		case depth == 0 && (t.isOp(",") || k == close) && (r.toks[k-1].isOp(",") || k-1 == open):
			return k
		case t.isOp("("):
			depth++
		case t.isOp(")"):
			depth--
		}
	}
	return -1
}

// errorAt returns a syntax error with msg, placed at t when the client wrote it.
func (r *rewriter) errorAt(t token, msg string) error {
	if !t.gen {
		return syntaxErrorAt(r.src, t.pos, "%s", msg)
	}
	return pgerror.New(pgerror.CodeSyntaxError, "%s", msg)
}

// mainStatement returns the index of the statement a leading WITH clause belongs to (0
// without one), or -1 if the WITH clause does not read as one.
func (r *rewriter) mainStatement() int {
	if len(r.toks) == 0 || !r.toks[0].is("with") {
		return 0
	}
	k := 1
	if k < len(r.toks) && r.toks[k].is("recursive") {
		k++
	}
	for {
		if k >= len(r.toks) || !isName(r.toks[k]) {
			return -1
		}
		k++
		if k < len(r.toks) && r.toks[k].isOp("(") {
			m := r.matchParen(k)
			if m < 0 {
				return -1
			}
			k = m + 1
		}
		if k >= len(r.toks) || !r.toks[k].is("as") {
			return -1
		}
		k++
		if k >= len(r.toks) || !r.toks[k].isOp("(") {
			return -1
		}
		m := r.matchParen(k)
		if m < 0 {
			return -1
		}
		k = m + 1
		if k < len(r.toks) && r.toks[k].isOp(",") {
			k++
			continue
		}
		if k >= len(r.toks) {
			return -1
		}
		return k
	}
}

// cteHints drops a common table expression's [NOT] MATERIALIZED, which tidb does not read: a
// hint on whether to inline the CTE, leaving the choice to the planner.
func (r *rewriter) cteHints() error {
	if len(r.toks) == 0 || !r.toks[0].is("with") {
		return nil
	}
	for k := 1; k+1 < len(r.toks); k++ {
		if !r.toks[k].is("as") || r.depthAt(k) != 0 {
			continue
		}
		switch {
		case k+3 < len(r.toks) && r.toks[k+1].is("not") && r.toks[k+2].is("materialized") && r.toks[k+3].isOp("("):
			r.replace(k+1, k+3)
		case k+2 < len(r.toks) && r.toks[k+1].is("materialized") && r.toks[k+2].isOp("("):
			r.replace(k+1, k+2)
		}
	}
	return nil
}

// withInsert moves the WITH clause of WITH ... INSERT INTO t [(cols)] query to before the
// query, where tidb reads it: INSERT INTO t [(cols)] WITH ... query.
func (r *rewriter) withInsert() error {
	main := r.mainStatement()
	if main <= 0 || !r.toks[main].is("insert") {
		return nil
	}
	k := main + 1
	if k < len(r.toks) && r.toks[k].is("into") {
		k++
	}
	if k >= len(r.toks) || !isName(r.toks[k]) {
		return r.syntaxError(k)
	}
	k++
	for k+1 < len(r.toks) && r.toks[k].isOp(".") && isName(r.toks[k+1]) {
		k += 2
	}
	if k+1 < len(r.toks) && r.toks[k].is("as") && isName(r.toks[k+1]) {
		k += 2
	}
	if k+1 < len(r.toks) && r.toks[k].isOp("(") && !r.toks[k+1].is("select", "with", "values") {
		if k = r.matchParen(k); k < 0 {
			return r.syntaxError(len(r.toks))
		}
		k++
	}
	switch {
	case k >= len(r.toks):
		return r.syntaxError(k)
	case r.toks[k].is("select") || r.toks[k].isOp("("):
	case r.toks[k].is("with"):
		return r.unsupported("WITH clauses on both an INSERT and its query")
	case r.toks[k].is("default"):
		return r.unsupported("WITH ... INSERT ... DEFAULT VALUES")
	default:
		return r.syntaxError(k)
	}
	with := append([]token(nil), r.toks[:main]...)
	out := append([]token(nil), r.toks[main:k]...)
	out = append(out, with...)
	r.toks = append(out, r.toks[k:]...)
	return nil
}
