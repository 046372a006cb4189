package ranges

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// TestTxnRecordForms: a record is written in the binary form and read back whole, without
// the coordinator's observed timestamps; a record an earlier version wrote as JSON still
// reads.
func TestTxnRecordForms(t *testing.T) {
	db, err := mvcc.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ts := hlc.Timestamp{WallTime: 1700000000000000000, Logical: 2}
	rec := &kvpb.Transaction{
		TxnMeta:        mvcc.TxnMeta{ID: mvcc.TxnID{1, 2}, Key: []byte("anchor"), Epoch: 1, WriteTimestamp: ts, MinTimestamp: ts, Priority: 7},
		Status:         kvpb.Staging,
		ReadTimestamp:  ts,
		LockSpans:      []kvpb.Span{{Key: []byte("a")}, {Key: []byte("b"), EndKey: []byte("c")}},
		InFlightWrites: []kvpb.InFlightWrite{{Key: []byte("b"), Sequence: 3}},
		IgnoredSeqNums: []mvcc.SeqRange{{Start: 1, End: 2}},
	}
	withObserved := *rec
	withObserved.ObservedTimestamps = []kvpb.ObservedTimestamp{{NodeID: 2, Timestamp: ts}}
	if err := writeTxnRecord(db, &withObserved); err != nil {
		t.Fatal(err)
	}
	got, err := readTxnRecord(db, rec.Key, rec.ID)
	if err != nil || !reflect.DeepEqual(got, rec) {
		t.Fatalf("binary record: %+v, %v; want %+v", got, err, rec)
	}

	old := *rec
	old.ID = mvcc.TxnID{3}
	b, err := json.Marshal(&old)
	if err != nil {
		t.Fatal(err)
	}
	if err := mvcc.PutUnversioned(db, keys.TxnRecordKey(old.Key, old.ID), b); err != nil {
		t.Fatal(err)
	}
	got, err = readTxnRecord(db, old.Key, old.ID)
	if err != nil || !reflect.DeepEqual(got, &old) {
		t.Fatalf("JSON record: %+v, %v; want %+v", got, err, &old)
	}
}

// TestGCRemovesOldTxnRecords: garbage collection removes the records of transactions aborted
// or abandoned PENDING longer than TxnRecordTTL ago, and keeps the rest; old COMMITTED and
// STAGING ones (which may list unresolved intents, or need recovery) go to SettleTxnRecord.
// Afterwards none of the removed transactions gets a record again: a late commit,
// heartbeat or push finds them aborted.
func TestGCRemovesOldTxnRecords(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clock := hlc.NewClock(nil, hlc.DefaultMaxOffset)
	const ttl = time.Minute
	var settled []mvcc.TxnID // handed to SettleTxnRecord, whose coordinators died
	settle := func(_ context.Context, rec *kvpb.Transaction) error { settled = append(settled, rec.ID); return nil }
	s, err := OpenStore(ctx, StoreConfig{Dir: t.TempDir(), Clock: clock, TxnRecordTTL: ttl, GCInterval: time.Hour, SettleTxnRecord: settle})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := clock.Now()
	old := now.Add(-int64(2 * ttl))
	record := func(id byte, status kvpb.TxnStatus, start, heartbeat hlc.Timestamp) *kvpb.Transaction {
		rec := &kvpb.Transaction{TxnMeta: mvcc.TxnMeta{ID: mvcc.TxnID{id}, Key: []byte("\x10anchor"), WriteTimestamp: start, MinTimestamp: start},
			Status: status, ReadTimestamp: start, LastHeartbeat: heartbeat}
		if status == kvpb.Committed || status == kvpb.Staging {
			rec.LockSpans = []kvpb.Span{{Key: []byte("\x10elsewhere")}}
		}
		if err := writeTxnRecord(s.db, rec); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	abortedOld := record(1, kvpb.Aborted, old, old)
	pendingOld := record(2, kvpb.Pending, old, old)
	kept := []*kvpb.Transaction{
		record(3, kvpb.Committed, old, old),
		record(4, kvpb.Staging, old, old),
		record(5, kvpb.Aborted, now, now),
		record(6, kvpb.Pending, old, now), // old, but alive
	}
	if err := s.collectGarbage(ctx); err != nil {
		t.Fatal(err)
	}
	for _, rec := range []*kvpb.Transaction{abortedOld, pendingOld} {
		if got, err := readTxnRecord(s.db, rec.Key, rec.ID); err != nil || got != nil {
			t.Fatalf("%s record of %x after GC: %v, %v; want none", rec.Status, rec.ID[:1], got, err)
		}
	}
	for _, rec := range kept {
		if got, err := readTxnRecord(s.db, rec.Key, rec.ID); err != nil || got == nil {
			t.Fatalf("%s record of %x (heartbeat %s) after GC: %v, %v; want it kept", rec.Status, rec.ID[:1], rec.LastHeartbeat, got, err)
		}
	}
	if want := []mvcc.TxnID{kept[0].ID, kept[1].ID}; !reflect.DeepEqual(settled, want) {
		t.Fatalf("GC handed %v to be settled, want the old COMMITTED and STAGING records' %v", settled, want)
	}

	send := func(txn *kvpb.Transaction, req kvpb.Request) (kvpb.Response, error) {
		br, err := s.Send(ctx, &kvpb.BatchRequest{RangeID: 1, Txn: txn, Timestamp: clock.Now(), Requests: []kvpb.Request{req}})
		if err != nil {
			return nil, err
		}
		return br.Responses[0], nil
	}
	_, err = send(abortedOld, &kvpb.EndTxnRequest{Commit: true, LockSpans: []kvpb.Span{{Key: []byte("\x10anchor")}}})
	var retry *kvpb.TransactionRetryError
	if !errors.As(err, &retry) || !retry.Aborted || retry.Reason != kvpb.RetryRecordExpired {
		t.Fatalf("commit of a transaction whose aborted record was collected: %v, want it aborted", err)
	}
	resp, err := send(pendingOld, &kvpb.HeartbeatTxnRequest{Now: clock.Now()})
	if err != nil || resp.(*kvpb.HeartbeatTxnResponse).Txn.Status != kvpb.Aborted {
		t.Fatalf("heartbeat of a transaction whose record was collected: %v, %v; want ABORTED", resp, err)
	}
	if got, err := readTxnRecord(s.db, pendingOld.Key, pendingOld.ID); err != nil || got != nil {
		t.Fatalf("the heartbeat wrote a record: %v, %v", got, err)
	}
	// A push from a reader that met a recent intent of the old transaction.
	pushee := abortedOld.TxnMeta
	pushee.WriteTimestamp = clock.Now()
	resp, err = send(nil, &kvpb.PushTxnRequest{Pushee: pushee, Now: clock.Now(), PushTo: clock.Now()})
	if err != nil || resp.(*kvpb.PushTxnResponse).Pushee.Status != kvpb.Aborted {
		t.Fatalf("push of a transaction whose record was collected: %v, %v; want ABORTED", resp, err)
	}
}

// TestOnePhaseCommitSettlesItsRecord: a transaction committing in one phase that has a record
// (its heartbeat wrote it) removes it; one whose record is ABORTED (a pusher aborted it over
// a lock) cannot commit. The first kind of record used to stay PENDING for good.
func TestOnePhaseCommitSettlesItsRecord(t *testing.T) {
	ctx, s := storeForTxns(t)
	clock := s.cfg.Clock
	commit := func(txn *kvpb.Transaction, key string) (*kvpb.BatchResponse, error) {
		return s.Send(ctx, &kvpb.BatchRequest{RangeID: 1, Txn: txn, Timestamp: txn.ReadTimestamp, Requests: []kvpb.Request{
			&kvpb.PutRequest{Key: []byte(key), Value: []byte("v"), Sequence: 1},
			&kvpb.EndTxnRequest{Commit: true, LockSpans: []kvpb.Span{{Key: []byte(key)}}},
		}})
	}

	alive := pendingTxn(clock, 1, []byte("\x10a"))
	if _, err := s.Send(ctx, &kvpb.BatchRequest{RangeID: 1, Txn: alive, Requests: []kvpb.Request{&kvpb.HeartbeatTxnRequest{Now: clock.Now()}}}); err != nil {
		t.Fatal(err)
	}
	br, err := commit(alive, "\x10a")
	if err != nil || !br.Responses[1].(*kvpb.EndTxnResponse).OnePhaseCommit {
		t.Fatalf("one-phase commit: %v, %v", br, err)
	}
	if rec, err := readTxnRecord(s.db, alive.Key, alive.ID); err != nil || rec != nil {
		t.Fatalf("record after a one-phase commit: %v, %v; want none", rec, err)
	}
	if got := get(t, s, "\x10a"); got != "v" {
		t.Fatalf("\\x10a = %q after the commit", got)
	}

	aborted := pendingTxn(clock, 2, []byte("\x10b"))
	if _, err := s.Send(ctx, &kvpb.BatchRequest{RangeID: 1, Timestamp: clock.Now(), Requests: []kvpb.Request{
		&kvpb.PushTxnRequest{Pushee: aborted.TxnMeta, Now: clock.Now(), Force: true}}}); err != nil {
		t.Fatal(err)
	}
	_, err = commit(aborted, "\x10b")
	var retry *kvpb.TransactionRetryError
	if !errors.As(err, &retry) || !retry.Aborted {
		t.Fatalf("one-phase commit of an aborted transaction: %v, want it aborted", err)
	}
	if got := get(t, s, "\x10b"); got != "" {
		t.Fatalf("the aborted transaction's write is there: %q", got)
	}
}

// TestLatePushFindsTheTransactionFinished: a push that reaches the record's range after its
// transaction finished there and left no record (a reader met its intent just before the
// commit resolved it) is answered with how it ended, and writes no record. It used to
// write a PENDING record, which nothing ever removed.
func TestLatePushFindsTheTransactionFinished(t *testing.T) {
	ctx, s := storeForTxns(t)
	clock := s.cfg.Clock
	for _, commit := range []bool{true, false} {
		txn := pendingTxn(clock, 1, []byte("\x10k"))
		if commit {
			txn.ID[1] = 1
		}
		for _, req := range []kvpb.Request{
			&kvpb.PutRequest{Key: txn.Key, Value: []byte("v"), Sequence: 1},
			&kvpb.EndTxnRequest{Commit: commit, LockSpans: []kvpb.Span{{Key: txn.Key}}},
		} {
			if _, err := s.Send(ctx, &kvpb.BatchRequest{RangeID: 1, Txn: txn, Timestamp: txn.ReadTimestamp, Requests: []kvpb.Request{req}}); err != nil {
				t.Fatal(err)
			}
		}
		br, err := s.Send(ctx, &kvpb.BatchRequest{RangeID: 1, Timestamp: clock.Now(), Requests: []kvpb.Request{
			&kvpb.PushTxnRequest{Pushee: txn.TxnMeta, Now: clock.Now(), PushTo: clock.Now()}}})
		if err != nil {
			t.Fatal(err)
		}
		want := kvpb.Aborted
		if commit {
			want = kvpb.Committed
		}
		if got := br.Responses[0].(*kvpb.PushTxnResponse).Pushee; got.Status != want || commit && got.WriteTimestamp != txn.WriteTimestamp {
			t.Fatalf("late push (commit %t) answered %s at %s, want %s at %s", commit, got.Status, got.WriteTimestamp, want, txn.WriteTimestamp)
		}
		if rec, err := readTxnRecord(s.db, txn.Key, txn.ID); err != nil || rec != nil {
			t.Fatalf("the late push (commit %t) left a record: %v, %v", commit, rec, err)
		}
	}
}

// storeForTxns opens a store whose transactions can start now: it waits out the timestamp
// cache's low water, which the first lease sets ahead of the clock (a write below it is
// pushed, and a one-phase commit so pushed must refresh instead).
func storeForTxns(t *testing.T) (context.Context, *Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	s := openTestStore(t, t.TempDir())
	t.Cleanup(func() { s.Close() })
	time.Sleep(2*s.cfg.Clock.MaxOffset() + 100*time.Millisecond)
	return ctx, s
}
