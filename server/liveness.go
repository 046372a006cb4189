package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/txn"
)

// Node liveness lives in the system span, so it is replicated like any data: each node
// heartbeats its record, pushing its expiration a TTL ahead, and a record that expired
// means the node is dead, whatever gossip says. The epoch counts the times the node was
// declared dead: another node increments it (only once the record expired) before acting
// on the death (replacing the node's replicas), and a node that finds its epoch moved on
// heartbeats under the new epoch from then on. A node whose own record has expired serves
// no lease (but the first range's, which holds the records): see leaseGate.

// DefaultLivenessTTL is how long a liveness heartbeat keeps a node live.
const DefaultLivenessTTL = 6 * time.Second

// livenessRecord is one node's liveness.
type livenessRecord struct {
	NodeID     uint64 `json:"node_id"`
	Epoch      uint64 `json:"epoch"`
	Expiration int64  `json:"expiration"` // Unix nanoseconds, by the writer's clock
	Draining   bool   `json:"draining,omitempty"`
	// OldestRead is the read timestamp (wall time, Unix nanoseconds) of the oldest open
	// transaction on the node, 0 if none: MVCC garbage collection leaves it what it reads.
	OldestRead int64 `json:"oldest_read,omitempty"`
}

// liveAt reports whether the record is unexpired at now (a reading of the node's clock).
func (r livenessRecord) liveAt(now hlc.Timestamp) bool { return r.Expiration > now.WallTime }

// liveness is a node's view of every node's liveness record.
type liveness struct {
	mu      sync.Mutex
	records map[uint64]livenessRecord
	epoch   uint64 // this node's epoch
}

func (n *Node) livenessTTL() time.Duration {
	if n.cfg.LivenessTTL > 0 {
		return n.cfg.LivenessTTL
	}
	return DefaultLivenessTTL
}

// livenessLoop heartbeats this node's record and refreshes the view of the others, every
// third of the TTL.
func (n *Node) livenessLoop(ctx context.Context) error {
	t := time.NewTicker(n.livenessTTL() / 3)
	defer t.Stop()
	for {
		// A heartbeat that takes longer than the TTL is too late to keep the node live.
		hctx, cancel := context.WithTimeout(ctx, n.livenessTTL())
		if n.heartbeatsPaused.Load() {
			// Tests stand in for a node cut off from the first range.
		} else if err := n.heartbeatLiveness(hctx); err != nil && ctx.Err() == nil {
			n.log.Warn("liveness heartbeat failed", "err", err)
		}
		cancel()
		rctx, cancel := context.WithTimeout(ctx, max(n.livenessTTL(), 5*time.Second))
		if err := n.refreshLiveness(rctx); err != nil && ctx.Err() == nil {
			n.log.Warn("reading liveness records", "err", err)
		}
		cancel()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func readLiveness(ctx context.Context, t *txn.Txn, nodeID uint64) (livenessRecord, bool, error) {
	var b txn.Batch
	b.Get(keys.NodeLivenessKey(nodeID))
	if err := t.Run(ctx, &b); err != nil {
		return livenessRecord{}, false, err
	}
	rows := b.Results[0].Rows
	if len(rows) == 0 {
		return livenessRecord{}, false, nil
	}
	var rec livenessRecord
	if err := json.Unmarshal(rows[0].Value, &rec); err != nil {
		return livenessRecord{}, false, fmt.Errorf("liveness record of n%d: %w", nodeID, err)
	}
	return rec, true, nil
}

func writeLiveness(ctx context.Context, t *txn.Txn, rec livenessRecord) error {
	v, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	var b txn.Batch
	b.Put(keys.NodeLivenessKey(rec.NodeID), v)
	return t.Run(ctx, &b)
}

// heartbeatLiveness extends this node's record by a TTL.
func (n *Node) heartbeatLiveness(ctx context.Context) error {
	id := n.NodeID()
	var rec livenessRecord
	err := n.db.RunTxn(ctx, func(ctx context.Context, t *txn.Txn) error {
		cur, ok, err := readLiveness(ctx, t, id)
		if err != nil {
			return err
		}
		rec = livenessRecord{NodeID: id, Epoch: 1, Draining: n.draining.Load()}
		if ok {
			rec.Epoch = cur.Epoch
			// Decommissioning outlives restarts: the record remembers it.
			rec.Draining = rec.Draining || cur.Draining
		}
		rec.Expiration = n.clock.Now().WallTime + int64(n.livenessTTL())
		rec.OldestRead = n.db.OldestReadTimestamp().WallTime
		return writeLiveness(ctx, t, rec)
	})
	if err != nil {
		return err
	}
	if rec.Draining && !n.draining.Swap(true) {
		n.log.Info("decommissioning (recorded before a restart): moving leases and replicas away")
	}
	n.live.mu.Lock()
	defer n.live.mu.Unlock()
	if n.live.epoch != 0 && rec.Epoch != n.live.epoch {
		n.log.Warn("this node was declared dead while it could not heartbeat; it carries on under a new epoch", "epoch", rec.Epoch)
	}
	n.live.epoch = rec.Epoch
	if n.live.records == nil {
		n.live.records = map[uint64]livenessRecord{}
	}
	n.live.records[id] = rec
	return nil
}

// refreshLiveness reads every node's record.
func (n *Node) refreshLiveness(ctx context.Context) error {
	var b txn.Batch
	err := n.db.RunTxn(ctx, func(ctx context.Context, t *txn.Txn) error {
		b = txn.Batch{}
		b.Scan(keys.NodeLivenessPrefix, keys.PrefixEnd(keys.NodeLivenessPrefix), 0, false)
		return t.Run(ctx, &b)
	})
	if err != nil {
		return err
	}
	records := map[uint64]livenessRecord{}
	for _, kv := range b.Results[0].Rows {
		var rec livenessRecord
		if err := json.Unmarshal(kv.Value, &rec); err != nil {
			return fmt.Errorf("liveness record %q: %w", kv.Key, err)
		}
		records[rec.NodeID] = rec
	}
	n.live.mu.Lock()
	n.live.records = records
	n.live.mu.Unlock()
	return nil
}

// livenessOf returns what this node last read of node id's liveness.
func (n *Node) livenessOf(id uint64) (livenessRecord, bool) {
	n.live.mu.Lock()
	defer n.live.mu.Unlock()
	rec, ok := n.live.records[id]
	return rec, ok
}

// declareDead increments the epoch of node id, whose record must have expired, if it is
// still epoch (another node may have done it already): from then on the node's old epoch is
// worthless, and its replicas can be replaced.
func (n *Node) declareDead(ctx context.Context, id, epoch uint64) error {
	return n.db.RunTxn(ctx, func(ctx context.Context, t *txn.Txn) error {
		cur, ok, err := readLiveness(ctx, t, id)
		if err != nil || !ok || cur.Epoch != epoch {
			return err
		}
		if cur.liveAt(n.clock.Now()) {
			return fmt.Errorf("n%d is live again (until %s)", id, time.Unix(0, cur.Expiration).UTC().Format(time.RFC3339Nano))
		}
		cur.Epoch++
		return writeLiveness(ctx, t, cur)
	})
}

// errNotLive refuses leases on a node whose liveness record has expired.
var errNotLive = errors.New("this node's liveness record has expired")

// leaseGate approves this node serving leases: its liveness record, as last written, is
// unexpired by this node's clock. A node that cannot heartbeat (cut off from the first
// range, or stalled) stops serving reads and writes as leaseholder by the time others may
// take it for dead; the replicate queue then hands its leases to live replicas.
func (n *Node) leaseGate() error {
	rec, ok := n.livenessOf(n.NodeID())
	if !ok || !rec.liveAt(n.clock.Now()) {
		return errNotLive
	}
	return nil
}

// gcProtected is the oldest read timestamp of an open transaction on any live node (zero if
// none), as their liveness records last said.
func (n *Node) gcProtected() hlc.Timestamp {
	now := n.clock.Now().WallTime
	oldest := n.db.OldestReadTimestamp().WallTime
	n.live.mu.Lock()
	defer n.live.mu.Unlock()
	for _, rec := range n.live.records {
		if rec.OldestRead != 0 && rec.Expiration > now && (oldest == 0 || rec.OldestRead < oldest) {
			oldest = rec.OldestRead
		}
	}
	return hlc.Timestamp{WallTime: oldest}
}
