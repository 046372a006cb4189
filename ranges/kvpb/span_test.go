package kvpb

import "testing"

func TestSpanOverlaps(t *testing.T) {
	pt := func(k string) Span { return Span{Key: []byte(k)} }
	rg := func(k, e string) Span { return Span{Key: []byte(k), EndKey: []byte(e)} }
	for _, tc := range []struct {
		a, b Span
		want bool
	}{
		{pt("a"), pt("a"), true},
		{pt("a"), pt("b"), false},
		{pt("a"), pt("a\x00"), false},
		{pt("b"), rg("a", "c"), true},
		{pt("a"), rg("a", "c"), true},
		{pt("c"), rg("a", "c"), false},
		{pt("a\x00"), rg("a", "a\x00"), false},
		{rg("a", "c"), rg("b", "d"), true},
		{rg("a", "b"), rg("b", "c"), false},
		{rg("a", "z"), rg("c", "d"), true},
	} {
		if got := tc.a.Overlaps(tc.b); got != tc.want {
			t.Errorf("%v overlaps %v: %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if got := tc.b.Overlaps(tc.a); got != tc.want {
			t.Errorf("%v overlaps %v: %v, want %v", tc.b, tc.a, got, tc.want)
		}
	}
}

func TestDescriptorOverlaps(t *testing.T) {
	rg := func(k, e string) *RangeDescriptor { return &RangeDescriptor{StartKey: []byte(k), EndKey: []byte(e)} }
	for _, tc := range []struct {
		a, b *RangeDescriptor
		want bool
	}{
		{rg("a", "c"), rg("b", "d"), true},
		{rg("a", "c"), rg("c", "d"), false}, // end keys are exclusive
		{rg("a", "d"), rg("b", "c"), true},
		{rg("", "\xff\xff"), rg("m", "n"), true},
		{rg("", ""), rg("", "\xff\xff"), false}, // a descriptor without keys
	} {
		if got := tc.a.Overlaps(tc.b); got != tc.want {
			t.Errorf("%s overlaps %s: %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if got := tc.b.Overlaps(tc.a); got != tc.want {
			t.Errorf("%s overlaps %s: %v, want %v", tc.b, tc.a, got, tc.want)
		}
	}
}
