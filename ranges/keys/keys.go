package keys

import (
	"bytes"
	"encoding/binary"

	"github.com/meridiandb/meridian/ranges/encoding"
)

var (
	// KeyMin and KeyMax bound the whole key space.
	KeyMin = []byte{}
	KeyMax = []byte{0xff, 0xff}

	// LocalPrefix starts keys that describe ranges, replicas and transactions rather than
	// user data; LocalMax is the first key after them and the first addressable key.
	LocalPrefix = []byte{0x01}
	LocalMax    = []byte{0x02}

	// StoreLowWaterKey holds the timestamp cache low water of the store's last start.
	StoreLowWaterKey = []byte{0x01, 's', 'l', 'o', 'w'}
	// StoreTombstonePrefix starts the tombstones of ranges merged away on this store, one per
	// range ID (RangeTombstoneKey): such a range never has a replica here again.
	StoreTombstonePrefix = []byte{0x01, 's', 't', 'o', 'm', 'b'}

	// RangeIDPrefix starts replicated per-range state, addressed by range ID. Snapshots of a
	// range carry these keys.
	RangeIDPrefix = []byte{0x01, 'i'}
	// RaftPrefix starts each replica's Raft log and Raft stable state, addressed by range ID.
	// It is apart from RangeIDPrefix because a replica's Raft log is its own and must survive
	// installing a snapshot.
	RaftPrefix = []byte{0x01, 'r'}
	// TxnRecordPrefix starts transaction records, addressed by anchor key so that a record
	// lives in its anchor's range.
	TxnRecordPrefix = []byte{0x01, 'k'}

	// MetaPrefix starts the meta records; MetaMax ends them. The range that holds them, the
	// first range, never splits inside [KeyMin, MetaMax).
	MetaPrefix = []byte{0x02}
	MetaMax    = []byte{0x03}

	// SystemPrefix starts the system span, where the SQL catalog lives.
	SystemPrefix = []byte{0x03}
	// SystemMax ends it; user tables sort at or above it.
	SystemMax = []byte{0x04}

	// NodeIDGeneratorKey holds the last node ID handed out to a joining node. Cluster-wide
	// keys live at SystemPrefix 0x00, apart from the catalog's keys.
	NodeIDGeneratorKey = []byte{0x03, 0x00, 'n', 'o', 'd', 'e', 'i', 'd'}
	// RangeIDGeneratorKey holds the last range ID handed out to a split.
	RangeIDGeneratorKey = []byte{0x03, 0x00, 'r', 'a', 'n', 'g', 'e', 'i', 'd'}
	// SchemaVersionKey counts the cluster's schema changes (see package catalog).
	SchemaVersionKey = []byte{0x03, 0x00, 's', 'c', 'h', 'e', 'm', 'a'}
	// SchemaLeasePrefix starts the nodes' schema leases, one per node ID (SchemaLeaseKey).
	SchemaLeasePrefix = []byte{0x03, 0x00, 'l', 'e', 'a', 's', 'e', '/'}
	// SchemaLeaseFreezePrefix starts the records of schema changes under way, one per
	// transaction ID, each holding the time until which it keeps nodes from taking schema
	// leases.
	SchemaLeaseFreezePrefix = []byte{0x03, 0x00, 'l', 'e', 'a', 's', 'e', 'f', 'r', 'e', 'e', 'z', 'e', '/'}
	// NodeLivenessPrefix starts the node liveness records, one per node ID (NodeLivenessKey).
	NodeLivenessPrefix = []byte{0x03, 0x00, 'l', 'i', 'v', 'e'}
	// ClusterSettingPrefix starts the cluster settings changed by SET CLUSTER SETTING,
	// keyed by name (ClusterSettingKey).
	ClusterSettingPrefix = []byte{0x03, 0x00, 's', 'e', 't', '/'}
	// ClusterIDKey holds the cluster's ID, written when the cluster is initialized.
	ClusterIDKey = []byte{0x03, 0x00, 'c', 'l', 'u', 's', 't', 'e', 'r'}
	// TableStatsPrefix starts the table statistics ANALYZE collects, one record per table
	// ID (TableStatsKey).
	TableStatsPrefix = []byte{0x03, 0x00, 's', 't', 'a', 't', '/'}
)

// TableStatsKey is where the statistics of table tableID are kept.
func TableStatsKey(tableID uint32) []byte {
	return binary.BigEndian.AppendUint32(append([]byte(nil), TableStatsPrefix...), tableID)
}

// ClusterSettingKey is where cluster setting name is kept.
func ClusterSettingKey(name string) []byte {
	return append(append([]byte(nil), ClusterSettingPrefix...), name...)
}

// SchemaLeaseKey is where node nodeID's schema lease lives.
func SchemaLeaseKey(nodeID uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), SchemaLeasePrefix...), nodeID)
}

// SchemaLeaseFreezeKey is where schema change transaction txnID keeps its freeze of schema
// leases.
func SchemaLeaseFreezeKey(txnID [16]byte) []byte {
	return append(append([]byte(nil), SchemaLeaseFreezePrefix...), txnID[:]...)
}

// SchemaLeaseNode returns the node of a key built by SchemaLeaseKey, or false.
func SchemaLeaseNode(key []byte) (uint64, bool) {
	if len(key) != len(SchemaLeasePrefix)+8 || !bytes.HasPrefix(key, SchemaLeasePrefix) {
		return 0, false
	}
	return binary.BigEndian.Uint64(key[len(SchemaLeasePrefix):]), true
}

// NodeLivenessKey is where node nodeID's liveness record lives.
func NodeLivenessKey(nodeID uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), NodeLivenessPrefix...), nodeID)
}

// RangeIDKey is the key of per-range state suffix of range rangeID.
func RangeIDKey(rangeID uint64, suffix string) []byte {
	k := make([]byte, 0, len(RangeIDPrefix)+8+len(suffix))
	k = append(k, RangeIDPrefix...)
	k = binary.BigEndian.AppendUint64(k, rangeID)
	return append(k, suffix...)
}

// RangeIDSuffix returns the suffix of a key built by RangeIDKey, or false.
func RangeIDSuffix(key []byte) (rangeID uint64, suffix string, ok bool) {
	if len(key) < len(RangeIDPrefix)+8 || !bytes.HasPrefix(key, RangeIDPrefix) {
		return 0, "", false
	}
	rest := key[len(RangeIDPrefix):]
	return binary.BigEndian.Uint64(rest), string(rest[8:]), true
}

// RangeAppliedIndexKey holds the last Raft index applied to the range's state.
func RangeAppliedIndexKey(rangeID uint64) []byte { return RangeIDKey(rangeID, "appl") }

// RangeDescriptorKey holds the range's descriptor as its replicas know it.
func RangeDescriptorKey(rangeID uint64) []byte { return RangeIDKey(rangeID, "desc") }

// RangeFrozenKey is set while a merge has frozen the range (see ranges.Replica.subsume).
func RangeFrozenKey(rangeID uint64) []byte { return RangeIDKey(rangeID, "frzn") }

// RangeAbandonedMergeKey records, on the left range of a merge, the merge it gave up on.
func RangeAbandonedMergeKey(rangeID uint64) []byte { return RangeIDKey(rangeID, "abmg") }

// RangeTombstoneKey marks range rangeID as merged away on this store.
func RangeTombstoneKey(rangeID uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), StoreTombstonePrefix...), rangeID)
}

// RangeGCThresholdKey holds the timestamp at or below which the range's history is gone.
func RangeGCThresholdKey(rangeID uint64) []byte { return RangeIDKey(rangeID, "gcth") }

// RaftLogPrefix starts the keys of the replica's Raft log and stable state. The fixed-width
// range ID keeps one range's prefix from being a prefix of another's.
func RaftLogPrefix(rangeID uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), RaftPrefix...), rangeID)
}

// TxnRecordKey is where the record of transaction id anchored at key lives.
func TxnRecordKey(anchor []byte, id [16]byte) []byte {
	k := make([]byte, 0, len(TxnRecordPrefix)+len(anchor)+2+len(id))
	k = append(k, TxnRecordPrefix...)
	k = append(k, anchor...)
	k = append(k, 0, 't')
	return append(k, id[:]...)
}

// Addr maps a key to the user key whose range owns it: transaction records belong to the
// range of their anchor key; every other key is its own address.
func Addr(key []byte) []byte {
	if len(key) >= len(TxnRecordPrefix)+2+16 && bytes.HasPrefix(key, TxnRecordPrefix) {
		return key[len(TxnRecordPrefix) : len(key)-18]
	}
	return key
}

// MetaKey is the key of the meta record of the range that ends at endKey. Looking a key k up
// means finding the first meta record after MetaKey(k).
func MetaKey(endKey []byte) []byte {
	k := make([]byte, 0, len(MetaPrefix)+len(endKey))
	return append(append(k, MetaPrefix...), endKey...)
}

// PrefixEnd is the first key after every key with prefix p (KeyMax when there is none).
func PrefixEnd(p []byte) []byte {
	if e := encoding.PrefixEnd(p); e != nil {
		return e
	}
	return KeyMax
}
