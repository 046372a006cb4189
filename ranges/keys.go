package ranges

import (
	"encoding/binary"

	"github.com/meridiandb/meridian/ranges/mvcc"
)

// Key space layout. Bytes below 0x04 are reserved for the system; SQL table data sorts above.
var (
	// localPrefix starts keys that describe ranges and transactions rather than user data.
	localPrefix = []byte{0x01}
	// rangeIDPrefix starts per-range bookkeeping keys, addressed by range ID.
	rangeIDPrefix = []byte{0x01, 'i'}
	// raftPrefix starts each range's Raft log and Raft stable state, addressed by range ID.
	// It is apart from rangeIDPrefix because those keys are replicated state that snapshots
	// carry, while a replica's Raft log is its own and must survive installing a snapshot.
	raftPrefix = []byte{0x01, 'r'}
	// txnRecordPrefix starts transaction records, addressed by anchor key so they live in the
	// anchor's range.
	txnRecordPrefix = []byte{0x01, 'k'}
	// KeyMin and KeyMax bound the whole key space.
	KeyMin = []byte{}
	KeyMax = []byte{0xff, 0xff}
	// SystemPrefix starts the system key space (SQL system tables live above it).
	SystemPrefix = []byte{0x02}
)

func rangeIDKey(rangeID uint64, suffix string) []byte {
	k := make([]byte, 0, len(rangeIDPrefix)+8+len(suffix))
	k = append(k, rangeIDPrefix...)
	k = binary.BigEndian.AppendUint64(k, rangeID)
	return append(k, suffix...)
}

// appliedIndexKey holds the last Raft index applied to the range's state.
func appliedIndexKey(rangeID uint64) []byte { return rangeIDKey(rangeID, "appl") }

// raftLogPrefix starts the keys of the range's Raft log and Raft stable state (package
// raftlog). The fixed-width range ID keeps one range's prefix from being another's.
func raftLogPrefix(rangeID uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), raftPrefix...), rangeID)
}

// descriptorKey holds the range's descriptor.
func descriptorKey(rangeID uint64) []byte { return rangeIDKey(rangeID, "desc") }

// TxnRecordKey is where the record of transaction id anchored at key lives.
func TxnRecordKey(anchor []byte, id mvcc.TxnID) []byte {
	k := make([]byte, 0, len(txnRecordPrefix)+len(anchor)+2+len(id))
	k = append(k, txnRecordPrefix...)
	k = append(k, anchor...)
	k = append(k, 0, 't')
	return append(k, id[:]...)
}

// addressKey maps a key to the user key whose range owns it: transaction records belong to
// the range of their anchor key.
func addressKey(key []byte) []byte {
	if len(key) >= len(txnRecordPrefix)+2+16 && string(key[:len(txnRecordPrefix)]) == string(txnRecordPrefix) {
		return key[len(txnRecordPrefix) : len(key)-18]
	}
	return key
}
