package ranges

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

func openTestStore(t testing.TB, dir string) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := OpenStore(ctx, StoreConfig{Dir: dir, NodeID: 1, StoreID: 1, Clock: hlc.NewClock(nil, hlc.DefaultMaxOffset)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func put(t testing.TB, s *Store, key, value string) {
	t.Helper()
	ba := &kvpb.BatchRequest{Requests: []kvpb.Request{&kvpb.PutRequest{Key: []byte(key), Value: []byte(value)}}}
	if _, err := s.Send(context.Background(), ba); err != nil {
		t.Fatal(err)
	}
}

func get(t testing.TB, s *Store, key string) string {
	t.Helper()
	ba := &kvpb.BatchRequest{Requests: []kvpb.Request{&kvpb.GetRequest{Key: []byte(key)}}}
	br, err := s.Send(context.Background(), ba)
	if err != nil {
		t.Fatal(err)
	}
	kv := br.Responses[0].(*kvpb.GetResponse).Value
	if kv == nil {
		return ""
	}
	return string(kv.Value)
}

// TestRestartDoesNotReapply writes through Raft, restarts the store, and checks that every
// write is there and that the entries Raft replays on start are skipped, not applied again.
func TestRestartDoesNotReapply(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	const n = 100
	for i := 0; i < n; i++ {
		put(t, s, fmt.Sprintf("\x10key%03d", i), fmt.Sprint(i))
	}
	r1 := s.replicas[1]
	applied := r1.AppliedIndex()
	if applied < n {
		t.Fatalf("applied index %d after %d writes", applied, n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTestStore(t, dir)
	defer s.Close()
	for i := 0; i < n; i++ {
		if got := get(t, s, fmt.Sprintf("\x10key%03d", i)); got != fmt.Sprint(i) {
			t.Fatalf("key %d = %q after restart", i, got)
		}
	}
	fsm := s.replicas[1].fsm
	// The new term's leader writes one entry of its own; everything else is already in Pebble.
	if a := fsm.appliedEntries.Load(); a > 2 {
		t.Fatalf("restart applied %d entries again (skipped %d)", a, fsm.skippedEntries.Load())
	}
	if got := s.replicas[1].AppliedIndex(); got < applied {
		t.Fatalf("applied index went back from %d to %d", applied, got)
	}
}

// TestReapplyIsNoop hands the state machine an entry it has already applied.
func TestReapplyIsNoop(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	put(t, s, "\x10a", "1")
	fsm := s.replicas[1].fsm
	before := fsm.appliedIndex()
	// Re-deliver the last entry with different contents: it must be ignored.
	put(t, s, "\x10a", "2")
	idx := fsm.appliedIndex()
	if idx <= before {
		t.Fatal("second write did not advance the applied index")
	}
	skipped := fsm.skippedEntries.Load()
	if res := fsm.Apply(rawLog(idx, nil)); res != nil {
		t.Fatalf("re-apply returned %v", res)
	}
	if fsm.skippedEntries.Load() != skipped+1 || fsm.appliedIndex() != idx {
		t.Fatal("re-applied entry was not skipped")
	}
	if got := get(t, s, "\x10a"); got != "2" {
		t.Fatalf("value = %q, want 2", got)
	}
}

// TestSnapshotTruncatesLogAndRestarts: after a Raft snapshot truncates the log, the log
// really is shorter, and a restart still finds every write without replaying from zero.
func TestSnapshotTruncatesLogAndRestarts(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := StoreConfig{Dir: dir, NodeID: 1, StoreID: 1, Clock: hlc.NewClock(nil, hlc.DefaultMaxOffset), RaftSnapshotThreshold: 16}
	s, err := OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := 0; i < n; i++ {
		put(t, s, fmt.Sprintf("\x10key%03d", i), fmt.Sprint(i))
	}
	r := s.replicas[1]
	if err := r.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	first, err := r.logStore.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	if first <= 1 {
		t.Fatalf("log still starts at %d after a snapshot", first)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < n; i++ {
		if got := get(t, s, fmt.Sprintf("\x10key%03d", i)); got != fmt.Sprint(i) {
			t.Fatalf("key %d = %q after restart", i, got)
		}
	}
	put(t, s, "\x10after", "x")
	if got := get(t, s, "\x10after"); got != "x" {
		t.Fatalf("write after restart = %q", got)
	}
}

// BenchmarkReplicatedPut measures one non-transactional write through Raft (log append with
// fsync, then apply to Pebble).
func BenchmarkReplicatedPut(b *testing.B) {
	s := openTestStore(b, b.TempDir())
	defer s.Close()
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ba := &kvpb.BatchRequest{Requests: []kvpb.Request{&kvpb.PutRequest{Key: []byte(fmt.Sprintf("\x10k%09d", i)), Value: []byte("value")}}}
		if _, err := s.Send(ctx, ba); err != nil {
			b.Fatal(err)
		}
	}
}

func rawLog(index uint64, data []byte) *raft.Log {
	return &raft.Log{Index: index, Type: raft.LogCommand, Data: data}
}

// TestStaleLeaseCommandRejected: a command evaluated under one lease (Raft term) that
// reaches the log in another is not applied, though its index is.
func TestStaleLeaseCommandRejected(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	fsm := s.replicas[1].fsm
	b := s.db.NewIndexedBatch()
	if err := mvcc.Put(b, []byte("\x10stale"), hlc.Timestamp{WallTime: 1}, hlc.Timestamp{WallTime: 1}, []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	repr := append([]byte(nil), b.Repr()...)
	b.Close()
	next := fsm.appliedIndex() + 1

	res := fsm.Apply(&raft.Log{Index: next, Term: 7, Type: raft.LogCommand, Data: encodeCommand(command{leaseTerm: 6, repr: repr})})
	var stale *staleLeaseError
	if err, _ := res.(error); !errors.As(err, &stale) {
		t.Fatalf("Apply under a newer term = %v, want a staleLeaseError", res)
	}
	if fsm.appliedIndex() != next {
		t.Fatalf("applied index %d, want %d: a rejected command still takes its index", fsm.appliedIndex(), next)
	}
	if kv, err := mvcc.Get(s.db, []byte("\x10stale"), hlc.MaxTimestamp, mvcc.ReadOptions{}); err != nil || kv != nil {
		t.Fatalf("the rejected command's write is there: %v, %v", kv, err)
	}

	res = fsm.Apply(&raft.Log{Index: next + 1, Term: 7, Type: raft.LogCommand, Data: encodeCommand(command{leaseTerm: 7, repr: repr})})
	if res != nil {
		t.Fatalf("Apply under its own term = %v", res)
	}
	if kv, err := mvcc.Get(s.db, []byte("\x10stale"), hlc.MaxTimestamp, mvcc.ReadOptions{}); err != nil || kv == nil {
		t.Fatalf("the command's write is missing: %v, %v", kv, err)
	}
}

// TestEmptyBatch: a batch with no requests, addressed to a range, gets an empty answer, not a
// panic in the node.
func TestEmptyBatch(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	br, err := s.Send(context.Background(), &kvpb.BatchRequest{RangeID: 1})
	if err != nil || len(br.Responses) != 0 {
		t.Fatalf("empty batch: %+v, %v", br, err)
	}
}
