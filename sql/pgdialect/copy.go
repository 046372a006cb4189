package pgdialect

import (
	"strings"

	"github.com/meridiandb/meridian/sql/pgerror"
)

// Copy is a COPY statement: COPY FROM STDIN or COPY TO STDOUT. The tidb grammar has no COPY
// (MySQL's LOAD DATA is another thing), so the dialect parses it itself: Statement.SQL is empty
// and the engine runs the Copy.
type Copy struct {
	// Table is the table copied from or to, with the columns named (none: all of them).
	Table   ObjectName
	Columns []string
	// Query, set instead of Table for COPY (query) TO STDOUT, is the normalized statement
	// whose rows are copied.
	Query *Statement
	// From is set for COPY FROM STDIN, clear for COPY TO STDOUT.
	From    bool
	Options CopyOptions
}

// CopyFormat is the format of COPY data.
type CopyFormat int

// The COPY formats.
const (
	CopyText CopyFormat = iota
	CopyCSV
	CopyBinary
)

// CopyOptions are COPY's options, validated and with PostgreSQL's defaults filled in.
type CopyOptions struct {
	Format CopyFormat
	// Delimiter separates columns (text and CSV).
	Delimiter byte
	// Null is the text that stands for NULL (text and CSV).
	Null string
	// Default, when set, is the text that stands for the column's default (COPY FROM).
	Default *string
	// Header: the data starts with a line of column names (text and CSV). HeaderMatch
	// (COPY FROM only) checks that they match the copied columns instead of skipping them.
	Header      bool
	HeaderMatch bool
	// Quote and Escape are CSV's quote and escape characters.
	Quote, Escape byte
	// ForceQuote lists the columns whose non-NULL values COPY TO quotes in CSV, all of them
	// with ForceQuoteAll.
	ForceQuote    []string
	ForceQuoteAll bool
	// ForceNotNull lists the columns for which CSV COPY FROM never reads the NULL string as
	// NULL; ForceNull those for which it does even when quoted.
	ForceNotNull []string
	ForceNull    []string
	// Encoding is the ENCODING option's value, "" if not given; the engine checks it.
	Encoding string
}

// isCopy reports whether the statement is a COPY.
func (r *rewriter) isCopy() bool { return r.toks[0].is("copy") }

// copyStatement parses a COPY statement.
func (r *rewriter) copyStatement() (Statement, error) {
	p := &copyParser{accessParser: accessParser{r: r, i: 1}}
	c, err := p.parse()
	if err != nil {
		return Statement{}, err
	}
	return Statement{Copy: c}, nil
}

// copyParser parses COPY. Its options, in either of PostgreSQL's syntaxes, are collected
// first and then checked together, as PostgreSQL's ProcessCopyOptions does, so that the same
// mistakes give the same errors.
type copyParser struct {
	// accessParser is the token cursor of the access statements, which serves COPY as well.
	accessParser
	c *Copy

	// The options as given; nil where not given.
	format, delimiter, null, def, quote, escape, encoding *string
	header                                                *headerChoice
	freeze                                                *bool
	forceQuote, forceNotNull, forceNull                   []string
	forceQuoteAll                                         bool
	sawForceQuote, sawForceNotNull, sawForceNull          bool
}

type headerChoice struct{ on, match bool }

func (p *copyParser) parse() (*Copy, error) {
	p.c = &Copy{}
	if p.accept("binary") {
		// COPY BINARY t ..., the syntax of PostgreSQL 7.3 and before.
		bin := "binary"
		p.format = &bin
	}
	if p.acceptOp("(") {
		if err := p.query(); err != nil {
			return nil, err
		}
	} else if err := p.table(); err != nil {
		return nil, err
	}
	switch {
	case p.accept("from"):
		if p.c.Query != nil {
			return nil, p.r.syntaxError(p.i - 1)
		}
		p.c.From = true
	case p.accept("to"):
	default:
		return nil, p.r.syntaxError(p.i)
	}
	if err := p.endpoint(); err != nil {
		return nil, err
	}
	// USING DELIMITERS 'x', older still.
	if p.peek("using") && p.i+1 < len(p.r.toks) && p.r.toks[p.i+1].is("delimiters") {
		p.i += 2
		if err := p.stringOption(&p.delimiter); err != nil {
			return nil, err
		}
	} else if p.accept("delimiters") {
		if err := p.stringOption(&p.delimiter); err != nil {
			return nil, err
		}
	}
	p.accept("with")
	if p.acceptOp("(") {
		if err := p.genericOptions(); err != nil {
			return nil, err
		}
	} else if err := p.oldOptions(); err != nil {
		return nil, err
	}
	if p.peek("where") {
		if !p.c.From {
			return nil, p.r.syntaxError(p.i)
		}
		return nil, p.r.unsupported("COPY FROM ... WHERE")
	}
	if err := p.end(); err != nil {
		return nil, err
	}
	return p.c, p.check()
}

// table reads the copied table and its column list.
func (p *copyParser) table() error {
	n, err := p.name()
	if err != nil {
		return err
	}
	p.c.Table = ObjectName{Name: n}
	if p.acceptOp(".") {
		if p.c.Table.Name, err = p.name(); err != nil {
			return err
		}
		p.c.Table.Schema = n
	}
	if !p.acceptOp("(") {
		return nil
	}
	if p.c.Columns, err = p.names(); err != nil {
		return err
	}
	if !p.acceptOp(")") {
		return p.r.syntaxError(p.i)
	}
	return nil
}

// query reads COPY (query)'s statement, up to its closing parenthesis.
func (p *copyParser) query() error {
	start, depth := p.i, 1
	for ; p.i < len(p.r.toks); p.i++ {
		switch {
		case p.r.toks[p.i].isOp("("):
			depth++
		case p.r.toks[p.i].isOp(")"):
			depth--
		}
		if depth == 0 {
			break
		}
	}
	if p.i >= len(p.r.toks) || p.i == start {
		return p.r.syntaxError(p.i)
	}
	end := p.i
	p.i++
	inner := p.r.toks[start:end]
	if !inner[0].is("select", "values", "with", "table", "insert", "update", "delete", "upsert") {
		return p.r.syntaxError(start)
	}
	st, err := normalize(p.r.src, inner)
	if err != nil {
		return err
	}
	st.Original = strings.TrimSpace(p.r.src[inner[0].pos:p.r.toks[end].pos])
	p.c.Query = &st
	return nil
}

// endpoint reads where the data comes from or goes: only the client (STDIN, STDOUT) is
// supported; a server-side file or program would run with the server's rights on whichever
// node the client happens to be connected to.
func (p *copyParser) endpoint() error {
	dir, fileHint := "TO", "Use COPY ... TO STDOUT (psql's \\copy), which sends the data to the client."
	if p.c.From {
		dir, fileHint = "FROM", "Use COPY ... FROM STDIN (psql's \\copy), which reads the data from the client."
	}
	switch {
	case p.accept("stdin", "stdout"):
		// PostgreSQL's grammar takes either word either way: both mean the client.
		return nil
	case p.peek("program"):
		return pgerror.New(pgerror.CodeFeatureNotSupported, "COPY %s PROGRAM is not supported", dir).WithHint(fileHint)
	case !p.atEnd() && p.r.toks[p.i].kind == tokString:
		return pgerror.New(pgerror.CodeFeatureNotSupported, "COPY %s a file is not supported", dir).WithHint(fileHint)
	}
	return p.r.syntaxError(p.i)
}

// errRedundant is PostgreSQL's error for an option given twice.
func errRedundant() error {
	return pgerror.New(pgerror.CodeSyntaxError, "conflicting or redundant options")
}

// stringOption reads an option's string value ([AS] 'x' in the old syntax).
func (p *copyParser) stringOption(dst **string) error {
	if *dst != nil {
		return errRedundant()
	}
	p.accept("as")
	if p.atEnd() || p.r.toks[p.i].kind != tokString {
		return p.r.syntaxError(p.i)
	}
	v := p.r.toks[p.i].text
	p.i++
	*dst = &v
	return nil
}

// oldOptions reads the options of the syntax before PostgreSQL 9.0, which psql and pgbench
// still send: WITH CSV HEADER, DELIMITER ',', NULL AS 'null', FORCE QUOTE *, ...
func (p *copyParser) oldOptions() error {
	for !p.atEnd() && !p.peek("where") {
		var err error
		switch {
		case p.accept("binary"):
			err = p.setFormat("binary")
		case p.accept("csv"):
			err = p.setFormat("csv")
		case p.accept("header"):
			if p.header != nil {
				return errRedundant()
			}
			p.header = &headerChoice{on: true}
		case p.accept("freeze"):
			if p.freeze != nil {
				return errRedundant()
			}
			yes := true
			p.freeze = &yes
		case p.accept("delimiter"):
			err = p.stringOption(&p.delimiter)
		case p.accept("null"):
			err = p.stringOption(&p.null)
		case p.accept("quote"):
			err = p.stringOption(&p.quote)
		case p.accept("escape"):
			err = p.stringOption(&p.escape)
		case p.accept("encoding"):
			err = p.stringOption(&p.encoding)
		case p.accept("force"):
			switch {
			case p.accept("quote"):
				if p.sawForceQuote {
					return errRedundant()
				}
				p.sawForceQuote = true
				if p.acceptOp("*") {
					p.forceQuoteAll = true
				} else {
					p.forceQuote, err = p.names()
				}
			case p.accept("not"):
				if err := p.expect("null"); err != nil {
					return err
				}
				if p.sawForceNotNull {
					return errRedundant()
				}
				p.sawForceNotNull = true
				p.forceNotNull, err = p.names()
			case p.accept("null"):
				if p.sawForceNull {
					return errRedundant()
				}
				p.sawForceNull = true
				p.forceNull, err = p.names()
			default:
				return p.r.syntaxError(p.i)
			}
		case p.accept("oids"):
			return pgerror.New(pgerror.CodeFeatureNotSupported, "COPY WITH OIDS is not supported")
		default:
			return p.r.syntaxError(p.i)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (p *copyParser) setFormat(f string) error {
	if p.format != nil {
		return errRedundant()
	}
	p.format = &f
	return nil
}

// optionValue is one value of the parenthesized option syntax.
type optionValue struct {
	given  bool     // a value followed the option's name
	text   string   // a word (folded), string or number
	isWord bool     // text came from a word, not a string or number
	star   bool     // *
	list   []string // (a, b, ...)
	isList bool
}

// genericOptions reads the parenthesized options of PostgreSQL 9.0 and later:
// (FORMAT csv, HEADER, DELIMITER ';', FORCE_QUOTE (a, b), ...).
func (p *copyParser) genericOptions() error {
	for {
		if p.atEnd() || p.r.toks[p.i].kind != tokIdent && p.r.toks[p.i].kind != tokQIdent {
			return p.r.syntaxError(p.i)
		}
		name := p.r.toks[p.i].text
		p.i++
		v, err := p.optionValue()
		if err != nil {
			return err
		}
		if err := p.genericOption(name, v); err != nil {
			return err
		}
		if p.acceptOp(")") {
			return nil
		}
		if !p.acceptOp(",") {
			return p.r.syntaxError(p.i)
		}
	}
}

func (p *copyParser) optionValue() (optionValue, error) {
	if p.atEnd() {
		return optionValue{}, p.r.syntaxError(p.i)
	}
	t := p.r.toks[p.i]
	switch {
	case t.isOp(",") || t.isOp(")"):
		return optionValue{}, nil
	case t.isOp("*"):
		p.i++
		return optionValue{given: true, star: true}, nil
	case t.isOp("("):
		p.i++
		names, err := p.names()
		if err != nil {
			return optionValue{}, err
		}
		if !p.acceptOp(")") {
			return optionValue{}, p.r.syntaxError(p.i)
		}
		return optionValue{given: true, list: names, isList: true}, nil
	case t.isOp("-") || t.isOp("+"):
		if p.i+1 < len(p.r.toks) && p.r.toks[p.i+1].kind == tokNumber {
			p.i += 2
			return optionValue{given: true, text: strings.TrimPrefix(t.text, "+") + p.r.toks[p.i-1].text}, nil
		}
	case t.kind == tokString || t.kind == tokNumber:
		p.i++
		return optionValue{given: true, text: t.text}, nil
	case t.kind == tokIdent || t.kind == tokQIdent:
		p.i++
		return optionValue{given: true, text: t.text, isWord: true}, nil
	}
	return optionValue{}, p.r.syntaxError(p.i)
}

// genericOption applies one option of the parenthesized syntax.
func (p *copyParser) genericOption(name string, v optionValue) error {
	str := func(dst **string) error {
		if *dst != nil {
			return errRedundant()
		}
		if !v.given || v.star || v.isList {
			return pgerror.New(pgerror.CodeSyntaxError, "%s requires a string value", name)
		}
		s := v.text
		*dst = &s
		return nil
	}
	columns := func(dst *[]string, seen *bool) error {
		if *seen {
			return errRedundant()
		}
		*seen = true
		if !v.isList {
			return pgerror.New(pgerror.CodeSyntaxError, "argument to option %q must be a list of column names", name)
		}
		*dst = v.list
		return nil
	}
	switch name {
	case "format":
		if p.format != nil {
			return errRedundant()
		}
		if err := str(&p.format); err != nil {
			return err
		}
		switch *p.format {
		case "text", "csv", "binary":
			return nil
		}
		return pgerror.New(pgerror.CodeInvalidParameterValue, "COPY format \"%s\" not recognized", *p.format)
	case "freeze":
		if p.freeze != nil {
			return errRedundant()
		}
		b, ok := booleanOption(v)
		if !ok {
			return pgerror.New(pgerror.CodeSyntaxError, "%s requires a Boolean value", name)
		}
		p.freeze = &b
		return nil
	case "header":
		if p.header != nil {
			return errRedundant()
		}
		if b, ok := booleanOption(v); ok {
			p.header = &headerChoice{on: b}
			return nil
		}
		if v.given && !v.isList && !v.star && strings.EqualFold(v.text, "match") {
			if !p.c.From {
				return pgerror.New(pgerror.CodeSyntaxError, "cannot use \"%s\" with HEADER in COPY TO", v.text)
			}
			p.header = &headerChoice{on: true, match: true}
			return nil
		}
		return pgerror.New(pgerror.CodeSyntaxError, "%s requires a Boolean value or \"match\"", name)
	case "delimiter":
		return str(&p.delimiter)
	case "null":
		return str(&p.null)
	case "default":
		return str(&p.def)
	case "quote":
		return str(&p.quote)
	case "escape":
		return str(&p.escape)
	case "encoding":
		return str(&p.encoding)
	case "force_quote":
		if v.star {
			if p.sawForceQuote {
				return errRedundant()
			}
			p.sawForceQuote, p.forceQuoteAll = true, true
			return nil
		}
		return columns(&p.forceQuote, &p.sawForceQuote)
	case "force_not_null":
		return columns(&p.forceNotNull, &p.sawForceNotNull)
	case "force_null":
		return columns(&p.forceNull, &p.sawForceNull)
	}
	return pgerror.New(pgerror.CodeSyntaxError, "option %q not recognized", name)
}

// booleanOption reads a Boolean option's value as PostgreSQL's defGetBoolean does: none is
// true; otherwise true/false/on/off, or 1/0.
func booleanOption(v optionValue) (bool, bool) {
	if !v.given {
		return true, true
	}
	if v.star || v.isList {
		return false, false
	}
	switch strings.ToLower(v.text) {
	case "true", "on", "1":
		return true, true
	case "false", "off", "0":
		return false, true
	}
	return false, false
}

// check validates the options together and fills in the defaults, with the errors of
// PostgreSQL's ProcessCopyOptions, in its order.
func (p *copyParser) check() error {
	o := &p.c.Options
	format := "text"
	if p.format != nil {
		format = *p.format
	}
	csv, binary := format == "csv", format == "binary"
	switch {
	case csv:
		o.Format = CopyCSV
	case binary:
		o.Format = CopyBinary
	}
	switch {
	case binary && p.delimiter != nil:
		return pgerror.New(pgerror.CodeSyntaxError, "cannot specify DELIMITER in BINARY mode")
	case binary && p.null != nil:
		return pgerror.New(pgerror.CodeSyntaxError, "cannot specify NULL in BINARY mode")
	case binary && p.def != nil:
		return pgerror.New(pgerror.CodeSyntaxError, "cannot specify DEFAULT in BINARY mode")
	}
	delim, null := "\t", `\N`
	if csv {
		delim, null = ",", ""
	}
	if p.delimiter != nil {
		delim = *p.delimiter
	}
	if p.null != nil {
		null = *p.null
	}
	quote, escape := "", ""
	if csv {
		quote = `"`
		if p.quote != nil {
			quote = *p.quote
		}
		escape = quote
		if p.escape != nil {
			escape = *p.escape
		}
	}
	if len(delim) != 1 {
		return pgerror.New(pgerror.CodeFeatureNotSupported, "COPY delimiter must be a single one-byte character")
	}
	if strings.ContainsAny(delim, "\r\n") {
		return pgerror.New(pgerror.CodeInvalidParameterValue, "COPY delimiter cannot be newline or carriage return")
	}
	if strings.ContainsAny(null, "\r\n") {
		return pgerror.New(pgerror.CodeInvalidParameterValue, "COPY null representation cannot use newline or carriage return")
	}
	if p.def != nil && strings.ContainsAny(*p.def, "\r\n") {
		return pgerror.New(pgerror.CodeInvalidParameterValue, "COPY default representation cannot use newline or carriage return")
	}
	// Backslash sequences and digits mean something in the text format's data.
	if !csv && strings.Contains(`\.abcdefghijklmnopqrstuvwxyz0123456789`, delim) {
		return pgerror.New(pgerror.CodeInvalidParameterValue, "COPY delimiter cannot be \"%s\"", delim)
	}
	if binary && p.header != nil && p.header.on {
		return pgerror.New(pgerror.CodeFeatureNotSupported, "cannot specify HEADER in BINARY mode")
	}
	switch {
	case !csv && p.quote != nil:
		return pgerror.New(pgerror.CodeFeatureNotSupported, "COPY quote available only in CSV mode")
	case csv && len(quote) != 1:
		return pgerror.New(pgerror.CodeFeatureNotSupported, "COPY quote must be a single one-byte character")
	case csv && delim == quote:
		return pgerror.New(pgerror.CodeInvalidParameterValue, "COPY delimiter and quote must be different")
	case !csv && p.escape != nil:
		return pgerror.New(pgerror.CodeFeatureNotSupported, "COPY escape available only in CSV mode")
	case csv && len(escape) != 1:
		return pgerror.New(pgerror.CodeFeatureNotSupported, "COPY escape must be a single one-byte character")
	case !csv && p.sawForceQuote:
		return pgerror.New(pgerror.CodeFeatureNotSupported, "COPY force quote available only in CSV mode")
	case p.sawForceQuote && p.c.From:
		return pgerror.New(pgerror.CodeFeatureNotSupported, "COPY force quote only available using COPY TO")
	case !csv && p.sawForceNotNull:
		return pgerror.New(pgerror.CodeFeatureNotSupported, "COPY force not null available only in CSV mode")
	case p.sawForceNotNull && !p.c.From:
		return pgerror.New(pgerror.CodeFeatureNotSupported, "COPY force not null only available using COPY FROM")
	case !csv && p.sawForceNull:
		return pgerror.New(pgerror.CodeFeatureNotSupported, "COPY force null available only in CSV mode")
	case p.sawForceNull && !p.c.From:
		return pgerror.New(pgerror.CodeFeatureNotSupported, "COPY force null only available using COPY FROM")
	case strings.Contains(null, delim):
		return pgerror.New(pgerror.CodeInvalidParameterValue, "COPY delimiter must not appear in the NULL specification")
	case csv && strings.Contains(null, quote):
		return pgerror.New(pgerror.CodeInvalidParameterValue, "CSV quote character must not appear in the NULL specification")
	}
	if p.def != nil {
		switch {
		case !p.c.From:
			return pgerror.New(pgerror.CodeFeatureNotSupported, "COPY DEFAULT only available using COPY FROM")
		case strings.Contains(*p.def, delim):
			return pgerror.New(pgerror.CodeInvalidParameterValue, "COPY delimiter must not appear in the DEFAULT specification")
		case csv && strings.Contains(*p.def, quote):
			return pgerror.New(pgerror.CodeInvalidParameterValue, "CSV quote character must not appear in the DEFAULT specification")
		case *p.def == null:
			return pgerror.New(pgerror.CodeInvalidParameterValue, "NULL specification and DEFAULT specification cannot be the same")
		}
	}
	o.Delimiter, o.Null, o.Default = delim[0], null, p.def
	if csv {
		o.Quote, o.Escape = quote[0], escape[0]
	}
	if p.header != nil {
		o.Header, o.HeaderMatch = p.header.on, p.header.match
	}
	o.ForceQuote, o.ForceQuoteAll = p.forceQuote, p.forceQuoteAll
	o.ForceNotNull, o.ForceNull = p.forceNotNull, p.forceNull
	if p.encoding != nil {
		o.Encoding = *p.encoding
	}
	return nil
}
