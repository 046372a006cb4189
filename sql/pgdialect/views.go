package pgdialect

// View carries what the engine needs of CREATE VIEW and ALTER VIEW beyond tidb's AST.
type View struct {
	// Alter marks ALTER VIEW, which is normalized as ALTER TABLE (tidb has no ALTER VIEW):
	// the engine refuses it on a relation that is not a view.
	Alter bool
	// Definition is CREATE VIEW's query as the client wrote it (after AS), shown by
	// pg_views and pg_get_viewdef.
	Definition string
	// definitionStart is Definition's offset in the text, until Split knows where the
	// statement ends.
	definitionStart int
}

// viewForms recognizes CREATE [OR REPLACE] VIEW and ALTER VIEW, refusing the kinds of view
// Meridian does not have (temporary, recursive, materialized) with 0A000 rather than the
// syntax error tidb would give.
func (r *rewriter) viewForms() error {
	if len(r.toks) < 3 || !r.toks[0].is("create", "alter") {
		return nil
	}
	i := 1
	if r.toks[0].is("create") && r.toks[i].is("or") && i+1 < len(r.toks) && r.toks[i+1].is("replace") {
		i += 2
	}
	for ; i < len(r.toks) && r.toks[i].is("temp", "temporary", "recursive", "materialized"); i++ {
		if i+1 < len(r.toks) && r.toks[i+1].is("view") {
			word := r.toks[i].text
			if word == "temp" {
				word = "temporary"
			}
			return r.unsupported(word + " views")
		}
	}
	if i >= len(r.toks) || !r.toks[i].is("view") {
		return nil
	}
	if r.toks[0].is("alter") {
		r.st.View = &View{Alter: true}
		r.toks[i] = ident("table")
		return nil
	}
	for k := i + 1; k < len(r.toks); k++ {
		if r.toks[k].is("as") && r.depthAt(k) == 0 {
			if k+1 >= len(r.toks) {
				return r.syntaxError(k + 1)
			}
			r.st.View = &View{definitionStart: r.toks[k+1].pos}
			return nil
		}
	}
	return r.syntaxError(len(r.toks))
}
