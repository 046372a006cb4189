package ranges

import (
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
	group    *raftnet.Group

	latches *latchManager
	tsc     *tsCache

	// readyTerm is the Raft term in which this replica, as leader, has applied every entry
	// committed before it took over, and so may serve reads.
	readyTerm atomic.Uint64
	// changeMu serializes replica changes.
	changeMu sync.Mutex

	// gcThresholdWall caches the persisted GC threshold's wall time (see checkGCThreshold).
	gcThresholdWall atomic.Int64
}

// newReplica starts the replica of desc's range on s. With bootstrap, the range's Raft group
// is created with desc's replicas as voters; otherwise the group resumes from the store, or
// (for a replica being added here) starts empty and waits for the leader's snapshot.
func newReplica(ctx context.Context, s *Store, desc *kvpb.RangeDescriptor, bootstrap bool) (*Replica, error) {
	r := &Replica{
		store:   s,
		rangeID: desc.RangeID,
		desc:    desc,
		latches: newLatchManager(),
		// After a restart nothing is known about past reads: assume they reached the present,
		// pushing any write below "now" (plus the max clock offset) above it.
		tsc: newTSCache(s.lowWater),
	}
	fsm, err := newRangeFSM(s.db, desc.RangeID, r.Desc, r.setDesc)
	if err != nil {
		return nil, err
	}
	r.fsm = fsm
	dir := filepath.Join(s.cfg.Dir, "raft", "r"+strconv.FormatUint(desc.RangeID, 10))
	r.logStore = raftlog.New(s.db, keys.RaftLogPrefix(desc.RangeID))
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir+".snap", 2, hclog.NewNullLogger())
	if err != nil {
		return nil, fmt.Errorf("r%d: opening snapshot store: %w", desc.RangeID, err)
	}
	if r.group, err = s.transport.Group(desc.RangeID); err != nil {
		return nil, err
	}
	conf := s.raftConfig(desc.RangeID)
	cache, err := raft.NewLogCache(1024, r.logStore)
	if err != nil {
		r.group.Close()
		return nil, err
	}
	if bootstrap {
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
	th, err := r.gcThreshold()
	if err != nil {
		return nil, err
	}
	r.gcThresholdWall.Store(th.WallTime)
	return r, nil
}

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
	r.desc = d
	r.mu.Unlock()
	r.store.descriptorChanged(r)
}

// checkLeaseholder makes sure this replica may evaluate a batch. For now the Raft leader is
// the leaseholder; it must also have applied every entry committed before it took over, so
// that its reads see every acknowledged write. While an election is on, it waits a few
// election timeouts for the outcome; otherwise it names the leader it knows of.
func (r *Replica) checkLeaseholder(ctx context.Context) error {
	timeout := r.store.cfg.RaftHeartbeatTimeout
	deadline := time.Now().Add(3 * timeout)
	for {
		if r.raft.State() == raft.Leader {
			term := r.raft.CurrentTerm()
			if r.readyTerm.Load() == term {
				return nil
			}
			if err := r.raft.Barrier(3 * timeout).Error(); err != nil {
				return r.notLeaseHolder(0)
			}
			r.readyTerm.Store(term)
			return nil
		}
		if _, id := r.raft.LeaderWithID(); id != "" {
			leader, err := raftnet.NodeID(raft.ServerAddress(id))
			if err == nil && leader != r.store.cfg.NodeID {
				return r.notLeaseHolder(leader)
			}
		}
		if time.Now().After(deadline) {
			return r.notLeaseHolder(0)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// IsLeaseholder reports, without waiting, whether this replica holds the range's lease.
func (r *Replica) IsLeaseholder() bool { return r.raft.State() == raft.Leader }

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
	var errs []error
	if r.raft != nil {
		errs = append(errs, r.raft.Shutdown().Error())
	}
	return errors.Join(errs...)
}

// propose replicates a Pebble batch through Raft and waits until it is applied.
func (r *Replica) propose(ctx context.Context, flags commandFlags, repr []byte) error {
	timeout := 30 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	f := r.raft.Apply(encodeCommand(flags, repr), timeout)
	if err := f.Error(); err != nil {
		return fmt.Errorf("r%d: replicating: %w", r.rangeID, err)
	}
	if resp := f.Response(); resp != nil {
		if err, ok := resp.(error); ok {
			return err
		}
	}
	return nil
}

// Send evaluates a batch on this range, replicating its writes. Intents of other
// transactions met on the way are resolved or waited for here; a conflict that cannot be
// waited out returns a retry error for the transaction.
func (r *Replica) Send(ctx context.Context, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error) {
	if err := r.checkLeaseholder(ctx); err != nil {
		return nil, err
	}
	if ba.Txn != nil {
		ba.Timestamp = ba.Txn.ReadTimestamp
	} else if ba.Timestamp.IsEmpty() {
		ba.Timestamp = r.store.cfg.Clock.Now()
	}
	if _, err := r.store.cfg.Clock.Update(ba.Timestamp); err != nil {
		return nil, err
	}
	if err := r.checkGCThreshold(ba); err != nil {
		return nil, err
	}
	var wait conflictWaiter
	for {
		br, err := r.sendOnce(ctx, ba)
		var wie *mvcc.WriteIntentError
		if !errors.As(err, &wie) {
			if err == nil {
				r.observe(br)
			}
			return br, err
		}
		var readTS hlc.Timestamp
		if !ba.IsWrite() {
			readTS = ba.Timestamp
		}
		if err := r.store.handleConflict(ctx, ba.Txn, readTS, wie.Intents, &wait); err != nil {
			return nil, err
		}
	}
}

func (r *Replica) sendOnce(ctx context.Context, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error) {
	g, err := r.latches.acquire(ctx, r.latchSpans(ba))
	if err != nil {
		return nil, err
	}
	defer r.latches.release(g)
	if ba.IsWrite() {
		return r.evaluateWrite(ctx, ba)
	}
	return r.evaluateRead(ctx, ba)
}

func (r *Replica) latchSpans(ba *kvpb.BatchRequest) []latchSpan {
	spans := make([]latchSpan, 0, len(ba.Requests))
	for _, req := range ba.Requests {
		switch t := req.(type) {
		case *kvpb.EndTxnRequest, *kvpb.HeartbeatTxnRequest:
			spans = append(spans, latchSpan{span: kvpb.Span{Key: keys.TxnRecordKey(ba.Txn.Key, ba.Txn.ID)}, write: true})
			if et, ok := t.(*kvpb.EndTxnRequest); ok {
				for _, sp := range et.LockSpans {
					if r.Desc().ContainsKey(sp.Key) {
						spans = append(spans, latchSpan{span: sp, write: true})
					}
				}
			}
		case *kvpb.QueryTxnRequest:
			spans = append(spans, latchSpan{span: kvpb.Span{Key: keys.TxnRecordKey(t.Txn.Key, t.Txn.ID)}})
		case *kvpb.PushTxnRequest:
			spans = append(spans, latchSpan{span: kvpb.Span{Key: keys.TxnRecordKey(t.Pushee.Key, t.Pushee.ID)}, write: true})
		default:
			spans = append(spans, latchSpan{span: req.Header(), write: req.IsWrite()})
		}
	}
	return spans
}

// uncertaintyLimit is the upper end of the transaction's uncertainty interval on this node.
// A value above the read timestamp but within the limit might have been written before the
// transaction started on another node whose clock runs ahead. This node's own clock gave the
// transaction its timestamp (every transaction starts on a gateway in this process), so any
// value this node wrote above that timestamp was written after the transaction began: the
// interval collapses to the read timestamp (the observed-timestamp rule).
func (r *Replica) uncertaintyLimit(ba *kvpb.BatchRequest) hlc.Timestamp {
	return ba.Timestamp
}

// observe moves the clock past the timestamps a batch wrote at: a write pushed above the
// present (by the timestamp cache) must be visible to every transaction that starts after it
// was acknowledged, and those take their timestamps from this clock.
func (r *Replica) observe(br *kvpb.BatchResponse) {
	clock := r.store.cfg.Clock
	_, _ = clock.Update(br.Timestamp)
	if br.Txn != nil {
		_, _ = clock.Update(br.Txn.WriteTimestamp)
	}
}
