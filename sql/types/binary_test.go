package types

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/meridiandb/meridian/sql/pgerror"
)

// TestBinaryKnown checks encodings against the bytes PostgreSQL's send functions produce.
func TestBinaryKnown(t *testing.T) {
	for _, c := range []struct {
		typ  T
		d    Datum
		want []byte
	}{
		{Bool, true, []byte{1}},
		{Int2, int64(-2), []byte{0xff, 0xfe}},
		{Int4, int64(258), []byte{0, 0, 1, 2}},
		{Int8, int64(-1), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{Float4, 1.5, []byte{0x3f, 0xc0, 0, 0}},
		{Float8, 1.5, []byte{0x3f, 0xf8, 0, 0, 0, 0, 0, 0}},
		{String, "hé", []byte{'h', 0xc3, 0xa9}},
		{T{Family: StringFamily, StringKind: Char, Width: 3}, "a", []byte("a  ")},
		{Bytes, []byte{0, 1}, []byte{0, 1}},
		{Date, time.Date(2000, 1, 2, 0, 0, 0, 0, time.UTC), []byte{0, 0, 0, 1}},
		{Date, time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC), []byte{0xff, 0xff, 0xff, 0xff}},
		{Date, time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC), []byte{0xff, 0xfd, 0x36, 0xa3}}, // -182621 days
		{Timestamp, time.Date(2000, 1, 1, 0, 0, 1, 500000000, time.UTC), []byte{0, 0, 0, 0, 0, 0x16, 0xe3, 0x60}},
		{TimestampTZ, time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{UUIDType, UUID{15: 7}, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7}},
	} {
		got, err := AppendBinary([]byte{9}, c.typ, c.d)
		if err != nil || !bytes.Equal(got, append([]byte{9}, c.want...)) {
			t.Errorf("AppendBinary(%s, %v) = %x, %v; want %x", c.typ, c.d, got, err, c.want)
		}
		back, err := DecodeBinary(c.typ, c.want)
		if err != nil || Compare(c.typ, back, c.d) != 0 {
			t.Errorf("DecodeBinary(%s, %x) = %v, %v; want %v", c.typ, c.want, back, err, c.d)
		}
	}
}

// TestNumericBinaryKnown checks numeric_send's format: ndigits, weight, sign, dscale, digits.
func TestNumericBinaryKnown(t *testing.T) {
	w := func(vs ...int) []byte {
		var b []byte
		for _, v := range vs {
			b = append(b, byte(uint16(v)>>8), byte(v))
		}
		return b
	}
	for _, c := range []struct {
		in   string
		want []byte
	}{
		{"12345.678", w(3, 1, 0, 3, 1, 2345, 6780)},
		{"-0.0012", w(1, -1, 0x4000, 4, 12)},
		{"0", w(0, 0, 0, 0)},
		{"0.00", w(0, 0, 0, 2)},
		{"-0.00", w(0, 0, 0, 2)},
		{"1", w(1, 0, 0, 0, 1)},
		{"10000", w(1, 1, 0, 0, 1)},
		{"1e8", w(1, 2, 0, 0, 1)},
		{"1.5E+3", w(1, 0, 0, 0, 1500)},
		{"0.0001", w(1, -1, 0, 4, 1)},
		{"0.00001", w(1, -2, 0, 5, 1000)},
		{"123456789.1", w(4, 2, 0, 1, 1, 2345, 6789, 1000)},
		{"99999999", w(2, 1, 0, 0, 9999, 9999)},
		{"1.10", w(2, 0, 0, 2, 1, 1000)},
		{"NaN", w(0, 0, 0xC000, 0)},
		{"Infinity", w(0, 0, 0xD000, 0)},
		{"-Infinity", w(0, 0, 0xF000, 0)},
	} {
		d, err := ParseText(Numeric, c.in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := AppendBinary(nil, Numeric, d)
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("%s → %x, want %x (%v)", c.in, got, c.want, err)
		}
		back, err := DecodeBinary(Numeric, c.want)
		if err != nil || text(Numeric, back) != text(Numeric, d) {
			t.Errorf("decode %x = %v, %v; want %s", c.want, back, err, text(Numeric, d))
		}
	}
	// Hidden digits beyond dscale are truncated, as numeric_recv does.
	back, err := DecodeBinary(Numeric, w(2, 0, 0, 1, 1, 5678))
	if err != nil || text(Numeric, back) != "1.5" {
		t.Errorf("truncation: %v, %v", back, err)
	}
	// The receiving column's typmod applies.
	back, err = DecodeBinary(mustType(t, "numeric(4,1)"), w(2, 0, 0, 2, 1, 2500))
	if err != nil || text(Numeric, back) != "1.3" {
		t.Errorf("typmod: %v, %v", text(Numeric, back), err)
	}
	for _, c := range []struct {
		b   []byte
		msg string
	}{
		{w(1, 0, 0), "incorrect binary data format"},
		{w(2, 0, 0, 0, 1), `invalid length in external "numeric" value`},
		{w(1, 0, 0x1234, 0, 1), `invalid sign in external "numeric" value`},
		{w(1, 0, 0, 0, 10000), `invalid digit in external "numeric" value`},
		{w(1, 0, 0, 16384, 1), `invalid scale in external "numeric" value`},
	} {
		_, err := DecodeBinary(Numeric, c.b)
		expectErr(t, "numeric recv", err, pgerror.CodeInvalidBinaryRepresent, c.msg)
	}
	_, err = DecodeBinary(mustType(t, "numeric(3,0)"), w(1, 1, 0, 0, 1))
	expectErr(t, "numeric typmod", err, pgerror.CodeNumericValueOutOfRange, "numeric field overflow")
}

func TestDecodeBinaryErrors(t *testing.T) {
	for _, c := range []struct {
		typ  T
		b    []byte
		code string
	}{
		{Bool, nil, pgerror.CodeInvalidBinaryRepresent},
		{Int2, []byte{0, 0, 0, 1}, pgerror.CodeInvalidBinaryRepresent},
		{Int4, []byte{0, 1}, pgerror.CodeInvalidBinaryRepresent},
		{Int8, []byte{0, 0, 0, 1}, pgerror.CodeInvalidBinaryRepresent},
		{Float4, make([]byte, 8), pgerror.CodeInvalidBinaryRepresent},
		{Float8, make([]byte, 4), pgerror.CodeInvalidBinaryRepresent},
		{Date, make([]byte, 8), pgerror.CodeInvalidBinaryRepresent},
		{Timestamp, make([]byte, 4), pgerror.CodeInvalidBinaryRepresent},
		{UUIDType, make([]byte, 15), pgerror.CodeInvalidBinaryRepresent},
		{Date, []byte{0x7f, 0xff, 0xff, 0xff}, pgerror.CodeFeatureNotSupported},
		{TimestampTZ, []byte{0x80, 0, 0, 0, 0, 0, 0, 0}, pgerror.CodeFeatureNotSupported},
		{Date, []byte{0x7f, 0xff, 0xff, 0xfe}, pgerror.CodeDatetimeFieldOverflow},
		{Timestamp, []byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}, pgerror.CodeDatetimeFieldOverflow},
		{mustType(t, "varchar(2)"), []byte("abc"), pgerror.CodeStringDataRightTrunc},
		{String, []byte{0xff}, pgerror.CodeCharacterNotInRepertoire},
	} {
		_, err := DecodeBinary(c.typ, c.b)
		expectErr(t, c.typ.String(), err, c.code, "")
	}
	_, err := DecodeBinary(Int4, []byte{1})
	expectErr(t, "int4", err, pgerror.CodeInvalidBinaryRepresent, "incorrect binary data format")
	if f, err := DecodeBinary(Float8, []byte{0x7f, 0xf8, 0, 0, 0, 0, 0, 1}); err != nil || !math.IsNaN(f.(float64)) {
		t.Errorf("NaN: %v %v", f, err)
	}
	if d, err := DecodeBinary(Numeric, []byte{0, 0, 0, 0, 0xC0, 0, 0, 0}); err != nil || d.(*apd.Decimal).Form != apd.NaN {
		t.Errorf("numeric NaN: %v %v", d, err)
	}
}
