package txn_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
	"github.com/meridiandb/meridian/txn"
)

// newSplitDB is newDB with the keyspace split at "m" (two ranges) and a short liveness
// threshold, so that abandoned transactions are recovered quickly.
func newSplitDB(t *testing.T) (*txn.DB, *ranges.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clock := hlc.NewClock(nil, hlc.DefaultMaxOffset)
	s, err := ranges.OpenStore(ctx, ranges.StoreConfig{Dir: t.TempDir(), NodeID: 1, StoreID: 1, Clock: clock, TxnLivenessThreshold: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	db := txn.NewDB(s, s, clock, nil)
	db.HeartbeatInterval = 50 * time.Millisecond
	t.Cleanup(func() {
		db.Close()
		s.Close()
	})
	split := &kvpb.AdminSplitRequest{SplitKey: key("m"), NewRangeID: 2}
	if _, err := s.Send(ctx, &kvpb.BatchRequest{RangeID: 1, Requests: []kvpb.Request{split}}); err != nil {
		t.Fatal(err)
	}
	// The store is its own sender here, with nothing to retry at a new range's leader.
	for {
		_, err := s.Send(ctx, &kvpb.BatchRequest{RangeID: 2, Requests: []kvpb.Request{&kvpb.GetRequest{Key: key("x")}}})
		if err == nil {
			return db, s
		}
		if ctx.Err() != nil {
			t.Fatalf("the new range never took requests: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestParallelCommitAcrossRanges: a transaction whose last batch writes to two ranges commits
// with that batch, on and off.
func TestParallelCommitAcrossRanges(t *testing.T) {
	for _, on := range []bool{true, false} {
		db, _ := newSplitDB(t)
		db.SetParallelCommits(on)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		tx := db.NewTxn()
		mustPut(t, ctx, tx, "b", "first") // the record goes on b's range
		b := &txn.Batch{}
		b.Put(key("c"), []byte("v"))
		b.Put(key("x"), []byte("v"))
		b.Put(key("y"), []byte("v"))
		if err := tx.CommitInBatch(ctx, b); err != nil {
			t.Fatalf("parallel commits %v: %v", on, err)
		}
		for _, k := range []string{"b", "c", "x", "y"} {
			if got := read(t, db, k); got == "<nil>" {
				t.Fatalf("parallel commits %v: %s not written", on, k)
			}
		}
	}
}

// TestCommitAfterPushedStagingLandsAboveItsWrites: a parallel commit whose staging is
// refused because a reader pushed the transaction's record, while another reader pushed one
// of its in-flight writes higher still, commits the ordinary way: above that write, so that
// the later reader, which did not see the write, still reads before it.
func TestCommitAfterPushedStagingLandsAboveItsWrites(t *testing.T) {
	db, s := newSplitDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	time.Sleep(hlc.DefaultMaxOffset + 100*time.Millisecond) // see handMadeTxn
	tx := db.NewTxn()
	mustPut(t, ctx, tx, "b", "v") // the record goes on b's range
	// A reader meets the intent on b and pushes the record (PENDING) above its read...
	push := &kvpb.PushTxnRequest{Pushee: txn.Meta(tx), PushTo: db.Clock().Now()}
	if _, err := s.Send(ctx, &kvpb.BatchRequest{RangeID: 1, Requests: []kvpb.Request{push}}); err != nil {
		t.Fatal(err)
	}
	// ...and another reads x later still, finding nothing.
	readAt := db.Clock().Now()
	readX := func() []byte {
		t.Helper()
		br, err := s.Send(ctx, &kvpb.BatchRequest{RangeID: 2, Timestamp: readAt, Requests: []kvpb.Request{&kvpb.GetRequest{Key: key("x")}}})
		if err != nil {
			t.Fatal(err)
		}
		if kv := br.Responses[0].(*kvpb.GetResponse).Value; kv != nil {
			return kv.Value
		}
		return nil
	}
	if v := readX(); v != nil {
		t.Fatalf("x = %q before the commit", v)
	}
	b := &txn.Batch{}
	b.Put(key("c"), []byte("v")) // staged with the record: refused, the record was pushed
	b.Put(key("x"), []byte("v")) // in flight: lands above the read
	if err := tx.CommitInBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got := read(t, db, "x"); got != "v" { // and so resolved
		t.Fatalf("x = %s after the commit, want v", got)
	}
	if v := readX(); v != nil {
		t.Fatalf("the commit moved x under a read that had missed it: a read at %s now finds %q", readAt, v)
	}
}

// TestReplayedWriteAnswersWhereItsIntentIs: a transaction's write sent again after its answer
// was lost (as the DistSender does when the leaseholder dies) to a leaseholder whose
// timestamp cache would push a new write finds its intent and answers with the intent's
// timestamp, not a pushed one: a parallel commit counts on it to know that the write is in
// place at the staged timestamp.
func TestReplayedWriteAnswersWhereItsIntentIs(t *testing.T) {
	_, s := newSplitDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	txnProto := handMadeTxn(s.Clock(), mvcc.TxnID{6, 6})
	now := txnProto.WriteTimestamp
	write := func() hlc.Timestamp {
		t.Helper()
		br, err := s.Send(ctx, &kvpb.BatchRequest{Txn: txnProto.Clone(), RangeID: 2,
			Requests: []kvpb.Request{&kvpb.PutRequest{Key: key("x"), Value: []byte("v"), Sequence: 1}}})
		if err != nil {
			t.Fatal(err)
		}
		return br.Txn.WriteTimestamp
	}
	if got := write(); got != now {
		t.Fatalf("the write landed at %s, want %s", got, now)
	}
	// Make a new write of x land above a later timestamp, as a new leaseholder's timestamp
	// cache does (here: a status recovery's prevention of a write numbered 2).
	later := s.Clock().Now()
	prevent := &kvpb.QueryIntentRequest{Key: key("x"), Txn: mvcc.TxnMeta{ID: txnProto.ID, WriteTimestamp: later}, Sequence: 2, Prevent: true}
	if _, err := s.Send(ctx, &kvpb.BatchRequest{RangeID: 2, Timestamp: later, Requests: []kvpb.Request{prevent}}); err != nil {
		t.Fatal(err)
	}
	if got := write(); got != now {
		t.Fatalf("the replayed write answered %s; its intent is at %s", got, now)
	}
	// A new write of the transaction is pushed as before.
	br, err := s.Send(ctx, &kvpb.BatchRequest{Txn: txnProto.Clone(), RangeID: 2,
		Requests: []kvpb.Request{&kvpb.PutRequest{Key: key("x"), Value: []byte("w"), Sequence: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	if !later.Less(br.Txn.WriteTimestamp) {
		t.Fatalf("a new write landed at %s, at or below the prevented timestamp %s", br.Txn.WriteTimestamp, later)
	}
}

// handMadeTxn is a transaction anchored at "b" that starts now, for requests sent to a store
// by hand, after waiting out the start of a new store, which takes no write within a clock
// offset of its start (see ranges.startClock).
func handMadeTxn(clock *hlc.Clock, id mvcc.TxnID) *kvpb.Transaction {
	time.Sleep(hlc.DefaultMaxOffset + 100*time.Millisecond)
	now := clock.Now()
	return &kvpb.Transaction{
		TxnMeta:                mvcc.TxnMeta{ID: id, Key: key("b"), WriteTimestamp: now, MinTimestamp: now, Priority: 5},
		ReadTimestamp:          now,
		GlobalUncertaintyLimit: now.Add(int64(hlc.DefaultMaxOffset)),
	}
}

// stage makes an abandoned STAGING transaction by hand, as a coordinator that died after
// sending its commit would leave it: an intent on "b" (with the record, staged together),
// an intent on "x" (in flight, landed), and, if lostWrite, an in-flight write to "y" (number
// 2) that never arrived; if also lockedFirst, the transaction had locked "y" (number 1), so
// an intent of it is there all the same.
func stage(t *testing.T, ctx context.Context, db *txn.DB, s *ranges.Store, lostWrite, lockedFirst bool) *kvpb.Transaction {
	t.Helper()
	if lockedFirst {
		if _, err := s.Send(ctx, &kvpb.BatchRequest{RangeID: 2, Requests: []kvpb.Request{&kvpb.PutRequest{Key: key("y"), Value: []byte("before")}}}); err != nil {
			t.Fatal(err)
		}
	}
	txnProto := handMadeTxn(db.Clock(), mvcc.TxnID{9, 9, 9, 9})
	send := func(rangeID uint64, reqs ...kvpb.Request) {
		t.Helper()
		if _, err := s.Send(ctx, &kvpb.BatchRequest{Txn: txnProto.Clone(), RangeID: rangeID, Requests: reqs}); err != nil {
			t.Fatal(err)
		}
	}
	send(2, &kvpb.PutRequest{Key: key("x"), Value: []byte("staged")})
	if lockedFirst {
		send(2, &kvpb.GetRequest{Key: key("y"), Locking: kvpb.LockExclusive})
	}
	inFlight := []kvpb.InFlightWrite{{Key: key("x")}}
	if lostWrite {
		inFlight = append(inFlight, kvpb.InFlightWrite{Key: key("y"), Sequence: 2})
	}
	lockSpans := []kvpb.Span{{Key: key("b")}}
	for _, w := range inFlight {
		lockSpans = append(lockSpans, kvpb.Span{Key: w.Key})
	}
	send(1, &kvpb.PutRequest{Key: key("b"), Value: []byte("staged")},
		&kvpb.EndTxnRequest{Commit: true, LockSpans: lockSpans, InFlightWrites: inFlight})
	return txnProto
}

// TestStagingRecovery: a reader that meets an abandoned STAGING transaction recovers it:
// committed when every in-flight write is there, aborted when one is missing, and the
// missing write can then never land at the staged timestamp.
func TestStagingRecovery(t *testing.T) {
	for _, tc := range []struct{ lost, locked bool }{{false, false}, {true, false}, {true, true}} {
		lost := tc.lost
		db, s := newSplitDB(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		staged := stage(t, ctx, db, s, lost, tc.locked)
		want := "staged"
		if lost {
			want = "<nil>"
		}
		// The reads wait for the staging coordinator until it counts as gone, then recover.
		for _, k := range []string{"b", "x"} {
			if got := read(t, db, k); got != want {
				t.Fatalf("lost write %v: %s = %s after recovery, want %s", lost, k, got, want)
			}
		}
		if !lost {
			continue
		}
		// The lost write arrives late: it may not land where it would have made the
		// transaction committed.
		br, err := s.Send(ctx, &kvpb.BatchRequest{Txn: staged.Clone(), RangeID: 2, Requests: []kvpb.Request{&kvpb.PutRequest{Key: key("y"), Value: []byte("late")}}})
		if err != nil {
			t.Fatal(err)
		}
		if !staged.WriteTimestamp.Less(br.Txn.WriteTimestamp) {
			t.Fatalf("the late in-flight write landed at %s, not above the staged timestamp %s", br.Txn.WriteTimestamp, staged.WriteTimestamp)
		}
	}
}

// TestCoordinatorRecoversOwnCommit: a coordinator that does not know whether its commit
// happened settles it at once, as anyone would: committed if every in-flight write is
// there, aborted if one is missing or the record was never staged.
func TestCoordinatorRecoversOwnCommit(t *testing.T) {
	// A lost write behind the transaction's own lock on its key is lost all the same.
	for _, tc := range []struct{ lost, locked bool }{{false, false}, {true, false}, {true, true}} {
		lost := tc.lost
		db, s := newSplitDB(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		staged := stage(t, ctx, db, s, lost, tc.locked)
		rec, err := txn.RecoverOwn(ctx, db, staged)
		if err != nil {
			t.Fatal(err)
		}
		want := kvpb.Committed
		if lost {
			want = kvpb.Aborted
		}
		if rec.Status != want {
			t.Fatalf("lost write %v: recovered as %s, want %s", lost, rec.Status, want)
		}
		// An abort by recovery says so, and names the write: the coordinator may take it
		// as proof that the transaction did not commit.
		if lost && (rec.AbortReason != kvpb.RetryAsyncWriteFailure || string(rec.AbortKey) != string(key("y"))) {
			t.Fatalf("recovered as aborted for %s over %q, want %s over %q", rec.AbortReason, rec.AbortKey, kvpb.RetryAsyncWriteFailure, key("y"))
		}
	}
	db, _ := newSplitDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := db.Clock().Now()
	never := &kvpb.Transaction{TxnMeta: mvcc.TxnMeta{ID: mvcc.TxnID{8}, Key: key("b"), WriteTimestamp: now, MinTimestamp: now}}
	if rec, err := txn.RecoverOwn(ctx, db, never); err != nil || rec.Status != kvpb.Aborted {
		t.Fatalf("a commit that was never staged: %+v, %v; want ABORTED", rec, err)
	}
}

// TestLateRecoveryOfAFinishedTransaction: two recoveries read the same STAGING record whose
// writes all lie on its range. The first finds every in-flight write and commits, which
// resolves them and removes the record; the second, which looked a moment later, finds a
// write "missing" (it is a committed value now). Its verdict must not be recorded: the
// transaction committed, and an ABORTED record would tell its coordinator otherwise.
func TestLateRecoveryOfAFinishedTransaction(t *testing.T) {
	db, s := newSplitDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	staged := handMadeTxn(db.Clock(), mvcc.TxnID{7, 7})
	send := func(reqs ...kvpb.Request) []kvpb.Response {
		t.Helper()
		br, err := s.Send(ctx, &kvpb.BatchRequest{Txn: staged.Clone(), RangeID: 1, Requests: reqs})
		if err != nil {
			t.Fatal(err)
		}
		return br.Responses
	}
	send(&kvpb.PutRequest{Key: key("c"), Value: []byte("v")}) // pipelined, then in flight
	send(&kvpb.PutRequest{Key: key("b"), Value: []byte("v")},
		&kvpb.EndTxnRequest{Commit: true, LockSpans: []kvpb.Span{{Key: key("b")}, {Key: key("c")}}, InFlightWrites: []kvpb.InFlightWrite{{Key: key("c")}}})

	recoverAs := func(implicit bool) kvpb.TxnStatus {
		t.Helper()
		br, err := s.Send(ctx, &kvpb.BatchRequest{RangeID: 1, Timestamp: db.Clock().Now(),
			Requests: []kvpb.Request{&kvpb.RecoverTxnRequest{Txn: staged.TxnMeta, ImplicitlyCommitted: implicit}}})
		if err != nil {
			t.Fatal(err)
		}
		return br.Responses[0].(*kvpb.RecoverTxnResponse).Txn.Status
	}
	if got := recoverAs(true); got != kvpb.Committed {
		t.Fatalf("the first recovery answered %s, want COMMITTED", got)
	}
	recoverAs(false) // the late one: either answer will do for a pusher, whose intent is gone
	q := send(&kvpb.QueryTxnRequest{Txn: staged.TxnMeta})[0].(*kvpb.QueryTxnResponse)
	if q.Found {
		t.Fatalf("after the late recovery the record is %s; want none (the transaction committed)", q.Txn.Status)
	}
	if got := recoverAs(true); got != kvpb.Committed {
		t.Fatalf("a recovery that found every write answered %s for the finished transaction, want COMMITTED", got)
	}
	for _, k := range []string{"b", "c"} {
		if got := read(t, db, k); got != "v" {
			t.Fatalf("%s = %s, want v", k, got)
		}
	}
}

// TestCommitWorkWaitsForTheAnswer: the background work of a parallel commit made under
// HoldBackground (marking the staged record committed) starts when the hold is released,
// not before; without a hold it starts at once.
func TestCommitWorkWaitsForTheAnswer(t *testing.T) {
	db, s := newSplitDB(t)
	txn.SetHoldLimit(db, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	status := func(meta mvcc.TxnMeta) string {
		t.Helper()
		return recordStatus(t, ctx, s, meta)
	}
	// Committed, the record is marked so, and removed once the intents are resolved.
	awaitCommitted := func(meta mvcc.TxnMeta) {
		t.Helper()
		for st := status(meta); st != kvpb.Committed.String() && st != "none"; st = status(meta) {
			if ctx.Err() != nil {
				t.Fatalf("the record stayed %s", st)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	commit := func(ctx context.Context, k string) mvcc.TxnMeta {
		t.Helper()
		tx := db.NewTxn()
		b := &txn.Batch{}
		b.Put(key("b"+k), []byte("v")) // the record's range
		b.Put(key("x"+k), []byte("v"))
		if err := tx.CommitInBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
		return txn.Meta(tx)
	}

	// A first commit, while the new range's lease may still push writes into the future
	// (after which a commit is made the ordinary way, not staged).
	awaitCommitted(commit(ctx, "0"))

	held, release := txn.HoldBackground(ctx)
	meta := commit(held, "1")
	time.Sleep(100 * time.Millisecond)
	if got := status(meta); got != kvpb.Staging.String() {
		t.Fatalf("before the answer was sent the record is %s, want STAGING", got)
	}
	release()
	awaitCommitted(meta)

	awaitCommitted(commit(ctx, "2")) // no hold
}

// recordStatus is the status of meta's record on range 1, or "none".
func recordStatus(t *testing.T, ctx context.Context, s *ranges.Store, meta mvcc.TxnMeta) string {
	t.Helper()
	br, err := s.Send(ctx, &kvpb.BatchRequest{RangeID: 1, Requests: []kvpb.Request{&kvpb.QueryTxnRequest{Txn: meta}}})
	if err != nil {
		t.Fatal(err)
	}
	if q := br.Responses[0].(*kvpb.QueryTxnResponse); q.Found {
		return q.Txn.Status.String()
	}
	return "none"
}

// TestFinishedRecordsAreRemoved: a transaction that wrote beyond its record's range leaves no
// record behind once its coordinator has resolved its intents there, whether it committed
// (staged or not) or rolled back. The records used to stay for good.
func TestFinishedRecordsAreRemoved(t *testing.T) {
	db, s := newSplitDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, end := range []string{"staged", "commit", "rollback"} {
		db.SetParallelCommits(end == "staged")
		tx := db.NewTxn()
		k := fmt.Sprint(i)
		mustPut(t, ctx, tx, "b"+k, "v") // the record's range
		mustPut(t, ctx, tx, "x"+k, "v") // another
		var err error
		if end == "rollback" {
			err = tx.Rollback(ctx)
		} else {
			b := &txn.Batch{}
			b.Put(key("y"+k), []byte("v"))
			err = tx.CommitInBatch(ctx, b)
		}
		if err != nil {
			t.Fatalf("%s: %v", end, err)
		}
		meta := txn.Meta(tx)
		for st := recordStatus(t, ctx, s, meta); st != "none"; st = recordStatus(t, ctx, s, meta) {
			if ctx.Err() != nil {
				t.Fatalf("%s: the record stayed %s", end, st)
			}
			time.Sleep(10 * time.Millisecond)
		}
		want := "v"
		if end == "rollback" {
			want = "<nil>"
		}
		for _, key := range []string{"b" + k, "x" + k} {
			if got := read(t, db, key); got != want {
				t.Fatalf("%s: %s = %s, want %s", end, key, got, want)
			}
		}
	}
}

// ambiguousStaging delivers nothing of a staging batch and answers it as if the connection
// broke after sending: the coordinator cannot tell whether the record was staged.
type ambiguousStaging struct{ txn.Sender }

func (a ambiguousStaging) Send(ctx context.Context, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error) {
	for _, req := range ba.Requests {
		if et, ok := req.(*kvpb.EndTxnRequest); ok && len(et.InFlightWrites) > 0 {
			return nil, &kvpb.AmbiguousResultError{Message: "connection reset after sending"}
		}
	}
	return a.Sender.Send(ctx, ba)
}

// TestUnknownCommitRecoveredAsAbortedIsAmbiguous: a commit whose staging outcome is unknown
// is settled by recovering the record, and a recovery that finds it not committed does not
// prove that it was not: a concurrent recovery may have committed it and removed the record
// first. The client hears "outcome unknown" (40003), never a retry error (40001), which
// would invite it to apply the transaction twice.
func TestUnknownCommitRecoveredAsAbortedIsAmbiguous(t *testing.T) {
	_, s := newSplitDB(t)
	db := txn.NewDB(ambiguousStaging{s}, s, s.Clock(), nil)
	t.Cleanup(db.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tx := db.NewTxn()
	b := &txn.Batch{}
	b.Put(key("b"), []byte("vb"))
	b.Put(key("x"), []byte("vx"))
	err := tx.CommitInBatch(ctx, b)
	var amb *kvpb.AmbiguousResultError
	if !errors.As(err, &amb) {
		t.Fatalf("commit: %v, want an ambiguous result", err)
	}
	if txn.IsRetryable(err) {
		t.Fatalf("commit: %v is retryable", err)
	}
}

// lostInFlightAnswer loses the answer to every batch of writes in flight beside a staged
// record, as a connection that broke after sending does; with apply the writes were applied
// all the same. With refuse, the staging is refused as a pushed record refuses it.
type lostInFlightAnswer struct {
	txn.Sender
	apply, refuse bool
	clock         *hlc.Clock
}

func (l lostInFlightAnswer) Send(ctx context.Context, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error) {
	for _, req := range ba.Requests {
		if et, ok := req.(*kvpb.EndTxnRequest); ok && len(et.InFlightWrites) > 0 && l.refuse {
			return nil, &kvpb.TxnPushedError{PushedTo: l.clock.Now()}
		}
	}
	if !ba.WithStaging {
		return l.Sender.Send(ctx, ba)
	}
	if l.apply {
		if _, err := l.Sender.Send(ctx, ba); err != nil {
			return nil, err
		}
	}
	return nil, &kvpb.AmbiguousResultError{Message: "connection reset after sending"}
}

// TestInFlightWriteWithLostAnswer: a write in flight beside a staged record whose answer is
// lost is not sent again (a recovery may have finished the transaction and resolved its
// intents meanwhile, and a second copy would land as a stray intent above the commit). The
// coordinator recovers its own record instead: committed if the write had landed; if not,
// the recovery prevents it and aborts the transaction, which is then certain, and the
// client hears a plain restart, not "outcome unknown". If the staging was refused, nothing
// committed, and no commit can count on the write: the transaction restarts.
func TestInFlightWriteWithLostAnswer(t *testing.T) {
	for _, tc := range []struct{ applied, refused bool }{{true, false}, {false, false}, {true, true}, {false, true}} {
		_, s := newSplitDB(t)
		// Past the start of the store, which pushes the writes of its first moments.
		time.Sleep(hlc.DefaultMaxOffset + 100*time.Millisecond)
		db := txn.NewDB(lostInFlightAnswer{Sender: s, apply: tc.applied, refuse: tc.refused, clock: s.Clock()}, s, s.Clock(), nil)
		t.Cleanup(db.Close)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		tx := db.NewTxn()
		b := &txn.Batch{}
		b.Put(key("b"), []byte("vb")) // with the record
		b.Put(key("x"), []byte("vx")) // in flight
		err := tx.CommitInBatch(ctx, b)
		want := map[string]string{"b": "vb", "x": "vx"}
		if tc.applied && !tc.refused {
			if err != nil {
				t.Fatalf("%+v: commit of a landed write: %v", tc, err)
			}
		} else {
			var re *kvpb.TransactionRetryError
			if !errors.As(err, &re) || re.Aborted == tc.refused || re.Reason != kvpb.RetryAsyncWriteFailure || string(re.Key) != string(key("x")) {
				t.Fatalf("%+v: commit: %v, want a restart for the write to %q", tc, err, key("x"))
			}
			if err := tx.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
			want = map[string]string{"b": "<nil>", "x": "<nil>"}
		}
		for k, v := range want {
			if got := read(t, db, k); got != v {
				t.Fatalf("%+v: %s = %s, want %s", tc, k, got, v)
			}
		}
	}
}

// TestSettleAbandonedRecord: the record a coordinator left when it died after its commit
// (before marking a staged record committed, or before resolving its intents elsewhere) is
// settled by SettleRecord, which garbage collection calls for such records once they are
// old: the transaction's writes are committed, no intent is left, and no record.
func TestSettleAbandonedRecord(t *testing.T) {
	db, s := newSplitDB(t)
	txn.SetHoldLimit(db, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A first commit, while the new range's lease may still push writes into the future
	// (after which a commit is made the ordinary way, not staged).
	warm := &txn.Batch{}
	warm.Put(key("b"), []byte("v"))
	warm.Put(key("x"), []byte("v"))
	if err := db.NewTxn().CommitInBatch(ctx, warm); err != nil {
		t.Fatal(err)
	}
	for i, staged := range []bool{true, false} {
		db.SetParallelCommits(staged)
		// The commit's background work waits for a release that never comes: its
		// coordinator is as good as dead once the commit is acknowledged.
		held, _ := txn.HoldBackground(ctx)
		tx := db.NewTxn()
		k := fmt.Sprint(i)
		b := &txn.Batch{}
		b.Put(key("b"+k), []byte("v")) // the record's range
		b.Put(key("x"+k), []byte("v")) // the other
		if err := tx.CommitInBatch(held, b); err != nil {
			t.Fatal(err)
		}
		br, err := s.Send(ctx, &kvpb.BatchRequest{RangeID: 1, Requests: []kvpb.Request{&kvpb.QueryTxnRequest{Txn: txn.Meta(tx)}}})
		if err != nil {
			t.Fatal(err)
		}
		rec := br.Responses[0].(*kvpb.QueryTxnResponse).Txn
		if rec == nil {
			t.Fatalf("staged %t: no record left behind", staged)
		}
		if err := db.SettleRecord(ctx, rec); err != nil {
			t.Fatalf("settling a %s record: %v", rec.Status, err)
		}
		if st := recordStatus(t, ctx, s, rec.TxnMeta); st != "none" {
			t.Fatalf("settled a %s record: it is still there, %s", rec.Status, st)
		}
		if n := intentsLeft(t, s); n > 0 {
			t.Fatalf("settled a %s record: %d intents left", rec.Status, n)
		}
		for _, k := range []string{"b" + k, "x" + k} {
			if got := read(t, db, k); got != "v" {
				t.Fatalf("settled a %s record: %s = %s, want v", rec.Status, k, got)
			}
		}
	}
}
