package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/mvcc"
	"github.com/meridiandb/meridian/sql/rowenc"
)

// bigRows is the size of the tables TRUNCATE and DROP are tested on: the TPC-C customer
// table's row count, at about its row size.
const bigRows = 30000

// loadBig creates table name with bigRows rows of about 700 bytes and a secondary index.
func loadBig(ctx context.Context, t *testing.T, c *pgx.Conn, name string) {
	t.Helper()
	mustExec(ctx, t, c, fmt.Sprintf("CREATE TABLE %s (k INT PRIMARY KEY, a TEXT, b TEXT, c INT)", name))
	mustExec(ctx, t, c, fmt.Sprintf("CREATE INDEX %s_c ON %s (c)", name, name))
	for lo := 0; lo < bigRows; lo += 5000 {
		mustExec(ctx, t, c, fmt.Sprintf(
			"INSERT INTO %s SELECT g, repeat('x', 350), repeat('y', 300), g %% 100 FROM generate_series(%d, %d) AS g",
			name, lo, lo+4999))
	}
}

func mustExec(ctx context.Context, t *testing.T, c *pgx.Conn, stmt string) {
	t.Helper()
	if _, err := c.Exec(ctx, stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

func count(ctx context.Context, t *testing.T, c *pgx.Conn, query string) int {
	t.Helper()
	var n int
	if err := c.QueryRow(ctx, query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// engineKeys counts the storage engine's keys (every version, intent and tombstone) of the
// user keys in the key space of ID keyID, below MVCC.
func engineKeys(t *testing.T, n *Node, keyID uint32) int {
	t.Helper()
	start, end := rowenc.TableSpan(keyID)
	it, err := n.store.DB().NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	lo, hi := mvcc.EncodeKey(start, hlc.Timestamp{}), mvcc.EncodeKey(end, hlc.Timestamp{})
	k := 0
	for ok := it.SeekGE(lo); ok && string(it.Key()) < string(hi); ok = it.Next() {
		k++
	}
	return k
}

// tableID is the descriptor ID of table name, which keys its data until it is truncated.
func tableID(ctx context.Context, t *testing.T, c *pgx.Conn, name string) uint32 {
	t.Helper()
	var id uint32
	if err := c.QueryRow(ctx, "SELECT oid FROM pg_class WHERE relname = $1", name).Scan(&id); err != nil {
		t.Fatalf("oid of %s: %v", name, err)
	}
	return id
}

// TestTruncateAndDropBigTables: TRUNCATE and DROP TABLE of a 30,000-row table finish with
// the rows gone; a TRUNCATE rolled back leaves them all; readers at a time before the
// TRUNCATE still see them until the GC TTL has passed; then the old data is removed from
// the storage engine altogether, and reads that old are refused.
func TestTruncateAndDropBigTables(t *testing.T) {
	// The historical read below does not rely on this being long enough (an open
	// transaction holds collection back for it): on a loaded machine under the race
	// detector, 115s once passed between the read's timestamp and the read.
	const ttl = 15 * time.Second
	n := startTestNode(t, Config{GCTTL: ttl, GCInterval: 200 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := connect(t, n)
	loadBig(ctx, t, c, "big")
	loadBig(ctx, t, c, "gone")
	keyID := tableID(ctx, t, c, "big")
	before := engineKeys(t, n, keyID)
	if before < 2*bigRows {
		t.Fatalf("%d engine keys for %d rows with an index", before, bigRows)
	}

	// Rolled back, a TRUNCATE changes nothing.
	mustExec(ctx, t, c, "BEGIN")
	mustExec(ctx, t, c, "TRUNCATE big")
	if got := count(ctx, t, c, "SELECT count(*) FROM big"); got != 0 {
		t.Fatalf("inside the transaction, after TRUNCATE: %d rows", got)
	}
	mustExec(ctx, t, c, "ROLLBACK")
	if got := count(ctx, t, c, "SELECT count(*) FROM big"); got != bigRows {
		t.Fatalf("after TRUNCATE rolled back: %d rows, want %d", got, bigRows)
	}

	// A transaction open from before asOf until after the read at asOf keeps that read's
	// versions from collection, however long the statements in between take.
	holdback := connect(t, n)
	mustExec(ctx, t, holdback, "BEGIN")
	if got := count(ctx, t, holdback, "SELECT count(*) FROM big"); got != bigRows {
		t.Fatalf("the holding transaction read %d rows, want %d", got, bigRows)
	}
	var asOf string
	if err := c.QueryRow(ctx, "SELECT cluster_logical_timestamp()::STRING").Scan(&asOf); err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond) // past the uncertainty interval of a read at asOf
	mustExec(ctx, t, c, "TRUNCATE big")
	if got := count(ctx, t, c, "SELECT count(*) FROM big"); got != 0 {
		t.Fatalf("after TRUNCATE: %d rows", got)
	}
	if got := count(ctx, t, c, "SELECT count(*) FROM big AS OF SYSTEM TIME '"+asOf+"'"); got != bigRows {
		t.Fatalf("a read before the TRUNCATE: %d rows, want %d", got, bigRows)
	}
	mustExec(ctx, t, holdback, "COMMIT")
	if got := count(ctx, t, c, "SELECT count(*) FROM big WHERE c = 7"); got != 0 {
		t.Fatalf("after TRUNCATE, through the index: %d rows", got)
	}
	// The table works as before, in its new key space.
	mustExec(ctx, t, c, "INSERT INTO big VALUES (1, 'a', 'b', 7)")
	if got := count(ctx, t, c, "SELECT count(*) FROM big WHERE c = 7"); got != 1 {
		t.Fatalf("a row inserted after TRUNCATE: found %d times through the index", got)
	}

	goneID := tableID(ctx, t, c, "gone")
	mustExec(ctx, t, c, "DROP TABLE gone")
	if _, err := c.Exec(ctx, "SELECT count(*) FROM gone"); pgCode(err) != "42P01" {
		t.Fatalf("reading a dropped table: %v, want 42P01", err)
	}

	// Past the GC TTL, both old key spaces are cleared below MVCC, and the read before the
	// TRUNCATE is refused rather than answered from the emptied span.
	waitFor(t, 2*time.Minute, "the data of the truncated and dropped tables to be removed", func() bool {
		return engineKeys(t, n, keyID) == 0 && engineKeys(t, n, goneID) == 0
	})
	_, err := c.Exec(ctx, "SELECT count(*) FROM big AS OF SYSTEM TIME '"+asOf+"'")
	if pgCode(err) != "72000" {
		t.Fatalf("a read before the TRUNCATE once its data is gone: %v, want 72000", err)
	}
	if got := count(ctx, t, c, "SELECT count(*) FROM big"); got != 1 {
		t.Fatalf("after removal of the old data: %d rows, want 1", got)
	}
	// Later DDL is not held up by anything the drops left.
	mustExec(ctx, t, c, "CREATE TABLE gone (k INT PRIMARY KEY)")
	mustExec(ctx, t, c, "TRUNCATE big, gone")
	if got := count(ctx, t, c, "SELECT count(*) FROM big"); got != 0 {
		t.Fatalf("after a second TRUNCATE: %d rows", got)
	}
}
