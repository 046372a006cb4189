package listappend

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Anomaly is one violation found in a history.
//
// Kind is one of:
//
//	invalid-op          an operation has a kind other than Append or Read
//	duplicate-append    a value was appended to the same key more than once
//	garbage-read        a read returned a value that no transaction appended
//	duplicate-elements  a read returned a list holding some value twice
//	internal            a read contradicts its own transaction's earlier operations
//	incompatible-order  two reads of a key returned lists neither of which is a prefix of the other
//	G1a                 a read observed a value appended by an aborted transaction
//	G1b                 a read observed a state in the middle of another transaction's appends
//	G0                  a dependency cycle of write-write edges only
//	G1c                 a cycle of write-write and write-read edges, at least one write-read
//	G-single            a cycle with exactly one read-write (anti-dependency) edge
//	G2                  a cycle with two or more read-write edges
//
// With CheckOptions.RealTime, a cycle that exists only thanks to real-time edges has its
// kind suffixed with "-realtime", as in "G-single-realtime".
type Anomaly struct {
	Kind string
	// Txns are the IDs of the transactions involved; for a cycle, in cycle order.
	Txns []int
	// Explanation describes the anomaly, naming transactions, keys and values.
	Explanation string
}

func (a Anomaly) String() string {
	return a.Kind + ": " + a.Explanation
}

// Result is the outcome of a check.
type Result struct {
	// OK reports whether no anomaly was found.
	OK        bool
	Anomalies []Anomaly
}

// CheckOptions configures CheckWith.
type CheckOptions struct {
	// RealTime adds an edge T1 -> T2 whenever T1 ended before T2 started, so that
	// the history must also respect real-time order (strict serializability).
	// Unknown transactions get no outgoing real-time edges, since they may have
	// committed at any point after they ended.
	RealTime bool
}

// Check reports whether history is serializable. It is CheckWith without options.
func Check(history []Txn) Result {
	return CheckWith(history, CheckOptions{})
}

// CheckWith checks history for serializability, as configured by opts.
//
// Only reads in Committed transactions are trusted. A transaction joins the dependency
// graph if it committed or if its outcome is Unknown but some trusted read observed one
// of its appends; aborted transactions and unobserved unknown ones cannot be ordered.
//
// A read that follows the transaction's own appends to the same key must end with
// exactly those appends. The checker strips them and uses only the rest — the state the
// transaction found before it first appended — for the version order and for write-read
// and read-write edges; the transaction's own values would otherwise make its read look
// like a later state than the one it actually built upon.
//
// The version order of a key is the longest trusted read of it. Appends that no trusted
// read observed are not ordered, so they take part in no write-write or read-write edge.
// Each strongly connected component of the graph is reported once, as its most specific
// cycle: the first found of G0, G1c, G-single and G2, in that order.
func CheckWith(history []Txn, opts CheckOptions) Result {
	c := &checker{
		h:        history,
		writers:  make(map[string]map[int]writer),
		reads:    make(map[string][]read),
		observed: make([]bool, len(history)),
		seen:     make(map[int]bool),
	}
	c.indexAppends()
	for i := range history {
		if history[i].Status == Committed {
			c.collectReads(i)
		}
	}
	orders := c.versionOrders()
	g := c.graph(orders, opts.RealTime)
	c.cycles(g, opts.RealTime)
	return Result{OK: len(c.anomalies) == 0, Anomalies: c.anomalies}
}

const (
	kindInvalidOp         = "invalid-op"
	kindDuplicateAppend   = "duplicate-append"
	kindGarbageRead       = "garbage-read"
	kindDuplicateElements = "duplicate-elements"
	kindInternal          = "internal"
	kindIncompatibleOrder = "incompatible-order"
	kindG1a               = "G1a"
	kindG1b               = "G1b"
)

// writer identifies the append of one value to one key.
type writer struct {
	txn int // index into the history
	// next is the value the same transaction appended to the key right after this one,
	// if hasNext: a read ending in this value saw the transaction half done.
	next    int
	hasNext bool
}

// read is a trusted observation of a key: the list a committed transaction read, without
// its own trailing appends.
type read struct {
	txn          int
	list         []int
	incompatible bool // not a prefix of the version order
}

type checker struct {
	h         []Txn
	writers   map[string]map[int]writer // key -> value -> writer
	reads     map[string][]read         // key -> trusted reads in history order
	keys      []string                  // keys of reads, sorted
	observed  []bool                    // by history index: a trusted read saw one of its appends
	seen      map[int]bool              // scratch space for duplicate detection
	anomalies []Anomaly
}

// name returns how reports refer to the transaction at history index i.
func (c *checker) name(i int) string {
	return fmt.Sprintf("T%d", c.h[i].ID)
}

// add records an anomaly involving the transactions at the given history indexes.
func (c *checker) add(kind string, txns []int, format string, args ...any) {
	ids := make([]int, len(txns))
	for j, i := range txns {
		ids[j] = c.h[i].ID
	}
	c.anomalies = append(c.anomalies, Anomaly{Kind: kind, Txns: ids, Explanation: fmt.Sprintf(format, args...)})
}

func (c *checker) writer(key string, v int) (writer, bool) {
	w, ok := c.writers[key][v]
	return w, ok
}

// indexAppends records who appended each value, whatever the outcome, so that reads can
// be traced back to their writers.
func (c *checker) indexAppends() {
	last := make(map[string]int) // key -> the transaction's latest indexed value
	for i, t := range c.h {
		clear(last)
		for j, op := range t.Ops {
			switch op.Kind {
			case Append:
			case Read:
				continue
			default:
				c.add(kindInvalidOp, []int{i}, "%s operation %d has unknown kind %d", c.name(i), j, int(op.Kind))
				continue
			}
			ws := c.writers[op.Key]
			if ws == nil {
				ws = make(map[int]writer)
				c.writers[op.Key] = ws
			}
			if w, dup := ws[op.Value]; dup {
				// The first append keeps the value: a read of it is ambiguous either way.
				if w.txn == i {
					c.add(kindDuplicateAppend, []int{i}, "%s appended %d to key %s more than once", c.name(i), op.Value, op.Key)
				} else {
					c.add(kindDuplicateAppend, []int{w.txn, i}, "%s and %s both appended %d to key %s", c.name(w.txn), c.name(i), op.Value, op.Key)
				}
				continue
			}
			if prev, ok := last[op.Key]; ok {
				w := ws[prev]
				w.next, w.hasNext = op.Value, true
				ws[prev] = w
			}
			ws[op.Value] = writer{txn: i}
			last[op.Key] = op.Value
		}
	}
}

// collectReads checks the reads of the committed transaction at index i and records
// what they observed of other transactions.
func (c *checker) collectReads(i int) {
	type keyState struct {
		own   []int // values appended so far by this transaction
		state []int // what a read must return now, if known
		known bool
	}
	states := make(map[string]*keyState)
	for _, op := range c.h[i].Ops {
		s := states[op.Key]
		if s == nil {
			s = new(keyState)
			states[op.Key] = s
		}
		switch op.Kind {
		case Append:
			s.own = append(s.own, op.Value)
			if s.known {
				s.state = append(s.state, op.Value)
			}
		case Read:
			if op.List == nil {
				continue
			}
			c.checkElements(i, op)
			before, ok := c.split(i, op, s.own, s.state, s.known)
			// Capping the capacity makes later appends copy instead of writing into
			// the caller's slice.
			s.state, s.known = op.List[:len(op.List):len(op.List)], true
			if ok {
				c.observe(i, op.Key, before)
			}
		}
	}
}

// checkElements reports reads of values that were never appended, appended by aborted
// transactions, or returned twice, and notes which transactions were seen to take effect.
func (c *checker) checkElements(i int, op Op) {
	ws := c.writers[op.Key]
	clear(c.seen)
	var dups, garbage, abortedBy []int
	var abortedVals map[int][]int
	for _, v := range op.List {
		if c.seen[v] {
			dups = append(dups, v)
			continue
		}
		c.seen[v] = true
		w, ok := ws[v]
		switch {
		case !ok:
			garbage = append(garbage, v)
		case c.h[w.txn].Status == Aborted:
			if abortedVals == nil {
				abortedVals = make(map[int][]int)
			}
			if _, ok := abortedVals[w.txn]; !ok {
				abortedBy = append(abortedBy, w.txn)
			}
			abortedVals[w.txn] = append(abortedVals[w.txn], v)
		default:
			c.observed[w.txn] = true
		}
	}
	if len(dups) > 0 {
		c.add(kindDuplicateElements, []int{i}, "%s read %v at key %s, which contains %s more than once", c.name(i), op.List, op.Key, values(dups))
	}
	if len(garbage) > 0 {
		c.add(kindGarbageRead, []int{i}, "%s read %v at key %s, but no transaction appended %s", c.name(i), op.List, op.Key, values(garbage))
	}
	for _, a := range abortedBy {
		c.add(kindG1a, []int{i, a}, "%s read %v at key %s, but %s, which appended %s, aborted", c.name(i), op.List, op.Key, c.name(a), values(abortedVals[a]))
	}
}

// split returns the part of a read that precedes the reading transaction's own appends
// (own) and reports reads that contradict the transaction's earlier operations: with
// known set, state is what the read should have returned. It returns false if the read
// cannot be separated from the transaction's own appends.
func (c *checker) split(i int, op Op, own, state []int, known bool) ([]int, bool) {
	list := op.List
	ownTail := len(list) >= len(own) && slices.Equal(list[len(list)-len(own):], own)
	switch {
	case known && !slices.Equal(list, state):
		c.add(kindInternal, []int{i}, "%s read %v at key %s, but its own earlier operations imply %v", c.name(i), list, op.Key, state)
	case !ownTail:
		c.add(kindInternal, []int{i}, "%s read %v at key %s, which does not end with its own earlier appends %v", c.name(i), list, op.Key, own)
	default:
		ws := c.writers[op.Key]
		for _, v := range list[:len(list)-len(own)] {
			if w, ok := ws[v]; ok && w.txn == i {
				c.add(kindInternal, []int{i}, "%s read %v at key %s, which includes %d before %s appended it", c.name(i), list, op.Key, v, c.name(i))
				break
			}
		}
	}
	if !ownTail {
		return nil, false
	}
	return list[:len(list)-len(own)], true
}

// observe records a trusted read and reports it if it ends in the middle of another
// transaction's appends.
func (c *checker) observe(i int, key string, list []int) {
	c.reads[key] = append(c.reads[key], read{txn: i, list: list})
	if len(list) == 0 {
		return
	}
	last := list[len(list)-1]
	if w, ok := c.writer(key, last); ok && w.txn != i && w.hasNext {
		c.add(kindG1b, []int{i, w.txn}, "%s read %v at key %s, but %s appended %d and then %d to %s: %s saw an intermediate state of %s",
			c.name(i), list, key, c.name(w.txn), last, w.next, key, c.name(i), c.name(w.txn))
	}
}

// versionOrders returns, per key, the order in which appends took effect, as far as reads
// revealed it, and reports reads that contradict it.
func (c *checker) versionOrders() map[string][]int {
	c.keys = slices.Sorted(maps.Keys(c.reads))
	orders := make(map[string][]int, len(c.keys))
	for _, k := range c.keys {
		rs := c.reads[k]
		// The first of the longest reads wins ties, keeping reports deterministic.
		longest := 0
		for j := range rs {
			if len(rs[j].list) > len(rs[longest].list) {
				longest = j
			}
		}
		order := rs[longest].list
		var reported map[string]bool // lists already reported for this key
		for j := range rs {
			r := &rs[j]
			if len(r.list) <= len(order) && slices.Equal(r.list, order[:len(r.list)]) {
				continue
			}
			r.incompatible = true
			sig := fmt.Sprint(r.list)
			if reported[sig] {
				continue
			}
			if reported == nil {
				reported = make(map[string]bool)
			}
			reported[sig] = true
			c.add(kindIncompatibleOrder, []int{r.txn, rs[longest].txn}, "%s read %v at key %s and %s read %v: neither is a prefix of the other",
				c.name(r.txn), r.list, k, c.name(rs[longest].txn), order)
		}
		orders[k] = order
	}
	return orders
}

// values formats a list of values for an explanation.
func values(vs []int) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = fmt.Sprint(v)
	}
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
