package wirebin

import (
	"bytes"
	"testing"
)

func TestBytesKeepNilApartFromEmpty(t *testing.T) {
	var b []byte
	for _, s := range [][]byte{nil, {}, []byte("abc")} {
		b = AppendBytes(b, s)
	}
	r := NewReader(b)
	for _, want := range [][]byte{nil, {}, []byte("abc")} {
		got := r.Bytes()
		if (got == nil) != (want == nil) || !bytes.Equal(got, want) {
			t.Fatalf("read %q (nil %v), want %q (nil %v)", got, got == nil, want, want == nil)
		}
	}
	if r.Err() != nil || r.Len() != 0 {
		t.Fatalf("after reading everything: err %v, %d bytes left", r.Err(), r.Len())
	}
	if r.Bytes(); r.Err() == nil {
		t.Fatal("reading past the end: no error")
	}
}

func TestBool(t *testing.T) {
	r := NewReader(AppendBool(AppendBool(nil, true), false))
	if !r.Bool() || r.Bool() || r.Err() != nil {
		t.Fatal("booleans did not read back")
	}
}

func TestFrame(t *testing.T) {
	// Elements of 0, 1, 127 and 300 bytes: lengths of one and two bytes.
	b := []byte("head")
	sizes := []int{0, 1, 127, 300}
	for i, n := range sizes {
		start := len(b)
		b = append(b, bytes.Repeat([]byte{byte('a' + i)}, n)...)
		b = Frame(b, start)
	}
	r := NewReader(b)
	if h := r.Fixed(4); string(h) != "head" {
		t.Fatalf("head %q", h)
	}
	for i, n := range sizes {
		if got := r.Frame(); !bytes.Equal(got, bytes.Repeat([]byte{byte('a' + i)}, n)) {
			t.Fatalf("element %d: %q", i, got)
		}
	}
	if r.Err() != nil || r.Len() != 0 {
		t.Fatalf("err %v, %d bytes left", r.Err(), r.Len())
	}
	// A length past the end, or past any int, is an error and not a panic.
	for _, bad := range [][]byte{{5, 'a'}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}} {
		if r := NewReader(bad); r.Frame() != nil || r.Err() == nil {
			t.Fatalf("%x: read a frame", bad)
		}
	}
}
