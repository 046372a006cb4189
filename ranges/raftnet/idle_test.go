package raftnet_test

// This file is the reproducible benchmark of the idle cost of Raft over raftnet: how much CPU
// a node spends keeping many quiet ranges' Raft groups alive (heartbeats, commit-index
// refreshes, lease checks and timers), with everything on real loopback gRPC sockets.
//
// It never runs in a normal `go test`; run it with
//
//	MERIDIAN_IDLE_BENCH=1 go test -run TestIdleCPU -v -timeout 30m ./ranges/raftnet/
//
// Optional settings, all through the environment:
//
//	MERIDIAN_IDLE_GROUPS=1000        groups (= replicas per node; every group has one on each of 3 nodes)
//	MERIDIAN_IDLE_WINDOW=20s         length of the CPU measurement window
//	MERIDIAN_IDLE_CONFIGS=a,b        which timing configurations to run (default: all in idleConfigs
//	                                 that are not marked optional; "all" runs every one)
//	MERIDIAN_IDLE_FAILOVER=0         skip the leader-failover measurement
//	MERIDIAN_IDLE_CPUPROFILE=/tmp/f  CPU profile of the measurement window only, which leaves out
//	                                 startup and elections (with several configurations, each
//	                                 writes /tmp/f.<config>). Give an absolute path: go test runs
//	                                 in the package directory.
//
// All three nodes live in one process, so the process's CPU time (getrusage RUSAGE_SELF,
// user+system) is divided by three to get the cost of one node. Every group has one replica
// on each node, so "per node" is also "per G replicas". Besides CPU, the table reports the
// goroutines and HeapInuse the groups added (after a GC), the write system calls and bytes
// of the process (from /proc/self/io, nearly all of it the loopback gRPC connections) next
// to an estimate of the Raft messages sent, which shows how well messages are coalesced, and
// whether any group changed leader during the window (it should not: elections would make
// the groups not idle). Unless MERIDIAN_IDLE_FAILOVER=0, it then kills node 1 (transport,
// server and replicas) and times how long each group it led takes to elect a new leader.

import (
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"google.golang.org/grpc"

	"github.com/meridiandb/meridian/ranges/raftnet"
	"github.com/meridiandb/meridian/ranges/rpc"
)

// idleConfig is one Raft timing configuration to measure.
type idleConfig struct {
	name              string
	heartbeat         time.Duration // raft.Config.HeartbeatTimeout; leaders heartbeat every HT/10 to HT/5
	election          time.Duration // raft.Config.ElectionTimeout
	lease             time.Duration // raft.Config.LeaderLeaseTimeout
	commit            time.Duration // raft.Config.CommitTimeout; each follower link gets an AppendEntries every CT to 2·CT
	noLegacyTelemetry bool          // raft.Config.NoLegacyTelemetry
	optional          bool          // run only when named in MERIDIAN_IDLE_CONFIGS (or "all")
}

var idleConfigs = []idleConfig{
	{name: "a", heartbeat: time.Second, election: time.Second, lease: 500 * time.Millisecond, commit: time.Second},
	{name: "b", heartbeat: 2 * time.Second, election: 2 * time.Second, lease: time.Second, commit: 2 * time.Second},
	{name: "c", heartbeat: 3 * time.Second, election: 3 * time.Second, lease: 1500 * time.Millisecond, commit: 5 * time.Second},
	// CommitTimeout far above the heartbeat timeout: the per-follower commit-index refresh,
	// which goes through the follower's Raft main loop, almost disappears.
	{name: "d1", heartbeat: 2 * time.Second, election: 2 * time.Second, lease: time.Second, commit: 30 * time.Second},
	{name: "d2", heartbeat: 3 * time.Second, election: 3 * time.Second, lease: 1500 * time.Millisecond, commit: 60 * time.Second},
	{name: "d3", heartbeat: 3 * time.Second, election: 3 * time.Second, lease: 1500 * time.Millisecond, commit: 60 * time.Second, noLegacyTelemetry: true},
	{name: "d4", heartbeat: 5 * time.Second, election: 5 * time.Second, lease: 2500 * time.Millisecond, commit: 60 * time.Second, noLegacyTelemetry: true},
	// Meridian's defaults (ranges.DefaultRaftHeartbeatTimeout; CommitTimeout = HT).
	{name: "meridian", heartbeat: 2 * time.Second, election: 2 * time.Second, lease: time.Second, commit: 2 * time.Second},
	// hashicorp/raft's defaults, for reference: far too costly for many groups.
	{name: "default", heartbeat: time.Second, election: time.Second, lease: 500 * time.Millisecond, commit: 50 * time.Millisecond, optional: true},
}

func (c idleConfig) String() string {
	s := fmt.Sprintf("HT=%s ET=%s LLT=%s CT=%s", c.heartbeat, c.election, c.lease, c.commit)
	if c.noLegacyTelemetry {
		s += " NoLegacyTelemetry"
	}
	return s
}

func (c idleConfig) raftConfig(nodeID uint64, logger hclog.Logger) *raft.Config {
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(raftnet.Address(nodeID))
	conf.HeartbeatTimeout = c.heartbeat
	conf.ElectionTimeout = c.election
	conf.LeaderLeaseTimeout = c.lease
	conf.CommitTimeout = c.commit
	conf.NoLegacyTelemetry = c.noLegacyTelemetry
	conf.Logger = logger
	return conf
}

// idleResult is what one configuration measured.
type idleResult struct {
	cfg    idleConfig
	groups int

	window        time.Duration
	user, sys     time.Duration // process CPU time in the window
	gcs           uint32        // garbage collections in the window
	io            procIO        // the process's read/write system calls in the window
	goroutines    int           // above the process's baseline
	heapInuse     uint64        // bytes above the baseline, after a GC
	leaders       [idleNodes]int
	leaderChanges int // groups whose leader or term changed during the window

	failovers []time.Duration // kill of node 1: time until each group it led has a new leader
	lost      int             // groups that had no new leader by the failover deadline
}

// pctOfCore is the CPU of one node, in percent of one core.
func (r idleResult) pctOfCore() float64 {
	return 100 * (r.user + r.sys).Seconds() / r.window.Seconds() / idleNodes
}

// per1k scales a per-node quantity to 1,000 replicas per node.
func (r idleResult) per1k(v float64) float64 { return v * 1000 / float64(r.groups) }

// perNodeRate is a process-wide count in the window as a rate per node per second.
func (r idleResult) perNodeRate(n uint64) float64 { return float64(n) / r.window.Seconds() / idleNodes }

// raftMsgRate estimates the Raft messages (requests and responses) one node sends per
// second: a leader sends each of its two followers a heartbeat every HT/10 to HT/5 (mean
// 0.15·HT) and a commit-index AppendEntries every CT to 2·CT (mean 1.5·CT), and each is
// answered.
func (r idleResult) raftMsgRate() float64 {
	perLink := 1/(0.15*r.cfg.heartbeat.Seconds()) + 1/(1.5*r.cfg.commit.Seconds())
	return 2 * float64(r.groups) * (idleNodes - 1) * perLink / idleNodes
}

const idleNodes = 3

// TestIdleCPU measures the CPU, goroutines and heap of idle Raft groups, one replica per node
// on each of three nodes, and optionally how long a new leader takes after a node dies.
func TestIdleCPU(t *testing.T) {
	if os.Getenv("MERIDIAN_IDLE_BENCH") != "1" {
		t.Skip("idle-cost benchmark; set MERIDIAN_IDLE_BENCH=1 to run it")
	}
	groups := envInt(t, "MERIDIAN_IDLE_GROUPS", 1000)
	window := envDuration(t, "MERIDIAN_IDLE_WINDOW", 20*time.Second)
	failover := os.Getenv("MERIDIAN_IDLE_FAILOVER") != "0"
	profile := os.Getenv("MERIDIAN_IDLE_CPUPROFILE")

	var selected []idleConfig
	switch names := os.Getenv("MERIDIAN_IDLE_CONFIGS"); names {
	case "":
		for _, c := range idleConfigs {
			if !c.optional {
				selected = append(selected, c)
			}
		}
	case "all":
		selected = idleConfigs
	default:
		for _, n := range strings.Split(names, ",") {
			i := slices.IndexFunc(idleConfigs, func(c idleConfig) bool { return c.name == strings.TrimSpace(n) })
			if i < 0 {
				t.Fatalf("MERIDIAN_IDLE_CONFIGS: unknown configuration %q", n)
			}
			selected = append(selected, idleConfigs[i])
		}
	}
	if profile != "" && len(selected) > 1 {
		t.Logf("several configurations: CPU profiles go to %s.<config>", profile)
	}

	var load [3]float64
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Sscan(string(b), &load[0], &load[1], &load[2])
	}
	t.Logf("%d groups x %d nodes, %s window, GOMAXPROCS=%d, NumCPU=%d, load average %.2f %.2f %.2f",
		groups, idleNodes, window, runtime.GOMAXPROCS(0), runtime.NumCPU(), load[0], load[1], load[2])

	var results []idleResult
	for _, cfg := range selected {
		t.Run(cfg.name, func(t *testing.T) {
			prof := profile
			if prof != "" && len(selected) > 1 {
				prof += "." + cfg.name
			}
			r := measureIdle(t, cfg, groups, window, failover, prof)
			results = append(results, r)
			t.Log("\n" + idleTable([]idleResult{r}))
		})
	}
	t.Log("\n" + idleTable(results))
}

// idleTable formats results as a Markdown table.
func idleTable(results []idleResult) string {
	var b strings.Builder
	b.WriteString("| config | settings | CPU %/node | CPU %/node per 1k replicas | user/sys % | GC/s | goroutines/node per 1k | HeapInuse MiB/node per 1k | Raft msgs/s/node (est.) | write syscalls/s/node | msgs/write | KiB/s written/node | leaders n1/n2/n3 | leader changes in window | failover p50/p90/max (n) |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		cpu := r.pctOfCore()
		fo := "-"
		if len(r.failovers) > 0 || r.lost > 0 {
			fo = fmt.Sprintf("%s/%s/%s (%d", pct(r.failovers, 50), pct(r.failovers, 90), pct(r.failovers, 100), len(r.failovers))
			if r.lost > 0 {
				fo += fmt.Sprintf(", %d none", r.lost)
			}
			fo += ")"
		}
		writes := r.perNodeRate(r.io.syscw)
		fmt.Fprintf(&b, "| %s | %s | %.1f | %.1f | %.1f/%.1f | %.1f | %.0f | %.1f | %.0f | %.0f | %.1f | %.0f | %d/%d/%d | %d | %s |\n",
			r.cfg.name, r.cfg, cpu, r.per1k(cpu),
			100*r.user.Seconds()/r.window.Seconds()/idleNodes, 100*r.sys.Seconds()/r.window.Seconds()/idleNodes,
			float64(r.gcs)/r.window.Seconds(),
			r.per1k(float64(r.goroutines)/idleNodes), r.per1k(float64(r.heapInuse)/idleNodes/(1<<20)),
			r.raftMsgRate(), writes, r.raftMsgRate()/max(writes, 1), r.perNodeRate(r.io.wchar)/1024,
			r.leaders[0], r.leaders[1], r.leaders[2], r.leaderChanges, fo)
	}
	return b.String()
}

// pct is the p-th percentile of ds, rounded to milliseconds.
func pct(ds []time.Duration, p int) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(float64(p)/100*float64(len(s)))) - 1
	return s[max(i, 0)].Round(time.Millisecond).String()
}

func measureIdle(t *testing.T, cfg idleConfig, groups int, window time.Duration, failover bool, profile string) idleResult {
	res := idleResult{cfg: cfg, groups: groups, window: window}
	t.Logf("%s: %s", cfg.name, cfg)

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseHeap, baseGoroutines := ms.HeapInuse, runtime.NumGoroutine()

	start := time.Now()
	c := newIdleCluster(t, cfg, groups)
	t.Logf("started %d replicas in %s", idleNodes*groups, time.Since(start).Round(time.Millisecond))

	// Every group elects a leader, leaders are spread evenly, and nothing changes for a while.
	c.waitLeaders(t, 2*time.Minute+40*cfg.election)
	t.Logf("all groups have leaders after %s", time.Since(start).Round(time.Millisecond))
	c.balance(t)
	settle := max(5*time.Second, 3*cfg.heartbeat)
	before := c.waitStable(t, settle)
	for _, s := range before {
		res.leaders[s.leader]++
	}
	t.Logf("stable after %s; leaders per node %v", time.Since(start).Round(time.Millisecond), res.leaders)

	runtime.GC()
	runtime.ReadMemStats(&ms)
	res.heapInuse = ms.HeapInuse - min(baseHeap, ms.HeapInuse)
	res.goroutines = runtime.NumGoroutine() - baseGoroutines
	gcs := ms.NumGC

	// The window: the test goroutine only sleeps.
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Logf("no window profile: %v", err) // e.g. go test -cpuprofile is on
		} else {
			defer pprof.StopCPUProfile() // a no-op after the explicit stop below
		}
	}
	io0, ru0, wall0 := readProcIO(), rusage(t), time.Now()
	time.Sleep(window)
	ru1, wall1, io1 := rusage(t), time.Now(), readProcIO()
	if profile != "" {
		pprof.StopCPUProfile()
	}
	res.window = wall1.Sub(wall0)
	res.user = tv(ru1.Utime) - tv(ru0.Utime)
	res.sys = tv(ru1.Stime) - tv(ru0.Stime)
	res.io = io1.sub(io0)
	runtime.ReadMemStats(&ms)
	res.gcs = ms.NumGC - gcs

	after := c.states()
	for g := range after {
		if after[g] != before[g] {
			res.leaderChanges++
		}
	}
	t.Logf("CPU %.2f%% of one core per node (user %s, sys %s over %s); %d groups changed leader or term",
		res.pctOfCore(), res.user, res.sys, res.window.Round(time.Millisecond), res.leaderChanges)
	t.Logf("per node per second: ~%.0f Raft messages, %.0f write and %.0f read system calls, %.0f KiB written",
		res.raftMsgRate(), res.perNodeRate(res.io.syscw), res.perNodeRate(res.io.syscr), res.perNodeRate(res.io.wchar)/1024)

	if failover {
		res.failovers, res.lost = c.killAndTime(t, 0, 30*time.Second+20*cfg.election)
		t.Logf("failover of %d groups after killing n1: p50 %s, p90 %s, max %s, %d without a leader",
			len(res.failovers), pct(res.failovers, 50), pct(res.failovers, 90), pct(res.failovers, 100), res.lost)
	}
	c.close()
	return res
}

func rusage(t *testing.T) syscall.Rusage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return ru
}

func tv(v syscall.Timeval) time.Duration { return time.Duration(v.Nano()) }

// procIO is the process's I/O counters from /proc/self/io; here nearly all of it is the
// loopback gRPC connections. It reads as zero where /proc is missing.
type procIO struct {
	syscr, syscw uint64 // read and write system calls
	rchar, wchar uint64 // bytes read and written
}

func readProcIO() procIO {
	var p procIO
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return p
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, val, _ := strings.Cut(line, ":")
		n, _ := strconv.ParseUint(strings.TrimSpace(val), 10, 64)
		switch name {
		case "syscr":
			p.syscr = n
		case "syscw":
			p.syscw = n
		case "rchar":
			p.rchar = n
		case "wchar":
			p.wchar = n
		}
	}
	return p
}

func (p procIO) sub(q procIO) procIO {
	return procIO{syscr: p.syscr - q.syscr, syscw: p.syscw - q.syscw, rchar: p.rchar - q.rchar, wchar: p.wchar - q.wchar}
}

// idleFSM is a state machine that keeps nothing: the groups never apply a command.
type idleFSM struct{}

func (idleFSM) Apply(*raft.Log) any                 { return nil }
func (idleFSM) Snapshot() (raft.FSMSnapshot, error) { return idleSnapshot{}, nil }
func (idleFSM) Restore(rc io.ReadCloser) error      { return rc.Close() }

type idleSnapshot struct{}

func (idleSnapshot) Persist(sink raft.SnapshotSink) error { return sink.Close() }
func (idleSnapshot) Release()                             {}

// idleNode is one node: a gRPC server on a loopback socket, its Raft transport, and one
// replica of every group.
type idleNode struct {
	id     uint64
	srv    *grpc.Server
	dialer *rpc.Dialer
	tr     *raftnet.Transport
	rafts  []*raft.Raft // by group index
	dead   bool
}

type idleCluster struct {
	nodes     [idleNodes]*idleNode
	closeOnce sync.Once
}

func newIdleCluster(t *testing.T, cfg idleConfig, groups int) *idleCluster {
	c := &idleCluster{}
	t.Cleanup(c.close)

	// Listen first, so that the address map is complete (and read-only) before any dial.
	addrs := map[uint64]string{}
	lns := make([]net.Listener, idleNodes)
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[i] = ln
		addrs[uint64(i+1)] = ln.Addr().String()
	}
	resolve := func(id uint64) (string, error) {
		if a, ok := addrs[id]; ok {
			return a, nil
		}
		return "", fmt.Errorf("n%d unknown", id)
	}
	for i := range c.nodes {
		n := &idleNode{id: uint64(i + 1), srv: rpc.NewServer(nil), dialer: rpc.NewDialer(resolve)}
		n.tr = raftnet.New(n.id, n.dialer, nil)
		n.tr.Register(n.srv)
		go n.srv.Serve(lns[i])
		c.nodes[i] = n
	}

	var voters raft.Configuration
	for _, n := range c.nodes {
		voters.Servers = append(voters.Servers, raft.Server{ID: raft.ServerID(raftnet.Address(n.id)), Address: raftnet.Address(n.id)})
	}
	logger := hclog.New(&hclog.LoggerOptions{Level: hclog.Off})
	for g := range groups {
		rangeID := uint64(g + 1)
		for _, n := range c.nodes {
			tr, err := n.tr.Group(rangeID)
			if err != nil {
				t.Fatal(err)
			}
			conf := cfg.raftConfig(n.id, logger)
			logs, snaps := raft.NewInmemStore(), raft.NewInmemSnapshotStore()
			if err := raft.BootstrapCluster(conf, logs, logs, snaps, tr, voters); err != nil {
				t.Fatal(err)
			}
			r, err := raft.NewRaft(conf, idleFSM{}, logs, logs, snaps, tr)
			if err != nil {
				t.Fatal(err)
			}
			n.rafts = append(n.rafts, r)
		}
	}
	return c
}

// close stops every node: transports first, so that no Raft instance waits on a call while
// shutting down.
func (c *idleCluster) close() {
	c.closeOnce.Do(func() {
		for _, n := range c.nodes {
			if n != nil && !n.dead {
				n.stop()
			}
		}
	})
}

// stop kills the node: it stops talking at once, then its replicas shut down.
func (n *idleNode) stop() {
	n.dead = true
	n.tr.Close()
	n.srv.Stop()
	n.dialer.Close()
	var wg sync.WaitGroup
	for _, r := range n.rafts {
		wg.Go(func() { r.Shutdown().Error() })
	}
	wg.Wait()
}

// groupState is a group's leader (a node index, or -1 while it has none every live replica
// agrees on) and the leader's term.
type groupState struct {
	leader int
	term   uint64
}

// states reports every group's state as seen by the live nodes.
func (c *idleCluster) states() []groupState {
	var live []int
	for i, n := range c.nodes {
		if !n.dead {
			live = append(live, i)
		}
	}
	out := make([]groupState, len(c.nodes[0].rafts))
	for g := range out {
		s := groupState{leader: -1}
		for _, i := range live {
			if r := c.nodes[i].rafts[g]; r.State() == raft.Leader && r.CurrentTerm() >= s.term {
				s = groupState{leader: i, term: r.CurrentTerm()}
			}
		}
		if s.leader >= 0 {
			want := raft.ServerID(raftnet.Address(c.nodes[s.leader].id))
			for _, i := range live {
				r := c.nodes[i].rafts[g]
				if _, id := r.LeaderWithID(); id != want || r.CurrentTerm() != s.term {
					s.leader = -1
				}
			}
		}
		out[g] = s
	}
	return out
}

// waitLeaders waits until every group has a leader.
func (c *idleCluster) waitLeaders(t *testing.T, timeout time.Duration) []groupState {
	deadline := time.Now().Add(timeout)
	for {
		s := c.states()
		missing := 0
		for _, gs := range s {
			if gs.leader < 0 {
				missing++
			}
		}
		if missing == 0 {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d groups have no leader after %s", missing, len(s), timeout)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitStable waits until no group changes leader or term for d.
func (c *idleCluster) waitStable(t *testing.T, d time.Duration) []groupState {
	for range 10 {
		before := c.waitLeaders(t, time.Minute+40*d)
		time.Sleep(d)
		if after := c.states(); slices.Equal(before, after) {
			return after
		}
	}
	t.Fatalf("groups keep changing leaders")
	return nil
}

// balance moves leaderships until each node leads about a third of the groups. The total
// cost does not depend on it, but a real cluster balances leases, and a skew would make one
// node's share of the work unlike another's.
func (c *idleCluster) balance(t *testing.T) {
	for round := range 5 {
		s := c.waitLeaders(t, 2*time.Minute)
		var count [idleNodes]int
		for _, gs := range s {
			count[gs.leader]++
		}
		target := (len(s) + idleNodes - 1) / idleNodes
		if slices.Max(count[:]) <= target+len(s)/200 {
			return
		}
		t.Logf("balancing leaders (round %d): %v", round+1, count)
		var futures []raft.Future
		for g, gs := range s {
			if count[gs.leader] <= target {
				continue
			}
			to := 0
			for i := range count {
				if count[i] < count[to] {
					to = i
				}
			}
			if count[to] >= target {
				break
			}
			count[gs.leader]--
			count[to]++
			id := raft.ServerID(raftnet.Address(c.nodes[to].id))
			futures = append(futures, c.nodes[gs.leader].rafts[g].LeadershipTransferToServer(id, raftnet.Address(c.nodes[to].id)))
		}
		for _, f := range futures {
			f.Error() // a failed transfer is retried by the next round
		}
	}
}

// killAndTime kills node i and measures, for each group it led, how long until another node
// leads it. Groups with no new leader by the deadline are counted as lost.
func (c *idleCluster) killAndTime(t *testing.T, i int, timeout time.Duration) (took []time.Duration, lost int) {
	s := c.states()
	led := map[int]uint64{} // group -> term it was led in by node i
	for g, gs := range s {
		if gs.leader == i {
			led[g] = gs.term
		}
	}
	start := time.Now()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		c.nodes[i].stop()
	}()
	for len(led) > 0 && time.Since(start) < timeout {
		time.Sleep(10 * time.Millisecond)
		for g, term := range led {
			for j, n := range c.nodes {
				if j == i {
					continue
				}
				if r := n.rafts[g]; r.State() == raft.Leader && r.CurrentTerm() > term {
					took = append(took, time.Since(start))
					delete(led, g)
					break
				}
			}
		}
	}
	<-stopped
	return took, len(led)
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a positive duration", name, v)
	}
	return d
}
