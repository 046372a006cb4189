// Package wirebin holds the pieces of Meridian's hand-written binary message forms (the
// Raft transport's batches, transaction records): appending length-prefixed byte strings,
// and a Reader whose first error sticks, so that a decoder reads a whole message with no
// checks in between and looks at the error once. Integers are Go's uvarints and varints.
// A Reader never panics and never allocates more than its input could describe.
package wirebin

import (
	"encoding/binary"
	"errors"
)

// ErrTruncated is the error of a Reader that ran out of input, or met a malformed integer.
var ErrTruncated = errors.New("truncated or malformed message")

// AppendBytes appends s with its length in front: 0 for nil, else 1 + its length, so that
// nil and empty byte strings stay apart (an empty value is not an absent one).
func AppendBytes(b, s []byte) []byte {
	if s == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(s))+1)
	return append(b, s...)
}

// AppendBool appends v as one byte, 1 or 0.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// Reader decodes a message. After its first error every read returns a zero value.
type Reader struct {
	b   []byte
	err error
}

// NewReader returns a Reader of b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Err is the first error met, if any.
func (r *Reader) Err() error { return r.err }

// Len is how many bytes are left.
func (r *Reader) Len() int { return len(r.b) }

func (r *Reader) fail() {
	if r.err == nil {
		r.err = ErrTruncated
	}
	r.b = nil
}

// Uvarint reads an unsigned integer.
func (r *Reader) Uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Varint reads a signed integer.
func (r *Reader) Varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// Bool reads a byte written by AppendBool.
func (r *Reader) Bool() bool { return r.Byte() == 1 }

// Fixed reads n bytes, returned without copying.
func (r *Reader) Fixed(n int) []byte {
	if n > len(r.b) {
		r.fail()
		return nil
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s
}

// Bytes reads a byte string written by AppendBytes into a copy of its own (what is decoded
// outlives its input), nil if it was nil.
func (r *Reader) Bytes() []byte {
	n := r.Uvarint()
	if n == 0 {
		return nil
	}
	n--
	if n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	s := make([]byte, n)
	copy(s, r.b)
	r.b = r.b[n:]
	return s
}

// Count reads the number of elements that follow, each taking at least minSize bytes; a
// count the rest of the input cannot hold is an error, so that a decoder may allocate for
// it.
func (r *Reader) Count(minSize int) int {
	n := r.Uvarint()
	if n > uint64(len(r.b)/max(minSize, 1)) {
		r.fail()
		return 0
	}
	return int(n)
}

// Frame prefixes the bytes of b from start on with their length, moving them up: a writer
// appends an element in place, then frames it, so that a reader can take it whole (Reader.
// Frame) without knowing its form, and skip what it does not understand.
func Frame(b []byte, start int) []byte {
	n := len(b) - start
	var hdr [binary.MaxVarintLen64]byte
	h := binary.PutUvarint(hdr[:], uint64(n))
	b = append(b, hdr[:h]...)
	copy(b[start+h:], b[start:start+n])
	copy(b[start:], hdr[:h])
	return b
}

// Frame reads an element written with Frame, returned without copying.
func (r *Reader) Frame() []byte {
	n := r.Uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	return r.Fixed(int(n))
}
