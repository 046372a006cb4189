package txn_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/txn"
)

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newCachingDB runs transactions through a DistSender over a single store, so that, unlike
// newDB's store, routing goes by cached descriptors that a split the sender does not see
// leaves stale. The returned buffer holds the DB's log.
func newCachingDB(t *testing.T) (*txn.DB, *txn.DistSender, *ranges.Store, *lockedBuffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clock := hlc.NewClock(nil, hlc.DefaultMaxOffset)
	s, err := ranges.OpenStore(ctx, ranges.StoreConfig{Dir: t.TempDir(), NodeID: 1, StoreID: 1, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	ds := txn.NewDistSender(txn.DistSenderConfig{NodeID: 1, Local: s, Clock: clock})
	logs := &lockedBuffer{}
	db := txn.NewDB(ds, ds, clock, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	// Proving pipelined writes before the commit would send requests to their ranges and
	// so refresh the cache by chance: without them the stale descriptor reaches the commit.
	db.SetWritePipelining(false)
	t.Cleanup(func() {
		db.Close()
		s.Close()
	})
	return db, ds, s, logs
}

// splitBehindSender splits range rangeID at k directly on the store, so that the
// DistSender's cached descriptor of it goes stale, and waits for the new range to serve.
// Only the first range is split: it holds the meta records and updates them in the split.
func splitBehindSender(t *testing.T, s *ranges.Store, k []byte, newID uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	split := &kvpb.AdminSplitRequest{SplitKey: k, NewRangeID: newID}
	if _, err := s.Send(ctx, &kvpb.BatchRequest{RangeID: 1, Requests: []kvpb.Request{split}}); err != nil {
		t.Fatalf("splitting at %q: %v", k, err)
	}
	for {
		_, err := s.Send(ctx, &kvpb.BatchRequest{RangeID: newID, Requests: []kvpb.Request{&kvpb.GetRequest{Key: k}}})
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("r%d never took requests: %v", newID, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func putKeys(t *testing.T, ctx context.Context, tx *txn.Txn, prefix string, n int) {
	t.Helper()
	b := &txn.Batch{}
	for i := range n {
		b.Put(key(fmt.Sprintf("%s%03d", prefix, i)), []byte("v"))
	}
	if err := tx.Run(ctx, b); err != nil {
		t.Fatalf("writing %s*: %v", prefix, err)
	}
}

// awaitNoIntents waits for the asynchronous resolution of a finished transaction's intents
// and fails if any remain: they would cost every later reader a push.
func awaitNoIntents(t *testing.T, s *ranges.Store) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for intentsLeft(t, s) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := intentsLeft(t, s); n > 0 {
		t.Errorf("%d intents left unresolved after the commit", n)
	}
}

func assertNoMismatchLogged(t *testing.T, logs *lockedBuffer) {
	t.Helper()
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "is outside r") || strings.Contains(line, "resolving intents") {
			t.Errorf("logged: %s", line)
		}
	}
}

// TestIntentsResolvedAfterRecordRangeSplit: the range of the transaction record splits after
// the coordinator cached its descriptor and before the commit. The EndTxn still lands on the
// (shrunk) record range and resolves only the intents there; the coordinator must resolve
// the rest, though its stale descriptor says the record range holds them all.
func TestIntentsResolvedAfterRecordRangeSplit(t *testing.T) {
	for _, parallel := range []bool{false, true} {
		t.Run(fmt.Sprintf("parallel=%t", parallel), func(t *testing.T) {
			db, _, s, logs := newCachingDB(t)
			db.SetParallelCommits(parallel)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			tx := db.NewTxn()
			mustPut(t, ctx, tx, "a", "anchor") // the record goes on a's range
			putKeys(t, ctx, tx, "n", 100)
			splitBehindSender(t, s, key("m"), 2)
			if err := tx.Commit(ctx); err != nil {
				t.Fatalf("commit: %v", err)
			}
			awaitNoIntents(t, s)
			assertNoMismatchLogged(t, logs)
			if got := read(t, db, "n099"); got != "v" {
				t.Fatalf("n099 = %s after the commit", got)
			}
		})
	}
}

// TestIntentsResolvedAcrossNewBoundary: a committed transaction's intents lie on a range
// other than its record's, condensed into one span by the coordinator's cached descriptor;
// that range splits inside the span before the asynchronous resolution. The resolution must
// follow the new boundary rather than give up with "key ... is outside r1".
func TestIntentsResolvedAcrossNewBoundary(t *testing.T) {
	db, _, s, logs := newCachingDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	splitBehindSender(t, s, key("m"), 2)
	tx := db.NewTxn()
	mustPut(t, ctx, tx, "z", "anchor") // the record goes on r2
	putKeys(t, ctx, tx, "g", 100)      // r1, as cached: [min, m)
	putKeys(t, ctx, tx, "i", 100)
	splitBehindSender(t, s, key("h"), 3) // r1 is now [min, h), r3 [h, m)
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	awaitNoIntents(t, s)
	assertNoMismatchLogged(t, logs)
}

// TestRefreshAcrossNewBoundary: a transaction read a span, was pushed, and its range split
// before the commit's refresh of that span, which the sender's cache still sees as one
// range. The commit must refresh range by range and succeed: the split is routine, not an
// error for the client.
func TestRefreshAcrossNewBoundary(t *testing.T) {
	for _, parallel := range []bool{false, true} {
		t.Run(fmt.Sprintf("parallel=%t", parallel), func(t *testing.T) {
			db, _, s, _ := newCachingDB(t)
			db.SetParallelCommits(parallel)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			tx := db.NewTxn()
			b := &txn.Batch{}
			b.Scan(key("a"), key("z"), 0, false)
			if err := tx.Run(ctx, b); err != nil {
				t.Fatal(err)
			}
			// A later read of q pushes tx's write of q above it: the commit must refresh
			// the scan.
			_ = read(t, db, "q")
			mustPut(t, ctx, tx, "q", "v")
			splitBehindSender(t, s, key("m"), 2)
			if err := tx.Commit(ctx); err != nil {
				t.Fatalf("commit after the scanned range split: %v", err)
			}
			if got := read(t, db, "q"); got != "v" {
				t.Fatalf("q = %s after the commit", got)
			}
		})
	}
}
