package txn_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/txn"
)

func put(ctx context.Context, tx *txn.Txn, k, v string) error {
	b := &txn.Batch{}
	b.Put(key(k), []byte(v))
	return tx.Run(ctx, b)
}

func mustPut(t *testing.T, ctx context.Context, tx *txn.Txn, k, v string) {
	t.Helper()
	if err := put(ctx, tx, k, v); err != nil {
		t.Fatalf("put %s: %v", k, err)
	}
}

// putAsync starts a write that may wait for a lock and returns its outcome on a channel.
func putAsync(ctx context.Context, tx *txn.Txn, k, v string) <-chan error {
	done := make(chan error, 1)
	go func() { done <- put(ctx, tx, k, v) }()
	return done
}

// readResult is the outcome of a read that may wait for a lock: its value or its error.
type readResult struct {
	v   string
	err error
}

// readAsync starts read, which may wait for a lock, and returns its outcome on a channel.
func readAsync(read func() (string, error)) <-chan readResult {
	done := make(chan readResult, 1)
	go func() {
		v, err := read()
		done <- readResult{v, err}
	}()
	return done
}

// stillWaiting fails the test if the request behind done has finished: it should be queued
// behind a lock. It gives the request a moment to (wrongly) get through.
func stillWaiting[T any](t *testing.T, done <-chan T, what string) {
	t.Helper()
	select {
	case o := <-done:
		t.Fatalf("%s did not wait for the lock: %+v", what, o)
	case <-time.After(300 * time.Millisecond):
	}
}

// commitRows writes key-value pairs (k1, v1, k2, v2, ...) in a transaction of their own.
func commitRows(t *testing.T, ctx context.Context, db *txn.DB, kvs ...string) {
	t.Helper()
	tx := db.NewTxn()
	for i := 0; i+1 < len(kvs); i += 2 {
		mustPut(t, ctx, tx, kvs[i], kvs[i+1])
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

func retryReason(err error) kvpb.RetryReason {
	var re *kvpb.TransactionRetryError
	if errors.As(err, &re) {
		return re.Reason
	}
	return ""
}

// conflictOf is the conflict a retry error names (empty for other errors).
func conflictOf(err error) kvpb.TransactionRetryError {
	var re *kvpb.TransactionRetryError
	if errors.As(err, &re) {
		return *re
	}
	return kvpb.TransactionRetryError{}
}

// TestWriterWaitsForLock: a write to a key another transaction has written waits until that
// transaction commits, then lands on top of it.
func TestWriterWaitsForLock(t *testing.T) {
	db, _ := newDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	holder, waiter := db.NewTxn(), db.NewTxn()
	mustPut(t, ctx, holder, "a", "holder")
	done := putAsync(ctx, waiter, "a", "waiter")
	stillWaiting(t, done, "a conflicting write")
	if err := holder.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("write after the holder committed: %v", err)
	}
	if err := waiter.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := read(t, db, "a"); got != "waiter" {
		t.Fatalf("a = %s, want waiter", got)
	}
}

// TestLockingReadLocks: SELECT … FOR UPDATE's read holds the row like a write would, and
// keeps its value.
func TestLockingReadLocks(t *testing.T) {
	db, _ := newDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	commitRows(t, ctx, db, "a", "v0")
	locker, writer := db.NewTxn(), db.NewTxn()
	b := &txn.Batch{}
	b.GetLocking(key("a"), kvpb.LockExclusive)
	if err := locker.Run(ctx, b); err != nil {
		t.Fatal(err)
	}
	if len(b.Results[0].Rows) != 1 || string(b.Results[0].Rows[0].Value) != "v0" {
		t.Fatalf("locking read returned %+v", b.Results[0].Rows)
	}
	done := putAsync(ctx, writer, "a", "v1")
	stillWaiting(t, done, "a write to a row locked FOR UPDATE")
	if got := read(t, db, "a"); got != "v0" {
		t.Fatalf("a plain read of the locked row: %s, want v0", got)
	}
	if err := locker.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := writer.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := read(t, db, "a"); got != "v1" {
		t.Fatalf("a = %s, want v1", got)
	}
}

// TestLockTimeout: a writer with a lock timeout gives up with LockNotAvailableError and the
// holder is unaffected.
func TestLockTimeout(t *testing.T) {
	db, _ := newDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	holder, waiter := db.NewTxn(), db.NewTxn()
	mustPut(t, ctx, holder, "a", "holder")
	waiter.SetLockTimeout(100 * time.Millisecond)
	err := put(ctx, waiter, "a", "waiter")
	var lna *kvpb.LockNotAvailableError
	if !errors.As(err, &lna) {
		t.Fatalf("write with a lock timeout: %v, want LockNotAvailableError", err)
	}
	if !bytes.Equal(lna.Key, key("a")) || lna.Holder != holder.ID() || lna.HolderTimestamp.IsEmpty() {
		t.Errorf("the error does not name the lock: %+v", lna)
	}
	_ = waiter.Rollback(ctx)
	if err := holder.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := read(t, db, "a"); got != "holder" {
		t.Fatalf("a = %s", got)
	}
}

// TestHighPriorityPushesAside: a HIGH transaction does not wait for a NORMAL one; it aborts
// it. A NORMAL one does the same to a LOW one.
func TestHighPriorityPushesAside(t *testing.T) {
	for _, tc := range []struct{ holder, pusher txn.UserPriority }{
		{txn.NormalPriority, txn.HighPriority},
		{txn.LowPriority, txn.NormalPriority},
	} {
		t.Run(fmt.Sprintf("%s-by-%s", tc.holder, tc.pusher), func(t *testing.T) {
			db, _ := newDB(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			holder, pusher := db.NewTxn(), db.NewTxn()
			holder.SetPriority(tc.holder)
			pusher.SetPriority(tc.pusher)
			mustPut(t, ctx, holder, "a", "holder")
			mustPut(t, ctx, pusher, "a", "pusher") // would hang if it waited
			if err := pusher.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			err := holder.Commit(ctx)
			if retryReason(err) == "" {
				t.Fatalf("commit of the pushed-aside transaction: %v, want a retry error", err)
			}
			// It learns which of its locks it lost, and to whom.
			if c := conflictOf(err); !bytes.Equal(c.Key, key("a")) || c.Conflicting == nil || c.Conflicting.ID != pusher.ID() {
				t.Errorf("%v: names %q and %+v, want %q and the pusher", err, c.Key, c.Conflicting, key("a"))
			}
			if got := read(t, db, "a"); got != "pusher" {
				t.Fatalf("a = %s", got)
			}
		})
	}
}

// TestDeadlockBroken: transactions that wait for each other in a cycle (of two, and of
// three) are found, and exactly one of them is aborted with a deadlock error; the others
// commit.
func TestDeadlockBroken(t *testing.T) {
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprintf("cycle-of-%d", n), func(t *testing.T) {
			db, _ := newDB(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			txns := make([]*txn.Txn, n)
			for i := range txns {
				txns[i] = db.NewTxn()
				mustPut(t, ctx, txns[i], fmt.Sprint(i), "first")
			}
			start := time.Now()
			results := make(chan error, n)
			for i := range txns {
				go func() {
					next := (i + 1) % n
					err := put(ctx, txns[i], fmt.Sprint(next), "second")
					if err == nil {
						err = txns[i].Commit(ctx)
					} else {
						t.Logf("transaction %d after %s: %v", i, time.Since(start).Round(time.Millisecond), err)
						_ = txns[i].Rollback(ctx)
					}
					// The victim names the lock of the cycle it waited for, and its holder,
					// or, learning of the abort later, the lock it held, and who wanted it.
					prev := (i + n - 1) % n
					want, by := key(fmt.Sprint(i)), txns[prev]
					if c := conflictOf(err); c.Waiting {
						want, by = key(fmt.Sprint(next)), txns[next]
					}
					if c := conflictOf(err); retryReason(err) == kvpb.RetryDeadlock &&
						(!bytes.Equal(c.Key, want) || c.Conflicting == nil || c.Conflicting.ID != by.ID()) {
						t.Errorf("transaction %d: %v names %q and %+v, want %q and %x", i, err, c.Key, c.Conflicting, want, by.ID())
					}
					results <- err
				}()
			}
			victims := 0
			for i := range txns {
				err := <-results
				if i == 0 {
					// Nothing could finish before the cycle was broken.
					t.Logf("cycle of %d broken after %s", n, time.Since(start).Round(time.Millisecond))
				}
				switch {
				case err == nil:
				case retryReason(err) == kvpb.RetryDeadlock:
					victims++
				default:
					t.Fatalf("unexpected error: %v", err)
				}
			}
			if victims != 1 {
				t.Fatalf("%d victims, want 1", victims)
			}
		})
	}
}

// TestUncertaintyRefresh: a read that meets a value in its uncertainty interval moves the
// transaction up to read it, when what the transaction read before is still valid there,
// and restarts it (a retry error) when it is not. The values are written before the reader
// first hears from the store's node, so its observation of that node's clock does not rule
// them out (see TestObservedTimestamp for values written after).
func TestUncertaintyRefresh(t *testing.T) {
	db, _ := newDB(t)
	db.NodeID = 99 // another node's clock gave the transactions their timestamps: no shortcut
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A new store takes no write within a clock offset of its start.
	time.Sleep(600 * time.Millisecond)

	reader := db.NewTxn()
	writer := db.NewTxn() // starts after the reader, commits within its uncertainty interval
	mustPut(t, ctx, writer, "k", "v")
	if err := writer.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := get(t, ctx, reader, "other"); got != "<nil>" {
		t.Fatal(got)
	}
	if got := get(t, ctx, reader, "k"); got != "v" {
		t.Fatalf("read within the uncertainty interval: %s, want v", got)
	}
	if err := reader.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	// Now the earlier read is invalidated by the same writer: no refresh.
	reader = db.NewTxn()
	writer = db.NewTxn()
	mustPut(t, ctx, writer, "k", "w")
	if got := get(t, ctx, reader, "j"); got != "<nil>" {
		t.Fatal(got)
	}
	mustPut(t, ctx, writer, "j", "w")
	if err := writer.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	b := &txn.Batch{}
	b.Get(key("k"))
	err := reader.Run(ctx, b)
	if retryReason(err) == "" {
		t.Fatalf("read after an invalidated refresh: %v, want a retry error", err)
	}
	if c := conflictOf(err); !bytes.Equal(c.Key, key("k")) || c.Conflicting == nil || c.Conflicting.Timestamp.IsEmpty() {
		t.Errorf("%v: names %q and %+v, want %q and the write's timestamp", err, c.Key, c.Conflicting, key("k"))
	}
}

// lockingGet reads k FOR UPDATE in tx.
func lockingGet(ctx context.Context, tx *txn.Txn, k string) (string, error) {
	b := &txn.Batch{}
	b.GetLocking(key(k), kvpb.LockExclusive)
	if err := tx.Run(ctx, b); err != nil {
		return "", err
	}
	if len(b.Results[0].Rows) == 0 {
		return "", nil
	}
	return string(b.Results[0].Rows[0].Value), nil
}

// TestLockingReadLocksNewestValue: a transaction that read something, then waited to lock a
// row another transaction was writing, locks the value that transaction committed, above its
// own read timestamp, and commits: its earlier read is still valid there. If the earlier
// read is not (the other transaction wrote that too), the locking read fails with the
// refresh's conflict on that read, not later at commit.
func TestLockingReadLocksNewestValue(t *testing.T) {
	db, _ := newDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	commitRows(t, ctx, db, "row", "v0", "other", "o0")

	for _, staleRead := range []bool{false, true} {
		t.Run(fmt.Sprintf("earlier read overwritten=%t", staleRead), func(t *testing.T) {
			waiter := db.NewTxn()
			if got := get(t, ctx, waiter, "other"); got == "" {
				t.Fatal("other is missing")
			}
			// The holder's writes come after the waiter's uncertainty interval: what is
			// tested is the locking read's move, not the uncertainty refresh.
			time.Sleep(600 * time.Millisecond)
			holder := db.NewTxn()
			mustPut(t, ctx, holder, "row", "by holder")
			if staleRead {
				mustPut(t, ctx, holder, "other", "by holder")
			}
			done := readAsync(func() (string, error) { return lockingGet(ctx, waiter, "row") })
			stillWaiting(t, done, "the locking read of the holder's row")
			if err := holder.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			o := <-done
			if staleRead {
				c := conflictOf(o.err)
				if c.Reason != kvpb.RetrySerializable || !bytes.Equal(c.Key, key("other")) {
					t.Fatalf("locking read after the holder overwrote an earlier read: %v; want a serialization failure on other", o.err)
				}
				_ = waiter.Rollback(ctx)
				return
			}
			if o.err != nil || o.v != "by holder" {
				t.Fatalf("locking read after the holder committed: %q, %v; want the holder's value", o.v, o.err)
			}
			b := &txn.Batch{}
			b.Put(key("row"), []byte("by waiter"))
			if err := waiter.Run(ctx, b); err != nil {
				t.Fatal(err)
			}
			if err := waiter.Commit(ctx); err != nil {
				t.Fatalf("commit after locking the newest value: %v", err)
			}
			if got := read(t, db, "row"); got != "by waiter" {
				t.Fatalf("row = %q, want the waiter's", got)
			}
		})
	}
}

// TestLockingReadQueueServedInTurn: transactions queued to lock one row (Payments updating
// their warehouse) each lock the value the one before committed and commit in turn, none
// restarting, while readers of the row (New-Orders) push each lock holder's commit above
// what the waiters have read. A waiter whose locking read failed instead of locking the
// newer value lost its place while it moved its reads up, and failed again at the next
// commit: the later waiters of a queue restarted after maxReadRefreshes such failures.
func TestLockingReadQueueServedInTurn(t *testing.T) {
	db, _ := newDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	commitRows(t, ctx, db, "counter", "0", "other", "o")

	// The waiters read first; the holder's write, and every waiter's commit, come later
	// than their reads and after their uncertainty intervals, so each waiter must lock a
	// value committed above its read timestamp.
	const waiters = 8
	txns := make([]*txn.Txn, waiters)
	for i := range txns {
		txns[i] = db.NewTxn()
		if got := get(t, ctx, txns[i], "other"); got != "o" {
			t.Fatalf("other = %q", got)
		}
	}
	time.Sleep(600 * time.Millisecond)
	holder := db.NewTxn()
	mustPut(t, ctx, holder, "counter", "0")
	type outcome struct {
		err error
	}
	done := make(chan outcome, waiters)
	for _, tx := range txns {
		go func() {
			err := func() error {
				v, err := lockingGet(ctx, tx, "counter")
				if err != nil {
					return fmt.Errorf("locking read: %w", err)
				}
				n, err := strconv.Atoi(v)
				if err != nil {
					return err
				}
				if err := put(ctx, tx, "counter", strconv.Itoa(n+1)); err != nil {
					return fmt.Errorf("write: %w", err)
				}
				return tx.Commit(ctx)
			}()
			if err != nil {
				_ = tx.Rollback(ctx)
			}
			done <- outcome{err}
		}()
	}
	stillWaiting(t, done, "the queue behind the holder")
	// Readers of the row (New-Orders reading the warehouse) push each lock holder in turn
	// above their reads, so each commit lands above what the waiters have read.
	stopReading := make(chan struct{})
	readerDone := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stopReading:
				readerDone <- nil
				return
			default:
			}
			if err := db.RunTxn(ctx, func(ctx context.Context, tx *txn.Txn) error {
				b := &txn.Batch{}
				b.Get(key("counter"))
				return tx.Run(ctx, b)
			}); err != nil {
				readerDone <- err
				return
			}
		}
	}()
	if err := holder.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for range waiters {
		if o := <-done; o.err != nil {
			t.Fatalf("a queued transaction failed: %v", o.err)
		}
	}
	close(stopReading)
	if err := <-readerDone; err != nil {
		t.Fatalf("reader: %v", err)
	}
	if got := read(t, db, "counter"); got != strconv.Itoa(waiters) {
		t.Fatalf("counter = %s after %d increments", got, waiters)
	}
}

// TestLockHolderNeverQueuesBehindItsWaiters: a transaction that locked a row with a limited
// locking scan (Delivery's SELECT … LIMIT 1 FOR UPDATE), while another waits for that row,
// locks and deletes it again (Delivery's DELETE) without waiting: waiting behind its own
// waiter would be a deadlock no push detects, since the waiter waits for it.
func TestLockHolderNeverQueuesBehindItsWaiters(t *testing.T) {
	db, _ := newDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	commitRows(t, ctx, db, "q1", "q1", "q2", "q2", "q3", "q3")
	oldest := func(tx *txn.Txn) (string, error) {
		b := &txn.Batch{}
		b.ScanLocking(key("q"), key("r"), 1, false, kvpb.LockExclusive)
		if err := tx.Run(ctx, b); err != nil {
			return "", err
		}
		if len(b.Results[0].Rows) == 0 {
			return "", nil
		}
		return string(b.Results[0].Rows[0].Value), nil
	}
	holder, waiter := db.NewTxn(), db.NewTxn()
	if got, err := oldest(holder); err != nil || got != "q1" {
		t.Fatalf("holder's oldest: %q, %v", got, err)
	}
	done := readAsync(func() (string, error) { return oldest(waiter) })
	stillWaiting(t, done, "the second locking scan")
	if got, err := lockingGet(ctx, holder, "q1"); err != nil || got != "q1" {
		t.Fatalf("the holder locking its own row again: %q, %v", got, err)
	}
	b := &txn.Batch{}
	b.Del(key("q1"))
	if err := holder.Run(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := holder.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if o := <-done; o.err != nil || o.v != "q2" {
		t.Fatalf("the waiter's oldest after the holder deleted q1: %q, %v; want q2", o.v, o.err)
	}
	if err := waiter.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestLockThenWriteInCommitBatch: a row locked by a read (an UPDATE's, say) and written by
// the batch that commits (an implicit transaction's last) commits: the lock is still in
// flight, so the commit stages, and the range must not apply the batch as a one-phase
// commit over the transaction's own intent.
func TestLockThenWriteInCommitBatch(t *testing.T) {
	db, _ := newDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	commitRows(t, ctx, db, "w", "0")
	tx := db.NewTxn()
	if got, err := lockingGet(ctx, tx, "w"); err != nil || got != "0" {
		t.Fatalf("locking read: %q, %v", got, err)
	}
	b := &txn.Batch{}
	b.Put(key("w"), []byte("1"))
	if err := tx.CommitInBatch(ctx, b); err != nil {
		t.Fatalf("commit with the locked row's write: %v", err)
	}
	if got := read(t, db, "w"); got != "1" {
		t.Fatalf("w = %q, want 1", got)
	}
}
