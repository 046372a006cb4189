package ranges

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
	"github.com/meridiandb/meridian/txn"
)

// clusterRouter reaches every range of a test cluster at its leaseholder, as a node's
// DistSender does: the stores' way to push and resolve transactions on other nodes, and the
// transaction layer's sender and range lookup.
type clusterRouter struct {
	c *testCluster
	// clock, if set, is the gateway's clock, which every answer moves forward (the hybrid
	// clock's receive rule).
	clock *hlc.Clock
}

// RangeForKey asks node 1, which in these tests holds a replica of every range and led
// every split.
func (r clusterRouter) RangeForKey(ctx context.Context, key []byte) (kvpb.RangeDescriptor, error) {
	r.c.mu.Lock()
	n := r.c.nodes[1]
	r.c.mu.Unlock()
	return n.store.RangeForKey(ctx, key)
}

func (r clusterRouter) Send(ctx context.Context, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error) {
	br, err := r.c.send(ctx, ba)
	if r.clock != nil {
		if br != nil {
			_, _ = r.clock.Update(br.Timestamp)
			if br.Txn != nil {
				_, _ = r.clock.Update(br.Txn.WriteTimestamp)
			}
		}
		var re *kvpb.TransactionRetryError
		if errors.As(err, &re) && !re.Timestamp.IsEmpty() {
			_, _ = r.clock.Update(re.Timestamp)
		}
	}
	return br, err
}

// db is a transaction coordinator on node id.
func (c *testCluster) db(id uint64) *txn.DB {
	clock := c.nodes[id].store.Clock()
	db := txn.NewDB(clusterRouter{c: c, clock: clock}, clusterRouter{c: c}, clock, nil)
	db.NodeID = id
	c.t.Cleanup(db.Close)
	return db
}

// skewedPair starts two nodes, n2's clock running skew ahead of n1's (within the maximum
// offset), with replicas of every range on both: range 1 holds the keys below \x10m and is
// led by n1, range 2 the keys from \x10m and is led by n2. It returns once n2's new lease no
// longer pushes writes into the future.
func skewedPair(ctx context.Context, t *testing.T, skew time.Duration) *testCluster {
	t.Helper()
	c := newTestClusterWithClocks(t, 2, func(id uint64) *hlc.Clock {
		offset := int64(0)
		if id == 2 {
			offset = int64(skew)
		}
		return hlc.NewClock(func() int64 { return time.Now().UnixNano() + offset }, hlc.DefaultMaxOffset)
	})
	for _, n := range c.nodes {
		n.store.SetRouter(clusterRouter{c: c, clock: n.store.Clock()})
	}
	r1 := c.nodes[1].store.Replica(1)
	if err := r1.AddReplica(ctx, kvpb.ReplicaDescriptor{NodeID: 2, StoreID: 2}); err != nil {
		t.Fatal(err)
	}
	c.waitReplicas(ctx, 1, 2)
	if _, err := r1.Send(ctx, &kvpb.BatchRequest{Requests: []kvpb.Request{&kvpb.AdminSplitRequest{SplitKey: []byte("\x10m"), NewRangeID: 2}}}); err != nil {
		t.Fatal(err)
	}
	c.moveLease(ctx, 2, 2)
	// n2's lease pushes writes above its physical clock plus twice the offset (takeLease);
	// the scenarios below want writes at the present of n2's clock.
	time.Sleep(2*hlc.DefaultMaxOffset + 100*time.Millisecond)
	return c
}

// moveLease makes node to the leaseholder of range rangeID and waits until it serves.
func (c *testCluster) moveLease(ctx context.Context, rangeID, to uint64) {
	c.t.Helper()
	for {
		var err error
		for id, n := range c.nodes {
			r := n.store.Replica(rangeID)
			if r == nil || !r.initialized() || r.checkLeaseholder(ctx) != nil {
				continue
			}
			if id == to {
				return
			}
			err = r.TransferLease(ctx, to)
		}
		select {
		case <-ctx.Done():
			c.t.Fatalf("r%d never moved to n%d: %v", rangeID, to, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func txnGet(ctx context.Context, t *testing.T, tx *txn.Txn, key []byte) string {
	t.Helper()
	b := &txn.Batch{}
	b.Get(key)
	if err := tx.Run(ctx, b); err != nil {
		t.Fatalf("reading %q: %v", key, err)
	}
	if len(b.Results[0].Rows) == 0 {
		return "<nil>"
	}
	return string(b.Results[0].Rows[0].Value)
}

func txnPut(ctx context.Context, t *testing.T, tx *txn.Txn, key []byte, v string) {
	t.Helper()
	b := &txn.Batch{}
	b.Put(key, []byte(v))
	if err := tx.Run(ctx, b); err != nil {
		t.Fatalf("writing %q: %v", key, err)
	}
}

// TestUncertaintyPushedCommit is the stale read that reducing a transaction's uncertainty
// interval on its gateway allowed, and that local timestamps close. W writes k (on n1) at
// t1, is pushed on another range (on n2, whose clock runs ahead) to t2, commits at t2 there
// and is acknowledged. R then starts on n1, whose clock never heard of t2: it reads below t2,
// and the value at t2 lies in R's uncertainty interval. It was written (at n1's clock, before
// R began) under R's observation of n1: R must take it as uncertain, move up and read it.
func TestUncertaintyPushedCommit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := skewedPair(ctx, t, 400*time.Millisecond)
	k, j := []byte("\x10k"), []byte("\x10n") // on range 1 (n1) and range 2 (n2)
	if err := c.put(ctx, string(k), "old"); err != nil {
		t.Fatal(err)
	}

	w := c.db(2).NewTxn()
	txnPut(ctx, t, w, j, "w") // W's first write: its record lives on range 2
	txnPut(ctx, t, w, k, "w")
	t1 := w.ReadTimestamp()
	// n1's clock heard of t1 (W's write there); let n2's clock run on past it.
	time.Sleep(50 * time.Millisecond)
	// A reader on n2 (outside a transaction, at n2's clock) pushes W above itself.
	if _, err := c.send(ctx, &kvpb.BatchRequest{RangeID: 2, Requests: []kvpb.Request{&kvpb.GetRequest{Key: j}}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	t2 := w.ReadTimestamp() // it refreshed to its pushed timestamp to commit there

	r := c.db(1).NewTxn()
	start := r.ReadTimestamp()
	if !t1.Less(t2) || !start.Less(t2) || start.Add(int64(hlc.DefaultMaxOffset)).Less(t2) {
		t.Fatalf("setup: W wrote at %s and committed at %s, R started at %s: not the stale-read scenario", t1, t2, start)
	}
	if got := txnGet(ctx, t, r, k); got != "w" {
		t.Fatalf("R, begun after W's commit at %s was acknowledged, read %q at %s", t2, got, r.ReadTimestamp())
	}
	if ts := r.ReadTimestamp(); ts.Less(t2) {
		t.Fatalf("R read W's write at %s, below its commit timestamp %s", ts, t2)
	}
	if err := r.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestUncertaintyLeaseTransfer: an observation of a node's clock says nothing about values
// written under another node's clock. A write is acknowledged on n2 (whose clock runs ahead)
// before R starts on n1, so its local timestamp is above R's observation of n1 (its start).
// The lease then moves to n1, and R reads the value there: it was written under the previous
// lease, and stays uncertain (the replica's minimum valid observed timestamp), so R moves up
// and reads it.
func TestUncertaintyLeaseTransfer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := skewedPair(ctx, t, 400*time.Millisecond)
	k := []byte("\x10n") // on range 2, led by n2
	if err := c.put(ctx, string(k), "v"); err != nil {
		t.Fatal(err)
	}
	kv, err := mvcc.Get(c.nodes[2].store.DB(), k, hlc.MaxTimestamp, mvcc.ReadOptions{})
	if err != nil || kv == nil {
		t.Fatalf("the write is not on n2: %v %v", kv, err)
	}

	r := c.db(1).NewTxn()
	start := r.ReadTimestamp()
	if !start.Less(kv.Timestamp) || start.Add(int64(hlc.DefaultMaxOffset)).Less(kv.Timestamp) {
		t.Fatalf("setup: the write at %s is not within the uncertainty interval of R, begun at %s", kv.Timestamp, start)
	}
	c.moveLease(ctx, 2, 1)
	if got := txnGet(ctx, t, r, k); got != "v" {
		t.Fatalf("R, begun after the write at %s was acknowledged, read %q at %s", kv.Timestamp, got, r.ReadTimestamp())
	}
	if err := r.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestMinValidObservedAlone: observations of a node shrink uncertainty on a range only above
// the range's minimum valid observed timestamp. A freshly bootstrapped store's range, and a
// range split off it, have no values written by another clock or an earlier run, so they
// need none; after a restart the node's clock may have been set back, so they do.
func TestMinValidObservedAlone(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	mustSend(t, s, 1, &kvpb.AdminSplitRequest{SplitKey: []byte("\x10m"), NewRangeID: 2})
	put(t, s, "\x10n", "v") // the new range serves (its first lease taken)
	for _, id := range []uint64{1, 2} {
		if got := s.Replica(id).minValidObserved.Load(); got > 1 {
			t.Errorf("r%d on a fresh store: minimum valid observed timestamp %d, want none", id, got)
		}
	}
	s.Close()
	before := s.Clock().PhysicalNow()
	s = openTestStore(t, dir)
	defer s.Close()
	put(t, s, "\x10n", "w")
	for _, id := range []uint64{1, 2} {
		if got := s.Replica(id).minValidObserved.Load(); got < before+int64(s.Clock().MaxOffset()) {
			t.Errorf("r%d after a restart: minimum valid observed timestamp %d, want at least a max offset past %d", id, got, before)
		}
	}
}
