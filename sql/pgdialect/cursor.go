package pgdialect

import (
	"strconv"
	"strings"
)

// CursorCommand is DECLARE, FETCH, MOVE or CLOSE of a cursor (psycopg2's named cursors):
//
//	DECLARE name [BINARY] [ASENSITIVE | INSENSITIVE] [[NO] SCROLL] CURSOR [WITHOUT HOLD] FOR query
//	FETCH [NEXT | FORWARD [count | ALL] | count | ALL] [FROM | IN] name
//	MOVE  (as FETCH)
//	CLOSE {name | ALL}
type CursorCommand struct {
	// Verb is "DECLARE", "FETCH", "MOVE" or "CLOSE".
	Verb string
	// Name names the cursor; "" for CLOSE ALL.
	Name string
	// Query is DECLARE's query, as written.
	Query string
	// Count is how many rows FETCH or MOVE goes forward; -1 for ALL.
	Count int64

	queryStart int // Query's offset in the text, until Split knows where the statement ends
}

func (r *rewriter) isCursorCommand() bool {
	return r.toks[0].is("declare", "fetch", "move", "close")
}

func (r *rewriter) cursorCommand() (Statement, error) {
	c := &CursorCommand{Verb: strings.ToUpper(r.toks[0].text), Count: 1}
	i := 1
	switch c.Verb {
	case "DECLARE":
		if i >= len(r.toks) || !isName(r.toks[i]) {
			return Statement{}, r.syntaxError(i)
		}
		c.Name = r.toks[i].text
		i++
		for i < len(r.toks) && r.toks[i].is("binary", "asensitive", "insensitive", "no", "scroll") {
			if r.toks[i].is("binary") {
				return Statement{}, r.unsupported("binary cursors")
			}
			if r.toks[i].is("scroll") && !r.toks[i-1].is("no") {
				return Statement{}, r.unsupported("scrollable cursors")
			}
			i++
		}
		if i >= len(r.toks) || !r.toks[i].is("cursor") {
			return Statement{}, r.syntaxError(i)
		}
		i++
		if i+1 < len(r.toks) && r.toks[i].is("with", "without") && r.toks[i+1].is("hold") {
			if r.toks[i].is("with") {
				return Statement{}, r.unsupported("DECLARE ... WITH HOLD")
			}
			i += 2
		}
		if i+1 >= len(r.toks) || !r.toks[i].is("for") {
			return Statement{}, r.syntaxError(i + min(1, len(r.toks)-i))
		}
		c.queryStart = r.toks[i+1].pos
		return Statement{Original: r.src, Cursor: c}, nil
	case "CLOSE":
		if i+1 != len(r.toks) || !isName(r.toks[i]) {
			return Statement{}, r.syntaxError(min(i+1, len(r.toks)))
		}
		if !r.toks[i].is("all") {
			c.Name = r.toks[i].text
		}
		return Statement{Original: r.src, Cursor: c}, nil
	}
	// FETCH and MOVE: the direction, then the cursor.
	switch {
	case i < len(r.toks) && r.toks[i].is("next"):
		i++
	case i < len(r.toks) && r.toks[i].is("all"):
		c.Count = -1
		i++
	case i < len(r.toks) && r.toks[i].is("forward"):
		i++
		if i < len(r.toks) && r.toks[i].is("all") {
			c.Count = -1
			i++
		} else if i < len(r.toks) && r.toks[i].kind == tokNumber {
			n, err := strconv.ParseInt(r.toks[i].text, 10, 64)
			if err != nil {
				return Statement{}, r.syntaxError(i)
			}
			c.Count = n
			i++
		}
	case i < len(r.toks) && r.toks[i].kind == tokNumber:
		n, err := strconv.ParseInt(r.toks[i].text, 10, 64)
		if err != nil {
			return Statement{}, r.syntaxError(i)
		}
		c.Count = n
		i++
	case i < len(r.toks) && r.toks[i].is("prior", "first", "last", "absolute", "relative", "backward"):
		return Statement{}, r.unsupported(c.Verb + " " + strings.ToUpper(r.toks[i].text))
	}
	if i < len(r.toks) && r.toks[i].is("from", "in") {
		i++
	}
	if i+1 != len(r.toks) || !isName(r.toks[i]) {
		return Statement{}, r.syntaxError(min(i+1, len(r.toks)))
	}
	c.Name = r.toks[i].text
	return Statement{Original: r.src, Cursor: c}, nil
}
