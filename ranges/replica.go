package ranges

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
	"github.com/meridiandb/meridian/ranges/raftlog"
	"github.com/meridiandb/meridian/ranges/raftnet"
)

// Replica is one store's copy of a range: a Raft group member plus, at the leaseholder, the
// machinery that evaluates requests (latches, timestamp cache).
type Replica struct {
	store   *Store
	rangeID uint64

	mu   sync.RWMutex
	desc *kvpb.RangeDescriptor // span empty until the replica is initialized (by a snapshot)

	raft     *raft.Raft
	fsm      *rangeFSM
	logStore *raftlog.Store
	snaps    *lazySnapshots
	group    *raftnet.Group

	latches *latchManager
	tsc     *tsCache
	locks   *lockTable    // unreplicated locks, and writers waiting for others' locks
	txnWait *txnWaitQueue // pushes waiting for transactions whose records live here
	// finalized are transactions whose intents lock waiters here found finished.
	finalized finalizedTxns

	// readyTerm is the Raft term in which this replica, as leader, has applied every entry
	// committed before it took over, and so may serve reads.
	readyTerm atomic.Uint64
	// leaseUntil (monoNow nanoseconds) is when the lease ends unless renewed: no other
	// replica can lead the group before then (see extendLease). leaseRenewing is set while a
	// renewal runs in the background; transfers counts the handovers of the lease under way.
	leaseUntil    atomic.Int64
	leaseRenewing atomic.Bool
	transfers     atomic.Int32
	// handingOff is set while a leader that does not know its range yet hands leadership
	// to a replica that does (see checkLeaseholder).
	handingOff atomic.Bool
	// minValidObserved is the wall time below which no observed timestamp of this node
	// shrinks a transaction's uncertainty interval here: every value in the range written
	// by another node's clock has a local timestamp at or below it (see uncertaintyInterval).
	minValidObserved atomic.Int64
	// inheritedMinValid, when not zero, is the left range's minValidObserved, for the first
	// lease of a range split off one this node led, with no replica elsewhere (see takeLease).
	inheritedMinValid atomic.Int64
	// changeMu serializes replica changes.
	changeMu sync.Mutex

	// gcThresholdWall caches the persisted GC threshold's wall time (see checkGCThreshold).
	gcThresholdWall atomic.Int64

	load         loadStats // requests served, for load-based splits
	writeCounter           // bytes applied, for size-based splits
	// shapeSince is when (Unix nanoseconds) the replica got its present span.
	shapeSince atomic.Int64
}

// newReplica starts the replica of desc's range on s. A replica whose Raft group has no
// state yet is bootstrapped with desc's replicas as voters if desc is initialized (the
// first range of a new cluster; the right-hand side of a split, which every replica of the
// split range creates identically); an uninitialized one (being added here) starts empty and
// waits for its leader's snapshot. Otherwise the group resumes from the store. No write
// lands at or below lowWater on the new replica (its timestamp cache starts there).
func newReplica(ctx context.Context, s *Store, desc *kvpb.RangeDescriptor, lowWater hlc.Timestamp) (*Replica, error) {
	r := &Replica{
		store:   s,
		rangeID: desc.RangeID,
		desc:    desc,
		latches: newLatchManager(),
		tsc:     newTSCache(lowWater),
		locks:   newLockTable(),
		txnWait: newTxnWaitQueue(),
	}
	fsm, err := newRangeFSM(s.db, desc.RangeID, fsmHooks{
		desc: r.Desc, onDesc: r.setDesc, onSplit: func(right *kvpb.RangeDescriptor) { s.splitApplied(right, r) },
		absorb: func(rightID, freezeIndex uint64) {
			// The absorbed range's values were written under its leaseholder's clock, and
			// become ours to serve once the merge applies.
			r.forwardMinValidObserved()
			s.absorbRight(rightID, freezeIndex)
		},
		onMerged: s.mergeApplied, retireOverlapping: s.retireOverlapping,
	}, &r.written, &s.stats)
	if err != nil {
		return nil, err
	}
	r.fsm = fsm
	dir := filepath.Join(s.cfg.Dir, "raft", "r"+strconv.FormatUint(desc.RangeID, 10))
	r.logStore = raftlog.New(s.db, keys.RaftLogPrefix(desc.RangeID))
	files, err := raft.NewFileSnapshotStoreWithLogger(dir+".snap", 2, hclog.NewNullLogger())
	if err != nil {
		return nil, fmt.Errorf("r%d: opening snapshot store: %w", desc.RangeID, err)
	}
	snaps := newLazySnapshots(dir+".snap", fsm, files)
	r.snaps = snaps
	if r.group, err = s.transport.Group(desc.RangeID); err != nil {
		return nil, err
	}
	conf := s.raftConfig(desc.RangeID)
	cache, err := raft.NewLogCache(raftLogCacheEntries, r.logStore)
	if err != nil {
		r.group.Close()
		return nil, err
	}
	hasState, err := raft.HasExistingState(cache, r.logStore, snaps)
	if err != nil {
		r.group.Close()
		return nil, err
	}
	if !hasState && desc.EndKey != nil {
		var servers []raft.Server
		for _, rd := range desc.Replicas {
			servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raftID(rd.NodeID), Address: raftnet.Address(rd.NodeID)})
		}
		if err := raft.BootstrapCluster(conf, cache, r.logStore, snaps, r.group, raft.Configuration{Servers: servers}); err != nil {
			r.group.Close()
			return nil, fmt.Errorf("r%d: bootstrapping raft: %w", desc.RangeID, err)
		}
	}
	rf, err := raft.NewRaft(conf, fsm, cache, r.logStore, snaps, r.group)
	if err != nil {
		r.group.Close()
		return nil, fmt.Errorf("r%d: starting raft: %w", desc.RangeID, err)
	}
	r.raft = rf
	r.sizeCheckedAt.Store(-1) // measure a new replica once, written to or not (a split's right half)
	r.shapeSince.Store(time.Now().UnixNano())
	th, err := r.gcThreshold()
	if err != nil {
		return nil, err
	}
	r.gcThresholdWall.Store(th.WallTime)
	return r, nil
}

// nodeOfServer is the node of a Raft group member (0 if its address is not a node's).
func nodeOfServer(srv raft.Server) uint64 {
	id, _ := raftnet.NodeID(srv.Address)
	return id
}

// raftLogCacheEntries is how many of its latest log entries each range keeps in memory,
// for the leader to send them to followers without reading them back from Pebble. Followers
// are rarely more than a few entries behind; older entries are read from the log store. A
// cache of 1,024 entries per range held gigabytes on every node while bulk loads wrote
// entries of hundreds of kilobytes (TPC-C at 40 warehouses ran the machine out of memory).
const raftLogCacheEntries = 64

// raftID is the Raft server ID of node nodeID's replica: a range has at most one replica per
// node, so the node ID names it.
func raftID(nodeID uint64) raft.ServerID { return raft.ServerID(raftnet.Address(nodeID)) }

// raftConfig is the Raft configuration of every group on the store.
func (s *Store) raftConfig(rangeID uint64) *raft.Config {
	conf := raft.DefaultConfig()
	conf.LocalID = raftID(s.cfg.NodeID)
	conf.NoSnapshotRestoreOnStart = true
	conf.HeartbeatTimeout = s.cfg.RaftHeartbeatTimeout
	conf.ElectionTimeout = s.cfg.RaftHeartbeatTimeout
	// A leader steps down once it has not heard from a quorum for this long, which is before
	// any follower can time out and elect another: a leader that serves reads alone (without
	// a Raft round) is the only leader. See Replica.checkLeaseholder.
	conf.LeaderLeaseTimeout = s.cfg.RaftHeartbeatTimeout / 2
	// Between writes a leader tells followers the commit index only every CommitTimeout
	// (hashicorp/raft's heartbeats do not carry it), so followers apply the last writes of
	// a burst, a split or a replica change up to this late. Far above the heartbeat timeout
	// it would make idle groups cheaper still, but leave followers that far behind.
	conf.CommitTimeout = s.cfg.RaftHeartbeatTimeout
	if s.cfg.RaftSnapshotThreshold > 0 {
		conf.SnapshotThreshold = s.cfg.RaftSnapshotThreshold
		conf.TrailingLogs = s.cfg.RaftSnapshotThreshold / 2
	}
	conf.Logger = hclog.New(&hclog.LoggerOptions{Name: fmt.Sprintf("raft r%d", rangeID), Level: hclog.Warn, Output: io.Discard})
	return conf
}

// initialized reports whether the replica knows its range (bootstrapped, loaded, or filled
// by a snapshot).
func (r *Replica) initialized() bool { return r.Desc().EndKey != nil }

// setDesc installs a new descriptor that Raft applied (a replica change, or a snapshot).
func (r *Replica) setDesc(d *kvpb.RangeDescriptor) {
	r.mu.Lock()
	old := r.desc
	r.desc = d
	r.mu.Unlock()
	if !bytes.Equal(old.StartKey, d.StartKey) || !bytes.Equal(old.EndKey, d.EndKey) {
		r.shapeSince.Store(time.Now().UnixNano())
		r.locks.forgetOutside(d)
	}
	r.store.descriptorChanged(r)
}

// checkLeaseholder makes sure this replica may evaluate a batch. For now the Raft leader is
// the leaseholder; it must also have applied every entry committed before it took over, so
// that its reads see every acknowledged write, and its lease must not have run out (see
// leaseValid): a leader that stalled (a loaded machine, a long pause) may still think itself
// leader after the others elected another. A replica that is its range's only one waits
// a few election timeouts for its own election (a store starting up); any other names the
// leader it knows of, or none, at once: the sender tries the other replicas meanwhile,
// instead of waiting on one that may have been removed and will never hear of a leader.
func (r *Replica) checkLeaseholder(ctx context.Context) error {
	timeout := r.store.cfg.RaftHeartbeatTimeout
	deadline := time.Now().Add(3 * timeout)
	for {
		if r.raft.State() == raft.Leader {
			if !r.initialized() {
				r.handOffLeadership()
				return r.notLeaseHolder(0)
			}
			if gate := r.store.cfg.LeaseGate; gate != nil && bytes.Compare(r.Desc().StartKey, keys.SystemMax) >= 0 {
				if err := gate(); err != nil {
					return r.notLeaseHolder(0)
				}
			}
			if r.transfers.Load() > 0 {
				return r.notLeaseHolder(0)
			}
			term := r.raft.CurrentTerm()
			if r.readyTerm.Load() == term {
				if r.leaseValid() {
					return nil
				}
				if err := r.renewLease(); err != nil {
					return r.notLeaseHolder(0)
				}
				return nil
			}
			start := monoNow()
			if err := r.raft.Barrier(3 * timeout).Error(); err != nil {
				return r.notLeaseHolder(0)
			}
			r.extendLease(start)
			r.takeLease()
			r.readyTerm.Store(term)
			return nil
		}
		if _, id := r.raft.LeaderWithID(); id != "" {
			leader, err := raftnet.NodeID(raft.ServerAddress(id))
			if err == nil && leader != r.store.cfg.NodeID {
				return r.notLeaseHolder(leader)
			}
		}
		if time.Now().After(deadline) || len(r.Desc().Replicas) != 1 {
			return r.notLeaseHolder(0)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// handOffLeadership moves leadership away from a replica that leads its group but does not
// know its range yet. That happens: the right-hand range of a split reaches a node, as
// messages, before the node's left replica applies the split, and the empty replica made
// for them can win an election. Knowing no keys, it can serve nothing, and a descriptor
// change it proposed would give every replica its empty descriptor; a replica that knows
// the range must lead instead. (Waiting would do if the split is only late here, but not if
// this node's left replica is gone and a snapshot must fill this one: a leader gets none.)
func (r *Replica) handOffLeadership() {
	if !r.handingOff.CompareAndSwap(false, true) {
		return
	}
	r.store.async(func(ctx context.Context) {
		defer r.handingOff.Store(false)
		if err := r.raft.LeadershipTransfer().Error(); err != nil {
			r.store.log.Debug("handing off the leadership of a range not known here yet", "range", r.rangeID, "err", err)
		}
	})
}

// monoEpoch anchors monoNow.
var monoEpoch = time.Now()

// monoNow reads the monotonic clock, in nanoseconds since the process started: lease ends
// are compared with it, so that a change of the wall clock cannot stretch a lease.
func monoNow() int64 { return int64(time.Since(monoEpoch)) }

// leaseDuration is how long after a round with a quorum (begun at start) this replica
// keeps its lease. A follower stands for election only once it has heard nothing from its
// leader for a heartbeat timeout, and refuses its vote to others until then; a quorum heard
// from this leader after start, and any election needs one of them: no other leader can
// exist before start plus a heartbeat timeout. The lease ends a tenth earlier, for timers
// that fire early and clocks that run at slightly different rates.
func (r *Replica) leaseDuration() time.Duration {
	return r.store.cfg.RaftHeartbeatTimeout * 9 / 10
}

// extendLease moves the lease's end to start plus leaseDuration, where start was read
// before a round of Raft (a barrier, a leadership check) that a quorum answered.
func (r *Replica) extendLease(start int64) {
	until := start + int64(r.leaseDuration())
	for {
		old := r.leaseUntil.Load()
		if until <= old || r.leaseUntil.CompareAndSwap(old, until) {
			return
		}
	}
}

// renewLease checks with a quorum that this replica still leads its group, and extends the
// lease from when it asked.
func (r *Replica) renewLease() error {
	start := monoNow()
	if err := r.raft.VerifyLeader().Error(); err != nil {
		return err
	}
	r.extendLease(start)
	return nil
}

// leaseValid reports whether this replica's lease has not run out (and is not being handed
// over); past half its life, it renews the lease in the background, so that a busy range
// never waits for a renewal. It is checked before a batch is evaluated and again before an
// answer given without a round of Raft (a read, a pipelined write) leaves: a replica that
// stalled in between may have read after another leader took over, and only a lease still
// valid after the read proves that no other leader existed during it.
func (r *Replica) leaseValid() bool {
	if r.transfers.Load() > 0 {
		return false
	}
	now, until := monoNow(), r.leaseUntil.Load()
	if now >= until {
		return false
	}
	if until-now < int64(r.leaseDuration()/2) && r.leaseRenewing.CompareAndSwap(false, true) {
		// Raft settles the future, at the latest when the group shuts down.
		go func() {
			defer r.leaseRenewing.Store(false)
			_ = r.renewLease()
		}()
	}
	return true
}

// awaitSoleLeaseholder waits for a replica that is its range's only member to lead it. Alone
// it always wins the election, but on a loaded machine that can take longer than one
// checkLeaseholder allows (CI saw a single-node test fail to open its store so), so it
// keeps checking for up to a minute; a replica with other members fails at once.
func (r *Replica) awaitSoleLeaseholder(ctx context.Context) error {
	deadline := time.Now().Add(time.Minute)
	for {
		err := r.checkLeaseholder(ctx)
		if err == nil || ctx.Err() != nil || len(r.Desc().Replicas) != 1 || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// proposalError turns Raft's refusals into errors the sender can act on. A proposal refused
// because this replica is not (or is ceasing to be) the leader was never applied: the
// sender should retry at the new leaseholder. One whose leader lost leadership while it
// was in flight may yet be applied by the next leader: retrying is fine if doing it twice
// does no harm (retrySafe: writes of an open transaction rewrite their own intents; a split
// or merge retried finds itself done), but otherwise, as for a commit, the outcome is
// unknown.
func (r *Replica) proposalError(err error, retrySafe bool) error {
	var stale *staleLeaseError
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress), errors.As(err, &stale):
		return r.notLeaseHolder(0)
	case errors.Is(err, raft.ErrLeadershipLost):
		if !retrySafe {
			return &kvpb.AmbiguousResultError{Message: err.Error()}
		}
		return r.notLeaseHolder(0)
	}
	return err
}

// HearsLeader reports whether the replica knows a current leader of its group: a member
// hears from it; a removed replica stops hearing within a heartbeat timeout.
func (r *Replica) HearsLeader() bool {
	_, id := r.raft.LeaderWithID()
	return id != ""
}

// IsLeaseholder reports, without waiting, whether this replica holds the range's lease. A
// leader that does not know its range yet holds none (see handOffLeadership).
func (r *Replica) IsLeaseholder() bool { return r.raft.State() == raft.Leader && r.initialized() }

// takeLease prepares a replica that just became leaseholder. The previous leaseholder, on
// another node, may have served reads this one's timestamp cache knows nothing about, at
// timestamps up to its own physical clock plus the maximum clock offset (see
// awaitReadableTimestamp), and its clock is at most that offset ahead of ours: no write may
// land below now + twice the max offset. (Alone, a range has had no other leaseholder; its
// restarts are covered by the store's persisted low water.) It also wrote values under its
// own clock, which observations of ours say nothing about (forwardMinValidObserved).
func (r *Replica) takeLease() {
	clock := r.store.cfg.Clock
	if len(r.Desc().Replicas) > 1 {
		// From the physical clock, not the hybrid one: a hybrid clock already moved ahead by
		// such pushes would otherwise push further at every lease change.
		r.tsc.forwardLowWater(hlc.Timestamp{WallTime: clock.PhysicalNow() + 2*int64(clock.MaxOffset())})
	}
	// Even a range that is alone now: it may have had replicas, and leaseholders, on other
	// nodes, and this node may have restarted with its clock set back since it wrote. Not so
	// the first lease of a range split off one this node led, alone: every value in it was
	// written under the left range's leases, here, so the left range's minimum holds.
	if inherited := r.inheritedMinValid.Swap(0); inherited != 0 && len(r.Desc().Replicas) == 1 {
		r.minValidObserved.Store(max(r.minValidObserved.Load(), inherited))
	} else {
		r.forwardMinValidObserved()
	}
	// The previous leaseholder may have collected garbage since this replica last looked.
	if th, err := r.gcThreshold(); err == nil {
		r.gcThresholdWall.Store(th.WallTime)
	}
	// Locks this replica held under an earlier lease may have been overtaken since.
	r.locks.dropUnreplicated()
}

// forwardMinValidObserved raises the minimum valid observed timestamp to this node's
// physical clock plus the maximum clock offset, for values that become this replica's to
// serve having been written under another node's clock: under an earlier lease, or by the
// leaseholder of a range being merged into this one. Each was evaluated before now, by a
// clock at most one offset ahead of ours, so its local timestamp is below the new minimum;
// an observation of this node below it cannot tell whether such a value was written before
// or after it, and yields to it.
func (r *Replica) forwardMinValidObserved() {
	clock := r.store.cfg.Clock
	min := clock.PhysicalNow() + int64(clock.MaxOffset())
	for {
		old := r.minValidObserved.Load()
		if min <= old || r.minValidObserved.CompareAndSwap(old, min) {
			return
		}
	}
}

func (r *Replica) notLeaseHolder(leader uint64) error {
	return &kvpb.NotLeaseHolderError{RangeID: r.rangeID, NodeID: r.store.cfg.NodeID, LeaseHolder: leader}
}

// Desc returns the range descriptor.
func (r *Replica) Desc() *kvpb.RangeDescriptor {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.desc
}

// RaftStats reports the Raft group's state (for status endpoints and tests).
func (r *Replica) RaftStats() map[string]string { return r.raft.Stats() }

// AppliedIndex is the last Raft index applied to Pebble.
func (r *Replica) AppliedIndex() uint64 { return r.fsm.appliedIndex() }

func (r *Replica) close() error {
	// A command waiting for the replica to learn its range (see awaitInitialized) would
	// keep Raft from shutting down; nothing more is applied here anyway.
	r.fsm.retireNow()
	var errs []error
	if r.raft != nil {
		errs = append(errs, r.raft.Shutdown().Error())
	}
	return errors.Join(errs...)
}

// leaseTermKey carries, in a request's context, the lease (term) its evaluation relies on.
type leaseTermKey struct{}

// underLease records in ctx the lease this replica holds now (checkLeaseholder has passed).
func (r *Replica) underLease(ctx context.Context) context.Context {
	return context.WithValue(ctx, leaseTermKey{}, r.readyTerm.Load())
}

// propose replicates a Pebble batch through Raft and waits until it is applied. The command
// carries the lease it was evaluated under (see command.leaseTerm).
func (r *Replica) propose(ctx context.Context, cmd command) error {
	_, err := r.proposeResult(ctx, cmd)
	return err
}

// proposeResult is propose, returning what applying the command reported.
func (r *Replica) proposeResult(ctx context.Context, cmd command) (any, error) {
	timeout := proposalTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	f := r.submit(ctx, cmd, timeout)
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("r%d: replicating: %w", r.rangeID, err)
	}
	resp := f.Response()
	if err, ok := resp.(error); ok {
		return nil, err
	}
	return resp, nil
}

// proposalTimeout bounds how long a proposal may wait to enter Raft when its request has
// no deadline of its own.
const proposalTimeout = 30 * time.Second

// submit hands a command to Raft, stamped with the lease it was evaluated under (see
// command.leaseTerm), and returns the future of its application.
func (r *Replica) submit(ctx context.Context, cmd command, timeout time.Duration) raft.ApplyFuture {
	if term, ok := ctx.Value(leaseTermKey{}).(uint64); ok {
		cmd.leaseTerm = term
	} else {
		cmd.leaseTerm = r.readyTerm.Load()
	}
	r.store.stats.proposals.Add(1)
	return r.raft.Apply(encodeCommand(cmd), timeout)
}

// Send evaluates a batch on this range, replicating its writes. Intents of other
// transactions met on the way are resolved or waited for here; a conflict that cannot be
// waited out returns a retry error for the transaction.
func (r *Replica) Send(ctx context.Context, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error) {
	if err := r.checkLeaseholder(ctx); err != nil {
		return nil, err
	}
	ctx = r.underLease(ctx)
	if len(ba.Requests) > 0 {
		r.load.record(ba.Requests[0].Header().Key, time.Now())
	}
	if len(ba.Requests) == 1 {
		switch req := ba.Requests[0].(type) {
		case *kvpb.SubsumeRequest:
			return r.subsume(ctx, req) // also when frozen: it answers again for its merge
		case *kvpb.RangeStatsRequest:
			return &kvpb.BatchResponse{Responses: []kvpb.Response{&kvpb.RangeStatsResponse{
				NodeID: r.store.cfg.NodeID, ApproximateBytes: r.ApproximateBytes(),
				QPS: r.load.rate(time.Now()), Age: time.Duration(time.Now().UnixNano() - r.shapeSince.Load()),
				Bytes: r.dataBytes(req.SizeLimit),
			}}}, nil
		}
	}
	if r.Frozen() {
		return nil, &kvpb.MergeInProgressError{RangeID: r.rangeID}
	}
	if len(ba.Requests) == 1 {
		switch req := ba.Requests[0].(type) {
		case *kvpb.AdminSplitRequest:
			return r.adminSplit(ctx, req)
		case *kvpb.AdminMergeRequest:
			return r.adminMerge(ctx, req)
		case *kvpb.ResolveMergeRequest:
			return r.resolveMerge(ctx, req)
		case *kvpb.AdminRelocateRequest:
			return r.relocate(ctx, req)
		}
	}
	if ba.Txn != nil {
		ba.Timestamp = ba.Txn.ReadTimestamp
	} else if ba.Timestamp.IsEmpty() {
		ba.Timestamp = r.store.cfg.Clock.Now()
	}
	// A timestamp from another node moves our clock forward. One too far ahead means a
	// broken clock there, unless it is a transaction's timestamp, which may have been pushed
	// into the future (see takeLease) and then carries no news about any clock.
	if _, err := r.store.cfg.Clock.Update(ba.Timestamp); err != nil && ba.Txn == nil {
		return nil, err
	}
	if err := r.checkGCThreshold(ba); err != nil {
		return nil, err
	}
	if err := r.awaitReadableTimestamp(ctx, ba.Timestamp); err != nil {
		return nil, err
	}
	if len(ba.Requests) == 1 {
		if push, ok := ba.Requests[0].(*kvpb.PushTxnRequest); ok {
			return r.push(ctx, ba, push)
		}
	}
	var deadline time.Time
	if ba.LockTimeout > 0 {
		deadline = time.Now().Add(ba.LockTimeout)
	}
	// lw is the batch's place in the lock table while it waits for, or has just been let
	// through to, a key another transaction locked.
	var lw *lockWaiter
	defer func() {
		if lw != nil {
			r.locks.leave(lw, nil)
		}
	}()
	if key := r.queuedKey(ba); key != nil {
		var err error
		if lw, err = r.waitForLock(ctx, ba, key, nil, deadline); err != nil {
			return nil, err
		}
	}
	for {
		br, err := r.sendOnce(ctx, ba)
		if err != nil {
			err = r.proposalError(err, ba.Replayable())
		}
		if lw != nil {
			r.locks.leave(lw, lockedBy(ba, lw.key, err))
			lw = nil
		}
		var uncertain *mvcc.ReadWithinUncertaintyIntervalError
		if errors.As(err, &uncertain) && ba.Txn != nil {
			return nil, &kvpb.TransactionRetryError{Reason: kvpb.RetryUncertainty, Timestamp: uncertain.ExistingTimestamp,
				Message:     fmt.Sprintf("read at %s met a value written at %s, possibly before the transaction began", uncertain.ReadTimestamp, uncertain.ExistingTimestamp),
				Key:         uncertain.Key,
				Conflicting: &kvpb.ConflictingTxn{Timestamp: uncertain.ExistingTimestamp}}
		}
		var wie *mvcc.WriteIntentError
		if !errors.As(err, &wie) {
			if err == nil {
				err = r.observe(ctx, br, ba.IsWrite(), ba.Txn != nil)
			}
			return br, err
		}
		if !ba.IsWrite() {
			// Readers never wait: they move the writers above their reads.
			uncommitted, err := r.store.pushWritersAbove(ctx, ba.Txn, ba.Timestamp, wie.Intents)
			if err != nil {
				return nil, err
			}
			ba.Uncommitted = append(ba.Uncommitted, uncommitted...)
			continue
		}
		in := wie.Intents[0]
		if ba.Txn != nil && in.Txn.ID == ba.Txn.ID {
			// Its own intent, met by an evaluation that writes as if there were none (a
			// one-phase commit): waiting would wait for itself, forever.
			return nil, fmt.Errorf("range %d: a batch of transaction %s met its own intent on %q", r.rangeID, ba.Txn.ID, in.Key)
		}
		if lw, err = r.waitForLock(ctx, ba, in.Key, &in.Txn, deadline); err != nil {
			return nil, err
		}
	}
}

// awaitReadableTimestamp holds back a batch reading at ts until ts is no more than the
// maximum clock offset ahead of this node's physical clock. A transaction pushed far into
// the future (by readers, by the timestamp cache) reads, and refreshes, at its pushed
// timestamp; the timestamp cache that protects such a read is this leaseholder's alone, and
// the next leaseholder only knows that no read was served above its own physical clock plus
// twice the offset (takeLease). The wait is rare: pushes go at most one offset ahead of the
// pusher's reads.
func (r *Replica) awaitReadableTimestamp(ctx context.Context, ts hlc.Timestamp) error {
	clock := r.store.cfg.Clock
	for {
		ahead := time.Duration(ts.WallTime - clock.PhysicalNow() - int64(clock.MaxOffset()))
		if ahead <= 0 {
			return nil
		}
		t := time.NewTimer(ahead)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// queuedKey is a key the batch writes for which others already queue in the lock table, so
// the batch must queue behind them rather than overtake; nil if there is none.
func (r *Replica) queuedKey(ba *kvpb.BatchRequest) []byte {
	for _, req := range ba.Requests {
		if writesIntents(req) {
			if h := req.Header(); len(h.EndKey) == 0 && r.locks.queuedAhead(h.Key, txnIDOf(ba)) {
				return h.Key
			}
		}
	}
	return nil
}

// lockedBy is the transaction that holds the lock on key after ba evaluated with result err:
// ba's own, if it wrote or locked the key.
func lockedBy(ba *kvpb.BatchRequest, key string, err error) *mvcc.TxnMeta {
	if err != nil || ba.Txn == nil {
		return nil
	}
	for _, req := range ba.Requests {
		if writesIntents(req) && req.Header().Contains([]byte(key)) {
			return &ba.Txn.TxnMeta
		}
	}
	return nil
}

// afterWrite tells those waiting on this range what a batch applied here changed; wrote
// says whether it wrote anything at all (a resolution may release only unreplicated
// locks, and write nothing).
func (r *Replica) afterWrite(ba *kvpb.BatchRequest, wrote bool) {
	for _, req := range ba.Requests {
		switch t := req.(type) {
		case *kvpb.ResolveIntentRequest:
			if t.Status.Finalized() {
				r.locks.released(t.Span, t.Txn.ID)
			}
		case *kvpb.EndTxnRequest:
			r.txnWait.recordChanged(ba.Txn.ID)
			for _, sp := range t.LockSpans {
				r.locks.released(sp, ba.Txn.ID)
			}
			if !t.Commit || len(t.InFlightWrites) == 0 {
				// Finished: its record may be gone already (see finalizedTxns).
				status := kvpb.Aborted
				if t.Commit {
					status = kvpb.Committed
				}
				r.finalized.add(&kvpb.Transaction{TxnMeta: ba.Txn.TxnMeta, Status: status, IgnoredSeqNums: ba.Txn.IgnoredSeqNums})
			}
		case *kvpb.RemoveTxnRecordRequest:
			r.finalized.add(&kvpb.Transaction{TxnMeta: t.Txn, Status: t.Status})
		case *kvpb.PushTxnRequest:
			if wrote {
				r.txnWait.recordChanged(t.Pushee.ID)
			}
		case *kvpb.RecoverTxnRequest:
			if wrote {
				r.txnWait.recordChanged(t.Txn.ID)
			}
			d := r.Desc()
			r.locks.released(kvpb.Span{Key: d.StartKey, EndKey: d.EndKey}, t.Txn.ID)
		}
	}
}

func (r *Replica) sendOnce(ctx context.Context, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error) {
	// Again for every evaluation: a batch may have waited long for a lock, and the lease
	// may have moved meanwhile.
	if err := r.checkLeaseholder(ctx); err != nil {
		return nil, err
	}
	term := r.readyTerm.Load()
	g, err := r.latches.acquire(ctx, r.latchSpans(ba))
	if err != nil {
		return nil, err
	}
	held := true
	defer func() {
		if held {
			r.latches.release(g)
		}
	}()
	// Checked under the latches: a split holds them all while it shrinks the range, and a
	// freeze while it stops the range.
	if err := r.checkKeys(ba); err != nil {
		return nil, err
	}
	if r.Frozen() {
		return nil, &kvpb.MergeInProgressError{RangeID: r.rangeID}
	}
	// Read under the latches: every write this batch can see was evaluated before it.
	now := r.localNow()
	var br *kvpb.BatchResponse
	if ba.IsWrite() {
		var pending raft.ApplyFuture
		br, pending, err = r.evaluateWrite(ctx, ba, now)
		if pending != nil {
			// A pipelined write: answered now, its latches held until it applies, so that
			// whatever touches its keys next (the transaction's proof of it included) sees
			// its outcome.
			held = false
			go r.releaseWhenApplied(ba, pending, g)
		}
	} else {
		br, err = r.evaluateRead(ctx, ba)
	}
	if err != nil {
		return nil, err
	}
	if (!ba.IsWrite() || !held) && !r.leaseValid() {
		// Answered without a round of Raft, which would have failed on a deposed leader:
		// with the lease gone, another leader may have written what this one read, unless
		// a quorum still follows this one in the same term (a new leader would have been
		// elected in a later term, by a quorum that then refuses this one).
		if err := r.renewLease(); err != nil || r.raft.CurrentTerm() != term {
			return nil, r.notLeaseHolder(0)
		}
	}
	br.Observed = kvpb.ObservedTimestamp{NodeID: r.store.cfg.NodeID, Timestamp: now}
	return br, nil
}

// releaseWhenApplied waits for a pipelined write's command to apply, or to fail, and then
// releases its latches. Raft settles every future, at the latest when it shuts down. A
// write that failed is not reported: its coordinator finds it missing when it proves it.
func (r *Replica) releaseWhenApplied(ba *kvpb.BatchRequest, pending raft.ApplyFuture, g *latchGuard) {
	defer r.latches.release(g)
	err := pending.Error()
	if err == nil {
		if rerr, ok := pending.Response().(error); ok {
			err = rerr
		}
	}
	if err != nil {
		r.store.log.Debug("a pipelined write did not apply", "range", r.rangeID, "txn", fmt.Sprintf("%x", ba.Txn.ID[:4]), "err", err)
		return
	}
	r.afterWrite(ba, true)
}

func (r *Replica) latchSpans(ba *kvpb.BatchRequest) []latchSpan {
	spans := make([]latchSpan, 0, len(ba.Requests))
	for _, req := range ba.Requests {
		switch t := req.(type) {
		case *kvpb.EndTxnRequest, *kvpb.HeartbeatTxnRequest:
			spans = append(spans, latchSpan{span: kvpb.Span{Key: keys.TxnRecordKey(ba.Txn.Key, ba.Txn.ID)}, write: true})
			// An EndTxn that finalizes resolves the transaction's intents on this range, so
			// it waits for the writes there to apply; one that stages (parallel commits)
			// only writes the record, and must not wait for the very writes it lists as
			// in flight: that would put their round of consensus before its own.
			if et, ok := t.(*kvpb.EndTxnRequest); ok && !(et.Commit && len(et.InFlightWrites) > 0) {
				for _, sp := range et.LockSpans {
					if r.Desc().ContainsKey(sp.Key) {
						spans = append(spans, latchSpan{span: sp, write: true})
					}
				}
			}
		case *kvpb.QueryTxnRequest:
			spans = append(spans, latchSpan{span: kvpb.Span{Key: keys.TxnRecordKey(t.Txn.Key, t.Txn.ID)}})
		case *kvpb.RemoveTxnRecordRequest:
			spans = append(spans, latchSpan{span: kvpb.Span{Key: keys.TxnRecordKey(t.Txn.Key, t.Txn.ID)}, write: true})
		case *kvpb.GCRequest:
			// It removes old transaction records too (collectTxnRecords): all of the range's.
			spans = append(spans, latchSpan{span: t.Span, write: true}, latchSpan{span: txnRecordSpan(r.Desc()), write: true})
		case *kvpb.PushTxnRequest:
			spans = append(spans, latchSpan{span: kvpb.Span{Key: keys.TxnRecordKey(t.Pushee.Key, t.Pushee.ID)}, write: true})
		case *kvpb.RecoverTxnRequest:
			// It resolves whatever intents the record lists here: rare enough to take all.
			d := r.Desc()
			spans = append(spans, latchSpan{span: kvpb.Span{Key: keys.TxnRecordKey(t.Txn.Key, t.Txn.ID)}, write: true},
				latchSpan{span: kvpb.Span{Key: d.StartKey, EndKey: d.EndKey}, write: true})
		default:
			spans = append(spans, latchSpan{span: req.Header(), write: req.IsWrite()})
		}
	}
	return spans
}

// uncertaintyInterval is the transaction's uncertainty interval on this replica. A value
// above the read timestamp but within the global limit might have been written before the
// transaction started, on a node whose clock runs ahead, or pushed into the future: reading
// past it could miss an acknowledged write. The transaction's observation of this node's
// clock, taken after it started, separates the values written here after it started (local
// timestamp above the observation) from the others; values written under other nodes'
// clocks are covered by the minimum valid observed timestamp (see forwardMinValidObserved).
// Without an observation of this node, nothing is known and the global limit applies.
func (r *Replica) uncertaintyInterval(ba *kvpb.BatchRequest) mvcc.UncertaintyInterval {
	txn := ba.Txn
	if txn == nil || txn.GlobalUncertaintyLimit.LessEq(ba.Timestamp) {
		return mvcc.UncertaintyInterval{}
	}
	in := mvcc.UncertaintyInterval{GlobalLimit: txn.GlobalUncertaintyLimit, LocalLimit: txn.GlobalUncertaintyLimit}
	if obs, ok := txn.ObservedTimestamp(r.store.cfg.NodeID); ok {
		local := obs.Forward(hlc.Timestamp{WallTime: r.minValidObserved.Load()})
		if local.Less(in.LocalLimit) {
			in.LocalLimit = local
		}
	}
	return in
}

// localNow is this node's physical clock reading, the local timestamp of the writes a batch
// evaluated now makes and the observation its response carries.
func (r *Replica) localNow() hlc.Timestamp { return localTimestamp(r.store.cfg.Clock) }

// localTimestamp is clock's physical reading as a timestamp: the local timestamp of a value
// written now (see mvcc.Put). Not the hybrid clock, which timestamps from other nodes move
// ahead: an observation of this node must be above every local timestamp written here before
// it, and the minimum valid observed timestamp above every one written elsewhere before it,
// both comparisons of physical clocks.
func localTimestamp(clock *hlc.Clock) hlc.Timestamp {
	return hlc.Timestamp{WallTime: clock.PhysicalNow()}
}

// observe moves the clock past the timestamps a batch wrote at: a write pushed above the
// present (by the timestamp cache) must be visible to every transaction that starts after it
// was acknowledged, and those take their timestamps from this clock; and, for a write, so
// must a restarted store's (see Store.coverFutureWrite).
func (r *Replica) observe(ctx context.Context, br *kvpb.BatchResponse, write, txn bool) error {
	clock := r.store.cfg.Clock
	high := br.Timestamp
	if br.Txn != nil {
		high = high.Forward(br.Txn.WriteTimestamp)
	}
	if write && !txn {
		// A write outside a transaction is acknowledged here, with no coordinator to wait
		// out a timestamp far ahead (after a lease change): wait until the clock can take
		// it, so that what this node does next happens above it.
		if err := r.awaitReadableTimestamp(ctx, high); err != nil {
			return err
		}
	}
	_, _ = clock.Update(high)
	if !write {
		return nil
	}
	return r.store.coverFutureWrite(high)
}
