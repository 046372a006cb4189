package server

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// scrape reads the node's /metrics into sample → value, a sample named as exposed
// (`name` or `name{label="value"}`).
func scrape(t *testing.T, n *Node) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + n.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("/metrics served as %q, want Prometheus's text format", ct)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics: bad sample %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMetrics(t *testing.T) {
	n := startTestNode(t, Config{HTTPAddr: "127.0.0.1:0"})
	conn := connect(t, n)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, `CREATE TABLE m (id INT PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	before := scrape(t, n)

	// Two committed transactions, one rolled back, and a statement that fails.
	for _, stmts := range [][]string{
		{`BEGIN`, `INSERT INTO m VALUES (1, 'a')`, `COMMIT`},
		{`BEGIN`, `INSERT INTO m VALUES (2, 'b')`, `ROLLBACK`},
		{`INSERT INTO m VALUES (3, 'c')`},
	} {
		for _, s := range stmts {
			if _, err := conn.Exec(ctx, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
	}
	if _, err := conn.Exec(ctx, `SELECT 1 / 0`); pgCode(err) != "22012" {
		t.Fatalf("SELECT 1 / 0: %v, want division_by_zero", err)
	}
	after := scrape(t, n)

	delta := func(sample string) float64 { return after[sample] - before[sample] }
	for _, c := range []struct {
		sample string
		min    float64
		max    float64
	}{
		{"meridian_sql_statements_total", 8, 8},
		{`meridian_sql_errors_total{sqlstate="22012"}`, 1, 1},
		// At least: the node's own background transactions (schema leases) count too.
		{"meridian_txn_commits_total", 2, 1e9},
		{"meridian_txn_rollbacks_total", 1, 1e9},
		{"meridian_raft_proposals_total", 2, 1e9},
		{"meridian_raft_applied_commands_total", 2, 1e9},
		{"meridian_raft_applied_bytes_total", 1, 1e12},
		{"meridian_storage_wal_bytes_written_total", 1, 1e12},
	} {
		if d := delta(c.sample); d < c.min || d > c.max {
			t.Errorf("%s went up by %v, want %v to %v", c.sample, d, c.min, c.max)
		}
	}
	for _, gauge := range []string{"meridian_sql_connections", "meridian_ranges_replicas", "meridian_ranges_leaseholders", "meridian_storage_disk_usage_bytes"} {
		if after[gauge] < 1 {
			t.Errorf("%s = %v, want at least 1", gauge, after[gauge])
		}
	}
	for _, present := range []string{"go_goroutines", "process_cpu_seconds_total", "meridian_storage_block_cache_hits_total", "meridian_storage_read_amplification"} {
		if _, ok := after[present]; !ok {
			t.Errorf("/metrics has no %s", present)
		}
	}
}
