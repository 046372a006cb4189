package kvpb

import (
	"math"
	"testing"
)

func TestIncrementAllocate(t *testing.T) {
	st := func(v int64, called bool) *CounterState { return &CounterState{Value: v, Called: called} }
	for _, tc := range []struct {
		name      string
		req       IncrementRequest
		present   *CounterState
		first, n  int64
		nextValue int64
	}{
		{"fresh", IncrementRequest{Increment: 1, Count: 1, Start: 1, Min: 1, Max: 10}, nil, 1, 1, 1},
		{"next", IncrementRequest{Increment: 1, Count: 1, Start: 1, Min: 1, Max: 10}, st(4, true), 5, 1, 5},
		{"not called", IncrementRequest{Increment: 1, Count: 1, Start: 1, Min: 1, Max: 10}, st(4, false), 4, 1, 4},
		{"cache", IncrementRequest{Increment: 2, Count: 3, Start: 1, Min: 1, Max: 100}, st(5, true), 7, 3, 11},
		{"cache clamped", IncrementRequest{Increment: 2, Count: 10, Start: 1, Min: 1, Max: 10}, st(5, true), 7, 2, 9},
		{"exhausted", IncrementRequest{Increment: 1, Count: 1, Start: 1, Min: 1, Max: 10}, st(10, true), 0, 0, 10},
		{"cycle", IncrementRequest{Increment: 1, Count: 1, Start: 1, Min: 1, Max: 10, Cycle: true}, st(10, true), 1, 1, 1},
		{"descending", IncrementRequest{Increment: -1, Count: 1, Start: -1, Min: -3, Max: -1}, st(-2, true), -3, 1, -3},
		{"descending cycle", IncrementRequest{Increment: -1, Count: 1, Start: -1, Min: -3, Max: -1, Cycle: true}, st(-3, true), -1, 1, -1},
		{"int64 edge", IncrementRequest{Increment: 1, Count: 5, Start: 1, Min: math.MinInt64, Max: math.MaxInt64}, st(math.MaxInt64-2, true), math.MaxInt64 - 1, 2, math.MaxInt64},
		{"wide span", IncrementRequest{Increment: 1, Count: 3, Start: 1, Min: math.MinInt64, Max: math.MaxInt64}, st(-5, true), -4, 3, -2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, next := tc.req.Allocate(tc.present)
			if resp.First != tc.first || resp.Count != tc.n {
				t.Fatalf("got first %d count %d, want %d and %d", resp.First, resp.Count, tc.first, tc.n)
			}
			if next.Value != tc.nextValue {
				t.Fatalf("stored %d, want %d", next.Value, tc.nextValue)
			}
			if resp.Count > 0 && !next.Called {
				t.Fatal("state after an allocation must be called")
			}
		})
	}
}

func TestCounterStateRoundTrip(t *testing.T) {
	for _, s := range []CounterState{{Value: -7, Called: true}, {Value: math.MaxInt64}} {
		got, err := DecodeCounterState(s.Encode())
		if err != nil || got != s {
			t.Fatalf("round trip of %+v: %+v, %v", s, got, err)
		}
	}
	if _, err := DecodeCounterState([]byte{1}); err == nil {
		t.Fatal("short value decoded")
	}
}
