package txn

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/meridiandb/meridian/ranges/kvpb"
)

// splitLookup places keys below split on range 1 and the rest on range 2.
type splitLookup struct{ split []byte }

func (l splitLookup) RangeForKey(_ context.Context, key []byte) (kvpb.RangeDescriptor, error) {
	if bytes.Compare(key, l.split) < 0 {
		return kvpb.RangeDescriptor{RangeID: 1, EndKey: l.split}, nil
	}
	return kvpb.RangeDescriptor{RangeID: 2, StartKey: l.split}, nil
}

func TestCondenseLockSpans(t *testing.T) {
	ctx := context.Background()
	lookup := splitLookup{split: []byte("k500")}
	few := []kvpb.Span{{Key: []byte("a")}, {Key: []byte("z")}}
	if got := condenseLockSpans(ctx, lookup, few); len(got) != 2 {
		t.Fatalf("a few spans are kept as they are, got %v", got)
	}
	var many []kvpb.Span
	for i := 999; i >= 100; i-- {
		many = append(many, kvpb.Span{Key: []byte(fmt.Sprintf("k%d", i))})
	}
	many = append(many, kvpb.Span{Key: []byte("k600"), EndKey: []byte("k700")})
	got := condenseLockSpans(ctx, lookup, many)
	// One span per range, covering its keys; ranges in the order first met.
	want := []kvpb.Span{
		{Key: []byte("k500"), EndKey: []byte("k999\x00")},
		{Key: []byte("k100"), EndKey: []byte("k499\x00")},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if !bytes.Equal(got[i].Key, want[i].Key) || !bytes.Equal(got[i].EndKey, want[i].EndKey) {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}
