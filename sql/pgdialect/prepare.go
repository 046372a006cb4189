package pgdialect

import "strings"

// PreparedCommand is PREPARE, EXECUTE or DEALLOCATE, the SQL spelling of prepared
// statements (psycopg2 and psql have no other):
//
//	PREPARE name [(type, ...)] AS statement
//	EXECUTE name [(expression, ...)]
//	DEALLOCATE [PREPARE] {name | ALL}
type PreparedCommand struct {
	// Verb is "PREPARE", "EXECUTE" or "DEALLOCATE", the command tag.
	Verb string
	// Name names the statement; "" for DEALLOCATE ALL.
	Name string
	// Types are PREPARE's declared parameter types, as written.
	Types []string
	// Body is PREPARE's statement, as written.
	Body string
	// Args are EXECUTE's arguments, each an expression as written.
	Args []string
	// Explain marks EXPLAIN EXECUTE: the statement's plan is shown, not run.
	Explain bool

	bodyStart int // Body's offset in the text, until Split knows where the statement ends
}

func (r *rewriter) isPreparedCommand() bool {
	return r.toks[0].is("prepare", "execute", "deallocate")
}

func (r *rewriter) preparedCommand() (Statement, error) {
	c := &PreparedCommand{Verb: strings.ToUpper(r.toks[0].text)}
	i := 1
	if c.Verb == "DEALLOCATE" && i < len(r.toks) && r.toks[i].is("prepare") {
		i++
	}
	if i >= len(r.toks) || !isName(r.toks[i]) {
		return Statement{}, r.syntaxError(i)
	}
	if c.Verb != "DEALLOCATE" || !r.toks[i].is("all") {
		c.Name = r.toks[i].text
	}
	i++
	if c.Verb == "DEALLOCATE" {
		if i < len(r.toks) {
			return Statement{}, r.syntaxError(i)
		}
		return Statement{Original: r.src, Prepared: c}, nil
	}
	if i < len(r.toks) && r.toks[i].isOp("(") {
		items, end, err := r.parenthesizedItems(i)
		if err != nil {
			return Statement{}, err
		}
		if c.Verb == "PREPARE" {
			c.Types = items
		} else {
			c.Args = items
		}
		i = end
	}
	if c.Verb == "EXECUTE" {
		if i < len(r.toks) {
			return Statement{}, r.syntaxError(i)
		}
		return Statement{Original: r.src, Prepared: c}, nil
	}
	if i+1 >= len(r.toks) || !r.toks[i].is("as") {
		return Statement{}, r.syntaxError(i + min(1, len(r.toks)-i))
	}
	c.bodyStart = r.toks[i+1].pos
	return Statement{Original: r.src, Prepared: c}, nil
}

// parenthesizedItems returns the texts of the comma-separated items in the parentheses that
// open at i, and the index after them.
func (r *rewriter) parenthesizedItems(i int) ([]string, int, error) {
	closeIdx := r.matchParen(i)
	if closeIdx < 0 {
		return nil, 0, r.syntaxError(len(r.toks))
	}
	var items []string
	start, depth := i+1, 0
	for j := i + 1; j <= closeIdx; j++ {
		t := r.toks[j]
		switch {
		case t.isOp("(") || t.isOp("["):
			depth++
		case (t.isOp(")") || t.isOp("]")) && j < closeIdx:
			depth--
		case depth == 0 && (t.isOp(",") || j == closeIdx):
			if j == start {
				return nil, 0, r.syntaxError(j)
			}
			items = append(items, strings.TrimSpace(r.src[r.toks[start].pos:t.pos]))
			start = j + 1
		}
	}
	return items, closeIdx + 1, nil
}
