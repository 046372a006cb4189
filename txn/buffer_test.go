package txn_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/txn"
)

// newBufferingDB is newLossyDB with write buffering on.
func newBufferingDB(t *testing.T) (*txn.DB, *lossySender) {
	db, l := newLossyDB(t)
	db.SetWriteBuffering(true)
	return db, l
}

// TestBufferedWritesGoWithTheCommit: blind writes stay on the coordinator until the commit,
// which sends them with its own batches; a read of a buffered key sends the buffer first
// and sees the writes, a read of another key does not.
func TestBufferedWritesGoWithTheCommit(t *testing.T) {
	for _, parallel := range []bool{true, false} {
		t.Run(fmt.Sprintf("parallel-commits=%t", parallel), func(t *testing.T) {
			db, l := newBufferingDB(t)
			db.SetParallelCommits(parallel)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			w := db.NewTxn()
			mustPut(t, ctx, w, "d", "old")
			if err := w.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			sent := l.batchCount(&kvpb.PutRequest{})

			tx := db.NewTxn()
			mustPut(t, ctx, tx, "b", "vb") // r1
			mustPut(t, ctx, tx, "x", "vx") // r2
			mustPut(t, ctx, tx, "c", "vc") // r1
			mustDel(t, ctx, tx, "d")
			if got := l.batchCount(&kvpb.PutRequest{}) - sent; got != 0 {
				t.Fatalf("%d batches of writes sent before the commit, want none", got)
			}
			if got := get(t, ctx, tx, "e"); got != "<nil>" {
				t.Fatalf("e = %q", got)
			}
			if got := l.batchCount(&kvpb.PutRequest{}) - sent; got != 0 {
				t.Fatalf("a read of an unwritten key sent %d batches of writes", got)
			}
			if got := get(t, ctx, tx, "c"); got != "vc" { // sends the buffer first
				t.Fatalf("the transaction reads its buffered write of c as %q", got)
			}
			if got := get(t, ctx, tx, "d"); got != "<nil>" {
				t.Fatalf("the transaction reads its buffered delete of d as %q", got)
			}
			if got := l.batchCount(&kvpb.PutRequest{}) - sent; got != 2 {
				t.Fatalf("reading a buffered key sent %d batches of writes, want 2 (one per range)", got)
			}
			mustPut(t, ctx, tx, "y", "vy")
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			for k, want := range map[string]string{"b": "vb", "c": "vc", "x": "vx", "y": "vy", "d": "<nil>"} {
				if got := read(t, db, k); got != want {
					t.Errorf("%s = %q after the commit, want %q", k, got, want)
				}
			}
		})
	}
}

// TestBufferedWritesOnOneRangeCommitInOnePhase: a transaction whose writes all waited for
// the commit and lie on one range commits in one batch, without a record or intents.
func TestBufferedWritesOnOneRangeCommitInOnePhase(t *testing.T) {
	db, l := newBufferingDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	puts0, ends0 := l.batchCount(&kvpb.PutRequest{}), l.batchCount(&kvpb.EndTxnRequest{})
	tx := db.NewTxn()
	mustPut(t, ctx, tx, "a", "1")
	mustPut(t, ctx, tx, "b", "2")
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if puts, ends := l.batchCount(&kvpb.PutRequest{})-puts0, l.batchCount(&kvpb.EndTxnRequest{})-ends0; puts == 0 || ends != 0 {
		t.Fatalf("the commit sent %d batches starting with a write and %d with EndTxn, want writes and the EndTxn together", puts, ends)
	}
	if got := read(t, db, "b"); got != "2" {
		t.Fatalf("b = %q", got)
	}
}

// TestBufferedWritesRolledBack: a rollback to a savepoint drops the buffered writes made
// since, keeping earlier ones, also when a later write of the same key sent the earlier one;
// a rollback drops them all, without sending anything.
func TestBufferedWritesRolledBack(t *testing.T) {
	db, l := newBufferingDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tx := db.NewTxn()
	mustPut(t, ctx, tx, "a", "1")
	sp := tx.Savepoint()
	mustPut(t, ctx, tx, "b", "2")
	mustPut(t, ctx, tx, "a", "3") // sends a=1 first: a key is buffered once
	if err := tx.RollbackToSavepoint(ctx, sp); err != nil {
		t.Fatal(err)
	}
	if got := get(t, ctx, tx, "a"); got != "1" {
		t.Fatalf("a = %q after the rollback to the savepoint, want 1", got)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if a, b := read(t, db, "a"), read(t, db, "b"); a != "1" || b != "<nil>" {
		t.Fatalf("a = %q, b = %q after the commit; want 1 and nothing", a, b)
	}

	sent := l.batchCount(&kvpb.PutRequest{}) + l.batchCount(&kvpb.EndTxnRequest{})
	gone := db.NewTxn()
	mustPut(t, ctx, gone, "c", "x")
	if err := gone.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if got := l.batchCount(&kvpb.PutRequest{}) + l.batchCount(&kvpb.EndTxnRequest{}) - sent; got != 0 {
		t.Fatalf("rolling back buffered writes sent %d batches", got)
	}
	if got := read(t, db, "c"); got != "<nil>" {
		t.Fatalf("c = %q after the rollback", got)
	}
}

// TestBufferedWriteAfterStaleRead: a transaction read a key, another wrote it and
// committed, and the first then wrote the key blind, buffered. Its commit meets the newer
// value and must not commit over it (a lost update): it fails with a retry error.
func TestBufferedWriteAfterStaleRead(t *testing.T) {
	db, _ := newBufferingDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	setup := db.NewTxn()
	mustPut(t, ctx, setup, "k", "0")
	if err := setup.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	tx := db.NewTxn()
	if got := get(t, ctx, tx, "k"); got != "0" {
		t.Fatalf("k = %q", got)
	}
	other := db.NewTxn()
	mustPut(t, ctx, other, "k", "other")
	if err := other.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	mustPut(t, ctx, tx, "k", "0+1")
	mustPut(t, ctx, tx, "z", "on the other range")
	if err := tx.Commit(ctx); !txn.IsRetryable(err) {
		t.Fatalf("commit over a value written after the read: %v, want a retry error", err)
	}
	if got := read(t, db, "k"); got != "other" {
		t.Fatalf("k = %q, want the other transaction's value", got)
	}
}
