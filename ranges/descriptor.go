package ranges

import (
	"fmt"

	"github.com/cockroachdb/pebble"

	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/ranges/mvcc"

	"github.com/meridiandb/meridian/ranges/kvpb"
)

func encodeDescriptor(d *kvpb.RangeDescriptor) []byte {
	b, err := d.MarshalBinary()
	if err != nil {
		panic(fmt.Sprintf("encoding range descriptor: %v", err)) // a plain struct always encodes
	}
	return b
}

func decodeDescriptor(b []byte) (*kvpb.RangeDescriptor, error) {
	var d kvpb.RangeDescriptor
	if err := d.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return &d, nil
}

// loadDescriptor reads range rangeID's descriptor from the store.
func loadDescriptor(db pebble.Reader, rangeID uint64) (*kvpb.RangeDescriptor, error) {
	v, ok, err := mvcc.GetUnversioned(db, keys.RangeDescriptorKey(rangeID))
	if err != nil {
		return nil, fmt.Errorf("reading descriptor of r%d: %w", rangeID, err)
	}
	if !ok {
		return nil, fmt.Errorf("r%d has no descriptor", rangeID)
	}
	return decodeDescriptor(v)
}
