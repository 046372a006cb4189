package pgdialect

// Truncate is TRUNCATE [TABLE] [ONLY] name [*] [, ...] [RESTART IDENTITY | CONTINUE
// IDENTITY] [CASCADE | RESTRICT]: it empties the tables named.
type Truncate struct {
	// Tables are the tables named, each as [schema, name] or [name], in the order given.
	Tables [][]string
	// RestartIdentity asks for the sequences of the tables' SERIAL and identity columns to
	// start over.
	RestartIdentity bool
	// Cascade also empties the tables whose foreign keys reference the tables named.
	Cascade bool
}

func (r *rewriter) isTruncate() bool { return r.toks[0].is("truncate") }

func (r *rewriter) truncate() (Statement, error) {
	tr := &Truncate{}
	i := 1
	if i < len(r.toks) && r.toks[i].is("table") {
		i++
	}
	for {
		if i < len(r.toks) && r.toks[i].is("only") {
			i++ // Meridian has no table inheritance: ONLY changes nothing
		}
		if i >= len(r.toks) || !isName(r.toks[i]) {
			return Statement{}, r.syntaxError(i)
		}
		name := []string{r.toks[i].text}
		i++
		if i+1 < len(r.toks) && r.toks[i].isOp(".") && isName(r.toks[i+1]) {
			name = append(name, r.toks[i+1].text)
			i += 2
			if i+1 < len(r.toks) && r.toks[i].isOp(".") && isName(r.toks[i+1]) {
				return Statement{}, r.unsupported("cross-database references")
			}
		}
		if i < len(r.toks) && r.toks[i].isOp("*") {
			i++
		}
		tr.Tables = append(tr.Tables, name)
		if i < len(r.toks) && r.toks[i].isOp(",") {
			i++
			continue
		}
		break
	}
	if i+1 < len(r.toks) && r.toks[i].is("restart", "continue") && r.toks[i+1].is("identity") {
		tr.RestartIdentity = r.toks[i].is("restart")
		i += 2
	}
	if i < len(r.toks) && r.toks[i].is("cascade", "restrict") {
		tr.Cascade = r.toks[i].is("cascade")
		i++
	}
	if i < len(r.toks) {
		return Statement{}, r.syntaxError(i)
	}
	return Statement{Original: r.src, Truncate: tr}, nil
}
