package catalog

import (
	"testing"

	"github.com/meridiandb/meridian/hlc"
)

func TestLeaseRecordEncoding(t *testing.T) {
	for _, tc := range []struct {
		v     uint64
		until hlc.Timestamp
	}{
		{1, hlc.Timestamp{WallTime: 1}},
		{42, hlc.Timestamp{WallTime: 1_764_000_000_000_000_000, Logical: 7}},
		{1 << 63, hlc.Timestamp{WallTime: 1<<62 + 3, Logical: 1<<31 - 1}},
	} {
		v, until, err := decodeLease(encodeLease(tc.v, tc.until))
		if err != nil || v != tc.v || until != tc.until {
			t.Errorf("lease (%d, %s) decoded as (%d, %s), %v", tc.v, tc.until, v, until, err)
		}
	}
	for _, bad := range [][]byte{nil, make([]byte, 8), make([]byte, 21)} {
		if _, _, err := decodeLease(bad); err == nil {
			t.Errorf("decodeLease(%d bytes): no error", len(bad))
		}
	}
}
