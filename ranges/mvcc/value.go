package mvcc

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"

	"github.com/meridiandb/meridian/hlc"
)

// A version's local timestamp is the physical clock reading of the leaseholder that
// evaluated the write: a value that reaches the engine at a timestamp in the future (pushed
// there by a lease change, or moved there by a push or a commit) still tells readers when,
// on that node's clock, it was written. See ReadOptions.Uncertainty.
//
// Most versions are written at or above their local timestamp, which then adds nothing:
// their engine key ends in the 12-byte timestamp and their value is the writer's bytes
// (empty for a tombstone), exactly as every version was stored before local timestamps.
// A version whose local timestamp is below its timestamp has one more key byte,
// valueHeaderV1, after the timestamp, and its value starts with a header holding the local
// timestamp. The flag has to be in the key: values are arbitrary bytes (a big-endian ID
// starts with 0x00), so no marker at the front of a value could tell a header from the
// first bytes of a value written without one. Both forms sort by timestamp alike, since the
// flag follows it, and a user key never holds both forms at one timestamp.

// valueHeaderV1 ends the key of a version whose value starts with a v1 header:
// uvarint(timestamp wall - local wall), uvarint(local logical).
const valueHeaderV1 byte = 1

var errBadValueHeader = errors.New("mvcc: corrupt value header")

var errNoLocalTimestamp = errors.New("mvcc: write without a local timestamp")

// storedLocal is the local timestamp a version at ts written with local must record:
// local if it is below ts, else nothing (the zero timestamp), since the version's own
// timestamp is then the lower bound, and the lower bound is what readers need.
func storedLocal(ts, local hlc.Timestamp) hlc.Timestamp {
	if local.Less(ts) {
		return local
	}
	return hlc.Timestamp{}
}

// appendVersion appends to prefix (a user key's engine prefix) the suffix of its version at
// ts, flagged when the version's value carries a header.
func appendVersion(prefix []byte, ts hlc.Timestamp, header bool) []byte {
	b := appendTimestamp(prefix, ts)
	if header {
		b = append(b, valueHeaderV1)
	}
	return b
}

// encodeVersion returns the engine key (appended to prefix) and the stored value of value
// at ts with local timestamp local.
func encodeVersion(prefix []byte, ts, local hlc.Timestamp, value []byte) (key, stored []byte) {
	local = storedLocal(ts, local)
	if local.IsEmpty() {
		if value == nil {
			value = []byte{}
		}
		return appendVersion(prefix, ts, false), value
	}
	stored = make([]byte, 0, 2*binary.MaxVarintLen64+len(value))
	stored = binary.AppendUvarint(stored, uint64(ts.WallTime-local.WallTime))
	stored = binary.AppendUvarint(stored, uint64(uint32(local.Logical)))
	return appendVersion(prefix, ts, true), append(stored, value...)
}

// decodeValue splits the stored value of the version at ts into the writer's bytes (a
// subslice of stored) and the version's local timestamp.
func decodeValue(ts hlc.Timestamp, header bool, stored []byte) ([]byte, hlc.Timestamp, error) {
	if !header {
		return stored, ts, nil
	}
	delta, n := binary.Uvarint(stored)
	if n <= 0 || delta > uint64(ts.WallTime) {
		return nil, hlc.Timestamp{}, errBadValueHeader
	}
	logical, m := binary.Uvarint(stored[n:])
	if m <= 0 || logical > 1<<32-1 {
		return nil, hlc.Timestamp{}, errBadValueHeader
	}
	local := hlc.Timestamp{WallTime: ts.WallTime - int64(delta), Logical: int32(uint32(logical))}
	return stored[n+m:], local, nil
}

// decodeVersionSuffix decodes the suffix of a version key: its timestamp, and whether its
// value carries a header.
func decodeVersionSuffix(s []byte) (hlc.Timestamp, bool, error) {
	switch {
	case len(s) == tsLen:
		return decodeTS(s), false, nil
	case len(s) == tsLen+1 && s[tsLen] == valueHeaderV1:
		return decodeTS(s), true, nil
	}
	return hlc.Timestamp{}, false, fmt.Errorf("%w: %d-byte version suffix", errBadKey, len(s))
}

// versionAt finds the version at exactly ts of the user key with this prefix, in whichever
// form it is stored: its engine key and stored value (both copies), and whether the value
// carries a header. found is false when there is none.
func versionAt(r pebble.Reader, prefix []byte, ts hlc.Timestamp) (key, stored []byte, header, found bool, err error) {
	for _, header := range []bool{false, true} {
		k := appendVersion(append([]byte(nil), prefix...), ts, header)
		v, found, err := getExact(r, prefix, k)
		if found || err != nil {
			return k, v, header, found, err
		}
	}
	return nil, nil, false, false, nil
}
