package mvcc

import (
	"bytes"
	"math/rand"
	"testing"

	"github.com/meridiandb/meridian/hlc"
)

// TestComparerSplit checks the properties Pebble requires of Split, on engine keys and on
// arbitrary byte strings (Pebble also splits bounds and separators).
func TestComparerSplit(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	alphabet := []byte{0, 1, 2, 'a', 0xfe, 0xff}
	randBytes := func() []byte {
		b := make([]byte, rng.Intn(5))
		for i := range b {
			b[i] = alphabet[rng.Intn(len(alphabet))]
		}
		return b
	}
	var keys [][]byte
	for i := 0; i < 300; i++ {
		var ts hlc.Timestamp
		if rng.Intn(3) > 0 {
			ts = hlc.Timestamp{WallTime: rng.Int63n(5), Logical: int32(rng.Intn(3))}
		}
		keys = append(keys, EncodeKey(randBytes(), ts), randBytes())
	}
	cmp := Comparer.Compare
	for _, a := range keys {
		pa := a[:Comparer.Split(a)]
		if len(pa) < len(a) && cmp(pa, a) >= 0 {
			t.Fatalf("prefix %x does not sort before %x", pa, a)
		}
		if s := Comparer.ImmediateSuccessor(nil, pa); cmp(s, pa) <= 0 || Comparer.Split(s) != len(s) {
			t.Fatalf("ImmediateSuccessor(%x) = %x", pa, s)
		}
		for _, b := range keys {
			pb := b[:Comparer.Split(b)]
			if cmp(a, b) <= 0 && cmp(pa, pb) > 0 {
				t.Fatalf("%x <= %x but prefix %x > %x", a, b, pa, pb)
			}
			if bytes.Equal(pa, pb) && cmp(a[len(pa):], b[len(pb):]) != cmp(a, b) {
				t.Fatalf("suffixes of %x and %x order differently from the keys", a, b)
			}
		}
	}
	// Every version of a user key shares the prefix of its meta slot.
	k := []byte("a\x00b")
	if p := EncodeKey(k, hlc.Timestamp{}); Comparer.Split(EncodeKey(k, hlc.Timestamp{WallTime: 7})) != len(p) || Comparer.Split(p) != len(p) {
		t.Fatal("versions and meta slot do not share a bloom prefix")
	}
}

// TestOpenOnDisk opens the default configuration on disk, writes, flushes (so reads go through
// sstables and their bloom filters) and reopens.
func TestOpenOnDisk(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := db.NewIndexedBatch()
	for i := int64(1); i <= 3; i++ {
		if err := Put(b, []byte("k"), hlc.Timestamp{WallTime: i * 10}, hlc.Timestamp{WallTime: i * 10}, []byte{byte('0' + i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := PutUnversioned(b, []byte("applied"), []byte("42")); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = Open(dir, nil); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	kv, err := Get(db, []byte("k"), hlc.Timestamp{WallTime: 25}, ReadOptions{})
	if err != nil || kv == nil || string(kv.Value) != "2" {
		t.Fatalf("Get after reopen: %v, %v", kv, err)
	}
	if kv, err := Get(db, []byte("absent"), hlc.Timestamp{WallTime: 25}, ReadOptions{}); err != nil || kv != nil {
		t.Fatalf("Get of an absent key: %v, %v", kv, err)
	}
	if v, ok, err := GetUnversioned(db, []byte("applied")); err != nil || !ok || string(v) != "42" {
		t.Fatalf("GetUnversioned: %q, %v, %v", v, ok, err)
	}
	b = db.NewIndexedBatch()
	defer b.Close()
	if err := DeleteUnversioned(b, []byte("applied")); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := GetUnversioned(b, []byte("applied")); err != nil || ok {
		t.Fatalf("GetUnversioned after delete: %v, %v", ok, err)
	}
}
