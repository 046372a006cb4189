package txn_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/meridiandb/meridian/ranges"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/txn"
)

func mustDel(t *testing.T, ctx context.Context, tx *txn.Txn, k string) {
	t.Helper()
	b := &txn.Batch{}
	b.Del(key(k))
	if err := tx.Run(ctx, b); err != nil {
		t.Fatalf("delete %s: %v", k, err)
	}
}

func mustRollbackTo(t *testing.T, ctx context.Context, tx *txn.Txn, sp txn.Savepoint) {
	t.Helper()
	if err := tx.RollbackToSavepoint(ctx, sp); err != nil {
		t.Fatalf("rollback to savepoint: %v", err)
	}
}

// expect checks what tx (or, with tx nil, a new transaction) reads of each key.
func expect(t *testing.T, ctx context.Context, db *txn.DB, tx *txn.Txn, want map[string]string) {
	t.Helper()
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range want {
			if !yield(k) {
				return
			}
		}
	}) {
		var got string
		if tx != nil {
			got = get(t, ctx, tx, k)
		} else {
			got = read(t, db, k)
		}
		if got != want[k] {
			t.Errorf("%s = %s, want %s", k, got, want[k])
		}
	}
}

// waitNoIntents waits for the asynchronous resolution of a commit's intents.
func waitNoIntents(t *testing.T, s *ranges.Store) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); intentsLeft(t, s) > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d intents left after the commit", intentsLeft(t, s))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRollbackToSavepoint: writes after a savepoint, on both ranges, are undone by a
// rollback to it: the transaction reads its earlier writes (or the committed values) again,
// and commits exactly those, with parallel commits and write pipelining on and off.
func TestRollbackToSavepoint(t *testing.T) {
	for _, parallel := range []bool{true, false} {
		for _, pipelining := range []bool{true, false} {
			t.Run(fmt.Sprintf("parallel-commits=%t/pipelining=%t", parallel, pipelining), func(t *testing.T) {
				db, s := newSplitDB(t) // ranges [.., m) and [m, ..)
				db.SetParallelCommits(parallel)
				db.SetWritePipelining(pipelining)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				base := db.NewTxn()
				mustPut(t, ctx, base, "d", "base")
				mustPut(t, ctx, base, "y", "base")
				if err := base.Commit(ctx); err != nil {
					t.Fatal(err)
				}

				tx := db.NewTxn()
				mustPut(t, ctx, tx, "b", "b1")
				sp1 := tx.Savepoint()
				mustPut(t, ctx, tx, "b", "b2")
				mustPut(t, ctx, tx, "x", "x2")
				sp2 := tx.Savepoint()
				mustPut(t, ctx, tx, "b", "b3")
				mustPut(t, ctx, tx, "c", "c3")
				mustDel(t, ctx, tx, "d")
				mustPut(t, ctx, tx, "y", "y3")
				expect(t, ctx, db, tx, map[string]string{"b": "b3", "c": "c3", "d": "<nil>", "x": "x2", "y": "y3"})

				mustRollbackTo(t, ctx, tx, sp2)
				expect(t, ctx, db, tx, map[string]string{"b": "b2", "c": "<nil>", "d": "base", "x": "x2", "y": "base"})
				// The savepoint stays: writes after the rollback are undone by another.
				mustPut(t, ctx, tx, "c", "c4")
				mustRollbackTo(t, ctx, tx, sp2)
				expect(t, ctx, db, tx, map[string]string{"c": "<nil>"})

				mustRollbackTo(t, ctx, tx, sp1)
				expect(t, ctx, db, tx, map[string]string{"b": "b1", "x": "<nil>"})
				mustPut(t, ctx, tx, "x", "x5")
				if err := tx.Commit(ctx); err != nil {
					t.Fatal(err)
				}
				expect(t, ctx, db, nil, map[string]string{"b": "b1", "c": "<nil>", "d": "base", "x": "x5", "y": "base"})
				waitNoIntents(t, s)
			})
		}
	}
}

// recordingSender passes batches on to a lossySender and records the keys proven by
// QueryIntent and the in-flight writes of EndTxn requests; with dropResolve it drops
// (answering success) the coordinator's own intent resolution.
type recordingSender struct {
	*lossySender
	dropResolve bool

	mu       sync.Mutex
	proven   []string
	inFlight [][]string // per EndTxn, its in-flight writes
}

func (r *recordingSender) Send(ctx context.Context, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error) {
	r.mu.Lock()
	for _, req := range ba.Requests {
		switch req := req.(type) {
		case *kvpb.QueryIntentRequest:
			r.proven = append(r.proven, string(req.Key[1:]))
		case *kvpb.EndTxnRequest:
			var keys []string
			for _, sp := range req.InFlightWrites {
				keys = append(keys, string(sp.Key[1:]))
			}
			r.inFlight = append(r.inFlight, keys)
		case *kvpb.ResolveIntentRequest:
			if r.dropResolve && ba.Txn == nil {
				r.mu.Unlock()
				return &kvpb.BatchResponse{Responses: []kvpb.Response{&kvpb.ResolveIntentResponse{}}}, nil
			}
		}
	}
	r.mu.Unlock()
	return r.lossySender.Send(ctx, ba)
}

func newRecordingDB(t *testing.T) (*txn.DB, *recordingSender, *ranges.Store) {
	_, s := newSplitDB(t)
	r := &recordingSender{lossySender: &lossySender{s: s, lose: map[string]bool{}}}
	db := txn.NewDB(r, s, s.Clock(), nil)
	t.Cleanup(db.Close)
	return db, r, s
}

// TestRollbackToSavepointInFlight: pipelined writes rolled back while in flight are no
// longer proven, nor named in the STAGING record, so that one lost before it landed does not
// fail the commit; the writes before the savepoint are still proven (or staged), and their
// values committed.
func TestRollbackToSavepointInFlight(t *testing.T) {
	for _, parallel := range []bool{true, false} {
		t.Run(fmt.Sprintf("parallel-commits=%t", parallel), func(t *testing.T) {
			db, r, _ := newRecordingDB(t)
			db.SetParallelCommits(parallel)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			tx := db.NewTxn()
			mustPut(t, ctx, tx, "b", "b1") // anchor: the record lives on b's range
			mustPut(t, ctx, tx, "y", "y1") // in flight until the commit
			sp := tx.Savepoint()
			mustPut(t, ctx, tx, "b", "b2") // proves b1 first
			r.mu.Lock()
			r.lose[string(key("x"))] = true
			r.mu.Unlock()
			mustPut(t, ctx, tx, "x", "lost")
			mustPut(t, ctx, tx, "z", "z2") // lands, but is rolled back
			mustRollbackTo(t, ctx, tx, sp)
			if err := tx.Commit(ctx); err != nil {
				t.Fatalf("commit after rolling back a lost write: %v", err)
			}
			expect(t, ctx, db, nil, map[string]string{"b": "b1", "x": "<nil>", "y": "y1", "z": "<nil>"})

			r.mu.Lock()
			defer r.mu.Unlock()
			for _, k := range r.proven {
				if k == "x" || k == "z" {
					t.Errorf("the rolled-back write of %s was proven (proofs: %v)", k, r.proven)
				}
			}
			if !slices.Contains(r.proven, "b") {
				t.Errorf("b1 was not proven before b was written again (proofs: %v)", r.proven)
			}
			if parallel {
				// The record is staged with y, the one write left in flight.
				if len(r.inFlight) == 0 || !slices.Equal(r.inFlight[0], []string{"y"}) {
					t.Errorf("the commit's in-flight writes: %v, want [[y] ...]", r.inFlight)
				}
			} else if !slices.Contains(r.proven, "y") {
				t.Errorf("y1 was not proven before the commit (proofs: %v)", r.proven)
			}
		})
	}
}

// TestRollbackToSavepointResolvedByOthers: intents a committed transaction left behind (its
// coordinator's resolution lost) are resolved by whoever meets them as the record says,
// ignored writes included: a reader finds the value written before the savepoint.
func TestRollbackToSavepointResolvedByOthers(t *testing.T) {
	for _, parallel := range []bool{true, false} {
		t.Run(fmt.Sprintf("parallel-commits=%t", parallel), func(t *testing.T) {
			db, r, s := newRecordingDB(t)
			r.dropResolve = true
			db.SetParallelCommits(parallel)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			tx := db.NewTxn()
			mustPut(t, ctx, tx, "b", "b1") // the record's range; x and z are on the other
			mustPut(t, ctx, tx, "x", "x1")
			sp := tx.Savepoint()
			mustPut(t, ctx, tx, "x", "x2")
			mustPut(t, ctx, tx, "z", "z2")
			mustRollbackTo(t, ctx, tx, sp)
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if n := intentsLeft(t, s); n == 0 {
				t.Fatal("no intents left behind to resolve")
			}
			expect(t, ctx, db, nil, map[string]string{"b": "b1", "x": "x1", "z": "<nil>"})
			waitNoIntents(t, s)
		})
	}
}

// TestRollbackToSavepointAfterRetryError: a transaction aborted by another (a retryable
// error) cannot roll back to a savepoint that kept any of its work; rolling back to its
// initial savepoint restarts it, after which it runs and commits as new.
func TestRollbackToSavepointAfterRetryError(t *testing.T) {
	db, _ := newDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tx := db.NewTxn()
	initial := tx.Savepoint()
	if !initial.Initial() {
		t.Fatal("a savepoint taken before anything was sent is not initial")
	}
	mustPut(t, ctx, tx, "a", "mine")
	later := tx.Savepoint()
	if later.Initial() {
		t.Fatal("a savepoint taken after a write is initial")
	}
	pusher := db.NewTxn()
	pusher.SetPriority(txn.HighPriority)
	mustPut(t, ctx, pusher, "a", "pusher") // aborts tx
	if err := pusher.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	b := &txn.Batch{}
	b.Get(key("a"))
	err := tx.Run(ctx, b)
	if !txn.IsRetryable(err) {
		t.Fatalf("reading after being aborted: %v, want a retryable error", err)
	}
	var restart *txn.SavepointRestartError
	if err := tx.RollbackToSavepoint(ctx, later); !errors.As(err, &restart) || !txn.IsRetryable(err) {
		t.Fatalf("rollback to a later savepoint after a retry error: %v, want a SavepointRestartError", err)
	}
	oldID := tx.ID()
	mustRollbackTo(t, ctx, tx, initial)
	if tx.ID() == oldID || tx.Epoch() != 1 {
		t.Fatalf("the rollback to the initial savepoint did not restart the transaction")
	}
	expect(t, ctx, db, tx, map[string]string{"a": "pusher"})
	mustPut(t, ctx, tx, "a", "mine again")
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	expect(t, ctx, db, nil, map[string]string{"a": "mine again"})
	if err := tx.RollbackToSavepoint(ctx, initial); !errors.Is(err, txn.ErrTxnDone) {
		t.Fatalf("rollback to a savepoint of a committed transaction: %v", err)
	}
}

// TestRollbackToSavepointKeepsLocks: a key written after a savepoint stays locked after the
// rollback to it: another writer waits for the transaction to finish, then finds the value
// from before the savepoint, never the rolled-back one.
func TestRollbackToSavepointKeepsLocks(t *testing.T) {
	db, _ := newDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tx := db.NewTxn()
	mustPut(t, ctx, tx, "a", "a1")
	sp := tx.Savepoint()
	mustPut(t, ctx, tx, "a", "a2")
	mustPut(t, ctx, tx, "k", "k2")
	mustRollbackTo(t, ctx, tx, sp)

	// The waiter reads and locks both keys, retrying as a new attempt when its first read
	// turns out stale at its commit.
	var got string
	done := make(chan error, 1)
	go func() {
		done <- db.RunTxn(ctx, func(ctx context.Context, waiter *txn.Txn) error {
			b := &txn.Batch{}
			b.GetLocking(key("a"), kvpb.LockExclusive)
			b.GetLocking(key("k"), kvpb.LockExclusive)
			if err := waiter.Run(ctx, b); err != nil {
				return err
			}
			var vals []string
			for _, res := range b.Results {
				if len(res.Rows) == 0 {
					vals = append(vals, "<nil>")
				} else {
					vals = append(vals, string(res.Rows[0].Value))
				}
			}
			got = fmt.Sprint(vals)
			return nil
		})
	}()
	stillWaiting(t, done, "a locking read of keys written after the savepoint")
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got != "[a1 <nil>]" {
		t.Fatalf("the waiter read %s, want [a1 <nil>]", got)
	}
}
