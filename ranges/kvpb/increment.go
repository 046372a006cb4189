package kvpb

import (
	"encoding/binary"
	"errors"
	"math"
)

// IncrementRequest allocates up to Count consecutive values of the bounded arithmetic counter
// stored at Key, the primitive under SQL sequences. It reads and advances the newest value of
// the key in one evaluation at the leaseholder, so concurrent increments never hand out the
// same value. It is meant to be sent outside any transaction (txn.DB.Increment): values
// taken by a transaction that later aborts are not given back, as PostgreSQL's sequences
// promise.
type IncrementRequest struct {
	Key []byte
	// Increment is the step from one value to the next; it is never zero.
	Increment int64
	// Count is how many values to allocate (at least one). Fewer are allocated when the
	// counter reaches a bound first.
	Count int64
	// Start is the first value handed out by a counter whose key holds no value yet.
	Start int64
	// Min and Max bound the values handed out.
	Min, Max int64
	// Cycle: past its bound, the counter starts again at the other bound (Min when the
	// increment is positive). Without it, the counter stops there.
	Cycle bool
}

// IncrementResponse says which values an IncrementRequest allocated: First, First+Increment,
// …, Count of them. Count is 0 when the counter had reached its bound and does not cycle.
type IncrementResponse struct {
	First int64
	Count int64
}

// Header implements Request.
func (r *IncrementRequest) Header() Span { return Span{Key: r.Key} }

// IsWrite implements Request.
func (*IncrementRequest) IsWrite() bool { return true }

// CounterState is what a counter key holds: the last value handed out, or, when Called is
// false, the next value to hand out (a fresh counter, or one set by SQL's
// setval(…, is_called => false)).
type CounterState struct {
	Value  int64
	Called bool
}

// Encode returns the stored form: the value (8 bytes, big-endian) and the called flag. It is
// never empty, which MVCC would take for a deletion.
func (s CounterState) Encode() []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 9), uint64(s.Value))
	if s.Called {
		return append(b, 1)
	}
	return append(b, 0)
}

// DecodeCounterState decodes what Encode returned.
func DecodeCounterState(b []byte) (CounterState, error) {
	if len(b) != 9 {
		return CounterState{}, errors.New("kvpb: a counter value is 9 bytes")
	}
	return CounterState{Value: int64(binary.BigEndian.Uint64(b)), Called: b[8] != 0}, nil
}

// Allocate applies r to the counter's present state (nil for a key without a value): the
// values it hands out and the state to store after. The state is unchanged when no value
// is left.
func (r *IncrementRequest) Allocate(present *CounterState) (IncrementResponse, CounterState) {
	cur := CounterState{Value: r.Start}
	if present != nil {
		cur = *present
	}
	count := max(r.Count, 1)
	var first int64
	if !cur.Called {
		first = cur.Value
	} else if next, ok := r.step(cur.Value, 1); ok {
		first = next
	} else if r.Cycle {
		first = r.Min
		if r.Increment < 0 {
			first = r.Max
		}
	} else {
		return IncrementResponse{}, cur
	}
	if first < r.Min || first > r.Max {
		if !r.Cycle {
			return IncrementResponse{}, cur
		}
		first = r.Min
		if r.Increment < 0 {
			first = r.Max
		}
	}
	// The values after first that still lie within the bounds.
	var room int64
	if r.Increment > 0 {
		room = (r.Max - first) / r.Increment
		if r.Max-first < 0 { // overflowed: the span exceeds int64
			room = math.MaxInt64
		}
	} else {
		room = (first - r.Min) / -r.Increment
		if first-r.Min < 0 {
			room = math.MaxInt64
		}
	}
	n := count
	if room < count-1 {
		n = room + 1
	}
	last, _ := r.step(first, n-1)
	return IncrementResponse{First: first, Count: n}, CounterState{Value: last, Called: true}
}

// step returns v advanced by n increments, and false if that leaves the bounds or int64.
func (r *IncrementRequest) step(v, n int64) (int64, bool) {
	if n == 0 {
		return v, true
	}
	d := r.Increment * n
	if d/n != r.Increment {
		return 0, false
	}
	next := v + d
	if (d > 0 && next < v) || (d < 0 && next > v) {
		return 0, false
	}
	return next, next >= r.Min && next <= r.Max
}
