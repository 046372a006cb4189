package ranges

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
	"github.com/meridiandb/meridian/ranges/raftnet"
	"github.com/meridiandb/meridian/ranges/rpc"
)

// testCluster runs stores of several nodes in one process, each with its own gRPC server on
// a real loopback socket.
type testCluster struct {
	t     testing.TB
	mu    sync.Mutex
	addrs map[uint64]string
	nodes map[uint64]*testNode
	// clock, if set, gives each node its clock (default: the machine's, the default offset).
	clock func(id uint64) *hlc.Clock
	// snapshotThreshold, if set, is every store's RaftSnapshotThreshold.
	snapshotThreshold uint64
	// heartbeatTimeout, if set, is every store's RaftHeartbeatTimeout (300ms otherwise).
	heartbeatTimeout time.Duration
}

type testNode struct {
	id     uint64
	dir    string
	srv    *grpc.Server
	dialer *rpc.Dialer
	tr     *raftnet.Transport
	store  *Store
}

func newTestCluster(t testing.TB, n int) *testCluster {
	return newTestClusterWithClocks(t, n, nil)
}

// newTestClusterWithClocks starts a cluster whose node id runs on clock(id).
func newTestClusterWithClocks(t testing.TB, n int, clock func(id uint64) *hlc.Clock) *testCluster {
	return newTestClusterOf(t, n, &testCluster{clock: clock})
}

// newTestClusterOf starts a cluster of n nodes with the options set in c.
func newTestClusterOf(t testing.TB, n int, c *testCluster) *testCluster {
	c.t, c.addrs, c.nodes = t, map[uint64]string{}, map[uint64]*testNode{}
	for id := uint64(1); id <= uint64(n); id++ {
		c.start(id, t.TempDir())
	}
	t.Cleanup(func() {
		for id := range c.nodes {
			c.stop(id)
		}
	})
	return c
}

func (c *testCluster) resolve(id uint64) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a, ok := c.addrs[id]; ok {
		return a, nil
	}
	return "", fmt.Errorf("n%d is unknown", id)
}

func (c *testCluster) start(id uint64, dir string) *testNode {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatal(err)
	}
	n := &testNode{id: id, dir: dir, srv: rpc.NewServer(nil)}
	n.dialer = rpc.NewDialer(c.resolve)
	n.tr = raftnet.New(id, n.dialer, nil)
	n.tr.Register(n.srv)
	go n.srv.Serve(ln)
	c.mu.Lock()
	c.addrs[id] = ln.Addr().String()
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clock := hlc.NewClock(nil, hlc.DefaultMaxOffset)
	if c.clock != nil {
		clock = c.clock(id)
	}
	n.store, err = OpenStore(ctx, StoreConfig{
		Dir: dir, NodeID: id, StoreID: id, Clock: clock,
		Transport: n.tr, JoinOnly: id != 1, RaftHeartbeatTimeout: cmp.Or(c.heartbeatTimeout, 300*time.Millisecond),
		RaftSnapshotThreshold: c.snapshotThreshold,
	})
	if err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	c.nodes[id] = n
	c.mu.Unlock()
	return n
}

// stop stops a node as a crash would look to its peers: its socket goes away at once.
func (c *testCluster) stop(id uint64) {
	c.mu.Lock()
	n := c.nodes[id]
	delete(c.nodes, id)
	c.mu.Unlock()
	if n == nil {
		return
	}
	n.srv.Stop()
	n.store.Close()
	n.tr.Close()
	n.dialer.Close()
}

// send sends ba to the range's leaseholder, following NotLeaseHolderError hints.
func (c *testCluster) send(ctx context.Context, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error) {
	for {
		c.mu.Lock()
		nodes := make([]*testNode, 0, len(c.nodes))
		for _, n := range c.nodes {
			nodes = append(nodes, n)
		}
		c.mu.Unlock()
		var lastErr error
		for _, n := range nodes {
			copyBA := *ba
			br, err := n.store.Send(ctx, &copyBA)
			if err == nil {
				return br, nil
			}
			lastErr = err
			var nlhe *kvpb.NotLeaseHolderError
			var rnf *kvpb.RangeNotFoundError
			if !errors.As(err, &nlhe) && !errors.As(err, &rnf) {
				return nil, err
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no leaseholder answered: %v", lastErr)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (c *testCluster) put(ctx context.Context, key, value string) error {
	_, err := c.send(ctx, &kvpb.BatchRequest{Requests: []kvpb.Request{&kvpb.PutRequest{Key: []byte(key), Value: []byte(value)}}})
	return err
}

func (c *testCluster) get(ctx context.Context, key string) (string, error) {
	br, err := c.send(ctx, &kvpb.BatchRequest{Requests: []kvpb.Request{&kvpb.GetRequest{Key: []byte(key)}}})
	if err != nil {
		return "", err
	}
	if kv := br.Responses[0].(*kvpb.GetResponse).Value; kv != nil {
		return string(kv.Value), nil
	}
	return "", nil
}

// replicateFirstRange gives range 1, which node 1 bootstrapped, a replica on every other
// node of a three-node cluster, and returns node 1's replica once all three list each other.
func (c *testCluster) replicateFirstRange(ctx context.Context) *Replica {
	c.t.Helper()
	r1 := c.nodes[1].store.Replica(1)
	for _, id := range []uint64{2, 3} {
		if err := r1.AddReplica(ctx, kvpb.ReplicaDescriptor{NodeID: id, StoreID: id}); err != nil {
			c.t.Fatal(err)
		}
	}
	c.waitReplicas(ctx, 1, 2, 3)
	return r1
}

// waitReplicas waits until every node's replica of range 1 that should exist lists want.
func (c *testCluster) waitReplicas(ctx context.Context, want ...uint64) {
	c.t.Helper()
	for {
		ok := true
		for _, id := range want {
			r := c.nodes[id].store.Replica(1)
			if r == nil || len(r.Desc().Replicas) != len(want) {
				ok = false
				break
			}
		}
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			c.t.Fatalf("replicas of r1 never became %v", want)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestReplicationAcrossNodes grows range 1 from one replica to three over real sockets, checks
// that every replica holds the data, loses the leaseholder, and keeps serving from a survivor;
// then shrinks the range back.
func TestReplicationAcrossNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := newTestCluster(t, 3)
	for i := 0; i < 20; i++ {
		if err := c.put(ctx, fmt.Sprintf("\x10before%02d", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	c.replicateFirstRange(ctx)
	for i := 0; i < 20; i++ {
		if err := c.put(ctx, fmt.Sprintf("\x10after%02d", i), "w"); err != nil {
			t.Fatal(err)
		}
	}
	// Followers refuse requests and name the leaseholder.
	_, err := c.nodes[2].store.Send(ctx, &kvpb.BatchRequest{Requests: []kvpb.Request{&kvpb.GetRequest{Key: []byte("\x10after00")}}})
	var nlhe *kvpb.NotLeaseHolderError
	if !errors.As(err, &nlhe) || nlhe.LeaseHolder != 1 {
		t.Fatalf("follower answered %v, want NotLeaseHolderError naming n1", err)
	}
	// Every replica has the data written before and after it joined, in its own Pebble.
	for _, id := range []uint64{2, 3} {
		db := c.nodes[id].store.DB()
		for _, k := range []string{"\x10before00", "\x10before19", "\x10after19"} {
			deadline := time.Now().Add(10 * time.Second)
			for {
				kv, err := mvcc.Get(db, []byte(k), hlc.MaxTimestamp, mvcc.ReadOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if kv != nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("n%d never got %q", id, k)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}

	// Lose the leaseholder: a survivor takes over with every acknowledged write.
	c.stop(1)
	if err := c.put(ctx, "\x10survivor", "x"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"\x10before00", "\x10after19", "\x10survivor"} {
		if v, err := c.get(ctx, k); err != nil || v == "" {
			t.Fatalf("%q after losing n1: %q, %v", k, v, err)
		}
	}

	// Shrink the range to its survivors' leader alone.
	var leader, other *testNode
	for _, n := range c.nodes {
		if n.store.Replica(1).checkLeaseholder(ctx) == nil {
			leader = n
		} else {
			other = n
		}
	}
	if leader == nil || other == nil {
		t.Fatal("no single leader among the survivors")
	}
	lr := leader.store.Replica(1)
	if err := lr.RemoveReplica(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := lr.RemoveReplica(ctx, other.id); err != nil {
		t.Fatal(err)
	}
	if got := len(lr.Desc().Replicas); got != 1 {
		t.Fatalf("descriptor lists %d replicas after removing two, want 1: %+v", got, lr.Desc())
	}
	if err := c.put(ctx, "\x10alone", "y"); err != nil {
		t.Fatal(err)
	}
}

// TestLaggingFollowerCatchesUpFromStateCopy: a follower that was down while the leader's
// log was truncated past it gets the range's state copied when the leader sends it a
// snapshot (the snapshots that truncated the log hold no copy), while writes go on; it ends
// with every write, including those made while the copy was in flight, and applies the
// ones after.
func TestLaggingFollowerCatchesUpFromStateCopy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := newTestClusterOf(t, 3, &testCluster{snapshotThreshold: 16})
	c.replicateFirstRange(ctx)
	dir3 := c.nodes[3].dir
	c.stop(3)
	written := 0
	write := func(n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			if err := c.put(ctx, fmt.Sprintf("\x10k%04d", written), fmt.Sprint(written)); err != nil {
				t.Fatal(err)
			}
			written++
		}
	}
	write(200)
	leader := c.nodes[1].store.Replica(1)
	if err := leader.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	if first, err := leader.logStore.FirstIndex(); err != nil || first < 100 {
		t.Fatalf("the leader's log starts at %d (%v): not truncated past the stopped follower", first, err)
	}
	// Writes go on while n3 comes back and is sent the state.
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.start(3, dir3)
	}()
	write(100)
	<-done
	write(20)
	if leader.snaps.copies.Load() == 0 {
		t.Fatal("the leader copied no state to send")
	}
	db := c.nodes[3].store.DB()
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; i < written; i++ {
		k := fmt.Sprintf("\x10k%04d", i)
		for {
			kv, err := mvcc.Get(db, []byte(k), hlc.MaxTimestamp, mvcc.ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if kv != nil {
				if string(kv.Value) != fmt.Sprint(i) {
					t.Fatalf("n3 has %q = %q", k, kv.Value)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("n3 never got %q (of %d written)", k, written)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// BenchmarkSnapshotTransfer adds a replica of a range holding 64 MiB to a second node over
// loopback: a snapshot of the range's keys is written, streamed, and applied. Run it with
// -benchtime 1x; it reports MB/s.
func BenchmarkSnapshotTransfer(b *testing.B) {
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		tc := newTestCluster(b, 2)
		value := make([]byte, 64<<10)
		for k := 0; k < 1024; k++ {
			rand.Read(value) // incompressible, so the size on disk is the size sent
			ba := &kvpb.BatchRequest{Requests: []kvpb.Request{&kvpb.PutRequest{Key: []byte(fmt.Sprintf("\x10big%05d", k)), Value: value}}}
			if _, err := tc.send(ctx, ba); err != nil {
				b.Fatal(err)
			}
		}
		r1 := tc.nodes[1].store.Replica(1)
		if err := tc.nodes[1].store.DB().Flush(); err != nil {
			b.Fatal(err)
		}
		size := r1.ApproximateBytes()
		b.StartTimer()
		start := time.Now()
		if err := r1.AddReplica(ctx, kvpb.ReplicaDescriptor{NodeID: 2, StoreID: 2}); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		b.ReportMetric(float64(size)/1e6/elapsed.Seconds(), "MB/s")
		b.ReportMetric(float64(size)/1e6, "MB")
	}
}

// TestReplicateEmptyRange adds replicas to a range that has never applied a command (the
// right half of a split of an empty span): its snapshot must still carry what a replica needs.
func TestReplicateEmptyRange(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := newTestCluster(t, 2)
	r1 := c.nodes[1].store.Replica(1)
	br, err := r1.Send(ctx, &kvpb.BatchRequest{Requests: []kvpb.Request{&kvpb.AdminSplitRequest{SplitKey: []byte("\x10m"), NewRangeID: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	right := br.Responses[0].(*kvpb.AdminSplitResponse).Right
	var r2 *Replica
	deadline := time.Now().Add(10 * time.Second)
	for r2 == nil || r2.checkLeaseholder(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the new range never elected a leader")
		}
		r2 = c.nodes[1].store.Replica(right.RangeID)
		time.Sleep(10 * time.Millisecond)
	}
	if err := r2.AddReplica(ctx, kvpb.ReplicaDescriptor{NodeID: 2, StoreID: 2}); err != nil {
		t.Fatal(err)
	}
	if err := c.put(ctx, "\x10z", "after"); err != nil {
		t.Fatal(err)
	}
	if got := len(r2.Desc().Replicas); got != 2 {
		t.Fatalf("r%d has %d replicas, want 2", right.RangeID, got)
	}
}

// TestRelocateSettlesLearners: an addition cut short after its learner joined the group (the
// lease moved before the promotion) leaves the group and the descriptor disagreeing, which a
// merge refuses. A relocation settles it: it promotes the learner when its node is wanted,
// and removes it when not.
func TestRelocateSettlesLearners(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := newTestCluster(t, 3)
	r1 := c.nodes[1].store.Replica(1)
	if err := r1.AddReplica(ctx, kvpb.ReplicaDescriptor{NodeID: 2, StoreID: 2}); err != nil {
		t.Fatal(err)
	}
	c.waitReplicas(ctx, 1, 2)
	strayLearner := func() {
		t.Helper()
		if err := r1.snapshotForLearner(); err != nil {
			t.Fatal(err)
		}
		if err := r1.raft.AddNonvoter(raftID(3), raftnet.Address(3), 0, configTimeout).Error(); err != nil {
			t.Fatal(err)
		}
		if err := r1.checkColocated(r1.Desc()); err == nil {
			t.Fatal("a group with a stray learner passed for colocated")
		}
	}
	relocate := func(targets ...uint64) {
		t.Helper()
		for i := 0; ; i++ {
			br, err := r1.relocate(ctx, &kvpb.AdminRelocateRequest{Range: *r1.Desc(), Targets: targets})
			if err != nil {
				t.Fatal(err)
			}
			if br.Responses[0].(*kvpb.AdminRelocateResponse).Done {
				return
			}
			if i == 3 {
				t.Fatalf("relocating onto %v: not done after %d steps", targets, i+1)
			}
		}
	}

	strayLearner()
	relocate(1, 2)
	if err := r1.checkColocated(r1.Desc()); err != nil {
		t.Fatalf("after removing the learner: %v", err)
	}
	if _, ok := r1.Desc().Replica(3); ok {
		t.Fatal("the unwanted learner's node is in the descriptor")
	}

	strayLearner()
	relocate(1, 2, 3)
	if err := r1.checkColocated(r1.Desc()); err != nil {
		t.Fatalf("after promoting the learner: %v", err)
	}
	if _, ok := r1.Desc().Replica(3); !ok {
		t.Fatal("the promoted learner is missing from the descriptor")
	}
}

// TestLostLockCannotLoseAnUpdate: an unreplicated lock is lost when the lease moves, and a
// writer then overwrites the locked row through the new leaseholder. The holder's own write
// of the row lands above the writer's, and the refresh of its locking read to that timestamp
// fails: the holder restarts instead of committing an update of the value it read, which
// the writer's replaced (a lost update).
func TestLostLockCannotLoseAnUpdate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := newTestCluster(t, 3)
	r1 := c.replicateFirstRange(ctx)
	key := []byte("\x10row")
	if err := c.put(ctx, string(key), "v0"); err != nil {
		t.Fatal(err)
	}
	clock := c.nodes[1].store.cfg.Clock
	holder := pendingTxn(clock, 1, key)
	br, err := c.send(ctx, &kvpb.BatchRequest{Txn: holder.Clone(), Requests: []kvpb.Request{
		&kvpb.GetRequest{Key: key, Locking: kvpb.LockExclusive}}})
	if err != nil {
		t.Fatal(err)
	}
	if kv := br.Responses[0].(*kvpb.GetResponse).Value; kv == nil || string(kv.Value) != "v0" {
		t.Fatalf("the locking read returned %v", kv)
	}
	if !r1.locks.unreplicatedHeld(key, holder.ID) {
		t.Fatal("n1 holds no lock for the holder")
	}

	// The lease moves to n2; the lock stays behind on n1.
	if err := r1.TransferLease(ctx, 2); err != nil {
		t.Fatal(err)
	}
	// A writer outside the holder's transaction goes through the new leaseholder: nothing
	// there holds it back. (The new lease pushes it above every read served before; it
	// moves up, as its coordinator would after refreshing its reads, and commits.)
	writer := pendingTxn(clock, 2, key)
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	for {
		_, err := c.send(wctx, &kvpb.BatchRequest{Txn: writer.Clone(), Requests: []kvpb.Request{
			&kvpb.PutRequest{Key: key, Value: []byte("writer"), Sequence: 1},
			&kvpb.EndTxnRequest{Commit: true, LockSpans: []kvpb.Span{{Key: key}}}}})
		var pe *kvpb.TxnPushedError
		if errors.As(err, &pe) {
			writer.ReadTimestamp, writer.WriteTimestamp = pe.PushedTo, pe.PushedTo
			continue
		}
		if err != nil {
			t.Fatalf("the writer after the lease moved: %v", err)
		}
		break
	}

	// The holder writes the row it read: above the writer's value.
	br, err = c.send(ctx, &kvpb.BatchRequest{Txn: holder.Clone(), Requests: []kvpb.Request{
		&kvpb.PutRequest{Key: key, Value: []byte("holder"), Sequence: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	pushed := br.Txn.WriteTimestamp
	if !holder.ReadTimestamp.Less(pushed) {
		t.Fatalf("the holder wrote at its read timestamp %s, below the writer's value", pushed)
	}
	// Its commit must first move its reads up to that timestamp: the read of the row fails.
	refreshing := holder.Clone()
	refreshing.ReadTimestamp, refreshing.WriteTimestamp = pushed, pushed
	_, err = c.send(ctx, &kvpb.BatchRequest{Txn: refreshing, Requests: []kvpb.Request{
		&kvpb.RefreshRequest{Span: kvpb.Span{Key: key}, From: holder.ReadTimestamp}}})
	var re *kvpb.TransactionRetryError
	if !errors.As(err, &re) {
		t.Fatalf("refreshing the locked read over the writer's value: %v, want a retry error", err)
	}

	// When the lease comes back, n1 does not serve the stale lock.
	r2 := c.nodes[2].store.Replica(1)
	for r2.checkLeaseholder(ctx) != nil {
		time.Sleep(10 * time.Millisecond)
	}
	if err := r2.TransferLease(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for r1.checkLeaseholder(ctx) != nil {
		if ctx.Err() != nil {
			t.Fatal("the lease never came back to n1")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r1.locks.unreplicatedHeld(key, holder.ID) {
		t.Fatal("n1 took the lease back with the lock it held under its earlier lease")
	}
}

// TestRestartedNodeRefusesVotes: a node that restarts keeps its replicas from voting for a
// heartbeat timeout (promises to the leader made before the restart may still stand); a
// node that never restarted votes, and the range serves throughout.
func TestRestartedNodeRefusesVotes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Long enough that the restart itself cannot outlast the quiet, even on a slow machine.
	c := newTestClusterOf(t, 3, &testCluster{heartbeatTimeout: 2 * time.Second})
	c.replicateFirstRange(ctx)
	if c.nodes[2].tr.RefusesVotes() {
		t.Fatal("a node that never restarted refuses votes")
	}
	dir := c.nodes[2].dir
	c.stop(2)
	n2 := c.start(2, dir)
	if !n2.tr.RefusesVotes() {
		t.Fatal("a restarted node votes at once")
	}
	if err := c.put(ctx, "\x10after-restart", "v"); err != nil {
		t.Fatal(err)
	}
}

// TestReplicaNotKnowingItsRangeDoesNotLead: the right-hand range of a split reaches a node
// as messages before the node's left replica applies the split, so the node holds an empty
// replica of it, which can become the Raft leader. It must not serve (it knows no keys) nor
// change the range's descriptor (every replica would take its empty one): it hands
// leadership to a replica that knows the range, which serves at once, and it serves itself
// once it has applied the split.
func TestReplicaNotKnowingItsRangeDoesNotLead(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := newTestCluster(t, 3)
	c.replicateFirstRange(ctx)
	// n3's replica of r1 applies nothing until released: it hears of the split late.
	lagging := c.nodes[3].store.Replica(1)
	lagging.fsm.mu.Lock()
	released := false
	release := func() {
		if !released {
			released = true
			lagging.fsm.mu.Unlock()
		}
	}
	defer release()

	if _, err := c.send(ctx, &kvpb.BatchRequest{RangeID: 1, Requests: []kvpb.Request{
		&kvpb.AdminSplitRequest{SplitKey: []byte("m"), NewRangeID: 2},
	}}); err != nil {
		t.Fatal(err)
	}
	var empty, leader *Replica
	for empty == nil || leader == nil || empty.raft.LastIndex() == 0 {
		empty = c.nodes[3].store.Replica(2)
		for _, id := range []uint64{1, 2} {
			if r := c.nodes[id].store.Replica(2); r != nil && r.raft.State() == raft.Leader {
				leader = r
			}
		}
		select {
		case <-ctx.Done():
			t.Fatal("n3 never got an empty replica of r2 holding its log")
		case <-time.After(10 * time.Millisecond):
		}
	}
	if empty.initialized() {
		t.Fatal("n3's replica of r2 knows its range before n3 applied the split")
	}
	if err := leader.TransferLease(ctx, 3); err != nil {
		t.Fatal(err)
	}

	// Served by whichever replica leads, while n3 still knows nothing of r2's keys. (Sent
	// to r2 by its ID, as a DistSender does: n3 would route a key to its replica of r1.)
	put, err := c.send(ctx, &kvpb.BatchRequest{RangeID: 2, Requests: []kvpb.Request{
		&kvpb.PutRequest{Key: []byte("x"), Value: []byte("1")},
	}})
	if err != nil {
		t.Fatalf("writing to r2 while n3's replica does not know it: %v", err)
	}
	_, err = empty.Send(ctx, &kvpb.BatchRequest{Requests: []kvpb.Request{&kvpb.GetRequest{Key: []byte("x")}}})
	var nlhe *kvpb.NotLeaseHolderError
	if !errors.As(err, &nlhe) {
		t.Fatalf("the replica that does not know its range answered %v, want NotLeaseHolderError", err)
	}
	for _, id := range []uint64{1, 2} {
		r := c.nodes[id].store.Replica(2)
		for !r.initialized() && ctx.Err() == nil { // n2 may have heard of r2 before the split too
			time.Sleep(10 * time.Millisecond)
		}
		if d := r.Desc(); string(d.StartKey) != "m" || len(d.EndKey) == 0 {
			t.Fatalf("n%d's descriptor of r2 is %s", id, d)
		}
	}

	release()
	for !empty.IsLeaseholder() {
		for _, id := range []uint64{1, 2} {
			if r := c.nodes[id].store.Replica(2); r.IsLeaseholder() {
				_ = r.TransferLease(ctx, 3)
			}
		}
		select {
		case <-ctx.Done():
			t.Fatal("n3's replica of r2 never led after applying the split")
		case <-time.After(10 * time.Millisecond):
		}
	}
	// At the write's timestamp: a new range's writes land above what the split range may
	// have served, so possibly ahead of n3's clock.
	br, err := empty.Send(ctx, &kvpb.BatchRequest{Timestamp: put.Timestamp, Requests: []kvpb.Request{&kvpb.GetRequest{Key: []byte("x")}}})
	if err != nil {
		t.Fatalf("reading x on n3 after it applied the split: %v", err)
	}
	if kv := br.Responses[0].(*kvpb.GetResponse).Value; kv == nil || string(kv.Value) != "1" {
		t.Fatalf("x = %v on n3, want 1", kv)
	}
}
