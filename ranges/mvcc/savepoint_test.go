package mvcc

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble"
)

// seqWrite is one numbered write of a transaction to key "k"; an empty value deletes.
type seqWrite struct {
	seq   int32
	value string
}

// TestIgnoredSequences writes numbered intents over a committed value, rolls some of them
// back (ignored sequence ranges), and checks what the transaction reads, what a conditional
// write sees, and what committing leaves for everyone.
func TestIgnoredSequences(t *testing.T) {
	v123 := []seqWrite{{1, "v1"}, {2, "v2"}, {3, "v3"}}
	for _, c := range []struct {
		name    string
		base    string // committed at 5 before the transaction, "" for none
		writes  []seqWrite
		ignored []SeqRange
		// want is what the transaction reads, and then everyone after the commit ("<nil>":
		// no value).
		want string
	}{
		{"nothing ignored", "base", v123, nil, "v3"},
		{"latest two ignored", "base", v123, []SeqRange{{2, 3}}, "v1"},
		{"latest ignored", "base", v123, []SeqRange{{3, 3}}, "v2"},
		{"a middle one ignored", "base", v123, []SeqRange{{2, 2}}, "v3"},
		{"the first ignored", "base", v123, []SeqRange{{1, 1}}, "v3"},
		{"two ranges", "base", v123, []SeqRange{{1, 1}, {3, 3}}, "v2"},
		{"all ignored, base beneath", "base", v123, []SeqRange{{1, 3}}, "base"},
		{"all ignored, nothing beneath", "", v123, []SeqRange{{1, 5}}, "<nil>"},
		{"deletion kept", "base", []seqWrite{{1, "v1"}, {2, ""}}, nil, "<nil>"},
		{"deletion ignored", "base", []seqWrite{{1, "v1"}, {2, ""}}, []SeqRange{{2, 2}}, "v1"},
		{"deletion restored", "base", []seqWrite{{1, ""}, {2, "v2"}}, []SeqRange{{2, 2}}, "<nil>"},
		{"one write ignored", "base", []seqWrite{{4, "v4"}}, []SeqRange{{4, 4}}, "base"},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := openMem(t)
			txn := &TxnMeta{ID: TxnID{1}, Key: []byte("k"), WriteTimestamp: ts(10), MinTimestamp: ts(10)}
			if c.base != "" {
				if err := apply(t, db, func(b *pebble.Batch) error { return Put(b, []byte("k"), ts(5), ts(5), []byte(c.base), nil) }); err != nil {
					t.Fatal(err)
				}
			}
			for _, w := range c.writes {
				numbered := *txn
				numbered.Sequence = w.seq
				if err := apply(t, db, func(b *pebble.Batch) error {
					return Put(b, []byte("k"), ts(10), ts(10), []byte(w.value), &numbered)
				}); err != nil {
					t.Fatal(err)
				}
			}
			own := ReadOptions{Txn: txn, Ignored: c.ignored}
			if got := mustGet(t, db, "k", 10, own); got != c.want {
				t.Fatalf("the transaction reads %s, want %s", got, c.want)
			}
			res, err := Scan(db, []byte("a"), []byte("z"), ts(10), ScanOptions{ReadOptions: own})
			if err != nil {
				t.Fatal(err)
			}
			if got := scanned(res); got != c.want {
				t.Fatalf("the transaction scans %s, want %s", got, c.want)
			}
			// A conditional write of the next number sees the same value.
			cput := *txn
			cput.Sequence = 9
			b := db.NewIndexedBatch()
			err = ConditionalPut(b, []byte("k"), ts(10), ts(10), []byte("new"), &cput, true, c.ignored)
			b.Close()
			var cfe *ConditionFailedError
			switch {
			case c.want == "<nil>" && err != nil:
				t.Fatalf("insert over a value the transaction does not see: %v", err)
			case c.want != "<nil>" && (!errors.As(err, &cfe) || string(cfe.ActualValue) != c.want):
				t.Fatalf("insert over %s: %v, want a failed condition", c.want, err)
			}
			// Committing, above the intent, leaves the transaction's visible value.
			var found bool
			if err := apply(t, db, func(b *pebble.Batch) (err error) {
				found, err = ResolveIntent(b, []byte("k"), txn.ID, true, ts(12), c.ignored)
				return err
			}); err != nil || !found {
				t.Fatalf("commit: found=%v, %v", found, err)
			}
			if got := mustGet(t, db, "k", 20, ReadOptions{}); got != c.want {
				t.Fatalf("after the commit, a reader sees %s, want %s", got, c.want)
			}
			if got := versions(t, db, "k"); got != wantVersions(c.base, c.want, c.writes, c.ignored) {
				t.Fatalf("versions after the commit: %s, want %s", got, wantVersions(c.base, c.want, c.writes, c.ignored))
			}
		})
	}
}

// wantVersions is what committing at 12 leaves: the base at 5 and, unless the transaction
// rolled back every write, its visible value (or tombstone) at 12.
func wantVersions(base, want string, writes []seqWrite, ignored []SeqRange) string {
	out := ""
	all := true
	for _, w := range writes {
		if !SeqIgnored(ignored, w.seq) {
			all = false
		}
	}
	if !all {
		if want == "<nil>" {
			want = ""
		}
		out += fmt.Sprintf("12=%q ", want)
	}
	if base != "" {
		out += fmt.Sprintf("5=%q ", base)
	}
	return out
}

func scanned(res ScanResult) string {
	if len(res.KVs) == 0 {
		return "<nil>"
	}
	return string(res.KVs[0].Value)
}

// versions lists a key's engine entries: its meta, if any, then its versions, newest first,
// with their values.
func versions(t *testing.T, db *pebble.DB, key string) string {
	t.Helper()
	it, err := newIter(db, EncodeKey([]byte(key), ts(0)), EncodeKey([]byte(key+"\x00"), ts(0)))
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	out := ""
	for ok := it.First(); ok; ok = it.Next() {
		_, at, err := DecodeKey(it.Key())
		if err != nil {
			t.Fatal(err)
		}
		if at.IsEmpty() {
			out += "meta "
			continue
		}
		n, err := keyPrefixLen(it.Key())
		if err != nil {
			t.Fatal(err)
		}
		_, header, err := decodeVersionSuffix(it.Key()[n:])
		if err != nil {
			t.Fatal(err)
		}
		value, _, err := decodeValue(at, header, it.Value())
		if err != nil {
			t.Fatal(err)
		}
		out += fmt.Sprintf("%d=%q ", at.WallTime, value)
	}
	return out
}

// TestIntentHistoryEncoding: a meta with a history round-trips (version 3), one without is
// still written as version 2, and truncated or padded metas are refused.
func TestIntentHistoryEncoding(t *testing.T) {
	im := intentMeta{
		TxnMeta: TxnMeta{ID: TxnID{3}, Key: []byte("anchor"), WriteTimestamp: ts(10), MinTimestamp: ts(9), Sequence: 4},
		History: []IntentWrite{{Sequence: 1, Value: []byte("v1")}, {Sequence: 3, Value: []byte{}}},
	}
	b := encodeIntentMeta(&im)
	if b[0] != metaVersionHistory {
		t.Fatalf("version %d, want %d", b[0], metaVersionHistory)
	}
	got, err := decodeIntentMeta(b, true)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(im) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if m, err := decodeMeta(b); err != nil || fmt.Sprint(m) != fmt.Sprint(im.TxnMeta) {
		t.Fatalf("decodeMeta: %+v, %v", m, err)
	}
	if v := encodeMeta(&im.TxnMeta); v[0] != metaVersionSeq {
		t.Fatalf("a meta without history is written as version %d", v[0])
	}
	for _, bad := range [][]byte{b[:len(b)-1], append(append([]byte(nil), b...), 0)} {
		if _, err := decodeIntentMeta(bad, true); err == nil {
			t.Errorf("decodeIntentMeta(%x) succeeded", bad)
		}
	}
}
