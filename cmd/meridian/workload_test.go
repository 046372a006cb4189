package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/meridiandb/meridian/server"
	"github.com/meridiandb/meridian/workload"
)

// startWorkloadNode starts a single-node Meridian in this process and returns its URL.
func startWorkloadNode(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := server.Config{
		StoreDir:   t.TempDir(),
		ListenAddr: "127.0.0.1:0",
		Logger:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	n, err := server.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	select {
	case <-n.Ready():
	case <-ctx.Done():
		t.Fatal("node not ready")
	}
	return n.SQLURL("root")
}

// meridianCmd runs the meridian command line in this process and returns what it printed
// to stdout.
func meridianCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := rootCmd()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	err := root.ExecuteContext(context.Background())
	if errOut.Len() > 0 {
		t.Logf("meridian %s: stderr:\n%s", strings.Join(args, " "), errOut.String())
	}
	return out.String(), err
}

// runJSON runs `meridian workload run ... --json` and decodes its report.
func runJSON(t *testing.T, args ...string) workload.Result {
	t.Helper()
	out, err := meridianCmd(t, append([]string{"workload", "run", args[0], "--json"}, args[1:]...)...)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	var res workload.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("run printed %q: %v", out, err)
	}
	return res
}

func TestWorkloadKV(t *testing.T) {
	url := startWorkloadNode(t)
	out, err := meridianCmd(t, "workload", "init", "kv", "--keys", "300", "--drop", url)
	if err != nil || !strings.Contains(out, "300/300 rows") {
		t.Fatalf("init: %v\n%s", err, out)
	}
	// An init after rows were lost reloads them: init resumes.
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "DELETE FROM kv WHERE k >= 10 AND k < 20"); err != nil {
		t.Fatal(err)
	}
	if _, err := meridianCmd(t, "workload", "check", "kv", "--keys", "300", url); !errors.Is(err, workload.ErrInvariant) {
		t.Fatalf("check of a table missing keys returned %v, want a violation", err)
	}
	if _, err := meridianCmd(t, "workload", "init", "kv", "--keys", "300", url); err != nil {
		t.Fatalf("init again: %v", err)
	}
	res := runJSON(t, "kv", "--keys", "300", "--duration", "2s", "--workers", "2", "--batch", "3",
		"--read-percent", "50", "--distribution", "zipfian", url+" "+url)
	read, okR := res.Op("read")
	write, okW := res.Op("write")
	if !okR || !okW || read.Count == 0 || write.Count == 0 || res.Total.Errors != 0 || res.Workers != 2 {
		t.Fatalf("result %+v", res)
	}
	if write.P50Ms <= 0 || write.MaxMs < write.P99Ms {
		t.Fatalf("write latencies %+v", write)
	}
	hist := filepath.Join(t.TempDir(), "latencies.csv")
	if _, err := meridianCmd(t, "workload", "run", "kv", "--keys", "300", "--max-ops", "50", "--sequential", "--read-percent", "0", "--histograms", hist, url); err != nil {
		t.Fatalf("sequential run: %v", err)
	}
	raw, err := os.ReadFile(hist)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(string(raw)), "\n"); len(lines) != 51 || !strings.HasPrefix(lines[1], "write,") {
		t.Fatalf("histograms file has %d lines, want a header and 50 writes:\n%s", len(lines), raw)
	}
	if out, err := meridianCmd(t, "workload", "check", "kv", "--keys", "300", url); err != nil || !strings.Contains(out, "consistent") {
		t.Fatalf("check: %v\n%s", err, out)
	}
	if _, err := meridianCmd(t, "workload", "check", "kv", "--keys", "301", url); !errors.Is(err, workload.ErrInvariant) {
		t.Fatalf("check with the wrong key space returned %v, want a violation", err)
	}
}

func TestWorkloadBank(t *testing.T) {
	url := startWorkloadNode(t)
	if out, err := meridianCmd(t, "workload", "init", "bank", "--accounts", "20", "--drop", url); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	// 20 accounts and 4 workers: transfers conflict, and must be retried, not lost.
	res := runJSON(t, "bank", "--accounts", "20", "--duration", "3s", "--workers", "4", "--check-interval", "200ms", url)
	transfer, okT := res.Op("transfer")
	check, okC := res.Op("check")
	if !okT || !okC || transfer.Count == 0 || check.Count == 0 || !check.Periodic || res.Total.Errors != 0 {
		t.Fatalf("result %+v", res)
	}
	if res.Total.Count != transfer.Count {
		t.Fatalf("total %d counts more than the transfers %d", res.Total.Count, transfer.Count)
	}
	if out, err := meridianCmd(t, "workload", "check", "bank", "--accounts", "20", url); err != nil || !strings.Contains(out, "consistent") {
		t.Fatalf("check: %v\n%s", err, out)
	}

	// Money from nowhere: check fails, and so does a run, at its first periodic check.
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "UPDATE bank SET balance = balance + 1 WHERE id = 7"); err != nil {
		t.Fatal(err)
	}
	if _, err := meridianCmd(t, "workload", "check", "bank", "--accounts", "20", url); !errors.Is(err, workload.ErrInvariant) {
		t.Fatalf("check of a bank with money from nowhere returned %v", err)
	}
	_, err = meridianCmd(t, "workload", "run", "bank", "--accounts", "20", "--duration", "30s", "--check-interval", "100ms", "--tolerate-errors", url)
	if !errors.Is(err, workload.ErrInvariant) {
		t.Fatalf("run on a bank with money from nowhere returned %v", err)
	}
}
