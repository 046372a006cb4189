package ranges

import (
	"context"
	"fmt"
	"testing"

	"github.com/meridiandb/meridian/ranges/kvpb"
)

func pointLatchSpan(k string, write bool) latchSpan {
	return latchSpan{span: kvpb.Span{Key: []byte(k)}, write: write}
}

func rangeLatchSpan(k, end string, write bool) latchSpan {
	return latchSpan{span: kvpb.Span{Key: []byte(k), EndKey: []byte(end)}, write: write}
}

// TestLatchConflicts checks which latches wait for which: writers exclude everyone on their
// keys, readers only writers, point and range spans alike, with many latches held.
func TestLatchConflicts(t *testing.T) {
	m := newLatchManager()
	ctx := context.Background()
	var held []*latchGuard
	for i := 0; i < 1000; i++ { // a pipelined transaction's single-key writes
		g, err := m.acquire(ctx, []latchSpan{pointLatchSpan(fmt.Sprintf("w%04d", i), true)})
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, g)
	}
	reader, err := m.acquire(ctx, []latchSpan{pointLatchSpan("r", false), rangeLatchSpan("s", "u", false)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		spans []latchSpan
		want  *latchGuard
	}{
		{"a write on a written key", []latchSpan{pointLatchSpan("w0500", true)}, held[500]},
		{"a read of a written key", []latchSpan{pointLatchSpan("a", false), pointLatchSpan("w0999", false)}, held[999]},
		{"a write next to written keys", []latchSpan{pointLatchSpan("w0500\x00", true)}, nil},
		{"a read of a read key", []latchSpan{pointLatchSpan("r", false)}, nil},
		{"a write on a read key", []latchSpan{pointLatchSpan("r", true)}, reader},
		{"a write in a read range", []latchSpan{pointLatchSpan("t", true)}, reader},
		{"a write at a read range's end", []latchSpan{pointLatchSpan("u", true)}, nil},
		{"a read range over written keys", []latchSpan{rangeLatchSpan("w0100", "w0101", false)}, held[100]},
		{"a read range between written keys", []latchSpan{rangeLatchSpan("w0100\x00", "w0101", false)}, nil},
		{"a write range over a read range", []latchSpan{rangeLatchSpan("a", "z", true)}, nil}, // any holder
		{"nothing", nil, nil},
	} {
		m.mu.Lock()
		got := m.blocker(newLatchGuard(tc.spans))
		m.mu.Unlock()
		if tc.name == "a write range over a read range" {
			if got == nil {
				t.Errorf("%s: no conflict", tc.name)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("%s: blocked by %v, want %v", tc.name, got, tc.want)
		}
	}
	// Released latches no longer block.
	m.release(held[500])
	m.mu.Lock()
	if got := m.blocker(newLatchGuard([]latchSpan{pointLatchSpan("w0500", true)})); got != nil {
		t.Errorf("a released latch blocks: %v", got)
	}
	if len(m.points) != 1000 { // 999 written keys and the read one
		t.Errorf("%d keys indexed after a release, want 1000", len(m.points))
	}
	m.mu.Unlock()
}
