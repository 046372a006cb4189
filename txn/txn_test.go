package txn_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
	"github.com/meridiandb/meridian/txn"
)

// newDB runs transactions against a real single-node store (Raft, Pebble).
func newDB(t *testing.T) (*txn.DB, *ranges.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clock := hlc.NewClock(nil, hlc.DefaultMaxOffset)
	s, err := ranges.OpenStore(ctx, ranges.StoreConfig{Dir: t.TempDir(), NodeID: 1, StoreID: 1, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	db := txn.NewDB(s, s, clock, nil)
	t.Cleanup(func() {
		db.Close()
		s.Close()
	})
	return db, s
}

func key(s string) []byte { return append([]byte{0x10}, s...) }

func get(t *testing.T, ctx context.Context, tx *txn.Txn, k string) string {
	t.Helper()
	b := &txn.Batch{}
	b.Get(key(k))
	if err := tx.Run(ctx, b); err != nil {
		t.Fatalf("get %s: %v", k, err)
	}
	if len(b.Results[0].Rows) == 0 {
		return "<nil>"
	}
	return string(b.Results[0].Rows[0].Value)
}

func read(t *testing.T, db *txn.DB, k string) string {
	t.Helper()
	var v string
	if err := db.RunTxn(context.Background(), func(ctx context.Context, tx *txn.Txn) error {
		v = get(t, ctx, tx, k)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return v
}

// intentsLeft counts intents in the data span: after commit or abort there must be none.
func intentsLeft(t *testing.T, s *ranges.Store) int {
	t.Helper()
	res, err := mvcc.Scan(s.DB(), key(""), key("\xff"), hlc.MaxTimestamp, mvcc.ScanOptions{})
	if err == nil {
		return 0
	}
	if wie, ok := err.(*mvcc.WriteIntentError); ok {
		return len(wie.Intents)
	}
	t.Fatal(err)
	_ = res
	return 0
}

func TestCommitAndAbort(t *testing.T) {
	db, s := newDB(t)
	ctx := context.Background()

	tx := db.NewTxn()
	b := &txn.Batch{}
	b.Put(key("a"), []byte("1"))
	b.Put(key("b"), []byte("2"))
	if err := tx.Run(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got := get(t, ctx, tx, "a"); got != "1" {
		t.Fatalf("own write = %s", got)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if read(t, db, "a") != "1" || read(t, db, "b") != "2" {
		t.Fatal("committed writes not visible")
	}

	tx = db.NewTxn()
	b = &txn.Batch{}
	b.Put(key("a"), []byte("rolled back"))
	b.Del(key("b"))
	if err := tx.Run(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if read(t, db, "a") != "1" || read(t, db, "b") != "2" {
		t.Fatal("rolled-back writes visible")
	}
	deadline := time.Now().Add(5 * time.Second)
	for intentsLeft(t, s) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := intentsLeft(t, s); n > 0 {
		t.Fatalf("%d intents left after commit and abort", n)
	}
}

func TestCommitInBatchOnePhase(t *testing.T) {
	db, s := newDB(t)
	ctx := context.Background()
	tx := db.NewTxn()
	b := &txn.Batch{}
	b.PutIfAbsent(key("x"), []byte("1"))
	if err := tx.CommitInBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	if read(t, db, "x") != "1" || intentsLeft(t, s) != 0 {
		t.Fatal("one-phase commit left no value or left an intent")
	}
	tx = db.NewTxn()
	b = &txn.Batch{}
	b.PutIfAbsent(key("x"), []byte("2"))
	err := tx.CommitInBatch(ctx, b)
	if _, ok := err.(*mvcc.ConditionFailedError); !ok {
		t.Fatalf("second insert: %v, want ConditionFailedError", err)
	}
}

// TestSerializableIncrements runs read-modify-write transactions from several goroutines with
// RunTxn's retries: serializability means no increment is lost.
func TestSerializableIncrements(t *testing.T) {
	db, _ := newDB(t)
	const workers, each = 4, 20
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				err := db.RunTxn(context.Background(), func(ctx context.Context, tx *txn.Txn) error {
					b := &txn.Batch{}
					b.Get(key("counter"))
					if err := tx.Run(ctx, b); err != nil {
						return err
					}
					n := 0
					if rows := b.Results[0].Rows; len(rows) > 0 {
						fmt.Sscan(string(rows[0].Value), &n)
					}
					b = &txn.Batch{}
					b.Put(key("counter"), []byte(fmt.Sprint(n+1)))
					return tx.Run(ctx, b)
				})
				if err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if got := read(t, db, "counter"); got != fmt.Sprint(workers*each) {
		t.Fatalf("counter = %s, want %d", got, workers*each)
	}
}

// TestWriteSkewRejected: two transactions each read both keys and write a different one;
// serializable isolation lets at most one commit.
func TestWriteSkewRejected(t *testing.T) {
	db, _ := newDB(t)
	ctx := context.Background()
	setup := &txn.Batch{}
	setup.Put(key("x"), []byte("on"))
	setup.Put(key("y"), []byte("on"))
	if err := db.RunTxn(ctx, func(ctx context.Context, tx *txn.Txn) error { return tx.Run(ctx, setup) }); err != nil {
		t.Fatal(err)
	}
	t1, t2 := db.NewTxn(), db.NewTxn()
	for _, tx := range []*txn.Txn{t1, t2} {
		get(t, ctx, tx, "x")
		get(t, ctx, tx, "y")
	}
	w1 := &txn.Batch{}
	w1.Put(key("x"), []byte("off"))
	w2 := &txn.Batch{}
	w2.Put(key("y"), []byte("off"))
	errs := []error{t1.Run(ctx, w1), t2.Run(ctx, w2)}
	errs = append(errs, t1.Commit(ctx), t2.Commit(ctx))
	failed := 0
	for i, err := range errs {
		if err != nil {
			if !txn.IsRetryable(err) {
				t.Fatalf("unexpected error: %v", err)
			}
			failed++
			// The error names the conflict: the key the other transaction wrote after
			// this one read it, and the other transaction if its write was an intent.
			other, otherKey := t2, key("y")
			if i%2 == 1 {
				other, otherKey = t1, key("x")
			}
			var re *kvpb.TransactionRetryError
			errors.As(err, &re)
			if !bytes.Equal(re.Key, otherKey) {
				t.Errorf("%v: key %q, want %q", err, re.Key, otherKey)
			}
			if c := re.Conflicting; c == nil || !c.ID.IsEmpty() && c.ID != other.ID() {
				t.Errorf("%v: conflicting transaction %+v, want %x", err, c, other.ID())
			}
		}
	}
	if failed == 0 {
		t.Fatalf("write skew committed: x=%s y=%s", read(t, db, "x"), read(t, db, "y"))
	}
	_ = t1.Rollback(ctx)
	_ = t2.Rollback(ctx)
}

// TestLimitedScanRefreshesWhatItRead: a scan stopped by its row limit read its span only up to
// where it stopped; a write past that point does not fail the transaction's refresh (the
// TPC-C Delivery reads a district's oldest new order while New-Orders add newer ones).
func TestLimitedScanRefreshesWhatItRead(t *testing.T) {
	db, _ := newDB(t)
	ctx := context.Background()
	setup := &txn.Batch{}
	for _, k := range []string{"b", "c", "d"} {
		setup.Put(key(k), []byte("v"))
	}
	if err := db.RunTxn(ctx, func(ctx context.Context, tx *txn.Txn) error { return tx.Run(ctx, setup) }); err != nil {
		t.Fatal(err)
	}
	tx := db.NewTxn()
	sc := &txn.Batch{}
	sc.Scan(key("a"), key("z"), 1, false)
	if err := tx.Run(ctx, sc); err != nil {
		t.Fatal(err)
	}
	if rows := sc.Results[0].Rows; len(rows) != 1 || !bytes.Equal(rows[0].Key, key("b")) {
		t.Fatalf("scan with a limit of 1 read %v", rows)
	}
	// Another transaction writes past the scan's stop, and a later one reads the key tx
	// then writes, which pushes tx's write above its reads: the commit must refresh.
	if err := db.RunTxn(ctx, func(ctx context.Context, o *txn.Txn) error { return put(ctx, o, "y", "new") }); err != nil {
		t.Fatal(err)
	}
	if err := db.RunTxn(ctx, func(ctx context.Context, o *txn.Txn) error { get(t, ctx, o, "k"); return nil }); err != nil {
		t.Fatal(err)
	}
	mustPut(t, ctx, tx, "k", "mine")
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("commit after a write the limited scan never read: %v", err)
	}
	// A write inside what the scan read still fails the refresh.
	tx = db.NewTxn()
	sc = &txn.Batch{}
	sc.Scan(key("a"), key("z"), 2, false)
	if err := tx.Run(ctx, sc); err != nil {
		t.Fatal(err)
	}
	if err := db.RunTxn(ctx, func(ctx context.Context, o *txn.Txn) error { return put(ctx, o, "bb", "new") }); err != nil {
		t.Fatal(err)
	}
	if err := db.RunTxn(ctx, func(ctx context.Context, o *txn.Txn) error { get(t, ctx, o, "k"); return nil }); err != nil {
		t.Fatal(err)
	}
	mustPut(t, ctx, tx, "k", "mine again")
	if err := tx.Commit(ctx); !txn.IsRetryable(err) {
		t.Fatalf("commit after a write inside the scanned span: %v, want a retry error", err)
	}
	_ = tx.Rollback(ctx)
}

// TestRestartedTxnIsNotAbandoned restarts a transaction (keeping its original start time)
// after longer than the liveness threshold, then has it write: a conflicting writer waits for
// it, rather than taking the fresh intent for an abandoned one, and both commit in turn.
func TestRestartedTxnIsNotAbandoned(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clock := hlc.NewClock(nil, hlc.DefaultMaxOffset)
	s, err := ranges.OpenStore(ctx, ranges.StoreConfig{Dir: t.TempDir(), Clock: clock, TxnLivenessThreshold: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	db := txn.NewDB(s, s, clock, nil)
	db.HeartbeatInterval = 50 * time.Millisecond
	defer s.Close()
	defer db.Close()

	old := db.NewTxn()
	time.Sleep(300 * time.Millisecond)
	if err := old.Restart(ctx, nil); err != nil {
		t.Fatal(err)
	}
	b := &txn.Batch{}
	b.Put(key("k"), []byte("old"))
	if err := old.Run(ctx, b); err != nil {
		t.Fatal(err)
	}
	young := db.NewTxn()
	youngDone := make(chan error, 1)
	go func() {
		b := &txn.Batch{}
		b.Put(key("k"), []byte("young"))
		youngDone <- young.Run(ctx, b)
	}()
	// Several liveness thresholds pass while the younger writer waits.
	time.Sleep(time.Second)
	select {
	case err := <-youngDone:
		t.Fatalf("younger writer did not wait for the live intent: %v", err)
	default:
	}
	if err := old.Commit(ctx); err != nil {
		t.Fatalf("restarted transaction was aborted as abandoned: %v", err)
	}
	if err := <-youngDone; err != nil {
		t.Fatalf("younger writer after the older committed: %v", err)
	}
	if err := young.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := read(t, db, "k"); got != "young" {
		t.Fatalf("k = %s", got)
	}
}

// TestCommitWaitsForPhysicalClock: a transaction whose timestamp runs ahead of real time (its
// hybrid clock was moved forward by a timestamp from elsewhere) is acknowledged only once the
// physical clock has passed its commit timestamp, so a transaction that starts anywhere after
// the acknowledgement finds the write within its uncertainty interval.
func TestCommitWaitsForPhysicalClock(t *testing.T) {
	db, _ := newDB(t)
	ctx := context.Background()
	clock := db.Clock()
	ahead := hlc.Timestamp{WallTime: clock.PhysicalNow() + int64(300*time.Millisecond)}
	if _, err := clock.Update(ahead); err != nil {
		t.Fatal(err)
	}
	tx := db.NewTxn()
	b := &txn.Batch{}
	b.Put(key("a"), []byte("1"))
	if err := tx.Run(ctx, b); err != nil {
		t.Fatal(err)
	}
	commitTS := tx.ReadTimestamp()
	if commitTS.WallTime < ahead.WallTime {
		t.Fatalf("the transaction started at %s, below the clock's %s", commitTS, ahead)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if phys := clock.PhysicalNow(); phys <= commitTS.WallTime {
		t.Fatalf("commit at %s acknowledged at physical time %d, before it", commitTS, phys)
	}
}
