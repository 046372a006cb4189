package sql

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"sync"
	"weak"

	"github.com/cockroachdb/apd/v3"

	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
)

// The mathematical functions. Most exist for double precision and numeric; an integer
// argument resolves to the double precision form (PostgreSQL's preferred numeric type), so
// round(5) is double precision while round(5.0) and round(5, 0) are numeric.

var (
	float8  = types.Float8
	numeric = types.Numeric
	int2    = types.Int2
)

// floatFn adapts a float64 function; check reports domain errors.
func floatFn(f func(float64) (float64, error)) builtinFn {
	return func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		return f(v[0].(float64))
	}
}

func pure(f func(float64) float64) func(float64) (float64, error) {
	return func(x float64) (float64, error) { return f(x), nil }
}

func numericFn(f func(*apd.Decimal) (*apd.Decimal, error)) builtinFn {
	return func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		return decimalResult(f(v[0].(*apd.Decimal)))
	}
}

func numericFn2(f func(a, b *apd.Decimal) (*apd.Decimal, error)) builtinFn {
	return func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		return decimalResult(f(v[0].(*apd.Decimal), v[1].(*apd.Decimal)))
	}
}

// decimalResult keeps a failed result a plain nil Datum rather than a nil *apd.Decimal.
func decimalResult(d *apd.Decimal, err error) (types.Datum, error) {
	if err != nil {
		return nil, err
	}
	return d, nil
}

func outOfRange() error {
	return pgerror.New(pgerror.CodeNumericValueOutOfRange, "input is out of range")
}

// checkFloat reports overflow and underflow of a float result whose inputs were finite and
// non-zero, as PostgreSQL's float functions do.
func checkFloat(r float64, inf, zero bool) (float64, error) {
	if math.IsInf(r, 0) && !inf {
		return 0, pgerror.New(pgerror.CodeNumericValueOutOfRange, "value out of range: overflow")
	}
	if r == 0 && !zero {
		return 0, pgerror.New(pgerror.CodeNumericValueOutOfRange, "value out of range: underflow")
	}
	return r, nil
}

func init() {
	for _, name := range []string{"ceil", "ceiling"} {
		register(name, sig(float8, floatFn(pure(math.Ceil)), float8), sig(numeric, numericFn(types.CeilNumeric), numeric))
	}
	register("floor", sig(float8, floatFn(pure(math.Floor)), float8), sig(numeric, numericFn(types.FloorNumeric), numeric))
	// round(double precision) rounds half to even, as the C library's rint does.
	register("round", sig(float8, floatFn(pure(math.RoundToEven)), float8),
		sig(numeric, numericFn(func(d *apd.Decimal) (*apd.Decimal, error) { return types.RoundNumeric(d, 0) }), numeric),
		sig(numeric, scaleFn(types.RoundNumeric), numeric, int4))
	register("trunc", sig(float8, floatFn(pure(math.Trunc)), float8),
		sig(numeric, numericFn(func(d *apd.Decimal) (*apd.Decimal, error) { return types.TruncNumeric(d, 0) }), numeric),
		sig(numeric, scaleFn(types.TruncNumeric), numeric, int4))
	register("sign", sig(float8, floatFn(func(x float64) (float64, error) {
		switch {
		case x > 0:
			return 1, nil
		case x < 0:
			return -1, nil
		}
		return 0, nil
	}), float8), sig(numeric, numericFn(func(d *apd.Decimal) (*apd.Decimal, error) { return types.SignNumeric(d), nil }), numeric))
	register("scale", sig(int4, func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		d := v[0].(*apd.Decimal)
		if d.Form != apd.Finite {
			return nil, nil
		}
		return types.Scale(d), nil
	}, numeric))
	register("trim_scale", sig(numeric, numericFn(func(d *apd.Decimal) (*apd.Decimal, error) { return types.TrimScale(d), nil }), numeric))
	register("sqrt", sig(float8, floatFn(func(x float64) (float64, error) {
		if x < 0 {
			return 0, pgerror.New("2201F", "cannot take square root of a negative number")
		}
		return math.Sqrt(x), nil
	}), float8), sig(numeric, numericFn(types.SqrtNumeric), numeric))
	register("cbrt", sig(float8, floatFn(pure(math.Cbrt)), float8))
	register("exp", sig(float8, floatFn(func(x float64) (float64, error) {
		return checkFloat(math.Exp(x), math.IsInf(x, 1), math.IsInf(x, -1))
	}), float8), sig(numeric, numericFn(types.ExpNumeric), numeric))
	register("ln", sig(float8, floatFn(floatLog(math.Log)), float8), sig(numeric, numericFn(types.LnNumeric), numeric))
	log10Numeric := func(d *apd.Decimal) (*apd.Decimal, error) { return types.LogNumeric(apd.New(10, 0), d) }
	for _, name := range []string{"log", "log10"} {
		register(name, sig(float8, floatFn(floatLog(math.Log10)), float8), sig(numeric, numericFn(log10Numeric), numeric))
	}
	register("log", sig(numeric, numericFn2(types.LogNumeric), numeric, numeric))
	for _, name := range []string{"power", "pow"} {
		register(name, sig(float8, floatPower, float8, float8), sig(numeric, numericFn2(types.PowerNumeric), numeric, numeric))
	}
	register("mod", sig(int2, intMod, int2, int2), sig(int4, intMod, int4, int4), sig(int8, intMod, int8, int8),
		sig(numeric, func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
			_, r, err := types.BinaryOp("%", numeric, v[0], numeric, v[1])
			return r, err
		}, numeric, numeric))
	register("div", sig(numeric, numericFn2(types.DivNumeric), numeric, numeric))
	register("gcd", sig(int4, gcdLCM(false, 32), int4, int4), sig(int8, gcdLCM(false, 64), int8, int8),
		sig(numeric, numericFn2(types.GCDNumeric), numeric, numeric))
	register("lcm", sig(int4, gcdLCM(true, 32), int4, int4), sig(int8, gcdLCM(true, 64), int8, int8),
		sig(numeric, numericFn2(types.LCMNumeric), numeric, numeric))
	register("width_bucket", sig(int4, func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		return types.WidthBucketFloat(v[0].(float64), v[1].(float64), v[2].(float64), v[3].(int64))
	}, float8, float8, float8, int4), sig(int4, func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		return types.WidthBucketNumeric(v[0].(*apd.Decimal), v[1].(*apd.Decimal), v[2].(*apd.Decimal), v[3].(int64))
	}, numeric, numeric, numeric, int4))
	register("pi", sig(float8, func(*evalCtx, []types.T, []types.Datum) (types.Datum, error) { return math.Pi, nil }))
	register("degrees", sig(float8, floatFn(pure(func(x float64) float64 { return x * (180 / math.Pi) })), float8))
	register("radians", sig(float8, floatFn(pure(func(x float64) float64 { return x * (math.Pi / 180) })), float8))
	for name, f := range map[string]func(float64) float64{"sin": math.Sin, "cos": math.Cos, "tan": math.Tan,
		"cot": func(x float64) float64 { return 1 / math.Tan(x) }} {
		register(name, sig(float8, floatFn(func(x float64) (float64, error) {
			if math.IsInf(x, 0) {
				return 0, outOfRange()
			}
			return f(x), nil
		}), float8))
	}
	for name, f := range map[string]func(float64) float64{"asin": math.Asin, "acos": math.Acos} {
		register(name, sig(float8, floatFn(func(x float64) (float64, error) {
			if x < -1 || x > 1 {
				return 0, outOfRange()
			}
			return f(x), nil
		}), float8))
	}
	register("atan", sig(float8, floatFn(pure(math.Atan)), float8))
	register("atan2", sig(float8, func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		return math.Atan2(v[0].(float64), v[1].(float64)), nil
	}, float8, float8))
	for name, f := range map[string]func(float64) float64{"sinh": math.Sinh, "cosh": math.Cosh, "tanh": math.Tanh,
		"asinh": math.Asinh} {
		register(name, sig(float8, floatFn(pure(f)), float8))
	}
	register("random", overload{ret: float8, volatile: true, fn: func(ec *evalCtx, _ []types.T, _ []types.Datum) (types.Datum, error) {
		return sessionRandom(ec).Float64(), nil
	}})
	register("setseed", overload{params: []types.T{float8}, ret: text, volatile: true, fn: setseed})
}

// scaleFn adapts round(numeric, int) and trunc(numeric, int).
func scaleFn(f func(*apd.Decimal, int64) (*apd.Decimal, error)) builtinFn {
	return func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		return decimalResult(f(v[0].(*apd.Decimal), v[1].(int64)))
	}
}

func floatLog(f func(float64) float64) func(float64) (float64, error) {
	return func(x float64) (float64, error) {
		switch {
		case x == 0:
			return 0, pgerror.New("2201E", "cannot take logarithm of zero")
		case x < 0:
			return 0, pgerror.New("2201E", "cannot take logarithm of a negative number")
		}
		return f(x), nil
	}
}

func floatPower(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
	x, y := v[0].(float64), v[1].(float64)
	switch {
	case x == 0 && y < 0:
		return nil, pgerror.New("2201F", "zero raised to a negative power is undefined")
	case x < 0 && math.Floor(y) != y && !math.IsInf(y, 0):
		return nil, pgerror.New("2201F", "a negative number raised to a non-integer power yields a complex result")
	}
	r := math.Pow(x, y)
	finiteIn := !math.IsInf(x, 0) && !math.IsInf(y, 0) && !math.IsNaN(x) && !math.IsNaN(y)
	if !finiteIn {
		return r, nil
	}
	return checkFloat(r, false, x == 0)
}

func intMod(_ *evalCtx, ts []types.T, v []types.Datum) (types.Datum, error) {
	_, r, err := types.BinaryOp("%", ts[0], v[0], ts[1], v[1])
	return r, err
}

// gcdLCM is gcd and lcm of integers; the one result that does not fit (the minimum value's
// magnitude) is out of range.
func gcdLCM(lcm bool, width int) builtinFn {
	return func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		a, b := v[0].(int64), v[1].(int64)
		minV, name := int64(math.MinInt32), "integer"
		if width == 64 {
			minV, name = math.MinInt64, "bigint"
		}
		rangeErr := pgerror.New(pgerror.CodeNumericValueOutOfRange, "%s out of range", name)
		ua, ub := absU(a), absU(b)
		for ub != 0 {
			ua, ub = ub, ua%ub
		}
		g := ua
		if !lcm {
			if g > uint64(-(minV + 1)) {
				return nil, rangeErr
			}
			return int64(g), nil
		}
		if a == 0 || b == 0 {
			return int64(0), nil
		}
		q := absU(a) / g
		hi, lo := bits.Mul64(q, absU(b))
		if hi != 0 || lo > uint64(-(minV+1)) {
			return nil, rangeErr
		}
		return int64(lo), nil
	}
}

func absU(x int64) uint64 {
	if x < 0 {
		return uint64(-(x + 1)) + 1
	}
	return uint64(x)
}

// Each session has its own random number generator once setseed is called, so that the
// sequence random() returns after it repeats, as in PostgreSQL; before that, random() uses
// the process's generator. The generators live beside the sessions, keyed weakly so that a
// closed session's generator goes with it.
type sessionRNG struct {
	mu sync.Mutex
	r  *rand.Rand
}

var sessionRNGs sync.Map // weak.Pointer[Session] → *sessionRNG

func sessionRandom(ec *evalCtx) interface{ Float64() float64 } {
	if ec == nil || ec.session == nil {
		return globalRand{}
	}
	v, ok := sessionRNGs.Load(weak.Make(ec.session))
	if !ok {
		return globalRand{}
	}
	return v.(*sessionRNG)
}

type globalRand struct{}

func (globalRand) Float64() float64 { return rand.Float64() }

func (s *sessionRNG) Float64() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.r.Float64()
}

// setseed is setseed(seed): seed in [-1, 1] fixes the session's random sequence.
func setseed(ec *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
	seed := v[0].(float64)
	if seed < -1 || seed > 1 || math.IsNaN(seed) {
		return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "setseed parameter %s is out of allowed range [-1,1]", types.AppendText(nil, float8, seed))
	}
	if ec == nil || ec.session == nil {
		return "", nil
	}
	s := uint64(int64(seed * math.MaxInt64))
	rng := &sessionRNG{r: rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15))}
	key := weak.Make(ec.session)
	if _, loaded := sessionRNGs.Swap(key, rng); !loaded {
		runtime.AddCleanup(ec.session, func(k weak.Pointer[Session]) { sessionRNGs.Delete(k) }, key)
	}
	return "", nil
}
