package encoding

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"time"
)

// Direction is the sort order of an encoded value.
type Direction uint8

// The directions.
const (
	Ascending Direction = iota
	Descending
)

func (d Direction) String() string {
	if d == Descending {
		return "desc"
	}
	return "asc"
}

// flip is the byte every byte of an ascending encoding is XORed with to give its form in
// direction d.
func (d Direction) flip() byte {
	if d == Descending {
		return 0xff
	}
	return 0
}

// Markers, in their ascending form. A column holds one kind of value, so kinds only need
// distinct markers, not an order among themselves; NULL alone must order against the
// others, and being the largest ascending marker makes it (inverted) the smallest
// descending one. The decimal markers double as a coarse sort class.
const (
	markerBool      = 0x10
	markerInt       = 0x11
	markerFloat     = 0x12
	markerBytes     = 0x13
	markerString    = 0x14
	markerTime      = 0x15
	markerUUID      = 0x16
	markerDecNegInf = 0x20
	markerDecNeg    = 0x21
	markerDecZero   = 0x22
	markerDecPos    = 0x23
	markerDecPosInf = 0x24
	markerDecNaN    = 0x25
	markerNull      = 0xf0
)

// ErrCorrupt is wrapped by every decoding error, so callers can tell bad input from other
// failures with errors.Is.
var ErrCorrupt = errors.New("corrupt key encoding")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// invert turns the ascending encoding in b[start:] into direction dir's. Inverting every
// byte reverses bytewise order between strings of which neither is a prefix of the other,
// which all encodings here guarantee.
func invert(b []byte, start int, dir Direction) []byte {
	if dir == Descending {
		for i := start; i < len(b); i++ {
			b[i] = ^b[i]
		}
	}
	return b
}

// fixedBody checks the marker of a fixed-width value and returns its n-byte body as stored
// (still inverted when descending), without copying.
func fixedBody(b []byte, dir Direction, marker byte, n int, what string) (rest, body []byte, err error) {
	if len(b) == 0 {
		return nil, nil, corrupt("%s: empty input", what)
	}
	if m := b[0] ^ dir.flip(); m != marker {
		return nil, nil, corrupt("%s: marker 0x%02x, want 0x%02x", what, m, byte(marker))
	}
	if len(b) < 1+n {
		return nil, nil, corrupt("%s: %d bytes, want %d", what, len(b), 1+n)
	}
	return b[1+n:], b[1 : 1+n], nil
}

func mask64(dir Direction) uint64 {
	if dir == Descending {
		return math.MaxUint64
	}
	return 0
}

// Uvarints below uvarintOneByte are the byte itself; larger ones are a byte
// uvarintOneByte-1+n followed by the n significant bytes of the value, big-endian. A longer
// value is a larger number, so comparing the length byte first and then the bytes keeps
// the order, while the small IDs that start most keys cost one byte.
const uvarintOneByte = 0xf8

// AppendUvarint appends v in an ascending, order-preserving, variable-length form. It
// encodes IDs that prefix keys, not SQL values, so it has no direction or NULL.
func AppendUvarint(b []byte, v uint64) []byte {
	if v < uvarintOneByte {
		return append(b, byte(v))
	}
	n := (bits.Len64(v) + 7) / 8
	b = append(b, byte(uvarintOneByte-1+n))
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// DecodeUvarint decodes a value appended by AppendUvarint.
func DecodeUvarint(b []byte) (rest []byte, v uint64, err error) {
	if len(b) == 0 {
		return nil, 0, corrupt("uvarint: empty input")
	}
	if b[0] < uvarintOneByte {
		return b[1:], uint64(b[0]), nil
	}
	n := int(b[0]) - (uvarintOneByte - 1)
	if len(b) < 1+n {
		return nil, 0, corrupt("uvarint: %d bytes, want %d", len(b), 1+n)
	}
	for _, c := range b[1 : 1+n] {
		v = v<<8 | uint64(c)
	}
	// Two encodings of one number would break equality of keys.
	if v < uvarintOneByte || bits.Len64(v) <= 8*(n-1) {
		return nil, 0, corrupt("uvarint: non-canonical encoding of %d", v)
	}
	return b[1+n:], v, nil
}

// AppendNull appends a SQL NULL.
func AppendNull(b []byte, dir Direction) []byte {
	return append(b, markerNull^dir.flip())
}

// DecodeNull consumes a NULL at the front of b. When b starts with a value instead, it
// returns b unchanged and false, so callers go on to decode the value.
func DecodeNull(b []byte, dir Direction) (rest []byte, isNull bool) {
	if len(b) > 0 && b[0] == markerNull^dir.flip() {
		return b[1:], true
	}
	return b, false
}

// AppendInt appends v as the marker and v big-endian with the sign bit flipped, which
// makes two's complement order unsigned.
func AppendInt(b []byte, v int64, dir Direction) []byte {
	start := len(b)
	b = append(b, markerInt)
	b = binary.BigEndian.AppendUint64(b, uint64(v)^(1<<63))
	return invert(b, start, dir)
}

// DecodeInt decodes a value appended by AppendInt.
func DecodeInt(b []byte, dir Direction) (rest []byte, v int64, err error) {
	rest, body, err := fixedBody(b, dir, markerInt, 8, "int")
	if err != nil {
		return nil, 0, err
	}
	return rest, int64(binary.BigEndian.Uint64(body) ^ mask64(dir) ^ (1 << 63)), nil
}

// AppendBool appends v; false sorts before true.
func AppendBool(b []byte, v bool, dir Direction) []byte {
	x := byte(0)
	if v {
		x = 1
	}
	f := dir.flip()
	return append(b, markerBool^f, x^f)
}

// DecodeBool decodes a value appended by AppendBool.
func DecodeBool(b []byte, dir Direction) (rest []byte, v bool, err error) {
	rest, body, err := fixedBody(b, dir, markerBool, 1, "bool")
	if err != nil {
		return nil, false, err
	}
	switch body[0] ^ dir.flip() {
	case 0:
		return rest, false, nil
	case 1:
		return rest, true, nil
	}
	return nil, false, corrupt("bool: bad value 0x%02x", body[0]^dir.flip())
}

// AppendFloat appends v. IEEE 754 bit patterns order like the values once negative numbers
// have every bit flipped and positive ones the sign bit set. -0 is written as +0 because
// SQL holds them equal, and every NaN as the all-ones pattern, which sorts after +Inf as
// PostgreSQL orders NaN.
func AppendFloat(b []byte, v float64, dir Direction) []byte {
	start := len(b)
	b = append(b, markerFloat)
	b = binary.BigEndian.AppendUint64(b, floatKey(v))
	return invert(b, start, dir)
}

func floatKey(v float64) uint64 {
	switch {
	case math.IsNaN(v):
		return math.MaxUint64
	case v == 0:
		return 1 << 63
	}
	u := math.Float64bits(v)
	if u&(1<<63) != 0 {
		return ^u
	}
	return u | 1<<63
}

// DecodeFloat decodes a value appended by AppendFloat.
func DecodeFloat(b []byte, dir Direction) (rest []byte, v float64, err error) {
	rest, body, err := fixedBody(b, dir, markerFloat, 8, "float")
	if err != nil {
		return nil, 0, err
	}
	k := binary.BigEndian.Uint64(body) ^ mask64(dir)
	switch {
	case k == math.MaxUint64:
		v = math.NaN()
	case k&(1<<63) != 0:
		v = math.Float64frombits(k &^ (1 << 63))
	default:
		v = math.Float64frombits(^k)
	}
	// -0 and NaN payloads are never written; accepting them would give one number two keys.
	if floatKey(v) != k {
		return nil, 0, corrupt("float: non-canonical encoding 0x%016x", k)
	}
	return rest, v, nil
}

// AppendTime appends the instant t, ignoring its location: Unix seconds (sign bit flipped,
// big-endian) then the nanoseconds within the second, always in [0, 1e9).
func AppendTime(b []byte, t time.Time, dir Direction) []byte {
	start := len(b)
	b = append(b, markerTime)
	b = binary.BigEndian.AppendUint64(b, uint64(t.Unix())^(1<<63))
	b = binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()))
	return invert(b, start, dir)
}

// DecodeTime decodes a value appended by AppendTime, in UTC.
func DecodeTime(b []byte, dir Direction) (rest []byte, t time.Time, err error) {
	rest, body, err := fixedBody(b, dir, markerTime, 12, "time")
	if err != nil {
		return nil, time.Time{}, err
	}
	sec := int64(binary.BigEndian.Uint64(body) ^ mask64(dir) ^ (1 << 63))
	nsec := binary.BigEndian.Uint32(body[8:]) ^ uint32(mask64(dir))
	if nsec >= 1e9 {
		return nil, time.Time{}, corrupt("time: nanoseconds %d out of range", nsec)
	}
	return rest, time.Unix(sec, int64(nsec)).UTC(), nil
}

// AppendUUID appends u; UUIDs sort bytewise, as in PostgreSQL.
func AppendUUID(b []byte, u [16]byte, dir Direction) []byte {
	start := len(b)
	b = append(append(b, markerUUID), u[:]...)
	return invert(b, start, dir)
}

// DecodeUUID decodes a value appended by AppendUUID.
func DecodeUUID(b []byte, dir Direction) (rest []byte, u [16]byte, err error) {
	rest, body, err := fixedBody(b, dir, markerUUID, 16, "uuid")
	if err != nil {
		return nil, u, err
	}
	f := dir.flip()
	for i, c := range body {
		u[i] = c ^ f
	}
	return rest, u, nil
}

// Byte strings are escaped to make the encoding prefix-free, which both lets a decoder find
// the end and lets inversion reverse the order for descending columns. 0x00 is written as
// 0x00 0xff and the string ends with 0x00 0x01. The terminator sorts below every byte that
// can follow a string's content (any byte except 0x00 continues it, and an escaped 0x00
// continues with 0x00 0xff), so a string sorts before its extensions, and an escaped 0x00
// sorts before 0x01 just as the raw byte does.
const (
	escape     = 0x00
	escaped00  = 0xff
	terminator = 0x01
)

func appendEscaped[S ~string | ~[]byte](b []byte, marker byte, v S, dir Direction) []byte {
	start := len(b)
	b = append(b, marker)
	last := 0
	for i := 0; i < len(v); i++ {
		if v[i] == escape {
			b = append(b, v[last:i]...)
			b = append(b, escape, escaped00)
			last = i + 1
		}
	}
	b = append(b, v[last:]...)
	b = append(b, escape, terminator)
	return invert(b, start, dir)
}

func decodeEscaped(b []byte, marker byte, dir Direction, what string) (rest, v []byte, err error) {
	if len(b) == 0 {
		return nil, nil, corrupt("%s: empty input", what)
	}
	f := dir.flip()
	if m := b[0] ^ f; m != marker {
		return nil, nil, corrupt("%s: marker 0x%02x, want 0x%02x", what, m, marker)
	}
	b = b[1:]
	v = []byte{}
	for {
		i := bytes.IndexByte(b, escape^f)
		if i < 0 || i+1 >= len(b) {
			return nil, nil, corrupt("%s: unterminated", what)
		}
		start := len(v)
		v = append(v, b[:i]...)
		invert(v, start, dir)
		switch b[i+1] ^ f {
		case escaped00:
			v = append(v, 0)
			b = b[i+2:]
		case terminator:
			return b[i+2:], v, nil
		default:
			return nil, nil, corrupt("%s: bad escape 0x00 0x%02x", what, b[i+1]^f)
		}
	}
}

// AppendBytes appends v, which may hold any bytes.
func AppendBytes(b []byte, v []byte, dir Direction) []byte {
	return appendEscaped(b, markerBytes, v, dir)
}

// DecodeBytes decodes a value appended by AppendBytes. The result does not alias b.
func DecodeBytes(b []byte, dir Direction) (rest []byte, v []byte, err error) {
	return decodeEscaped(b, markerBytes, dir, "bytes")
}

// AppendString appends s. Strings sort bytewise, which for UTF-8 is code point order: the
// C collation.
func AppendString(b []byte, s string, dir Direction) []byte {
	// A marker distinct from bytes catches a column decoded as the wrong type.
	return appendEscaped(b, markerString, s, dir)
}

// DecodeString decodes a value appended by AppendString.
func DecodeString(b []byte, dir Direction) (rest []byte, s string, err error) {
	rest, v, err := decodeEscaped(b, markerString, dir, "string")
	if err != nil {
		return nil, "", err
	}
	return rest, string(v), nil
}

// PrefixEnd returns the smallest byte string greater than every string that starts with b,
// for turning a prefix into the exclusive end of a span. It returns nil when there is none:
// b is empty or all 0xff, and the span runs to the end of the keyspace.
func PrefixEnd(b []byte) []byte {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] != 0xff {
			end := make([]byte, i+1)
			copy(end, b)
			end[i]++
			return end
		}
	}
	return nil
}
