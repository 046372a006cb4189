package mvcc

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"

	"github.com/meridiandb/meridian/hlc"
)

func openMem(t testing.TB) *pebble.DB {
	t.Helper()
	db, err := Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func ts(w int64) hlc.Timestamp { return hlc.Timestamp{WallTime: w} }

// apply runs f in an indexed batch and commits it.
func apply(t testing.TB, db *pebble.DB, f func(b *pebble.Batch) error) error {
	t.Helper()
	b := db.NewIndexedBatch()
	defer b.Close()
	if err := f(b); err != nil {
		return err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	return nil
}

func mustGet(t *testing.T, r pebble.Reader, key string, at int64, opts ReadOptions) string {
	t.Helper()
	kv, err := Get(r, []byte(key), ts(at), opts)
	if err != nil {
		t.Fatalf("Get(%q@%d): %v", key, at, err)
	}
	if kv == nil {
		return "<nil>"
	}
	return string(kv.Value)
}

func TestKeyEncoding(t *testing.T) {
	keys := [][]byte{{}, {0}, {0, 0}, {0, 1}, {0, 0xff}, []byte("a"), []byte("a\x00"), []byte("a\x00b"), []byte("a\x01"), []byte("ab"), {0xff, 0xff}}
	for i, k := range keys {
		for _, stamp := range []hlc.Timestamp{{}, ts(5), {WallTime: 5, Logical: 3}} {
			u, got, err := DecodeKey(EncodeKey(k, stamp))
			if err != nil || !bytes.Equal(u, k) || got != stamp {
				t.Fatalf("round trip of %q@%s: %q@%s, %v", k, stamp, u, got, err)
			}
		}
		if i == 0 {
			continue
		}
		// Every engine key of a smaller user key sorts before every engine key of a larger one.
		prevMax := EncodeKey(keys[i-1], ts(1))
		if bytes.Compare(prevMax, EncodeKey(k, hlc.Timestamp{})) >= 0 {
			t.Fatalf("%q's versions do not sort before %q's meta", keys[i-1], k)
		}
	}
	// Meta first, then versions newest first.
	if !(bytes.Compare(EncodeKey([]byte("k"), hlc.Timestamp{}), EncodeKey([]byte("k"), ts(9))) < 0 &&
		bytes.Compare(EncodeKey([]byte("k"), ts(9)), EncodeKey([]byte("k"), ts(3))) < 0) {
		t.Fatal("version order wrong")
	}
}

func TestVersionsAndTombstones(t *testing.T) {
	db := openMem(t)
	for _, w := range []struct {
		at  int64
		val string
	}{{10, "a"}, {20, "b"}, {30, ""}, {40, "d"}} {
		if err := apply(t, db, func(b *pebble.Batch) error {
			if w.val == "" {
				return Delete(b, []byte("k"), ts(w.at), ts(w.at), nil)
			}
			return Put(b, []byte("k"), ts(w.at), ts(w.at), []byte(w.val), nil)
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		at   int64
		want string
	}{{5, "<nil>"}, {10, "a"}, {15, "a"}, {20, "b"}, {29, "b"}, {30, "<nil>"}, {35, "<nil>"}, {40, "d"}, {100, "d"}} {
		if got := mustGet(t, db, "k", c.at, ReadOptions{}); got != c.want {
			t.Errorf("k@%d = %s, want %s", c.at, got, c.want)
		}
	}
	// Writing below the newest version is too old.
	err := apply(t, db, func(b *pebble.Batch) error { return Put(b, []byte("k"), ts(35), ts(35), []byte("x"), nil) })
	var wto *WriteTooOldError
	if !errors.As(err, &wto) || wto.ActualTimestamp != ts(40).Next() {
		t.Fatalf("write below newest: %v", err)
	}
	// Uncertainty: a value in (read, limit] fails the read.
	_, err = Get(db, []byte("k"), ts(35), ReadOptions{Uncertainty: UncertaintyInterval{GlobalLimit: ts(45)}})
	var rwu *ReadWithinUncertaintyIntervalError
	if !errors.As(err, &rwu) || rwu.ExistingTimestamp != ts(40) {
		t.Fatalf("uncertain read: %v", err)
	}
	if got := mustGet(t, db, "k", 35, ReadOptions{Uncertainty: UncertaintyInterval{GlobalLimit: ts(39)}}); got != "<nil>" {
		t.Fatalf("read below uncertainty window = %s", got)
	}
}

func TestIntents(t *testing.T) {
	db := openMem(t)
	txn := &TxnMeta{ID: TxnID{1}, Key: []byte("k"), WriteTimestamp: ts(20), MinTimestamp: ts(20)}
	other := &TxnMeta{ID: TxnID{2}, Key: []byte("z"), WriteTimestamp: ts(25)}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(apply(t, db, func(b *pebble.Batch) error { return Put(b, []byte("k"), ts(10), ts(10), []byte("old"), nil) }))
	must(apply(t, db, func(b *pebble.Batch) error { return Put(b, []byte("k"), ts(20), ts(20), []byte("new"), txn) }))

	if got := mustGet(t, db, "k", 20, ReadOptions{Txn: txn}); got != "new" {
		t.Fatalf("own intent = %s", got)
	}
	if got := mustGet(t, db, "k", 15, ReadOptions{}); got != "old" {
		t.Fatalf("read below intent = %s", got)
	}
	if got := mustGet(t, db, "k", 30, ReadOptions{Inconsistent: true}); got != "old" {
		t.Fatalf("inconsistent read = %s", got)
	}
	var wie *WriteIntentError
	if _, err := Get(db, []byte("k"), ts(30), ReadOptions{}); !errors.As(err, &wie) || wie.Intents[0].Txn.ID != txn.ID {
		t.Fatalf("read above intent: %v", err)
	}
	older := *txn
	older.Epoch = 1
	if got := mustGet(t, db, "k", 30, ReadOptions{Txn: &older}); got != "old" {
		t.Fatalf("a restarted txn read its dead intent: %s", got)
	}
	if err := apply(t, db, func(b *pebble.Batch) error { return Put(b, []byte("k"), ts(25), ts(25), []byte("x"), other) }); !errors.As(err, &wie) {
		t.Fatalf("write over another's intent: %v", err)
	}
	// CPut sees the own intent as live; rewriting moves the provisional value.
	if err := apply(t, db, func(b *pebble.Batch) error {
		return ConditionalPut(b, []byte("k"), ts(22), ts(22), []byte("y"), txn, true, nil)
	}); err == nil {
		t.Fatal("CPut over own live intent succeeded")
	}
	moved := *txn
	moved.WriteTimestamp = ts(22)
	must(apply(t, db, func(b *pebble.Batch) error { return Put(b, []byte("k"), ts(22), ts(22), []byte("newer"), &moved) }))
	if got := mustGet(t, db, "k", 22, ReadOptions{Txn: &moved}); got != "newer" {
		t.Fatalf("rewritten intent = %s", got)
	}
	// Commit at a later timestamp moves the value.
	must(apply(t, db, func(b *pebble.Batch) error {
		ok, err := ResolveIntent(b, []byte("k"), txn.ID, true, ts(28), nil)
		if !ok {
			return fmt.Errorf("intent not found")
		}
		return err
	}))
	for _, c := range []struct {
		at   int64
		want string
	}{{21, "old"}, {27, "old"}, {28, "newer"}} {
		if got := mustGet(t, db, "k", c.at, ReadOptions{}); got != c.want {
			t.Errorf("after commit k@%d = %s, want %s", c.at, got, c.want)
		}
	}
	// Abort removes everything the intent wrote.
	must(apply(t, db, func(b *pebble.Batch) error { return Put(b, []byte("a"), ts(30), ts(30), []byte("tmp"), other) }))
	must(apply(t, db, func(b *pebble.Batch) error {
		_, err := ResolveIntentRange(b, []byte("a"), []byte("b"), other.ID, false, hlc.Timestamp{}, nil)
		return err
	}))
	if got := mustGet(t, db, "a", 100, ReadOptions{}); got != "<nil>" {
		t.Fatalf("aborted intent visible: %s", got)
	}
}

func TestConditionalPut(t *testing.T) {
	db := openMem(t)
	cput := func(at int64, v string) error {
		return apply(t, db, func(b *pebble.Batch) error {
			return ConditionalPut(b, []byte("u"), ts(at), ts(at), []byte(v), nil, true, nil)
		})
	}
	if err := cput(10, "1"); err != nil {
		t.Fatal(err)
	}
	var cfe *ConditionFailedError
	if err := cput(20, "2"); !errors.As(err, &cfe) || string(cfe.ActualValue) != "1" || string(cfe.Key) != "u" {
		t.Fatalf("CPut over live value: %v", err)
	}
	if err := apply(t, db, func(b *pebble.Batch) error { return Delete(b, []byte("u"), ts(30), ts(30), nil) }); err != nil {
		t.Fatal(err)
	}
	if err := cput(40, "3"); err != nil {
		t.Fatalf("CPut over deleted key: %v", err)
	}
}

func TestScanPagination(t *testing.T) {
	db := openMem(t)
	var want []string
	for i := 0; i < 20; i++ {
		k := fmt.Sprintf("k%02d", i)
		if err := apply(t, db, func(b *pebble.Batch) error { return Put(b, []byte(k), ts(10), ts(10), []byte(k), nil) }); err != nil {
			t.Fatal(err)
		}
		if i%5 == 3 {
			if err := apply(t, db, func(b *pebble.Batch) error { return Delete(b, []byte(k), ts(11), ts(11), nil) }); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want = append(want, k)
	}
	for _, reverse := range []bool{false, true} {
		var got []string
		start, end := []byte("k"), []byte("l")
		for pages := 0; ; pages++ {
			res, err := Scan(db, start, end, ts(20), ScanOptions{MaxKeys: 3, Reverse: reverse})
			if err != nil {
				t.Fatal(err)
			}
			for _, kv := range res.KVs {
				got = append(got, string(kv.Key))
			}
			if res.ResumeKey == nil {
				break
			}
			if reverse {
				end = res.ResumeKey
			} else {
				start = res.ResumeKey
			}
			if pages > 20 {
				t.Fatal("scan does not end")
			}
		}
		w := append([]string(nil), want...)
		if reverse {
			sort.Sort(sort.Reverse(sort.StringSlice(w)))
		}
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Fatalf("reverse=%v: got %v, want %v", reverse, got, w)
		}
	}
}

func TestScanCollectsIntents(t *testing.T) {
	db := openMem(t)
	for i, id := range []byte{1, 2, 3} {
		txn := &TxnMeta{ID: TxnID{id}, WriteTimestamp: ts(10)}
		k := []byte(fmt.Sprintf("k%d", i))
		if err := apply(t, db, func(b *pebble.Batch) error { return Put(b, k, ts(10), ts(10), []byte("v"), txn) }); err != nil {
			t.Fatal(err)
		}
	}
	_, err := Scan(db, []byte("k"), []byte("l"), ts(20), ScanOptions{})
	var wie *WriteIntentError
	if !errors.As(err, &wie) || len(wie.Intents) != 3 {
		t.Fatalf("scan over 3 intents: %v", err)
	}
}

func TestCheckNoNewerWrites(t *testing.T) {
	db := openMem(t)
	me, other := TxnID{1}, TxnID{2}
	_ = apply(t, db, func(b *pebble.Batch) error { return Put(b, []byte("a"), ts(15), ts(15), []byte("v"), nil) })
	_ = apply(t, db, func(b *pebble.Batch) error {
		return Put(b, []byte("b"), ts(18), ts(18), []byte("mine"), &TxnMeta{ID: me, WriteTimestamp: ts(18)})
	})
	_ = apply(t, db, func(b *pebble.Batch) error {
		return Put(b, []byte("c"), ts(30), ts(30), []byte("theirs"), &TxnMeta{ID: other, WriteTimestamp: ts(30)})
	})
	for _, c := range []struct {
		start, end string
		from, to   int64
		conflict   bool
	}{
		{"a", "", 10, 20, true},  // committed in (10, 20]
		{"a", "", 15, 20, false}, // at from: already read
		{"b", "", 10, 20, false}, // own intent
		{"c", "", 10, 20, false}, // intent above to
		{"c", "", 10, 30, true},  // intent at to
		{"a", "z", 16, 29, false},
		{"a", "z", 10, 29, true},
	} {
		var end []byte
		if c.end != "" {
			end = []byte(c.end)
		}
		err := CheckNoNewerWrites(db, []byte(c.start), end, ts(c.from), ts(c.to), me)
		var rce *RefreshConflictError
		if got := errors.As(err, &rce); got != c.conflict || (err != nil && rce == nil) {
			t.Errorf("refresh [%s,%s) %d→%d: %v, want conflict=%v", c.start, c.end, c.from, c.to, err, c.conflict)
		}
	}
}

func TestGC(t *testing.T) {
	db := openMem(t)
	write := func(k string, at int64, v string) {
		if err := apply(t, db, func(b *pebble.Batch) error {
			if v == "" {
				return Delete(b, []byte(k), ts(at), ts(at), nil)
			}
			return Put(b, []byte(k), ts(at), ts(at), []byte(v), nil)
		}); err != nil {
			t.Fatal(err)
		}
	}
	write("a", 10, "a1")
	write("a", 20, "a2")
	write("a", 30, "a3")
	write("b", 10, "b1")
	write("b", 20, "") // deleted before the threshold: all gone
	write("c", 40, "c1")
	var st GCStats
	if err := apply(t, db, func(b *pebble.Batch) error {
		var err error
		st, err = GC(b, []byte("a"), []byte("z"), ts(25))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if st.VersionsRemoved != 3 {
		t.Fatalf("removed %d versions, want 3 (a@10, b@10, b@20)", st.VersionsRemoved)
	}
	for _, c := range []struct {
		k    string
		at   int64
		want string
	}{{"a", 25, "a2"}, {"a", 30, "a3"}, {"a", 15, "<nil>"}, {"b", 25, "<nil>"}, {"c", 50, "c1"}} {
		if got := mustGet(t, db, c.k, c.at, ReadOptions{}); got != c.want {
			t.Errorf("after GC %s@%d = %s, want %s", c.k, c.at, got, c.want)
		}
	}
}

func TestTxnMetaEncoding(t *testing.T) {
	m := TxnMeta{ID: TxnID{0xde, 0xad, 15: 0x01}, Key: []byte("anchor\x00"), Epoch: 3,
		WriteTimestamp: hlc.Timestamp{WallTime: 1 << 40, Logical: 7}, MinTimestamp: ts(9), Priority: -5, Sequence: 42}
	b := encodeMeta(&m)
	got, err := decodeMeta(b)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(m) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	// A version 1 meta, written before intents carried their request's sequence number.
	v1 := append([]byte{1}, b[1:len(b)-4]...)
	m.Sequence = 0
	if got, err := decodeMeta(v1); err != nil || fmt.Sprint(got) != fmt.Sprint(m) {
		t.Fatalf("version 1: %+v, %v", got, err)
	}
	for _, bad := range [][]byte{nil, b[:10], b[:len(b)-1], append([]byte{9}, b[1:]...)} {
		if _, err := decodeMeta(bad); err == nil {
			t.Errorf("decodeMeta(%x) succeeded", bad)
		}
	}
	if s := m.ID.String(); s != "dead0000-0000-0000-0000-000000000001" || m.ID.IsEmpty() || !(TxnID{}).IsEmpty() {
		t.Errorf("TxnID: %s", s)
	}
}

// TestWriteReplay: a conditional write sent again finds the intent it wrote, by its sequence
// number, and succeeds; another conditional write of the same transaction does not.
func TestWriteReplay(t *testing.T) {
	db := openMem(t)
	txn := &TxnMeta{ID: TxnID{7}, Key: []byte("k"), WriteTimestamp: ts(10), MinTimestamp: ts(10), Sequence: 1}
	cput := func(m *TxnMeta) error {
		return apply(t, db, func(b *pebble.Batch) error {
			return ConditionalPut(b, []byte("k"), ts(10), ts(10), []byte("v"), m, true, nil)
		})
	}
	if err := cput(txn); err != nil {
		t.Fatal(err)
	}
	if err := cput(txn); err != nil {
		t.Fatalf("the same write again: %v", err)
	}
	next := *txn
	next.Sequence = 2
	var cfe *ConditionFailedError
	if err := cput(&next); !errors.As(err, &cfe) {
		t.Fatalf("a second insert of the key by the transaction: %v, want ConditionFailedError", err)
	}
}

func TestErrorStrings(t *testing.T) {
	intent := Intent{Key: []byte("k"), Txn: TxnMeta{ID: TxnID{1}}}
	for _, c := range []struct {
		err  error
		want string
	}{
		{&WriteIntentError{Intents: []Intent{intent}}, `conflicting intent on key "k" of transaction 01000000-`},
		{&WriteIntentError{Intents: []Intent{intent, intent}}, "2 conflicting intents"},
		{&WriteTooOldError{Timestamp: ts(5), ActualTimestamp: ts(6)}, "write at 0.000000005,0 too old"},
		{&ConditionFailedError{ActualValue: []byte("v")}, `"v"`},
		{&ReadWithinUncertaintyIntervalError{ReadTimestamp: ts(5), ExistingTimestamp: ts(6)}, "uncertainty"},
		{&RefreshConflictError{Key: []byte("k"), Timestamp: ts(6)}, `key "k" was written at 0.000000006,0`},
	} {
		if !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%T.Error() = %q, want it to contain %q", c.err, c.err.Error(), c.want)
		}
	}
}

func TestOpenRejectsForeignComparer(t *testing.T) {
	if db, err := Open("", &pebble.Options{FS: vfs.NewMem(), Comparer: pebble.DefaultComparer}); err == nil {
		db.Close()
		t.Fatal("Open accepted a comparer without the MVCC split")
	}
}

// TestScanIntentCap checks that a scan over many intents stops collecting at the cap.
func TestScanIntentCap(t *testing.T) {
	db := openMem(t)
	txn := &TxnMeta{ID: TxnID{1}, WriteTimestamp: ts(10)}
	if err := apply(t, db, func(b *pebble.Batch) error {
		for i := 0; i < 250; i++ {
			if err := Put(b, []byte(fmt.Sprintf("k%03d", i)), ts(10), ts(10), []byte("v"), txn); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err := Scan(db, []byte("k"), []byte("l"), ts(20), ScanOptions{})
	var wie *WriteIntentError
	if !errors.As(err, &wie) || len(wie.Intents) != maxIntentsPerError || string(wie.Intents[0].Key) != "k000" {
		t.Fatalf("scan over 250 intents: %v", err)
	}
}
