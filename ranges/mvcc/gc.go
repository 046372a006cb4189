package mvcc

import (
	"bytes"
	"fmt"

	"github.com/meridiandb/meridian/hlc"
)

// GCStats reports what GC removed.
type GCStats struct {
	VersionsRemoved int64
}

// GC removes, in [start, end), the versions no reader at or above threshold can see: for each
// key it keeps everything newer than threshold and the newest version at or below it (unless
// that is a tombstone, which hides nothing any such reader could see). Intents and their
// provisional values are left alone: their transactions may still need them.
func GC(rw ReadWriter, start, end []byte, threshold hlc.Timestamp) (GCStats, error) {
	var st GCStats
	it, err := newIter(rw, EncodeKey(start, hlc.Timestamp{}), EncodeKey(end, hlc.Timestamp{}))
	if err != nil {
		return st, err
	}
	defer closeIter(rw, it)
	var prefix []byte
	var provisional hlc.Timestamp
	var hasIntent, keptOne bool
	var doomed [][]byte // deleted after iterating, so the iterator never sees its own writes
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		n, err := keyPrefixLen(k)
		if err != nil {
			return st, err
		}
		if !bytes.Equal(k[:n], prefix) {
			prefix = append(prefix[:0], k[:n]...)
			hasIntent, keptOne = false, false
		}
		if len(k) == n {
			m, err := decodeMeta(it.Value())
			if err != nil {
				return st, fmt.Errorf("key %x: %w", prefix, err)
			}
			hasIntent, provisional = true, m.WriteTimestamp
			continue
		}
		v, header, err := decodeVersionSuffix(k[n:])
		if err != nil {
			return st, err
		}
		if (hasIntent && v == provisional) || threshold.Less(v) {
			continue
		}
		if !keptOne {
			keptOne = true
			value, _, err := decodeValue(v, header, it.Value())
			if err != nil {
				return st, fmt.Errorf("key %x at %s: %w", prefix, v, err)
			}
			if len(value) > 0 {
				continue // the value readers at threshold see
			}
		}
		doomed = append(doomed, append([]byte(nil), k...))
	}
	if err := it.Error(); err != nil {
		return st, err
	}
	for _, k := range doomed {
		if err := rw.Delete(k, nil); err != nil {
			return st, err
		}
		st.VersionsRemoved++
	}
	return st, nil
}
