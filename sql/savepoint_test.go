package sql_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestSavepointsNestedTransactions drives savepoints the way applications do, through pgx's
// nested transactions (SAVEPOINT sp_n, ROLLBACK TO SAVEPOINT sp_n, RELEASE SAVEPOINT sp_n,
// sent with the extended protocol): a row updated several times across savepoints, some
// rolled back, commits with the value of the last write kept, which another session then
// reads; sessions blocked on the rows' locks meanwhile see the committed values once they
// get through.
func TestSavepointsNestedTransactions(t *testing.T) {
	n := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, n.SQLURL("root"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	other, waiter, lockWaiter := connect(t, n), connect(t, n), connect(t, n)
	mustQuery(t, other, "CREATE TABLE acct (id INT PRIMARY KEY, bal INT NOT NULL)")
	mustQuery(t, other, "INSERT INTO acct VALUES (1, 100), (3, 300)")

	exec := func(q pgx.Tx, sql string) {
		t.Helper()
		if _, err := q.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	balance := func(q pgx.Tx, id int) int {
		t.Helper()
		var bal int
		if err := q.QueryRow(ctx, "SELECT bal FROM acct WHERE id = $1", id).Scan(&bal); err != nil {
			t.Fatalf("balance of %d: %v", id, err)
		}
		return bal
	}
	begin := func(q interface {
		Begin(context.Context) (pgx.Tx, error)
	}) pgx.Tx {
		t.Helper()
		tx, err := q.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}

	tx := begin(conn)
	exec(tx, "UPDATE acct SET bal = 110 WHERE id = 1")

	sp1 := begin(tx) // SAVEPOINT sp_1
	exec(sp1, "UPDATE acct SET bal = 120 WHERE id = 1")
	exec(sp1, "UPDATE acct SET bal = 999 WHERE id = 3") // locks row 3, rolled back below
	exec(sp1, "INSERT INTO acct VALUES (2, 200)")
	if err := sp1.Rollback(ctx); err != nil { // ROLLBACK TO SAVEPOINT sp_1
		t.Fatal(err)
	}
	if got := balance(tx, 1); got != 110 {
		t.Fatalf("after the rollback to sp_1, bal = %d, want 110", got)
	}

	sp2 := begin(tx)
	exec(sp2, "UPDATE acct SET bal = 130 WHERE id = 1")
	sp3 := begin(sp2)
	exec(sp3, "UPDATE acct SET bal = 140 WHERE id = 1")
	if err := sp3.Commit(ctx); err != nil { // RELEASE SAVEPOINT
		t.Fatal(err)
	}
	exec(sp2, "UPDATE acct SET bal = bal + 1 WHERE id = 1")
	if err := sp2.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	// A failed statement inside a savepoint: rolling back to it continues the transaction.
	sp4 := begin(tx)
	exec(sp4, "UPDATE acct SET bal = 500 WHERE id = 1")
	if _, err := sp4.Exec(ctx, "INSERT INTO acct VALUES (1, 0)"); sqlState(err) != "23505" {
		t.Fatalf("duplicate insert: %v, want 23505", err)
	}
	if _, err := sp4.Exec(ctx, "SELECT 1"); sqlState(err) != "25P02" {
		t.Fatalf("a statement after the error: %v, want 25P02", err)
	}
	if err := sp4.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	exec(tx, "UPDATE acct SET bal = bal + 1 WHERE id = 1")
	if got := balance(tx, 1); got != 142 {
		t.Fatalf("before the commit the transaction reads bal = %d, want 142", got)
	}

	// Another session sees none of it before the commit; two more wait for the rows'
	// locks, row 3's included, though its only write was rolled back (locks taken after a
	// savepoint are kept until the transaction ends).
	if got := one(t, other, "SELECT bal FROM acct WHERE id = 1"); got != "100" {
		t.Fatalf("another session reads bal = %s before the commit", got)
	}
	upd := async(waiter, "UPDATE acct SET bal = bal + 1000 WHERE id = 1")
	stillWaiting(t, upd, "an UPDATE of the row the transaction updated")
	upd3 := async(lockWaiter, "UPDATE acct SET bal = bal + 3000 WHERE id = 3")
	stillWaiting(t, upd3, "an UPDATE of the row whose update was rolled back")

	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := await(t, upd, "the waiting UPDATE of row 1"); err != nil {
		t.Fatal(err)
	}
	if err := await(t, upd3, "the waiting UPDATE of row 3"); err != nil {
		t.Fatal(err)
	}
	// The waiters ran after the commit, on top of its values: 142 for row 1, and the
	// original 300 for row 3.
	if got := fmt.Sprint(mustQuery(t, other, "SELECT id, bal FROM acct ORDER BY id")); got != "[[1 1142] [3 3300]]" {
		t.Fatalf("after the commit: %s, want [[1 1142] [3 3300]]", got)
	}
}
