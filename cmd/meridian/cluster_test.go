package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/meridiandb/meridian/internal/testaddr"
)

// clusterNode is one `meridian start` process of a test cluster.
type clusterNode struct {
	*process
	addr, httpAddr string
}

// freeAddrs reserves n loopback addresses for a test cluster (see testaddr).
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	return testaddr.Loopback(n)
}

// startCluster runs n nodes as separate processes with default settings (plus extra
// flags), initializes the cluster and waits until the first range has min(n, 3) replicas.
func startCluster(t *testing.T, n int, extra ...string) []*clusterNode {
	t.Helper()
	addrs, https := freeAddrs(t, n), freeAddrs(t, n)
	join := ""
	for i, a := range addrs {
		if i > 0 {
			join += ","
		}
		join += a
	}
	nodes := make([]*clusterNode, n)
	logs := make([]string, n)
	for i := range nodes {
		args := append([]string{"start", "--store", t.TempDir(), "--listen-addr", addrs[i], "--http-addr", https[i],
			"--join", join, "--locality", fmt.Sprintf("region=r%d,zone=z", i%3), "--log-level", "info"}, extra...)
		logs[i] = filepath.Join(t.TempDir(), fmt.Sprintf("n%d.log", i+1))
		f, err := os.Create(logs[i])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		nodes[i] = &clusterNode{process: startProcessLogging(t, f, args...), addr: addrs[i], httpAddr: https[i]}
	}
	// The nodes' logs are only worth reading when the test failed.
	t.Cleanup(func() {
		if t.Failed() {
			for i, l := range logs {
				t.Logf("last lines of n%d's log %s:\n%s", i+1, l, tail(l, logTailLines))
			}
		}
	})
	out, err := exec.Command(binary, "init", "--host", addrs[0]).CombinedOutput()
	if err != nil {
		t.Fatalf("meridian init: %v: %s", err, out)
	}
	want := min(n, 3)
	waitUntil(t, 60*time.Second, fmt.Sprintf("r1 to have %d replicas", want), func() bool {
		d, _ := firstRange(nodes)
		// A range that has replicas has applied the commands that added them.
		return d != nil && len(d.Replicas) == want && d.AppliedIndex > 0
	})
	return nodes
}

// logTailLines is how much of each node's log a failed cluster test prints.
const logTailLines = 80

// rangeStatus mirrors server.RangeStatus.
type rangeStatus struct {
	RangeID      uint64   `json:"range_id"`
	Replicas     []uint64 `json:"replicas"`
	Leaseholder  bool     `json:"leaseholder"`
	AppliedIndex uint64   `json:"applied_index"`
}

// firstRange returns range 1 as its leaseholder reports it, and the leaseholder's index.
func firstRange(nodes []*clusterNode) (*rangeStatus, int) {
	for i, n := range nodes {
		if n == nil {
			continue
		}
		resp, err := http.Get("http://" + n.httpAddr + "/_status/ranges")
		if err != nil {
			continue
		}
		var rs []rangeStatus
		err = json.NewDecoder(resp.Body).Decode(&rs)
		resp.Body.Close()
		if err != nil {
			continue
		}
		for _, r := range rs {
			if r.RangeID == 1 && r.Leaseholder {
				return &r, i
			}
		}
	}
	return nil, -1
}

// nodeID returns the ID of node n, as its /health reports it.
func nodeID(t *testing.T, n *clusterNode) uint64 {
	t.Helper()
	resp, err := http.Get("http://" + n.httpAddr + "/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h struct {
		NodeID uint64 `json:"node_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	return h.NodeID
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func kill9(t *testing.T, n *clusterNode) {
	t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = n.cmd.Wait()
}

// TestClusterSurvivesLeaseholderKill runs three node processes with default settings, puts
// a steady write load on the two that do not hold the lease, kills the leaseholder with
// SIGKILL, and checks that writes resume within 10 seconds and that every acknowledged
// write is readable afterwards.
func TestClusterSurvivesLeaseholderKill(t *testing.T) {
	nodes := startCluster(t, 3)
	_, lh := firstRange(nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var gateways []*clusterNode
	for i, n := range nodes {
		if i != lh {
			gateways = append(gateways, n)
		}
	}
	conn, err := pgx.Connect(ctx, gateways[0].url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE TABLE kv (k INT PRIMARY KEY, v INT)"); err != nil {
		t.Fatal(err)
	}

	// acked records, for every acknowledged write, when it was sent and acknowledged.
	type span struct{ sent, acked time.Time }
	var mu sync.Mutex
	acked := map[int]span{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w, gw := range gateways {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := pgx.Connect(ctx, gw.url)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close(context.Background())
			for i := w; ; i += len(gateways) {
				select {
				case <-stop:
					return
				default:
				}
				sent := time.Now()
				wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
				_, err := c.Exec(wctx, "INSERT INTO kv VALUES ($1, $1)", i)
				wcancel()
				if err == nil {
					mu.Lock()
					acked[i] = span{sent, time.Now()}
					mu.Unlock()
				}
			}
		}()
	}
	ackedSince := func(since time.Time) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, sp := range acked {
			if sp.sent.After(since) {
				n++
			}
		}
		return n
	}
	waitUntil(t, 30*time.Second, "writes before the kill", func() bool { return ackedSince(time.Time{}) >= 100 })
	killedAt := time.Now()
	kill9(t, nodes[lh])
	waitUntil(t, 30*time.Second, "writes after the kill", func() bool { return ackedSince(killedAt) >= 1 })
	// Writes resumed when the first write sent after the kill was acknowledged.
	mu.Lock()
	var resumed time.Time
	for _, sp := range acked {
		if sp.sent.After(killedAt) && (resumed.IsZero() || sp.acked.Before(resumed)) {
			resumed = sp.acked
		}
	}
	mu.Unlock()
	gap := resumed.Sub(killedAt)
	t.Logf("the first write sent after the leaseholder was killed was acknowledged %s after the kill", gap.Round(time.Millisecond))
	if gap > 10*time.Second {
		t.Errorf("writes resumed after %s, want within 10s", gap)
	}
	waitUntil(t, 30*time.Second, "more writes after the kill", func() bool { return ackedSince(killedAt) >= 100 })
	close(stop)
	wg.Wait()

	got := map[int]bool{}
	rows, err := conn.Query(ctx, "SELECT k FROM kv")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k int
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		got[k] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for k := range acked {
		if !got[k] {
			t.Errorf("acknowledged row %d is missing", k)
		}
	}
	t.Logf("%d acknowledged rows, all readable", len(acked))
}

// TestClusterHeals kills one replica-holding node of five (not the leaseholder) and waits
// until the first range is back to three replicas, all on live nodes.
func TestClusterHeals(t *testing.T) {
	nodes := startCluster(t, 5, "--time-until-store-dead", "3s")
	d, lh := firstRange(nodes)
	// Node IDs follow the order in which the nodes joined, not the order they started in.
	victim, deadID := -1, uint64(0)
	for i, n := range nodes {
		id := nodeID(t, n)
		if i != lh && slices.Contains(d.Replicas, id) {
			victim, deadID = i, id
		}
	}
	if victim < 0 {
		t.Fatalf("no non-leaseholder replica among %v (leaseholder index %d)", d.Replicas, lh)
	}
	killedAt := time.Now()
	kill9(t, nodes[victim])
	nodes[victim] = nil
	waitUntil(t, 2*time.Minute, "r1 to be back to three live replicas", func() bool {
		d, _ := firstRange(nodes)
		if d == nil || len(d.Replicas) != 3 {
			return false
		}
		for _, id := range d.Replicas {
			if id == deadID {
				return false
			}
		}
		return true
	})
	t.Logf("r1 back to three live replicas %s after n%d was killed (time until store dead 3s)", time.Since(killedAt).Round(time.Millisecond), deadID)
}
