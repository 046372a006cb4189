package sql

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"

	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
)

// scanNode reads one table through its source: the key spans WHERE pins down, then the
// conditions pushed down to the table.
type scanNode struct {
	src   *source
	scope []scopeColumn
	// limitHint, when positive, is how many rows the consumer needs at most, so that the
	// first request need not read more.
	limitHint int64
	raw       *rawScan // the scan before filtering, for EXPLAIN
	// stats are the table's statistics (nil if never analyzed) and est the rows the scan
	// is estimated to return.
	stats *tableStats
	est   float64
}

func newScanNode(src *source, scope []scopeColumn) *scanNode {
	n := &scanNode{src: src, scope: scope}
	n.raw = &rawScan{n}
	return n
}

func (n *scanNode) cols() []scopeColumn { return n.scope }

func (n *scanNode) run(ctx context.Context, x *execCtx, emit emitFn) error {
	var page int64
	if n.limitHint > 0 {
		page = n.limitHint
		if n.src.filter != nil {
			page = scanPageSize
		}
	}
	var raw *nodeStats
	if x.stats != nil && n.src.filter != nil {
		raw = &nodeStats{loops: 1}
		if old := x.stats[n.raw]; old != nil {
			raw.rows, raw.loops = old.rows, old.loops+1
		}
		x.stats[n.raw] = raw
	}
	return n.src.scan.run(ctx, x.txn, x.ec, page, func(row []types.Datum) (bool, error) {
		if raw != nil {
			raw.rows++
		}
		ok, err := n.src.pass(x.ec, row)
		if err != nil || !ok {
			return true, err
		}
		return emit(row)
	})
}

func (n *scanNode) describe() nodeDesc {
	if n.src.filter == nil {
		return n.raw.describe()
	}
	return nodeDesc{name: "filter", inputs: []relNode{n.raw}}
}

// rawScan stands for a scanNode's reads before its filter in EXPLAIN.
type rawScan struct{ n *scanNode }

func (r *rawScan) cols() []scopeColumn { return r.n.scope }
func (r *rawScan) run(ctx context.Context, x *execCtx, emit emitFn) error {
	panic("rawScan only describes a scan")
}
func (r *rawScan) describe() nodeDesc { return nodeDesc{name: r.n.src.scan.explain()} }

// valuesNode produces rows of expressions: SELECT without FROM is one row of none.
type valuesNode struct {
	scope []scopeColumn
	rows  [][]*scalar
}

func (n *valuesNode) cols() []scopeColumn { return n.scope }

func (n *valuesNode) run(ctx context.Context, x *execCtx, emit emitFn) error {
	for _, exprs := range n.rows {
		row := make([]types.Datum, len(exprs))
		for i, e := range exprs {
			v, err := e.eval(x.ec, nil)
			if err != nil {
				return err
			}
			row[i] = v
		}
		if more, err := emit(row); err != nil || !more {
			return err
		}
	}
	return nil
}

func (n *valuesNode) describe() nodeDesc {
	return nodeDesc{name: fmt.Sprintf("values (%d row%s)", len(n.rows), plural(len(n.rows)))}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// filterNode passes the rows for which its predicate is true.
type filterNode struct {
	input relNode
	pred  *scalar
}

func (n *filterNode) cols() []scopeColumn { return n.input.cols() }

func (n *filterNode) run(ctx context.Context, x *execCtx, emit emitFn) error {
	return runNode(ctx, x, n.input, func(row []types.Datum) (bool, error) {
		v, err := n.pred.eval(x.ec, row)
		if err != nil || v == nil || !v.(bool) {
			return true, err
		}
		return emit(row)
	})
}

func (n *filterNode) describe() nodeDesc {
	return nodeDesc{name: "filter", inputs: []relNode{n.input}}
}

// projectNode computes its output columns from each input row.
type projectNode struct {
	input relNode
	exprs []*scalar
	scope []scopeColumn
	// passthrough marks a projection that only renames or hides columns; EXPLAIN skips it.
	passthrough bool
}

func (n *projectNode) cols() []scopeColumn { return n.scope }

func (n *projectNode) run(ctx context.Context, x *execCtx, emit emitFn) error {
	return runNode(ctx, x, n.input, func(in []types.Datum) (bool, error) {
		out := make([]types.Datum, len(n.exprs))
		for i, e := range n.exprs {
			v, err := e.eval(x.ec, in)
			if err != nil {
				return false, err
			}
			out[i] = v
		}
		return emit(out)
	})
}

func (n *projectNode) describe() nodeDesc {
	if n.passthrough {
		return n.input.describe()
	}
	return nodeDesc{name: "render", inputs: []relNode{n.input}}
}

// limitNode passes at most limit rows after skipping offset.
type limitNode struct {
	input         relNode
	limit, offset *scalar
}

func (n *limitNode) cols() []scopeColumn { return n.input.cols() }

func (n *limitNode) run(ctx context.Context, x *execCtx, emit emitFn) error {
	limit, hasLimit, err := evalInt(x.ec, n.limit, "LIMIT")
	if err != nil {
		return err
	}
	offset, _, err := evalInt(x.ec, n.offset, "OFFSET")
	if err != nil {
		return err
	}
	if hasLimit && limit == 0 {
		return nil
	}
	var seen, sent int64
	return runNode(ctx, x, n.input, func(row []types.Datum) (bool, error) {
		seen++
		if seen <= offset {
			return true, nil
		}
		sent++
		more, err := emit(row)
		return more && !(hasLimit && sent >= limit), err
	})
}

func (n *limitNode) describe() nodeDesc {
	return nodeDesc{name: "limit", inputs: []relNode{n.input}}
}

// sortKey orders rows by one input column.
type sortKey struct {
	col        int
	desc       bool
	nullsFirst bool
}

// sortNode sorts its input. With a limit it keeps only the rows that can make the cut (a
// top-k heap), so ORDER BY … LIMIT k holds k rows, not the whole input.
type sortNode struct {
	input relNode
	keys  []sortKey
	// limit and offset, when limit is set, bound the rows that need sorting.
	limit, offset *scalar
	label         string // the ORDER BY, for EXPLAIN
}

func (n *sortNode) cols() []scopeColumn { return n.input.cols() }

func (n *sortNode) less(typs []types.T) func(a, b []types.Datum) int {
	return func(a, b []types.Datum) int {
		for _, k := range n.keys {
			av, bv := a[k.col], b[k.col]
			var c int
			switch {
			case av == nil && bv == nil:
				continue
			case av == nil || bv == nil:
				// NULLs sort first or last whatever the direction; the planner sets
				// nullsFirst to PostgreSQL's default (first when descending) unless told.
				if (av == nil) == k.nullsFirst {
					return -1
				}
				return 1
			default:
				c = types.Compare(typs[k.col], av, bv)
			}
			if c == 0 {
				continue
			}
			if k.desc {
				return -c
			}
			return c
		}
		return 0
	}
}

func (n *sortNode) run(ctx context.Context, x *execCtx, emit emitFn) error {
	cmp := n.less(colTypes(n.input.cols()))
	var keep int64 = -1
	if n.limit != nil {
		limit, ok, err := evalInt(x.ec, n.limit, "LIMIT")
		if err != nil {
			return err
		}
		offset, _, err := evalInt(x.ec, n.offset, "OFFSET")
		if err != nil {
			return err
		}
		if ok {
			keep = limit + offset
		}
	}
	var rows [][]types.Datum
	var held int64
	defer func() { x.mem.shrink(held) }()

	// Rows are held until the budget runs out; then the ones held are sorted and written to
	// a temporary file as a run, their memory returned, and the next run begins. The runs
	// are merged at the end. A top-k sort keeps only the rows that can make the cut, in a
	// heap, unless even those do not fit: then it sorts everything the same way, and its
	// consumer stops reading after the first k.
	var spill *spillFile
	defer func() {
		if spill != nil {
			_ = spill.close() // counts the runs, and the merge passes' longer ones, as spilled
		}
	}()
	spillRun := func() error {
		if spill == nil {
			var err error
			if spill, err = x.newSpillFile(); err != nil {
				return err
			}
		}
		slices.SortStableFunc(rows, cmp)
		for _, row := range rows {
			if err := spill.add(row); err != nil {
				return err
			}
		}
		if err := spill.endRun(); err != nil {
			return err
		}
		clear(rows)
		rows = rows[:0]
		x.mem.shrink(held)
		held = 0
		return nil
	}
	topK := keep >= 0
	h := &rowHeap{cmp: cmp}
	err := runNode(ctx, x, n.input, func(row []types.Datum) (bool, error) {
		if topK && int64(h.Len()) >= keep {
			if keep > 0 && cmp(row, h.rows[0]) < 0 {
				h.rows[0] = row
				heap.Fix(h, 0)
			}
			return true, nil
		}
		sz := rowSize(row)
		over := x.mem.growSpillable(held, sz)
		if over != nil && topK {
			topK, rows, h.rows = false, h.rows, nil
		}
		if over != nil && len(rows) > 0 {
			if err := spillRun(); err != nil {
				if errors.Is(err, errCannotSpill) {
					return false, over
				}
				return false, err
			}
			over = x.mem.growSpillable(held, sz)
		}
		if over != nil {
			return false, over // not even one row fits
		}
		held += sz
		if topK {
			heap.Push(h, row)
		} else {
			rows = append(rows, row)
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	if topK {
		rows = h.rows
	}
	if spill == nil {
		slices.SortStableFunc(rows, cmp)
		return emitAll(rows, emit)
	}
	if len(rows) > 0 {
		if err := spillRun(); err != nil {
			return err
		}
	}
	emitted := 0
	return spill.mergeRuns(cmp, func(row []types.Datum) (bool, error) {
		if emitted++; emitted%1024 == 0 && ctx.Err() != nil {
			return false, ctx.Err()
		}
		return emit(row)
	})
}

// emitAll emits rows until the consumer wants no more.
func emitAll(rows [][]types.Datum, emit emitFn) error {
	for _, row := range rows {
		if more, err := emit(row); err != nil || !more {
			return err
		}
	}
	return nil
}

func (n *sortNode) describe() nodeDesc {
	name := "sort"
	if n.limit != nil {
		name = "top-k sort"
	}
	if n.label != "" {
		name += " (" + n.label + ")"
	}
	return nodeDesc{name: name, inputs: []relNode{n.input}}
}

// rowHeap is a max-heap under cmp: its root is the row a better one displaces.
type rowHeap struct {
	rows [][]types.Datum
	cmp  func(a, b []types.Datum) int
}

func (h *rowHeap) Len() int           { return len(h.rows) }
func (h *rowHeap) Less(i, j int) bool { return h.cmp(h.rows[i], h.rows[j]) > 0 }
func (h *rowHeap) Swap(i, j int)      { h.rows[i], h.rows[j] = h.rows[j], h.rows[i] }
func (h *rowHeap) Push(v any)         { h.rows = append(h.rows, v.([]types.Datum)) }
func (h *rowHeap) Pop() any {
	v := h.rows[len(h.rows)-1]
	h.rows = h.rows[:len(h.rows)-1]
	return v
}

// distinctNode passes the first row of each distinct value of its key columns (all
// columns for DISTINCT, the DISTINCT ON expressions otherwise), remembering the keys seen.
type distinctNode struct {
	input relNode
	on    []int // key columns; nil: all
	label string
	// unordered: the order of its output does not matter (a plain DISTINCT under a sort, or
	// without ORDER BY). Once the keys seen outgrow its share of the budget, rows of keys
	// not seen then go to disk in partitions by key, and are deduplicated a partition at a
	// time after the rest.
	unordered bool
}

func (n *distinctNode) cols() []scopeColumn { return n.input.cols() }

func (n *distinctNode) run(ctx context.Context, x *execCtx, emit emitFn) error {
	typs := colTypes(n.input.cols())
	on := n.on
	if on == nil {
		on = make([]int, len(typs))
		for i := range on {
			on[i] = i
		}
	}
	keyTypes := make([]types.T, len(on))
	for i, c := range on {
		keyTypes[i] = typs[c]
	}
	var key []byte
	vals := make([]types.Datum, len(on))
	keyOf := func(row []types.Datum) []byte {
		for i, c := range on {
			vals[i] = row[c]
		}
		key = groupKey(key[:0], keyTypes, vals)
		return key
	}
	d := newDeduper(x, n.unordered)
	defer d.close()
	stopped := false
	err := runNode(ctx, x, n.input, func(row []types.Datum) (bool, error) {
		if first, err := d.first(keyOf(row), row); err != nil || !first {
			return err == nil, err
		}
		more, err := emit(row)
		stopped = !more
		return more, err
	})
	if err != nil || stopped {
		return err
	}
	return d.finish(ctx, keyOf, emit)
}

func (n *distinctNode) describe() nodeDesc {
	name := "distinct"
	if n.label != "" {
		name += " on " + n.label
	}
	return nodeDesc{name: name, inputs: []relNode{n.input}}
}

// aggNode groups its input and computes aggregates. Its rows are the aggregate results
// followed by the group's first input row, which column references in the aggregated
// expressions read (PostgreSQL allows only grouped columns there, which are equal over the
// group).
type aggNode struct {
	input   relNode
	groupBy []*scalar
	aggs    []*aggregate
	scope   []scopeColumn
	label   string
}

func (n *aggNode) cols() []scopeColumn { return n.scope }

type group struct {
	first  []types.Datum
	states []*aggState
}

// aggSpillDepth bounds how often an aggregation's spilled rows are partitioned again: each
// level splits the groups that did not fit 32 ways.
const aggSpillDepth = 4

func (n *aggNode) run(ctx context.Context, x *execCtx, emit emitFn) error {
	stopped := false
	err := n.aggregate(ctx, x, func(f emitFn) error { return runNode(ctx, x, n.input, f) }, 0, func(row []types.Datum) (bool, error) {
		more, err := emit(row)
		stopped = stopped || !more
		return more, err
	}, &stopped)
	if errors.Is(err, errCannotSpill) {
		return pgerror.Wrap(err, pgerror.CodeOutOfMemory, "memory budget exceeded, and an aggregation's rows could not be written to disk")
	}
	return err
}

// aggregate groups the rows input gives. Groups are held in memory until the budget runs
// out; from then on, rows of groups already held still update them, and rows of new groups
// go to disk, partitioned by the hash of their key. Once the input ends, the groups held are
// emitted and their memory returned, and each partition is aggregated the same way, a level
// deeper (so a group is emitted once, from the level that held it). What an aggregate
// collects for a group held in memory (a DISTINCT set, ORDER BY's values, array_agg's
// elements) still counts against the budget and cannot move to disk.
func (n *aggNode) aggregate(ctx context.Context, x *execCtx, input func(emitFn) error, depth int, emit emitFn, stopped *bool) error {
	ec := x.ec
	groups := map[string]*group{}
	var order []*group
	var key []byte
	var held int64
	defer func() { x.mem.shrink(held) }()
	typs := make([]types.T, len(n.groupBy))
	for i, g := range n.groupBy {
		typs[i] = g.typ
	}
	vals := make([]types.Datum, len(n.groupBy))
	var parts *partitionFile // the rows of groups that did not fit, once the budget ran out
	defer func() {
		if parts != nil {
			_ = parts.close()
		}
	}()
	seed := maphash.MakeSeed()
	err := input(func(row []types.Datum) (bool, error) {
		for i, g := range n.groupBy {
			v, err := g.eval(ec, row)
			if err != nil {
				return false, err
			}
			vals[i] = v
		}
		key = groupKey(key[:0], typs, vals)
		gr, ok := groups[string(key)]
		if !ok {
			partition := int(maphash.Bytes(seed, key) % spillPartitions)
			if parts != nil {
				return true, parts.add(partition, row)
			}
			sz := rowSize(row) + int64(len(key)) + int64(64*len(n.aggs))
			if err := x.mem.growSpillable(held, sz); err != nil {
				if len(order) == 0 || depth == aggSpillDepth {
					return false, err
				}
				if parts, err = x.newPartitionFile(); err != nil {
					return false, err
				}
				return true, parts.add(partition, row)
			}
			held += sz
			gr = &group{first: row}
			for _, a := range n.aggs {
				gr.states = append(gr.states, newAggState(a))
			}
			groups[string(key)] = gr
			order = append(order, gr)
		}
		for _, st := range gr.states {
			if err := st.add(ec, row); err != nil {
				var pe *pgerror.Error
				if errors.As(err, &pe) && pe.Code == pgerror.CodeOutOfMemory {
					err = pe.WithDetail("An aggregation sends the rows of groups it cannot hold to disk, but what an aggregate collects for a group it holds (DISTINCT, ORDER BY, array_agg, string_agg and the like) stays in memory.")
				}
				return false, err
			}
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	// Without GROUP BY, an aggregate over no rows still yields one row.
	if len(n.groupBy) == 0 && len(order) == 0 && depth == 0 {
		gr := &group{first: make([]types.Datum, len(n.input.cols()))}
		for _, a := range n.aggs {
			gr.states = append(gr.states, newAggState(a))
		}
		order = append(order, gr)
	}
	// Once emitted, the groups' memory goes back (to the partitions' groups, or to the
	// statement's other operators), at every level.
	defer func() { releaseGroups(order) }()
	for _, gr := range order {
		row := make([]types.Datum, 0, len(n.aggs)+len(gr.first))
		for _, st := range gr.states {
			v, err := st.result()
			if err != nil {
				return err
			}
			row = append(row, v)
		}
		row = append(row, gr.first...)
		if more, err := emit(row); err != nil || !more {
			return err
		}
	}
	if parts == nil {
		return nil
	}
	releaseGroups(order)
	clear(groups)
	order = nil
	x.mem.shrink(held)
	held = 0
	if err := parts.finish(); err != nil {
		return err
	}
	for p := range spillPartitions {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := n.aggregate(ctx, x, func(f emitFn) error { return parts.rows(p, f) }, depth+1, emit, stopped); err != nil || *stopped {
			return err
		}
	}
	return nil
}

// releaseGroups returns what the groups' aggregates collected to the budget.
func releaseGroups(groups []*group) {
	for _, gr := range groups {
		for _, st := range gr.states {
			st.release()
		}
	}
}

func (n *aggNode) describe() nodeDesc {
	name := "group"
	if n.label != "" {
		name += " (" + n.label + ")"
	}
	return nodeDesc{name: name, inputs: []relNode{n.input}}
}

// orderLabel renders ORDER BY keys for EXPLAIN: +a,-b.
func orderLabel(scope []scopeColumn, keys []sortKey) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		sign := "+"
		if k.desc {
			sign = "-"
		}
		parts[i] = sign + scope[k.col].name
	}
	return strings.Join(parts, ",")
}
