package sql

import (
	"context"
	"fmt"
	"strings"

	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
)

// relNode is one operator of a query plan: it produces rows of fixed columns, pushing them
// to its consumer. Pushing keeps operators small (a filter is a loop body) and lets a result
// stream from the scan to the client without materializing; the one operator that needs
// to pull from an input (the merge join) turns a push into a pull with iter.Pull.
type relNode interface {
	// cols are the node's output columns, in row order.
	cols() []scopeColumn
	// run pushes the node's rows to emit, in order, until it runs out or emit returns
	// false. Rows handed to emit belong to the consumer, which may keep them.
	run(ctx context.Context, x *execCtx, emit emitFn) error
	// describe names the node for EXPLAIN, with its details and inputs.
	describe() nodeDesc
}

// emitFn receives a row; it returns false to stop the producer early.
type emitFn func(row []types.Datum) (bool, error)

// nodeDesc is a node as EXPLAIN shows it.
type nodeDesc struct {
	name    string
	details []string
	inputs  []relNode
}

// runNode runs n, counting its rows when the execution is being analyzed (EXPLAIN ANALYZE).
// Operators run their inputs through it, so that every node of the tree is counted.
func runNode(ctx context.Context, x *execCtx, n relNode, emit emitFn) error {
	if x.stats == nil {
		return n.run(ctx, x, emit)
	}
	st := x.stats[n]
	if st == nil {
		st = &nodeStats{}
		x.stats[n] = st
	}
	st.loops++
	return n.run(ctx, x, func(row []types.Datum) (bool, error) {
		st.rows++
		return emit(row)
	})
}

// nodeStats is what EXPLAIN ANALYZE reports for one node.
type nodeStats struct {
	rows, loops int64
}

// collect runs n to the end and returns its rows, charging them to the statement's memory
// budget (released by the caller through release when it no longer holds them).
func collect(ctx context.Context, x *execCtx, n relNode) (rows [][]types.Datum, bytes int64, err error) {
	err = runNode(ctx, x, n, func(row []types.Datum) (bool, error) {
		sz := rowSize(row)
		if err := x.mem.grow(sz); err != nil {
			return false, err
		}
		bytes += sz
		rows = append(rows, row)
		return true, nil
	})
	if err != nil {
		x.mem.shrink(bytes)
		return nil, 0, err
	}
	return rows, bytes, nil
}

// memAccount is a statement's memory budget: operators that hold rows (sorts, hash tables,
// aggregation groups, buffered results) charge what they hold, and a statement that would
// exceed the budget fails with 53200 rather than taking the node's memory.
type memAccount struct {
	used, limit, peak int64
	// spilled counts the bytes operators wrote to temporary files when the budget ran out.
	spilled int64
}

// grow charges n bytes.
func (m *memAccount) grow(n int64) error {
	if m == nil {
		return nil
	}
	m.used += n
	m.peak = max(m.peak, m.used)
	if m.limit > 0 && m.used > m.limit {
		m.used -= n
		return pgerror.New(pgerror.CodeOutOfMemory, "memory budget exceeded: %d bytes requested, %d already held; statement_memory_limit is %s", n, m.used, formatBytes(m.limit)).
			WithHint("Add a LIMIT or a more selective WHERE clause, or raise statement_memory_limit.")
	}
	return nil
}

// spillShareDivisor sets the part of the statement's budget (a quarter) that one operator
// able to go to disk holds before it does, so that the statement's other operators keep
// room: a hash join feeding an aggregation, both spilling, say.
const spillShareDivisor = 4

// growSpillable charges n bytes to an operator that can go to disk and holds held bytes
// already. It fails, as grow does, past the budget, and also past the operator's share of it
// once the operator holds anything (its first row may take more).
func (m *memAccount) growSpillable(held, n int64) error {
	if m != nil && m.limit > 0 && held > 0 && held+n > m.limit/spillShareDivisor {
		return pgerror.New(pgerror.CodeOutOfMemory, "memory budget exceeded: an operator holding %d bytes asked for %d more, past its share (a quarter) of statement_memory_limit, %s", held, n, formatBytes(m.limit)).
			WithHint("Add a LIMIT or a more selective WHERE clause, or raise statement_memory_limit.")
	}
	return m.grow(n)
}

// spill records n bytes written to a temporary file.
func (m *memAccount) spill(n int64) {
	if m != nil {
		m.spilled += n
	}
}

// shrink returns n bytes.
func (m *memAccount) shrink(n int64) {
	if m != nil {
		m.used -= n
	}
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// rowSize estimates the memory a row holds: slice and interface headers plus each value's
// payload.
func rowSize(row []types.Datum) int64 {
	n := int64(24 + 16*len(row))
	for _, d := range row {
		n += datumSize(d)
	}
	return n
}

func datumSize(d types.Datum) int64 {
	switch v := d.(type) {
	case nil, bool, int64, float64:
		return 0
	case string:
		return int64(len(v))
	case []byte:
		return int64(len(v))
	case []types.Datum:
		return rowSize(v)
	}
	return 32 // decimals, times, intervals, UUIDs, JSON: small fixed-size structures
}

// groupKey appends an encoding of vals that is equal for values PostgreSQL groups together
// (NULLs included, as GROUP BY and DISTINCT treat them as equal).
func groupKey(key []byte, typs []types.T, vals []types.Datum) []byte {
	for i, v := range vals {
		if v == nil {
			key = append(key, 0)
			continue
		}
		key = append(key, 1)
		key = types.AppendGroupKey(key, typs[i], v)
		key = append(key, 0xff)
	}
	return key
}

func colTypes(cols []scopeColumn) []types.T {
	out := make([]types.T, len(cols))
	for i, c := range cols {
		out[i] = c.typ
	}
	return out
}

// explainTree renders a plan as EXPLAIN shows it: one line per node, inputs indented under
// it, with the rows each node produced when stats are given (EXPLAIN ANALYZE).
func explainTree(n relNode, stats map[relNode]*nodeStats) []string {
	var lines []string
	var walk func(n relNode, depth int)
	walk = func(n relNode, depth int) {
		d := n.describe()
		line := strings.Repeat("  ", depth) + d.name
		if stats != nil {
			st := stats[n]
			if st == nil {
				st = &nodeStats{}
			}
			if st.loops > 1 {
				line += fmt.Sprintf(" (actual rows=%d loops=%d)", st.rows, st.loops)
			} else {
				line += fmt.Sprintf(" (actual rows=%d)", st.rows)
			}
		}
		lines = append(lines, line)
		for _, det := range d.details {
			lines = append(lines, strings.Repeat("  ", depth+1)+"│ "+det)
		}
		for _, in := range d.inputs {
			walk(in, depth+1)
		}
	}
	walk(n, 0)
	return lines
}

// indent puts EXPLAIN lines one level deeper, under a consumer's line.
func indent(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = "  " + l
	}
	return out
}

// keyCounts counts occurrences of keys (DISTINCT's seen rows, a set operation's right
// side), charging each new key to the statement's memory budget until release.
type keyCounts struct {
	m    map[string]int
	held int64
	// spillable: its owner can go to disk, so it holds at most its share of the budget
	// (see growSpillable).
	spillable bool
}

func newKeyCounts() *keyCounts { return &keyCounts{m: map[string]int{}} }

// add adds delta to key's count.
func (k *keyCounts) add(x *execCtx, key []byte, delta int) error {
	if _, ok := k.m[string(key)]; !ok {
		sz := int64(len(key) + 56)
		var err error
		if k.spillable {
			err = x.mem.growSpillable(k.held, sz)
		} else {
			err = x.mem.grow(sz)
		}
		if err != nil {
			return err
		}
		k.held += sz
	}
	k.m[string(key)] += delta
	return nil
}

func (k *keyCounts) count(key []byte) int { return k.m[string(key)] }

// firstTime records key and reports whether it was new.
func (k *keyCounts) firstTime(x *execCtx, key []byte) (bool, error) {
	if k.count(key) > 0 {
		return false, nil
	}
	return true, k.add(x, key, 1)
}

// release returns the memory the keys hold.
func (k *keyCounts) release(x *execCtx) {
	x.mem.shrink(k.held)
	k.held = 0
}
