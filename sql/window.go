package sql

import (
	"context"
	"errors"
	"hash/maphash"
	"slices"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
)

// windowFunc is one window function call: its arguments, its window (partition, order,
// frame) and, for an aggregate used as a window function, the aggregate.
type windowFunc struct {
	name      string
	args      []*scalar
	partition []*scalar
	order     []windowOrder
	frame     windowFrame
	typ       types.T
	agg       *aggregate
	text      string
}

type windowOrder struct {
	e          *scalar
	desc       bool
	nullsFirst bool
}

// frameBound is one end of a window frame.
type frameBound int

const (
	unboundedPreceding frameBound = iota
	offsetPreceding
	currentRow
	offsetFollowing
	unboundedFollowing
)

// windowFrame is the rows a window function sees around the current row. In RANGE mode
// (the default) CURRENT ROW includes the row's peers (rows equal on ORDER BY).
type windowFrame struct {
	rows                   bool
	start, end             frameBound
	startOffset, endOffset int64
}

// windowFunc compiles a window function call into a slot of the window node's output.
func (c *compiler) windowFunc(n *ast.WindowFuncExpr) (*scalar, error) {
	if c.windows == nil {
		return nil, pgerror.New(pgerror.CodeWindowingError, "window functions are not allowed here")
	}
	if n.IgnoreNull || n.FromLast {
		return nil, pgerror.Unsupported("IGNORE NULLS and FROM LAST")
	}
	spec, err := c.resolveWindow(&n.Spec)
	if err != nil {
		return nil, err
	}
	// Arguments and the window read the window node's input rows; they may aggregate (in
	// an aggregating query) but not use windows again.
	wc := *c
	wc.windows = nil
	name := strings.ToLower(n.Name)
	w := &windowFunc{name: name, text: exprText(n)}
	if spec.PartitionBy != nil {
		for _, item := range spec.PartitionBy.Items {
			s, err := wc.compile(item.Expr)
			if err != nil {
				return nil, err
			}
			w.partition = append(w.partition, s)
		}
	}
	if spec.OrderBy != nil {
		for _, item := range spec.OrderBy.Items {
			expr, nullsFirst := orderItem(item)
			s, err := wc.compile(expr)
			if err != nil {
				return nil, err
			}
			if s.untyped {
				s, _ = coerce(s, types.String)
			}
			w.order = append(w.order, windowOrder{e: s, desc: item.Desc, nullsFirst: nullsFirst})
		}
	}
	if w.frame, err = frameOf(spec.Frame, len(w.order) > 0); err != nil {
		return nil, err
	}
	switch name {
	case "row_number", "rank", "dense_rank":
		w.typ = types.Int8
	case "percent_rank", "cume_dist":
		w.typ = types.Float8
	case "ntile":
		w.typ = types.Int4
	case "lag", "lead", "first_value", "last_value", "nth_value":
	default:
		if !aggregateNames[name] {
			return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function %s() is not a window function", name).
				WithHint("Window functions are row_number, rank, dense_rank, percent_rank, cume_dist, ntile, lag, lead, first_value, last_value, nth_value, and the aggregates.")
		}
		if n.Distinct {
			return nil, pgerror.New(pgerror.CodeFeatureNotSupported, "DISTINCT is not implemented for window functions")
		}
		args := n.Args
		if name == "count" && len(args) == 1 {
			if v, ok := args[0].(interface{ GetValue() any }); ok && v.GetValue() == int64(1) {
				args = nil // tidb spells count(*) as count(1)
			}
		}
		if w.agg, err = buildAggregate(&wc, name, args, false); err != nil {
			return nil, err
		}
		w.typ = w.agg.typ
	}
	if w.agg == nil {
		for _, a := range n.Args {
			s, err := wc.compile(a)
			if err != nil {
				return nil, err
			}
			if s.untyped {
				s, _ = coerce(s, types.String)
			}
			w.args = append(w.args, s)
		}
		if err := w.checkArgs(); err != nil {
			return nil, err
		}
	}
	slot := len(*c.windows)
	*c.windows = append(*c.windows, w)
	base := c.winBase
	return &scalar{typ: w.typ, colOrd: -1, eval: func(_ *evalCtx, row []types.Datum) (types.Datum, error) {
		return row[*base+slot], nil
	}}, nil
}

func (w *windowFunc) checkArgs() error {
	want := map[string][2]int{
		"row_number": {0, 0}, "rank": {0, 0}, "dense_rank": {0, 0}, "percent_rank": {0, 0}, "cume_dist": {0, 0},
		"ntile": {1, 1}, "lag": {1, 3}, "lead": {1, 3}, "first_value": {1, 1}, "last_value": {1, 1}, "nth_value": {2, 2},
	}[w.name]
	if len(w.args) < want[0] || len(w.args) > want[1] {
		return pgerror.New(pgerror.CodeUndefinedFunction, "function %s with %d argument(s) does not exist", w.name, len(w.args))
	}
	switch w.name {
	case "lag", "lead", "first_value", "last_value", "nth_value":
		w.typ = w.args[0].typ
	}
	if len(w.args) == 3 && w.args[2].typ.Family != w.typ.Family {
		w.args[2] = castScalar(w.args[2], w.typ)
	}
	return nil
}

// resolveWindow applies a named window (OVER w, or OVER (w ORDER BY …)).
func (c *compiler) resolveWindow(spec *ast.WindowSpec) (*ast.WindowSpec, error) {
	ref := spec.Ref.O
	if spec.OnlyAlias || ref == "" && spec.Name.O != "" && spec.PartitionBy == nil && spec.OrderBy == nil && spec.Frame == nil {
		ref = spec.Name.O
	}
	if ref == "" {
		return spec, nil
	}
	var base *ast.WindowSpec
	if c.q != nil {
		base = c.q.windowDefs[ref]
	}
	if base == nil {
		return nil, pgerror.New(pgerror.CodeUndefinedObject, "window %q does not exist", ref)
	}
	base, err := c.resolveWindow(base)
	if err != nil {
		return nil, err
	}
	out := *base
	if spec.OnlyAlias || spec.Ref.O == "" {
		return &out, nil
	}
	if spec.PartitionBy != nil {
		return nil, pgerror.New(pgerror.CodeWindowingError, "cannot override PARTITION BY clause of window %q", ref)
	}
	if spec.OrderBy != nil {
		if base.OrderBy != nil {
			return nil, pgerror.New(pgerror.CodeWindowingError, "cannot override ORDER BY clause of window %q", ref)
		}
		out.OrderBy = spec.OrderBy
	}
	if spec.Frame != nil {
		out.Frame = spec.Frame
	}
	return &out, nil
}

func frameOf(f *ast.FrameClause, ordered bool) (windowFrame, error) {
	if f == nil {
		if ordered {
			return windowFrame{start: unboundedPreceding, end: currentRow}, nil
		}
		return windowFrame{start: unboundedPreceding, end: unboundedFollowing}, nil
	}
	if f.Type != ast.Rows && f.Type != ast.Ranges {
		return windowFrame{}, pgerror.Unsupported("GROUPS frames")
	}
	wf := windowFrame{rows: f.Type == ast.Rows}
	bound := func(b ast.FrameBound, start bool) (frameBound, int64, error) {
		switch {
		case b.Type == ast.CurrentRow:
			return currentRow, 0, nil
		case b.UnBounded && b.Type == ast.Preceding:
			return unboundedPreceding, 0, nil
		case b.UnBounded:
			return unboundedFollowing, 0, nil
		}
		if !wf.rows {
			return 0, 0, pgerror.Unsupported("RANGE frames with an offset")
		}
		off, ok := constInt(b.Expr)
		if !ok || off < 0 {
			return 0, 0, pgerror.New(pgerror.CodeWindowingError, "frame offset must be a non-negative integer constant")
		}
		if b.Type == ast.Preceding {
			return offsetPreceding, off, nil
		}
		return offsetFollowing, off, nil
	}
	var err error
	if wf.start, wf.startOffset, err = bound(f.Extent.Start, true); err != nil {
		return wf, err
	}
	if wf.end, wf.endOffset, err = bound(f.Extent.End, false); err != nil {
		return wf, err
	}
	if wf.start == unboundedFollowing {
		return wf, pgerror.New(pgerror.CodeWindowingError, "frame start cannot be UNBOUNDED FOLLOWING")
	}
	if wf.end == unboundedPreceding {
		return wf, pgerror.New(pgerror.CodeWindowingError, "frame end cannot be UNBOUNDED PRECEDING")
	}
	return wf, nil
}

func constInt(e ast.ExprNode) (int64, bool) {
	v, ok := e.(interface{ GetValue() any })
	if !ok {
		return 0, false
	}
	switch n := v.GetValue().(type) {
	case int64:
		return n, true
	case uint64:
		return int64(n), true
	}
	return 0, false
}

// windowNode computes window functions over its input, which it holds in memory: each
// output row is the input row followed by one value per function.
type windowNode struct {
	input relNode
	funcs []*windowFunc
	scope []scopeColumn
}

func newWindowNode(input relNode, funcs []*windowFunc) *windowNode {
	scope := append([]scopeColumn(nil), input.cols()...)
	for _, f := range funcs {
		scope = append(scope, scopeColumn{name: f.name, typ: f.typ, hidden: true})
	}
	return &windowNode{input: input, funcs: funcs, scope: scope}
}

func (n *windowNode) cols() []scopeColumn { return n.scope }

func (n *windowNode) run(ctx context.Context, x *execCtx, emit emitFn) error {
	// Rows are held until they outgrow the node's share of the budget. Then, if some
	// columns are among every function's PARTITION BY, the rows go to disk in partitions by
	// the hash of those columns: a window partition lies whole in one of them, so each is
	// computed in memory in turn. (The output order changes; a sort above gives ORDER BY's.)
	spillCols := n.spillColumns()
	keyTypes := make([]types.T, len(spillCols))
	for i, e := range spillCols {
		keyTypes[i] = e.typ
	}
	vals := make([]types.Datum, len(spillCols))
	var key []byte
	seed := maphash.MakeSeed()
	partitionOf := func(row []types.Datum) (int, error) {
		for i, e := range spillCols {
			v, err := e.eval(x.ec, row)
			if err != nil {
				return 0, err
			}
			vals[i] = v
		}
		key = groupKey(key[:0], keyTypes, vals)
		return int(maphash.Bytes(seed, key) % spillPartitions), nil
	}
	var (
		rows  [][]types.Datum
		held  int64
		parts *partitionFile
	)
	defer func() {
		x.mem.shrink(held)
		if parts != nil {
			_ = parts.close()
		}
	}()
	err := runNode(ctx, x, n.input, func(r []types.Datum) (bool, error) {
		if parts != nil {
			p, err := partitionOf(r)
			if err != nil {
				return false, err
			}
			return true, parts.add(p, r)
		}
		sz := rowSize(r)
		var over error
		if len(spillCols) > 0 {
			over = x.mem.growSpillable(held, sz)
		} else {
			over = x.mem.grow(sz)
		}
		if over == nil {
			held += sz
			rows = append(rows, r)
			return true, nil
		}
		if len(spillCols) == 0 {
			return false, over
		}
		var err error
		if parts, err = x.newPartitionFile(); err != nil {
			return false, err
		}
		for _, row := range append(rows, r) {
			p, err := partitionOf(row)
			if err != nil {
				return false, err
			}
			if err := parts.add(p, row); err != nil {
				if errors.Is(err, errCannotSpill) {
					return false, over
				}
				return false, err
			}
		}
		clear(rows)
		rows = nil
		x.mem.shrink(held)
		held = 0
		return true, nil
	})
	if err != nil {
		return err
	}
	if parts == nil {
		_, err := n.computeAndEmit(x, rows, emit)
		return err
	}
	if err := parts.finish(); err != nil {
		return err
	}
	for p := range spillPartitions {
		if err := ctx.Err(); err != nil {
			return err
		}
		rows, held, err := parts.load(x, p, "The window function's rows went to disk in partitions by the columns every PARTITION BY names, and one of them alone exceeds the budget.")
		more := true
		if err == nil {
			more, err = n.computeAndEmit(x, rows, emit)
		}
		x.mem.shrink(held)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// spillColumns returns the PARTITION BY expressions that every function names, as the first
// function's: bare columns of the input, told apart by their place in the query's scope
// (none if a function partitions by nothing, or only by other expressions). They are
// evaluated like any expression: a column's place in the row is not its place in the scope
// (an aggregated query's rows start with the aggregates).
func (n *windowNode) spillColumns() []*scalar {
	var common []*scalar
	for i, f := range n.funcs {
		var kept []*scalar
		for _, p := range f.partition {
			if p.colOrd < 0 {
				continue
			}
			if i == 0 {
				if !slices.ContainsFunc(kept, func(e *scalar) bool { return e.colOrd == p.colOrd }) {
					kept = append(kept, p)
				}
				continue
			}
			for _, e := range common {
				if e.colOrd == p.colOrd && !slices.Contains(kept, e) {
					kept = append(kept, e)
				}
			}
		}
		common = kept
		if len(common) == 0 {
			return nil
		}
	}
	return common
}

// computeAndEmit computes every function over rows, which hold whole window partitions, and
// emits them with the results. It reports false once the consumer wants no more.
func (n *windowNode) computeAndEmit(x *execCtx, rows [][]types.Datum, emit emitFn) (bool, error) {
	width := len(n.input.cols())
	out := make([][]types.Datum, len(rows))
	for i, r := range rows {
		out[i] = make([]types.Datum, width+len(n.funcs))
		copy(out[i], r)
	}
	for fi, f := range n.funcs {
		if err := f.compute(x.ec, rows, func(i int, v types.Datum) { out[i][width+fi] = v }); err != nil {
			return false, err
		}
	}
	for _, r := range out {
		if more, err := emit(r); err != nil || !more {
			return false, err
		}
	}
	return true, nil
}

func (n *windowNode) describe() nodeDesc {
	names := make([]string, len(n.funcs))
	for i, f := range n.funcs {
		names[i] = f.text
	}
	return nodeDesc{name: "window", details: []string{strings.Join(names, ", ")}, inputs: []relNode{n.input}}
}

// compute evaluates the function for every row, partition by partition in window order.
func (f *windowFunc) compute(ec *evalCtx, rows [][]types.Datum, set func(i int, v types.Datum)) error {
	type keyed struct {
		idx   int
		part  string
		order []types.Datum
	}
	ks := make([]keyed, len(rows))
	ptyps := make([]types.T, len(f.partition))
	for i, p := range f.partition {
		ptyps[i] = p.typ
	}
	pvals := make([]types.Datum, len(f.partition))
	for i, r := range rows {
		for j, p := range f.partition {
			v, err := p.eval(ec, r)
			if err != nil {
				return err
			}
			pvals[j] = v
		}
		k := keyed{idx: i, part: string(groupKey(nil, ptyps, pvals)), order: make([]types.Datum, len(f.order))}
		for j, o := range f.order {
			v, err := o.e.eval(ec, r)
			if err != nil {
				return err
			}
			k.order[j] = v
		}
		ks[i] = k
	}
	cmpOrder := func(a, b []types.Datum) int {
		for j, o := range f.order {
			if (a[j] == nil) != (b[j] == nil) {
				if (a[j] == nil) == o.nullsFirst {
					return -1
				}
				return 1
			}
			c := types.Compare(o.e.typ, a[j], b[j])
			if o.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	}
	slices.SortStableFunc(ks, func(a, b keyed) int {
		if c := strings.Compare(a.part, b.part); c != 0 {
			return c
		}
		return cmpOrder(a.order, b.order)
	})
	for start := 0; start < len(ks); {
		end := start + 1
		for end < len(ks) && ks[end].part == ks[start].part {
			end++
		}
		part := ks[start:end]
		// peerEnd[i] is one past the last row that is a peer of row i.
		peerStart := make([]int, len(part))
		peerEnd := make([]int, len(part))
		for i := 0; i < len(part); {
			j := i + 1
			for j < len(part) && cmpOrder(part[i].order, part[j].order) == 0 {
				j++
			}
			for k := i; k < j; k++ {
				peerStart[k], peerEnd[k] = i, j
			}
			i = j
		}
		partRows := make([][]types.Datum, len(part))
		for i, k := range part {
			partRows[i] = rows[k.idx]
		}
		// An aggregate over a frame that starts at the partition's start accumulates as
		// the frame's end moves forward, rather than starting over for every row.
		var running *aggState
		cursor := 0
		for i, k := range part {
			var v types.Datum
			var err error
			if f.agg != nil && f.frame.start == unboundedPreceding {
				_, hi := f.frameRange(i, len(part), peerStart, peerEnd)
				if running == nil {
					running = newAggState(f.agg)
				}
				for ; cursor < hi; cursor++ {
					if err := running.add(ec, partRows[cursor]); err != nil {
						return err
					}
				}
				v, err = running.result()
			} else {
				v, err = f.value(ec, partRows, i, peerStart, peerEnd)
			}
			if err != nil {
				return err
			}
			set(k.idx, v)
		}
		if running != nil {
			running.release()
		}
		start = end
	}
	return nil
}

// frameOf returns the frame of row i of a partition of n rows as [lo, hi).
func (f *windowFunc) frameRange(i, n int, peerStart, peerEnd []int) (int, int) {
	lo, hi := 0, n
	switch f.frame.start {
	case offsetPreceding:
		lo = max(i-int(f.frame.startOffset), 0)
	case currentRow:
		lo = i
		if !f.frame.rows {
			lo = peerStart[i]
		}
	case offsetFollowing:
		lo = min(i+int(f.frame.startOffset), n)
	}
	switch f.frame.end {
	case offsetPreceding:
		hi = max(i-int(f.frame.endOffset)+1, 0)
	case currentRow:
		hi = i + 1
		if !f.frame.rows {
			hi = peerEnd[i]
		}
	case offsetFollowing:
		hi = min(i+int(f.frame.endOffset)+1, n)
	}
	return lo, max(hi, lo)
}

func (f *windowFunc) value(ec *evalCtx, part [][]types.Datum, i int, peerStart, peerEnd []int) (types.Datum, error) {
	n := len(part)
	arg := func(k int, row []types.Datum) (types.Datum, error) { return f.args[k].eval(ec, row) }
	switch f.name {
	case "row_number":
		return int64(i + 1), nil
	case "rank":
		return int64(peerStart[i] + 1), nil
	case "dense_rank":
		rank := int64(1)
		for j := 0; j < peerStart[i]; j = peerEnd[j] {
			rank++
		}
		return rank, nil
	case "percent_rank":
		if n == 1 {
			return 0.0, nil
		}
		return float64(peerStart[i]) / float64(n-1), nil
	case "cume_dist":
		return float64(peerEnd[i]) / float64(n), nil
	case "ntile":
		v, err := arg(0, part[i])
		if err != nil || v == nil {
			return nil, err
		}
		buckets := v.(int64)
		if buckets <= 0 {
			return nil, pgerror.New("22014", "argument of ntile must be greater than zero")
		}
		// The first n % buckets buckets hold one row more.
		size, extra := int64(n)/buckets, int64(n)%buckets
		pos := int64(i)
		if pos < extra*(size+1) {
			return pos/(size+1) + 1, nil
		}
		if size == 0 {
			return pos + 1, nil
		}
		return extra + (pos-extra*(size+1))/size + 1, nil
	case "lag", "lead":
		off := int64(1)
		if len(f.args) > 1 {
			v, err := arg(1, part[i])
			if err != nil {
				return nil, err
			}
			if v == nil {
				return nil, nil
			}
			off = v.(int64)
		}
		j := int64(i) - off
		if f.name == "lead" {
			j = int64(i) + off
		}
		if j < 0 || j >= int64(n) {
			if len(f.args) > 2 {
				return arg(2, part[i])
			}
			return nil, nil
		}
		return arg(0, part[j])
	}
	lo, hi := f.frameRange(i, n, peerStart, peerEnd)
	switch f.name {
	case "first_value":
		if lo >= hi {
			return nil, nil
		}
		return arg(0, part[lo])
	case "last_value":
		if lo >= hi {
			return nil, nil
		}
		return arg(0, part[hi-1])
	case "nth_value":
		v, err := arg(1, part[i])
		if err != nil || v == nil {
			return nil, err
		}
		k := v.(int64)
		if k <= 0 {
			return nil, pgerror.New("22016", "argument of nth_value must be greater than zero")
		}
		if int64(lo)+k-1 >= int64(hi) {
			return nil, nil
		}
		return arg(0, part[lo+int(k)-1])
	}
	if f.agg == nil {
		return nil, pgerror.New(pgerror.CodeInternalError, "window function %s has no evaluation", f.name)
	}
	st := newAggState(f.agg)
	defer st.release()
	for j := lo; j < hi; j++ {
		if err := st.add(ec, part[j]); err != nil {
			return nil, err
		}
	}
	return st.result()
}
