package ranges

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// TestLockTableTurns walks waiters through one key's queue: who pushes, who waits, who goes.
func TestLockTableTurns(t *testing.T) {
	holder := mvcc.TxnMeta{ID: mvcc.TxnID{1}}
	other, third := mvcc.TxnID{2}, mvcc.TxnID{3}
	key := []byte("k")

	t.Run("others push the holder", func(t *testing.T) {
		lt := newLockTable()
		w := lt.enqueue(key, &holder, other)
		if tn := lt.next(w); !tn.push || tn.holder.ID != holder.ID {
			t.Fatalf("turn %+v, want a push of the holder", tn)
		}
	})

	t.Run("the holder never waits for its own lock", func(t *testing.T) {
		// The holder came back for its key (to write it again) while another transaction
		// was queued first, waiting for the holder: waiting its turn would never end.
		lt := newLockTable()
		first := lt.enqueue(key, &holder, other)
		mine := lt.enqueue(key, nil, holder.ID)
		if tn := lt.next(mine); !tn.proceed {
			t.Fatalf("the holder's turn %+v, want to proceed", tn)
		}
		lt.leave(mine, &holder)
		if tn := lt.next(first); !tn.push {
			t.Fatalf("the first waiter's turn %+v after the holder went, want a push", tn)
		}
	})

	t.Run("a released lock goes to the head of the queue", func(t *testing.T) {
		lt := newLockTable()
		first := lt.enqueue(key, &holder, other)
		second := lt.enqueue(key, nil, third)
		lt.released(kvpb.Span{Key: key}, holder.ID)
		if tn := lt.next(second); tn.proceed || tn.push {
			t.Fatalf("the second waiter's turn %+v, want to wait", tn)
		}
		if tn := lt.next(first); !tn.proceed {
			t.Fatalf("the first waiter's turn %+v, want to proceed", tn)
		}
		if tn := lt.next(second); tn.proceed {
			t.Fatalf("the second waiter went while the first held the reservation")
		}
		lt.leave(first, &mvcc.TxnMeta{ID: other})
		if tn := lt.next(second); !tn.push || tn.holder.ID != other {
			t.Fatalf("the second waiter's turn %+v, want a push of the first, now holding", tn)
		}
	})
}

// TestUnreplicatedLocks walks the table's own locks: who holds them, what a stale report of
// another holder does to them, and how they go.
func TestUnreplicatedLocks(t *testing.T) {
	holder := mvcc.TxnMeta{ID: mvcc.TxnID{1}}
	other, stale := mvcc.TxnID{2}, mvcc.TxnMeta{ID: mvcc.TxnID{3}}
	a, b := []byte("a"), []byte("b")
	held := func(lt *lockTable, sp kvpb.Span, txn mvcc.TxnID) string {
		k, h, ok := lt.heldBy(sp, txn)
		if !ok {
			return "free"
		}
		return fmt.Sprintf("%s by %x", k, h.ID[:1])
	}

	lt := newLockTable()
	lt.acquire([][]byte{a, b}, holder)
	for _, c := range []struct {
		sp   kvpb.Span
		txn  mvcc.TxnID
		want string
	}{
		{kvpb.Span{Key: a}, other, "a by 01"},
		{kvpb.Span{Key: a}, holder.ID, "free"},       // its own
		{kvpb.Span{Key: a}, mvcc.TxnID{}, "a by 01"}, // outside any transaction
		{kvpb.Span{Key: []byte("c")}, other, "free"}, // not locked
		{kvpb.Span{Key: b, EndKey: []byte("z")}, other, "b by 01"},
		{kvpb.Span{Key: []byte("c"), EndKey: []byte("z")}, other, "free"},
	} {
		if got := held(lt, c.sp, c.txn); got != c.want {
			t.Errorf("%s for %x: %s, want %s", c.sp, c.txn[:1], got, c.want)
		}
	}

	// A waiter that found another transaction's intent earlier does not displace the lock,
	// and pushes its holder.
	w := lt.enqueue(a, &stale, other)
	if tn := lt.next(w); !tn.push || tn.holder.ID != holder.ID {
		t.Fatalf("turn %+v, want a push of the lock's holder", tn)
	}
	if !lt.unreplicatedHeld(a, holder.ID) {
		t.Fatal("the lock on a was lost to a stale report")
	}
	// The waiter leaving does not drop the lock: the entry is the lock.
	lt.leave(w, nil)
	if got := held(lt, kvpb.Span{Key: a}, other); got != "a by 01" {
		t.Fatalf("after the waiter left: %s", got)
	}

	// Released: the lock is gone, and so is its entry.
	lt.released(kvpb.Span{Key: a}, holder.ID)
	if got := held(lt, kvpb.Span{Key: a}, other); got != "free" {
		t.Fatalf("after the release: %s", got)
	}
	if _, ok := lt.locks["a"]; ok || lt.unreplicated != 1 {
		t.Fatalf("entries %v, %d unreplicated locks after the release, want b's alone", lt.locks, lt.unreplicated)
	}

	// A new lease forgets them all.
	lt.dropUnreplicated()
	if got := held(lt, kvpb.Span{Key: b}, other); got != "free" || len(lt.locks) != 0 || lt.unreplicated != 0 {
		t.Fatalf("after a new lease: %s, %d entries, %d locks", got, len(lt.locks), lt.unreplicated)
	}
}

// TestSplitForgetsMovedLocks: after a split the left range forgets the locks of the keys it
// gave away, unreplicated or intents, and wakes their waiters, who then go ahead (to be told
// the key is elsewhere); the locks of the keys it kept stay.
func TestSplitForgetsMovedLocks(t *testing.T) {
	holder := mvcc.TxnMeta{ID: mvcc.TxnID{1}}
	intentHolder := mvcc.TxnMeta{ID: mvcc.TxnID{4}}
	other := mvcc.TxnID{2}
	lt := newLockTable()
	lt.acquire([][]byte{[]byte("a"), []byte("x")}, holder)
	onX := lt.enqueue([]byte("x"), nil, other)
	onY := lt.enqueue([]byte("y"), &intentHolder, other) // found an intent on y
	for _, w := range []*lockWaiter{onX, onY} {
		if tn := lt.next(w); !tn.push {
			t.Fatalf("before the split: turn %+v on %s, want a push", tn, w.key)
		}
	}

	lt.forgetOutside(&kvpb.RangeDescriptor{StartKey: []byte("a"), EndKey: []byte("m")})
	if !lt.unreplicatedHeld([]byte("a"), holder.ID) || lt.unreplicatedHeld([]byte("x"), holder.ID) || lt.unreplicated != 1 {
		t.Fatalf("after the split: a held %v, x held %v, %d unreplicated locks; want a's alone",
			lt.unreplicatedHeld([]byte("a"), holder.ID), lt.unreplicatedHeld([]byte("x"), holder.ID), lt.unreplicated)
	}
	for _, w := range []*lockWaiter{onX, onY} {
		select {
		case <-w.wake:
		default:
			t.Fatalf("the waiter on %s was not woken", w.key)
		}
		if tn := lt.next(w); !tn.proceed {
			t.Fatalf("after the split: turn %+v on %s, want to go ahead", tn, w.key)
		}
		lt.leave(w, nil)
	}
	if len(lt.locks) != 1 {
		t.Fatalf("%d entries left, want a's alone", len(lt.locks))
	}
}

// TestUnreplicatedLocksAreBounded: past maxUnreplicatedLocks, locking reads lock nothing
// more (a lock is an optimization), and a release makes room again.
func TestUnreplicatedLocksAreBounded(t *testing.T) {
	lt := newLockTable()
	holder := mvcc.TxnMeta{ID: mvcc.TxnID{1}}
	keys := make([][]byte, maxUnreplicatedLocks+1)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "k%06d", i)
	}
	lt.acquire(keys, holder)
	if lt.unreplicated != maxUnreplicatedLocks || len(lt.locks) != maxUnreplicatedLocks {
		t.Fatalf("%d locks, %d entries, want %d", lt.unreplicated, len(lt.locks), maxUnreplicatedLocks)
	}
	last := keys[len(keys)-1]
	if lt.unreplicatedHeld(last, holder.ID) {
		t.Fatal("a lock past the bound was taken")
	}
	lt.released(kvpb.Span{Key: keys[0]}, holder.ID)
	lt.acquire([][]byte{last}, holder)
	if !lt.unreplicatedHeld(last, holder.ID) {
		t.Fatal("no lock taken after a release made room")
	}
}

// TestLockingReadTakesUnreplicatedLock: a locking read answers without a round of consensus,
// and its lock holds another transaction's write back (not a plain read) until the
// holder's resolution releases it; then the write goes through.
func TestLockingReadTakesUnreplicatedLock(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	key := []byte("\x10k")
	put(t, s, string(key), "old")
	holder, writer := pendingTxn(s.cfg.Clock, 1, key), pendingTxn(s.cfg.Clock, 2, key)
	r1 := s.Replica(1)
	before := r1.AppliedIndex()
	br, err := s.Send(ctx, &kvpb.BatchRequest{Txn: holder.Clone(), Requests: []kvpb.Request{
		&kvpb.GetRequest{Key: key, Locking: kvpb.LockExclusive}}})
	if err != nil {
		t.Fatal(err)
	}
	if kv := br.Responses[0].(*kvpb.GetResponse).Value; kv == nil || string(kv.Value) != "old" {
		t.Fatalf("the locking read returned %v", kv)
	}
	if rounds := r1.AppliedIndex() - before; rounds != 0 {
		t.Errorf("the locking read took %d rounds of consensus, want none", rounds)
	}
	if got := get(t, s, string(key)); got != "old" {
		t.Fatalf("a plain read under the lock: %q", got)
	}

	done := make(chan error, 1)
	go func() {
		_, err := s.Send(ctx, &kvpb.BatchRequest{Txn: writer.Clone(), Requests: []kvpb.Request{
			&kvpb.PutRequest{Key: key, Value: []byte("writer"), Sequence: 1}}})
		done <- err
	}()
	awaitQueued(t, r1, key, done)
	select {
	case err := <-done:
		t.Fatalf("the write went through the lock: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	// The holder commits (its record elsewhere, say) and its coordinator resolves the
	// locked key: nothing to write, but the lock goes.
	mustSend(t, s, 1, &kvpb.ResolveIntentRequest{Span: kvpb.Span{Key: key}, Txn: holder.TxnMeta,
		Status: kvpb.Committed, CommitTS: holder.WriteTimestamp})
	if err := <-done; err != nil {
		t.Fatalf("the write after the release: %v", err)
	}
	if r1.locks.unreplicatedHeld(key, holder.ID) {
		t.Fatal("the lock outlived its release")
	}
}

// pendingTxn is a pending transaction with ID id and anchor key anchor, starting now.
func pendingTxn(clock *hlc.Clock, id byte, anchor []byte) *kvpb.Transaction {
	ts := clock.Now()
	return &kvpb.Transaction{TxnMeta: mvcc.TxnMeta{ID: mvcc.TxnID{id}, Key: anchor, WriteTimestamp: ts, MinTimestamp: ts},
		Status: kvpb.Pending, ReadTimestamp: ts, GlobalUncertaintyLimit: ts}
}

// awaitQueued waits until a request queues for key in r's lock table; done is the request's
// outcome, which must not come first.
func awaitQueued(t *testing.T, r *Replica, key []byte, done <-chan error) {
	t.Helper()
	for !r.locks.queuedAhead(key, mvcc.TxnID{}) {
		select {
		case err := <-done:
			t.Fatalf("the request did not wait for the lock on %q: %v", key, err)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestSplitLeavesNoLockBehind: a lock taken on a key that a split then moves to the new
// range is not left behind in the old range's lock table, where nothing would release it.
func TestSplitLeavesNoLockBehind(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	kept, moved := []byte("\x10c"), []byte("\x10x")
	holder := pendingTxn(s.cfg.Clock, 1, kept)
	for _, k := range [][]byte{kept, moved} {
		put(t, s, string(k), "v") // a locking read of a missing row locks nothing
		if _, err := s.Send(ctx, &kvpb.BatchRequest{Txn: holder.Clone(), Requests: []kvpb.Request{
			&kvpb.GetRequest{Key: k, Locking: kvpb.LockExclusive}}}); err != nil {
			t.Fatal(err)
		}
	}
	r1 := s.Replica(1)
	if !r1.locks.unreplicatedHeld(moved, holder.ID) {
		t.Fatal("the locking read took no lock")
	}
	mustSend(t, s, 1, &kvpb.AdminSplitRequest{SplitKey: []byte("\x10m"), NewRangeID: 2})
	if r1.locks.unreplicatedHeld(moved, holder.ID) || !r1.locks.unreplicatedHeld(kept, holder.ID) {
		t.Fatalf("after the split the left range holds the moved key's lock: %v, and the kept one's: %v",
			r1.locks.unreplicatedHeld(moved, holder.ID), r1.locks.unreplicatedHeld(kept, holder.ID))
	}
}

// TestLockTableSpanOps drives a lock table with random locks, waiters, releases and splits,
// and checks after each step that its key order holds exactly the entries of its map, and
// that a span's check finds what a walk of every entry finds: the first key of the span
// locked by another transaction.
func TestLockTableSpanOps(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	key := func() []byte { return fmt.Appendf(nil, "k%02d", rng.IntN(40)) }
	txn := func() mvcc.TxnMeta { return mvcc.TxnMeta{ID: mvcc.TxnID{byte(1 + rng.IntN(4))}} }
	span := func() kvpb.Span {
		a, b := key(), key()
		if bytes.Compare(a, b) > 0 {
			a, b = b, a
		}
		if rng.IntN(4) == 0 {
			return kvpb.Span{Key: a}
		}
		return kvpb.Span{Key: a, EndKey: append(b, 0)}
	}
	lt := newLockTable()
	var waiters []*lockWaiter
	for step := 0; step < 5000; step++ {
		switch op := rng.IntN(10); {
		case op < 3:
			lt.acquire([][]byte{key(), key()}, txn())
		case op < 5:
			holder := txn()
			w := lt.enqueue(key(), &holder, txn().ID)
			lt.next(w)
			waiters = append(waiters, w)
		case op < 6 && len(waiters) > 0:
			i := rng.IntN(len(waiters))
			lt.leave(waiters[i], nil)
			waiters = slices.Delete(waiters, i, i+1)
		case op < 9:
			sp, id := span(), txn().ID
			lt.released(sp, id)
			for _, l := range lt.locks {
				if sp.Contains(l.key) && l.held && l.holder.ID == id {
					t.Fatalf("step %d: %s still held by %x after its release of %s", step, l.key, id[:1], sp)
				}
			}
		default:
			sp := span()
			if len(sp.EndKey) == 0 {
				sp.EndKey = append(sp.Key, 0)
			}
			desc := &kvpb.RangeDescriptor{StartKey: sp.Key, EndKey: sp.EndKey}
			lt.forgetOutside(desc)
			for _, l := range lt.locks {
				if !desc.ContainsKey(l.key) && (l.held || l.unreplicated) {
					t.Fatalf("step %d: %s kept its lock after a split to %s", step, l.key, sp)
				}
			}
		}

		var inMap, inOrder []string
		for k := range lt.locks {
			inMap = append(inMap, k)
		}
		slices.Sort(inMap)
		lt.ordered.Ascend(func(l *keyLock) bool {
			inOrder = append(inOrder, string(l.key))
			return true
		})
		if !slices.Equal(inMap, inOrder) {
			t.Fatalf("step %d: map %q, key order %q", step, inMap, inOrder)
		}
		sp, asker := span(), txn().ID
		want := "free"
		for _, k := range inMap {
			if l := lt.locks[k]; l.unreplicated && l.holder.ID != asker && sp.Contains(l.key) {
				want = fmt.Sprintf("%s by %x", k, l.holder.ID[:1])
				break
			}
		}
		got := "free"
		if k, h, ok := lt.heldBy(sp, asker); ok {
			got = fmt.Sprintf("%s by %x", k, h.ID[:1])
		}
		if got != want {
			t.Fatalf("step %d: %s checked for %x: %s, want %s", step, sp, asker[:1], got, want)
		}
	}
}

// BenchmarkLockTableSpans measures the span operations of a lock table holding n
// unreplicated locks of n/10 transactions: a scan's check of ten keys for another's lock, and
// the release of one transaction's ten locks by its resolution's span (then re-acquired).
func BenchmarkLockTableSpans(b *testing.B) {
	for _, n := range []int{100, 10_000} {
		lt := newLockTable()
		key := func(i int) []byte { return fmt.Appendf(nil, "k%06d", i) }
		owner := func(i int) mvcc.TxnMeta { return mvcc.TxnMeta{ID: mvcc.TxnID{1, byte(i / 10 >> 8), byte(i / 10)}} }
		for i := 0; i < n; i++ {
			lt.acquire([][]byte{key(i)}, owner(i))
		}
		b.Run(fmt.Sprintf("locks=%d/heldBy", n), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				first := i * 10 % n
				sp := kvpb.Span{Key: key(first), EndKey: key(first + 10)}
				if _, _, ok := lt.heldBy(sp, owner(first).ID); ok {
					b.Fatal("found another's lock in a transaction's own span")
				}
			}
		})
		b.Run(fmt.Sprintf("locks=%d/released", n), func(b *testing.B) {
			keys := make([][]byte, 10)
			for i := 0; b.Loop(); i++ {
				first := i * 10 % n
				lt.released(kvpb.Span{Key: key(first), EndKey: key(first + 10)}, owner(first).ID)
				for j := range keys {
					keys[j] = key(first + j)
				}
				lt.acquire(keys, owner(first))
			}
		})
	}
}
