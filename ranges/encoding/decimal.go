package encoding

import (
	"bytes"
	"math"
	"math/bits"

	"github.com/cockroachdb/apd/v3"
)

// Decimal encoding.
//
// The marker sorts the classes: -Infinity < negative < zero < positive < +Infinity < NaN,
// NaN last as PostgreSQL orders it. Only finite nonzero values carry a body. Such a value
// is written as ±0.D × 10^E, where the digit string D has neither leading nor trailing
// zeros; every scale of one number (1, 1.0, 1.00) has the same D and E, so numerically
// equal values encode identically, as equal keys must.
//
// For positive values, a larger E is a larger number, and with equal E the numbers order
// like their digit strings compared lexicographically, a string sorting before its
// extensions. The body is therefore E in an order-preserving signed varint, then D packed
// two digits a byte as 1+10*d1+d2 (1..100; an odd-length D is padded with a 0, which
// denotes the same number), then a 0x00 terminator below every digit byte. Negative values
// invert every body byte, so larger magnitudes sort first; the inverted terminator (0xff)
// sorts above every inverted digit byte, making a negative number sort before its longer
// extensions, whose magnitudes are larger.
//
// The varint for E is one byte 0x80+n for E >= 0, or 0x7f-n for E < 0, then the low n
// bytes of E big-endian, n being the fewest bytes that hold E (for E >= 0) or ^E (for
// E < 0). More bytes mean a larger magnitude, which the header byte orders before the
// bytes themselves are compared; E = 0 and E = -1 take a single byte.

const decimalTerminator = 0x00

// maxDecimalPadding bounds the zeros DecodeDecimal appends to a coefficient whose exponent
// would otherwise overflow int32; see DecodeDecimal.
const maxDecimalPadding = 1 << 16

// AppendDecimal appends d, which may be finite, ±Infinity or NaN.
func AppendDecimal(b []byte, d *apd.Decimal, dir Direction) []byte {
	f := dir.flip()
	switch {
	case d.Form == apd.NaN || d.Form == apd.NaNSignaling:
		return append(b, markerDecNaN^f)
	case d.Form == apd.Infinite && d.Negative:
		return append(b, markerDecNegInf^f)
	case d.Form == apd.Infinite:
		return append(b, markerDecPosInf^f)
	case d.IsZero():
		// -0 is zero: SQL has no negative zero.
		return append(b, markerDecZero^f)
	}

	var buf [40]byte
	digits := d.Coeff.Append(buf[:0], 10)
	if len(digits) > 0 && digits[0] == '-' {
		// apd keeps the sign in Negative; a negative coefficient is malformed, but
		// encoding its magnitude beats panicking on it.
		digits = digits[1:]
	}
	n := len(digits)
	for n > 0 && digits[n-1] == '0' {
		n--
	}
	e := int64(d.Exponent) + int64(len(digits)) // value = 0.digits × 10^e
	digits = digits[:n]

	start := len(b)
	marker := byte(markerDecPos)
	if d.Negative {
		marker = markerDecNeg
	}
	b = append(b, marker)
	body := len(b)
	b = appendExponent(b, e)
	for i := 0; i < len(digits); i += 2 {
		pair := 1 + 10*(digits[i]-'0')
		if i+1 < len(digits) {
			pair += digits[i+1] - '0'
		}
		b = append(b, pair)
	}
	b = append(b, decimalTerminator)
	if d.Negative {
		invert(b, body, Descending)
	}
	return invert(b, start, dir)
}

func appendExponent(b []byte, e int64) []byte {
	var n int
	if e >= 0 {
		n = (bits.Len64(uint64(e)) + 7) / 8
		b = append(b, byte(0x80+n))
	} else {
		n = (bits.Len64(uint64(^e)) + 7) / 8
		b = append(b, byte(0x7f-n))
	}
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(e>>(8*i)))
	}
	return b
}

// decodeExponent reads an exponent written by appendExponent from b, whose bytes are XORed
// with f.
func decodeExponent(b []byte, f byte) (rest []byte, e int64, err error) {
	if len(b) == 0 {
		return nil, 0, corrupt("decimal: truncated exponent")
	}
	h := b[0] ^ f
	neg := h < 0x80
	n := int(h) - 0x80
	if neg {
		n = 0x7f - int(h)
	}
	if n > 8 {
		return nil, 0, corrupt("decimal: bad exponent header 0x%02x", h)
	}
	if len(b) < 1+n {
		return nil, 0, corrupt("decimal: truncated exponent")
	}
	var u uint64
	for _, c := range b[1 : 1+n] {
		u = u<<8 | uint64(c^f)
	}
	if neg && n < 8 {
		u |= ^uint64(0) << (8 * n) // sign-extend
	}
	e = int64(u)
	if (e < 0) != neg {
		return nil, 0, corrupt("decimal: exponent out of range")
	}
	mag := u
	if neg {
		mag = ^u
	}
	if (bits.Len64(mag)+7)/8 != n {
		return nil, 0, corrupt("decimal: non-canonical exponent")
	}
	return b[1+n:], e, nil
}

// DecodeDecimal decodes a value appended by AppendDecimal. Finite values come back with
// the fewest digits that represent them (1.00 decodes as 1).
func DecodeDecimal(b []byte, dir Direction) (rest []byte, d *apd.Decimal, err error) {
	if len(b) == 0 {
		return nil, nil, corrupt("decimal: empty input")
	}
	f := dir.flip()
	d = new(apd.Decimal)
	switch b[0] ^ f {
	case markerDecNaN:
		d.Form = apd.NaN
		return b[1:], d, nil
	case markerDecNegInf:
		d.Form, d.Negative = apd.Infinite, true
		return b[1:], d, nil
	case markerDecPosInf:
		d.Form = apd.Infinite
		return b[1:], d, nil
	case markerDecZero:
		return b[1:], d, nil
	case markerDecPos:
	case markerDecNeg:
		d.Negative = true
		f = ^f
	default:
		return nil, nil, corrupt("decimal: bad marker 0x%02x", b[0]^f)
	}

	b, e, err := decodeExponent(b[1:], f)
	if err != nil {
		return nil, nil, err
	}
	end := bytes.IndexByte(b, decimalTerminator^f)
	if end < 0 {
		return nil, nil, corrupt("decimal: unterminated digits")
	}
	if end == 0 {
		return nil, nil, corrupt("decimal: no digits")
	}
	var buf [40]byte
	digits := buf[:0]
	for _, c := range b[:end] {
		pair := c ^ f
		if pair < 1 || pair > 100 {
			return nil, nil, corrupt("decimal: bad digit pair 0x%02x", pair)
		}
		pair--
		digits = append(digits, '0'+pair/10, '0'+pair%10)
	}
	// A leading zero or a trailing zero pair has no canonical encoding; accepting it
	// would let two keys decode to one number.
	if digits[0] == '0' || (digits[len(digits)-2] == '0' && digits[len(digits)-1] == '0') {
		return nil, nil, corrupt("decimal: non-canonical digits")
	}
	if digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1] // padding
	}
	exp := e - int64(len(digits))
	if exp < math.MinInt32 {
		return nil, nil, corrupt("decimal: exponent %d out of range", exp)
	}
	if exp > math.MaxInt32 {
		// Stripping trailing zeros can push the exponent of a representable value past
		// int32: restore enough of them. The bound only stops corrupt input from
		// demanding a gigantic coefficient.
		pad := exp - math.MaxInt32
		if pad > maxDecimalPadding {
			return nil, nil, corrupt("decimal: exponent %d out of range", exp)
		}
		digits = append(digits, bytes.Repeat([]byte{'0'}, int(pad))...)
		exp = math.MaxInt32
	}
	d.Exponent = int32(exp)
	if len(digits) <= 19 {
		// Nineteen digits always fit in a uint64.
		var u uint64
		for _, c := range digits {
			u = u*10 + uint64(c-'0')
		}
		d.Coeff.SetUint64(u)
	} else if _, ok := d.Coeff.SetString(string(digits), 10); !ok {
		return nil, nil, corrupt("decimal: bad digits")
	}
	return b[end+1:], d, nil
}
