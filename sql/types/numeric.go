package types

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/cockroachdb/apd/v3"

	"github.com/meridiandb/meridian/sql/pgerror"
)

// PostgreSQL's numeric limits: digits before the decimal point and the display scale.
const (
	numericMaxWeightDigits = 131072
	numericMaxDscale       = 16383
	// numericMinSigDigits is NUMERIC_MIN_SIG_DIGITS, the least number of significant digits a
	// division result carries.
	numericMinSigDigits = 16
	numericMaxDispScale = 1000
)

// decimalCtx does numeric addition, subtraction and multiplication. Its precision is far above
// any value a numeric(p,s) column can hold, so those results are exact in practice, as they are
// in PostgreSQL.
var decimalCtx = apd.Context{
	Precision:   4000,
	MaxExponent: apd.MaxExponent,
	MinExponent: apd.MinExponent,
	Traps:       apd.DefaultTraps,
	Rounding:    apd.RoundHalfUp, // half away from zero, PostgreSQL's numeric rounding
}

// decimalDatum turns a decimal result into a Datum, keeping a failed result a plain nil
// rather than a nil *apd.Decimal, which would compare non-nil as an interface.
func decimalDatum(d *apd.Decimal, err error) (Datum, error) {
	if err != nil {
		return nil, err
	}
	return d, nil
}

func numericNaN() *apd.Decimal { return &apd.Decimal{Form: apd.NaN} }

func numericInf(neg bool) *apd.Decimal { return &apd.Decimal{Form: apd.Infinite, Negative: neg} }

func isNaN(d *apd.Decimal) bool { return d.Form == apd.NaN || d.Form == apd.NaNSignaling }

func numericOverflow() *pgerror.Error {
	return pgerror.New(pgerror.CodeNumericValueOutOfRange, "value overflows numeric format")
}

// normDecimal returns d in the canonical shape this package keeps numerics in: a non-positive
// exponent (the exponent is minus PostgreSQL's dscale) and no negative zero, which PostgreSQL
// does not have. Values beyond PostgreSQL's numeric range are rejected.
func normDecimal(d *apd.Decimal) (*apd.Decimal, error) {
	if d.Form != apd.Finite {
		if d.Form == apd.NaNSignaling {
			return numericNaN(), nil
		}
		return d, nil
	}
	if int64(d.NumDigits())+int64(d.Exponent) > numericMaxWeightDigits && !d.IsZero() {
		return nil, numericOverflow()
	}
	if -int64(d.Exponent) > numericMaxDscale {
		return nil, numericOverflow()
	}
	if d.Exponent <= 0 && !(d.Negative && d.IsZero()) {
		return d, nil
	}
	out := new(apd.Decimal).Set(d)
	if out.Exponent > 0 {
		var scale apd.BigInt
		scale.Exp(apd.NewBigInt(10), apd.NewBigInt(int64(out.Exponent)), nil)
		out.Coeff.Mul(&out.Coeff, &scale)
		out.Exponent = 0
	}
	if out.IsZero() {
		out.Negative = false
	}
	return out, nil
}

// fitDecimal applies t's precision and scale to d as PostgreSQL's apply_typmod does: round half
// away from zero to the scale, then reject values with too many integer digits.
func fitDecimal(t T, d *apd.Decimal) (*apd.Decimal, error) {
	d, err := normDecimal(d)
	if err != nil || t.Precision <= 0 || isNaN(d) {
		return d, err
	}
	if d.Form == apd.Infinite {
		return nil, pgerror.New(pgerror.CodeNumericValueOutOfRange, "numeric field overflow").
			WithDetail(fmt.Sprintf("A field with precision %d, scale %d cannot hold an infinite value.", t.Precision, t.Scale))
	}
	out := new(apd.Decimal)
	if _, err := decimalCtx.Quantize(out, d, -t.Scale); err != nil {
		return nil, fieldOverflow(t)
	}
	if !out.IsZero() && int64(out.NumDigits())+int64(out.Exponent) > int64(t.Precision-t.Scale) {
		return nil, fieldOverflow(t)
	}
	return normDecimal(out)
}

func fieldOverflow(t T) *pgerror.Error {
	maxDigits := t.Precision - t.Scale
	limit := "1"
	if maxDigits != 0 {
		limit = fmt.Sprintf("10^%d", maxDigits)
	}
	return pgerror.New(pgerror.CodeNumericValueOutOfRange, "numeric field overflow").WithDetail(
		fmt.Sprintf("A field with precision %d, scale %d must round to an absolute value less than %s.", t.Precision, t.Scale, limit))
}

// appendDecimal writes d as numeric_out does: positional notation showing exactly dscale
// fraction digits, never an exponent.
func appendDecimal(b []byte, d *apd.Decimal) []byte {
	switch d.Form {
	case apd.NaN, apd.NaNSignaling:
		return append(b, "NaN"...)
	case apd.Infinite:
		if d.Negative {
			return append(b, "-Infinity"...)
		}
		return append(b, "Infinity"...)
	}
	if d.IsZero() && d.Negative {
		pos := *d
		pos.Negative = false
		return pos.Append(b, 'f')
	}
	return d.Append(b, 'f')
}

// decimalArith applies + - * % to numerics with PostgreSQL's rules for NaN and infinities.
func decimalArith(op string, a, b *apd.Decimal) (*apd.Decimal, error) {
	if isNaN(a) || isNaN(b) {
		return numericNaN(), nil
	}
	if a.Form == apd.Infinite || b.Form == apd.Infinite {
		return decimalSpecial(op, a, b)
	}
	out := new(apd.Decimal)
	var err error
	switch op {
	case "+":
		_, err = decimalCtx.Add(out, a, b)
	case "-":
		_, err = decimalCtx.Sub(out, a, b)
	case "*":
		_, err = decimalCtx.Mul(out, a, b)
	case "/":
		return divideDecimal(a, b)
	case "%":
		if b.IsZero() {
			return nil, divByZero()
		}
		_, err = decimalCtx.Rem(out, a, b)
	}
	if err != nil {
		return nil, numericOverflow()
	}
	return normDecimal(out)
}

// decimalSpecial handles arithmetic where an operand is ±Infinity (and neither is NaN),
// following PostgreSQL 14's numeric infinities.
func decimalSpecial(op string, a, b *apd.Decimal) (*apd.Decimal, error) {
	aInf, bInf := a.Form == apd.Infinite, b.Form == apd.Infinite
	switch op {
	case "+", "-":
		bNeg := b.Negative != (op == "-")
		switch {
		case aInf && bInf && a.Negative != bNeg:
			return numericNaN(), nil
		case aInf:
			return numericInf(a.Negative), nil
		}
		return numericInf(bNeg), nil
	case "*":
		if a.IsZero() || b.IsZero() {
			return numericNaN(), nil
		}
		return numericInf(a.Negative != b.Negative), nil
	case "/":
		switch {
		case aInf && bInf:
			return numericNaN(), nil
		case aInf && b.IsZero():
			return nil, divByZero()
		case aInf:
			return numericInf(a.Negative != b.Negative), nil
		}
		return apd.New(0, 0), nil // finite / infinity
	case "%":
		if aInf {
			return numericNaN(), nil
		}
		return a, nil // finite % infinity is the dividend
	}
	return numericNaN(), nil
}

// divideDecimal divides finite numerics choosing the result scale as PostgreSQL's
// select_div_scale does: enough fraction digits for at least 16 significant digits, never
// fewer than either input's scale, at most 1000, rounded half away from zero.
func divideDecimal(a, b *apd.Decimal) (*apd.Decimal, error) {
	if b.IsZero() {
		return nil, divByZero()
	}
	w1, f1 := base10000Lead(a)
	w2, f2 := base10000Lead(b)
	qweight := w1 - w2
	if f1 <= f2 {
		qweight--
	}
	rscale := int64(numericMinSigDigits - qweight*4)
	rscale = max(rscale, -int64(a.Exponent), -int64(b.Exponent), 0)
	rscale = min(rscale, numericMaxDispScale)

	// Truncate at a precision covering every integer digit plus rscale+1 fraction digits, then
	// round once: truncation cannot manufacture a 5, so this rounding is exact.
	intDigits := (int64(a.NumDigits()) + int64(a.Exponent)) - (int64(b.NumDigits()) + int64(b.Exponent)) + 2
	ctx := decimalCtx
	ctx.Precision = uint32(max(intDigits, 0) + rscale + 2)
	ctx.Rounding = apd.RoundDown
	q := new(apd.Decimal)
	if _, err := ctx.Quo(q, a, b); err != nil {
		return nil, numericOverflow()
	}
	out := new(apd.Decimal)
	if _, err := decimalCtx.Quantize(out, q, int32(-rscale)); err != nil {
		return nil, numericOverflow()
	}
	return normDecimal(out)
}

// base10000Lead returns PostgreSQL's weight (position of the leading base-10000 digit) and
// that leading digit for a finite d; zero has weight 0 and digit 0.
func base10000Lead(d *apd.Decimal) (weight, digit int) {
	if d.IsZero() {
		return 0, 0
	}
	e := int(d.NumDigits()) + int(d.Exponent) - 1 // 10^e <= |d| < 10^(e+1)
	weight = floorDiv(e, 4)
	n := e - weight*4 + 1 // decimal digits in the leading group
	s := d.Coeff.String()
	for len(s) < n {
		s += "0"
	}
	for _, c := range s[:n] {
		digit = digit*10 + int(c-'0')
	}
	return weight, digit
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// PostgreSQL's numeric sign words in the binary format.
const (
	numericSignPos  = 0x0000
	numericSignNeg  = 0x4000
	numericSignNaN  = 0xC000
	numericSignPInf = 0xD000
	numericSignNInf = 0xF000
)

// appendNumericBinary writes d as numeric_send does: ndigits, weight, sign and dscale as 16-bit
// words, then the base-10000 digits with leading and trailing zero groups stripped.
func appendNumericBinary(b []byte, d *apd.Decimal) ([]byte, error) {
	head := func(ndigits, weight int, sign uint16, dscale int) []byte {
		b = binary.BigEndian.AppendUint16(b, uint16(ndigits))
		b = binary.BigEndian.AppendUint16(b, uint16(int16(weight)))
		b = binary.BigEndian.AppendUint16(b, sign)
		return binary.BigEndian.AppendUint16(b, uint16(dscale))
	}
	switch {
	case isNaN(d):
		return head(0, 0, numericSignNaN, 0), nil
	case d.Form == apd.Infinite && d.Negative:
		return head(0, 0, numericSignNInf, 0), nil
	case d.Form == apd.Infinite:
		return head(0, 0, numericSignPInf, 0), nil
	}
	d, err := normDecimal(d)
	if err != nil {
		return nil, err
	}
	dscale := int(-d.Exponent)
	digits := d.Coeff.String()
	if d.IsZero() {
		return head(0, 0, numericSignPos, dscale), nil
	}
	intLen := len(digits) - dscale
	// Align to base-10000 groups: pad the integer part on the left and the fraction on the right.
	lead := (4 - floorMod(intLen, 4)) % 4
	digits = strings.Repeat("0", lead) + digits
	intLen += lead
	if r := len(digits) % 4; r != 0 {
		digits += strings.Repeat("0", 4-r)
	}
	groups := make([]uint16, 0, len(digits)/4)
	for i := 0; i < len(digits); i += 4 {
		var g uint16
		for _, c := range digits[i : i+4] {
			g = g*10 + uint16(c-'0')
		}
		groups = append(groups, g)
	}
	weight := floorDiv(intLen, 4) - 1
	for groups[0] == 0 {
		groups = groups[1:]
		weight--
	}
	for groups[len(groups)-1] == 0 {
		groups = groups[:len(groups)-1]
	}
	sign := uint16(numericSignPos)
	if d.Negative {
		sign = numericSignNeg
	}
	b = head(len(groups), weight, sign, dscale)
	for _, g := range groups {
		b = binary.BigEndian.AppendUint16(b, g)
	}
	return b, nil
}

func floorMod(a, b int) int { return a - floorDiv(a, b)*b }

func badNumericBinary(what string) error {
	return pgerror.New(pgerror.CodeInvalidBinaryRepresent, `invalid %s in external "numeric" value`, what)
}

// decodeNumericBinary is numeric_recv: digits hidden by dscale are truncated away, as there.
func decodeNumericBinary(b []byte) (*apd.Decimal, error) {
	if len(b) < 8 {
		return nil, pgerror.New(pgerror.CodeInvalidBinaryRepresent, "incorrect binary data format")
	}
	ndigits := int(binary.BigEndian.Uint16(b))
	weight := int(int16(binary.BigEndian.Uint16(b[2:])))
	sign := binary.BigEndian.Uint16(b[4:])
	dscale := int(binary.BigEndian.Uint16(b[6:]))
	if len(b) != 8+2*ndigits {
		return nil, badNumericBinary("length")
	}
	switch sign {
	case numericSignNaN:
		return numericNaN(), nil
	case numericSignPInf:
		return numericInf(false), nil
	case numericSignNInf:
		return numericInf(true), nil
	case numericSignPos, numericSignNeg:
	default:
		return nil, badNumericBinary("sign")
	}
	if dscale > numericMaxDscale {
		return nil, badNumericBinary("scale")
	}
	d := new(apd.Decimal)
	var g apd.BigInt
	ten4 := apd.NewBigInt(10000)
	for i := 0; i < ndigits; i++ {
		v := binary.BigEndian.Uint16(b[8+2*i:])
		if v > 9999 {
			return nil, badNumericBinary("digit")
		}
		d.Coeff.Mul(&d.Coeff, ten4)
		d.Coeff.Add(&d.Coeff, g.SetInt64(int64(v)))
	}
	d.Exponent = int32((weight - ndigits + 1) * 4)
	d.Negative = sign == numericSignNeg
	out := new(apd.Decimal)
	ctx := decimalCtx
	ctx.Rounding = apd.RoundDown
	if _, err := ctx.Quantize(out, d, int32(-dscale)); err != nil {
		return nil, numericOverflow()
	}
	return normDecimal(out)
}
