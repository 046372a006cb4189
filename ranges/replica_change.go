package ranges

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/hashicorp/raft"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
	"github.com/meridiandb/meridian/ranges/raftnet"
)

// Replica changes go one voter at a time, as hashicorp/raft has no joint consensus. The Raft
// configuration changes first and the range descriptor follows it in a second command; a
// crash between the two leaves the descriptor one change behind the group, which the next
// change on the range repairs, since each change starts from the Raft configuration.

// configTimeout bounds one Raft configuration change.
const configTimeout = 10 * time.Second

// AddReplica adds a replica of the range on target's node. It joins as a non-voting learner,
// is brought up to date with a snapshot, and only then becomes a voter, so the range never
// depends for its quorum on a replica that is still catching up. It runs on the leaseholder.
func (r *Replica) AddReplica(ctx context.Context, target kvpb.ReplicaDescriptor) error {
	r.changeMu.Lock()
	defer r.changeMu.Unlock()
	if err := r.checkLeaseholder(ctx); err != nil {
		return err
	}
	ctx = r.underLease(ctx)
	if r.Frozen() {
		return &kvpb.MergeInProgressError{RangeID: r.rangeID}
	}
	desc := r.Desc()
	if _, ok := desc.Replica(target.NodeID); ok {
		return fmt.Errorf("r%d already has a replica on n%d", r.rangeID, target.NodeID)
	}
	if err := r.snapshotForLearner(); err != nil {
		return fmt.Errorf("r%d: snapshot for the new replica on n%d: %w", r.rangeID, target.NodeID, err)
	}
	id, addr := raftID(target.NodeID), raftnet.Address(target.NodeID)
	if err := r.raft.AddNonvoter(id, addr, 0, configTimeout).Error(); err != nil {
		return fmt.Errorf("r%d: adding learner on n%d: %w", r.rangeID, target.NodeID, err)
	}
	if err := r.waitCaughtUp(ctx, target.NodeID, r.raft.LastIndex()); err != nil {
		// Take the learner out again rather than leave it behind, half added.
		if rerr := r.raft.RemoveServer(id, 0, configTimeout).Error(); rerr != nil {
			r.store.log.Warn("removing a learner that did not catch up", "range", r.rangeID, "node", target.NodeID, "err", rerr)
		}
		return err
	}
	if err := r.raft.AddVoter(id, addr, 0, configTimeout).Error(); err != nil {
		return fmt.Errorf("r%d: promoting n%d to voter: %w", r.rangeID, target.NodeID, err)
	}
	return r.recordConfiguration(ctx, &target)
}

// promoteLearner makes the learner on node nodeID, left behind by an addition whose
// promotion failed, a voter once it has caught up. The caller holds changeMu.
func (r *Replica) promoteLearner(ctx context.Context, nodeID uint64) error {
	if err := r.waitCaughtUp(ctx, nodeID, r.raft.LastIndex()); err != nil {
		return err
	}
	if err := r.raft.AddVoter(raftID(nodeID), raftnet.Address(nodeID), 0, configTimeout).Error(); err != nil {
		return fmt.Errorf("r%d: promoting n%d to voter: %w", r.rangeID, nodeID, err)
	}
	return r.recordConfiguration(ctx, &kvpb.ReplicaDescriptor{NodeID: nodeID, StoreID: nodeID})
}

// removeLearner takes out the learner on node nodeID, left behind by an addition whose
// promotion failed. The caller holds changeMu.
func (r *Replica) removeLearner(nodeID uint64) error {
	if err := r.raft.RemoveServer(raftID(nodeID), 0, configTimeout).Error(); err != nil {
		return fmt.Errorf("r%d: removing the learner on n%d: %w", r.rangeID, nodeID, err)
	}
	return nil
}

// RemoveReplica removes the range's replica on node nodeID. The leaseholder cannot remove
// itself: transfer the lease first.
func (r *Replica) RemoveReplica(ctx context.Context, nodeID uint64) error {
	r.changeMu.Lock()
	defer r.changeMu.Unlock()
	if err := r.checkLeaseholder(ctx); err != nil {
		return err
	}
	ctx = r.underLease(ctx)
	if r.Frozen() {
		return &kvpb.MergeInProgressError{RangeID: r.rangeID}
	}
	if nodeID == r.store.cfg.NodeID {
		return fmt.Errorf("r%d: the leaseholder n%d cannot remove itself; transfer the lease first", r.rangeID, nodeID)
	}
	desc := r.Desc()
	if _, ok := desc.Replica(nodeID); !ok {
		return fmt.Errorf("r%d has no replica on n%d", r.rangeID, nodeID)
	}
	if err := r.raft.RemoveServer(raftID(nodeID), 0, configTimeout).Error(); err != nil {
		return fmt.Errorf("r%d: removing n%d: %w", r.rangeID, nodeID, err)
	}
	return r.recordConfiguration(ctx, nil)
}

// TransferLease hands the range's lease (with its Raft leadership) to the replica on node
// nodeID, which must be a voter that is up to date.
func (r *Replica) TransferLease(ctx context.Context, nodeID uint64) error {
	// Raft leadership is all it takes: a leader whose node may not serve leases (see
	// StoreConfig.LeaseGate) must still be able to hand them over.
	if r.raft.State() != raft.Leader {
		return r.notLeaseHolder(0)
	}
	if nodeID == r.store.cfg.NodeID {
		return nil
	}
	if _, ok := r.Desc().Replica(nodeID); !ok {
		return fmt.Errorf("r%d has no replica on n%d", r.rangeID, nodeID)
	}
	// The target may lead before this replica hears of it: stop serving first, and whatever
	// the outcome, ask a quorum before serving again (the target, told to stand for
	// election at once, gets votes that the lease counted on being refused).
	r.transfers.Add(1)
	r.leaseUntil.Store(0)
	defer r.transfers.Add(-1)
	if err := r.raft.LeadershipTransferToServer(raftID(nodeID), raftnet.Address(nodeID)).Error(); err != nil {
		return fmt.Errorf("r%d: transferring the lease to n%d: %w", r.rangeID, nodeID, err)
	}
	return nil
}

// snapshotForLearner takes a snapshot that truncates the whole log, so that the leader must
// start a new replica from a snapshot. Replaying the log would not do: the range's state is
// not all in its log (a range made by a split starts with data its log never wrote).
func (r *Replica) snapshotForLearner() error {
	rc := r.raft.ReloadableConfig()
	trailing := rc.TrailingLogs
	rc.TrailingLogs = 0
	if err := r.raft.ReloadConfig(rc); err != nil {
		return err
	}
	defer func() {
		rc.TrailingLogs = trailing
		_ = r.raft.ReloadConfig(rc)
	}()
	// The barrier gives the snapshot something new to cover, so it always truncates.
	if err := r.raft.Barrier(configTimeout).Error(); err != nil {
		return err
	}
	return r.raft.Snapshot().Error()
}

// waitCaughtUp waits until node nodeID's replica holds the log up to index.
func (r *Replica) waitCaughtUp(ctx context.Context, nodeID, index uint64) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for r.group.Acknowledged(nodeID) < index {
		if r.raft.State() != raft.Leader {
			// Progress is only seen by the leader: another one would wait forever.
			return fmt.Errorf("r%d: lost the lease while the replica on n%d caught up: %w", r.rangeID, nodeID, r.notLeaseHolder(0))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("r%d: waiting for the replica on n%d to catch up to index %d (at %d): %w",
				r.rangeID, nodeID, index, r.group.Acknowledged(nodeID), ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// ReconcileDescriptor, on the leaseholder, rewrites the descriptor if its replicas are not
// the group's voters: a replica change interrupted between changing the Raft configuration
// and recording it leaves them apart. It reports whether it rewrote the descriptor.
func (r *Replica) ReconcileDescriptor(ctx context.Context) (bool, error) {
	r.changeMu.Lock()
	defer r.changeMu.Unlock()
	if !r.IsLeaseholder() {
		return false, nil
	}
	if err := r.checkLeaseholder(ctx); err != nil {
		return false, err
	}
	ctx = r.underLease(ctx)
	f := r.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return false, err
	}
	voters := map[uint64]bool{}
	for _, srv := range f.Configuration().Servers {
		if srv.Suffrage == raft.Voter {
			id, err := raftnet.NodeID(srv.Address)
			if err != nil {
				return false, err
			}
			voters[id] = true
		}
	}
	desc := r.Desc()
	same := len(voters) == len(desc.Replicas)
	for _, rd := range desc.Replicas {
		same = same && voters[rd.NodeID]
	}
	if same {
		return false, nil
	}
	return true, r.recordConfiguration(ctx, nil)
}

// IsLearner reports whether this replica is a non-voting member catching up, as far as its
// own Raft configuration knows.
func (r *Replica) IsLearner() bool {
	f := r.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	for _, srv := range f.Configuration().Servers {
		if srv.ID == raftID(r.store.cfg.NodeID) {
			return srv.Suffrage == raft.Nonvoter
		}
	}
	return false
}

// recordConfiguration writes a descriptor whose replicas are the group's voters. added
// describes a replica just added (its store), which the old descriptor cannot.
func (r *Replica) recordConfiguration(ctx context.Context, added *kvpb.ReplicaDescriptor) error {
	f := r.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return err
	}
	desc := r.Desc()
	next := *desc
	next.Replicas = nil
	for _, srv := range f.Configuration().Servers {
		if srv.Suffrage != raft.Voter {
			continue
		}
		nodeID, err := raftnet.NodeID(srv.Address)
		if err != nil {
			return err
		}
		rd, ok := desc.Replica(nodeID)
		if !ok {
			rd = kvpb.ReplicaDescriptor{NodeID: nodeID, StoreID: nodeID}
			if added != nil && added.NodeID == nodeID {
				rd.StoreID = added.StoreID
			}
			rd.ReplicaID = max(nextReplicaID(desc), nextReplicaID(&next))
		}
		next.Replicas = append(next.Replicas, rd)
	}
	next.Generation++
	return r.proposeDescriptor(ctx, &next)
}

func nextReplicaID(d *kvpb.RangeDescriptor) uint64 {
	var highest uint64
	for _, rd := range d.Replicas {
		highest = max(highest, rd.ReplicaID)
	}
	return highest + 1
}

// proposeDescriptor replicates a new descriptor of the range; every replica reloads it when
// it applies the command. When the range holds its own meta record (the first range does),
// the record changes in the same command.
func (r *Replica) proposeDescriptor(ctx context.Context, d *kvpb.RangeDescriptor) error {
	b := r.store.db.NewIndexedBatch()
	defer b.Close()
	if err := writeDescriptor(b, d, d, r.store.cfg.Clock.Now(), r.localNow()); err != nil {
		return err
	}
	return r.propose(ctx, command{flags: flagDescriptor, repr: b.Repr()})
}

// writeDescriptor writes d to its range-local key and, if range holder (which evaluates the
// write) holds d's meta record, to the meta record at ts, with local timestamp local.
func writeDescriptor(rw mvcc.ReadWriter, d, holder *kvpb.RangeDescriptor, ts, local hlc.Timestamp) error {
	if len(d.EndKey) == 0 {
		// Made from the descriptor of a replica that does not know its range yet: it would
		// take every key from the range.
		return fmt.Errorf("r%d: refusing to write a descriptor without keys", d.RangeID)
	}
	enc := encodeDescriptor(d)
	if err := mvcc.PutUnversioned(rw, keys.RangeDescriptorKey(d.RangeID), enc); err != nil {
		return err
	}
	if meta := keys.MetaKey(d.EndKey); holder.ContainsKey(meta) {
		if err := mvcc.Put(rw, meta, ts, local, enc, nil); err != nil {
			return fmt.Errorf("r%d: writing its meta record: %w", d.RangeID, err)
		}
	}
	return nil
}

// DestroyReplica removes this store's replica of range rangeID, which its range has removed:
// its Raft group stops, and its Raft log, range-local state, snapshots and (unless another
// replica here holds them) its keys are deleted.
func (s *Store) DestroyReplica(rangeID uint64) error {
	r := s.detachReplica(rangeID)
	if r == nil {
		return nil
	}
	if err := r.close(); err != nil {
		s.log.Warn("stopping a removed replica", "range", rangeID, "err", err)
	}
	return s.destroyState(r, true)
}

// detachReplica takes range rangeID's replica off the store's maps and returns it (nil if
// there was none): nothing routes to it any more.
func (s *Store) detachReplica(rangeID uint64) *Replica {
	s.mu.Lock()
	r := s.replicas[rangeID]
	delete(s.replicas, rangeID)
	s.mu.Unlock()
	if r != nil {
		s.descriptorChanged(r)
	}
	return r
}

// destroyLater stops a detached replica and deletes its state (not its keys, which another
// replica here now holds) in the background.
func (s *Store) destroyLater(r *Replica) {
	destroy := func(context.Context) {
		if err := r.close(); err != nil {
			s.log.Warn("stopping a retired replica", "range", r.rangeID, "err", err)
		}
		if err := s.destroyState(r, false); err != nil {
			s.log.Warn("deleting a retired replica's state", "range", r.rangeID, "err", err)
		}
	}
	select {
	case <-s.stopper:
		_ = r.close() // the store is closing and no longer knows the replica: stop it now
	default:
		s.async(destroy)
	}
}

// destroyState deletes a stopped replica's Raft log, range-local state and snapshots, and,
// with keys, its keys unless another replica here holds them.
func (s *Store) destroyState(r *Replica, withKeys bool) error {
	s.spanMu.Lock()
	defer s.spanMu.Unlock()
	rangeID := r.rangeID
	desc := r.Desc()
	b := s.db.NewBatch()
	defer b.Close()
	spans := [][2][]byte{prefixSpan(keys.RangeIDKey(rangeID, ""))}
	if withKeys && desc.EndKey != nil {
		if other, err := s.LookupReplica(desc.StartKey); err != nil || other == r {
			spans = rangeEngineSpans(rangeID, desc.StartKey, desc.EndKey)
		}
	}
	for _, sp := range spans {
		if err := b.DeleteRange(sp[0], sp[1], nil); err != nil {
			return err
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return err
	}
	if err := r.logStore.Destroy(); err != nil {
		return err
	}
	dir := filepath.Join(s.cfg.Dir, "raft", "r"+strconv.FormatUint(rangeID, 10)+".snap")
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	s.log.Info("destroyed replica", "range", rangeID)
	return nil
}
