package listappend

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// edgeKind is a kind of dependency; kinds are bits so that sets of them are masks.
type edgeKind uint8

const (
	ww edgeKind = 1 << iota // from appended the value right before to's
	wr                      // to read a list ending in from's value
	rw                      // from read a list that to's value came right after
	rt                      // from ended before to started
)

// edge is a dependency between the transactions at two history indexes, with the key and
// values that justify it, kept for explanations.
type edge struct {
	from, to int
	kind     edgeKind
	key      string
	// For ww, prev and next are the values from and to appended; for wr, next is the
	// value read; for rw, prev is the last value from read (if hasPrev) and next the
	// value to appended after it.
	prev, next int
	hasPrev    bool
}

type graph struct {
	h   []Txn
	in  []bool // by history index: the transaction is a node
	out [][]edge
}

// graph builds the dependency graph among the transactions known or observed to have
// committed.
func (c *checker) graph(orders map[string][]int, realtime bool) *graph {
	g := &graph{h: c.h, in: make([]bool, len(c.h)), out: make([][]edge, len(c.h))}
	for i, t := range c.h {
		g.in[i] = t.Status == Committed || t.Status != Aborted && c.observed[i]
	}
	for _, k := range c.keys {
		ws, order := c.writers[k], orders[k]
		for j := 1; j < len(order); j++ {
			a, okA := ws[order[j-1]]
			b, okB := ws[order[j]]
			if okA && okB {
				g.add(edge{from: a.txn, to: b.txn, kind: ww, key: k, prev: order[j-1], next: order[j], hasPrev: true})
			}
		}
		for _, r := range c.reads[k] {
			if n := len(r.list); n > 0 {
				if w, ok := ws[r.list[n-1]]; ok {
					g.add(edge{from: w.txn, to: r.txn, kind: wr, key: k, next: r.list[n-1]})
				}
			}
			// Only a read consistent with the order tells which append it missed.
			if r.incompatible || len(r.list) >= len(order) {
				continue
			}
			next := order[len(r.list)]
			if w, ok := ws[next]; ok {
				e := edge{from: r.txn, to: w.txn, kind: rw, key: k, next: next}
				if n := len(r.list); n > 0 {
					e.prev, e.hasPrev = r.list[n-1], true
				}
				g.add(e)
			}
		}
	}
	if realtime {
		g.addRealtime()
	}
	return g
}

// add adds e unless it is a self-edge or touches a transaction outside the graph.
func (g *graph) add(e edge) {
	if e.from == e.to || !g.in[e.from] || !g.in[e.to] {
		return
	}
	g.out[e.from] = append(g.out[e.from], e)
}

// addRealtime adds real-time edges. Linking every transaction to all that started after
// it ended would take quadratic space, so each transaction is linked only to the frontier
// of transactions that had ended when it started and that no ended transaction followed:
// the rest are reachable through the frontier.
func (g *graph) addRealtime() {
	type event struct {
		at  time.Time
		txn int
		end bool
	}
	var events []event
	for i, t := range g.h {
		if !g.in[i] || t.Start.IsZero() || t.End.IsZero() || t.End.Before(t.Start) {
			continue
		}
		events = append(events, event{t.Start, i, false}, event{t.End, i, true})
	}
	// At equal times starts come first: only a strictly earlier end orders two transactions.
	slices.SortStableFunc(events, func(a, b event) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return cmp.Compare(boolInt(a.end), boolInt(b.end))
	})
	var frontier []int
	preds := make(map[int][]int) // running transaction -> the frontier when it started
	for _, e := range events {
		if !e.end {
			preds[e.txn] = slices.Clone(frontier)
			for _, p := range frontier {
				g.add(edge{from: p, to: e.txn, kind: rt})
			}
			continue
		}
		before := preds[e.txn]
		delete(preds, e.txn)
		// An unknown transaction may have committed after the client gave up on it, so
		// nothing is known to follow it; it must not hide its predecessors either.
		if g.h[e.txn].Status != Committed {
			continue
		}
		frontier = slices.DeleteFunc(frontier, func(p int) bool { return slices.Contains(before, p) })
		frontier = append(frontier, e.txn)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// label is the edge's tag in a cycle such as "T1 -ww(x)-> T2".
func (e edge) label() string {
	if e.kind == rt {
		return "rt"
	}
	return fmt.Sprintf("%s(%s)", e.kind, e.key)
}

// describe says why the edge exists.
func (e edge) describe(h []Txn) string {
	from, to := fmt.Sprintf("T%d", h[e.from].ID), fmt.Sprintf("T%d", h[e.to].ID)
	switch e.kind {
	case ww:
		return fmt.Sprintf("%s appended %d to %s immediately before %s appended %d", from, e.prev, e.key, to, e.next)
	case wr:
		return fmt.Sprintf("%s observed %s's append of %d to %s", to, from, e.next, e.key)
	case rw:
		if !e.hasPrev {
			return fmt.Sprintf("%s read %s as empty, but %s appended its first value, %d", from, e.key, to, e.next)
		}
		return fmt.Sprintf("%s read %s up to %d, but %s appended the next value, %d", from, e.key, e.prev, to, e.next)
	}
	return fmt.Sprintf("%s ended before %s started", from, to)
}

func (k edgeKind) String() string {
	switch k {
	case ww:
		return "ww"
	case wr:
		return "wr"
	case rw:
		return "rw"
	case rt:
		return "rt"
	}
	return fmt.Sprintf("edgeKind(%d)", uint8(k))
}
