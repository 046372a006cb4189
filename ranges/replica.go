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
)

// Replica is one store's copy of a range: a Raft group member plus, at the leaseholder, the
// machinery that evaluates requests (latches, timestamp cache).
type Replica struct {
	store   *Store
	rangeID uint64

	mu   sync.RWMutex
	desc *kvpb.RangeDescriptor

	raft      *raft.Raft
	fsm       *rangeFSM
	logStore  *raftlog.Store
	transport *raft.InmemTransport

	latches *latchManager
	tsc     *tsCache

	// gcThresholdWall caches the persisted GC threshold's wall time (see checkGCThreshold).
	gcThresholdWall atomic.Int64
}

func newReplica(ctx context.Context, s *Store, desc *kvpb.RangeDescriptor) (*Replica, error) {
	r := &Replica{
		store:   s,
		rangeID: desc.RangeID,
		desc:    desc,
		latches: newLatchManager(),
		// After a restart nothing is known about past reads: assume they reached the present,
		// pushing any write below "now" (plus the max clock offset) above it.
		tsc: newTSCache(s.lowWater),
	}
	fsm, err := newRangeFSM(s.db, desc.RangeID, func() ([]byte, []byte) {
		d := r.Desc()
		return d.StartKey, d.EndKey
	})
	if err != nil {
		return nil, err
	}
	r.fsm = fsm
	dir := filepath.Join(s.cfg.Dir, "raft", "r"+strconv.FormatUint(desc.RangeID, 10))
	logStore := raftlog.New(s.db, keys.RaftLogPrefix(desc.RangeID))
	r.logStore = logStore
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir+".snap", 2, hclog.NewNullLogger())
	if err != nil {
		return nil, fmt.Errorf("r%d: opening snapshot store: %w", desc.RangeID, err)
	}
	localID := raft.ServerID(strconv.FormatUint(s.cfg.NodeID, 10))
	addr, transport := raft.NewInmemTransport(raft.ServerAddress(fmt.Sprintf("n%d/r%d", s.cfg.NodeID, desc.RangeID)))
	r.transport = transport

	conf := raft.DefaultConfig()
	conf.LocalID = localID
	conf.NoSnapshotRestoreOnStart = true
	// A single-voter group elects itself after one heartbeat timeout; keep restart short.
	conf.HeartbeatTimeout = 150 * time.Millisecond
	conf.ElectionTimeout = 150 * time.Millisecond
	conf.LeaderLeaseTimeout = 100 * time.Millisecond
	conf.CommitTimeout = time.Second
	if s.cfg.RaftSnapshotThreshold > 0 {
		conf.SnapshotThreshold = s.cfg.RaftSnapshotThreshold
		conf.TrailingLogs = s.cfg.RaftSnapshotThreshold / 2
	}
	conf.Logger = hclog.New(&hclog.LoggerOptions{Name: fmt.Sprintf("raft r%d", desc.RangeID), Level: hclog.Warn, Output: io.Discard})

	cache, err := raft.NewLogCache(1024, logStore)
	if err != nil {
		return nil, err
	}
	has, err := raft.HasExistingState(cache, logStore, snaps)
	if err != nil {
		return nil, err
	}
	if !has {
		cfg := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: localID, Address: addr}}}
		if err := raft.BootstrapCluster(conf, cache, logStore, snaps, transport, cfg); err != nil {
			return nil, fmt.Errorf("r%d: bootstrapping raft: %w", desc.RangeID, err)
		}
	}
	rf, err := raft.NewRaft(conf, fsm, cache, logStore, snaps, transport)
	if err != nil {
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

// waitLeader blocks until the range's Raft group has a leader and the leader has applied
// everything committed before it took over (so reads at the leaseholder see every write).
func (r *Replica) waitLeader(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for r.raft.State() != raft.Leader {
		select {
		case <-ctx.Done():
			return fmt.Errorf("r%d: waiting for raft leader: %w", r.rangeID, ctx.Err())
		case <-t.C:
		}
	}
	return r.raft.Barrier(0).Error()
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
func (r *Replica) propose(ctx context.Context, repr []byte) error {
	timeout := 30 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	f := r.raft.Apply(encodeCommand(repr), timeout)
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
