package compat_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridiandb/meridian/internal/testaddr"
	"github.com/meridiandb/meridian/server"
)

// rootPassword is root's password on the nodes the matrix starts: with it, every client logs
// in with SCRAM-SHA-256, as against a secure node.
const rootPassword = "compat s3cret"

// startNode starts a single-node Meridian on a loopback port, stopped when the test ends.
func startNode(t testing.TB) *server.Node {
	t.Helper()
	return startNodeWith(t, server.Config{Password: rootPassword})
}

func startNodeWith(t testing.TB, cfg server.Config) *server.Node {
	t.Helper()
	cfg.ListenAddr = "127.0.0.1:0"
	n := startNodeAt(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case <-n.Ready():
	case <-ctx.Done():
		t.Fatal("the node never became ready")
	}
	return n
}

// startNodeAt starts a node at cfg.ListenAddr, stopped when the test ends.
func startNodeAt(t testing.TB, cfg server.Config) *server.Node {
	t.Helper()
	cfg.StoreDir = t.TempDir()
	if cfg.Logger == nil {
		// The node's warnings only: a client's session is what the test shows.
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := server.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	return n
}

// startCluster starts n nodes that join each other, with root's password, initializes the
// cluster through the first and waits until every node is ready.
func startCluster(t testing.TB, n int) []*server.Node {
	t.Helper()
	addrs := testaddr.Loopback(n)
	nodes := make([]*server.Node, n)
	for i := range nodes {
		nodes[i] = startNodeAt(t, server.Config{Password: rootPassword, ListenAddr: addrs[i], Join: addrs})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, _, err := server.InitCluster(ctx, addrs[0]); err != nil {
		t.Fatalf("init: %v", err)
	}
	for _, nd := range nodes {
		select {
		case <-nd.Ready():
		case <-ctx.Done():
			t.Fatal("a node never became ready")
		}
	}
	return nodes
}

// rootURL is root's connection URL, with its password, in plain text.
func rootURL(n *server.Node) string {
	u := url.URL{
		Scheme:   "postgresql",
		User:     url.UserPassword("root", rootPassword),
		Host:     n.SQLAddr(),
		Path:     "/defaultdb",
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// need returns the path of the program name, or skips the test, naming the Debian package
// that brings it.
func need(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (Debian package %s; scripts/install-deps installs it)", name, pkg)
	}
	return p
}

// clientTimeout bounds each client program a test runs.
const clientTimeout = 3 * time.Minute

// runClient runs a client program with extra environment variables and returns what it
// printed (stdout and stderr together); the test fails if it does not exit with status 0.
func runClient(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// checkSteps checks that a client script reported every step of want as done, with a line
// "ok <step>" each, and logs the script's output. The steps of knownGaps (listed in
// docs/compatibility.md) may fail, reported as "gap <step>: <error>"; one that passes is
// logged, for the table to be updated.
func checkSteps(t *testing.T, out string, want []string, knownGaps ...string) {
	t.Helper()
	t.Logf("client output:\n%s", out)
	done := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		if step, ok := strings.CutPrefix(strings.TrimSpace(line), "ok "); ok {
			done[step] = true
		}
	}
	for _, s := range want {
		if !done[s] {
			t.Errorf("the client did not report step %q", s)
		}
	}
	for _, s := range knownGaps {
		if done[s] {
			t.Logf("step %q, a known gap, passes now: update docs/compatibility.md", s)
		}
	}
}

// sessionSteps are the steps every scripted client session (psycopg2, node-postgres, JDBC)
// reports; each client adds the metadata steps of its own API.
var sessionSteps = []string{
	"connect with SCRAM-SHA-256",
	"create tables",
	"insert with parameters",
	"types round trip",
	"nulls",
	"update and delete with parameters",
	"commit",
	"rollback",
	"prepared statement",
	"join and aggregate",
	"unique violation is 23505",
	"retry on 40001",
}

// testdata is the absolute path of a file under testdata/.
func testdata(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func must(t testing.TB, err error, what string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(what, args...), err)
	}
}
