package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/meridiandb/meridian/internal/certs"
	"github.com/meridiandb/meridian/internal/certs/certstest"
)

// passwordURL connects user with a password over TLS, verifying the node's certificate.
func passwordURL(n *Node, dir, user, password string) string {
	u := url.URL{Scheme: "postgresql", User: url.UserPassword(user, password), Host: n.SQLAddr(), Path: "/defaultdb"}
	u.RawQuery = url.Values{"sslmode": {"verify-full"}, "sslrootcert": {filepath.Join(dir, certs.CACert)}}.Encode()
	return u.String()
}

// TestSecureNode runs a node with certificates: root logs in with its client certificate,
// creates a user with a password, who logs in with SCRAM over TLS (verify-full) and can read a
// table only while granted SELECT.
func TestSecureNode(t *testing.T) {
	dir := certstest.Make(t, "root")
	n := startTestNode(t, Config{CertsDir: dir})
	ctx := context.Background()

	root, err := pgx.Connect(ctx, n.SQLURL("root"))
	if err != nil {
		t.Fatalf("root with its client certificate (%s): %v", n.SQLURL("root"), err)
	}
	defer root.Close(ctx)
	for _, stmt := range []string{
		"CREATE TABLE secrets (id INT PRIMARY KEY, v TEXT)",
		"INSERT INTO secrets VALUES (1, 'hidden')",
		"CREATE USER alice WITH PASSWORD 'correct horse'",
		"CREATE USER nopass",
	} {
		if _, err := root.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}

	alice, err := pgx.Connect(ctx, passwordURL(n, dir, "alice", "correct horse"))
	if err != nil {
		t.Fatalf("alice over TLS with SCRAM: %v", err)
	}
	defer alice.Close(ctx)
	if _, ok := alice.PgConn().Conn().(*tls.Conn); !ok {
		t.Fatalf("alice's connection is %T, not TLS", alice.PgConn().Conn())
	}
	if got := alice.PgConn().ParameterStatus("is_superuser"); got != "off" {
		t.Errorf("alice's is_superuser = %q", got)
	}

	// The same statement, which pgx prepares once and caches, follows GRANT and REVOKE.
	read := func() error {
		var v string
		return alice.QueryRow(ctx, "SELECT v FROM secrets WHERE id = $1", 1).Scan(&v)
	}
	if err := read(); pgCode(err) != "42501" {
		t.Fatalf("SELECT without a grant: %v, want 42501", err)
	}
	if _, err := root.Exec(ctx, "GRANT SELECT ON TABLE secrets TO alice"); err != nil {
		t.Fatal(err)
	}
	if err := read(); err != nil {
		t.Fatalf("SELECT after GRANT: %v", err)
	}
	if _, err := root.Exec(ctx, "REVOKE SELECT ON secrets FROM alice"); err != nil {
		t.Fatal(err)
	}
	if err := read(); pgCode(err) != "42501" {
		t.Fatalf("SELECT after REVOKE: %v, want 42501", err)
	}

	for _, tc := range []struct{ what, url, code string }{
		{"wrong password", passwordURL(n, dir, "alice", "wrong"), "28P01"},
		{"unknown user", passwordURL(n, dir, "ghost", "whatever"), "28P01"},
		{"user without a password", passwordURL(n, dir, "nopass", ""), "28P01"},
		{"root without its certificate", passwordURL(n, dir, "root", ""), "28P01"},
		{"plain text", fmt.Sprintf("postgresql://alice:correct%%20horse@%s/defaultdb?sslmode=disable", n.SQLAddr()), "28000"},
	} {
		c, err := pgx.Connect(ctx, tc.url)
		if err == nil {
			c.Close(ctx)
		}
		if pgCode(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.what, err, tc.code)
		}
	}
}

// TestRootPasswordWithUsers checks that --password stays root's and that other users log in
// with their own passwords, over plain text.
func TestRootPasswordWithUsers(t *testing.T) {
	n := startTestNode(t, Config{Password: "s3cret"})
	ctx := context.Background()
	root := connect(t, n)
	if _, err := root.Exec(ctx, "CREATE USER bob WITH PASSWORD 'bob-pw'"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user, password, code string
	}{
		{"bob", "bob-pw", ""},
		{"bob", "s3cret", "28P01"},
		{"root", "bob-pw", "28P01"},
	} {
		c, err := pgx.Connect(ctx, fmt.Sprintf("postgresql://%s:%s@%s/defaultdb?sslmode=disable", tc.user, tc.password, n.SQLAddr()))
		if err == nil {
			c.Close(ctx)
		}
		if pgCode(err) != tc.code {
			t.Errorf("%s with %q: %v, want %q", tc.user, tc.password, err, tc.code)
		}
	}
}

// TestPrivilegesReachEveryNode changes privileges on one node and checks them on another at
// once: the next statement there sees the change, with no wait, because a GRANT or REVOKE
// bumps the schema version every transaction reads.
func TestPrivilegesReachEveryNode(t *testing.T) {
	nodes := startCluster(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	root := connect(t, nodes[0])
	for _, stmt := range []string{
		"CREATE TABLE t (k INT PRIMARY KEY, v TEXT)",
		"INSERT INTO t VALUES (1, 'one')",
		"CREATE USER bob",
		"CREATE ROLE readers",
	} {
		if _, err := root.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	bob, err := pgx.Connect(ctx, nodes[1].SQLURL("bob"))
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close(ctx)
	read := func() error {
		var v string
		return bob.QueryRow(ctx, "SELECT v FROM t WHERE k = $1", 1).Scan(&v)
	}
	for i, step := range []struct {
		stmt string
		code string // of bob's read on the other node, right after
	}{
		{"", "42501"},
		{"GRANT SELECT ON t TO bob", ""},
		{"REVOKE SELECT ON t FROM bob", "42501"},
		{"GRANT SELECT ON t TO readers", "42501"},
		{"GRANT readers TO bob", ""},
		{"REVOKE readers FROM bob", "42501"},
	} {
		if step.stmt != "" {
			if _, err := root.Exec(ctx, step.stmt); err != nil {
				t.Fatalf("%s: %v", step.stmt, err)
			}
		}
		if err := read(); pgCode(err) != step.code {
			t.Fatalf("step %d, after %q on n1: bob's read on n2 = %v, want %q", i, step.stmt, err, step.code)
		}
	}
}
