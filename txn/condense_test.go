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

func TestGroupLockSpans(t *testing.T) {
	ctx := context.Background()
	lookup := splitLookup{split: []byte("k500000")}
	// A few intents far apart stay points, grouped by range in the order first met.
	few := []kvpb.Span{{Key: []byte("z")}, {Key: []byte("a")}, {Key: []byte("b"), EndKey: []byte("c")}}
	got := groupLockSpans(ctx, lookup, few)
	if len(got) != 2 || got[0].rangeID != 2 || len(got[0].spans) != 1 || got[1].rangeID != 1 || len(got[1].spans) != 2 {
		t.Fatalf("a few spans are grouped by range as they are, got %+v", got)
	}
	// A bulk write's many intents on one range become one span covering them; the other
	// range's few stay points.
	var many []kvpb.Span
	for i := 100000 + condenseAbove; i >= 100000; i-- {
		many = append(many, kvpb.Span{Key: []byte(fmt.Sprintf("k%d", i))})
	}
	many = append(many, kvpb.Span{Key: []byte("k600000")}, kvpb.Span{Key: []byte("k600100"), EndKey: []byte("k600200")})
	got = groupLockSpans(ctx, lookup, many)
	if len(got) != 2 {
		t.Fatalf("got %d groups, want 2", len(got))
	}
	bulk := got[0].spans
	want := kvpb.Span{Key: []byte("k100000"), EndKey: []byte(fmt.Sprintf("k%d\x00", 100000+condenseAbove))}
	if got[0].rangeID != 1 || len(bulk) != 1 || !bytes.Equal(bulk[0].Key, want.Key) || !bytes.Equal(bulk[0].EndKey, want.EndKey) {
		t.Fatalf("bulk range: got %+v, want one span %v", got[0], want)
	}
	if got[1].rangeID != 2 || len(got[1].spans) != 2 {
		t.Fatalf("other range: got %+v, want its two spans", got[1])
	}
}
