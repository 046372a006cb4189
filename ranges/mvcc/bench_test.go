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

// BenchmarkMVCCGet reads from sstables holding 4 versions of every key, at a timestamp
// between the second and third version.
func BenchmarkMVCCGet(b *testing.B) {
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
