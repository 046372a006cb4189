package main

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestSecureNode makes certificates with `meridian cert`, starts a node with them, and logs in
// as root with its client certificate and as a user with a password (SCRAM over TLS,
// verify-full), with pgx and, when it is installed, psql.
func TestSecureNode(t *testing.T) {
	dir := t.TempDir()
	certsDir, caKey := filepath.Join(dir, "certs"), filepath.Join(dir, "safe", "ca.key")
	for _, args := range [][]string{
		{"cert", "create-ca", "--certs-dir", certsDir, "--ca-key", caKey},
		{"cert", "create-node", "127.0.0.1", "localhost", "--certs-dir", certsDir, "--ca-key", caKey},
		{"cert", "create-client", "root", "--certs-dir", certsDir, "--ca-key", caKey},
	} {
		if out, err := exec.Command(binary, args...).CombinedOutput(); err != nil {
			t.Fatalf("meridian %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if out, err := exec.Command(binary, "cert", "create-ca", "--certs-dir", certsDir, "--ca-key", caKey).CombinedOutput(); err == nil || !strings.Contains(string(out), "--overwrite") {
		t.Fatalf("a second create-ca must refuse to overwrite: %v\n%s", err, out)
	}

	p := startProcess(t, "start-single-node", "--store", filepath.Join(dir, "store"), "--listen-addr", "127.0.0.1:0", "--http-addr", "", "--certs-dir", certsDir)
	if !strings.Contains(p.url, "sslmode=verify-full") || !strings.Contains(p.url, "client.root.crt") {
		t.Fatalf("the printed URL does not verify the node or present root's certificate: %s", p.url)
	}
	ctx := context.Background()
	root, err := pgx.Connect(ctx, p.url)
	if err != nil {
		t.Fatalf("root with its client certificate: %v", err)
	}
	defer root.Close(ctx)
	for _, stmt := range []string{
		"CREATE TABLE notes (id INT PRIMARY KEY, body TEXT)",
		"INSERT INTO notes VALUES (1, 'hello')",
		"CREATE USER alice WITH PASSWORD 'al1ce-pw'",
		"GRANT SELECT ON notes TO alice",
	} {
		if _, err := root.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	host := strings.TrimPrefix(p.url, "postgresql://root@")
	host = host[:strings.Index(host, "/")]
	alice := url.URL{Scheme: "postgresql", User: url.UserPassword("alice", "al1ce-pw"), Host: host, Path: "/defaultdb",
		RawQuery: url.Values{"sslmode": {"verify-full"}, "sslrootcert": {filepath.Join(certsDir, "ca.crt")}}.Encode()}
	conn, err := pgx.Connect(ctx, alice.String())
	if err != nil {
		t.Fatalf("alice with SCRAM over TLS: %v", err)
	}
	var body string
	if err := conn.QueryRow(ctx, "SELECT body FROM notes WHERE id = 1").Scan(&body); err != nil || body != "hello" {
		t.Fatalf("alice's SELECT = %q, %v", body, err)
	}
	conn.Close(ctx)

	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Log("psql not installed: skipping its login")
		return
	}
	cmd := exec.Command(psql, alice.String(), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", "SELECT body FROM notes")
	cmd.Env = append(os.Environ(), "PGSSLCERT=/nonexistent", "PGSSLKEY=/nonexistent") // no client certificate: SCRAM it is
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "hello" {
		t.Fatalf("psql as alice with SCRAM over TLS: %v\n%s", err, out)
	}
	alice.User = url.UserPassword("alice", "wrong")
	out, err = exec.Command(psql, alice.String(), "-X", "-c", "SELECT 1").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `password authentication failed for user "alice"`) {
		t.Fatalf("psql with a wrong password: %v\n%s", err, out)
	}
}
