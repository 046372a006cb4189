package kvpb

import (
	"bytes"
	"fmt"

	"github.com/meridiandb/meridian/ranges/keys"
)

// ReplicaDescriptor names one replica of a range.
type ReplicaDescriptor struct {
	NodeID    uint64
	StoreID   uint64
	ReplicaID uint64
}

// RangeDescriptor is the authoritative description of a range: its span and its replicas.
// Generation grows with every split, merge and replica change, so of two descriptors of the
// same range the newer is the one with the higher generation.
type RangeDescriptor struct {
	RangeID    uint64
	StartKey   []byte
	EndKey     []byte
	Replicas   []ReplicaDescriptor
	Generation int64
	// Sticky: a user split the range off its left neighbour; the merge queue keeps it apart.
	Sticky bool `codec:",omitempty"`
}

// ContainsKey reports whether key belongs to the range, routing transaction records by their
// anchor key.
func (d *RangeDescriptor) ContainsKey(key []byte) bool {
	a := keys.Addr(key)
	return bytes.Compare(d.StartKey, a) <= 0 && bytes.Compare(a, d.EndKey) < 0
}

// Overlaps reports whether the ranges d and o share a key. A descriptor without keys (a
// replica's that does not know its range yet) overlaps nothing.
func (d *RangeDescriptor) Overlaps(o *RangeDescriptor) bool {
	return bytes.Compare(d.StartKey, o.EndKey) < 0 && bytes.Compare(o.StartKey, d.EndKey) < 0
}

// Replica returns the descriptor of the range's replica on node nodeID, or false.
func (d *RangeDescriptor) Replica(nodeID uint64) (ReplicaDescriptor, bool) {
	for _, r := range d.Replicas {
		if r.NodeID == nodeID {
			return r, true
		}
	}
	return ReplicaDescriptor{}, false
}

func (d *RangeDescriptor) String() string {
	return fmt.Sprintf("r%d:[%q,%q)", d.RangeID, d.StartKey, d.EndKey)
}

// plainDescriptor encodes without RangeDescriptor's methods (go-msgpack would call
// MarshalBinary on the value it is encoding).
type plainDescriptor RangeDescriptor

// MarshalBinary encodes the descriptor, as stored in range-local keys and meta records.
func (d *RangeDescriptor) MarshalBinary() ([]byte, error) { return encodeWire((*plainDescriptor)(d)) }

// UnmarshalBinary decodes a descriptor encoded by MarshalBinary.
func (d *RangeDescriptor) UnmarshalBinary(b []byte) error {
	*d = RangeDescriptor{}
	if err := decodeWire(b, (*plainDescriptor)(d)); err != nil {
		return fmt.Errorf("kvpb: decoding range descriptor: %w", err)
	}
	return nil
}
