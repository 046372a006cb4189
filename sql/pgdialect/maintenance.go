package pgdialect

// Maintenance is VACUUM or ANALYZE. ANALYZE collects table statistics for the planner.
// VACUUM has nothing to do (MVCC garbage collection removes old versions by itself), so it
// is accepted and does nothing, unless it asks to ANALYZE too.
type Maintenance struct {
	// Verb is "VACUUM" or "ANALYZE", the command tag.
	Verb string
	// Analyze is set when statistics are to be collected.
	Analyze bool
	// Tables are the tables named, each as [schema, name] or [name]; none means every table
	// of the database.
	Tables [][]string
}

func (r *rewriter) isMaintenance() bool {
	return r.toks[0].is("vacuum", "analyze", "analyse")
}

// maintenance reads VACUUM [(options)] [FULL] [FREEZE] [VERBOSE] [ANALYZE] [table [(columns)], ...]
// and ANALYZE [(options)] [VERBOSE] [table [(columns)], ...].
func (r *rewriter) maintenance() (Statement, error) {
	m := &Maintenance{Verb: "VACUUM"}
	if !r.toks[0].is("vacuum") {
		m.Verb, m.Analyze = "ANALYZE", true
	}
	i := 1
	if i < len(r.toks) && r.toks[i].isOp("(") {
		for i++; i < len(r.toks) && !r.toks[i].isOp(")"); i++ {
			if r.toks[i].is("analyze", "analyse") {
				m.Analyze = true
			}
		}
		if i >= len(r.toks) {
			return Statement{}, r.syntaxError(len(r.toks) - 1)
		}
		i++
	}
	for i < len(r.toks) && r.toks[i].is("full", "freeze", "verbose", "analyze", "analyse", "skip_locked") {
		if r.toks[i].is("analyze", "analyse") {
			m.Analyze = true
		}
		i++
	}
	for i < len(r.toks) {
		if !isName(r.toks[i]) {
			return Statement{}, r.syntaxError(i)
		}
		name := []string{r.toks[i].text}
		i++
		if i+1 < len(r.toks) && r.toks[i].isOp(".") && isName(r.toks[i+1]) {
			name = append(name, r.toks[i+1].text)
			i += 2
		}
		m.Tables = append(m.Tables, name)
		if i < len(r.toks) && r.toks[i].isOp("(") {
			for i < len(r.toks) && !r.toks[i].isOp(")") {
				i++
			}
			if i >= len(r.toks) {
				return Statement{}, r.syntaxError(len(r.toks) - 1)
			}
			i++
		}
		if i < len(r.toks) {
			if !r.toks[i].isOp(",") || i+1 == len(r.toks) {
				return Statement{}, r.syntaxError(i)
			}
			i++
		}
	}
	return Statement{Original: r.src, Maintenance: m}, nil
}

// Special reports whether the statement is carried by a field (Access, Maintenance, Index,
// Truncate, Prepared, Cursor) rather than by SQL for the parser.
func (s Statement) Special() bool {
	return s.Access != nil || s.Maintenance != nil || s.Index != nil || s.Truncate != nil ||
		s.Prepared != nil || s.Cursor != nil
}

// Empty reports whether there is no statement at all (only comments or semicolons).
func (s Statement) Empty() bool { return s.SQL == "" && !s.Special() }
