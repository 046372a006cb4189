package pgdialect

import (
	"strings"

	"github.com/meridiandb/meridian/sql/pgerror"
)

// IndexStatement is CREATE INDEX or DROP INDEX. The tidb grammar has MySQL's forms of these
// (DROP INDEX name ON table; no unnamed indexes, no USING before the column list, no INCLUDE),
// so the dialect parses them itself: Statement.SQL is empty and the engine runs the
// IndexStatement.
type IndexStatement struct {
	Drop bool

	// CREATE [UNIQUE] INDEX [CONCURRENTLY] [IF NOT EXISTS] [name] ON table [USING btree]
	// (columns) [INCLUDE | STORING (columns)].
	Unique       bool
	Concurrently bool
	IfNotExists  bool
	// Name is "" when the statement leaves the choice to the engine.
	Name    string
	Table   ObjectName
	Columns []IndexColumn
	// Stored are the INCLUDE (CockroachDB: STORING, COVERING) columns.
	Stored []string

	// DROP INDEX [CONCURRENTLY] [IF EXISTS] name [, ...] [CASCADE | RESTRICT].
	IfExists bool
	Indexes  []IndexName
	Cascade  bool
}

// IndexColumn is one column of an index's key.
type IndexColumn struct {
	Name string
	Desc bool
}

// IndexName names an index to drop: [schema.]name, or CockroachDB's [schema.]table@name.
type IndexName struct {
	Schema, Table, Name string
}

// StatementName is the statement's name for messages: "CREATE INDEX" or "DROP INDEX".
func (s *IndexStatement) StatementName() string {
	if s.Drop {
		return "DROP INDEX"
	}
	return "CREATE INDEX"
}

// isIndexStatement reports whether the statement is one for indexStatement.
func (r *rewriter) isIndexStatement() bool {
	t := r.toks
	switch {
	case len(t) >= 2 && t[0].is("create", "drop", "alter") && t[1].is("index"):
		return true
	case len(t) >= 3 && t[0].is("create") && t[1].is("unique") && t[2].is("index"):
		return true
	}
	return false
}

// indexStatement parses a statement isIndexStatement recognized.
func (r *rewriter) indexStatement() (Statement, error) {
	p := &accessParser{r: r} // the same token cursor as the access statements'
	var ix *IndexStatement
	var err error
	switch {
	case r.toks[0].is("alter"):
		return Statement{}, r.unsupported("ALTER INDEX")
	case r.toks[0].is("drop"):
		ix, err = parseDropIndex(p)
	default:
		ix, err = parseCreateIndex(p)
	}
	if err != nil {
		return Statement{}, err
	}
	return Statement{Index: ix}, nil
}

// indexMethods are PostgreSQL's index access methods; Meridian's indexes are all btrees.
var indexMethods = wordSet(`btree hash gist spgist gin brin`)

func parseCreateIndex(p *accessParser) (*IndexStatement, error) {
	ix := &IndexStatement{}
	p.i = 1
	ix.Unique = p.accept("unique")
	if err := p.expect("index"); err != nil {
		return nil, err
	}
	ix.Concurrently = p.accept("concurrently")
	if p.accept("if") {
		if err := p.expect("not"); err != nil {
			return nil, err
		}
		if err := p.expect("exists"); err != nil {
			return nil, err
		}
		ix.IfNotExists = true
		if p.peek("on") {
			return nil, p.r.syntaxError(p.i) // IF NOT EXISTS needs a name
		}
	}
	if !p.peek("on") {
		var err error
		if ix.Name, err = p.name(); err != nil {
			return nil, err
		}
	}
	if err := p.expect("on"); err != nil {
		return nil, err
	}
	p.accept("only") // no inheritance: ONLY changes nothing
	n, err := p.name()
	if err != nil {
		return nil, err
	}
	ix.Table.Name = n
	if p.acceptOp(".") {
		if ix.Table.Name, err = p.name(); err != nil {
			return nil, err
		}
		ix.Table.Schema = n
	}
	if p.accept("using") {
		method, err := p.name()
		if err != nil {
			return nil, err
		}
		method = strings.ToLower(method)
		switch {
		case method == "btree":
		case indexMethods[method]:
			return nil, p.r.unsupported(method + " indexes")
		default:
			return nil, pgerror.New(pgerror.CodeUndefinedObject, "access method %q does not exist", method)
		}
	}
	if !p.acceptOp("(") {
		return nil, p.r.syntaxError(p.i)
	}
	for {
		col, err := parseIndexColumn(p)
		if err != nil {
			return nil, err
		}
		ix.Columns = append(ix.Columns, col)
		if p.acceptOp(")") {
			break
		}
		if !p.acceptOp(",") {
			return nil, p.r.syntaxError(p.i)
		}
	}
	if p.accept("include", "storing", "covering") {
		if ix.Stored, err = parseColumnList(p); err != nil {
			return nil, err
		}
	}
	if p.accept("nulls") {
		if p.accept("not") {
			return nil, p.r.unsupported("NULLS NOT DISTINCT")
		}
		if err := p.expect("distinct"); err != nil {
			return nil, err
		}
	}
	switch {
	case p.peek("with"):
		return nil, p.r.unsupported("index storage parameters (WITH)")
	case p.peek("tablespace"):
		return nil, p.r.unsupported("tablespaces")
	case p.peek("where"):
		return nil, p.r.unsupported("partial indexes")
	}
	return ix, p.end()
}

// parseIndexColumn reads one element of an index's column list: a column name with an
// optional direction. Expressions, collations and operator classes are refused by name.
func parseIndexColumn(p *accessParser) (IndexColumn, error) {
	if p.atEnd() {
		return IndexColumn{}, p.r.syntaxError(p.i)
	}
	if p.r.toks[p.i].isOp("(") {
		return IndexColumn{}, p.r.unsupported("expression indexes")
	}
	name, err := p.name()
	if err != nil {
		return IndexColumn{}, err
	}
	col := IndexColumn{Name: name}
	if !p.atEnd() && p.r.toks[p.i].kind == tokOp && !p.r.toks[p.i].isOp(",") && !p.r.toks[p.i].isOp(")") {
		return IndexColumn{}, p.r.unsupported("expression indexes") // f(x), a + b, a::text
	}
	if p.accept("collate") {
		return IndexColumn{}, p.r.unsupported("COLLATE")
	}
	switch {
	case p.accept("desc"):
		col.Desc = true
	case p.accept("asc"):
	case !p.atEnd() && isName(p.r.toks[p.i]) && !p.peek("nulls"):
		return IndexColumn{}, p.r.unsupported("operator classes")
	}
	if p.accept("nulls") {
		switch {
		case p.accept("last"):
			if col.Desc {
				return IndexColumn{}, p.r.unsupported("NULLS LAST with DESC")
			}
		case p.accept("first"):
			if !col.Desc {
				return IndexColumn{}, p.r.unsupported("NULLS FIRST with ASC")
			}
		default:
			return IndexColumn{}, p.r.syntaxError(p.i)
		}
	}
	return col, nil
}

// parseColumnList reads "(name, ...)".
func parseColumnList(p *accessParser) ([]string, error) {
	if !p.acceptOp("(") {
		return nil, p.r.syntaxError(p.i)
	}
	names, err := p.names()
	if err != nil {
		return nil, err
	}
	if !p.acceptOp(")") {
		return nil, p.r.syntaxError(p.i)
	}
	return names, nil
}

func parseDropIndex(p *accessParser) (*IndexStatement, error) {
	ix := &IndexStatement{Drop: true}
	p.i = 2
	ix.Concurrently = p.accept("concurrently")
	if p.accept("if") {
		if err := p.expect("exists"); err != nil {
			return nil, err
		}
		ix.IfExists = true
	}
	for {
		first, err := p.name()
		if err != nil {
			return nil, err
		}
		var n IndexName
		parts := []string{first}
		for p.acceptOp(".") {
			part, err := p.name()
			if err != nil {
				return nil, err
			}
			parts = append(parts, part)
		}
		if len(parts) > 2 {
			return nil, p.r.syntaxError(p.i - 1)
		}
		if p.acceptOp("@") {
			if n.Name, err = p.name(); err != nil {
				return nil, err
			}
			n.Table = parts[len(parts)-1]
		} else {
			n.Name = parts[len(parts)-1]
		}
		if len(parts) == 2 {
			n.Schema = parts[0]
		}
		ix.Indexes = append(ix.Indexes, n)
		if !p.acceptOp(",") {
			break
		}
	}
	if p.accept("cascade") {
		ix.Cascade = true
	} else {
		p.accept("restrict")
	}
	return ix, p.end()
}

// storedColumnClauses cuts the INCLUDE (PostgreSQL), STORING and COVERING (CockroachDB)
// clauses, which tidb's grammar lacks, out of the index and UNIQUE elements of CREATE TABLE
// and the UNIQUE constraints of ALTER TABLE ... ADD, recording their columns in
// Statement.StoredColumns.
func (r *rewriter) storedColumnClauses() error {
	if len(r.toks) < 3 {
		return nil
	}
	type element struct{ start, end, ordinal int }
	var elems []element
	switch {
	case r.toks[0].is("create"):
		k := 1
		if r.toks[k].is("temporary") {
			k++
		}
		if !r.toks[k].is("table") {
			return nil
		}
		open := k
		for open < len(r.toks) && !r.toks[open].isOp("(") {
			open++
		}
		if open == len(r.toks) {
			return nil
		}
		closeIdx := r.matchParen(open)
		if closeIdx < 0 {
			return nil
		}
		// Table constraints are numbered as tidb lists them (CreateTableStmt.Constraints),
		// column definitions not at all.
		for _, e := range r.topLevelElements(open+1, closeIdx) {
			if first := r.toks[e[0]]; first.kind == tokIdent && tableConstraintWords[first.text] || r.isIndexElement(e[0]) {
				elems = append(elems, element{e[0], e[1], len(elems)})
			}
		}
	case r.toks[0].is("alter") && r.toks[1].is("table"):
		// Actions are numbered as tidb lists them (AlterTableStmt.Specs).
		for ordinal, e := range r.topLevelElements(3, len(r.toks)) {
			elems = append(elems, element{e[0], e[1], ordinal})
		}
	default:
		return nil
	}
	// Cut from the last element so earlier positions stay valid.
	for k := len(elems) - 1; k >= 0; k-- {
		e := elems[k]
		at := -1
		for j := e.start; j+1 < e.end; j++ {
			if r.toks[j].is("include", "storing", "covering") && r.toks[j+1].isOp("(") {
				at = j
			}
		}
		if at < 0 {
			continue
		}
		m := r.matchParen(at + 1)
		if m < 0 || m >= e.end {
			return r.syntaxError(at + 1)
		}
		var cols []string
		for j := at + 2; j < m; j++ {
			switch t := r.toks[j]; {
			case isName(t) && (j == at+2 || r.toks[j-1].isOp(",")):
				cols = append(cols, t.text)
			case t.isOp(",") && isName(r.toks[j-1]) && j+1 < m:
			default:
				return r.syntaxError(j)
			}
		}
		if len(cols) == 0 {
			return r.syntaxError(m)
		}
		if r.st.StoredColumns == nil {
			r.st.StoredColumns = map[int][]string{}
		}
		r.st.StoredColumns[e.ordinal] = cols
		r.replace(at, m+1)
	}
	return nil
}

// topLevelElements splits toks[from:to] on the commas outside parentheses and brackets.
func (r *rewriter) topLevelElements(from, to int) [][2]int {
	var out [][2]int
	depth, start := 0, from
	for j := from; j < to; j++ {
		switch {
		case r.toks[j].isOp("(") || r.toks[j].isOp("["):
			depth++
		case r.toks[j].isOp(")") || r.toks[j].isOp("]"):
			depth--
		case depth == 0 && r.toks[j].isOp(","):
			out = append(out, [2]int{start, j})
			start = j + 1
		}
	}
	if start < to {
		out = append(out, [2]int{start, to})
	}
	return out
}
