package compat_test

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the golden output of TestPsql")

// TestPsql runs testdata/psql_session.sql through psql (-a echoes each statement) against a
// node, logging in with SCRAM, and compares what psql printed with psql_session.golden: the \d
// family (\d, \dt, \d table, \d+, \di, \dv, \ds, \dn, \du, \l, patterns), variables and
// \gset, transactions, expanded output, errors as psql shows them, PREPARE/EXECUTE and \copy.
func TestPsql(t *testing.T) {
	psql := need(t, "psql", "postgresql-client")
	n := startNode(t)
	host, port, err := net.SplitHostPort(n.SQLAddr())
	must(t, err, "address")
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, psql, "-X", "-a", "-P", "pager=off", "-v", "ON_ERROR_STOP=0",
		"-f", "psql_session.sql")
	cmd.Dir = testdata(t, ".") // psql names the file in its errors: the same in every checkout
	cmd.Env = []string{"PGHOST=" + host, "PGPORT=" + port, "PGUSER=root", "PGPASSWORD=" + rootPassword,
		"PGDATABASE=defaultdb", "PGSSLMODE=disable", "PGCONNECT_TIMEOUT=10", "LANG=C.UTF-8", "PGTZ=UTC"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	got := strings.ReplaceAll(string(out), `port "`+port+`"`, `port "<port>"`)
	golden := testdata(t, "psql_session.golden")
	if *rewrite {
		must(t, os.WriteFile(golden, []byte(got), 0o644), "rewrite")
		return
	}
	want, err := os.ReadFile(golden)
	must(t, err, "golden output")
	if got != string(want) {
		t.Errorf("psql printed, with differences from %s:\n%s", golden, lineDiff(string(want), got))
	}
}

// lineDiff shows the lines of got that differ from want's, with their line numbers.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var sb strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			sb.WriteString(fmt.Sprintf("line %d:\n- ", i+1) + wl + "\n+ " + gl + "\n")
		}
	}
	return sb.String()
}
