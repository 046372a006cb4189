package mvcc

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"

	"github.com/meridiandb/meridian/hlc"
)

const tsLen = 12

var errBadKey = errors.New("mvcc: malformed engine key")

// appendEscaped appends the escaped, terminated form of userKey.
func appendEscaped(b, userKey []byte) []byte {
	for _, c := range userKey {
		if c == 0 {
			b = append(b, 0, 0xff)
		} else {
			b = append(b, c)
		}
	}
	return append(b, 0, 1)
}

// EncodeKey returns the engine key of userKey's version at ts; the zero ts gives the meta slot.
func EncodeKey(userKey []byte, ts hlc.Timestamp) []byte {
	b := make([]byte, 0, len(userKey)+2+tsLen+4)
	b = appendEscaped(b, userKey)
	if !ts.IsEmpty() {
		b = appendTimestamp(b, ts)
	}
	return b
}

func appendTimestamp(b []byte, ts hlc.Timestamp) []byte {
	b = binary.BigEndian.AppendUint64(b, ^uint64(ts.WallTime))
	return binary.BigEndian.AppendUint32(b, ^uint32(ts.Logical))
}

// keyPrefixLen returns the length of the escaped user key and terminator at the front of ek.
func keyPrefixLen(ek []byte) (int, error) {
	for i := 0; i+1 < len(ek); i++ {
		if ek[i] != 0 {
			continue
		}
		switch ek[i+1] {
		case 0xff:
			i++
		case 1:
			return i + 2, nil
		default:
			return 0, errBadKey
		}
	}
	return 0, errBadKey
}

// appendUnescaped appends the user key of prefix, an escaped and terminated user key.
func appendUnescaped(b, prefix []byte) []byte {
	for i := 0; i < len(prefix)-2; i++ {
		b = append(b, prefix[i])
		if prefix[i] == 0 {
			i++ // skip the 0xff escape
		}
	}
	return b
}

// DecodeKey splits an engine key into its user key and timestamp (zero for the meta slot).
func DecodeKey(ek []byte) ([]byte, hlc.Timestamp, error) {
	n, err := keyPrefixLen(ek)
	if err != nil {
		return nil, hlc.Timestamp{}, err
	}
	user := appendUnescaped(make([]byte, 0, n-2), ek[:n])
	ts, err := decodeSuffix(ek[n:])
	return user, ts, err
}

// decodeSuffix decodes the timestamp of an engine key's suffix: zero for the meta slot.
func decodeSuffix(s []byte) (hlc.Timestamp, error) {
	if len(s) == 0 {
		return hlc.Timestamp{}, nil
	}
	ts, _, err := decodeVersionSuffix(s)
	return ts, err
}

// decodeTS decodes the timestamp at the front of a version suffix.
func decodeTS(s []byte) hlc.Timestamp {
	return hlc.Timestamp{
		WallTime: int64(^binary.BigEndian.Uint64(s)),
		Logical:  int32(^binary.BigEndian.Uint32(s[8:])),
	}
}

// Comparer orders engine keys bytewise, like Pebble's default comparer, and adds Split so that
// Pebble can build bloom filters over user keys: every version of a user key shares the bloom
// prefix escape(userKey) 0x00 0x01, so a point read of an absent key skips sstables without
// reading their blocks. The encoding is prefix-free, which is what makes bytewise order agree
// with "prefix first, then suffix" as Pebble requires of a Split.
var Comparer = func() *pebble.Comparer {
	c := *pebble.DefaultComparer
	c.Split = split
	c.ImmediateSuccessor = immediateSuccessor
	c.Name = "meridian.mvcc.v1"
	return &c
}()

// split returns the length of the bloom prefix of an engine key. Pebble may call it with keys
// that are not engine keys (iterator bounds, sstable separators); they are their own prefix,
// which keeps the ordering properties Split must have because parsing is left to right.
func split(k []byte) int {
	n, err := keyPrefixLen(k)
	if err != nil {
		return len(k)
	}
	return n
}

// immediateSuccessor returns the smallest prefix key above prefix a. For an engine key prefix
// that is the terminator bumped to 0x00 0x02: every key in between has prefix a.
func immediateSuccessor(dst, a []byte) []byte {
	dst = append(dst, a...)
	if n, err := keyPrefixLen(a); err == nil && n == len(a) {
		dst[len(dst)-1]++
		return dst
	}
	return append(dst, 0)
}

// DefaultCacheBytes is the block cache of a store opened without a size.
const DefaultCacheBytes = 128 << 20

// Options are Meridian's Pebble options with a block cache of cacheBytes (DefaultCacheBytes
// if 0): prefix bloom filters on every level, and Comparer. The caller holds a reference to
// the cache and releases it (opts.Cache.Unref) once the database is open.
func Options(cacheBytes int64) *pebble.Options {
	if cacheBytes <= 0 {
		cacheBytes = DefaultCacheBytes
	}
	opts := &pebble.Options{
		Comparer:                    Comparer,
		Cache:                       pebble.NewCache(cacheBytes),
		MemTableSize:                64 << 20,
		MemTableStopWritesThreshold: 4,
		MaxConcurrentCompactions:    func() int { return 2 },
	}
	opts.Levels = make([]pebble.LevelOptions, 7)
	for i := range opts.Levels {
		l := &opts.Levels[i]
		l.TargetFileSize = 4 << 20 << i
		l.FilterPolicy = bloom.FilterPolicy(10)
		l.FilterType = pebble.TableFilter
	}
	return opts
}

// Open opens a Pebble database for MVCC data; nil opts means Options(0). Open installs
// Comparer when opts has no comparer; Get relies on its Split, so a store must be opened with
// it.
func Open(dir string, opts *pebble.Options) (*pebble.DB, error) {
	if opts == nil {
		opts = Options(0)
		defer opts.Cache.Unref()
	}
	switch {
	case opts.Comparer == nil:
		opts.Comparer = Comparer
	case opts.Comparer.Name != Comparer.Name:
		return nil, fmt.Errorf("mvcc: comparer %q cannot order MVCC keys; use mvcc.Comparer", opts.Comparer.Name)
	}
	return pebble.Open(dir, opts)
}

// PutUnversioned writes an unversioned value at key's meta slot. Only range bookkeeping keys,
// which are never written through MVCC, use it.
func PutUnversioned(w pebble.Writer, key, value []byte) error {
	return w.Set(EncodeKey(key, hlc.Timestamp{}), value, nil)
}

// GetUnversioned reads a value written by PutUnversioned.
func GetUnversioned(r pebble.Reader, key []byte) ([]byte, bool, error) {
	k := EncodeKey(key, hlc.Timestamp{})
	return getExact(r, k, k)
}

// DeleteUnversioned removes a value written by PutUnversioned.
func DeleteUnversioned(w pebble.Writer, key []byte) error {
	return w.Delete(EncodeKey(key, hlc.Timestamp{}), nil)
}
