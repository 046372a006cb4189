package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// binary is the meridian executable the tests run as separate processes.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "meridian-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "meridian")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building meridian:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// process is a meridian process under test.
type process struct {
	cmd  *exec.Cmd
	url  string
	http string
}

var sqlLine = regexp.MustCompile(`^sql:\s+(\S+)`)
var httpLine = regexp.MustCompile(`^http:\s+(\S+)`)

// startProcess runs meridian with args and waits for it to print its connection URL.
func startProcess(t *testing.T, args ...string) *process {
	t.Helper()
	return startProcessLogging(t, os.Stderr, args...)
}

// startProcessLogging is startProcess with the process's log (its stderr) going to stderr.
func startProcessLogging(t *testing.T, stderr io.Writer, args ...string) *process {
	t.Helper()
	cmd := exec.Command(binary, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(60 * time.Second)
	for p.url == "" || (p.http == "" && !strings.Contains(strings.Join(args, " "), `--http-addr `)) {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("meridian %v exited before printing its URL", args)
			}
			if m := sqlLine.FindStringSubmatch(l); m != nil {
				p.url = m[1]
			}
			if m := httpLine.FindStringSubmatch(l); m != nil {
				p.http = m[1]
			}
		case <-deadline:
			t.Fatalf("meridian %v did not print its URL", args)
		}
	}
	go func() {
		for range lines {
		}
	}()
	return p
}

func TestDemoServesSQLAndHealth(t *testing.T) {
	p := startProcess(t, "demo")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, p.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT 1 + 1").Scan(&n); err != nil || n != 2 {
		t.Fatalf("SELECT 1 + 1 = %d, %v", n, err)
	}
	resp, err := http.Get(p.http)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"status":"ok"`) {
		t.Fatalf("/health: %d %s", resp.StatusCode, body)
	}
}

// TestKillRestart writes rows, kills the process with SIGKILL, restarts it on the same store
// and checks that every acknowledged write survived.
func TestKillRestart(t *testing.T) {
	store := t.TempDir()
	args := []string{"start-single-node", "--store", store, "--listen-addr", "127.0.0.1:0", "--http-addr", ""}
	ctx := context.Background()
	const rows = 300
	acked := 0
	func() {
		p := startProcess(t, args...)
		conn, err := pgx.Connect(ctx, p.url)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "CREATE TABLE kv (k INT PRIMARY KEY, v TEXT)"); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < rows; i++ {
			if _, err := conn.Exec(ctx, "INSERT INTO kv VALUES ($1, $2)", i, fmt.Sprintf("v%d", i)); err != nil {
				t.Fatal(err)
			}
			acked++
		}
		if _, err := conn.Exec(ctx, "UPDATE kv SET v = 'updated' WHERE k < 10"); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "DELETE FROM kv WHERE k >= 290"); err != nil {
			t.Fatal(err)
		}
		if err := p.cmd.Process.Kill(); err != nil { // SIGKILL: no clean shutdown
			t.Fatal(err)
		}
		_ = p.cmd.Wait()
	}()

	p := startProcess(t, args...)
	conn, err := pgx.Connect(ctx, p.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var count, updated int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM kv").Scan(&count); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM kv WHERE v = 'updated'").Scan(&updated); err != nil {
		t.Fatal(err)
	}
	if count != acked-10 || updated != 10 {
		t.Fatalf("after restart: %d rows (%d updated), want %d (10 updated)", count, updated, acked-10)
	}
	var v string
	if err := conn.QueryRow(ctx, "SELECT v FROM kv WHERE k = 150").Scan(&v); err != nil || v != "v150" {
		t.Fatalf("row 150 = %q, %v", v, err)
	}
	// The store keeps serving writes after recovery.
	if _, err := conn.Exec(ctx, "INSERT INTO kv VALUES (1000, 'after')"); err != nil {
		t.Fatal(err)
	}
}

// TestPsql runs the Debian psql client against a node, as a user would.
func TestPsql(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Skip("psql not installed (scripts/install-deps installs postgresql-client)")
	}
	p := startProcess(t, "demo")
	run := func(sql string) string {
		t.Helper()
		out, err := exec.Command(psql, p.url, "-X", "-v", "ON_ERROR_STOP=1", "-c", sql).CombinedOutput()
		if err != nil {
			t.Fatalf("psql -c %q: %v\n%s", sql, err, out)
		}
		return string(out)
	}
	run("CREATE TABLE greetings (id INT PRIMARY KEY, msg TEXT)")
	run("INSERT INTO greetings VALUES (1, 'hello'), (2, 'world')")
	got := run("SELECT id, msg FROM greetings ORDER BY id")
	want := " id |  msg  \n----+-------\n  1 | hello\n  2 | world\n(2 rows)\n\n"
	if got != want {
		t.Fatalf("psql output:\n%s\nwant:\n%s", got, want)
	}
	out, err := exec.Command(psql, p.url, "-X", "-c", "SELECT * FROM nosuch").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `relation "nosuch" does not exist`) {
		t.Fatalf("psql error case: %v\n%s", err, out)
	}
}
