package pgdialect

import (
	"strings"
)

// DDL carries what tidb's grammar cannot say about a DDL statement.
type DDL struct {
	// Cascade: DROP ... CASCADE (tidb drops the word, or refuses it).
	Cascade bool
	// Schema: CREATE SCHEMA or DROP SCHEMA, which tidb reads as CREATE/DROP DATABASE.
	Schema bool
	// DropConstraintIfExists names the constraints an ALTER TABLE drops with IF EXISTS
	// (tidb knows DROP CONSTRAINT name only).
	DropConstraintIfExists []string
	// SequenceType is the type of CREATE SEQUENCE ... AS type ("" when not given).
	SequenceType string
}

func (r *rewriter) ddl() *DDL {
	if r.st.DDL == nil {
		r.st.DDL = &DDL{}
	}
	return r.st.DDL
}

// Markers the engine recognizes in the places where the rewrites below put them.
const (
	// SetNotNullMarker and DropNotNullMarker stand for ALTER COLUMN c SET/DROP NOT NULL as
	// ALTER COLUMN c SET DEFAULT (marker()).
	SetNotNullMarker  = "meridian_set_not_null"
	DropNotNullMarker = "meridian_drop_not_null"
	// IdentityMarker stands for GENERATED {ALWAYS | BY DEFAULT} AS IDENTITY [(options)] as
	// DEFAULT meridian_identity('always' | 'by default', 'options').
	IdentityMarker = "meridian_identity"
)

// sequenceFunctions are PostgreSQL's sequence functions. tidb has functions of these names
// that take a bare sequence name; PostgreSQL's take text (a regclass), so they are renamed
// to meridian_<name>.
var sequenceFunctions = wordSet(`nextval currval setval lastval`)

// sequenceOptionWords are the words of CREATE SEQUENCE's options.
var sequenceOptionWords = []string{"increment", "by", "start", "with", "minvalue", "maxvalue", "no", "cache", "cycle"}

// SequenceFunctionPrefix starts the engine's names of the sequence functions.
const SequenceFunctionPrefix = "meridian_"

// schemaForms marks CREATE/DROP SCHEMA and takes CASCADE out of DROP statements.
func (r *rewriter) schemaForms() error {
	first := r.toks[0]
	if !first.is("create", "drop") {
		return nil
	}
	if len(r.toks) > 1 && r.toks[1].is("schema") {
		r.ddl().Schema = true
		if first.is("create") {
			for _, t := range r.toks[2:] {
				if t.is("authorization") {
					return r.unsupported("CREATE SCHEMA ... AUTHORIZATION")
				}
			}
			if len(r.toks) > 3 && !(r.toks[2].is("if") && len(r.toks) == 6) {
				// CREATE SCHEMA s CREATE TABLE ...: schema elements.
				return r.unsupported("CREATE SCHEMA with schema elements")
			}
		}
	}
	if first.is("drop") {
		last := r.toks[len(r.toks)-1]
		switch {
		case last.is("cascade"):
			r.ddl().Cascade = true
			r.toks = r.toks[:len(r.toks)-1]
		case last.is("restrict"):
			r.toks = r.toks[:len(r.toks)-1]
		}
	}
	return nil
}

// sequenceForms renames the sequence functions and takes AS type out of CREATE SEQUENCE.
func (r *rewriter) sequenceForms() error {
	for i := 0; i < len(r.toks); i++ {
		t := r.toks[i]
		if t.kind != tokIdent || !sequenceFunctions[t.text] || t.gen || i+1 >= len(r.toks) || !r.toks[i+1].isOp("(") {
			continue
		}
		switch {
		case i >= 2 && r.toks[i-1].isOp(".") && r.toks[i-2].is("pg_catalog"):
			r.replace(i-2, i+1, ident(SequenceFunctionPrefix+t.text))
			i -= 2
		case i == 0 || !r.toks[i-1].isOp("."):
			r.toks[i] = ident(SequenceFunctionPrefix + t.text)
		}
	}
	if len(r.toks) > 3 && r.toks[0].is("create") && r.toks[1].is("sequence") {
		// The options are syntax, though tidb reserves some of their words.
		for i := 3; i < len(r.toks); i++ {
			if r.toks[i].is(sequenceOptionWords...) {
				r.toks[i].gen = true
			}
		}
		for i := 2; i+1 < len(r.toks); i++ {
			if !r.toks[i].is("as") {
				continue
			}
			typ, end, err := r.typeName(i + 1)
			if err != nil {
				return err
			}
			r.ddl().SequenceType = typ
			r.replace(i, end)
			break
		}
		for i := 2; i < len(r.toks); i++ {
			if r.toks[i].is("owned") {
				return r.unsupported("CREATE SEQUENCE ... OWNED BY")
			}
		}
	}
	return nil
}

// identityColumn rewrites GENERATED {ALWAYS | BY DEFAULT} AS IDENTITY [(options)] in the
// column options toks[start:end] as DEFAULT meridian_identity(kind, options), and returns
// the new end.
func (r *rewriter) identityColumn(start, end int) (int, error) {
	for k := start; k+3 < end; k++ {
		if !r.toks[k].is("generated") {
			continue
		}
		kind, j := "", k+1
		switch {
		case r.toks[j].is("always"):
			kind, j = "always", j+1
		case r.toks[j].is("by") && r.toks[j+1].is("default"):
			kind, j = "by default", j+2
		default:
			return end, nil
		}
		if j+1 >= end || !r.toks[j].is("as") || !r.toks[j+1].is("identity") {
			if j < end && r.toks[j].is("as") {
				return end, r.unsupported("generated columns")
			}
			return end, r.syntaxError(j)
		}
		j += 2
		var opts []string
		if j < end && r.toks[j].isOp("(") {
			m := r.matchParen(j)
			if m < 0 || m >= end {
				return end, r.syntaxError(j)
			}
			for _, t := range r.toks[j+1 : m] {
				if t.kind != tokIdent && t.kind != tokNumber && !t.isOp("-") {
					return end, r.syntaxError(j + 1)
				}
				opts = append(opts, t.text)
			}
			j = m + 1
		}
		repl := []token{ident("default"), ident(IdentityMarker), op("("), str(kind), op(","), str(strings.Join(opts, " ")), op(")")}
		r.replace(k, j, repl...)
		return end - (j - k) + len(repl), nil
	}
	return end, nil
}

// alterTableActions rewrites the ALTER TABLE actions tidb does not know, toks[start:end]
// being one action: SET/DROP NOT NULL, SET DEFAULT with any expression (tidb wants one in
// parentheses), and DROP CONSTRAINT [IF EXISTS] name [CASCADE | RESTRICT].
func (r *rewriter) alterTableAction(start, end int) {
	t := r.toks
	switch {
	case t[start].is("alter"):
		k := start + 1
		if k < end && t[k].is("column") {
			k++
		}
		k++ // the column name
		if k+1 >= end {
			return
		}
		switch {
		case t[k].is("set") && t[k+1].is("not") && k+2 < end && t[k+2].is("null") && k+3 == end:
			r.replace(k, end, ident("set"), ident("default"), op("("), ident(SetNotNullMarker), op("("), op(")"), op(")"))
		case t[k].is("drop") && t[k+1].is("not") && k+2 < end && t[k+2].is("null") && k+3 == end:
			r.replace(k, end, ident("set"), ident("default"), op("("), ident(DropNotNullMarker), op("("), op(")"), op(")"))
		case t[k].is("set") && t[k+1].is("default") && k+2 < end:
			repl := append([]token{op("(")}, t[k+2:end]...)
			repl = append(repl, op(")"))
			r.replace(k+2, end, repl...)
		}
	case t[start].is("drop") && start+1 < end && t[start+1].is("constraint"):
		k := start + 2
		if k+2 < end && t[k].is("if") && t[k+1].is("exists") {
			r.ddl().DropConstraintIfExists = append(r.ddl().DropConstraintIfExists, t[k+2].text)
			r.replace(k, k+2)
			end -= 2
		}
		if k+1 < end && r.toks[k+1].is("cascade", "restrict") {
			r.replace(k+1, k+2)
		}
	}
}
