package keys

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
)

// Pretty renders a key for people: the parts of the key space laid out here by name
// (/Local/…, /Meta/…, /System/…), and whatever else as hex (/0x…). It never fails and never
// prints raw bytes, so errors and logs may use it on any key. Layers above that know more
// (SQL knows tables) render their own keys and fall back to it.
func Pretty(key []byte) string {
	switch {
	case len(key) == 0:
		return "/Min"
	case bytes.Compare(key, KeyMax) >= 0:
		if bytes.Equal(key, KeyMax) {
			return "/Max"
		}
		return "/Max" + hexPart(key[len(KeyMax):])
	case bytes.HasPrefix(key, LocalPrefix):
		return "/Local" + prettyLocal(key)
	case bytes.HasPrefix(key, MetaPrefix):
		return "/Meta" + Pretty(key[len(MetaPrefix):])
	case bytes.HasPrefix(key, SystemPrefix):
		return "/System" + prettySystem(key)
	}
	return hexPart(key)
}

func prettyLocal(key []byte) string {
	if id, suffix, ok := RangeIDSuffix(key); ok {
		return fmt.Sprintf("/RangeID/%d/%s", id, printable(suffix))
	}
	switch {
	case bytes.Equal(key, StoreLowWaterKey):
		return "/Store/lowwater"
	case bytes.HasPrefix(key, StoreTombstonePrefix) && len(key) == len(StoreTombstonePrefix)+8:
		return fmt.Sprintf("/Store/tombstone/%d", binary.BigEndian.Uint64(key[len(StoreTombstonePrefix):]))
	case bytes.HasPrefix(key, RaftPrefix) && len(key) >= len(RaftPrefix)+8:
		rest := key[len(RaftPrefix):]
		s := fmt.Sprintf("/Raft/%d", binary.BigEndian.Uint64(rest))
		if len(rest) > 8 {
			s += hexPart(rest[8:])
		}
		return s
	case isTxnRecordKey(key):
		anchor, id := key[len(TxnRecordPrefix):len(key)-18], key[len(key)-16:]
		return fmt.Sprintf("/Txn%s/%x", Pretty(anchor), id[:4])
	}
	return hexPart(key[len(LocalPrefix):])
}

// isTxnRecordKey reports whether key has the layout of TxnRecordKey.
func isTxnRecordKey(key []byte) bool {
	n := len(key)
	return bytes.HasPrefix(key, TxnRecordPrefix) && n >= len(TxnRecordPrefix)+18 && key[n-18] == 0 && key[n-17] == 't'
}

// systemKeys names the cluster-wide keys that are single keys.
var systemKeys = []struct {
	key  []byte
	name string
}{
	{NodeIDGeneratorKey, "/node-id-generator"},
	{RangeIDGeneratorKey, "/range-id-generator"},
	{SchemaVersionKey, "/schema-version"},
	{ClusterIDKey, "/cluster-id"},
}

func prettySystem(key []byte) string {
	for _, k := range systemKeys {
		if bytes.Equal(key, k.key) {
			return k.name
		}
	}
	switch {
	case bytes.HasPrefix(key, NodeLivenessPrefix) && len(key) == len(NodeLivenessPrefix)+8:
		return fmt.Sprintf("/liveness/%d", binary.BigEndian.Uint64(key[len(NodeLivenessPrefix):]))
	case bytes.HasPrefix(key, SchemaLeasePrefix) && len(key) == len(SchemaLeasePrefix)+8:
		return fmt.Sprintf("/schema-lease/%d", binary.BigEndian.Uint64(key[len(SchemaLeasePrefix):]))
	case bytes.HasPrefix(key, SchemaLeaseFreezePrefix):
		return fmt.Sprintf("/schema-lease-freeze/%x", key[len(SchemaLeaseFreezePrefix):])
	case bytes.HasPrefix(key, ClusterSettingPrefix):
		return "/setting/" + printable(string(key[len(ClusterSettingPrefix):]))
	}
	return hexPart(key[len(SystemPrefix):])
}

// printable is s itself when it is plain text, and quoted otherwise.
func printable(s string) string {
	for _, c := range []byte(s) {
		if c < '!' || c > '~' || c == '/' || c == '"' || c == '\\' {
			return strconv.Quote(s)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}

// hexPart renders bytes nothing here can decode: "/0x…", or "" for none.
func hexPart(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return "/0x" + hex.EncodeToString(b)
}
