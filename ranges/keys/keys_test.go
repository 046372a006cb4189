package keys

import (
	"bytes"
	"testing"
)

func TestAddr(t *testing.T) {
	id := [16]byte{1, 2, 3}
	for _, tc := range []struct {
		name      string
		key, want []byte
	}{
		{"user key", []byte("\x05table"), []byte("\x05table")},
		{"txn record", TxnRecordKey([]byte("\x05anchor\x00x"), id), []byte("\x05anchor\x00x")},
		{"txn record with empty anchor", TxnRecordKey(nil, id), []byte{}},
		{"short local key", []byte{0x01, 'k', 'x'}, []byte{0x01, 'k', 'x'}},
	} {
		if got := Addr(tc.key); !bytes.Equal(got, tc.want) {
			t.Errorf("%s: Addr(%q) = %q, want %q", tc.name, tc.key, got, tc.want)
		}
	}
}

// TestLayoutOrder: the spans sort as the package documents, so that one range can hold the
// meta records and no user key can fall among them.
func TestLayoutOrder(t *testing.T) {
	ordered := [][]byte{
		KeyMin, LocalPrefix, RangeDescriptorKey(1), TxnRecordKey([]byte{0xff}, [16]byte{}),
		RaftLogPrefix(1), StoreLowWaterKey, LocalMax, MetaPrefix, MetaKey(KeyMax), MetaMax,
		SystemPrefix, SystemMax, {0x05}, KeyMax,
	}
	for i := 1; i < len(ordered); i++ {
		if bytes.Compare(ordered[i-1], ordered[i]) > 0 {
			t.Errorf("%q sorts after %q", ordered[i-1], ordered[i])
		}
	}
	for _, k := range [][]byte{StoreLowWaterKey, RangeDescriptorKey(7), RaftLogPrefix(7), TxnRecordKey(nil, [16]byte{})} {
		if !bytes.HasPrefix(k, LocalPrefix) || bytes.Compare(k, LocalMax) >= 0 {
			t.Errorf("local key %q is outside [LocalPrefix, LocalMax)", k)
		}
	}
}

func TestRangeIDSuffix(t *testing.T) {
	id, suffix, ok := RangeIDSuffix(RangeDescriptorKey(1 << 40))
	if !ok || id != 1<<40 || suffix != "desc" {
		t.Fatalf("RangeIDSuffix = %d %q %v", id, suffix, ok)
	}
	if _, _, ok := RangeIDSuffix([]byte("\x05user")); ok {
		t.Fatal("a user key parsed as a range-ID key")
	}
	if !bytes.Equal(PrefixEnd([]byte{0xff, 0xff}), KeyMax) || !bytes.Equal(PrefixEnd([]byte{0x02}), MetaMax) {
		t.Fatal("PrefixEnd")
	}
}

func TestPretty(t *testing.T) {
	id := [16]byte{0xde, 0xad, 0xbe, 0xef, 5}
	for _, tc := range []struct {
		key  []byte
		want string
	}{
		{nil, "/Min"},
		{KeyMax, "/Max"},
		{[]byte{0xff, 0xff, 0x01}, "/Max/0x01"},
		{RangeDescriptorKey(7), "/Local/RangeID/7/desc"},
		{RangeIDKey(7, "a\x00"), `/Local/RangeID/7/"a\x00"`},
		{RaftLogPrefix(3), "/Local/Raft/3"},
		{StoreLowWaterKey, "/Local/Store/lowwater"},
		{RangeTombstoneKey(9), "/Local/Store/tombstone/9"},
		{TxnRecordKey([]byte{0x05, 0x89}, id), "/Local/Txn/0x0589/deadbeef"},
		{TxnRecordKey(NodeIDGeneratorKey, id), "/Local/Txn/System/node-id-generator/deadbeef"},
		{[]byte{0x01, 'z'}, "/Local/0x7a"},
		{MetaKey([]byte{0x05, 0x89}), "/Meta/0x0589"},
		{MetaKey(KeyMax), "/Meta/Max"},
		{NodeLivenessKey(2), "/System/liveness/2"},
		{SchemaLeaseKey(3), "/System/schema-lease/3"},
		{SchemaLeaseFreezeKey([16]byte{0xab, 0x01}), "/System/schema-lease-freeze/ab010000000000000000000000000000"},
		{ClusterSettingKey("sql.defaults"), "/System/setting/sql.defaults"},
		{ClusterSettingKey("a b"), `/System/setting/"a b"`},
		{SchemaVersionKey, "/System/schema-version"},
		{[]byte{0x03, 'd', 0, 0, 0, 0x68}, "/System/0x6400000068"},
		{[]byte{0x05, 0x89, 0x88, 0xff}, "/0x058988ff"},
		{[]byte("\x00garbage\x7f"), "/0x00676172626167657f"},
	} {
		if got := Pretty(tc.key); got != tc.want {
			t.Errorf("Pretty(%q) = %s, want %s", tc.key, got, tc.want)
		}
	}
}
