package ranges

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// ReplicaDescriptor names one replica of a range.
type ReplicaDescriptor struct {
	NodeID    uint64
	StoreID   uint64
	ReplicaID uint64
}

// RangeDescriptor is the authoritative description of a range: its span and its replicas.
type RangeDescriptor struct {
	RangeID    uint64
	StartKey   []byte
	EndKey     []byte
	Replicas   []ReplicaDescriptor
	Generation int64
}

// ContainsKey reports whether key belongs to the range, routing transaction records by their
// anchor key.
func (d *RangeDescriptor) ContainsKey(key []byte) bool {
	a := addressKey(key)
	return bytes.Compare(d.StartKey, a) <= 0 && bytes.Compare(a, d.EndKey) < 0
}

func (d *RangeDescriptor) String() string {
	return fmt.Sprintf("r%d:[%q,%q)", d.RangeID, d.StartKey, d.EndKey)
}

func encodeDescriptor(d *RangeDescriptor) []byte {
	b, err := json.Marshal(d)
	if err != nil {
		panic(fmt.Sprintf("encoding range descriptor: %v", err)) // a plain struct always encodes
	}
	return b
}

func decodeDescriptor(b []byte) (*RangeDescriptor, error) {
	var d RangeDescriptor
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("decoding range descriptor: %w", err)
	}
	return &d, nil
}
