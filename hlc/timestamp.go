package hlc

import (
	"fmt"
)

// Timestamp is a hybrid logical clock reading: wall-clock nanoseconds since the Unix epoch
// plus a logical counter that orders events within one wall-clock nanosecond.
// The zero Timestamp is "no timestamp" and sorts before every real one.
type Timestamp struct {
	WallTime int64
	Logical  int32
}

// MaxTimestamp sorts after every timestamp a clock can produce.
var MaxTimestamp = Timestamp{WallTime: 1<<63 - 1, Logical: 1<<31 - 1}

// IsEmpty reports whether t is the zero Timestamp.
func (t Timestamp) IsEmpty() bool { return t == Timestamp{} }

// Compare returns -1, 0 or +1 as t is before, equal to or after o.
func (t Timestamp) Compare(o Timestamp) int {
	switch {
	case t.WallTime < o.WallTime:
		return -1
	case t.WallTime > o.WallTime:
		return 1
	case t.Logical < o.Logical:
		return -1
	case t.Logical > o.Logical:
		return 1
	}
	return 0
}

// Less reports whether t is strictly before o.
func (t Timestamp) Less(o Timestamp) bool { return t.Compare(o) < 0 }

// LessEq reports whether t is before or equal to o.
func (t Timestamp) LessEq(o Timestamp) bool { return t.Compare(o) <= 0 }

// Next is the smallest timestamp after t.
func (t Timestamp) Next() Timestamp {
	if t.Logical == 1<<31-1 {
		return Timestamp{WallTime: t.WallTime + 1}
	}
	return Timestamp{WallTime: t.WallTime, Logical: t.Logical + 1}
}

// Prev is the largest timestamp before t. Prev of the zero timestamp is the zero timestamp.
func (t Timestamp) Prev() Timestamp {
	switch {
	case t.Logical > 0:
		return Timestamp{WallTime: t.WallTime, Logical: t.Logical - 1}
	case t.WallTime > 0:
		return Timestamp{WallTime: t.WallTime - 1, Logical: 1<<31 - 1}
	}
	return Timestamp{}
}

// Forward returns the later of t and o.
func (t Timestamp) Forward(o Timestamp) Timestamp {
	if t.Less(o) {
		return o
	}
	return t
}

// Backward returns the earlier of t and o.
func (t Timestamp) Backward(o Timestamp) Timestamp {
	if o.Less(t) {
		return o
	}
	return t
}

// Add returns t moved by nanos of wall time. The logical part is dropped: it orders events
// within one wall time, and the result is a different wall time.
func (t Timestamp) Add(nanos int64) Timestamp {
	return Timestamp{WallTime: t.WallTime + nanos}
}

func (t Timestamp) String() string {
	return fmt.Sprintf("%d.%09d,%d", t.WallTime/1e9, t.WallTime%1e9, t.Logical)
}
