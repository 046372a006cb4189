package ranges

import (
	"bytes"
	"context"
	"fmt"

	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// A split is one Raft command on the range being split. It shrinks the range's descriptor
// to the left half and writes the right half's descriptor (same replicas, new range ID);
// every replica, applying it, starts a replica of the new range, bootstrapping its Raft
// group with those replicas. The data needs no copying: both halves live in the same Pebble
// databases. The meta records of both halves are written by the same command when this
// range holds them (the first range holds every meta record); otherwise the caller updates
// them afterwards, and until then a stale meta record sends batches to the left half, which
// answers RangeKeyMismatchError with both descriptors.

// adminSplit splits the range at req.SplitKey.
func (r *Replica) adminSplit(ctx context.Context, req *kvpb.AdminSplitRequest) (*kvpb.BatchResponse, error) {
	release, err := r.lockShape(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	desc := r.Desc()
	key := req.SplitKey
	switch {
	case !desc.ContainsKey(key):
		return nil, r.keyMismatch(key)
	case bytes.Equal(key, desc.StartKey) && req.Sticky:
		return r.makeSticky(ctx, desc)
	case bytes.Equal(key, desc.StartKey):
		return nil, fmt.Errorf("r%d already starts at %q", r.rangeID, key)
	case bytes.Compare(key, keys.SystemMax) < 0:
		return nil, fmt.Errorf("cannot split at %q: the meta and system spans stay in the first range", key)
	case req.NewRangeID == 0:
		return nil, fmt.Errorf("split of r%d at %q needs a new range ID", r.rangeID, key)
	}

	left := *desc
	left.EndKey = append([]byte(nil), key...)
	left.Generation++
	right := kvpb.RangeDescriptor{
		RangeID: req.NewRangeID, StartKey: left.EndKey, EndKey: desc.EndKey,
		Replicas: append([]kvpb.ReplicaDescriptor(nil), desc.Replicas...), Generation: left.Generation,
		Sticky: req.Sticky,
	}
	b := r.store.db.NewIndexedBatch()
	defer b.Close()
	now, local := r.store.cfg.Clock.Now(), r.localNow()
	if err := writeDescriptor(b, &left, desc, now, local); err != nil {
		return nil, err
	}
	if err := writeDescriptor(b, &right, desc, now, local); err != nil {
		return nil, err
	}
	// The right half inherits the GC threshold: its history below it is as gone as ours.
	if v, ok, err := mvcc.GetUnversioned(r.store.db, keys.RangeGCThresholdKey(r.rangeID)); err != nil {
		return nil, err
	} else if ok {
		if err := mvcc.PutUnversioned(b, keys.RangeGCThresholdKey(right.RangeID), v); err != nil {
			return nil, err
		}
	}
	if err := r.propose(ctx, command{flags: flagDescriptor | flagSplit, splitRangeID: right.RangeID, repr: b.Repr()}); err != nil {
		return nil, fmt.Errorf("r%d: splitting at %q: %w", r.rangeID, key, r.proposalError(err, true))
	}
	r.store.log.Info("split range", "left", left.String(), "right", right.String())
	return &kvpb.BatchResponse{Responses: []kvpb.Response{&kvpb.AdminSplitResponse{Left: left, Right: right}}}, nil
}

// makeSticky answers a user's split at the range's start key: the boundary is already there
// (the split queue, or an earlier split, made it), and the user's split marks it sticky so
// that the merge queue keeps it. The generation rises, as with any descriptor change, so a
// merge planned with the old descriptor fails instead of undoing the split.
func (r *Replica) makeSticky(ctx context.Context, desc *kvpb.RangeDescriptor) (*kvpb.BatchResponse, error) {
	next := *desc
	if !next.Sticky {
		next.Sticky = true
		next.Generation++
		if err := r.proposeDescriptor(ctx, &next); err != nil {
			return nil, fmt.Errorf("r%d: marking its split sticky: %w", r.rangeID, r.proposalError(err, true))
		}
	}
	return &kvpb.BatchResponse{Responses: []kvpb.Response{&kvpb.AdminSplitResponse{Right: next}}}, nil
}

// splitApplied starts this store's replica of the right-hand side of a split it applied.
// A message from the new range's leader may have arrived first and created an empty
// replica; that one just learns its descriptor, and applies nothing before (see
// rangeFSM.awaitInitialized). On the node that led the split range, the new replica
// stands for election at once: the new range has its leader (and leaseholder) where the
// old one had, instead of after an election timeout (2-4 s by default), during which
// nothing could be written to it.
func (s *Store) splitApplied(right *kvpb.RangeDescriptor, left *Replica) {
	ledLeft := left.IsLeaseholder()
	if _, ok := right.Replica(s.cfg.NodeID); !ok {
		return
	}
	// Under the store lock from the look to the start, like createReplica: a message of the
	// new range arriving meanwhile must find this replica, not start a second one.
	s.mu.Lock()
	existing := s.replicas[right.RangeID]
	var r *Replica
	var err error
	if existing == nil {
		// No write may land on the new range below what the split range may have served
		// reads at; its timestamp cache starts above the present.
		lowWater := s.cfg.Clock.Now().Add(int64(s.cfg.Clock.MaxOffset()))
		if r, err = newReplica(context.Background(), s, right, lowWater); err == nil {
			s.replicas[right.RangeID] = r
			if ledLeft && len(right.Replicas) == 1 {
				r.inheritedMinValid.Store(max(left.minValidObserved.Load(), 1))
			}
		}
	}
	s.mu.Unlock()
	switch {
	case existing != nil:
		if !existing.initialized() {
			existing.setDesc(right)
		}
		return
	case err != nil:
		// The descriptor is persisted: the replica starts on the next restart.
		s.log.Error("starting the right-hand range of a split", "range", right.RangeID, "err", err)
		return
	}
	s.descriptorChanged(r)
	if ledLeft && len(right.Replicas) > 1 {
		s.async(func(ctx context.Context) {
			ctx, cancel := context.WithTimeout(ctx, s.cfg.RaftHeartbeatTimeout)
			defer cancel()
			if err := r.group.CampaignNow(ctx); err != nil {
				s.log.Debug("campaigning for a new range", "range", right.RangeID, "err", err)
			}
		})
	}
}

// checkKeys fails a batch with keys outside the range.
func (r *Replica) checkKeys(ba *kvpb.BatchRequest) error {
	desc := r.Desc()
	for _, req := range ba.Requests {
		h := req.Header()
		key := h.Key
		if len(key) == 0 && ba.Txn != nil {
			key = ba.Txn.Key // EndTxn, HeartbeatTxn: the record's anchor
		}
		inside := desc.ContainsKey(key)
		if inside && len(h.EndKey) > 0 {
			inside = bytes.Compare(keys.Addr(h.EndKey), desc.EndKey) <= 0
		}
		if !inside {
			return r.keyMismatch(key)
		}
	}
	return nil
}

// keyMismatch reports that key is outside the range, with the descriptors this store knows
// for the range and for key, for the sender's cache.
func (r *Replica) keyMismatch(key []byte) error {
	err := &kvpb.RangeKeyMismatchError{RangeID: r.rangeID, Key: key, Ranges: []kvpb.RangeDescriptor{*r.Desc()}}
	if other := r.store.leaseholderFor(key); other != nil && other != r {
		err.Ranges = append(err.Ranges, *other.Desc())
	}
	return err
}

// leaseholderFor returns the store's replica holding key if it holds that range's lease:
// only then is its descriptor known current, fit to give a sender as a hint. (A replica
// left behind by a range that moved on would send the sender round in circles.)
func (s *Store) leaseholderFor(key []byte) *Replica {
	r, err := s.LookupReplica(key)
	if err != nil || !r.IsLeaseholder() {
		return nil
	}
	return r
}

// ApproximateBytes estimates the disk space of the range's data.
func (r *Replica) ApproximateBytes() int64 {
	d := r.Desc()
	if d.EndKey == nil {
		return 0
	}
	var total uint64
	for _, sp := range rangeEngineSpans(r.rangeID, d.StartKey, d.EndKey) {
		n, err := r.store.db.EstimateDiskUsage(sp[0], sp[1])
		if err == nil {
			total += n
		}
	}
	return int64(total)
}
