package pgdialect

import (
	"slices"
	"strings"

	"github.com/meridiandb/meridian/sql/pgerror"
)

// Statement is one normalized statement.
type Statement struct {
	// SQL is the text for the tidb parser; "" for an empty statement.
	SQL string
	// Original is the client's text of the statement (trimmed), for error messages.
	Original string
	// NumParams is the highest $n used.
	NumParams int
	// ParamOrder[k] is n when the k-th ? of SQL stands for $n.
	ParamOrder []int
	// Returning is the normalized RETURNING list ("" if none), cut out of SQL.
	Returning string
	// ReturningParamOrder is ParamOrder for the ?s of Returning.
	ReturningParamOrder []int
	// OnConflict is set for INSERT ... ON CONFLICT.
	OnConflict *OnConflict
	// TxnModes is set for BEGIN/START TRANSACTION and for SET TRANSACTION AS OF SYSTEM TIME:
	// the modes tidb's grammar cannot carry.
	TxnModes *TxnModes
	// Access is set, and SQL empty, for statements about users, roles and privileges.
	Access *Access
	// Index is set, and SQL empty, for CREATE INDEX and DROP INDEX.
	Index *IndexStatement
	// StoredColumns are the INCLUDE/STORING columns of the index and UNIQUE elements of
	// CREATE TABLE, by their position among the table constraints (as tidb lists them in
	// CreateTableStmt.Constraints), and of the UNIQUE constraints of ALTER TABLE, by the
	// position of their action (AlterTableStmt.Specs); tidb's grammar cannot carry them.
	StoredColumns map[int][]string
	// Maintenance is set, and SQL empty, for VACUUM and ANALYZE.
	Maintenance *Maintenance
	// Truncate is set, and SQL empty, for TRUNCATE.
	Truncate *Truncate
	// Prepared is set, and SQL empty, for PREPARE, EXECUTE and DEALLOCATE.
	Prepared *PreparedCommand
	// Cursor is set, and SQL empty, for DECLARE, FETCH, MOVE and CLOSE.
	Cursor *CursorCommand
	// ColumnAliases holds the column alias lists of FROM items, cut out of SQL, by the
	// item's alias lower-cased (ast.TableSource.AsName.L): FROM t AS a (x, y) is FROM t AS a
	// in SQL and "a": {"x", "y"} here. The names are as PostgreSQL folds them (unquoted
	// lower-cased, quoted kept). Nil if there are none.
	ColumnAliases map[string][]string
	// DDL is set for DDL statements with something tidb's grammar cannot carry.
	DDL *DDL
	// View is set for CREATE VIEW and ALTER VIEW.
	View *View
	// Copy is set, and SQL empty, for COPY.
	Copy *Copy
	// SetLocal marks SET LOCAL, whose settings last until the end of the transaction. Reset
	// marks RESET, whose SQL is SET ... = DEFAULT, and ResetAll RESET ALL, whose SQL is a
	// placeholder SET.
	SetLocal, Reset, ResetAll bool
}

// TxnModes are transaction modes of BEGIN or SET TRANSACTION that the normalized SQL cannot
// express. The rest travel in the SQL: READ ONLY and AS OF SYSTEM TIME as tidb's START
// TRANSACTION READ ONLY [AS OF TIMESTAMP expr]; SET TRANSACTION's other modes as assignments
// to transaction_isolation, transaction_read_only and transaction_priority.
type TxnModes struct {
	// Priority is "low", "normal" or "high" (CockroachDB's PRIORITY mode), "" if not given.
	Priority string
	// ReadWrite is set when READ WRITE was given, which overrides
	// default_transaction_read_only.
	ReadWrite bool
	// AsOf marks SET TRANSACTION AS OF SYSTEM TIME, normalized as tidb's SET TRANSACTION
	// READ ONLY AS OF TIMESTAMP expr.
	AsOf bool
}

// OnConflict describes an INSERT's ON CONFLICT clause.
type OnConflict struct {
	Columns    []string // conflict target columns (normalized), empty if none given
	Constraint string   // ON CONFLICT ON CONSTRAINT name
	DoNothing  bool
}

// Normalize rewrites exactly one statement (a trailing semicolon is allowed).
func Normalize(sql string) (Statement, error) {
	stmts, err := Split(sql)
	if err != nil {
		return Statement{}, err
	}
	switch len(stmts) {
	case 0:
		return Statement{Original: strings.TrimSpace(sql)}, nil
	case 1:
		return stmts[0], nil
	}
	return Statement{}, pgerror.New(pgerror.CodeSyntaxError, "cannot insert multiple commands into a prepared statement")
}

// Split splits a simple-protocol query string on the semicolons outside strings, comments and
// dollar quotes, and normalizes each statement. Empty pieces are skipped.
func Split(sql string) ([]Statement, error) {
	toks, err := lex(sql)
	if err != nil {
		return nil, err
	}
	out := []Statement{}
	start := 0
	for i := 0; i <= len(toks); i++ {
		if i < len(toks) && !toks[i].isOp(";") {
			continue
		}
		part := toks[start:i]
		start = i + 1
		if len(part) == 0 {
			continue
		}
		end := len(sql)
		if i < len(toks) {
			end = toks[i].pos
		}
		st, err := normalize(sql, part)
		if err != nil {
			return nil, err
		}
		st.Original = strings.TrimSpace(sql[part[0].pos:end])
		if c := st.Prepared; c != nil && c.Verb == "PREPARE" {
			c.Body = strings.TrimSpace(sql[c.bodyStart:end])
		}
		if c := st.Cursor; c != nil && c.Verb == "DECLARE" {
			c.Query = strings.TrimSpace(sql[c.queryStart:end])
		}
		if v := st.View; v != nil && !v.Alter {
			v.Definition = strings.TrimSpace(sql[v.definitionStart:end])
		}
		out = append(out, st)
	}
	return out, nil
}

// rewriter holds one statement's tokens while the rewrites run over them in place.
type rewriter struct {
	src  string
	toks []token
	st   Statement
}

// notSupported is the 0A000 error for a construct with a fixed message.
func notSupported(format string, args ...any) error {
	return pgerror.New(pgerror.CodeFeatureNotSupported, format, args...)
}

func (r *rewriter) syntaxError(i int) error {
	if i >= len(r.toks) {
		return pgerror.New(pgerror.CodeSyntaxError, "syntax error at end of input")
	}
	t := r.toks[i]
	if t.gen {
		// A token a rewrite made has no place in the client's text.
		return pgerror.New(pgerror.CodeSyntaxError, "syntax error at or near \"%s\"", t.text)
	}
	return syntaxErrorAt(r.src, t.pos, "syntax error at or near \"%s\"", nearText(r.src, t.pos))
}

func normalize(src string, toks []token) (Statement, error) {
	r := &rewriter{src: src, toks: append([]token(nil), toks...)}
	if r.toks[0].is("explain") {
		return r.explain()
	}
	if r.isAccess() {
		return r.accessStatement()
	}
	if r.isIndexStatement() {
		return r.indexStatement()
	}
	if r.isMaintenance() {
		return r.maintenance()
	}
	if r.isTruncate() {
		return r.truncate()
	}
	if r.isPreparedCommand() {
		return r.preparedCommand()
	}
	if r.isCursorCommand() {
		return r.cursorCommand()
	}
	if r.isCopy() {
		return r.copyStatement()
	}
	steps := []func() error{
		r.schemaForms, r.viewForms, r.statementForms, r.catalogSyntax, r.sequenceForms, r.rejectOperators, r.asOfSystemTime, r.createTable, r.alterTable, r.storedColumnClauses, r.typedLiterals, r.fieldSelections,
		r.extract, r.casts, r.arraySubqueries, r.arrays, r.atTimeZone, r.power, r.otherOperators, r.anyAll, r.ilike, r.distinctFrom,
		r.rejectLeftovers, r.lateral, r.fullJoins, r.fromClauses, r.distinctOn, r.cteHints, r.valuesLists,
		r.withInsert, r.orderLimit, r.lockingClauses, r.insertClauses, r.returning,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return Statement{}, err
		}
	}
	r.st.SQL, r.st.ParamOrder = emit(r.toks)
	for _, n := range r.st.ParamOrder {
		r.st.NumParams = max(r.st.NumParams, n)
	}
	for _, n := range r.st.ReturningParamOrder {
		r.st.NumParams = max(r.st.NumParams, n)
	}
	return r.st, nil
}

// explain normalizes the statement EXPLAIN [ANALYZE] [VERBOSE] wraps and puts the prefix back.
func (r *rewriter) explain() (Statement, error) {
	k := 1
	for k < len(r.toks) && r.toks[k].is("analyze", "verbose") {
		k++
	}
	if k < len(r.toks) && r.toks[k].isOp("(") {
		return Statement{}, r.unsupported("EXPLAIN options")
	}
	if k >= len(r.toks) {
		return Statement{}, r.syntaxError(k)
	}
	inner, err := normalize(r.src, r.toks[k:])
	if err != nil {
		return Statement{}, err
	}
	if inner.Index != nil {
		return Statement{}, r.unsupported("EXPLAIN of " + inner.Index.StatementName())
	}
	// The commands carried beside the SQL have no plan to show, except EXECUTE (its
	// statement's); run as they are, the EXPLAIN would be lost and the command done.
	// PostgreSQL also explains DECLARE (its query) and has no EXPLAIN of the rest.
	switch {
	case inner.Prepared != nil && inner.Prepared.Verb == "EXECUTE":
		if slices.ContainsFunc(r.toks[1:k], func(t token) bool { return t.is("analyze") }) {
			return Statement{}, r.unsupported("EXPLAIN ANALYZE EXECUTE")
		}
		inner.Prepared.Explain = true
		return inner, nil
	case inner.Cursor != nil && r.toks[k].is("declare"):
		return Statement{}, r.unsupported("EXPLAIN DECLARE")
	case inner.SQL == "" && (inner.Prepared != nil || inner.Cursor != nil || inner.Access != nil ||
		inner.Maintenance != nil || inner.Truncate != nil || inner.Copy != nil):
		return Statement{}, r.syntaxError(k)
	}
	if inner.Returning != "" {
		return Statement{}, r.unsupported("EXPLAIN of a statement with RETURNING")
	}
	prefix, _ := emit(r.toks[:k])
	inner.SQL = prefix + " " + inner.SQL
	return inner, nil
}

func (r *rewriter) unsupported(construct string) error { return pgerror.Unsupported(construct) }

// rejectOperators refuses operators tidb would read with another meaning, or not at all.
func (r *rewriter) rejectOperators() error {
	for i, t := range r.toks {
		if t.kind != tokOp {
			continue
		}
		switch {
		case r.isRegexOperator(i):
			// a ~ b and its kin: rewritten with the other operators.
		case strings.Contains(t.text, "~"):
			if t.text == "~" && (i == 0 || r.toks[i-1].kind == tokOp && !r.toks[i-1].isOp(")") || r.toks[i-1].kind == tokIdent && isOperatorWord(r.toks[i-1].text)) {
				return r.unsupported("the bitwise NOT operator ~")
			}
			return r.unsupported("regular expression and pattern operators (" + t.text + ")")
		case t.text == "@" || t.text == "#-":
			return r.unsupported("the operator " + t.text)
		case t.text == "=>":
			return r.unsupported("named function arguments")
		}
	}
	return nil
}

// emit renders tokens as tidb-readable text and lists the parameter numbers in text order.
func emit(toks []token) (string, []int) {
	var sb strings.Builder
	var params []int
	for i, t := range toks {
		if i > 0 && spaceBefore(toks[i-1], t) {
			sb.WriteByte(' ')
		}
		switch t.kind {
		case tokString:
			sb.WriteString(quoteString(t.text))
		case tokQIdent:
			sb.WriteString(quoteIdent(t.text))
		case tokParam:
			sb.WriteByte('?')
			params = append(params, t.num)
		case tokIdent:
			if mustQuote(toks, i) {
				sb.WriteString(quoteIdent(t.text))
			} else {
				sb.WriteString(t.text)
			}
		default:
			sb.WriteString(t.text)
		}
	}
	return sb.String(), params
}

// spaceBefore decides the separator. Every token is separated from the last by a space
// (which also keeps "-" "-" from becoming a comment) except around "." and inside calls: no
// space may come between a function name and "(", since tidb reads "count (*)" differently.
func spaceBefore(prev, t token) bool {
	switch {
	case t.isOp("(") && (prev.kind == tokQIdent || prev.kind == tokIdent && !isOperatorWord(prev.text)):
		return false
	case t.isOp(".") || prev.isOp(".") || t.isOp(",") || t.isOp(")") || prev.isOp("("):
		return false
	}
	return true
}

// mustQuote reports whether the unquoted word toks[i] has to be quoted for tidb to read it as
// the name PostgreSQL reads it as.
func mustQuote(toks []token, i int) bool {
	t := toks[i]
	if t.gen {
		return false
	}
	if !tidbReserved[t.text] && !needsQuotesForTidb(t.text) {
		return false
	}
	var prev, next token
	hasPrev, hasNext := i > 0, i+1 < len(toks)
	if hasPrev {
		prev = toks[i-1]
	}
	if hasNext {
		next = toks[i+1]
	}
	if t.is("if") && hasNext && next.is("not", "exists") && !t.name {
		return false // IF [NOT] EXISTS
	}
	if hasNext && next.isOp("(") && !t.name {
		return false // a function call or syntax such as PRIMARY KEY (...)
	}
	if needsQuotesForTidb(t.text) || t.name {
		return true
	}
	if pgSyntaxWords[t.text] {
		return false
	}
	if mysqlOnlyWords[t.text] {
		return true
	}
	switch {
	case hasPrev && prev.isOp(".") || hasNext && next.isOp("."):
		return true
	case hasPrev && prev.is("as", "column", "into") && !t.is("values", "select", "table", "with"):
		return true
	case notOperands[t.text]:
		return false
	}
	before := !hasPrev || prev.kind == tokOp && operandBeforeOps[prev.text] || prev.kind == tokIdent && operandBeforeKws[prev.text]
	after := !hasNext || next.kind == tokOp && operandAfterOps[next.text] || next.kind == tokIdent && operandAfterKws[next.text]
	return hasPrev && before && after
}

// needsQuotesForTidb reports words tidb cannot read unquoted at all: names with bytes
// outside ASCII are read by tidb's lexer by its own rules, so they are always quoted.
func needsQuotesForTidb(s string) bool {
	for k := 0; k < len(s); k++ {
		if s[k] >= 0x80 {
			return true
		}
	}
	return false
}

func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// ident, op and str build tokens for rewrites; ident's words are tidb syntax.
func ident(s string) token { return token{kind: tokIdent, text: s, gen: true} }
func op(s string) token    { return token{kind: tokOp, text: s, gen: true} }
func str(s string) token   { return token{kind: tokString, text: s, gen: true} }

// replace replaces toks[i:j] with repl.
func (r *rewriter) replace(i, j int, repl ...token) {
	out := make([]token, 0, len(r.toks)-(j-i)+len(repl))
	out = append(out, r.toks[:i]...)
	out = append(out, repl...)
	out = append(out, r.toks[j:]...)
	r.toks = out
}

// matchParen returns the index of the parenthesis closing the one at i, or -1.
func (r *rewriter) matchParen(i int) int {
	depth := 0
	for j := i; j < len(r.toks); j++ {
		switch {
		case r.toks[j].isOp("("):
			depth++
		case r.toks[j].isOp(")"):
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

// openParen returns the index of the parenthesis opening the one closing at i, or -1.
func (r *rewriter) openParen(i int) int {
	depth := 0
	for j := i; j >= 0; j-- {
		switch {
		case r.toks[j].isOp(")"):
			depth++
		case r.toks[j].isOp("("):
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

// topLevelIndex returns the index of the first token from from on, outside parentheses
// and brackets opened after from, that matches pred, or -1.
func (r *rewriter) topLevelIndex(from int, pred func(token) bool) int {
	depth := 0
	for j := from; j < len(r.toks); j++ {
		switch {
		case r.toks[j].isOp("(") || r.toks[j].isOp("["):
			depth++
		case r.toks[j].isOp(")") || r.toks[j].isOp("]"):
			depth--
			if depth < 0 {
				return -1
			}
		case depth == 0 && pred(r.toks[j]):
			return j
		}
	}
	return -1
}
