package sql

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"iter"
	"strings"

	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// joinKind is the kind of a join: which unmatched rows it keeps.
type joinKind int

const (
	innerJoin joinKind = iota
	leftJoin
	rightJoin
	fullJoin
)

func (k joinKind) String() string {
	return [...]string{"inner", "left outer", "right outer", "full outer"}[k]
}

// keepsLeft and keepsRight report whether unmatched rows of a side appear, NULL-extended.
func (k joinKind) keepsLeft() bool  { return k == leftJoin || k == fullJoin }
func (k joinKind) keepsRight() bool { return k == rightJoin || k == fullJoin }

// joinSpec is what every join algorithm shares: the inputs, the equality columns (compiled
// against each input's own columns), and the rest of the ON condition (compiled against the
// joined row).
type joinSpec struct {
	kind        joinKind
	left, right relNode
	leftKeys    []*scalar
	rightKeys   []*scalar
	residual    *scalar
	scope       []scopeColumn
	onText      string // the equality, for EXPLAIN
}

func (j *joinSpec) cols() []scopeColumn { return j.scope }

func (j *joinSpec) keyTypes() []types.T {
	out := make([]types.T, len(j.leftKeys))
	for i, k := range j.leftKeys {
		out[i] = k.typ
	}
	return out
}

// keyOf evaluates a side's join key into key; ok is false when a value is NULL, which
// matches nothing.
func keyOf(ec *evalCtx, exprs []*scalar, typs []types.T, row []types.Datum, key []byte, vals []types.Datum) ([]byte, bool, error) {
	for i, e := range exprs {
		v, err := e.eval(ec, row)
		if err != nil {
			return nil, false, err
		}
		if v == nil {
			return key, false, nil
		}
		vals[i] = v
	}
	return groupKey(key[:0], typs, vals), true, nil
}

// joined concatenates a left and a right row; nil stands for a side's NULLs.
func (j *joinSpec) joined(l, r []types.Datum) []types.Datum {
	nl, nr := len(j.left.cols()), len(j.right.cols())
	out := make([]types.Datum, nl+nr)
	copy(out, l)
	copy(out[nl:], r)
	return out
}

// accept reports whether the joined row passes the residual ON condition.
func (j *joinSpec) accept(ec *evalCtx, row []types.Datum) (bool, error) {
	if j.residual == nil {
		return true, nil
	}
	v, err := j.residual.eval(ec, row)
	if err != nil || v == nil {
		return false, err
	}
	return v.(bool), nil
}

func (j *joinSpec) details() []string {
	var d []string
	if j.onText != "" {
		d = append(d, "equality: "+j.onText)
	}
	if j.residual != nil {
		d = append(d, "filter: other conditions")
	}
	return d
}

// matchHeld joins the left rows (the left input's, or those left gives when it is not nil)
// against right rows held in memory: for each left row, the right rows candidates names
// (nil: every one) that pass the residual condition, then the unmatched rows of the sides
// the join keeps, NULL-extended.
func (j *joinSpec) matchHeld(ctx context.Context, x *execCtx, left func(emitFn) error, rights [][]types.Datum, candidates func(l []types.Datum) ([]int, error), emit emitFn) error {
	if left == nil {
		left = func(f emitFn) error { return runNode(ctx, x, j.left, f) }
	}
	var matched []bool
	if j.kind.keepsRight() {
		matched = make([]bool, len(rights))
	}
	stopped := false
	try := func(l []types.Datum, i int) (bool, error) {
		row := j.joined(l, rights[i])
		pass, err := j.accept(x.ec, row)
		if err != nil || !pass {
			return false, err
		}
		if matched != nil {
			matched[i] = true
		}
		more, err := emit(row)
		stopped = stopped || !more || err != nil
		return true, err
	}
	err := left(func(l []types.Datum) (bool, error) {
		found := false
		if candidates == nil {
			for i := range rights {
				ok, err := try(l, i)
				if err != nil || stopped {
					return false, err
				}
				found = found || ok
			}
		} else {
			idx, err := candidates(l)
			if err != nil {
				return false, err
			}
			for _, i := range idx {
				ok, err := try(l, i)
				if err != nil || stopped {
					return false, err
				}
				found = found || ok
			}
		}
		if !found && j.kind.keepsLeft() {
			more, err := emit(j.joined(l, nil))
			stopped = !more
			return more, err
		}
		return true, nil
	})
	if err != nil || stopped {
		return err
	}
	for i, m := range matched {
		if !m {
			if more, err := emit(j.joined(nil, rights[i])); err != nil || !more {
				return err
			}
		}
	}
	return nil
}

// hashJoinNode builds a hash table of the right input on its keys and streams the left
// input through it. Right rows are held in memory, charged to the statement's budget; when
// they outgrow it, the join partitions both inputs to disk by the hash of their keys and
// joins one partition at a time (a grace hash join).
type hashJoinNode struct{ joinSpec }

func (n *hashJoinNode) run(ctx context.Context, x *execCtx, emit emitFn) error {
	var (
		rights [][]types.Datum
		held   int64
		parts  *partitionFile // the right input's, once it outgrew the budget
	)
	defer func() {
		x.mem.shrink(held)
		if parts != nil {
			_ = parts.close()
		}
	}()
	place := n.placer(x, emit)
	stopped := false
	err := runNode(ctx, x, n.right, func(r []types.Datum) (bool, error) {
		if parts != nil {
			more, err := place(parts, n.rightKeys, r, false)
			stopped = !more
			return more, err
		}
		sz := rowSize(r)
		over := x.mem.growSpillable(held, sz)
		if over == nil {
			held += sz
			rights = append(rights, r)
			return true, nil
		}
		var err error
		if parts, err = x.newPartitionFile(); err != nil {
			return false, err
		}
		for _, row := range append(rights, r) {
			more, err := place(parts, n.rightKeys, row, false)
			if errors.Is(err, errCannotSpill) {
				return false, over
			}
			if err != nil || !more {
				stopped = !more
				return more, err
			}
		}
		clear(rights)
		rights = nil
		x.mem.shrink(held)
		held = 0
		return true, nil
	})
	switch {
	case err != nil || stopped:
	case parts != nil:
		err = n.runPartitioned(ctx, x, parts, place, emit)
	default:
		err = n.joinHeld(ctx, x, nil, rights, emit)
	}
	if errors.Is(err, errCannotSpill) {
		return pgerror.Wrap(err, pgerror.CodeOutOfMemory, "memory budget exceeded, and a hash join's rows could not be written to disk")
	}
	return err
}

// placer returns what puts a row of one side (left, or the right) of a partitioned hash join
// into its partition of file by the hash of its keys (exprs). A NULL key matches nothing:
// the row is emitted at once, NULL-extended, if the join keeps its side's unmatched rows,
// and dropped if not. It reports false once the consumer wants no more.
func (n *hashJoinNode) placer(x *execCtx, emit emitFn) func(file *partitionFile, exprs []*scalar, row []types.Datum, left bool) (bool, error) {
	typs := n.keyTypes()
	vals := make([]types.Datum, len(typs))
	var key []byte
	seed := maphash.MakeSeed()
	return func(file *partitionFile, exprs []*scalar, row []types.Datum, left bool) (bool, error) {
		var ok bool
		var err error
		if key, ok, err = keyOf(x.ec, exprs, typs, row, key, vals); err != nil {
			return false, err
		}
		switch {
		case ok:
			return true, file.add(int(maphash.Bytes(seed, key)%spillPartitions), row)
		case left && n.kind.keepsLeft():
			return emit(n.joined(row, nil))
		case !left && n.kind.keepsRight():
			return emit(n.joined(nil, row))
		}
		return true, nil
	}
}

// joinHeld hashes rights, held in memory, on their keys, and joins the left rows against
// them (see matchHeld).
func (n *hashJoinNode) joinHeld(ctx context.Context, x *execCtx, left func(emitFn) error, rights [][]types.Datum, emit emitFn) error {
	ec, typs := x.ec, n.keyTypes()
	vals := make([]types.Datum, len(typs))
	var key []byte
	table := map[string][]int{}
	for i, r := range rights {
		var ok bool
		var err error
		if key, ok, err = keyOf(ec, n.rightKeys, typs, r, key, vals); err != nil {
			return err
		}
		if ok {
			table[string(key)] = append(table[string(key)], i)
		}
	}
	return n.matchHeld(ctx, x, left, rights, func(l []types.Datum) ([]int, error) {
		var ok bool
		var err error
		if key, ok, err = keyOf(ec, n.leftKeys, typs, l, key, vals); err != nil || !ok {
			return nil, err // a NULL key matches nothing
		}
		return table[string(key)], nil
	}, emit)
}

// runPartitioned finishes a hash join whose right input went to disk, partitioned: it
// partitions the left input the same way, then joins each partition's left rows against
// its right rows, held in memory. Rows with equal keys share a partition, and every row is
// in exactly one, so each partition's join, unmatched rows included, is its share of the
// whole.
func (n *hashJoinNode) runPartitioned(ctx context.Context, x *execCtx, rightParts *partitionFile,
	place func(*partitionFile, []*scalar, []types.Datum, bool) (bool, error), emit emitFn) error {
	if err := rightParts.finish(); err != nil {
		return err
	}
	leftParts, err := x.newPartitionFile()
	if err != nil {
		return err
	}
	defer leftParts.close()
	stopped := false
	err = runNode(ctx, x, n.left, func(l []types.Datum) (bool, error) {
		more, err := place(leftParts, n.leftKeys, l, true)
		stopped = !more
		return more, err
	})
	if err != nil || stopped {
		return err
	}
	if err := leftParts.finish(); err != nil {
		return err
	}

	emitTo := func(row []types.Datum) (bool, error) {
		more, err := emit(row)
		stopped = stopped || !more
		return more, err
	}
	for p := range spillPartitions {
		if err := ctx.Err(); err != nil {
			return err
		}
		rights, held, err := rightParts.load(x, p, fmt.Sprintf("The join's right input was split into %d partitions on disk, and one of them alone exceeds the budget.", spillPartitions))
		if err == nil {
			err = n.joinHeld(ctx, x, func(f emitFn) error { return leftParts.rows(p, f) }, rights, emitTo)
		}
		x.mem.shrink(held)
		if err != nil || stopped {
			return err
		}
	}
	return nil
}

func (n *hashJoinNode) describe() nodeDesc {
	return nodeDesc{name: fmt.Sprintf("hash join (%s)", n.kind), details: n.details(), inputs: []relNode{n.left, n.right}}
}

// nestedLoopJoinNode joins on a condition with no equality to hash: the right input is
// held in memory and every left row is tried against every right row.
type nestedLoopJoinNode struct{ joinSpec }

func (n *nestedLoopJoinNode) run(ctx context.Context, x *execCtx, emit emitFn) error {
	rights, held, err := collect(ctx, x, n.right)
	if err != nil {
		return err
	}
	defer x.mem.shrink(held)
	return n.matchHeld(ctx, x, nil, rights, nil, emit)
}

func (n *nestedLoopJoinNode) describe() nodeDesc {
	name := fmt.Sprintf("nested loop join (%s)", n.kind)
	if n.residual == nil && n.kind == innerJoin {
		name = "cross join"
	}
	return nodeDesc{name: name, details: n.details(), inputs: []relNode{n.left, n.right}}
}

// mergeJoinNode joins two inputs that both arrive ordered on the join keys (ascending), as
// two primary-key scans joined on their key columns do: it walks both in step, holding only
// the right rows of the current key.
type mergeJoinNode struct{ joinSpec }

func (n *mergeJoinNode) run(ctx context.Context, x *execCtx, emit emitFn) error {
	ec := x.ec
	typs := n.keyTypes()
	seq := func(yield func([]types.Datum, error) bool) {
		err := runNode(ctx, x, n.right, func(row []types.Datum) (bool, error) {
			return yield(row, nil), nil
		})
		if err != nil {
			yield(nil, err)
		}
	}
	next, stop := iter.Pull2(iter.Seq2[[]types.Datum, error](seq))
	defer stop()

	keyVals := func(exprs []*scalar, row []types.Datum) ([]types.Datum, error) {
		out := make([]types.Datum, len(exprs))
		for i, e := range exprs {
			v, err := e.eval(ec, row)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	compare := func(a, b []types.Datum) int {
		for i := range a {
			if c := types.Compare(typs[i], a[i], b[i]); c != 0 {
				return c
			}
		}
		return 0
	}
	var (
		pending    []types.Datum // the next right row not yet grouped
		pendingKey []types.Datum
		done       bool
		group      [][]types.Datum // right rows of groupKey
		groupKey   []types.Datum
	)
	advance := func() error {
		row, err, ok := next()
		if err != nil {
			return err
		}
		if !ok {
			done, pending = true, nil
			return nil
		}
		pending = row
		pendingKey, err = keyVals(n.rightKeys, row)
		return err
	}
	if err := advance(); err != nil {
		return err
	}
	return runNode(ctx, x, n.left, func(l []types.Datum) (bool, error) {
		lk, err := keyVals(n.leftKeys, l)
		if err != nil {
			return false, err
		}
		if groupKey == nil || compare(groupKey, lk) != 0 {
			// Skip right rows below the left key, then gather those equal to it.
			group, groupKey = nil, nil
			for !done && compare(pendingKey, lk) < 0 {
				if err := advance(); err != nil {
					return false, err
				}
			}
			for !done && compare(pendingKey, lk) == 0 {
				group = append(group, pending)
				groupKey = pendingKey
				if err := advance(); err != nil {
					return false, err
				}
			}
		}
		found := false
		for _, r := range group {
			row := n.joined(l, r)
			pass, err := n.accept(ec, row)
			if err != nil {
				return false, err
			}
			if !pass {
				continue
			}
			found = true
			if more, err := emit(row); err != nil || !more {
				return false, err
			}
		}
		if !found && n.kind.keepsLeft() {
			return emit(n.joined(l, nil))
		}
		return true, nil
	})
}

func (n *mergeJoinNode) describe() nodeDesc {
	return nodeDesc{name: fmt.Sprintf("merge join (%s)", n.kind), details: n.details(), inputs: []relNode{n.left, n.right}}
}

// lookupJoinNode joins each left row to the rows of a table found by its primary key: the
// left rows go in batches, each batch's lookups in one request. It suits a left input much
// smaller than the table.
type lookupJoinNode struct {
	joinSpec
	table  *catalog.Table
	target *scanNode // the right input: its filter applies to the rows looked up
}

// lookupBatch is how many left rows share one round of lookups.
const lookupBatch = 256

func (n *lookupJoinNode) run(ctx context.Context, x *execCtx, emit emitFn) error {
	ec := x.ec
	tbl := n.table
	pkOrds := tbl.PrimaryKeyOrdinals()
	full := len(n.leftKeys) == len(pkOrds)
	var batch [][]types.Datum
	stopped := false
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		b := &txn.Batch{}
		var asked []int // batch index of each request
		for i, l := range batch {
			key := rowenc.IndexPrefix(tbl.KeyID())
			null := false
			for k, e := range n.leftKeys {
				v, err := e.eval(ec, l)
				if err != nil {
					return err
				}
				if v == nil {
					null = true
					break
				}
				if key, err = rowenc.AppendKeyDatum(key, tbl.Columns[pkOrds[k]].Type, v, tbl.PrimaryKeyDesc[k]); err != nil {
					return err
				}
			}
			if null {
				continue
			}
			lock := n.target.src.scan.locking
			switch {
			case full && lock != kvpb.LockNone:
				b.GetLocking(key, lock)
			case full:
				b.Get(key)
			case lock != kvpb.LockNone:
				b.ScanLocking(key, prefixEnd(key), 0, false, lock)
			default:
				b.Scan(key, prefixEnd(key), 0, false)
			}
			asked = append(asked, i)
		}
		if b.Len() > 0 {
			if err := x.txn.Run(ctx, b); err != nil {
				return err
			}
		}
		found := make([]bool, len(batch))
		for r, res := range b.Results {
			i := asked[r]
			for _, kv := range res.Rows {
				right := make([]types.Datum, len(tbl.Columns))
				if err := rowenc.DecodeRow(tbl, kv.Key, kv.Value, right); err != nil {
					return err
				}
				if ok, err := n.target.src.pass(ec, right); err != nil || !ok {
					if err != nil {
						return err
					}
					continue
				}
				row := n.joined(batch[i], right)
				pass, err := n.accept(ec, row)
				if err != nil {
					return err
				}
				if !pass {
					continue
				}
				found[i] = true
				if more, err := emit(row); err != nil || !more {
					stopped = true
					return err
				}
			}
		}
		if n.kind.keepsLeft() {
			for i, l := range batch {
				if !found[i] {
					if more, err := emit(n.joined(l, nil)); err != nil || !more {
						stopped = true
						return err
					}
				}
			}
		}
		batch = batch[:0]
		return nil
	}
	err := runNode(ctx, x, n.left, func(l []types.Datum) (bool, error) {
		batch = append(batch, l)
		if len(batch) < lookupBatch {
			return true, nil
		}
		err := flush()
		return !stopped, err
	})
	if err != nil || stopped {
		return err
	}
	return flush()
}

func (n *lookupJoinNode) describe() nodeDesc {
	d := n.details()
	if n.target.src.filter != nil {
		d = append(d, "filter on "+n.table.Name+": pushed-down conditions")
	}
	return nodeDesc{name: fmt.Sprintf("lookup join (%s) on %s@%s", n.kind, n.table.Name, n.table.PrimaryKeyName()), details: d, inputs: []relNode{n.left}}
}

// prefixEnd is the first key after every key starting with prefix.
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// equalityText renders join equalities for EXPLAIN.
func equalityText(pairs [][2]string) string {
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = p[0] + " = " + p[1]
	}
	return strings.Join(parts, " AND ")
}
