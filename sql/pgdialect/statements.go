package pgdialect

import (
	"strings"
)

// statementKinds are the statements passed on to the rewrites; unsupportedKinds are
// PostgreSQL statements Meridian recognizes but does not run. Anything else is not
// PostgreSQL, though tidb might accept it (REPLACE, USE, LOAD DATA, ...).
var (
	statementKinds = wordSet(`select with values table insert update delete upsert create drop alter
begin start commit end rollback abort savepoint release set show reset truncate`)
	unsupportedKinds = wordSet(`listen notify unlisten discard lock comment do call checkpoint cluster reindex
refresh security import reassign load merge`)
)

// statementForms normalizes whole-statement syntax: transaction control, savepoints, SET and
// SHOW, UPSERT, and DROP options.
func (r *rewriter) statementForms() error {
	first := r.toks[0]
	switch {
	case first.isOp("("):
		return nil
	case first.kind == tokIdent && unsupportedKinds[first.text]:
		return r.unsupported(strings.ToUpper(first.text))
	case first.kind != tokIdent || !statementKinds[first.text]:
		return r.syntaxError(0)
	case first.is("begin", "start"):
		return r.beginForm()
	case first.is("commit", "end"):
		if len(r.toks) > 1 && !r.toks[1].is("work", "transaction") || len(r.toks) > 2 {
			if len(r.toks) > 2 && r.toks[len(r.toks)-1].is("chain") {
				return r.unsupported("COMMIT AND CHAIN")
			}
			return r.syntaxError(min(len(r.toks)-1, 2))
		}
		r.toks = []token{ident("commit")}
	case first.is("rollback", "abort"):
		k := 1
		if k < len(r.toks) && r.toks[k].is("work", "transaction") {
			k++
		}
		if k < len(r.toks) && r.toks[k].is("to") && first.is("rollback") {
			// ROLLBACK TO [SAVEPOINT] name: tidb needs the SAVEPOINT word.
			k++
			if k < len(r.toks) && r.toks[k].is("savepoint") {
				k++
			}
			if k+1 != len(r.toks) || !isName(r.toks[k]) {
				return r.syntaxError(k)
			}
			r.toks = []token{ident("rollback"), ident("to"), ident("savepoint"), r.toks[k]}
			return nil
		}
		if k < len(r.toks) {
			return r.syntaxError(k)
		}
		r.toks = []token{ident("rollback")}
	case first.is("release"):
		k := 1
		if k < len(r.toks) && r.toks[k].is("savepoint") {
			k++
		}
		if k+1 != len(r.toks) || !isName(r.toks[k]) {
			return r.syntaxError(k)
		}
		r.toks = []token{ident("release"), ident("savepoint"), r.toks[k]}
	case first.is("set"):
		return r.setForm()
	case first.is("show"):
		return r.showForm()
	case first.is("reset"):
		return r.resetForm()
	case first.is("upsert"):
		r.toks[0] = ident("replace")
	case first.is("drop"):
		for i, t := range r.toks {
			if t.is("cascade") {
				return notSupported("DROP ... CASCADE is not supported")
			}
			if t.is("restrict") && i == len(r.toks)-1 {
				r.toks = r.toks[:i]
			}
		}
	}
	return nil
}

// setForm turns SET [SESSION] name {=|TO} value[, ...] into SET name = 'value': tidb reads
// only expressions after "=", and PostgreSQL's values are words, numbers and lists.
func (r *rewriter) setForm() error {
	i := 1
	// SET CLUSTER SETTING name = value is tidb's SET GLOBAL.
	global := len(r.toks) > 3 && r.toks[1].is("cluster") && r.toks[2].is("setting")
	if global {
		i = 3
	}
	if !global && i < len(r.toks) && r.toks[i].is("local") {
		// SET LOCAL: the statement says so (tidb reads LOCAL as SESSION).
		r.st.SetLocal = true
		i++
	} else if i < len(r.toks) && r.toks[i].is("session") {
		i++
		if i+2 < len(r.toks) && !global && r.toks[i].is("characteristics") && r.toks[i+1].is("as") && r.toks[i+2].is("transaction") {
			return r.sessionCharacteristics(i + 3)
		}
		if i < len(r.toks) && r.toks[i].is("characteristics") {
			return r.unsupported("SET SESSION " + strings.ToUpper(r.toks[i].text))
		}
	}
	if i >= len(r.toks) {
		return r.syntaxError(i)
	}
	head := []token{ident("set")}
	if global {
		head = append(head, ident("global"))
	}
	var name string
	switch t := r.toks[i]; {
	case t.is("authorization") && !global && i > 0 && r.toks[i-1].is("session"):
		// SET SESSION AUTHORIZATION user | DEFAULT, with no = or TO.
		name, i = "session_authorization", i+1
	case t.is("time") && i+1 < len(r.toks) && r.toks[i+1].is("zone"):
		name, i = "timezone", i+2
		switch {
		case len(r.toks) == i+1 && r.toks[i].is("local"):
			// SET TIME ZONE LOCAL is SET TIME ZONE DEFAULT.
			r.toks = append(head, varName(name), op("="), ident("default"))
			return nil
		case i+1 < len(r.toks) && r.toks[i].is("interval") && r.toks[i+1].kind == tokString:
			// SET TIME ZONE INTERVAL '-08:00' [HOUR TO MINUTE]: an offset east of UTC,
			// passed on as PostgreSQL spells it for the setting.
			for k := i + 2; k < len(r.toks); k++ {
				if !r.toks[k].is("year", "month", "day", "hour", "minute", "second", "to") {
					return r.syntaxError(k)
				}
			}
			val := "INTERVAL '" + strings.ReplaceAll(r.toks[i+1].text, "'", "''") + "'"
			r.toks = append(head, varName(name), op("="), str(val))
			return nil
		}
	case t.is("names"):
		name, i = "client_encoding", i+1
	case t.is("schema"):
		name, i = "search_path", i+1
	case t.is("role", "constraints"):
		return r.unsupported("SET " + strings.ToUpper(t.text))
	case t.is("transaction") && !global:
		return r.setTransaction(i + 1)
	case isName(t):
		name = t.text
		i++
		for i+1 < len(r.toks) && r.toks[i].isOp(".") && isName(r.toks[i+1]) {
			name += "." + r.toks[i+1].text
			i += 2
		}
		if i >= len(r.toks) || !(r.toks[i].isOp("=") || r.toks[i].is("to")) {
			return r.syntaxError(i)
		}
		i++
	default:
		return r.syntaxError(i)
	}
	if i >= len(r.toks) {
		return r.syntaxError(i)
	}
	if len(r.toks) == i+1 && r.toks[i].is("default") {
		r.toks = append(head, varName(name), op("="), ident("default"))
		return nil
	}
	// The value: comma-separated items of one word, string or signed number each.
	var items []string
	var item strings.Builder
	for k := i; k < len(r.toks); k++ {
		t := r.toks[k]
		switch {
		case t.isOp(","):
			if item.Len() == 0 || k+1 == len(r.toks) {
				return r.syntaxError(k)
			}
			items = append(items, item.String())
			item.Reset()
		case (t.isOp("-") || t.isOp("+")) && item.Len() == 0 && k+1 < len(r.toks) && r.toks[k+1].kind == tokNumber:
			if t.text == "-" {
				item.WriteByte('-')
			}
		case item.Len() == 0 || item.String() == "-":
			if t.kind != tokIdent && t.kind != tokQIdent && t.kind != tokString && t.kind != tokNumber {
				return r.syntaxError(k)
			}
			if t.kind == tokQIdent {
				// A list setting keeps the quotes, as PostgreSQL shows search_path.
				item.WriteString(quoteIdent(t.text))
			} else {
				item.WriteString(t.text)
			}
		default:
			return r.syntaxError(k)
		}
	}
	items = append(items, item.String())
	r.toks = append(head, varName(name), op("="), str(strings.Join(items, ", ")))
	return nil
}

// resetForm turns RESET name into SET name = DEFAULT. RESET ALL is marked on the statement,
// whose SQL is then a placeholder SET.
func (r *rewriter) resetForm() error {
	r.st.Reset = true
	switch {
	case len(r.toks) == 2 && r.toks[1].is("all"):
		r.st.ResetAll = true
		r.toks = []token{ident("set"), varName("meridian.reset_all"), op("="), ident("default")}
		return nil
	case len(r.toks) == 3 && r.toks[1].is("time") && r.toks[2].is("zone"):
		r.toks = []token{ident("set"), varName("timezone"), op("="), ident("default")}
		return nil
	case len(r.toks) == 3 && r.toks[1].is("session") && r.toks[2].is("authorization"):
		r.toks = []token{ident("set"), varName("session_authorization"), op("="), ident("default")}
		return nil
	}
	name, k := "", 1
	if k < len(r.toks) && isName(r.toks[k]) {
		name = r.toks[k].text
		k++
		for k+1 < len(r.toks) && r.toks[k].isOp(".") && isName(r.toks[k+1]) {
			name += "." + r.toks[k+1].text
			k += 2
		}
	}
	if name == "" || k != len(r.toks) {
		return r.syntaxError(min(k, len(r.toks)-1))
	}
	r.toks = []token{ident("set"), varName(name), op("="), ident("default")}
	return nil
}

// varName is a setting's name as tidb's SET reads it; dotted names (extension settings) are
// one quoted name.
func varName(name string) token {
	if strings.Contains(name, ".") {
		return token{kind: tokQIdent, text: name, gen: true}
	}
	return ident(name)
}

// showForm maps SHOW name onto tidb's SHOW VARIABLES LIKE 'name'.
func (r *rewriter) showForm() error {
	if len(r.toks) < 2 {
		return r.syntaxError(1)
	}
	second := r.toks[1]
	switch {
	case second.is("cluster") && len(r.toks) >= 4 && r.toks[2].is("setting"):
		// SHOW CLUSTER SETTING name is tidb's SHOW GLOBAL VARIABLES LIKE 'name'.
		name := r.toks[3].text
		k := 4
		for k+1 < len(r.toks) && r.toks[k].isOp(".") && isName(r.toks[k+1]) {
			name += "." + r.toks[k+1].text
			k += 2
		}
		if k != len(r.toks) {
			return r.syntaxError(k)
		}
		r.toks = []token{ident("show"), ident("global"), ident("variables"), ident("like"), str(name)}
		return nil
	case second.is("ranges") && len(r.toks) >= 5 && r.toks[2].is("from") && r.toks[3].is("table"):
		// SHOW RANGES FROM TABLE t is tidb's SHOW TABLE t REGIONS.
		out := []token{ident("show"), ident("table")}
		out = append(out, r.toks[4:]...)
		r.toks = append(out, ident("regions"))
		return nil
	case second.is("tables", "databases", "columns", "create", "index", "indexes", "keys", "schemas"):
		if second.is("schemas") {
			r.toks[1] = ident("databases")
		}
		r.toks[1].gen = true // tidb syntax here, never a name to quote
		return nil
	case second.is("all") && len(r.toks) == 2:
		r.toks = []token{ident("show"), ident("variables")}
		return nil
	case second.is("transaction") && len(r.toks) == 4 && r.toks[2].is("isolation") && r.toks[3].is("level"):
		r.toks = []token{ident("show"), ident("variables"), ident("like"), str("transaction_isolation")}
		return nil
	case second.is("transaction") && len(r.toks) == 3 && r.toks[2].is("priority"):
		// CockroachDB's SHOW TRANSACTION PRIORITY.
		r.toks = []token{ident("show"), ident("variables"), ident("like"), str("transaction_priority")}
		return nil
	case second.is("time") && len(r.toks) == 3 && r.toks[2].is("zone"):
		r.toks = []token{ident("show"), ident("variables"), ident("like"), str("timezone")}
		return nil
	case isName(second):
		name := second.text
		k := 2
		for k+1 < len(r.toks) && r.toks[k].isOp(".") && isName(r.toks[k+1]) {
			name += "." + r.toks[k+1].text
			k += 2
		}
		if k != len(r.toks) {
			return r.syntaxError(k)
		}
		r.toks = []token{ident("show"), ident("variables"), ident("like"), str(name)}
		return nil
	}
	return r.syntaxError(2)
}
