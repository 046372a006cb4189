package txn_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/meridiandb/meridian/ranges"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/txn"
)

// lossySender sends batches to a store, counting pipelined writes and their proofs, and can
// lose a pipelined write: it answers as the leaseholder would after evaluating it and sends
// nothing, as when the write's proposal fails after the answer.
type lossySender struct {
	s *ranges.Store

	mu        sync.Mutex
	lose      map[string]bool // keys whose next pipelined write is lost
	pipelined int
	proofs    int
	// batches counts the batches sent by what their first request is.
	batches map[string]int
}

func (l *lossySender) Send(ctx context.Context, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error) {
	l.mu.Lock()
	for _, req := range ba.Requests {
		if _, ok := req.(*kvpb.QueryIntentRequest); ok {
			l.proofs++
		}
	}
	if l.batches == nil {
		l.batches = map[string]int{}
	}
	l.batches[fmt.Sprintf("%T", ba.Requests[0])]++
	if ba.AsyncConsensus {
		l.pipelined++
		if k := string(ba.Requests[0].Header().Key); len(ba.Requests) == 1 && l.lose[k] {
			delete(l.lose, k)
			l.mu.Unlock()
			return &kvpb.BatchResponse{Responses: []kvpb.Response{&kvpb.PutResponse{}}}, nil
		}
	}
	l.mu.Unlock()
	return l.s.Send(ctx, ba)
}

// batchCount returns how many batches led by a request of req's type were sent.
func (l *lossySender) batchCount(req kvpb.Request) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.batches[fmt.Sprintf("%T", req)]
}

func (l *lossySender) counts() (pipelined, proofs int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pipelined, l.proofs
}

// newLossyDB is a DB over a store split in two ranges (see newSplitDB) that sends through a
// lossySender.
func newLossyDB(t *testing.T) (*txn.DB, *lossySender) {
	_, s := newSplitDB(t)
	l := &lossySender{s: s, lose: map[string]bool{}}
	db := txn.NewDB(l, s, s.Clock(), nil)
	t.Cleanup(db.Close)
	return db, l
}

// TestPipelinedWrites: an explicit transaction's writes are answered before they are
// replicated and proven once each, at the commit (with parallel commits and without) or
// before the transaction reads them back; the commit makes them all visible.
func TestPipelinedWrites(t *testing.T) {
	for _, parallel := range []bool{true, false} {
		t.Run(fmt.Sprintf("parallel-commits=%t", parallel), func(t *testing.T) {
			db, l := newLossyDB(t)
			db.SetParallelCommits(parallel)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			tx := db.NewTxn()
			for _, k := range []string{"b", "c", "x", "y"} { // both ranges
				mustPut(t, ctx, tx, k, "v"+k)
			}
			if got := get(t, ctx, tx, "c"); got != "vc" { // proves c's write first
				t.Fatalf("the transaction reads its own write of c as %s", got)
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			pipelined, proofs := l.counts()
			if pipelined != 4 || proofs != 4 {
				t.Fatalf("%d writes pipelined and %d proofs, want 4 and 4", pipelined, proofs)
			}
			for _, k := range []string{"b", "c", "x", "y"} {
				if got := read(t, db, k); got != "v"+k {
					t.Fatalf("%s = %s after the commit", k, got)
				}
			}
		})
	}
}

// TestLostPipelinedWrite: a pipelined write that never lands is found missing by its proof,
// before the transaction reads the key or at the commit, and the transaction restarts
// (40001) instead of committing without it.
func TestLostPipelinedWrite(t *testing.T) {
	for _, tc := range []struct {
		name     string
		parallel bool
		readBack bool
	}{
		{"commit/parallel-commits", true, false},
		{"commit/serial-commits", false, false},
		{"read-own-write", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, l := newLossyDB(t)
			db.SetParallelCommits(tc.parallel)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			tx := db.NewTxn()
			mustPut(t, ctx, tx, "b", "kept")
			l.mu.Lock()
			l.lose[string(key("x"))] = true
			l.mu.Unlock()
			mustPut(t, ctx, tx, "x", "lost")
			var err error
			if tc.readBack {
				b := &txn.Batch{}
				b.Get(key("x"))
				err = tx.Run(ctx, b)
			} else {
				err = tx.Commit(ctx)
			}
			if retryReason(err) != kvpb.RetryAsyncWriteFailure {
				t.Fatalf("got %v, want a retry error for the lost write", err)
			}
			if err := tx.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"b", "x"} {
				if got := read(t, db, k); got != "<nil>" {
					t.Fatalf("%s = %s, but the transaction did not commit", k, got)
				}
			}
		})
	}
}

// TestWritePipeliningOff: with pipelining off, every write waits for consensus and nothing
// needs proving.
func TestWritePipeliningOff(t *testing.T) {
	db, l := newLossyDB(t)
	db.SetWritePipelining(false)
	ctx := context.Background()
	tx := db.NewTxn()
	mustPut(t, ctx, tx, "b", "1")
	mustPut(t, ctx, tx, "x", "2")
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if pipelined, proofs := l.counts(); pipelined != 0 || proofs != 0 {
		t.Fatalf("%d writes pipelined and %d proofs with pipelining off", pipelined, proofs)
	}
	if got := read(t, db, "x"); got != "2" {
		t.Fatalf("x = %s", got)
	}
}

// TestIndependentRequestsGoOneBatchPerRange: a batch of writes to distinct keys, or of plain
// reads, goes to each range as one batch (pipelined, for the writes), whatever the number of
// keys there; the commit proves the writes with one batch of queries per range. Every
// request still gets its own answer.
func TestIndependentRequestsGoOneBatchPerRange(t *testing.T) {
	db, l := newLossyDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	keys := []string{"a", "b", "c", "d", "w", "x", "y", "z"} // four on each side of "m"
	tx := db.NewTxn()
	b := &txn.Batch{}
	for _, k := range keys {
		b.Put(key(k), []byte("v"+k))
	}
	if err := tx.Run(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got := l.batchCount(&kvpb.PutRequest{}); got != 2 {
		t.Errorf("eight writes over two ranges went as %d batches, want 2", got)
	}
	if pipelined, _ := l.counts(); pipelined != 2 {
		t.Errorf("%d pipelined batches, want 2", pipelined)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := l.batchCount(&kvpb.QueryIntentRequest{}); got != 2 {
		t.Errorf("the commit proved eight writes on two ranges with %d batches, want 2", got)
	}
	if _, proofs := l.counts(); proofs != len(keys) {
		t.Errorf("%d writes proven, want %d", proofs, len(keys))
	}

	rd := db.NewTxn()
	b = &txn.Batch{}
	for _, k := range append(keys, "e", "q") { // and two keys never written
		b.Get(key(k))
	}
	if err := rd.Run(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got := l.batchCount(&kvpb.GetRequest{}); got != 2 {
		t.Errorf("ten reads over two ranges went as %d batches, want 2", got)
	}
	for i, k := range append(keys, "e", "q") {
		want := []string{"v" + k}
		if i >= len(keys) {
			want = nil
		}
		var got []string
		for _, r := range b.Results[i].Rows {
			got = append(got, string(r.Value))
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("read %s = %v, want %v", k, got, want)
		}
	}
	if err := rd.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestLockingReadsGoOneBatchPerRange: a FOR UPDATE of several rows locks them with one
// batch per range, not one request after another; the rows come back, the locks (held by
// the leaseholders, not replicated) need no proof at the commit and hold off other writers
// until then, and a range that locked a value newer than the transaction's read timestamp
// moves the transaction's reads up, or restarts it when an earlier read changed meanwhile.
func TestLockingReadsGoOneBatchPerRange(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lockAll := func(tx *txn.Txn, keys []string) (*txn.Batch, error) {
		b := &txn.Batch{}
		for _, k := range keys {
			b.GetLocking(key(k), kvpb.LockExclusive)
		}
		return b, tx.Run(ctx, b)
	}
	values := func(b *txn.Batch) string {
		var got []string
		for _, r := range b.Results {
			v := "-"
			if len(r.Rows) > 0 {
				v = string(r.Rows[0].Value)
			}
			got = append(got, v)
		}
		return fmt.Sprint(got)
	}

	t.Run("locks", func(t *testing.T) {
		db, l := newLossyDB(t)
		for _, k := range []string{"a", "b", "x", "y"} {
			mustCommitPut(t, db, k, "v"+k)
		}
		before := l.batchCount(&kvpb.GetRequest{})
		tx := db.NewTxn()
		b, err := lockAll(tx, []string{"a", "b", "e", "x", "y", "z"}) // e and z are absent
		if err != nil {
			t.Fatal(err)
		}
		if got, want := values(b), "[va vb - vx vy -]"; got != want {
			t.Fatalf("locked rows %s, want %s", got, want)
		}
		if n := l.batchCount(&kvpb.GetRequest{}) - before; n != 2 {
			t.Errorf("six locks over two ranges went as %d batches, want 2", n)
		}
		// Another writer waits for the locks: with a lock timeout it gives up.
		w := db.NewTxn()
		w.SetLockTimeout(50 * time.Millisecond)
		if err := put(ctx, w, "x", "w"); err == nil {
			t.Fatal("a write of a locked row went through")
		}
		_ = w.Rollback(ctx)
		// A plain read does not wait for them.
		if got := read(t, db, "x"); got != "vx" {
			t.Fatalf("x = %s under the lock", got)
		}
		_, proofsBefore := l.counts()
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if _, proofs := l.counts(); proofs != proofsBefore {
			t.Errorf("the commit proved %d locks, want none (they are not writes)", proofs-proofsBefore)
		}
		if got := read(t, db, "x"); got != "vx" {
			t.Fatalf("x = %s after the locking transaction", got)
		}
		// The commit released the locks.
		w = db.NewTxn()
		w.SetLockTimeout(time.Second)
		if err := put(ctx, w, "x", "w"); err != nil {
			t.Fatalf("writing x after the locking transaction: %v", err)
		}
		if err := w.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	})

	// readQ returns a transaction that has read q, and its database, where y exists.
	readQ := func(t *testing.T) (*txn.DB, *txn.Txn) {
		db, _ := newLossyDB(t)
		mustCommitPut(t, db, "q", "old")
		mustCommitPut(t, db, "y", "old")
		tx := db.NewTxn()
		if got := get(t, ctx, tx, "q"); got != "old" {
			t.Fatalf("q = %s", got)
		}
		return db, tx
	}

	t.Run("newer value, earlier read still valid", func(t *testing.T) {
		db, tx := readQ(t)
		mustCommitPut(t, db, "y", "new") // above tx's read timestamp
		b, err := lockAll(tx, []string{"a", "y"})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := values(b), "[- new]"; got != want {
			t.Fatalf("locked rows %s, want %s (the newest)", got, want)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("newer value, earlier read changed", func(t *testing.T) {
		db, tx := readQ(t)
		mustCommitPut(t, db, "q", "changed")
		mustCommitPut(t, db, "y", "new")
		_, err := lockAll(tx, []string{"a", "y"})
		if !txn.IsRetryable(err) {
			t.Fatalf("locking a newer value after an earlier read changed: %v, want a restart", err)
		}
		_ = tx.Rollback(ctx)
	})
}

func mustCommitPut(t *testing.T, db *txn.DB, k, v string) {
	t.Helper()
	if err := db.RunTxn(context.Background(), func(ctx context.Context, tx *txn.Txn) error { return put(ctx, tx, k, v) }); err != nil {
		t.Fatalf("put %s: %v", k, err)
	}
}

// TestLockingReadOfAbsentKeyIsRefreshed: a transaction whose write timestamp was pushed
// locks a key that is absent at its read timestamp while another transaction holds an
// uncommitted write of it between the two timestamps. The locking read waits for the other
// transaction; should it find no row (and so lock nothing) after the other committed, the
// refresh to the write timestamp must check its key too, or the transaction commits above
// the other's write having read the key as absent.
func TestLockingReadOfAbsentKeyIsRefreshed(t *testing.T) {
	db, _ := newLossyDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tx := db.NewTxn()
	_ = get(t, ctx, tx, "a") // fixes tx's read timestamp
	x := db.NewTxn()
	mustPut(t, ctx, x, "k", "x")  // above tx's read timestamp, not committed
	_ = read(t, db, "p")          // a read of p above both
	mustPut(t, ctx, tx, "p", "t") // pushed above that read
	b := &txn.Batch{}
	b.GetLocking(key("k"), kvpb.LockExclusive)
	locked := make(chan error, 1)
	go func() { locked <- tx.Run(ctx, b) }()
	// x commits while the lock waits for it, or fails if the locking transaction aborted
	// it (by priority).
	xErr := x.Commit(ctx)
	lockErr := <-locked
	if lockErr == nil {
		if len(b.Results[0].Rows) > 0 {
			_ = tx.Rollback(ctx)
			return // it saw x's write: fine
		}
		lockErr = tx.Commit(ctx)
	}
	switch {
	case xErr != nil && lockErr != nil:
		t.Fatalf("both failed: %v; %v", xErr, lockErr)
	case xErr == nil && lockErr == nil:
		t.Fatal("committed above another transaction's write of a key it read as absent")
	case lockErr != nil && !txn.IsRetryable(lockErr):
		t.Fatalf("got %v, want a restart", lockErr)
	}
}

// TestRefreshGoesOneBatchPerRange: a transaction pushed above its reads checks them all at
// once at the commit, its point reads in one batch per range (six reads over two ranges: two
// batches, six on the old code) beside its scan, and still restarts when one of them, on
// either path, was overwritten in between.
func TestRefreshGoesOneBatchPerRange(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, overwrite := range []string{"", "y", "s2"} {
		t.Run("overwritten="+overwrite, func(t *testing.T) {
			db, l := newLossyDB(t)
			for _, k := range []string{"a", "b", "c", "x", "y", "z", "s1", "s2"} {
				mustCommitPut(t, db, k, "v"+k)
			}
			tx := db.NewTxn()
			for _, k := range []string{"a", "b", "c", "x", "y", "z"} {
				if got := get(t, ctx, tx, k); got != "v"+k {
					t.Fatalf("%s = %s", k, got)
				}
			}
			b := &txn.Batch{}
			b.Scan(key("s"), key("t"), 0, false)
			if err := tx.Run(ctx, b); err != nil || len(b.Results[0].Rows) != 2 {
				t.Fatalf("scan: %d rows, %v", len(b.Results[0].Rows), err)
			}
			if overwrite != "" {
				mustCommitPut(t, db, overwrite, "new")
			}
			_ = read(t, db, "p")          // a read of p above everything so far
			mustPut(t, ctx, tx, "p", "t") // pushed above that read: the commit must refresh
			before := l.batchCount(&kvpb.RefreshRequest{})
			err := tx.Commit(ctx)
			if overwrite != "" {
				if !txn.IsRetryable(err) {
					t.Fatalf("commit after %s was overwritten: %v, want a restart", overwrite, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// Two batches of point reads (one per range) and the scan's.
			if n := l.batchCount(&kvpb.RefreshRequest{}) - before; n != 3 {
				t.Errorf("the refresh went as %d batches, want 3", n)
			}
		})
	}
}
