package mvcc

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble"
)

func benchKeys(n int) [][]byte {
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("key%09d", i))
	}
	return keys
}

// BenchmarkMVCCPut measures committed puts, one indexed batch per put as Raft application
// does; the read of the key's meta and newest version is part of the cost.
func BenchmarkMVCCPut(b *testing.B) {
	db := openMem(b)
	value := bytes.Repeat([]byte("v"), 100)
	key := []byte("key")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		key = fmt.Appendf(key[:0], "key%09d", i)
		batch := db.NewIndexedBatch()
		if err := Put(batch, key, ts(int64(i+1)), ts(int64(i+1)), value, nil); err != nil {
			b.Fatal(err)
		}
		if err := batch.Commit(pebble.NoSync); err != nil {
			b.Fatal(err)
		}
		batch.Close()
	}
}

// versionedKeys returns a database whose sstables hold 10,000 keys with versions at 10, 20,
// 30 and 40, and the keys.
func versionedKeys(b *testing.B) (*pebble.DB, [][]byte) {
	db := openMem(b)
	keys := benchKeys(10000)
	batch := db.NewIndexedBatch()
	for _, k := range keys {
		for v := int64(1); v <= 4; v++ {
			if err := Put(batch, k, ts(v*10), ts(v*10), []byte("value"), nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := batch.Commit(pebble.NoSync); err != nil {
		b.Fatal(err)
	}
	if err := db.Flush(); err != nil {
		b.Fatal(err)
	}
	return db, keys
}

// BenchmarkMVCCGet reads from sstables holding 4 versions of every key, at a timestamp
// between the second and third version.
func BenchmarkMVCCGet(b *testing.B) {
	db, keys := versionedKeys(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		kv, err := Get(db, keys[i%len(keys)], ts(25), ReadOptions{})
		if err != nil || kv == nil || kv.Timestamp != ts(20) {
			b.Fatal(kv, err)
		}
	}
}

// BenchmarkMVCCScan scans 100 rows of 3 versions each, reading the middle one.
func BenchmarkMVCCScan(b *testing.B) {
	for _, reverse := range []bool{false, true} {
		b.Run(fmt.Sprintf("reverse=%t", reverse), func(b *testing.B) {
			db := openMem(b)
			batch := db.NewIndexedBatch()
			for _, k := range benchKeys(1000) {
				for v := int64(1); v <= 3; v++ {
					if err := Put(batch, k, ts(v*10), ts(v*10), []byte("value"), nil); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := batch.Commit(pebble.NoSync); err != nil {
				b.Fatal(err)
			}
			if err := db.Flush(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := Scan(db, []byte("key000000400"), []byte("kez"), ts(25), ScanOptions{MaxKeys: 100, Reverse: reverse})
				if err != nil || len(res.KVs) != 100 {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLockingBatch evaluates what a New-Order's stock statement asks of one range: ten
// keys, each read, checked for newer versions and locked with an intent, in one indexed
// batch, the keys in sstables with four versions each; with an iterator per operation and
// with one shared iterator (SharedWriter).
func BenchmarkLockingBatch(b *testing.B) {
	db, keys := versionedKeys(b)
	txn := &TxnMeta{ID: TxnID{1}, Key: []byte("anchor"), WriteTimestamp: ts(50), MinTimestamp: ts(50)}
	for _, shared := range []bool{false, true} {
		b.Run(fmt.Sprintf("shared=%t", shared), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				batch := db.NewIndexedBatch()
				var rw ReadWriter = batch
				var sw *SharedReadWriter
				if shared {
					sw = SharedWriter(batch)
					rw = sw
				}
				for j := range 10 {
					k := keys[(i*10+j*37)%len(keys)]
					kv, err := Get(rw, k, ts(50), ReadOptions{Txn: txn})
					if err != nil || kv == nil {
						b.Fatal(kv, err)
					}
					if _, err := NewestAbove(rw, k, nil, ts(50), txn.ID); err != nil {
						b.Fatal(err)
					}
					if err := Put(rw, k, ts(50), ts(50), kv.Value, txn); err != nil {
						b.Fatal(err)
					}
				}
				if sw != nil {
					sw.CloseIter()
				}
				batch.Close()
			}
		})
	}
}
