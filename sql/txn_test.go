package sql_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/meridiandb/meridian/server"
)

// These tests run several sessions against one node at once: what the logic tests, which
// run one statement at a time, cannot show. They assert what happens (who waits for whom,
// which error a client gets), never how long it takes: a wait is shown by a statement not
// finishing until another session lets it, and every wait is bounded by the test's context.

func connect(t *testing.T, n *server.Node) *pgconn.PgConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgconn.Connect(ctx, n.SQLURL("root"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// query runs sql (one or more statements) and returns the rows of the last result as text.
func query(ctx context.Context, c *pgconn.PgConn, sql string) ([][]string, error) {
	results, err := c.Exec(ctx, sql).ReadAll()
	if err != nil {
		return nil, err
	}
	var rows [][]string
	if len(results) > 0 {
		for _, r := range results[len(results)-1].Rows {
			row := make([]string, len(r))
			for i, v := range r {
				row[i] = string(v)
			}
			rows = append(rows, row)
		}
	}
	return rows, nil
}

func mustQuery(t *testing.T, c *pgconn.PgConn, sql string) [][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := query(ctx, c, sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return rows
}

// one returns the single value of a one-row, one-column result.
func one(t *testing.T, c *pgconn.PgConn, sql string) string {
	t.Helper()
	rows := mustQuery(t, c, sql)
	if len(rows) != 1 || len(rows[0]) != 1 {
		t.Fatalf("%s: want one value, got %v", sql, rows)
	}
	return rows[0][0]
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// async runs sql on c in the background; the channel delivers its error.
func async(c *pgconn.PgConn, sql string) <-chan error {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := query(ctx, c, sql)
		done <- err
	}()
	return done
}

// await waits for an async statement, failing the test if it never finishes.
func await(t *testing.T, done <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(90 * time.Second):
		t.Fatalf("%s never finished", what)
		return nil
	}
}

// stillWaiting fails the test if an async statement has finished: it should be waiting for a
// lock. A statement that wrongly does not wait is caught only if it finishes within the
// grace period; a correct one passes however slow the machine is.
func stillWaiting(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("%s finished (err=%v) while another transaction held the lock it needs", what, err)
	case <-time.After(300 * time.Millisecond):
	}
}

func TestSelectForUpdateMakesWritersWait(t *testing.T) {
	n := startNode(t)
	a, b, c := connect(t, n), connect(t, n), connect(t, n)
	mustQuery(t, a, "CREATE TABLE t (k INT PRIMARY KEY, v INT NOT NULL)")
	mustQuery(t, a, "INSERT INTO t VALUES (1, 0), (2, 0)")

	if got := one(t, a, "BEGIN; SELECT v FROM t WHERE k = 1 FOR UPDATE"); got != "0" {
		t.Fatalf("locking read: got %s", got)
	}
	upd := async(b, "UPDATE t SET v = v + 1 WHERE k = 1")
	stillWaiting(t, upd, "the other session's UPDATE of the locked row")
	// A row a did not lock stays writable meanwhile.
	mustQuery(t, c, "UPDATE t SET v = 5 WHERE k = 2")

	// a writes what it read and commits: its lock kept b out, so nothing b did can make a
	// restart.
	mustQuery(t, a, "UPDATE t SET v = 10 WHERE k = 1")
	mustQuery(t, a, "COMMIT")
	if err := await(t, upd, "the waiting UPDATE"); err != nil {
		t.Fatalf("the waiting UPDATE failed: %v", err)
	}
	// b ran after a: it added to a's value.
	if got := one(t, c, "SELECT v FROM t WHERE k = 1"); got != "11" {
		t.Fatalf("k=1: got %s, want 11", got)
	}
	if got := one(t, c, "SELECT v FROM t WHERE k = 2"); got != "5" {
		t.Fatalf("k=2: got %s, want 5", got)
	}
}

func TestSelectForUpdateLockWaitEnds(t *testing.T) {
	n := startNode(t)
	a, b := connect(t, n), connect(t, n)
	mustQuery(t, a, "CREATE TABLE t (k INT PRIMARY KEY, v INT NOT NULL)")
	mustQuery(t, a, "INSERT INTO t VALUES (1, 0)")
	mustQuery(t, a, "BEGIN; SELECT * FROM t WHERE k = 1 FOR UPDATE")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, tc := range []struct {
		setup, stmt, code string
	}{
		{"SET lock_timeout = '50ms'", "UPDATE t SET v = 1 WHERE k = 1", "55P03"},
		{"SET lock_timeout = '50ms'", "SELECT * FROM t WHERE k = 1 FOR UPDATE", "55P03"},
		{"SET lock_timeout = 0", "SELECT * FROM t WHERE k = 1 FOR UPDATE NOWAIT", "55P03"},
		{"SET lock_timeout = 0; SET statement_timeout = '50ms'", "DELETE FROM t WHERE k = 1", "57014"},
	} {
		mustQuery(t, b, tc.setup)
		_, err := query(ctx, b, tc.stmt)
		if sqlState(err) != tc.code {
			t.Errorf("%s after %s: got %v, want SQLSTATE %s", tc.stmt, tc.setup, err, tc.code)
		}
		mustQuery(t, b, "SET statement_timeout = 0")
	}
	// The lock is still a's, and a commits as if nothing happened.
	mustQuery(t, a, "UPDATE t SET v = 7 WHERE k = 1; COMMIT")
	if got := one(t, b, "SELECT v FROM t WHERE k = 1"); got != "7" {
		t.Fatalf("got %s, want 7", got)
	}
}

func TestHighPriorityTakesTheLock(t *testing.T) {
	n := startNode(t)
	a, b := connect(t, n), connect(t, n)
	mustQuery(t, a, "CREATE TABLE t (k INT PRIMARY KEY, v INT NOT NULL)")
	mustQuery(t, a, "INSERT INTO t VALUES (1, 0)")

	mustQuery(t, a, "BEGIN PRIORITY LOW; SELECT * FROM t WHERE k = 1 FOR UPDATE")
	if got := one(t, b, "SHOW TRANSACTION PRIORITY"); got != "normal" {
		t.Fatalf("default priority: got %s", got)
	}
	// A HIGH transaction does not wait behind a lower one: it aborts it.
	upd := async(b, "BEGIN PRIORITY HIGH; UPDATE t SET v = 2 WHERE k = 1; COMMIT")
	if err := await(t, upd, "the HIGH priority transaction"); err != nil {
		t.Fatalf("HIGH priority transaction: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := query(ctx, a, "UPDATE t SET v = 1 WHERE k = 1; COMMIT")
	if sqlState(err) != "40001" {
		t.Fatalf("the pushed-aside LOW transaction: got %v, want SQLSTATE 40001", err)
	}
	// It is told which row it lost: aborted over its lock there, or, reading on, finding
	// the other transaction's write there.
	if pe := pgErr(err); !strings.Contains(pe.Message, `table "t", key (k)=(1)`) {
		t.Errorf("the 40001 does not name the row: %q", pe.Message)
	}
	mustQuery(t, a, "ROLLBACK")
	if got := one(t, b, "SELECT v FROM t WHERE k = 1"); got != "2" {
		t.Fatalf("got %s, want 2", got)
	}
}

func TestDeadlockDetected(t *testing.T) {
	n := startNode(t)
	a, b, c := connect(t, n), connect(t, n), connect(t, n)
	mustQuery(t, a, "CREATE TABLE t (k INT PRIMARY KEY, v INT NOT NULL)")
	mustQuery(t, a, "INSERT INTO t VALUES (1, 0), (2, 0)")

	mustQuery(t, a, "BEGIN; SELECT * FROM t WHERE k = 1 FOR UPDATE")
	mustQuery(t, b, "BEGIN; UPDATE t SET v = 20 WHERE k = 2")
	fromA := async(a, "UPDATE t SET v = 10 WHERE k = 2")
	stillWaiting(t, fromA, "a's UPDATE of the row b holds")
	fromB := async(b, "SELECT * FROM t WHERE k = 1 FOR UPDATE")
	// Each waits for the other: one of them is aborted (40P01) and the other goes on.
	errA := await(t, fromA, "a's UPDATE")
	errB := await(t, fromB, "b's locking read")
	var winner *pgconn.PgConn
	switch {
	case sqlState(errA) == "40P01" && errB == nil:
		winner = b
	case sqlState(errB) == "40P01" && errA == nil:
		winner = a
	default:
		t.Fatalf("want exactly one of the two aborted with 40P01, got a: %v, b: %v", errA, errB)
	}
	// The victim names a row of the cycle: the one it waited for (a: k=2, b: k=1), or, if it
	// learned of its abort later, the one it held (a: k=1, b: k=2).
	pe := pgErr(errors.Join(errA, errB))
	t.Logf("the victim's error:\n%s", clientView(pe))
	if !strings.HasPrefix(pe.Message, "deadlock detected: ") || !strings.Contains(pe.Message, `lock on table "t", key (k)=(`) ||
		!strings.Contains(pe.Detail, "Key: /Table/t/t_pkey/") {
		t.Errorf("the 40P01 does not name the row: %q (%q)", pe.Message, pe.Detail)
	}
	mustQuery(t, winner, "COMMIT")
	mustQuery(t, a, "ROLLBACK")
	mustQuery(t, b, "ROLLBACK")
	got := mustQuery(t, c, "SELECT v FROM t ORDER BY k")
	want := map[*pgconn.PgConn]string{a: "[[0] [10]]", b: "[[0] [20]]"}[winner]
	if fmt.Sprint(got) != want {
		t.Fatalf("got %v, want %s", got, want)
	}
}

// pgErr is err's PostgreSQL error, or an empty one.
func pgErr(err error) *pgconn.PgError {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe
	}
	return &pgconn.PgError{}
}

// clientView shows an error as psql prints it.
func clientView(pe *pgconn.PgError) string {
	s := fmt.Sprintf("ERROR:  %s (SQLSTATE %s)", pe.Message, pe.Code)
	if pe.Detail != "" {
		s += "\nDETAIL:  " + pe.Detail
	}
	if pe.Hint != "" {
		s += "\nHINT:  " + pe.Hint
	}
	return s
}

// TestConflictErrorsNameTheRow: two sessions conflict in explicit transactions, and the
// error the loser's client gets names the table and the row (its primary key values), in
// its message, with the whole key and the other transaction in its detail.
func TestConflictErrorsNameTheRow(t *testing.T) {
	n := startNode(t)
	a, b := connect(t, n), connect(t, n)
	mustQuery(t, a, "CREATE TABLE accounts (id INT PRIMARY KEY, bal INT NOT NULL)")
	mustQuery(t, a, "INSERT INTO accounts VALUES (5, 100), (6, 100)")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	t.Run("40001", func(t *testing.T) {
		// a reads the row; b changes it and commits; a's write of what it read must not
		// commit: its read is no longer true.
		if got := one(t, a, "BEGIN; SELECT bal FROM accounts WHERE id = 5"); got != "100" {
			t.Fatalf("got %s", got)
		}
		mustQuery(t, b, "UPDATE accounts SET bal = 0 WHERE id = 5")
		_, err := query(ctx, a, "UPDATE accounts SET bal = bal + 1 WHERE id = 5")
		if err == nil {
			_, err = query(ctx, a, "COMMIT")
		} else {
			mustQuery(t, a, "ROLLBACK")
		}
		pe := pgErr(err)
		t.Logf("a's error:\n%s", clientView(pe))
		if pe.Code != "40001" {
			t.Fatalf("got %v, want SQLSTATE 40001", err)
		}
		const want = `restart transaction: serialization conflict: another transaction wrote to table "accounts", key (id)=(5) after this transaction read it`
		if pe.Message != want {
			t.Errorf("message %q, want %q", pe.Message, want)
		}
		if !strings.Contains(pe.Detail, "Key: /Table/accounts/accounts_pkey/5\n") || !strings.Contains(pe.Detail, "Conflicting write: committed at ") {
			t.Errorf("detail %q", pe.Detail)
		}
		if pe.Hint == "" {
			t.Error("no hint")
		}
	})

	t.Run("55P03", func(t *testing.T) {
		mustQuery(t, a, "BEGIN; UPDATE accounts SET bal = 1 WHERE id = 6")
		defer mustQuery(t, a, "ROLLBACK")
		mustQuery(t, b, "SET lock_timeout = '50ms'")
		_, err := query(ctx, b, "BEGIN; UPDATE accounts SET bal = 2 WHERE id = 6")
		mustQuery(t, b, "ROLLBACK")
		pe := pgErr(err)
		t.Logf("b's error:\n%s", clientView(pe))
		if pe.Code != "55P03" || pe.Message != `could not obtain lock on row in relation "accounts"` {
			t.Fatalf("got %v, want SQLSTATE 55P03 naming the relation", err)
		}
		if !strings.HasPrefix(pe.Detail, "Key (id)=(6) is locked by another transaction (") || !strings.Contains(pe.Detail, "lock_timeout (50ms)") {
			t.Errorf("detail %q", pe.Detail)
		}
	})
}

// hlcWall reads the wall time (nanoseconds) of a cluster_logical_timestamp() decimal.
func hlcWall(t *testing.T, dec string) int64 {
	t.Helper()
	whole, _, _ := strings.Cut(dec, ".")
	w, ok := new(big.Int).SetString(whole, 10)
	if !ok {
		t.Fatalf("bad timestamp %q", dec)
	}
	return w.Int64()
}

func TestAsOfSystemTimeReadsThePast(t *testing.T) {
	n := startNode(t)
	c := connect(t, n)
	mustQuery(t, c, "CREATE TABLE t (k INT PRIMARY KEY, v TEXT)")
	mustQuery(t, c, "INSERT INTO t VALUES (1, 'old')")
	// A timestamp after the insert (the clock has moved past its commit) and, with a
	// microsecond to spare, a timestamp text in between too.
	ts := one(t, c, "SELECT cluster_logical_timestamp()")
	wall := hlcWall(t, ts)
	text := time.Unix(0, (wall/1000+1)*1000).UTC().Format("2006-01-02 15:04:05.999999")
	// The update must commit after both: wait until the clock is past them.
	for hlcWall(t, one(t, c, "SELECT cluster_logical_timestamp()")) <= (wall/1000+1)*1000 {
		time.Sleep(time.Millisecond)
	}
	mustQuery(t, c, "UPDATE t SET v = 'new' WHERE k = 1")

	for _, q := range []string{
		"SELECT v FROM t AS OF SYSTEM TIME " + ts,
		"SELECT v FROM t AS OF SYSTEM TIME '" + ts + "'",
		"SELECT v FROM t AS OF SYSTEM TIME '" + text + "'",
		"SELECT v FROM t AS OF SYSTEM TIME TIMESTAMP '" + text + "' WHERE k = 1",
		"BEGIN AS OF SYSTEM TIME " + ts + "; SELECT v FROM t",
		"SELECT v FROM t AS OF SYSTEM TIME " + ts, // in the transaction: the same timestamp
		"COMMIT; BEGIN; SET TRANSACTION AS OF SYSTEM TIME '" + text + "'; SELECT v FROM t WHERE k = 1",
		"COMMIT; SELECT v FROM t AS OF SYSTEM TIME '" + text + "' FOR SHARE",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		rows, err := query(ctx, c, q)
		cancel()
		switch {
		case strings.HasSuffix(q, "FOR SHARE"):
			if sqlState(err) != "25006" {
				t.Errorf("%s: got %v, want 25006", q, err)
			}
		case err != nil:
			t.Errorf("%s: %v", q, err)
		case fmt.Sprint(rows) != "[[old]]":
			t.Errorf("%s: got %v, want the old value", q, rows)
		}
	}
	if got := one(t, c, "SELECT v FROM t"); got != "new" {
		t.Fatalf("present: got %s", got)
	}
	if got := one(t, c, "SELECT v FROM t AS OF SYSTEM TIME cluster_logical_timestamp()"); got != "new" {
		t.Fatalf("AS OF now: got %s", got)
	}

	// follower_read_timestamp() reads at least 4.8 s behind the present.
	behind := one(t, c, "BEGIN AS OF SYSTEM TIME follower_read_timestamp(); SELECT cluster_logical_timestamp()")
	mustQuery(t, c, "COMMIT")
	now := one(t, c, "SELECT cluster_logical_timestamp()")
	if d := time.Duration(hlcWall(t, now) - hlcWall(t, behind)); d < 4800*time.Millisecond {
		t.Fatalf("follower_read_timestamp() is only %s behind the present", d)
	}
}

func TestSetTransactionOutsideABlockWarns(t *testing.T) {
	n := startNode(t)
	cfg, err := pgconn.ParseConfig(n.SQLURL("root"))
	if err != nil {
		t.Fatal(err)
	}
	var notices []*pgconn.Notice
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices = append(notices, n) }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	for _, q := range []string{"SET TRANSACTION PRIORITY HIGH", "SET TRANSACTION READ ONLY", "SET TRANSACTION AS OF SYSTEM TIME '-1s'"} {
		notices = nil
		if _, err := query(ctx, c, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if len(notices) != 1 || notices[0].Code != "25P01" || notices[0].Severity != "WARNING" {
			t.Fatalf("%s: want one 25P01 warning, got %+v", q, notices)
		}
	}
	if got := one(t, c, "SHOW TRANSACTION PRIORITY"); got != "normal" {
		t.Fatalf("priority changed to %s", got)
	}
	if got := one(t, c, "SHOW transaction_read_only"); got != "off" {
		t.Fatalf("transaction_read_only changed to %s", got)
	}
}

func TestReverseLockingScanAcrossRanges(t *testing.T) {
	n := startNode(t)
	a, b := connect(t, n), connect(t, n)
	mustQuery(t, a, "CREATE TABLE t (k INT PRIMARY KEY, v INT NOT NULL)")
	mustQuery(t, a, "INSERT INTO t VALUES (1, 0), (2, 0), (3, 0)")
	mustQuery(t, a, "ALTER TABLE t SPLIT AT VALUES (2), (3)")

	// ORDER BY k DESC reads the ranges backwards; every row it returns is locked.
	if got := mustQuery(t, a, "BEGIN; SELECT k FROM t ORDER BY k DESC FOR UPDATE"); fmt.Sprint(got) != "[[3] [2] [1]]" {
		t.Fatalf("got %v", got)
	}
	mustQuery(t, b, "SET lock_timeout = '50ms'")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for k := 1; k <= 3; k++ {
		if _, err := query(ctx, b, fmt.Sprintf("UPDATE t SET v = 1 WHERE k = %d", k)); sqlState(err) != "55P03" {
			t.Errorf("k=%d: the row is not locked: got %v, want 55P03", k, err)
		}
	}
	mustQuery(t, a, "COMMIT")
}
