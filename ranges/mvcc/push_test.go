package mvcc

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble"

	"github.com/meridiandb/meridian/hlc"
)

// TestPushIntent moves a pushed transaction's intent above a reader: the reader then sees the
// committed value below it, the writer still sees its own write, and committing at the pushed
// timestamp leaves exactly one new version.
func TestPushIntent(t *testing.T) {
	db := openMem(t)
	writer := &TxnMeta{ID: TxnID{7}, Key: []byte("k"), WriteTimestamp: ts(20), MinTimestamp: ts(20)}
	if err := apply(t, db, func(b *pebble.Batch) error { return Put(b, []byte("k"), ts(10), ts(10), []byte("old"), nil) }); err != nil {
		t.Fatal(err)
	}
	if err := apply(t, db, func(b *pebble.Batch) error { return Put(b, []byte("k"), ts(20), ts(20), []byte("new"), writer) }); err != nil {
		t.Fatal(err)
	}
	var wie *WriteIntentError
	if _, err := Get(db, []byte("k"), ts(30), ReadOptions{}); !errors.As(err, &wie) {
		t.Fatalf("read above the intent: %v", err)
	}
	for _, c := range []struct {
		to    int64
		moved bool
	}{{31, true}, {31, false}, {25, false}} {
		var moved bool
		if err := apply(t, db, func(b *pebble.Batch) error {
			var err error
			moved, err = PushIntent(b, []byte("k"), writer.ID, ts(c.to))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if moved != c.moved {
			t.Fatalf("push to %d moved=%v, want %v", c.to, moved, c.moved)
		}
	}
	if got := mustGet(t, db, "k", 30, ReadOptions{}); got != "old" {
		t.Fatalf("reader after the push sees %s", got)
	}
	pushed := *writer
	pushed.WriteTimestamp = ts(31)
	if got := mustGet(t, db, "k", 31, ReadOptions{Txn: &pushed}); got != "new" {
		t.Fatalf("writer after the push sees %s", got)
	}
	if err := apply(t, db, func(b *pebble.Batch) error {
		_, err := ResolveIntent(b, []byte("k"), writer.ID, true, ts(31), nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for at, want := range map[int64]string{30: "old", 31: "new", 20: "old"} {
		if got := mustGet(t, db, "k", at, ReadOptions{}); got != want {
			t.Errorf("after commit k@%d = %s, want %s", at, got, want)
		}
	}
	// Another transaction's intent is left alone.
	if moved, err := PushIntent(db.NewIndexedBatch(), []byte("k"), TxnID{9}, ts(50)); moved || err != nil {
		t.Fatalf("pushing an absent intent: %v %v", moved, err)
	}
}

// TestCommitBelowIntentIsReported: resolving an intent as committed below its timestamp (a
// coordinator that lost track of where a write landed) is reported; at or above it is not,
// nor is an abort.
func TestCommitBelowIntentIsReported(t *testing.T) {
	var reported []string
	report := func(key []byte, intentTS, commitTS hlc.Timestamp) {
		reported = append(reported, fmt.Sprintf("%s %d<%d", key, commitTS.WallTime, intentTS.WallTime))
	}
	old := CommitBelowIntent.Swap(&report)
	defer CommitBelowIntent.Store(old)
	db := openMem(t)
	for _, c := range []struct {
		key    string
		commit bool
		at     int64
		want   string
	}{
		{"above", true, 30, ""},
		{"at", true, 20, ""},
		{"aborted", false, 10, ""},
		{"below", true, 10, "below 10<20"},
	} {
		reported = nil
		writer := &TxnMeta{ID: TxnID{7}, Key: []byte(c.key), WriteTimestamp: ts(20), MinTimestamp: ts(20)}
		if err := apply(t, db, func(b *pebble.Batch) error { return Put(b, []byte(c.key), ts(20), ts(20), []byte("v"), writer) }); err != nil {
			t.Fatal(err)
		}
		if err := apply(t, db, func(b *pebble.Batch) error {
			_, err := ResolveIntent(b, []byte(c.key), writer.ID, c.commit, ts(c.at), nil)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(reported, ","); got != c.want {
			t.Errorf("%s: reported %q, want %q", c.key, got, c.want)
		}
	}
}
