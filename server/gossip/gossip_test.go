package gossip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testTiming detects a dead node in a second or two on loopback, even under -race.
func testTiming() Timing {
	return Timing{
		ProbeInterval:       100 * time.Millisecond,
		ProbeTimeout:        80 * time.Millisecond,
		SuspicionMult:       2,
		GossipInterval:      20 * time.Millisecond,
		PushPullInterval:    500 * time.Millisecond,
		TCPTimeout:          time.Second,
		BroadcastTimeout:    time.Second,
		LeavePropagateDelay: 100 * time.Millisecond,
		ReapInterval:        100 * time.Millisecond,
	}
}

// testLogger logs to stderr when GOSSIP_TEST_LOG is set (e.g. to "debug"), else nowhere.
// (Not to t.Log: memberlist may log from its goroutines as a test ends.)
func testLogger() *slog.Logger {
	lvl := os.Getenv("GOSSIP_TEST_LOG")
	if lvl == "" {
		return nil
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(lvl))
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// testNode is a gossip member plus what the node's connection multiplexer does for it: a
// TCP listener on the gossip port whose connections starting with StreamPreamble go to
// Transport.HandleStream.
type testNode struct {
	id   uint64
	addr string
	g    *Gossip
	ln   net.Listener
	wg   sync.WaitGroup

	backlog []Event // events read by waitEvent and not yet matched

	stopOnce sync.Once
}

// startNode starts a member with the given ID on a fresh loopback port; mod may change its
// Config. The node is stopped when the test ends.
func startNode(t *testing.T, id uint64, mod func(*Config)) *testNode {
	t.Helper()
	for attempt := 0; ; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cfg := Config{
			NodeID:   id,
			BindAddr: ln.Addr().String(),
			Locality: map[string]string{"region": "test", "zone": "z" + strconv.FormatUint(id, 10)},
			Tags:     map[string]string{"sql": ln.Addr().String()},
			Logger:   testLogger(),
			Timing:   testTiming(),
		}
		if mod != nil {
			mod(&cfg)
		}
		g, err := Start(context.Background(), cfg)
		if errors.Is(err, syscall.EADDRINUSE) && attempt < 10 {
			// Someone holds the UDP port with this number; try another.
			_ = ln.Close()
			continue
		}
		if err != nil {
			_ = ln.Close()
			t.Fatalf("Start(n%d): %v", id, err)
		}
		n := &testNode{id: id, addr: ln.Addr().String(), g: g, ln: ln}
		n.wg.Add(1)
		go n.serve()
		t.Cleanup(n.stop)
		return n
	}
}

// serve is the test's stand-in for the node's connection multiplexer.
func (n *testNode) serve() {
	defer n.wg.Done()
	for {
		conn, err := n.ln.Accept()
		if err != nil {
			return
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			var pre [len(StreamPreamble)]byte
			if _, err := io.ReadFull(conn, pre[:]); err != nil || string(pre[:]) != StreamPreamble {
				_ = conn.Close() // not gossip; a real mux would try SQL and RPC
				return
			}
			_ = conn.SetReadDeadline(time.Time{})
			_ = n.g.Transport().HandleStream(conn)
		}()
	}
}

// stop kills the node as a crashed process would: no Leave, and its port closes.
func (n *testNode) stop() {
	n.stopOnce.Do(func() {
		_ = n.g.Close()
		_ = n.ln.Close()
		n.wg.Wait()
	})
}

// eventually calls f until it returns nil, failing the test with f's last error if that
// does not happen within timeout.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitEvent returns the first event of n, read now or earlier, of that kind for that node,
// failing the test after timeout. Events read and not matched are kept for later calls.
func waitEvent(t *testing.T, n *testNode, timeout time.Duration, kind EventKind, nodeID uint64) Event {
	t.Helper()
	match := func(ev Event) bool { return ev.Kind == kind && ev.Member.NodeID == nodeID }
	for i, ev := range n.backlog {
		if match(ev) {
			n.backlog = append(n.backlog[:i], n.backlog[i+1:]...)
			return ev
		}
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-n.g.Events():
			if !ok {
				t.Fatalf("n%d: events closed while waiting for %v of n%d", n.id, kind, nodeID)
			}
			if match(ev) {
				return ev
			}
			n.backlog = append(n.backlog, ev)
		case <-timer.C:
			t.Fatalf("n%d: no %v event for n%d within %v; other events: %v", n.id, kind, nodeID, timeout, n.backlog)
		}
	}
}

func member(ms []Member, id uint64) (Member, bool) {
	for _, m := range ms {
		if m.NodeID == id {
			return m, true
		}
	}
	return Member{}, false
}

func join(t *testing.T, n *testNode, peers ...*testNode) {
	t.Helper()
	var addrs []string
	for _, p := range peers {
		addrs = append(addrs, p.addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if k, err := n.g.Join(ctx, addrs); err != nil || k == 0 {
		t.Fatalf("n%d Join(%v) = %d, %v", n.id, addrs, k, err)
	}
}

// waitStatus waits until every observer sees member id with status want.
func waitStatus(t *testing.T, timeout time.Duration, id uint64, want Status, observers ...*testNode) {
	t.Helper()
	eventually(t, timeout, func() error {
		for _, o := range observers {
			m, ok := member(o.g.Members(), id)
			if !ok {
				return fmt.Errorf("n%d does not know n%d", o.id, id)
			}
			if m.Status != want {
				return fmt.Errorf("n%d sees n%d as %v, want %v", o.id, id, m.Status, want)
			}
		}
		return nil
	})
}

func TestThreeNodesJoin(t *testing.T) {
	nodes := []*testNode{startNode(t, 1, nil), startNode(t, 2, nil), startNode(t, 3, nil)}
	join(t, nodes[1], nodes[0])
	join(t, nodes[2], nodes[0])

	eventually(t, 10*time.Second, func() error {
		for _, o := range nodes {
			ms := o.g.Members()
			if len(ms) != len(nodes) {
				return fmt.Errorf("n%d sees %d members: %v", o.id, len(ms), ms)
			}
			for i, m := range ms {
				want := nodes[i]
				if m.NodeID != want.id || m.Status != StatusAlive {
					return fmt.Errorf("n%d: member %d is n%d %v, want n%d alive", o.id, i, m.NodeID, m.Status, want.id)
				}
				if m.Addr != want.addr {
					return fmt.Errorf("n%d: n%d has Addr %q, want %q", o.id, m.NodeID, m.Addr, want.addr)
				}
				wantLoc := map[string]string{"region": "test", "zone": "z" + strconv.FormatUint(want.id, 10)}
				if !maps.Equal(m.Locality, wantLoc) {
					return fmt.Errorf("n%d: n%d has locality %v, want %v", o.id, m.NodeID, m.Locality, wantLoc)
				}
				if wantTags := map[string]string{"sql": want.addr}; !maps.Equal(m.Tags, wantTags) {
					return fmt.Errorf("n%d: n%d has tags %v, want %v", o.id, m.NodeID, m.Tags, wantTags)
				}
			}
		}
		return nil
	})

	// The first node heard of its own start and of both others joining.
	for _, id := range []uint64{1, 2, 3} {
		ev := waitEvent(t, nodes[0], 5*time.Second, MemberJoined, id)
		if ev.Member.Status != StatusAlive || ev.Member.Locality["zone"] != "z"+strconv.FormatUint(id, 10) {
			t.Errorf("join event for n%d: %+v", id, ev.Member)
		}
	}
}

func TestFailedNodeDetected(t *testing.T) {
	var nodes []*testNode
	for id := uint64(1); id <= 5; id++ {
		nodes = append(nodes, startNode(t, id, nil))
	}
	for _, n := range nodes[1:] {
		join(t, n, nodes[0])
	}
	waitStatus(t, 10*time.Second, 5, StatusAlive, nodes...)

	start := time.Now()
	nodes[4].stop() // no Leave
	survivors := nodes[:4]
	waitStatus(t, 10*time.Second, 5, StatusFailed, survivors...)
	t.Logf("all survivors saw n5 fail %v after it stopped", time.Since(start).Round(time.Millisecond))
	for _, n := range survivors {
		waitEvent(t, n, 5*time.Second, MemberFailed, 5)
	}
	for _, n := range survivors {
		for _, m := range n.g.Members() {
			if m.NodeID != 5 && m.Status != StatusAlive {
				t.Errorf("n%d sees n%d as %v, want alive", n.id, m.NodeID, m.Status)
			}
		}
	}
}

func TestLeave(t *testing.T) {
	short := func(c *Config) { c.Timing.TombstoneTimeout = 500 * time.Millisecond }
	nodes := []*testNode{startNode(t, 1, short), startNode(t, 2, short), startNode(t, 3, short)}
	join(t, nodes[1], nodes[0])
	join(t, nodes[2], nodes[0])
	waitStatus(t, 10*time.Second, 3, StatusAlive, nodes[:2]...)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := nodes[2].g.Leave(ctx); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	for _, n := range nodes[:2] {
		ev := waitEvent(t, n, 5*time.Second, MemberLeft, 3)
		if ev.Member.Status != StatusLeft {
			t.Errorf("n%d: left event for n3 has status %v", n.id, ev.Member.Status)
		}
	}
	if _, err := nodes[2].g.Join(ctx, []string{nodes[0].addr}); err == nil {
		t.Error("Join after Leave succeeded")
	}
	nodes[2].stop()

	// A Left member is reaped after the tombstone timeout and forgotten.
	for _, n := range nodes[:2] {
		waitEvent(t, n, 5*time.Second, MemberReaped, 3)
		if m, ok := member(n.g.Members(), 3); ok {
			t.Errorf("n%d still lists n3 after reaping it: %+v", n.id, m)
		}
		if m, _ := member(n.g.Members(), 2); m.Status != StatusAlive {
			t.Errorf("n%d sees n2 as %v", n.id, m.Status)
		}
	}
}

func TestSetTags(t *testing.T) {
	nodes := []*testNode{startNode(t, 1, nil), startNode(t, 2, nil), startNode(t, 3, nil)}
	join(t, nodes[1], nodes[0])
	join(t, nodes[2], nodes[0])
	waitStatus(t, 10*time.Second, 2, StatusAlive, nodes...)

	newTags := map[string]string{"sql": "10.1.2.3:26257", "http": "10.1.2.3:8080"}
	if err := nodes[1].g.SetTags(newTags); err != nil {
		t.Fatalf("SetTags: %v", err)
	}
	eventually(t, 10*time.Second, func() error {
		for _, o := range nodes {
			m, _ := member(o.g.Members(), 2)
			if !maps.Equal(m.Tags, newTags) {
				return fmt.Errorf("n%d sees n2's tags as %v, want %v", o.id, m.Tags, newTags)
			}
			if m.Locality["zone"] != "z2" || len(m.Locality) != 2 {
				return fmt.Errorf("n%d sees n2's locality as %v", o.id, m.Locality)
			}
		}
		return nil
	})
	ev := waitEvent(t, nodes[2], 5*time.Second, MemberUpdated, 2)
	if ev.Member.Tags["http"] != "10.1.2.3:8080" {
		t.Errorf("update event carries tags %v", ev.Member.Tags)
	}

	if err := nodes[1].g.SetTags(map[string]string{"loc.zone": "z9"}); err == nil {
		t.Error(`SetTags accepted a "loc." tag`)
	}
}

func TestJoinRetriesUntilPeerStarts(t *testing.T) {
	n1 := startNode(t, 1, nil)

	// The peer's port is open (its listener exists) but its gossip has not started yet.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	peerAddr := ln.Addr().String()
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		k, err := n1.g.Join(ctx, []string{peerAddr})
		done <- result{k, err}
	}()
	time.Sleep(300 * time.Millisecond) // let a few attempts fail; not an assertion

	g2, err := Start(context.Background(), Config{NodeID: 2, BindAddr: peerAddr, Logger: testLogger(), Timing: testTiming()})
	if err != nil {
		_ = ln.Close()
		t.Skipf("cannot bind UDP on the peer's port: %v", err)
	}
	n2 := &testNode{id: 2, addr: peerAddr, g: g2, ln: ln}
	n2.wg.Add(1)
	go n2.serve()
	t.Cleanup(n2.stop)

	select {
	case r := <-done:
		if r.err != nil || r.n != 1 {
			t.Fatalf("Join = %d, %v; want 1, nil", r.n, r.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Join did not return")
	}
	waitStatus(t, 10*time.Second, 1, StatusAlive, n1, n2)
	waitStatus(t, 10*time.Second, 2, StatusAlive, n1, n2)
}

func TestJoinHonorsContext(t *testing.T) {
	n := startNode(t, 1, nil)
	// A port with nothing listening: every attempt is refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	_ = ln.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	k, err := n.g.Join(ctx, []string{dead})
	if k != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Join = %d, %v; want 0 and a deadline error", k, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Join took %v to notice its context ended", d)
	}
	if _, err := n.g.Join(context.Background(), nil); err == nil {
		t.Error("Join with no addresses succeeded")
	}
}

func TestJoinSelf(t *testing.T) {
	// The first node of a cluster may be given its own address among the join addresses.
	n := startNode(t, 1, nil)
	join(t, n, n)
	if ms := n.g.Members(); len(ms) != 1 || ms[0].NodeID != 1 || ms[0].Status != StatusAlive {
		t.Fatalf("members after joining itself: %+v", ms)
	}
}

func TestClosedGossip(t *testing.T) {
	n := startNode(t, 1, nil)
	n.stop()
	if err := n.g.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	// HandleStream after Close closes the conn instead of blocking.
	local, remote := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- n.g.Transport().HandleStream(local) }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("HandleStream after Close = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("HandleStream after Close blocked")
	}
	if _, err := remote.Read(make([]byte, 1)); err == nil {
		t.Error("HandleStream after Close left the conn open")
	}

	// Events queued before Close may remain; after them the channel is closed.
	drained := make(chan struct{})
	go func() {
		for range n.g.Events() {
		}
		close(drained)
	}()
	select {
	case <-drained:
	case <-time.After(5 * time.Second):
		t.Fatal("Events not closed by Close")
	}
	if _, err := n.g.Join(context.Background(), []string{"127.0.0.1:1"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Join after Close = %v, want ErrClosed", err)
	}
	if err := n.g.SetTags(nil); !errors.Is(err, ErrClosed) {
		t.Errorf("SetTags after Close = %v, want ErrClosed", err)
	}
	if err := n.g.Leave(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Leave after Close = %v, want ErrClosed", err)
	}
}

func TestDialWritesPreamble(t *testing.T) {
	n := startNode(t, 1, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, len(StreamPreamble)+5)
		_, _ = io.ReadFull(c, b)
		got <- b
	}()
	conn, err := (*mlTransport)(n.g.Transport()).DialTimeout(ln.Addr().String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if b := <-got; string(b) != StreamPreamble+"hello" {
		t.Errorf("peer read %q, want %q", b, StreamPreamble+"hello")
	}
	_ = conn.Close()
}

func TestConfigValidation(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no node ID", Config{BindAddr: "127.0.0.1:7000"}, "NodeID"},
		{"no port", Config{NodeID: 1, BindAddr: "127.0.0.1"}, "BindAddr"},
		{"port 0", Config{NodeID: 1, BindAddr: "127.0.0.1:0"}, "port must be"},
		{"advertise port 0", Config{NodeID: 1, BindAddr: "127.0.0.1:7000", AdvertiseAddr: "127.0.0.1:0"}, "AdvertiseAddr"},
		{"advertise unspecified", Config{NodeID: 1, BindAddr: "127.0.0.1:7000", AdvertiseAddr: "0.0.0.0:7000"}, "unspecified"},
		{"bad locality", Config{NodeID: 1, BindAddr: "127.0.0.1:7000", Locality: map[string]string{"region": "a,b"}}, "Locality"},
		{"reserved tag", Config{NodeID: 1, BindAddr: "127.0.0.1:7000", Tags: map[string]string{"loc.region": "a"}}, "reserved"},
	} {
		g, err := Start(ctx, tc.cfg)
		if err == nil {
			_ = g.Close()
			t.Errorf("%s: Start succeeded", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not mention %q", tc.name, err, tc.want)
		}
	}
}

func TestAdvertiseAddr(t *testing.T) {
	// Peers must dial and send to the advertised address, not the bind address. Here the
	// node binds every interface and advertises loopback.
	var n2 *testNode
	for attempt := 0; n2 == nil && attempt < 10; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		g, err := Start(context.Background(), Config{
			NodeID:        2,
			BindAddr:      net.JoinHostPort("0.0.0.0", port),
			AdvertiseAddr: ln.Addr().String(),
			Logger:        testLogger(),
			Timing:        testTiming(),
		})
		if err != nil {
			_ = ln.Close()
			continue
		}
		n2 = &testNode{id: 2, addr: ln.Addr().String(), g: g, ln: ln}
	}
	if n2 == nil {
		t.Skip("no port free on both TCP loopback and UDP 0.0.0.0")
	}
	n2.wg.Add(1)
	go n2.serve()
	t.Cleanup(n2.stop)

	n1 := startNode(t, 1, nil)
	join(t, n1, n2)
	waitStatus(t, 10*time.Second, 2, StatusAlive, n1, n2)
	waitStatus(t, 10*time.Second, 1, StatusAlive, n1, n2)
	if m, _ := member(n1.g.Members(), 2); m.Addr != n2.addr {
		t.Errorf("n1 sees n2 at %q, want %q", m.Addr, n2.addr)
	}
}

func TestCloseStopsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	n1, n2 := startNode(t, 1, nil), startNode(t, 2, nil)
	join(t, n2, n1)
	waitStatus(t, 10*time.Second, 2, StatusAlive, n1, n2)
	n1.stop()
	n2.stop()
	eventually(t, 5*time.Second, func() error {
		if now := runtime.NumGoroutine(); now > before {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			return fmt.Errorf("%d goroutines before, %d after Close:\n%s", before, now, buf)
		}
		return nil
	})
}

func TestLogWriter(t *testing.T) {
	var buf bytes.Buffer
	w := logWriter{slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		Level:       slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr { return dropTime(a) },
	}))}
	for _, line := range []string{
		"[DEBUG] memberlist: Stream connection from=127.0.0.1:1\n",
		"[INFO] serf: EventMemberJoin: n1 127.0.0.1\n",
		"[WARN] memberlist: Was able to connect to n2 but other probes failed\n",
		"[ERR] memberlist: Failed to send ping\n",
		"no level here\n",
	} {
		if n, err := w.Write([]byte(line)); n != len(line) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	want := `level=DEBUG msg="memberlist: Stream connection from=127.0.0.1:1"
level=INFO msg="serf: EventMemberJoin: n1 127.0.0.1"
level=WARN msg="memberlist: Was able to connect to n2 but other probes failed"
level=ERROR msg="memberlist: Failed to send ping"
level=INFO msg="no level here"
`
	if buf.String() != want {
		t.Errorf("logged:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func dropTime(a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

func TestEmitDropsOldest(t *testing.T) {
	g := &Gossip{events: make(chan Event, 2), logger: slog.New(slog.DiscardHandler)}
	for id := uint64(1); id <= 5; id++ {
		g.emit(Event{Kind: MemberJoined, Member: Member{NodeID: id}})
	}
	if a, b := <-g.events, <-g.events; a.Member.NodeID != 4 || b.Member.NodeID != 5 {
		t.Errorf("kept events for n%d and n%d, want n4 and n5", a.Member.NodeID, b.Member.NodeID)
	}
	if g.dropped != 3 {
		t.Errorf("dropped = %d, want 3", g.dropped)
	}
}
