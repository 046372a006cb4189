package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServerIdleCPU measures what a whole node costs at rest with many ranges: three nodes
// with default settings (in one process, on loopback), a table split into
// MERIDIAN_IDLE_RANGES ranges (default 1,000) of three replicas each, so that every node
// holds that many replicas, every background loop (Raft heartbeats, liveness, gossip, the
// replicate, split and merge queues, settings) running. It reports the process's CPU time
// over MERIDIAN_IDLE_WINDOW (default 30s) per node, as a share of one core, after
// MERIDIAN_IDLE_SETTLE (default 60s) for leases to even out; MERIDIAN_IDLE_CPUPROFILE=file
// writes a CPU profile of the window. It takes
// minutes, so it runs only with MERIDIAN_IDLE_BENCH=1:
//
//	MERIDIAN_IDLE_BENCH=1 go test -run TestServerIdleCPU -v -timeout 30m ./server/
func TestServerIdleCPU(t *testing.T) {
	if os.Getenv("MERIDIAN_IDLE_BENCH") != "1" {
		t.Skip("set MERIDIAN_IDLE_BENCH=1 to measure")
	}
	ranges := envInt(t, "MERIDIAN_IDLE_RANGES", 1000)
	window := 30 * time.Second
	if v := os.Getenv("MERIDIAN_IDLE_WINDOW"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		window = d
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	addrs := freePorts(t, 3)
	nodes := make([]*Node, 3)
	for i := range nodes {
		nodes[i] = startTestNode(t, Config{StoreDir: t.TempDir(), ListenAddr: addrs[i], Join: addrs, Logger: idleLogger(quiet)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	if _, id, err := InitCluster(ctx, addrs[0]); err != nil || id != 1 {
		t.Fatalf("init: node %d, %v", id, err)
	}
	for _, nd := range nodes {
		<-nd.Ready()
	}
	waitFirstRangeEverywhere(t, nodes)
	conn := connect(t, nodes[0])
	if _, err := conn.Exec(ctx, "CREATE TABLE idle (k INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// From the highest key down: each split is of the same, long-standing left range.
	const perStatement = 100
	for k := ranges; k > 0; k -= perStatement {
		var vals []string
		for i := k - 1; i >= max(k-perStatement, 0); i-- {
			vals = append(vals, fmt.Sprintf("(%d)", i))
		}
		if _, err := conn.Exec(ctx, "ALTER TABLE idle SPLIT AT VALUES "+strings.Join(vals, ", ")); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("split the table into %d ranges in %s", ranges, time.Since(start).Round(time.Second))

	held := func() []int {
		var out []int
		for _, nd := range nodes {
			out = append(out, len(nd.store.Descriptors()))
		}
		return out
	}
	deadline := time.Now().Add(2 * time.Minute)
	for n := held(); slices.Min(n) < ranges; n = held() {
		if time.Now().After(deadline) {
			t.Fatalf("after 2 minutes, the nodes hold %v replicas, want %d each", n, ranges)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Let lease balancing and the queues settle before measuring rest.
	settle := 60 * time.Second
	if v := os.Getenv("MERIDIAN_IDLE_SETTLE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		settle = d
	}
	time.Sleep(settle)
	var leases []int
	for _, nd := range nodes {
		_, l := nd.replicaCounts()
		leases = append(leases, l)
	}
	if path := os.Getenv("MERIDIAN_IDLE_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	before := cpuTime(t)
	time.Sleep(window)
	used := cpuTime(t) - before
	perNode := float64(used) / float64(window) / float64(len(nodes)) * 100
	t.Logf("%d ranges, %d replicas per node, leases per node %v: %.1f%% of one core per node (%s of CPU in %s for %d nodes)",
		ranges, len(nodes[0].store.Descriptors()), leases, perNode, used.Round(time.Millisecond), window, len(nodes))
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// idleLogger keeps the nodes quiet unless MERIDIAN_IDLE_LOG=1.
func idleLogger(quiet *slog.Logger) *slog.Logger {
	if os.Getenv("MERIDIAN_IDLE_LOG") == "1" {
		return slog.Default()
	}
	return quiet
}
