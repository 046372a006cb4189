package raftlog

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
	"github.com/hashicorp/raft"

	"github.com/meridiandb/meridian/ranges/mvcc"
)

func openDB(t *testing.T, fs vfs.FS) *pebble.DB {
	t.Helper()
	db, err := mvcc.Open("", &pebble.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func entry(index, term uint64, data string) *raft.Log {
	return &raft.Log{Index: index, Term: term, Type: raft.LogCommand, Data: []byte(data)}
}

func edges(t *testing.T, s *Store) (uint64, uint64) {
	t.Helper()
	first, err := s.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	last, err := s.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	return first, last
}

func TestLogStore(t *testing.T) {
	db := openDB(t, vfs.NewMem())
	defer db.Close()
	s := New(db, []byte("r1/"))
	if f, l := edges(t, s); f != 0 || l != 0 {
		t.Fatalf("empty log: first %d last %d, want 0 0", f, l)
	}
	var got raft.Log
	if err := s.GetLog(1, &got); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("GetLog on empty log: %v, want ErrLogNotFound", err)
	}

	at := time.Unix(1700000000, 123)
	want := &raft.Log{Index: 1, Term: 2, Type: raft.LogConfiguration, Data: []byte("cfg"), Extensions: []byte("ext"), AppendedAt: at}
	if err := s.StoreLog(want); err != nil {
		t.Fatal(err)
	}
	var batch []*raft.Log
	for i := uint64(2); i <= 300; i++ { // crosses byte boundaries of the big-endian index
		batch = append(batch, entry(i, 3, "v"))
	}
	if err := s.StoreLogs(batch); err != nil {
		t.Fatal(err)
	}
	if f, l := edges(t, s); f != 1 || l != 300 {
		t.Fatalf("first %d last %d, want 1 300", f, l)
	}
	if err := s.GetLog(1, &got); err != nil {
		t.Fatal(err)
	}
	if got.Index != 1 || got.Term != 2 || got.Type != raft.LogConfiguration || string(got.Data) != "cfg" ||
		string(got.Extensions) != "ext" || !got.AppendedAt.Equal(at) {
		t.Fatalf("entry 1 = %+v, want %+v", got, want)
	}
	if err := s.GetLog(256, &got); err != nil || got.Index != 256 || got.Term != 3 || got.Extensions != nil || !got.AppendedAt.IsZero() {
		t.Fatalf("entry 256 = %+v, %v", got, err)
	}

	for _, tc := range []struct {
		min, max    uint64
		first, last uint64
	}{
		{1, 100, 101, 300},    // truncate the head after a snapshot
		{250, 300, 101, 249},  // drop a conflicting tail
		{50, 60, 101, 249},    // already gone: no-op
		{0, ^uint64(0), 0, 0}, // everything, with the maximum bound
	} {
		if err := s.DeleteRange(tc.min, tc.max); err != nil {
			t.Fatal(err)
		}
		if f, l := edges(t, s); f != tc.first || l != tc.last {
			t.Fatalf("after DeleteRange(%d, %d): first %d last %d, want %d %d", tc.min, tc.max, f, l, tc.first, tc.last)
		}
	}
}

func TestStableStore(t *testing.T) {
	db := openDB(t, vfs.NewMem())
	defer db.Close()
	s := New(db, []byte("r1/"))
	if _, err := s.Get([]byte("CurrentTerm")); err == nil || err.Error() != "not found" {
		// hashicorp/raft compares the message, not the value.
		t.Fatalf("Get of unset key: %v, want an error saying exactly \"not found\"", err)
	}
	if v, err := s.GetUint64([]byte("CurrentTerm")); err == nil || v != 0 {
		t.Fatalf("GetUint64 of unset key = %d, %v", v, err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 7); err != nil {
		t.Fatal(err)
	}
	if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != 7 {
		t.Fatalf("GetUint64 = %d, %v; want 7", v, err)
	}
	if err := s.Set([]byte("LastVoteCand"), []byte("node-2")); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get([]byte("LastVoteCand")); err != nil || string(v) != "node-2" {
		t.Fatalf("Get = %q, %v", v, err)
	}
}

// TestGroupsAreIsolated: groups sharing a database see only their own entries and state, and
// destroying one leaves the others intact.
func TestGroupsAreIsolated(t *testing.T) {
	db := openDB(t, vfs.NewMem())
	defer db.Close()
	a, b := New(db, []byte("r1/")), New(db, []byte("r2/"))
	if err := a.StoreLogs([]*raft.Log{entry(5, 1, "a5"), entry(6, 1, "a6")}); err != nil {
		t.Fatal(err)
	}
	if err := b.StoreLogs([]*raft.Log{entry(1, 1, "b1")}); err != nil {
		t.Fatal(err)
	}
	if err := a.SetUint64([]byte("CurrentTerm"), 4); err != nil {
		t.Fatal(err)
	}
	if f, l := edges(t, a); f != 5 || l != 6 {
		t.Fatalf("group a: first %d last %d", f, l)
	}
	if f, l := edges(t, b); f != 1 || l != 1 {
		t.Fatalf("group b: first %d last %d", f, l)
	}
	if _, err := b.GetUint64([]byte("CurrentTerm")); err == nil {
		t.Fatal("group b sees group a's term")
	}
	if err := a.Destroy(); err != nil {
		t.Fatal(err)
	}
	if f, l := edges(t, a); f != 0 || l != 0 {
		t.Fatalf("destroyed group: first %d last %d", f, l)
	}
	if _, err := a.GetUint64([]byte("CurrentTerm")); err == nil {
		t.Fatal("destroyed group keeps its term")
	}
	var got raft.Log
	if err := b.GetLog(1, &got); err != nil || string(got.Data) != "b1" {
		t.Fatalf("group b after destroying a: %+v, %v", got, err)
	}
}

// TestDurableAcrossCrash: what StoreLogs and Set acknowledged survives losing everything
// that was not synced.
func TestDurableAcrossCrash(t *testing.T) {
	fs := vfs.NewStrictMem()
	db := openDB(t, fs)
	s := New(db, []byte("r1/"))
	if err := s.SetUint64([]byte("CurrentTerm"), 1); err != nil {
		t.Fatal(err)
	}
	if err := s.StoreLogs([]*raft.Log{entry(1, 1, "one"), entry(2, 1, "two")}); err != nil {
		t.Fatal(err)
	}
	fs.SetIgnoreSyncs(true) // the "crash": nothing after this point reaches the disk
	_ = db.Close()
	fs.ResetToSyncedState()
	fs.SetIgnoreSyncs(false)

	db = openDB(t, fs)
	defer db.Close()
	s = New(db, []byte("r1/"))
	if f, l := edges(t, s); f != 1 || l != 2 {
		t.Fatalf("after crash: first %d last %d, want 1 2", f, l)
	}
	var got raft.Log
	if err := s.GetLog(2, &got); err != nil || !bytes.Equal(got.Data, []byte("two")) {
		t.Fatalf("entry 2 after crash: %+v, %v", got, err)
	}
	if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != 1 {
		t.Fatalf("term after crash = %d, %v", v, err)
	}
}

func TestDecodeRejectsCorruptEntries(t *testing.T) {
	good := appendEntry(nil, &raft.Log{Term: 9, Type: raft.LogCommand, Data: []byte("payload"), Extensions: []byte("x")})
	var l raft.Log
	if err := decodeEntry(good, &l); err != nil || l.Term != 9 || string(l.Data) != "payload" {
		t.Fatalf("good entry: %+v, %v", l, err)
	}
	for i := 0; i < len(good); i++ {
		if err := decodeEntry(good[:i], &l); err == nil {
			t.Fatalf("truncated to %d bytes: decoded without error", i)
		}
	}
	if err := decodeEntry(append(good, 0), &l); err == nil {
		t.Fatal("trailing byte: decoded without error")
	}
	bad := append([]byte{entryVersion + 1}, good[1:]...)
	if err := decodeEntry(bad, &l); err == nil {
		t.Fatal("unknown version: decoded without error")
	}
}
