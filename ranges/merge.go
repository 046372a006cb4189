package ranges

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/hashicorp/raft"

	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// A merge joins a range (the right-hand side, R) to its left neighbour (L). Both keep their
// data in the same Pebble databases, so, as with a split, no data moves: what must be agreed
// is the moment R's state stops changing and L starts owning it. The merge runs on L's
// leaseholder and needs both ranges' replicas on the same nodes.
//
//  1. L sends Subsume to R. R's leaseholder freezes R with a Raft command: from that entry
//     on, R's replicas apply no command that changes data, and R serves nothing. It waits
//     until every replica of R holds the log up to the freeze and knows it committed, and
//     answers with the freeze's index and a timestamp above every read R served.
//  2. L proposes the merge command. Each replica of L, applying it, first applies its own
//     replica of R up to the freeze index, straight from R's log, then retires R (it will
//     apply nothing more), takes over R's span, writes R's tombstone and deletes R's
//     descriptor, in one batch with the merge. R's Raft group stops afterwards.
//
// The commit point is the merge command in L's log. If L's leaseholder goes quiet after
// freezing R, R's leaseholder asks L to settle the merge after mergeResolveAfter: L proposes
// an abandonment, and whichever of merge and abandonment comes first in L's log wins. Only
// an abandoned merge thaws R.

// mergeResolveAfter is how long a range stays frozen before its leaseholder asks the left
// range whether the merge will happen.
const mergeResolveAfter = 10 * time.Second

// errMergeAbandoned rejects a merge command that reached the left range's log after the
// frozen range asked for, and got, its release.
var errMergeAbandoned = errors.New("the merge was abandoned: the frozen range was released first")

// mergeOutcome is what an abandonment command reports to its proposer.
type mergeOutcome struct{ merged bool }

// mergedMarkerKey records, among the left range's state, that it absorbed range rightID.
func mergedMarkerKey(leftID, rightID uint64) []byte {
	return keys.RangeIDKey(leftID, "mrgd"+string(binary.BigEndian.AppendUint64(nil, rightID)))
}

func abandonedValue(m mergeArgs) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, m.otherRangeID), m.freezeIndex)
}

// allLatches covers every key of a range: holding them, nothing evaluates on it.
var allLatches = []latchSpan{{span: kvpb.Span{Key: keys.KeyMin, EndKey: keys.KeyMax}, write: true}}

// lockShape takes the replica's change lock and every latch, for a change of the range's
// shape (a split, a merge, a freeze): nothing evaluates on the range until release, and
// whatever waits re-checks its keys against the new descriptor afterwards.
func (r *Replica) lockShape(ctx context.Context) (release func(), err error) {
	r.changeMu.Lock()
	g, err := r.latches.acquire(ctx, allLatches)
	if err != nil {
		r.changeMu.Unlock()
		return nil, err
	}
	return func() {
		r.latches.release(g)
		r.changeMu.Unlock()
	}, nil
}

// adminMerge, on the left range's leaseholder, merges req.Right into this range.
func (r *Replica) adminMerge(ctx context.Context, req *kvpb.AdminMergeRequest) (*kvpb.BatchResponse, error) {
	release, err := r.lockShape(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	desc, right := r.Desc(), req.Right
	switch {
	case desc.RangeID != req.Left.RangeID || !bytes.Equal(desc.EndKey, right.StartKey):
		return nil, &kvpb.RangeKeyMismatchError{RangeID: r.rangeID, Key: req.Left.StartKey, Ranges: []kvpb.RangeDescriptor{*desc}}
	case bytes.Compare(desc.StartKey, keys.SystemMax) < 0:
		return nil, fmt.Errorf("r%d holds the meta and system spans and absorbs no other range", r.rangeID)
	case r.fsm.freezeState() != nil:
		return nil, &kvpb.MergeInProgressError{RangeID: r.rangeID}
	}
	if err := r.checkColocated(&right); err != nil {
		return nil, err
	}
	// Addressed by range ID: a stale range cache could otherwise send it back to us.
	br, err := r.store.sendToRange(ctx, &kvpb.BatchRequest{RangeID: right.RangeID, Requests: []kvpb.Request{
		&kvpb.SubsumeRequest{Left: *desc, Right: right},
	}})
	if err != nil {
		return nil, fmt.Errorf("r%d: freezing r%d to merge it: %w", r.rangeID, right.RangeID, err)
	}
	sub := br.Responses[0].(*kvpb.SubsumeResponse)
	// No write may land in the right-hand span below a read the frozen range served.
	r.tsc.forwardLowWater(sub.FreezeTimestamp)
	_, _ = r.store.cfg.Clock.Update(sub.FreezeTimestamp)

	merged := *desc
	merged.EndKey = right.EndKey
	merged.Generation = max(desc.Generation, right.Generation) + 1
	b := r.store.db.NewIndexedBatch()
	defer b.Close()
	if err := writeDescriptor(b, &merged, desc, r.store.cfg.Clock.Now(), r.localNow()); err != nil {
		return nil, err
	}
	if th, err := r.gcThreshold(); err != nil {
		return nil, err
	} else if th.Less(sub.GCThreshold) {
		if err := mvcc.PutUnversioned(b, keys.RangeGCThresholdKey(r.rangeID), encodeTimestamp(sub.GCThreshold)); err != nil {
			return nil, err
		}
	}
	cmd := command{flags: flagDescriptor | flagMerge, merge: mergeArgs{otherRangeID: right.RangeID, freezeIndex: sub.FreezeIndex}, repr: b.Repr()}
	if _, err := r.proposeResult(ctx, cmd); err != nil {
		return nil, fmt.Errorf("r%d: merging r%d: %w", r.rangeID, right.RangeID, r.proposalError(err, true))
	}
	r.store.log.Info("merged ranges", "merged", merged.String(), "absorbed", right.RangeID)
	return &kvpb.BatchResponse{Responses: []kvpb.Response{&kvpb.AdminMergeResponse{Merged: merged}}}, nil
}

// checkColocated checks that this range's voters are exactly other's replicas' nodes, with
// no replica change under way.
func (r *Replica) checkColocated(other *kvpb.RangeDescriptor) error {
	desc := r.Desc()
	f := r.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return err
	}
	servers := f.Configuration().Servers
	same := len(servers) == len(desc.Replicas) && len(desc.Replicas) == len(other.Replicas)
	for _, srv := range servers {
		_, inDesc := desc.Replica(nodeOfServer(srv))
		_, inOther := other.Replica(nodeOfServer(srv))
		same = same && srv.Suffrage == raft.Voter && inDesc && inOther
	}
	if !same {
		return fmt.Errorf("r%d and r%d do not have replicas on the same nodes (%v, %v)", r.rangeID, other.RangeID, desc.Replicas, other.Replicas)
	}
	return nil
}

// subsume, on the right range's leaseholder, freezes the range for a merge (see the top of
// this file). Asked again for the same merge, it answers with the same freeze.
func (r *Replica) subsume(ctx context.Context, req *kvpb.SubsumeRequest) (*kvpb.BatchResponse, error) {
	if r.rangeID != req.Right.RangeID {
		// Never wait for our own changeMu: the left range's merge may hold it. (Not a key
		// mismatch: the request is for one range, not for whichever holds its key.)
		return nil, fmt.Errorf("r%d: got the subsume request for r%d, which is gone", r.rangeID, req.Right.RangeID)
	}
	release, err := r.lockShape(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	desc := r.Desc()
	if desc.RangeID != req.Right.RangeID || desc.Generation != req.Right.Generation || !bytes.Equal(desc.StartKey, req.Left.EndKey) {
		return nil, fmt.Errorf("r%d changed since its merge into r%d began: it is now %s, generation %d", req.Right.RangeID, req.Left.RangeID, desc, desc.Generation)
	}
	if err := r.checkColocated(&req.Left); err != nil {
		return nil, err
	}
	fz := r.fsm.freezeState()
	if fz != nil && fz.leftID != req.Left.RangeID {
		return nil, &kvpb.MergeInProgressError{RangeID: r.rangeID}
	}
	if fz == nil {
		clock := r.store.cfg.Clock
		cmd := command{flags: flagFreeze, merge: mergeArgs{
			otherRangeID: req.Left.RangeID, wallTime: uint64(clock.PhysicalNow()), leftKey: req.Left.StartKey,
		}}
		if _, err := r.proposeResult(ctx, cmd); err != nil {
			return nil, fmt.Errorf("r%d: freezing: %w", r.rangeID, err)
		}
		if fz = r.fsm.freezeState(); fz == nil {
			return nil, fmt.Errorf("r%d: the freeze did not apply", r.rangeID)
		}
	}
	if err := r.awaitFreezeEverywhere(ctx, desc); err != nil {
		// The merge cannot go ahead: the left range proposes nothing without our answer.
		if _, terr := r.proposeResult(ctx, command{flags: flagThaw}); terr != nil {
			r.store.log.Warn("thawing after a failed freeze", "range", r.rangeID, "err", terr)
		}
		return nil, err
	}
	th, err := r.gcThreshold()
	if err != nil {
		return nil, err
	}
	resp := &kvpb.SubsumeResponse{
		FreezeIndex: fz.index, GCThreshold: th,
		FreezeTimestamp: r.tsc.highWater().Forward(r.store.cfg.Clock.Now()),
	}
	return &kvpb.BatchResponse{Responses: []kvpb.Response{resp}}, nil
}

// awaitFreezeEverywhere waits until every replica holds the log through the freeze and
// knows that the freeze committed. A follower learns the commit index only from the next
// append, so one more entry (a barrier) follows the freeze, and each follower must hold it.
func (r *Replica) awaitFreezeEverywhere(ctx context.Context, desc *kvpb.RangeDescriptor) error {
	if err := r.raft.Barrier(configTimeout).Error(); err != nil {
		return fmt.Errorf("r%d: after freezing: %w", r.rangeID, err)
	}
	last := r.raft.LastIndex()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for _, rd := range desc.Replicas {
		if rd.NodeID == r.store.cfg.NodeID {
			continue
		}
		if err := r.waitCaughtUp(wctx, rd.NodeID, last); err != nil {
			return err
		}
	}
	return nil
}

// resolveMerge, on the left range's leaseholder, settles the merge of a frozen range whose
// coordinator went quiet: it reports that the merge happened, or makes sure it never will.
func (r *Replica) resolveMerge(ctx context.Context, req *kvpb.ResolveMergeRequest) (*kvpb.BatchResponse, error) {
	if desc := r.Desc(); !desc.ContainsKey(req.LeftKey) {
		return nil, &kvpb.RangeKeyMismatchError{RangeID: r.rangeID, Key: req.LeftKey, Ranges: []kvpb.RangeDescriptor{*desc}}
	}
	// Behind changeMu: a merge this leaseholder is still running finishes first.
	r.changeMu.Lock()
	defer r.changeMu.Unlock()
	res, err := r.proposeResult(ctx, command{flags: flagAbandonMerge, merge: mergeArgs{otherRangeID: req.RightRangeID, freezeIndex: req.FreezeIndex}})
	if err != nil {
		return nil, fmt.Errorf("r%d: settling the merge of r%d: %w", r.rangeID, req.RightRangeID, err)
	}
	out, ok := res.(mergeOutcome)
	if !ok {
		return nil, fmt.Errorf("r%d: settling the merge of r%d: no outcome", r.rangeID, req.RightRangeID)
	}
	return &kvpb.BatchResponse{Responses: []kvpb.Response{&kvpb.ResolveMergeResponse{Merged: out.merged}}}, nil
}

// ResolveFrozen, on the leaseholder of a range frozen for longer than mergeResolveAfter,
// asks the range it was merging into how the merge ended, and thaws it if it was abandoned.
// It reports whether the range is (still) frozen.
func (r *Replica) ResolveFrozen(ctx context.Context) (bool, error) {
	fz := r.fsm.freezeState()
	if fz == nil {
		return false, nil
	}
	if time.Duration(r.store.cfg.Clock.PhysicalNow()-int64(fz.wallTime)) < mergeResolveAfter || !r.IsLeaseholder() {
		return true, nil
	}
	r.changeMu.Lock()
	defer r.changeMu.Unlock()
	if err := r.checkLeaseholder(ctx); err != nil {
		return true, err
	}
	ctx = r.underLease(ctx)
	br, err := r.store.route(ctx, &kvpb.BatchRequest{Requests: []kvpb.Request{
		&kvpb.ResolveMergeRequest{LeftKey: fz.leftKey, RightRangeID: r.rangeID, FreezeIndex: fz.index},
	}})
	if err != nil {
		return true, fmt.Errorf("r%d: asking how its merge ended: %w", r.rangeID, err)
	}
	if br.Responses[0].(*kvpb.ResolveMergeResponse).Merged {
		return true, nil // this replica is destroyed when its store's left replica applies the merge
	}
	if _, err := r.proposeResult(ctx, command{flags: flagThaw}); err != nil {
		return true, fmt.Errorf("r%d: thawing after an abandoned merge: %w", r.rangeID, err)
	}
	r.store.log.Info("thawed range after an abandoned merge", "range", r.rangeID, "left", fz.leftID)
	return false, nil
}

// Frozen reports whether a merge has frozen the range.
func (r *Replica) Frozen() bool { return r.fsm.freezeState() != nil }

// relocate, on the leaseholder, takes one step towards replicas on exactly the nodes
// req.Targets: adds a missing replica, or removes a surplus one (moving the lease away first
// when it is this one).
func (r *Replica) relocate(ctx context.Context, req *kvpb.AdminRelocateRequest) (*kvpb.BatchResponse, error) {
	desc := r.Desc()
	if desc.RangeID != req.Range.RangeID {
		return nil, fmt.Errorf("r%d: got the relocation of r%d, which is gone", r.rangeID, req.Range.RangeID)
	}
	if r.Frozen() {
		return nil, &kvpb.MergeInProgressError{RangeID: r.rangeID}
	}
	want := map[uint64]bool{}
	for _, t := range req.Targets {
		want[t] = true
	}
	step := func() (bool, error) {
		if fixed, err := r.settleLearners(ctx, want); fixed || err != nil {
			return false, err
		}
		for _, t := range req.Targets {
			if _, ok := desc.Replica(t); !ok {
				return false, r.AddReplica(ctx, kvpb.ReplicaDescriptor{NodeID: t, StoreID: t})
			}
		}
		for _, rd := range desc.Replicas {
			if want[rd.NodeID] {
				continue
			}
			if rd.NodeID != r.store.cfg.NodeID {
				return false, r.RemoveReplica(ctx, rd.NodeID)
			}
			for _, t := range req.Targets {
				if _, ok := desc.Replica(t); ok {
					return false, r.TransferLease(ctx, t)
				}
			}
		}
		return true, nil
	}
	done, err := step()
	if err != nil {
		return nil, err
	}
	resp := &kvpb.AdminRelocateResponse{Done: done, Range: *r.Desc()}
	return &kvpb.BatchResponse{Responses: []kvpb.Response{resp}}, nil
}

// settleLearners finishes or undoes a replica addition cut short after its learner joined
// the Raft group (the lease moved before the promotion): a learner on a wanted node becomes
// a voter, any other is removed. It reports whether it changed anything. Until then the
// group and the descriptor disagree, and a merge refuses the range.
func (r *Replica) settleLearners(ctx context.Context, want map[uint64]bool) (bool, error) {
	// Under changeMu, and from the configuration read under it: a learner seen outside it may
	// belong to an addition still under way, which would go on to promote it.
	r.changeMu.Lock()
	defer r.changeMu.Unlock()
	if err := r.checkLeaseholder(ctx); err != nil {
		return false, err
	}
	ctx = r.underLease(ctx)
	f := r.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return false, err
	}
	for _, srv := range f.Configuration().Servers {
		if srv.Suffrage == raft.Voter {
			continue
		}
		node := nodeOfServer(srv)
		if want[node] {
			return true, r.promoteLearner(ctx, node)
		}
		return true, r.removeLearner(node)
	}
	return false, nil
}

// mergeAbandoned reports whether the merge m names was abandoned before its command
// reached the log: the command must then change nothing.
func (f *rangeFSM) mergeAbandoned(m mergeArgs) (bool, error) {
	v, ok, err := mvcc.GetUnversioned(f.db, keys.RangeAbandonedMergeKey(f.rangeID))
	return ok && bytes.Equal(v, abandonedValue(m)), err
}

// mergeLocked applies, on the left range, the merge of the frozen range m names, adding
// to b what changes besides the left range's descriptor.
func (f *rangeFSM) mergeLocked(b *pebble.Batch, m mergeArgs) error {
	f.hooks.absorb(m.otherRangeID, m.freezeIndex)
	if err := mvcc.PutUnversioned(b, keys.RangeTombstoneKey(m.otherRangeID), []byte{1}); err != nil {
		return err
	}
	if err := mvcc.DeleteUnversioned(b, keys.RangeDescriptorKey(m.otherRangeID)); err != nil {
		return err
	}
	// The ranges the right one absorbed are now this one's (see abandonMergeLocked).
	if err := mvcc.PutUnversioned(b, mergedMarkerKey(f.rangeID, m.otherRangeID), []byte{1}); err != nil {
		return err
	}
	prefix := keys.RangeIDKey(m.otherRangeID, "mrgd")
	it, err := spanIter(f.db, prefixSpan(prefix))
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k, _, err := mvcc.DecodeKey(it.Key())
		if err != nil {
			return err
		}
		absorbed := binary.BigEndian.Uint64(k[len(prefix):])
		if err := mvcc.PutUnversioned(b, mergedMarkerKey(f.rangeID, absorbed), []byte{1}); err != nil {
			return err
		}
	}
	return it.Error()
}

// abandonMergeLocked applies, on the left range, the abandonment of the merge m names: if
// the range has absorbed the frozen range, the outcome is "merged"; otherwise it records
// that the merge command, should it reach the log later, is to be rejected. The record of
// absorbed ranges is replicated state (it travels in snapshots), so every replica, however
// it got its state, answers alike.
func (f *rangeFSM) abandonMergeLocked(b *pebble.Batch, m mergeArgs) (any, error) {
	if _, ok, err := mvcc.GetUnversioned(f.db, mergedMarkerKey(f.rangeID, m.otherRangeID)); err != nil {
		return nil, err
	} else if ok {
		return mergeOutcome{merged: true}, nil
	}
	if err := mvcc.PutUnversioned(b, keys.RangeAbandonedMergeKey(f.rangeID), abandonedValue(m)); err != nil {
		return nil, err
	}
	return mergeOutcome{merged: false}, nil
}

// retire applies the range's own log up to index upTo (entries the replica holds but has
// not applied yet), then stops the state machine for good.
func (f *rangeFSM) retire(upTo uint64, logs raft.LogStore) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.retired {
		return nil
	}
	defer func() { f.retired = true }()
	for i := f.applied + 1; i <= upTo; i++ {
		var l raft.Log
		if err := logs.GetLog(i, &l); err != nil {
			return fmt.Errorf("r%d: reading entry %d to apply before the merge: %w", f.rangeID, i, err)
		}
		f.applyLocked(&l)
	}
	if f.applied < upTo {
		return fmt.Errorf("r%d: applied only up to %d of %d before the merge", f.rangeID, f.applied, upTo)
	}
	return nil
}

// retireNow stops the state machine for good, as it is.
func (f *rangeFSM) retireNow() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.retired = true
}

// absorbRight brings this store's replica of rightID up to the freeze and retires it, for a
// merge that the left range is applying. The merge's protocol guarantees the replica exists
// and holds its log up to the freeze; if not, this replica's copy of the right-hand data is
// incomplete, which is logged loudly.
func (s *Store) absorbRight(rightID, freezeIndex uint64) {
	r := s.Replica(rightID)
	if r == nil {
		s.log.Error("merge: no replica of the absorbed range on this store", "range", rightID)
		return
	}
	if err := r.fsm.retire(freezeIndex, r.logStore); err != nil {
		s.log.Error("merge: the absorbed range's replica could not catch up", "range", rightID, "err", err)
	}
}

// mergeApplied takes the retired replica of rightID off the store (its span now routes to
// the merged range) and destroys what is left of it, keeping its data.
func (s *Store) mergeApplied(rightID uint64) {
	if r := s.detachReplica(rightID); r != nil {
		s.destroyLater(r)
	}
}

// retireOverlapping retires and destroys, keeping their keys, the store's replicas other
// than d's own whose spans overlap d's: d's snapshot is about to replace those keys. It
// returns with the store's span lock held, which the caller releases once the snapshot is
// in: no replica's destruction deletes keys meanwhile (see DestroyReplica).
//
// A replica that is frozen (its range merged away) or hears no leader (its range removed
// it) is stale. One that still serves its range is not: the snapshot is refused and its
// sender tries again later. That is a range split elsewhere and not yet here, whose new
// right-hand range sends this node a snapshot before the left range here has applied the
// split: the left replica still owns the keys, and will hand them over when it applies it.
func (s *Store) retireOverlapping(d *kvpb.RangeDescriptor) (release func(), err error) {
	s.spanMu.Lock()
	s.mu.RLock()
	var stale []*Replica
	for _, r := range s.byStart {
		o := r.Desc()
		if r.rangeID != d.RangeID && o.Overlaps(d) {
			if !r.Frozen() && r.HearsLeader() {
				s.mu.RUnlock()
				s.spanMu.Unlock()
				return nil, fmt.Errorf("a snapshot of %s overlaps %s, which is live on this store", d, o)
			}
			stale = append(stale, r)
		}
	}
	s.mu.RUnlock()
	for _, r := range stale {
		r.fsm.retireNow()
		if s.detachReplica(r.rangeID) != nil {
			s.log.Info("retiring a replica overlapped by a snapshot", "range", r.rangeID, "by", d.RangeID)
			s.destroyLater(r)
		}
	}
	return s.spanMu.Unlock, nil
}

// tombstoned reports whether range rangeID was merged away on this store.
func (s *Store) tombstoned(rangeID uint64) (bool, error) {
	_, ok, err := mvcc.GetUnversioned(s.db, keys.RangeTombstoneKey(rangeID))
	return ok, err
}

// removeTombstonedLeftovers deletes what a crash may have left of replicas merged away: the
// merge deleted their descriptors, but their Raft logs and state go afterwards.
func (s *Store) removeTombstonedLeftovers() error {
	it, err := spanIter(s.db, prefixSpan(keys.StoreTombstonePrefix))
	if err != nil {
		return err
	}
	defer it.Close()
	b := s.db.NewBatch()
	defer b.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k, _, err := mvcc.DecodeKey(it.Key())
		if err != nil {
			return err
		}
		id := binary.BigEndian.Uint64(k[len(keys.StoreTombstonePrefix):])
		for _, p := range [][]byte{keys.RangeIDKey(id, ""), keys.RaftLogPrefix(id)} {
			// Only where something is left: a range deletion written at every start, for
			// every range ever merged away, would pile up until compactions drop them.
			sp := prefixSpan(p)
			empty, err := spanEmpty(s.db, sp)
			if err != nil {
				return err
			}
			if empty {
				continue
			}
			if err := b.DeleteRange(sp[0], sp[1], nil); err != nil {
				return err
			}
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	return b.Commit(pebble.NoSync)
}

// spanEmpty reports whether the engine span sp holds no key.
func spanEmpty(r pebble.Reader, sp [2][]byte) (bool, error) {
	it, err := spanIter(r, sp)
	if err != nil {
		return false, err
	}
	empty := !it.First()
	return empty, it.Close()
}

// DataChecksum hashes the replica's user data (every version of every key in its span) and
// returns it with the Raft index it reflects: replicas of a range at the same applied index
// must agree. For consistency checks in tests and tools.
func (r *Replica) DataChecksum() (sum uint64, applied uint64, err error) {
	r.fsm.mu.Lock()
	snap := r.store.db.NewSnapshot()
	applied = r.fsm.applied
	d := r.Desc()
	r.fsm.mu.Unlock()
	defer snap.Close()
	if d.EndKey == nil {
		return 0, applied, nil
	}
	it, err := spanIter(snap, userDataSpan(d.StartKey, d.EndKey))
	if err != nil {
		return 0, applied, err
	}
	defer it.Close()
	h := fnv.New64a()
	for ok := it.First(); ok; ok = it.Next() {
		h.Write(it.Key())
		h.Write(it.Value())
	}
	return h.Sum64(), applied, it.Error()
}
