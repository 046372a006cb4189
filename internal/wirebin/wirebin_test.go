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
