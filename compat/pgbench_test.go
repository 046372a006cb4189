package compat_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/meridiandb/meridian/server"
)

// TestPgbench initializes pgbench's tables with `pgbench -i` and its default steps (drop,
// create tables, client-side data generation with COPY FROM STDIN, vacuum, primary keys
// added to the populated tables), then runs the default TPC-B-like script with 8 clients
// and checks that no transaction failed and that the balances add up: the sums of
// pgbench_accounts, pgbench_tellers and pgbench_branches all equal the sum of the deltas in
// pgbench_history.
//
// Meridian aborts a transaction that cannot be serialized with 40001 where PostgreSQL would
// block, so the run passes --max-tries: pgbench (15 and later) retries those transactions,
// and the test requires zero failed transactions after retries. Each client runs 40
// transactions; with MERIDIAN_PGBENCH_FULL=1 the run lasts the 30 seconds of the
// compatibility matrix instead. With
// MERIDIAN_PGBENCH_NODES=3 pgbench runs against the first node of a three-node cluster, whose
// ranges have three replicas.
func TestPgbench(t *testing.T) {
	pgbench := need(t, "pgbench", "postgresql-contrib")
	version := pgbenchVersion(t, pgbench)
	if version < 15 {
		t.Skipf("pgbench %d cannot retry serialization failures (--max-tries is new in 15)", version)
	}
	// A fixed number of transactions per client, unless the full run is asked for: a run
	// bounded by time may end while a transaction waits to be retried, which pgbench then
	// counts as failed.
	length := []string{"-t", "40"}
	if os.Getenv("MERIDIAN_PGBENCH_FULL") != "" {
		length = []string{"-T", "30"}
	}
	var n *server.Node
	if os.Getenv("MERIDIAN_PGBENCH_NODES") == "3" {
		n = startCluster(t, 3)[0]
	} else {
		n = startNode(t)
	}
	host, port, err := net.SplitHostPort(n.SQLAddr())
	must(t, err, "address")
	env := []string{"PGHOST=" + host, "PGPORT=" + port, "PGUSER=root", "PGPASSWORD=" + rootPassword,
		"PGDATABASE=defaultdb", "PGSSLMODE=disable", "PGCONNECT_TIMEOUT=10", "LANG=C.UTF-8"}

	out := runClient(t, env, pgbench, "-i")
	t.Logf("pgbench -i:\n%s", out)
	if !strings.Contains(out, "done in") {
		t.Fatalf("pgbench -i did not finish")
	}

	args := append([]string{"-c", "8", "-j", "2"}, length...)
	args = append(args, "--max-tries=1000", "--failures-detailed")
	out = runClient(t, env, pgbench, args...)
	t.Logf("pgbench %s:\n%s", strings.Join(args, " "), out)
	processed := pgbenchCount(t, out, `number of transactions actually processed: (\d+)`)
	if failed := pgbenchCount(t, out, `number of failed transactions: (\d+)`); failed != 0 {
		t.Errorf("%d failed transactions", failed)
	}
	if processed == 0 {
		t.Errorf("no transaction was processed")
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, rootURL(n))
	must(t, err, "connect")
	defer conn.Close(ctx)
	var accounts, tellers, branches, history, historyRows int64
	must(t, conn.QueryRow(ctx, `SELECT
		(SELECT sum(abalance) FROM pgbench_accounts), (SELECT sum(tbalance) FROM pgbench_tellers),
		(SELECT sum(bbalance) FROM pgbench_branches), (SELECT coalesce(sum(delta), 0) FROM pgbench_history),
		(SELECT count(*) FROM pgbench_history)`).Scan(&accounts, &tellers, &branches, &history, &historyRows), "sums")
	if accounts != history || tellers != history || branches != history {
		t.Errorf("balances do not add up: accounts %d, tellers %d, branches %d, history %d", accounts, tellers, branches, history)
	}
	if historyRows != int64(processed) {
		t.Errorf("%d history rows for %d transactions processed", historyRows, processed)
	}
}

// pgbenchVersion is pgbench's major version.
func pgbenchVersion(t *testing.T, pgbench string) int {
	out, err := exec.Command(pgbench, "--version").Output()
	must(t, err, "pgbench --version")
	m := regexp.MustCompile(`(\d+)\.`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("pgbench --version printed %q", out)
	}
	v, _ := strconv.Atoi(string(m[1]))
	return v
}

// pgbenchCount is the number that re, with one group, finds in pgbench's output.
func pgbenchCount(t *testing.T, out, re string) int {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("pgbench printed no %q", re)
	}
	v, _ := strconv.Atoi(m[1])
	return v
}
