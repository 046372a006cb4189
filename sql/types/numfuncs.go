package types

import (
	"math"
	"math/big"

	"github.com/cockroachdb/apd/v3"

	"github.com/meridiandb/meridian/sql/pgerror"
)

// The numeric math functions, with PostgreSQL's choice of result scale: enough digits
// after the point for at least 16 significant digits (NUMERIC_MIN_SIG_DIGITS), never fewer
// than the inputs show, at most 1000. Results are computed with guard digits and rounded
// once, half away from zero.

// numericMaxResultScale bounds the scale round and trunc accept (NUMERIC_MAX_RESULT_SCALE).
const numericMaxResultScale = 2000

// Scale is a finite numeric's display scale: its digits after the point.
func Scale(d *apd.Decimal) int64 {
	if d.Exponent >= 0 {
		return 0
	}
	return -int64(d.Exponent)
}

// quantizeNumeric rounds d to scale digits after the point with the given rounding.
func quantizeNumeric(d *apd.Decimal, scale int64, rounding apd.Rounder) (*apd.Decimal, error) {
	if d.Form != apd.Finite {
		return d, nil
	}
	scale = max(min(scale, numericMaxResultScale), -numericMaxResultScale)
	ctx := decimalCtx
	ctx.Rounding = rounding
	// Quantize needs room for every integer digit plus the requested fraction digits.
	ctx.Precision = uint32(max(int64(d.NumDigits())+int64(d.Exponent), 1) + max(scale, 0) + 2)
	out := new(apd.Decimal)
	if _, err := ctx.Quantize(out, d, int32(-scale)); err != nil {
		return nil, numericOverflow()
	}
	// normDecimal also brings a rounding to tens or hundreds back to no digits after the
	// point.
	return normDecimal(out)
}

// RoundNumeric is round(d, scale): half away from zero; a negative scale rounds to the left
// of the point.
func RoundNumeric(d *apd.Decimal, scale int64) (*apd.Decimal, error) {
	return quantizeNumeric(d, scale, apd.RoundHalfUp)
}

// TruncNumeric is trunc(d, scale): toward zero.
func TruncNumeric(d *apd.Decimal, scale int64) (*apd.Decimal, error) {
	return quantizeNumeric(d, scale, apd.RoundDown)
}

// CeilNumeric and FloorNumeric round to an integer toward +∞ and −∞.
func CeilNumeric(d *apd.Decimal) (*apd.Decimal, error) {
	return quantizeNumeric(d, 0, apd.RoundCeiling)
}

// FloorNumeric rounds toward −∞.
func FloorNumeric(d *apd.Decimal) (*apd.Decimal, error) {
	return quantizeNumeric(d, 0, apd.RoundFloor)
}

// SignNumeric is -1, 0 or 1 (NaN for NaN).
func SignNumeric(d *apd.Decimal) *apd.Decimal {
	switch {
	case isNaN(d):
		return numericNaN()
	case d.IsZero():
		return apd.New(0, 0)
	case d.Negative:
		return apd.New(-1, 0)
	}
	return apd.New(1, 0)
}

// TrimScale drops trailing fraction zeros (trim_scale).
func TrimScale(d *apd.Decimal) *apd.Decimal {
	if d.Form != apd.Finite || d.Exponent >= 0 {
		return d
	}
	out := new(apd.Decimal)
	out.Reduce(d)
	if out.Exponent > 0 {
		n, _ := normDecimal(out)
		return n
	}
	return out
}

// groups returns PostgreSQL's base-10000 weight of a finite non-zero d and its first k
// base-10000 digits, without trailing zero digits (PostgreSQL's ndigits).
func groups(d *apd.Decimal, k int) (weight int, g []int) {
	weight, _ = base10000Lead(d)
	e := int(d.NumDigits()) + int(d.Exponent) - 1
	n := e - weight*4 + 1 // decimal digits in the first group
	s := d.Coeff.String()
	for i := 0; i < k; i++ {
		lo, hi := 0, n
		if i > 0 {
			lo, hi = n+(i-1)*4, n+i*4
		}
		if lo >= len(s) {
			break
		}
		v := 0
		for j := lo; j < hi; j++ {
			v *= 10
			if j < len(s) {
				v += int(s[j] - '0')
			}
		}
		g = append(g, v)
	}
	for len(g) > 1 && g[len(g)-1] == 0 {
		g = g[:len(g)-1]
	}
	return weight, g
}

// log10 is math.Log10, exact for powers of ten as C's log10 is: PostgreSQL truncates
// these logarithms to choose scales, so 0.9999999999999999 instead of 1 would change one.
func log10(x float64) float64 {
	if x >= 1 && x <= 1e22 {
		p := 1.0
		for k := 0.0; p <= x; k++ {
			if p == x {
				return k
			}
			p *= 10
		}
	}
	return math.Log10(x)
}

// clampScale applies the bounds every computed result scale obeys.
func clampScale(rscale int64, inputs ...*apd.Decimal) int64 {
	for _, d := range inputs {
		rscale = max(rscale, Scale(d))
	}
	return min(max(rscale, 0), numericMaxDispScale)
}

// contextFor is a context precise enough for a result with intDigits digits before the point
// and rscale after, plus guard digits.
func contextFor(intDigits, rscale int64) *apd.Context {
	ctx := decimalCtx
	ctx.Precision = uint32(max(intDigits, 1) + rscale + 10)
	return &ctx
}

// intDigits estimates the digits before the point of a value of decimal weight w.
func intDigits(w float64) int64 {
	if w < 0 || math.IsNaN(w) {
		return 1
	}
	return int64(w) + 2
}

// SqrtNumeric is sqrt(d), to at least 16 significant digits.
func SqrtNumeric(d *apd.Decimal) (*apd.Decimal, error) {
	if isNaN(d) {
		return numericNaN(), nil
	}
	if d.Negative && !d.IsZero() {
		return nil, pgerror.New("2201F", "cannot take square root of a negative number")
	}
	if d.Form == apd.Infinite {
		return d, nil
	}
	weight := 0
	if !d.IsZero() {
		weight, _ = base10000Lead(d)
	}
	sweight := (weight+1)*4/2 - 1
	rscale := clampScale(int64(numericMinSigDigits-sweight), d)
	out := new(apd.Decimal)
	if _, err := contextFor(int64(sweight)+2, rscale).Sqrt(out, d); err != nil {
		return nil, numericOverflow()
	}
	return RoundNumeric(out, rscale)
}

// SqrtNumericScale is the square root of a non-negative d rounded to scale digits, for
// the standard deviation aggregates, which take the scale of the variance they root.
func SqrtNumericScale(d *apd.Decimal, scale int64) (*apd.Decimal, error) {
	if d.Form != apd.Finite || d.Negative {
		return SqrtNumeric(d)
	}
	out := new(apd.Decimal)
	w := int64(d.NumDigits()) + int64(d.Exponent)
	if _, err := contextFor(w/2+2, scale).Sqrt(out, d); err != nil {
		return nil, numericOverflow()
	}
	return RoundNumeric(out, scale)
}

// estimateLnWeight is PostgreSQL's estimate_ln_dweight: the decimal weight of ln(d) for a
// positive d.
func estimateLnWeight(d *apd.Decimal) int64 {
	lo, hi := apd.New(9, -1), apd.New(11, -1)
	if d.Cmp(lo) >= 0 && d.Cmp(hi) <= 0 {
		// Near 1, ln(1+x) ≈ x.
		x := new(apd.Decimal)
		_, _ = decimalCtx.Sub(x, d, apd.New(1, 0))
		if x.IsZero() {
			return 0
		}
		w, g := groups(x, 1)
		return int64(w*4) + int64(log10(float64(g[0])))
	}
	if d.IsZero() {
		return 0
	}
	w, g := groups(d, 2)
	digits, dweight := float64(g[0]), w*4
	if len(g) > 1 {
		digits = digits*10000 + float64(g[1])
		dweight -= 4
	}
	ln := math.Log(digits) + float64(dweight)*2.302585092994046
	return int64(log10(math.Abs(ln)))
}

func logOfZero() error {
	return pgerror.New("2201E", "cannot take logarithm of zero")
}

func logOfNegative() error {
	return pgerror.New("2201E", "cannot take logarithm of a negative number")
}

// checkLogArg rejects zero and negative logarithm arguments.
func checkLogArg(d *apd.Decimal) error {
	switch {
	case d.IsZero():
		return logOfZero()
	case d.Negative:
		return logOfNegative()
	}
	return nil
}

// LnNumeric is the natural logarithm.
func LnNumeric(d *apd.Decimal) (*apd.Decimal, error) {
	if isNaN(d) {
		return numericNaN(), nil
	}
	if err := checkLogArg(d); err != nil {
		return nil, err
	}
	if d.Form == apd.Infinite {
		return d, nil
	}
	w := estimateLnWeight(d)
	rscale := clampScale(numericMinSigDigits-w, d)
	out := new(apd.Decimal)
	if _, err := contextFor(max(w, 0)+2, rscale).Ln(out, d); err != nil {
		return nil, numericOverflow()
	}
	return RoundNumeric(out, rscale)
}

// LogNumeric is log(base, d): the logarithm of d to the given base.
func LogNumeric(base, d *apd.Decimal) (*apd.Decimal, error) {
	if isNaN(base) || isNaN(d) {
		return numericNaN(), nil
	}
	for _, x := range []*apd.Decimal{base, d} {
		if err := checkLogArg(x); err != nil {
			return nil, err
		}
	}
	if base.Form == apd.Infinite || d.Form == apd.Infinite {
		return nil, pgerror.Unsupported("log() of an infinite numeric")
	}
	wb, wd := estimateLnWeight(base), estimateLnWeight(d)
	rw := wd - wb
	rscale := clampScale(numericMinSigDigits-rw, base, d)
	ctx := contextFor(max(rw, 0)+2, rscale+max(-rw, 0)+max(wb, 0))
	lb, ld := new(apd.Decimal), new(apd.Decimal)
	if _, err := ctx.Ln(lb, base); err != nil {
		return nil, numericOverflow()
	}
	if _, err := ctx.Ln(ld, d); err != nil {
		return nil, numericOverflow()
	}
	if lb.IsZero() {
		return nil, divByZero()
	}
	out := new(apd.Decimal)
	if _, err := ctx.Quo(out, ld, lb); err != nil {
		return nil, numericOverflow()
	}
	return RoundNumeric(out, rscale)
}

// ExpNumeric is e raised to d.
func ExpNumeric(d *apd.Decimal) (*apd.Decimal, error) {
	if isNaN(d) {
		return numericNaN(), nil
	}
	if d.Form == apd.Infinite {
		if d.Negative {
			return apd.New(0, 0), nil
		}
		return d, nil
	}
	f, _ := d.Float64()
	w := f * 0.434294481903252 // decimal weight of the result
	if w > numericMaxWeightDigits {
		return nil, numericOverflow()
	}
	w = max(min(w, numericMaxResultScale), -numericMaxResultScale)
	rscale := clampScale(numericMinSigDigits-int64(w), d)
	if w < -float64(numericMaxDispScale)-1 {
		return quantizeNumeric(apd.New(0, 0), rscale, apd.RoundHalfUp)
	}
	out := new(apd.Decimal)
	if _, err := contextFor(intDigits(w), rscale).Exp(out, d); err != nil {
		return nil, numericOverflow()
	}
	return RoundNumeric(out, rscale)
}

// PowerNumeric is base raised to exp.
func PowerNumeric(base, exp *apd.Decimal) (*apd.Decimal, error) {
	one := apd.New(1, 0)
	switch {
	case isNaN(base):
		if exp.IsZero() {
			return one, nil
		}
		return numericNaN(), nil
	case isNaN(exp):
		if base.Cmp(one) == 0 {
			return one, nil
		}
		return numericNaN(), nil
	case base.Form == apd.Infinite || exp.Form == apd.Infinite:
		return nil, pgerror.Unsupported("power() with an infinite numeric")
	}
	if base.IsZero() && exp.Negative && !exp.IsZero() {
		return nil, pgerror.New("2201F", "zero raised to a negative power is undefined")
	}
	integral := isIntegral(exp)
	if base.Negative && !integral {
		return nil, pgerror.New("2201F", "a negative number raised to a non-integer power yields a complex result")
	}
	if integral {
		if n, err := exp.Int64(); err == nil && n >= math.MinInt32 && n <= math.MaxInt32 {
			return powerInt(base, n, Scale(exp))
		}
	}
	if base.IsZero() {
		return quantizeNumeric(apd.New(0, 0), numericMinSigDigits, apd.RoundHalfUp)
	}
	// The result's decimal weight is exp * log10(base).
	bf, _ := base.Float64()
	ef, _ := exp.Float64()
	w := ef * math.Log10(math.Abs(bf))
	if w > numericMaxWeightDigits {
		return nil, numericOverflow()
	}
	rscale := clampScale(numericMinSigDigits-int64(w), base, exp)
	out := new(apd.Decimal)
	if _, err := contextFor(intDigits(w), rscale).Pow(out, base, exp); err != nil {
		return nil, numericOverflow()
	}
	return RoundNumeric(out, rscale)
}

func isIntegral(d *apd.Decimal) bool {
	if d.Exponent >= 0 {
		return true
	}
	r := new(apd.Decimal)
	r.Reduce(d)
	return r.Exponent >= 0
}

// powerInt is power_var_int: an integer exponent, computed exactly and rounded to the scale
// PostgreSQL estimates from the result's weight.
func powerInt(base *apd.Decimal, n, expScale int64) (*apd.Decimal, error) {
	f := 0.0
	if !base.IsZero() {
		// base ≈ f × 10^p from its first four base-10000 digits, as PostgreSQL estimates.
		w, g := groups(base, 4)
		p := w * 4
		f = float64(g[0])
		for _, x := range g[1:] {
			f = f*10000 + float64(x)
			p -= 4
		}
		f = float64(n) * (log10(f) + float64(p))
	}
	if f > (math.MaxInt16+1)*4 {
		return nil, numericOverflow()
	}
	if f+1 < -numericMaxDispScale {
		return quantizeNumeric(apd.New(0, 0), numericMaxDispScale, apd.RoundHalfUp)
	}
	rscale := clampScale(numericMinSigDigits-int64(f), base, apd.New(0, int32(-expScale)))
	out := new(apd.Decimal)
	if n == 0 {
		return quantizeNumeric(apd.New(1, 0), rscale, apd.RoundHalfUp)
	}
	ctx := contextFor(intDigits(f), rscale)
	if _, err := ctx.Pow(out, base, apd.New(n, 0)); err != nil {
		return nil, numericOverflow()
	}
	return RoundNumeric(out, rscale)
}

// DivNumeric is div(a, b): the quotient truncated toward zero.
func DivNumeric(a, b *apd.Decimal) (*apd.Decimal, error) {
	if isNaN(a) || isNaN(b) {
		return numericNaN(), nil
	}
	if b.IsZero() {
		return nil, divByZero()
	}
	if a.Form == apd.Infinite || b.Form == apd.Infinite {
		q, err := decimalSpecial("/", a, b)
		if err != nil || q.Form != apd.Finite {
			return q, err
		}
		return TruncNumeric(q, 0)
	}
	out := new(apd.Decimal)
	ctx := contextFor(int64(a.NumDigits())+int64(a.Exponent)-int64(b.Exponent)+2, 0)
	if _, err := ctx.QuoInteger(out, a, b); err != nil {
		return nil, numericOverflow()
	}
	return normDecimal(out)
}

// GCDNumeric is gcd(a, b) of numerics, at the larger of their scales (PostgreSQL accepts
// non-integers: gcd(1.5, 2.25) is 0.75).
func GCDNumeric(a, b *apd.Decimal) (*apd.Decimal, error) {
	if isNaN(a) || isNaN(b) || a.Form == apd.Infinite || b.Form == apd.Infinite {
		return numericNaN(), nil
	}
	x, y, scale := alignedInts(a, b)
	return normDecimal(apd.NewWithBigInt(new(apd.BigInt).SetMathBigInt(new(big.Int).GCD(nil, nil, x, y)), int32(-scale)))
}

// LCMNumeric is lcm(a, b) of numerics.
func LCMNumeric(a, b *apd.Decimal) (*apd.Decimal, error) {
	if isNaN(a) || isNaN(b) || a.Form == apd.Infinite || b.Form == apd.Infinite {
		return numericNaN(), nil
	}
	x, y, scale := alignedInts(a, b)
	if x.Sign() == 0 || y.Sign() == 0 {
		return normDecimal(apd.New(0, int32(-scale)))
	}
	g := new(big.Int).GCD(nil, nil, x, y)
	l := new(big.Int).Mul(new(big.Int).Quo(x, g), y)
	return normDecimal(apd.NewWithBigInt(new(apd.BigInt).SetMathBigInt(l), int32(-scale)))
}

// alignedInts returns |a| and |b| as integers scaled by 10^scale, scale the larger of their
// scales.
func alignedInts(a, b *apd.Decimal) (x, y *big.Int, scale int64) {
	scale = max(Scale(a), Scale(b))
	conv := func(d *apd.Decimal) *big.Int {
		v := d.Coeff.MathBigInt()
		shift := scale + int64(d.Exponent)
		if shift > 0 {
			v.Mul(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(shift), nil))
		}
		return v.Abs(v)
	}
	return conv(a), conv(b), scale
}

// WidthBucketNumeric is width_bucket(operand, low, high, count) for numerics.
func WidthBucketNumeric(op, lo, hi *apd.Decimal, count int64) (int64, error) {
	if count <= 0 {
		return 0, widthBucketError("count must be greater than zero")
	}
	if isNaN(op) || isNaN(lo) || isNaN(hi) {
		return 0, widthBucketError("operand, lower bound, and upper bound cannot be NaN")
	}
	if lo.Form == apd.Infinite || hi.Form == apd.Infinite {
		return 0, widthBucketError("lower and upper bounds must be finite")
	}
	c := lo.Cmp(hi)
	if c == 0 {
		return 0, widthBucketError("lower bound cannot equal upper bound")
	}
	// Descending buckets mirror ascending ones.
	if c < 0 && op.Cmp(lo) < 0 || c > 0 && op.Cmp(lo) > 0 {
		return 0, nil
	}
	if c < 0 && op.Cmp(hi) >= 0 || c > 0 && op.Cmp(hi) <= 0 {
		if count == math.MaxInt32 {
			return 0, pgerror.New(pgerror.CodeNumericValueOutOfRange, "integer out of range")
		}
		return count + 1, nil
	}
	num, den := new(apd.Decimal), new(apd.Decimal)
	ctx := decimalCtx
	if c < 0 {
		_, _ = ctx.Sub(num, op, lo)
		_, _ = ctx.Sub(den, hi, lo)
	} else {
		_, _ = ctx.Sub(num, lo, op)
		_, _ = ctx.Sub(den, lo, hi)
	}
	_, _ = ctx.Mul(num, num, apd.New(count, 0))
	q := new(apd.Decimal)
	if _, err := ctx.QuoInteger(q, num, den); err != nil {
		return 0, numericOverflow()
	}
	n, _ := q.Int64()
	return n + 1, nil
}

func widthBucketError(msg string) error {
	return pgerror.New("2201G", "%s", msg)
}

// WidthBucketFloat is width_bucket for double precision, computed as PostgreSQL does.
func WidthBucketFloat(op, lo, hi float64, count int64) (int64, error) {
	if count <= 0 {
		return 0, widthBucketError("count must be greater than zero")
	}
	if math.IsNaN(op) || math.IsNaN(lo) || math.IsNaN(hi) {
		return 0, widthBucketError("operand, lower bound, and upper bound cannot be NaN")
	}
	if math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return 0, widthBucketError("lower and upper bounds must be finite")
	}
	var frac float64
	switch {
	case lo < hi:
		if op < lo {
			return 0, nil
		}
		if op >= hi {
			break
		}
		if math.IsInf(hi-lo, 0) {
			frac = (op/2 - lo/2) / (hi/2 - lo/2)
		} else {
			frac = (op - lo) / (hi - lo)
		}
		return bucketOf(frac, count), nil
	case lo > hi:
		if op > lo {
			return 0, nil
		}
		if op <= hi {
			break
		}
		if math.IsInf(lo-hi, 0) {
			frac = (lo/2 - op/2) / (lo/2 - hi/2)
		} else {
			frac = (lo - op) / (lo - hi)
		}
		return bucketOf(frac, count), nil
	default:
		return 0, widthBucketError("lower bound cannot equal upper bound")
	}
	if count == math.MaxInt32 {
		return 0, pgerror.New(pgerror.CodeNumericValueOutOfRange, "integer out of range")
	}
	return count + 1, nil
}

// bucketOf turns the operand's fraction of the range into a 1-based bucket; a quotient that
// rounds up to 1.0 stays in the last bucket.
func bucketOf(frac float64, count int64) int64 {
	b := int64(float64(count) * frac)
	if b >= count {
		b = count - 1
	}
	return b + 1
}
