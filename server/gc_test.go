package server

import (
	"context"
	"testing"
	"time"
)

// TestGCKeepsWhatOpenTransactionsRead: MVCC garbage collection runs with a short TTL, yet a
// transaction open on another node keeps reading the versions it saw for as long as it is
// open; once it ends, collection catches up and a historical read there is refused
// (72000) rather than answered wrongly.
func TestGCKeepsWhatOpenTransactionsRead(t *testing.T) {
	const ttl = 2 * time.Second
	nodes := startClusterWith(t, 3, func(cfg *Config) {
		cfg.GCTTL, cfg.GCInterval, cfg.LivenessTTL = ttl, 200*time.Millisecond, 4*time.Second
	})
	waitFirstRangeEverywhere(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	writer, reader := connect(t, nodes[0]), connect(t, nodes[1])
	for _, stmt := range []string{
		"CREATE TABLE kv (k INT PRIMARY KEY, v INT)",
		"INSERT INTO kv VALUES (1, 1)",
	} {
		if _, err := writer.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(600 * time.Millisecond) // the insert is in the past for every clock
	if _, err := reader.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	var v int
	var asOf string
	if err := reader.QueryRow(ctx, "SELECT v, cluster_logical_timestamp()::STRING FROM kv WHERE k = 1").Scan(&v, &asOf); err != nil {
		t.Fatal(err)
	}
	// Past the reader's uncertainty interval, so that the updates are plainly after it.
	time.Sleep(600 * time.Millisecond)
	for i := 2; i <= 4; i++ {
		if _, err := writer.Exec(ctx, "UPDATE kv SET v = $1 WHERE k = 1", i); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(3 * ttl) // many collections, each past the TTL
	if err := reader.QueryRow(ctx, "SELECT v FROM kv WHERE k = 1").Scan(&v); err != nil || v != 1 {
		t.Fatalf("an open transaction's read after the GC TTL: %d, %v; want 1", v, err)
	}
	if _, err := reader.Exec(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	// Closed, the transaction no longer holds collection back.
	waitFor(t, 30*time.Second, "garbage collection past the closed transaction", func() bool {
		err := writer.QueryRow(ctx, "SELECT v FROM kv AS OF SYSTEM TIME '"+asOf+"' WHERE k = 1").Scan(&v)
		return pgCode(err) == "72000"
	})
}
