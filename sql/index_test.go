package sql_test

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/meridiandb/meridian/sql"
)

// These tests build indexes on tables that other sessions keep writing, and check that the
// writes never fail or wait for the build, and that the index ends with exactly one entry
// per row, holding the row's values.

// loadRows inserts rows k = 0..n-1 with v = k % 1000, u = k and s = 's<k>'.
func loadRows(t *testing.T, c *pgconn.PgConn, n int) {
	t.Helper()
	for start := 0; start < n; start += 1000 {
		var vals []string
		for k := start; k < min(start+1000, n); k++ {
			vals = append(vals, fmt.Sprintf("(%d, %d, %d, 's%d')", k, k%1000, k, k))
		}
		mustQuery(t, c, "INSERT INTO kv VALUES "+strings.Join(vals, ", "))
	}
}

// writer changes the table until stop closes, with keys of its own above the loaded ones:
// it inserts rows, changes their indexed and stored columns, deletes them and inserts them
// again. It reports how many statements it ran and the first that failed.
func writer(ctx context.Context, c *pgconn.PgConn, id int, stop <-chan struct{}, done *atomic.Int64) error {
	r := rand.New(rand.NewSource(int64(id)))
	base := 1_000_000 * (id + 1)
	var live []int
	next := base
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		var stmt string
		switch op := r.Intn(10); {
		case op < 4 || len(live) < 10:
			k := next
			next++
			stmt = fmt.Sprintf("INSERT INTO kv VALUES (%d, %d, %d, 'w%d')", k, r.Intn(1000), k, k)
			live = append(live, k)
		case op < 7:
			k := live[r.Intn(len(live))]
			stmt = fmt.Sprintf("UPDATE kv SET v = %d, s = 'u%d' WHERE k = %d", r.Intn(1000), r.Intn(1000), k)
		case op < 8:
			// Rows the backfill may not have reached yet change too.
			k := r.Intn(20000)
			stmt = fmt.Sprintf("UPDATE kv SET v = %d, s = 'x%d' WHERE k = %d", r.Intn(1000), r.Intn(1000), k)
		default:
			i := r.Intn(len(live))
			k := live[i]
			live = append(live[:i], live[i+1:]...)
			stmt = fmt.Sprintf("DELETE FROM kv WHERE k = %d", k)
		}
		if _, err := query(ctx, c, stmt); err != nil {
			return fmt.Errorf("writer %d: %s: %w", id, stmt, err)
		}
		done.Add(1)
	}
}

// checkIndex compares what the covering index kv_v returns for every value of v with the
// rows of a full scan: the same (k, v, s) tuples, each once.
func checkIndex(t *testing.T, c *pgconn.PgConn, index string) {
	t.Helper()
	var in []string
	for v := 0; v < 1000; v++ {
		in = append(in, fmt.Sprint(v))
	}
	q := "SELECT k, v, s FROM kv WHERE v IN (" + strings.Join(in, ", ") + ")"
	if got := scanOf(t, c, q); !strings.Contains(got, "index scan kv@"+index) || strings.Contains(got, "lookup") {
		t.Fatalf("the check does not read the covering index %s alone: %s", index, got)
	}
	viaIndex := mustQuery(t, c, q)
	full := mustQuery(t, c, "SELECT k, v, s FROM kv")
	key := func(rows [][]string) []string {
		out := make([]string, len(rows))
		for i, r := range rows {
			out[i] = strings.Join(r, "/")
		}
		sort.Strings(out)
		return out
	}
	a, b := key(viaIndex), key(full)
	if len(a) != len(b) {
		t.Fatalf("the index has %d entries for %d rows", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("index entry %s, row %s", a[i], b[i])
		}
		if i > 0 && a[i] == a[i-1] {
			t.Fatalf("two entries for %s", a[i])
		}
	}
}

// scanOf is the scan EXPLAIN shows for query: its last line.
func scanOf(t *testing.T, c *pgconn.PgConn, query string) string {
	t.Helper()
	rows := mustQuery(t, c, "EXPLAIN "+query)
	return strings.TrimSpace(rows[len(rows)-1][0])
}

// buildUnderLoad loads 20,000 rows, runs create while writers keep writing, and checks the
// index it built.
func buildUnderLoad(t *testing.T, create, index string) {
	n := startNode(t)
	c := connect(t, n)
	mustQuery(t, c, "CREATE TABLE kv (k INT PRIMARY KEY, v INT, u INT, s TEXT)")
	loadRows(t, c, 20000)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writes atomic.Int64
	errs := make(chan error, 3)
	for id := 0; id < 3; id++ {
		wc := connect(t, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- writer(ctx, wc, id, stop, &writes)
		}()
	}
	time.Sleep(100 * time.Millisecond) // let the writers get going
	before := writes.Load()
	if _, err := query(ctx, c, create); err != nil {
		close(stop)
		wg.Wait()
		t.Fatalf("%s: %v", create, err)
	}
	during := writes.Load() - before
	time.Sleep(100 * time.Millisecond) // writes against the public index
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if during == 0 {
		t.Error("no write finished while the index was built")
	}
	t.Logf("%d writes during the build, %d in all", during, writes.Load())
	checkIndex(t, c, index)
}

func TestCreateIndexUnderConcurrentWrites(t *testing.T) {
	buildUnderLoad(t, "CREATE INDEX kv_v ON kv (v) INCLUDE (s, u)", "kv_v")
}

func TestCreateUniqueIndexUnderConcurrentWrites(t *testing.T) {
	// (v, u) is unique: u is the row's key, and writers keep it so.
	buildUnderLoad(t, "CREATE UNIQUE INDEX kv_v_u ON kv (v, u) STORING (s)", "kv_v_u")
}

// TestUniqueBuildSeesConcurrentDuplicates: rows written while a unique index is built are
// checked against the rows the backfill has not reached yet.
func TestUniqueBuildSeesConcurrentDuplicates(t *testing.T) {
	n := startNode(t)
	c := connect(t, n)
	other := connect(t, n)
	mustQuery(t, c, "CREATE TABLE kv (k INT PRIMARY KEY, v INT, u INT, s TEXT)")
	loadRows(t, c, 3000)

	// A row written once the index is maintained duplicates one not yet backfilled: the
	// build fails, and leaves nothing behind.
	sql.SetIndexBuildHook(t, func(stage sql.IndexBuildStage, _, _ uint32) error {
		if stage == sql.IndexStageWriteOnly {
			_, err := query(context.Background(), other, "INSERT INTO kv VALUES (5000, 0, 2999, 'dup')")
			return err
		}
		return nil
	})
	_, err := query(context.Background(), c, "CREATE UNIQUE INDEX kv_u ON kv (u)")
	if sqlState(err) != "23505" || !strings.Contains(err.Error(), `could not create unique index "kv_u"`) {
		t.Fatalf("want the build to fail on the duplicate, got %v", err)
	}
	if got := one(t, c, "SELECT count(*) FROM kv WHERE u = 2999"); got != "2" {
		t.Fatalf("rows with u = 2999: %s", got)
	}
	if rows := mustQuery(t, c, "SHOW INDEXES FROM kv"); len(rows) != 1 {
		t.Fatalf("the failed index is still there: %v", rows)
	}
	mustQuery(t, c, "DELETE FROM kv WHERE k = 5000")

	// The same, but the old row moves off the value before the backfill reaches it: its
	// change must not delete the new row's entry, which it does not own.
	sql.SetIndexBuildHook(t, func(stage sql.IndexBuildStage, _, _ uint32) error {
		if stage == sql.IndexStageWriteOnly {
			_, err := query(context.Background(), other, "INSERT INTO kv VALUES (5000, 0, 2999, 'new'); UPDATE kv SET u = -1 WHERE k = 2999")
			return err
		}
		return nil
	})
	mustQuery(t, c, "CREATE UNIQUE INDEX kv_u ON kv (u)")
	if got := mustQuery(t, c, "SELECT k, s FROM kv WHERE u = 2999"); len(got) != 1 || got[0][0] != "5000" {
		t.Fatalf("the row that took u = 2999 during the build: %v", got)
	}
	if got := scanOf(t, c, "SELECT k FROM kv WHERE u = 2999"); !strings.Contains(got, "kv@kv_u") {
		t.Fatalf("not read through the index: %s", got)
	}
	_, err = query(context.Background(), c, "INSERT INTO kv VALUES (6000, 0, 2999, 'dup')")
	if sqlState(err) != "23505" {
		t.Fatalf("want a unique violation, got %v", err)
	}
}

// TestAbandonedIndexBuild: a build whose node dies midway leaves its index half built and
// not public; queries ignore it, writes keep it up, and running CREATE INDEX again or DROP
// INDEX cleans it up.
func TestAbandonedIndexBuild(t *testing.T) {
	n := startNode(t)
	c := connect(t, n)
	mustQuery(t, c, "CREATE TABLE kv (k INT PRIMARY KEY, v INT, u INT, s TEXT)")
	loadRows(t, c, 2500)

	abandonAfterFirstChunk := func(stage sql.IndexBuildStage, _, _ uint32) error {
		if stage == sql.IndexStageChunkDone {
			return sql.ErrAbandonIndexBuild
		}
		return nil
	}
	sql.SetIndexBuildHook(t, abandonAfterFirstChunk)
	if _, err := query(context.Background(), c, "CREATE INDEX kv_v ON kv (v) INCLUDE (u, s)"); err == nil {
		t.Fatal("the build was not abandoned")
	}
	if rows := mustQuery(t, c, "SHOW INDEXES FROM kv"); len(rows) != 1 {
		t.Fatalf("a half-built index is listed: %v", rows)
	}
	if got := scanOf(t, c, "SELECT * FROM kv WHERE v = 7"); !strings.Contains(got, "full scan") {
		t.Fatalf("a half-built index is read: %s", got)
	}
	// Writes go on, and keep the half-built index's entries.
	mustQuery(t, c, "INSERT INTO kv VALUES (3000, 7, 3000, 'new'); UPDATE kv SET v = 8 WHERE k = 7; DELETE FROM kv WHERE k = 1007")
	if got := one(t, c, "SELECT count(*) FROM kv WHERE v = 7"); got != "2" {
		t.Fatalf("rows with v = 7: %s", got)
	}

	// CREATE INDEX again replaces the half-built index and finishes.
	sql.SetIndexBuildHook(t, nil)
	mustQuery(t, c, "CREATE INDEX kv_v ON kv (v) INCLUDE (u, s)")
	checkIndex(t, c, "kv_v")

	// An unnamed build picks up its own default name again, not the next one.
	sql.SetIndexBuildHook(t, abandonAfterFirstChunk)
	if _, err := query(context.Background(), c, "CREATE INDEX ON kv (u)"); err == nil {
		t.Fatal("the build was not abandoned")
	}
	sql.SetIndexBuildHook(t, nil)
	mustQuery(t, c, "CREATE INDEX ON kv (u)")
	if got := scanOf(t, c, "SELECT * FROM kv WHERE u = 3"); !strings.Contains(got, "kv@kv_u_idx:") {
		t.Fatalf("want the index kv_u_idx: %s", got)
	}

	// DROP INDEX removes a half-built index, and frees its name.
	sql.SetIndexBuildHook(t, abandonAfterFirstChunk)
	if _, err := query(context.Background(), c, "CREATE INDEX kv_s ON kv (s)"); err == nil {
		t.Fatal("the build was not abandoned")
	}
	sql.SetIndexBuildHook(t, nil)
	mustQuery(t, c, "DROP INDEX kv_s")
	mustQuery(t, c, "CREATE TABLE kv_s (a INT)")
}
