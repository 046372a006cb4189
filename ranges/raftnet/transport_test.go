package raftnet

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"google.golang.org/grpc"

	"github.com/meridiandb/meridian/ranges/rpc"
)

// listFSM records the commands it applies, in order.
type listFSM struct {
	mu   sync.Mutex
	cmds []string
}

func (f *listFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = append(f.cmds, string(l.Data))
	return nil
}

func (f *listFSM) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cmds...)
}

func (f *listFSM) Snapshot() (raft.FSMSnapshot, error) { return &listSnap{cmds: f.list()}, nil }

func (f *listFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = nil
	for _, c := range bytes.Split(b, []byte{'\n'}) {
		if len(c) > 0 {
			f.cmds = append(f.cmds, string(c))
		}
	}
	return nil
}

type listSnap struct{ cmds []string }

func (s *listSnap) Persist(sink raft.SnapshotSink) error {
	for _, c := range s.cmds {
		fmt.Fprintf(sink, "%s\n", c)
	}
	// Pad so that the snapshot spans several stream chunks.
	sink.Write(bytes.Repeat([]byte{'\n'}, 3*snapshotChunkSize))
	return sink.Close()
}

func (s *listSnap) Release() {}

// node is one test node: a gRPC server on a real loopback socket and its Raft transport.
type node struct {
	id     uint64
	addr   string
	srv    *grpc.Server
	dialer *rpc.Dialer
	tr     *Transport

	mu     sync.Mutex
	groups map[uint64]*member
}

type member struct {
	raft *raft.Raft
	fsm  *listFSM
}

type cluster struct {
	t     *testing.T
	mu    sync.Mutex
	addrs map[uint64]string
	nodes map[uint64]*node
}

func newCluster(t *testing.T, n int) *cluster {
	c := &cluster{t: t, addrs: map[uint64]string{}, nodes: map[uint64]*node{}}
	for id := uint64(1); id <= uint64(n); id++ {
		c.start(id)
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			c.stop(n.id)
		}
	})
	return c
}

func (c *cluster) resolve(id uint64) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a, ok := c.addrs[id]; ok {
		return a, nil
	}
	return "", fmt.Errorf("n%d unknown", id)
}

func (c *cluster) start(id uint64) *node {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatal(err)
	}
	n := &node{id: id, addr: ln.Addr().String(), srv: rpc.NewServer(nil), groups: map[uint64]*member{}}
	n.dialer = rpc.NewDialer(c.resolve)
	n.tr = New(id, n.dialer, nil)
	n.tr.Register(n.srv)
	go n.srv.Serve(ln)
	c.mu.Lock()
	c.addrs[id], c.nodes[id] = n.addr, n
	c.mu.Unlock()
	return n
}

// stop kills a node abruptly: its server stops and its groups shut down.
func (c *cluster) stop(id uint64) {
	c.mu.Lock()
	n := c.nodes[id]
	delete(c.nodes, id)
	c.mu.Unlock()
	if n == nil {
		return
	}
	n.srv.Stop()
	n.mu.Lock()
	for _, m := range n.groups {
		m.raft.Shutdown()
	}
	n.mu.Unlock()
	n.tr.Close()
	n.dialer.Close()
}

func raftConfig(id uint64) *raft.Config {
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(Address(id))
	conf.HeartbeatTimeout = 300 * time.Millisecond
	conf.ElectionTimeout = 300 * time.Millisecond
	conf.LeaderLeaseTimeout = 200 * time.Millisecond
	conf.CommitTimeout = 50 * time.Millisecond
	conf.SnapshotThreshold = 20
	conf.TrailingLogs = 5
	conf.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Off})
	return conf
}

// join starts range rangeID's replica on node n, bootstrapping it with voters if any.
func (c *cluster) join(n *node, rangeID uint64, voters []uint64) *member {
	g, err := n.tr.Group(rangeID)
	if err != nil {
		c.t.Fatal(err)
	}
	conf := raftConfig(n.id)
	logs, snaps, fsm := raft.NewInmemStore(), raft.NewInmemSnapshotStore(), &listFSM{}
	if len(voters) > 0 {
		var servers []raft.Server
		for _, v := range voters {
			servers = append(servers, raft.Server{ID: raft.ServerID(Address(v)), Address: Address(v)})
		}
		if err := raft.BootstrapCluster(conf, logs, logs, snaps, g, raft.Configuration{Servers: servers}); err != nil {
			c.t.Fatal(err)
		}
	}
	r, err := raft.NewRaft(conf, fsm, logs, logs, snaps, g)
	if err != nil {
		c.t.Fatal(err)
	}
	m := &member{raft: r, fsm: fsm}
	n.mu.Lock()
	n.groups[rangeID] = m
	n.mu.Unlock()
	return m
}

func (c *cluster) leader(rangeID uint64) (*node, *member) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		nodes := make([]*node, 0, len(c.nodes))
		for _, n := range c.nodes {
			nodes = append(nodes, n)
		}
		c.mu.Unlock()
		for _, n := range nodes {
			n.mu.Lock()
			m := n.groups[rangeID]
			n.mu.Unlock()
			if m != nil && m.raft.State() == raft.Leader {
				return n, m
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("r%d elected no leader", rangeID)
	return nil, nil
}

func apply(t *testing.T, m *member, cmd string) {
	t.Helper()
	if err := m.raft.Apply([]byte(cmd), 5*time.Second).Error(); err != nil {
		t.Fatalf("applying %q: %v", cmd, err)
	}
}

// waitFor polls until every listed member applied want.
func waitFor(t *testing.T, want []string, members ...*member) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, m := range members {
		for {
			got := m.fsm.list()
			if fmt.Sprint(got) == fmt.Sprint(want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica applied %v, want %v", got, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestGroupsReplicateOverOneConnection runs many ranges' groups on three nodes over real
// sockets: all replicate, and a killed leader is replaced.
func TestGroupsReplicateOverOneConnection(t *testing.T) {
	c := newCluster(t, 3)
	const ranges = 5
	members := map[uint64][]*member{}
	for r := uint64(1); r <= ranges; r++ {
		for id := uint64(1); id <= 3; id++ {
			members[r] = append(members[r], c.join(c.nodes[id], r, []uint64{1, 2, 3}))
		}
	}
	for r := uint64(1); r <= ranges; r++ {
		_, l := c.leader(r)
		apply(t, l, fmt.Sprintf("r%d-a", r))
		apply(t, l, fmt.Sprintf("r%d-b", r))
	}
	for r := uint64(1); r <= ranges; r++ {
		waitFor(t, []string{fmt.Sprintf("r%d-a", r), fmt.Sprintf("r%d-b", r)}, members[r]...)
	}

	// Kill the leader of range 1; the survivors elect a new one and keep committing.
	dead, _ := c.leader(1)
	c.stop(dead.id)
	n, l := c.leader(1)
	if n.id == dead.id {
		t.Fatal("dead node still leads")
	}
	apply(t, l, "r1-c")
	var live []*member
	for id, nd := range c.nodes {
		_ = id
		live = append(live, nd.groups[1])
	}
	waitFor(t, []string{"r1-a", "r1-b", "r1-c"}, live...)
}

// TestSnapshotToNewReplica: a replica added after the log was truncated catches up through
// a streamed snapshot, and is created on its node by the unknown-range handler.
func TestSnapshotToNewReplica(t *testing.T) {
	c := newCluster(t, 2)
	a := c.join(c.nodes[1], 7, []uint64{1})
	_, l := c.leader(7)
	var want []string
	for i := 0; i < 50; i++ {
		cmd := fmt.Sprintf("c%02d", i)
		want = append(want, cmd)
		apply(t, l, cmd)
	}
	if err := a.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}

	n2 := c.nodes[2]
	created := make(chan *member, 1)
	n2.tr.SetUnknownRangeHandler(func(ctx context.Context, rangeID uint64) error {
		n2.mu.Lock()
		_, ok := n2.groups[rangeID]
		n2.mu.Unlock()
		if !ok {
			created <- c.join(n2, rangeID, nil)
		}
		return nil
	})
	if err := l.raft.AddVoter(raft.ServerID(Address(2)), Address(2), 0, 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	var b *member
	select {
	case b = <-created:
	case <-time.After(10 * time.Second):
		t.Fatal("the new replica was never created")
	}
	waitFor(t, want, b)
	apply(t, l, "after")
	waitFor(t, append(want, "after"), a, b)
}

func TestAddressRoundTrip(t *testing.T) {
	if id, err := NodeID(Address(42)); err != nil || id != 42 {
		t.Fatalf("NodeID(Address(42)) = %d, %v", id, err)
	}
	for _, bad := range []raft.ServerAddress{"", "0", "n1", "127.0.0.1:26257"} {
		if _, err := NodeID(bad); err == nil {
			t.Errorf("NodeID(%q) accepted", bad)
		}
	}
}
