package pgdialect

import (
	"strings"

	"github.com/meridiandb/meridian/sql/pgerror"
)

// columnOptionWords end a column's type in a column definition.
var columnOptionWords = wordSet(`not null default primary unique references check constraint collate generated`)

// tableConstraintWords start a table constraint rather than a column definition.
var tableConstraintWords = wordSet(`constraint primary unique check foreign exclude like`)

// createTable carries each column's PostgreSQL type through tidb's grammar as enum('<type>'),
// which the engine unwraps from the column's FieldType.
func (r *rewriter) createTable() error {
	if len(r.toks) < 3 || !r.toks[0].is("create") {
		return nil
	}
	i := 1
	for i < len(r.toks) && r.toks[i].is("temp", "temporary", "unlogged", "global", "local") {
		i++
	}
	if i >= len(r.toks) || !r.toks[i].is("table") {
		return nil
	}
	// tidb spells TEMP only as TEMPORARY and knows no GLOBAL/LOCAL (noise words in
	// PostgreSQL) or UNLOGGED (a durability hint Meridian does not take).
	temporary := false
	for _, t := range r.toks[1:i] {
		temporary = temporary || t.is("temp", "temporary")
	}
	if temporary {
		r.replace(1, i, ident("temporary"))
	} else {
		r.replace(1, i)
	}
	i = 1
	if temporary {
		i = 2
	}
	open := -1
	for j := i; j < len(r.toks); j++ {
		if r.toks[j].is("as") {
			return notSupported("CREATE TABLE ... AS is not supported")
		}
		if r.toks[j].is("partition") && j+1 < len(r.toks) && r.toks[j+1].is("of") {
			return r.unsupported("CREATE TABLE ... PARTITION OF")
		}
		if r.toks[j].isOp("(") {
			open = j
			break
		}
	}
	if open < 0 {
		return r.syntaxError(len(r.toks))
	}
	closeIdx := r.matchParen(open)
	if closeIdx < 0 {
		return r.syntaxError(len(r.toks))
	}
	if closeIdx != len(r.toks)-1 {
		// Storage parameters are hints for PostgreSQL's heap: accepted and dropped.
		end, err := r.storageParameters(closeIdx + 1)
		if err != nil {
			return err
		}
		r.replace(closeIdx+1, end)
	}
	if closeIdx != len(r.toks)-1 {
		rest := r.toks[closeIdx+1]
		if rest.is("as") {
			return notSupported("CREATE TABLE ... AS is not supported")
		}
		if rest.is("inherits", "partition", "with", "without", "tablespace", "using", "on") {
			return r.unsupported("CREATE TABLE ... " + strings.ToUpper(rest.text))
		}
		return r.syntaxError(closeIdx + 1)
	}
	// Rewrite the elements from the last so earlier indexes stay valid.
	type span struct{ start, end int }
	var elems []span
	depth, start := 0, open+1
	for j := open + 1; j < closeIdx; j++ {
		switch {
		case r.toks[j].isOp("(") || r.toks[j].isOp("["): // brackets: DEFAULT ARRAY[1, 2]
			depth++
		case r.toks[j].isOp(")") || r.toks[j].isOp("]"):
			depth--
		case depth == 0 && r.toks[j].isOp(","):
			elems = append(elems, span{start, j})
			start = j + 1
		}
	}
	elems = append(elems, span{start, closeIdx})
	if len(elems) == 1 && elems[0].start == elems[0].end {
		return r.unsupported("tables without columns")
	}
	for k := len(elems) - 1; k >= 0; k-- {
		e := elems[k]
		if e.start == e.end {
			return r.syntaxError(e.start)
		}
		first := r.toks[e.start]
		if first.kind == tokIdent && tableConstraintWords[first.text] {
			if first.is("exclude", "like") {
				return r.unsupported("CREATE TABLE (" + strings.ToUpper(first.text) + " ...)")
			}
			continue
		}
		if r.isIndexElement(e.start) {
			continue
		}
		if err := r.columnDef(e.start, e.end); err != nil {
			return err
		}
	}
	return nil
}

// isIndexElement reports a tidb-style INDEX/KEY element, told from a column named index or
// key by what follows: "(" or a name and "(" that holds names, where a type has numbers.
func (r *rewriter) isIndexElement(i int) bool {
	if !r.toks[i].is("index", "key") || i+1 >= len(r.toks) {
		return false
	}
	next := r.toks[i+1]
	if next.isOp("(") {
		return true
	}
	return isName(next) && i+3 < len(r.toks) && r.toks[i+2].isOp("(") && isName(r.toks[i+3])
}

// columnDef rewrites the column definition toks[start:end]: name, type, options.
func (r *rewriter) columnDef(start, end int) error {
	name := r.toks[start]
	if !isName(name) {
		return r.syntaxError(start)
	}
	if start+1 >= end {
		return r.syntaxError(end)
	}
	typ, typeEnd, err := r.typeName(start + 1)
	if err != nil {
		return err
	}
	if typeEnd > end {
		return r.syntaxError(end)
	}
	if typeEnd < end && !(r.toks[typeEnd].kind == tokIdent && columnOptionWords[r.toks[typeEnd].text]) {
		return r.syntaxError(typeEnd)
	}
	if c := r.topLevelIndex(typeEnd, func(t token) bool { return t.is("collate") }); c >= 0 && c < end {
		// tidb checks collation names against MySQL's; PostgreSQL's mean other orders.
		return r.unsupported("COLLATE")
	}
	if _, err := r.identityColumn(typeEnd, end); err != nil {
		return err
	}
	r.replace(start+1, typeEnd, ident("enum"), op("("), str(typ), op(")"))
	r.toks[start].name = true
	return nil
}

// alterTable rewrites the column types of ALTER TABLE ... ADD [COLUMN] actions.
func (r *rewriter) alterTable() error {
	if len(r.toks) < 4 || !r.toks[0].is("alter") || !r.toks[1].is("table") {
		return nil
	}
	// ALTER TABLE t SPLIT AT VALUES (...), ... is tidb's SPLIT TABLE t BY (...), ...; ALTER
	// TABLE t UNSPLIT AT VALUES (...), ... borrows tidb's other spelling of it, SPLIT REGION
	// FOR TABLE t BY (...), ..., which the planner reads as the unsplit.
	for j := 3; j+2 < len(r.toks); j++ {
		if (r.toks[j].is("split") || r.toks[j].is("unsplit")) && r.toks[j+1].is("at") && r.toks[j+2].is("values") {
			out := []token{ident("split"), ident("table")}
			if r.toks[j].is("unsplit") {
				out = []token{ident("split"), ident("region"), ident("for"), ident("table")}
			}
			out = append(out, r.toks[2:j]...)
			out = append(out, ident("by"))
			r.toks = append(out, r.toks[j+3:]...)
			return nil
		}
	}
	// Actions are top-level comma-separated; rewrite from the last so indexes hold.
	bounds := []int{3}
	for j := 3; ; {
		k := r.topLevelIndex(j, func(t token) bool { return t.isOp(",") })
		if k < 0 {
			break
		}
		bounds = append(bounds, k+1)
		j = k + 1
	}
	for k := len(bounds) - 1; k >= 0; k-- {
		end := len(r.toks)
		if k+1 < len(bounds) {
			end = bounds[k+1] - 1
		}
		if bounds[k] < end {
			r.alterTableAction(bounds[k], end)
		}
	}
	var starts []int
	depth := 0
	for j := 3; j < len(r.toks); j++ {
		switch t := r.toks[j]; {
		case t.isOp("("):
			depth++
		case t.isOp(")"):
			depth--
		case depth == 0 && t.is("add"):
			starts = append(starts, j)
		case depth == 0 && t.is("alter"):
			k := j + 1
			if k < len(r.toks) && r.toks[k].is("column") {
				k++
			}
			if k+1 < len(r.toks) && r.toks[k+1].is("type") || k+3 < len(r.toks) && r.toks[k+1].is("set") && r.toks[k+2].is("data") && r.toks[k+3].is("type") {
				return r.unsupported("ALTER COLUMN ... TYPE")
			}
		}
	}
	for k := len(starts) - 1; k >= 0; k-- {
		j := starts[k] + 1
		if j < len(r.toks) && r.toks[j].is("column") {
			j++
		}
		if j+2 < len(r.toks) && r.toks[j].is("if") && r.toks[j+1].is("not") && r.toks[j+2].is("exists") {
			j += 3
		}
		if j >= len(r.toks) || tableConstraintWords[r.toks[j].text] && r.toks[j].kind == tokIdent {
			continue
		}
		end := r.topLevelIndex(j, func(t token) bool { return t.isOp(",") })
		if end < 0 {
			end = len(r.toks)
		}
		if err := r.columnDef(j, end); err != nil {
			return err
		}
	}
	return nil
}

// orderLimit strips NULLS FIRST/LAST where it is PostgreSQL's default and maps FETCH FIRST,
// LIMIT ALL and OFFSET onto tidb's LIMIT ... OFFSET, in every query level.
func (r *rewriter) orderLimit() error {
	if err := r.limitLiterals(); err != nil {
		return err
	}
	for i := 0; i < len(r.toks); i++ {
		t := r.toks[i]
		switch {
		case t.is("nulls") && i+1 < len(r.toks) && r.toks[i+1].is("first", "last"):
			desc := i > 0 && r.toks[i-1].is("desc")
			if (r.toks[i+1].text == "last") == desc {
				// Not the default for the direction: the sort item becomes
				// meridian_nulls_first(expr) or meridian_nulls_last(expr).
				end := i
				if end > 0 && r.toks[end-1].is("asc", "desc") {
					end--
				}
				start, ok := r.sortItemStart(end)
				if !ok {
					return r.syntaxError(i)
				}
				marker := "meridian_nulls_" + r.toks[i+1].text
				r.replace(end, i+2, r.toks[end:i]...)
				r.replace(start, end, funcCall(marker, append([]token(nil), r.toks[start:end]...))...)
				continue
			}
			r.replace(i, i+2)
			i--
		case t.is("fetch") && i+1 < len(r.toks) && r.toks[i+1].is("first", "next"):
			// FETCH {FIRST|NEXT} [n] {ROW|ROWS} ONLY
			j := i + 2
			count := []token{{kind: tokNumber, text: "1", gen: true}}
			if j < len(r.toks) && !r.toks[j].is("row", "rows") {
				end, ok := r.primaryAfter(j)
				if !ok {
					return r.syntaxError(j)
				}
				count = append([]token(nil), r.toks[j:end]...)
				j = end
			}
			if j+1 >= len(r.toks) || !r.toks[j].is("row", "rows") {
				return r.syntaxError(j)
			}
			if r.toks[j+1].is("with") {
				return r.unsupported("FETCH ... WITH TIES")
			}
			if !r.toks[j+1].is("only") {
				return r.syntaxError(j + 1)
			}
			r.replace(i, j+2, append([]token{ident("limit")}, count...)...)
		case t.is("limit") && i+1 < len(r.toks) && r.toks[i+1].is("all"):
			r.replace(i, i+2, ident("limit"), token{kind: tokNumber, text: "18446744073709551615", gen: true})
		case t.is("limit") && !t.gen:
			if end, ok := r.primaryAfter(i + 1); ok && end < len(r.toks) && r.toks[end].isOp(",") {
				return syntaxErrorAt(r.src, t.pos, "LIMIT #,# syntax is not supported")
			}
		}
	}
	for i := 0; i < len(r.toks); i++ {
		if r.toks[i].is("offset") && !r.toks[i].gen {
			if err := r.offset(i); err != nil {
				return err
			}
		}
	}
	return nil
}

// limitLiterals turns the string literal of LIMIT '10' or OFFSET '5', which PostgreSQL
// reads as bigint (pgx's simple protocol sends its integer arguments so), into a number,
// the only literal tidb takes there.
func (r *rewriter) limitLiterals() error {
	for i := 0; i+1 < len(r.toks); i++ {
		t, arg := r.toks[i], r.toks[i+1]
		if !t.is("limit", "offset") || t.gen || arg.kind != tokString {
			continue
		}
		n := strings.TrimSpace(arg.text)
		switch {
		case isUnsignedInteger(n):
			r.toks[i+1] = token{kind: tokNumber, text: n, pos: arg.pos}
		case strings.HasPrefix(n, "-") && isUnsignedInteger(n[1:]):
			return pgerror.New("2201W", "%s must not be negative", strings.ToUpper(t.text))
		default:
			return pgerror.New(pgerror.CodeInvalidTextRepresent, "invalid input syntax for type bigint: %q", arg.text)
		}
	}
	return nil
}

func isUnsignedInteger(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// offset moves OFFSET n [ROW|ROWS] at i after the LIMIT of its query level, adding an
// unbounded LIMIT where there is none: tidb has no OFFSET without LIMIT.
func (r *rewriter) offset(i int) error {
	end, ok := r.primaryAfter(i + 1)
	if !ok {
		return r.syntaxError(i + 1)
	}
	clause := append([]token{ident("offset")}, r.toks[i+1:end]...)
	if end < len(r.toks) && r.toks[end].is("row", "rows") {
		end++
	}
	r.replace(i, end)
	// The query level is the innermost parentheses around i.
	lo := 0
	for depth, j := 0, i-1; j >= 0; j-- {
		if r.toks[j].isOp(")") {
			depth++
		} else if r.toks[j].isOp("(") {
			if depth == 0 {
				lo = j + 1
				break
			}
			depth--
		}
	}
	hi := len(r.toks)
	if lo > 0 {
		if m := r.matchParen(lo - 1); m >= 0 {
			hi = m
		}
	}
	lim := -1
	for depth, j := 0, lo; j < hi; j++ {
		switch {
		case r.toks[j].isOp("("):
			depth++
		case r.toks[j].isOp(")"):
			depth--
		case depth == 0 && r.toks[j].is("limit"):
			lim = j
		}
	}
	if lim < 0 {
		limit := []token{ident("limit"), {kind: tokNumber, text: "18446744073709551615", gen: true}}
		r.replace(hi, hi, append(limit, clause...)...)
		return nil
	}
	limEnd, ok := r.primaryAfter(lim + 1)
	if !ok {
		return r.syntaxError(lim + 1)
	}
	r.replace(limEnd, limEnd, clause...)
	return nil
}

// insertClauses rewrites INSERT ... ON CONFLICT into tidb's INSERT IGNORE and ON DUPLICATE KEY
// UPDATE forms, recording the conflict target for the engine, and marks the column list.
func (r *rewriter) insertClauses() error {
	if len(r.toks) < 3 || !r.toks[0].is("insert", "replace") {
		return nil
	}
	if r.toks[1].is("ignore") && !r.toks[1].gen {
		return r.syntaxError(1) // MySQL's INSERT IGNORE, not PostgreSQL
	}
	// INSERT INTO t [AS alias] (cols): the column list holds names only.
	if r.toks[1].is("into") {
		k := 3
		for k < len(r.toks) && (r.toks[k].isOp(".") || isName(r.toks[k]) && r.toks[k-1].isOp(".")) {
			k++
		}
		if k < len(r.toks) && r.toks[k].isOp("(") && k+1 < len(r.toks) && !r.toks[k+1].is("select", "values", "with") {
			for m := k + 1; m < len(r.toks) && !r.toks[m].isOp(")"); m++ {
				if isName(r.toks[m]) {
					r.toks[m].name = true
				}
			}
		}
	}
	// DEFAULT VALUES is spelled () VALUES () in tidb.
	if d := r.topLevelIndex(1, func(t token) bool { return t.is("default") }); d > 0 && d+1 < len(r.toks) && r.toks[d+1].is("values") {
		r.replace(d, d+2, op("("), op(")"), ident("values"), op("("), op(")"))
	}
	on := -1
	for j := 1; j+1 < len(r.toks); j++ {
		if j = r.topLevelIndex(j, func(t token) bool { return t.is("on") }); j < 0 || j+1 >= len(r.toks) {
			break
		}
		if r.toks[j+1].is("conflict") {
			on = j
			break
		}
		if r.toks[j+1].is("duplicate") {
			return r.syntaxError(j + 1) // MySQL's clause, not PostgreSQL's
		}
	}
	if on < 0 {
		return nil
	}
	oc := &OnConflict{}
	j := on + 2
	switch {
	case j < len(r.toks) && r.toks[j].isOp("("):
		m := r.matchParen(j)
		if m < 0 {
			return r.syntaxError(len(r.toks))
		}
		for k := j + 1; k < m; k++ {
			switch t := r.toks[k]; {
			case isName(t) && (k == j+1 || r.toks[k-1].isOp(",")):
				oc.Columns = append(oc.Columns, t.text)
			case t.isOp(",") && isName(r.toks[k-1]) && k+1 < m:
			default:
				return r.unsupported("ON CONFLICT with index expressions or options")
			}
		}
		if len(oc.Columns) == 0 {
			return r.syntaxError(m)
		}
		j = m + 1
		if j < len(r.toks) && r.toks[j].is("where") {
			return r.unsupported("ON CONFLICT (...) WHERE")
		}
	case j+2 < len(r.toks) && r.toks[j].is("on") && r.toks[j+1].is("constraint") && isName(r.toks[j+2]):
		oc.Constraint = r.toks[j+2].text
		j += 3
	}
	if j+1 >= len(r.toks) || !r.toks[j].is("do") {
		return r.syntaxError(j)
	}
	r.st.OnConflict = oc
	switch {
	case r.toks[j+1].is("nothing"):
		oc.DoNothing = true
		r.replace(on, j+2)
		r.replace(1, 1, ident("ignore"))
		if r.toks[0].is("replace") {
			return r.syntaxError(0) // UPSERT has no ON CONFLICT clause
		}
		return nil
	case r.toks[j+1].is("update") && j+2 < len(r.toks) && r.toks[j+2].is("set"):
		if len(oc.Columns) == 0 && oc.Constraint == "" {
			return syntaxErrorAt(r.src, r.toks[on].pos, "ON CONFLICT DO UPDATE requires inference specification or constraint name")
		}
		if j+3 < len(r.toks) && r.toks[j+3].isOp("(") {
			return r.unsupported("ON CONFLICT DO UPDATE SET (...) = ...")
		}
		end := r.topLevelIndex(j+3, func(t token) bool { return t.is("returning", "where") })
		if end >= 0 && r.toks[end].is("where") {
			return notSupported("ON CONFLICT DO UPDATE ... WHERE is not supported")
		}
		if end < 0 {
			end = len(r.toks)
		}
		for k := j + 3; k+2 < end; k++ {
			if r.toks[k].is("excluded") && r.toks[k+1].isOp(".") && isName(r.toks[k+2]) && (k == 0 || !r.toks[k-1].isOp(".")) {
				col := r.toks[k+2]
				col.name = true
				r.replace(k, k+3, ident("values"), op("("), col, op(")"))
				end++
			}
		}
		// The SET targets are names.
		for k := j + 3; k+1 < end; k++ {
			if isName(r.toks[k]) && r.toks[k+1].isOp("=") && (k == j+3 || r.toks[k-1].isOp(",")) {
				r.toks[k].name = true
			}
		}
		r.replace(on, j+3, ident("on"), ident("duplicate"), ident("key"), ident("update"))
		if r.toks[0].is("replace") {
			return r.syntaxError(0)
		}
		return nil
	}
	return r.syntaxError(j + 1)
}

// returning cuts a top-level RETURNING list out of INSERT, UPDATE and DELETE; the engine
// evaluates it over the rows the statement wrote.
func (r *rewriter) returning() error {
	// The statement may follow a WITH clause.
	main := r.mainStatement()
	if main < 0 || main >= len(r.toks) || !r.toks[main].is("insert", "update", "delete", "replace") {
		return nil
	}
	// tidb's multi-table UPDATE and DELETE differ from PostgreSQL's FROM and USING in which
	// table is written; refuse them rather than guess.
	if r.toks[main].is("update") && r.topLevelIndex(main+1, func(t token) bool { return t.is("from") }) >= 0 {
		return r.unsupported("UPDATE ... FROM")
	}
	if r.toks[main].is("delete") && r.topLevelIndex(main+1, func(t token) bool { return t.is("using") }) >= 0 {
		return r.unsupported("DELETE ... USING")
	}
	i := r.topLevelIndex(main+1, func(t token) bool { return t.is("returning") })
	if i < 0 {
		return nil
	}
	if i+1 >= len(r.toks) {
		return r.syntaxError(i + 1)
	}
	r.st.Returning, r.st.ReturningParamOrder = emit(r.toks[i+1:])
	r.toks = r.toks[:i]
	return nil
}

// sortItemStart finds where the sort item ending before end starts: after the ORDER BY
// (or PARTITION BY) or the comma before it, at the same parenthesis depth.
func (r *rewriter) sortItemStart(end int) (int, bool) {
	depth := 0
	for k := end - 1; k >= 0; k-- {
		t := r.toks[k]
		switch {
		case t.isOp(")"):
			depth++
		case t.isOp("("):
			if depth == 0 {
				return 0, false
			}
			depth--
		case depth == 0 && t.isOp(","):
			return k + 1, k+1 < end
		case depth == 0 && t.is("by") && k > 0 && r.toks[k-1].is("order"):
			return k + 1, k+1 < end
		}
	}
	return 0, false
}
