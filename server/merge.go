package server

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/sql"
	"github.com/meridiandb/meridian/txn"
)

// The merge queue joins small, cold neighbours: on each pass, the leaseholder of every range
// looks at the range to its right. They merge when, together, they hold less than half of
// kv.range_max_bytes and serve less than half the load-split rate (so the merged range does
// not split again at once), neither changed shape within MergeMinAge (their load has been
// measured), and the right one was not split off by a user (a sticky split). Ranges whose
// replicas are on different nodes are first brought together, one replica move per pass.

// mergePass runs the merge queue once over the ranges this node holds the lease of, and
// settles merges whose coordinator went quiet.
func (n *Node) mergePass(ctx context.Context) {
	enabled := n.mergeQueueEnabled()
	for _, d := range n.store.Descriptors() {
		r := n.store.Replica(d.RangeID)
		if r == nil || !r.IsLeaseholder() {
			continue
		}
		if frozen, err := r.ResolveFrozen(ctx); frozen || err != nil {
			if err != nil && ctx.Err() == nil {
				n.log.Warn("settling a frozen range", "range", d.RangeID, "err", err)
			}
			continue
		}
		if !enabled || bytes.Compare(d.StartKey, keys.SystemMax) < 0 || bytes.Equal(d.EndKey, keys.KeyMax) {
			continue
		}
		mctx, cancel := context.WithTimeout(ctx, time.Minute)
		merged, err := n.maybeMerge(mctx, d)
		cancel()
		if err != nil && ctx.Err() == nil {
			n.log.Warn("merge queue", "range", d.RangeID, "err", err)
		} else if merged {
			return // descriptors changed: look again next pass
		}
	}
}

// maybeMerge merges left with its right neighbour if the merge queue's rules allow it. The
// cheap checks come first, so that most ranges cost little: the right neighbour, from the
// range cache (a stale entry fails the merge's own checks and is dropped), must not be
// sticky; then the left range (whose lease this node holds), locally; only then the right
// one's leaseholder is asked.
func (n *Node) maybeMerge(ctx context.Context, left kvpb.RangeDescriptor) (bool, error) {
	right, err := n.ds.RangeForKey(ctx, left.EndKey)
	if err != nil || right.Sticky {
		return false, err
	}
	if !bytes.Equal(right.StartKey, left.EndKey) {
		// The cache disagrees with the left range, whose descriptor this node holds: the
		// entry is stale (a merge there), and would stay so without this.
		n.ds.Evict(right.RangeID)
		return false, nil
	}
	sizeLimit := n.rangeMaxBytes() / 2
	ls, err := n.rangeStats(ctx, left, sizeLimit)
	if err != nil || !n.mergeable(ls, sizeLimit) {
		return false, err
	}
	rs, err := n.rangeStats(ctx, right, sizeLimit-ls.Bytes)
	if err != nil || !n.mergeable(rs, sizeLimit-ls.Bytes) || ls.QPS+rs.QPS >= n.cfg.LoadSplitQPS/2 {
		return false, err
	}
	merged, err := n.mergeStep(ctx, left, right)
	if merged != nil {
		n.log.Info("merged small ranges", "merged", merged.String(), "absorbed", right.RangeID)
	} else if err != nil {
		n.ds.Evict(right.RangeID)
	}
	return merged != nil, err
}

// mergeable: a range that has kept its span long enough to know its load, and is small and
// cold enough to merge.
func (n *Node) mergeable(st *kvpb.RangeStatsResponse, sizeLimit int64) bool {
	return st.Age >= n.cfg.MergeMinAge && st.Bytes < sizeLimit && st.QPS < n.cfg.LoadSplitQPS/2
}

// mergeAt merges the range that starts at key into the range that ends there, moving
// replicas as needed first. Steps that fail because ranges, leases or replicas moved under
// them are retried, for up to mergeAtTimeout.
func (n *Node) mergeAt(ctx context.Context, key []byte) (kvpb.RangeDescriptor, error) {
	ctx, cancel := context.WithTimeout(ctx, mergeAtTimeout)
	defer cancel()
	var last error
	for {
		left, err := n.metaRecordAt(ctx, key, true)
		if err != nil {
			return kvpb.RangeDescriptor{}, err
		}
		right, err := n.metaRecordAt(ctx, key, false)
		if err != nil {
			return kvpb.RangeDescriptor{}, err
		}
		if !bytes.Equal(left.EndKey, key) || !bytes.Equal(right.StartKey, key) {
			return kvpb.RangeDescriptor{}, fmt.Errorf("%w: %q", sql.ErrNoRangeBoundary, key)
		}
		if bytes.Compare(left.StartKey, keys.SystemMax) < 0 {
			return kvpb.RangeDescriptor{}, sql.ErrMergeFirstRange
		}
		merged, err := n.mergeStep(ctx, left, right)
		if merged != nil {
			return *merged, nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return kvpb.RangeDescriptor{}, fmt.Errorf("merging at %q: %w (last: %v)", key, ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// mergeAtTimeout bounds a merge asked for by a user.
const mergeAtTimeout = time.Minute

// mergeStep takes one step towards merging right into left: it moves one replica of right
// if their replicas are on different nodes, else merges them and updates the meta records.
// It returns the merged range when it merged.
func (n *Node) mergeStep(ctx context.Context, left, right kvpb.RangeDescriptor) (*kvpb.RangeDescriptor, error) {
	var targets []uint64
	for _, rd := range left.Replicas {
		targets = append(targets, rd.NodeID)
	}
	if !sameNodes(left, right) {
		if _, _, err := n.relocateStep(ctx, right, targets); err != nil {
			return nil, fmt.Errorf("moving r%d's replicas next to r%d's: %w", right.RangeID, left.RangeID, err)
		}
		return nil, nil
	}
	br, err := n.ds.Send(ctx, &kvpb.BatchRequest{RangeID: left.RangeID, Requests: []kvpb.Request{
		&kvpb.AdminMergeRequest{Left: left, Right: right},
	}})
	if err != nil {
		// The descriptors agree, but a Raft group may still hold a learner an addition cut
		// short left behind, which the merge refuses: relocating each range onto the nodes it
		// already has settles it (and does nothing otherwise).
		for _, d := range []kvpb.RangeDescriptor{left, right} {
			if _, _, rerr := n.relocateStep(ctx, d, targets); rerr != nil {
				n.log.Debug("settling learners before a merge", "range", d.RangeID, "err", rerr)
			}
		}
		return nil, err
	}
	merged := br.Responses[0].(*kvpb.AdminMergeResponse).Merged
	n.ds.Learn(merged)
	if err := n.updateMeta(ctx, []kvpb.RangeDescriptor{merged}, []kvpb.RangeDescriptor{left}); err != nil {
		// The meta pass repairs it; until then the stale records lead to the merged range.
		n.log.Warn("updating meta records after a merge", "merged", merged.String(), "err", err)
	}
	return &merged, nil
}

func sameNodes(a, b kvpb.RangeDescriptor) bool {
	if len(a.Replicas) != len(b.Replicas) {
		return false
	}
	for _, rd := range a.Replicas {
		if _, ok := b.Replica(rd.NodeID); !ok {
			return false
		}
	}
	return true
}

// metaRecordAt reads the meta record of the range that holds key, or with before, the one
// that ends at key.
func (n *Node) metaRecordAt(ctx context.Context, key []byte, before bool) (kvpb.RangeDescriptor, error) {
	start := keys.MetaKey(key) // the record of the range ending at key
	if !before {
		start = keys.MetaKey(append(append([]byte(nil), key...), 0))
	}
	var d kvpb.RangeDescriptor
	err := n.db.RunTxn(ctx, func(ctx context.Context, t *txn.Txn) error {
		var b txn.Batch
		b.Scan(start, keys.MetaMax, 1, false)
		if err := t.Run(ctx, &b); err != nil {
			return err
		}
		rows := b.Results[0].Rows
		if len(rows) == 0 {
			return fmt.Errorf("no meta record at or after %q", start)
		}
		return d.UnmarshalBinary(rows[0].Value)
	})
	return d, err
}

// rangeStats asks d's leaseholder about d, counting its size up to sizeLimit.
func (n *Node) rangeStats(ctx context.Context, d kvpb.RangeDescriptor, sizeLimit int64) (*kvpb.RangeStatsResponse, error) {
	br, err := n.ds.Send(ctx, &kvpb.BatchRequest{RangeID: d.RangeID, Requests: []kvpb.Request{
		&kvpb.RangeStatsRequest{Span: kvpb.Span{Key: d.StartKey, EndKey: d.EndKey}, SizeLimit: sizeLimit},
	}})
	if err != nil {
		return nil, err
	}
	return br.Responses[0].(*kvpb.RangeStatsResponse), nil
}

// metaPass repairs meta records that fell behind the descriptors of ranges this node holds
// the lease of: a merge, split or replica change whose coordinator failed before updating
// them leaves them stale or missing (still routable, through redirects, but slowly). A
// stale record that no current range ends at (left by a split whose right half merged on
// before the split's coordinator wrote the records) is nobody's to overwrite: it is deleted
// by the leaseholder of any range it overlaps with a lower generation. Left in place, it
// would send every lookup of its keys to a range that does not hold them.
func (n *Node) metaPass(ctx context.Context) {
	records, err := n.ds.RangesIn(ctx, keys.KeyMin, keys.KeyMax)
	if err != nil {
		if ctx.Err() == nil {
			n.log.Warn("reading meta records", "err", err)
		}
		return
	}
	var put, del []kvpb.RangeDescriptor
	deleting := map[string]bool{}
	for _, d := range n.store.Descriptors() {
		r := n.store.Replica(d.RangeID)
		if r == nil || !r.IsLeaseholder() || d.ContainsKey(keys.MetaKey(d.EndKey)) {
			continue
		}
		current := false
		for _, m := range records {
			if !m.Overlaps(&d) {
				continue
			}
			switch {
			case m.RangeID == d.RangeID && m.Generation >= d.Generation && bytes.Equal(m.EndKey, d.EndKey):
				current = true
			case m.Generation < d.Generation && !bytes.Equal(m.EndKey, d.EndKey) && !deleting[string(m.EndKey)]:
				deleting[string(m.EndKey)] = true // (one ending where d does is overwritten)
				del = append(del, m)
			}
		}
		if !current {
			put = append(put, d)
		}
	}
	if len(put)+len(del) == 0 {
		return
	}
	if err := n.updateMeta(ctx, put, del); err != nil {
		if ctx.Err() == nil {
			n.log.Warn("repairing meta records", "err", err)
		}
		return
	}
	n.log.Info("repaired meta records", "written", len(put), "deleted", len(del))
}

// mergeQueueEnabled is kv.range_merge.queue_enabled if set, else the node's configuration.
func (n *Node) mergeQueueEnabled() bool {
	if v, ok := n.setting("kv.range_merge.queue_enabled"); ok {
		if b, err := strconv.ParseBool(v); err == nil {
			return b
		}
	}
	return !n.cfg.DisableMergeQueue
}

// relocate moves range d's replicas onto exactly the nodes targets, one step at a time.
func (n *Node) relocate(ctx context.Context, d kvpb.RangeDescriptor, targets []uint64) (kvpb.RangeDescriptor, error) {
	for {
		next, done, err := n.relocateStep(ctx, d, targets)
		if err != nil || done {
			return next, err
		}
		d = next
	}
}

// relocateStep takes one step of relocate and records the range's new descriptor in its
// meta record. It reports whether the replicas already were on the targets.
func (n *Node) relocateStep(ctx context.Context, d kvpb.RangeDescriptor, targets []uint64) (kvpb.RangeDescriptor, bool, error) {
	br, err := n.ds.Send(ctx, &kvpb.BatchRequest{RangeID: d.RangeID, Requests: []kvpb.Request{
		&kvpb.AdminRelocateRequest{Range: d, Targets: targets},
	}})
	if err != nil {
		return d, false, err
	}
	resp := br.Responses[0].(*kvpb.AdminRelocateResponse)
	return resp.Range, resp.Done, n.writeMeta(ctx, resp.Range)
}
