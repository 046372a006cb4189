package pgdialect

import (
	"github.com/meridiandb/meridian/sql/pgerror"
)

// txnModes are the modes of BEGIN/START TRANSACTION, SET TRANSACTION and SET SESSION
// CHARACTERISTICS AS TRANSACTION.
type txnModes struct {
	isolation string // "serializable", "repeatable read", ...; "" if not given
	readOnly  bool
	readWrite bool
	priority  string  // "low", "normal", "high"; "" if not given
	asOf      []token // the AS OF SYSTEM TIME expression, nil if not given
	any       bool    // some mode was given
}

// isTxnModeStart reports whether toks[i] starts a transaction mode, which also ends an AS OF
// SYSTEM TIME expression written without a comma after it.
func (r *rewriter) isTxnModeStart(i int) bool {
	t := r.toks[i]
	next := func(words ...string) bool { return i+1 < len(r.toks) && r.toks[i+1].is(words...) }
	switch {
	case t.is("isolation"):
		return next("level")
	case t.is("read"):
		return next("write", "only")
	case t.is("not"):
		return next("deferrable")
	case t.is("as"):
		return next("of")
	}
	return t.is("priority", "deferrable")
}

// parseTxnModes reads transaction modes from toks[i:] to the end of the statement: PostgreSQL's
// ISOLATION LEVEL, READ WRITE/ONLY and [NOT] DEFERRABLE, and CockroachDB's PRIORITY and (with
// asOf) AS OF SYSTEM TIME, separated by optional commas.
func (r *rewriter) parseTxnModes(i int, asOf bool) (txnModes, error) {
	var m txnModes
	for i < len(r.toks) {
		t := r.toks[i]
		switch {
		case t.isOp(",") && m.any && i+1 < len(r.toks):
			i++
			continue
		case t.is("isolation") && i+2 < len(r.toks) && r.toks[i+1].is("level"):
			l := r.toks[i+2]
			switch {
			case l.is("serializable"):
				m.isolation, i = "serializable", i+3
			case i+3 < len(r.toks) && l.is("repeatable") && r.toks[i+3].is("read"):
				m.isolation, i = "repeatable read", i+4
			case i+3 < len(r.toks) && l.is("read") && r.toks[i+3].is("committed", "uncommitted"):
				m.isolation, i = "read "+r.toks[i+3].text, i+4
			default:
				return m, r.syntaxError(i + 2)
			}
		case t.is("read") && i+1 < len(r.toks) && r.toks[i+1].is("write", "only"):
			m.readOnly = r.toks[i+1].is("only")
			m.readWrite = !m.readOnly
			i += 2
		case t.is("deferrable"):
			i++
		case t.is("not") && i+1 < len(r.toks) && r.toks[i+1].is("deferrable"):
			i += 2
		case t.is("priority"):
			if i+1 >= len(r.toks) || !r.toks[i+1].is("low", "normal", "high") {
				return m, r.syntaxError(i + 1)
			}
			m.priority = r.toks[i+1].text
			i += 2
		case asOf && t.is("as") && i+3 < len(r.toks) && r.toks[i+1].is("of") && r.toks[i+2].is("system") && r.toks[i+3].is("time"):
			i += 4
			start, depth := i, 0
			for ; i < len(r.toks); i++ {
				tk := r.toks[i]
				if tk.isOp("(") {
					depth++
				} else if tk.isOp(")") {
					depth--
				} else if depth == 0 && (tk.isOp(",") || r.isTxnModeStart(i)) {
					break
				}
			}
			if i == start {
				return m, r.syntaxError(i)
			}
			m.asOf = r.toks[start:i]
		default:
			return m, r.syntaxError(i)
		}
		m.any = true
	}
	return m, nil
}

// asOfTokens is tidb's spelling of AS OF SYSTEM TIME.
func asOfTokens() []token { return []token{ident("as"), ident("of"), ident("timestamp")} }

// errAsOfReadWrite refuses AS OF SYSTEM TIME together with READ WRITE.
func errAsOfReadWrite() error {
	return pgerror.New(pgerror.CodeReadOnlySQLTransaction, "AS OF SYSTEM TIME specified with READ WRITE mode")
}

// beginForm maps BEGIN/START TRANSACTION with its modes onto tidb's forms: BEGIN, START
// TRANSACTION READ ONLY, or START TRANSACTION READ ONLY AS OF TIMESTAMP expr for CockroachDB's
// AS OF SYSTEM TIME. Every isolation level runs as SERIALIZABLE, the only level Meridian
// offers (PostgreSQL too may run a transaction at a stricter level than requested). The
// priority and an explicit READ WRITE travel in Statement.TxnModes.
func (r *rewriter) beginForm() error {
	i := 1
	if r.toks[0].is("start") {
		if len(r.toks) < 2 || !r.toks[1].is("transaction") {
			return r.syntaxError(1)
		}
		i = 2
	} else if i < len(r.toks) && r.toks[i].is("work", "transaction") {
		i++
	}
	m, err := r.parseTxnModes(i, true)
	if err != nil {
		return err
	}
	r.st.TxnModes = &TxnModes{Priority: m.priority, ReadWrite: m.readWrite}
	switch {
	case m.asOf != nil:
		if m.readWrite {
			return errAsOfReadWrite()
		}
		out := []token{ident("start"), ident("transaction"), ident("read"), ident("only")}
		out = append(out, asOfTokens()...)
		r.toks = append(out, m.asOf...)
	case m.readOnly:
		r.toks = []token{ident("start"), ident("transaction"), ident("read"), ident("only")}
	default:
		r.toks = []token{ident("begin")}
	}
	return nil
}

// setTransaction normalizes SET TRANSACTION modes (from toks[i]) into assignments of the
// transaction's settings (transaction_isolation, transaction_read_only,
// transaction_priority), or, with AS OF SYSTEM TIME, into tidb's SET TRANSACTION READ ONLY AS
// OF TIMESTAMP expr marked by Statement.TxnModes.
func (r *rewriter) setTransaction(i int) error {
	if i < len(r.toks) && r.toks[i].is("snapshot") {
		return r.unsupported("SET TRANSACTION SNAPSHOT")
	}
	m, err := r.parseTxnModes(i, true)
	if err != nil {
		return err
	}
	if !m.any {
		return r.syntaxError(i)
	}
	if m.asOf != nil {
		if m.readWrite {
			return errAsOfReadWrite()
		}
		r.st.TxnModes = &TxnModes{Priority: m.priority, AsOf: true}
		out := []token{ident("set"), ident("transaction"), ident("read"), ident("only")}
		out = append(out, asOfTokens()...)
		r.toks = append(out, m.asOf...)
		return nil
	}
	r.toks = modeAssignments(m, "transaction_")
	return nil
}

// sessionCharacteristics normalizes SET SESSION CHARACTERISTICS AS TRANSACTION modes (from
// toks[i]) into assignments of the default_transaction_ settings.
func (r *rewriter) sessionCharacteristics(i int) error {
	m, err := r.parseTxnModes(i, false)
	if err != nil {
		return err
	}
	if !m.any {
		return r.syntaxError(i)
	}
	r.toks = modeAssignments(m, "default_transaction_")
	return nil
}

// modeAssignments is SET prefix+isolation = ..., prefix+read_only = ..., prefix+priority = ...
// for the modes given. [NOT] DEFERRABLE changes nothing (it matters only to SERIALIZABLE READ
// ONLY transactions in PostgreSQL, which never wait here either); alone, it is spelled as a
// no-op assignment of the isolation level.
func modeAssignments(m txnModes, prefix string) []token {
	out := []token{ident("set")}
	add := func(name, val string) {
		if len(out) > 1 {
			out = append(out, op(","))
		}
		out = append(out, ident(prefix+name), op("="), str(val))
	}
	if m.isolation != "" {
		add("isolation", m.isolation)
	}
	if m.readOnly || m.readWrite {
		add("read_only", map[bool]string{true: "on", false: "off"}[m.readOnly])
	}
	if m.priority != "" {
		add("priority", m.priority)
	}
	if len(out) == 1 {
		add("isolation", "serializable")
	}
	return out
}

// asOfSystemTime rewrites CockroachDB's AS OF SYSTEM TIME expr after a SELECT's FROM list
// as tidb's AS OF TIMESTAMP expr, which tidb reads after a table name and its alias. It runs
// before the literal rewrites so that the words stay syntax (TIME 'x' would otherwise be read
// as a typed literal), while the expression after them is rewritten as any other.
func (r *rewriter) asOfSystemTime() error {
	for i := 0; i+3 < len(r.toks); i++ {
		if r.toks[i].is("as") && !r.toks[i].gen && r.toks[i+1].is("of") && r.toks[i+2].is("system") && r.toks[i+3].is("time") {
			if i+4 == len(r.toks) {
				return r.syntaxError(i + 4)
			}
			r.replace(i, i+4, asOfTokens()...)
		}
	}
	return nil
}

// lockingClauses normalizes a query's locking clause, FOR {UPDATE | NO KEY UPDATE | SHARE |
// KEY SHARE} [OF table, ...] [NOWAIT | SKIP LOCKED]: the strengths map onto tidb's FOR UPDATE
// and FOR SHARE (Meridian's locks have two strengths), and the clause moves to the end of its
// query level, after LIMIT and OFFSET, where tidb reads it (PostgreSQL takes either order).
func (r *rewriter) lockingClauses() error {
	if len(r.toks) == 0 || r.toks[0].is("insert", "update", "delete", "replace", "create", "alter", "drop") {
		return nil
	}
	for i := 0; i+1 < len(r.toks); i++ {
		clause, end, err := r.lockingClause(i)
		if err != nil {
			return err
		}
		if clause == nil {
			continue
		}
		if end < len(r.toks) {
			if c, _, err := r.lockingClause(end); err != nil || c != nil {
				if err != nil {
					return err
				}
				return r.unsupported("more than one locking clause")
			}
			if !r.toks[end].isOp(")") && !r.toks[end].is("limit", "offset") {
				return r.syntaxError(end)
			}
		}
		// The query level ends at the parenthesis closing the innermost one around i.
		levelEnd := len(r.toks)
		for depth, k := 0, i-1; k >= 0; k-- {
			if r.toks[k].isOp(")") {
				depth++
			} else if r.toks[k].isOp("(") {
				if depth == 0 {
					if m := r.matchParen(k); m >= 0 {
						levelEnd = m
					}
					break
				}
				depth--
			}
		}
		r.replace(i, end)
		at := levelEnd - (end - i)
		r.replace(at, at, clause...)
		i = at + len(clause) - 1
	}
	return nil
}

// lockingClause reads a locking clause at toks[i]: it returns the clause in tidb's words and
// the index after it, or nil if toks[i] does not start one.
func (r *rewriter) lockingClause(i int) ([]token, int, error) {
	if i+1 >= len(r.toks) || !r.toks[i].is("for") || r.toks[i].gen {
		return nil, 0, nil
	}
	j := i + 1
	var strength string
	switch t := r.toks[j]; {
	case t.is("update"):
		strength, j = "update", j+1
	case t.is("share"):
		strength, j = "share", j+1
	case t.is("no") && j+2 < len(r.toks) && r.toks[j+1].is("key") && r.toks[j+2].is("update"):
		strength, j = "update", j+3
	case t.is("key") && j+1 < len(r.toks) && r.toks[j+1].is("share"):
		strength, j = "share", j+2
	default:
		return nil, 0, nil
	}
	out := []token{ident("for"), ident(strength)}
	if j < len(r.toks) && r.toks[j].is("of") {
		out = append(out, ident("of"))
		j++
		for {
			if j >= len(r.toks) || !isName(r.toks[j]) {
				return nil, 0, r.syntaxError(j)
			}
			for j < len(r.toks) && (isName(r.toks[j]) || r.toks[j].isOp(".")) {
				t := r.toks[j]
				if isName(t) {
					t.name = true
				}
				out = append(out, t)
				j++
			}
			if j+1 < len(r.toks) && r.toks[j].isOp(",") {
				out = append(out, r.toks[j])
				j++
				continue
			}
			break
		}
	}
	switch {
	case j < len(r.toks) && r.toks[j].is("nowait"):
		out = append(out, ident("nowait"))
		j++
	case j+1 < len(r.toks) && r.toks[j].is("skip") && r.toks[j+1].is("locked"):
		out = append(out, ident("skip"), ident("locked"))
		j += 2
	}
	return out, j, nil
}
