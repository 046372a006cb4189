package ranges

import (
	"encoding/json"
	"fmt"

	"github.com/meridiandb/meridian/ranges/kvpb"
)

func encodeDescriptor(d *kvpb.RangeDescriptor) []byte {
	b, err := json.Marshal(d)
	if err != nil {
		panic(fmt.Sprintf("encoding range descriptor: %v", err)) // a plain struct always encodes
	}
	return b
}

func decodeDescriptor(b []byte) (*kvpb.RangeDescriptor, error) {
	var d kvpb.RangeDescriptor
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("decoding range descriptor: %w", err)
	}
	return &d, nil
}
