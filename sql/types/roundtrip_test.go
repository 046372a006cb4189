package types

import (
	"math"
	"math/rand"
	"strings"
	"testing"
	"testing/quick"
	"time"

	"github.com/cockroachdb/apd/v3"
)

// randDatum returns a random non-NULL value of typ, biased towards edge cases.
func randDatum(r *rand.Rand, typ T) Datum {
	switch typ.Family {
	case BoolFamily:
		return r.Intn(2) == 0
	case IntFamily:
		edges := []int64{0, 1, -1}
		switch typ.intWidth() {
		case 16:
			edges = append(edges, math.MinInt16, math.MaxInt16)
			if r.Intn(4) == 0 {
				return edges[r.Intn(len(edges))]
			}
			return int64(int16(r.Uint32()))
		case 32:
			edges = append(edges, math.MinInt32, math.MaxInt32)
			if r.Intn(4) == 0 {
				return edges[r.Intn(len(edges))]
			}
			return int64(int32(r.Uint32()))
		}
		edges = append(edges, math.MinInt64, math.MaxInt64)
		if r.Intn(4) == 0 {
			return edges[r.Intn(len(edges))]
		}
		return int64(r.Uint64())
	case FloatFamily:
		var f float64
		switch r.Intn(8) {
		case 0:
			f = []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1), math.MaxFloat64, math.SmallestNonzeroFloat64}[r.Intn(7)]
		case 1:
			f = math.Float64frombits(r.Uint64()) // any bit pattern, including subnormals
		default:
			f = r.NormFloat64() * math.Pow(10, float64(r.Intn(60)-30))
		}
		if typ.isFloat4() {
			f = float64(float32(f))
		}
		return f
	case DecimalFamily:
		switch r.Intn(10) {
		case 0:
			return numericNaN()
		case 1:
			if typ.Precision == 0 { // numeric(p,s) cannot hold infinities
				return numericInf(r.Intn(2) == 0)
			}
		}
		var coeff apd.BigInt
		digits := 1 + r.Intn(40)
		var sb strings.Builder
		for i := 0; i < digits; i++ {
			sb.WriteByte(byte('0' + r.Intn(10)))
		}
		coeff.SetString(sb.String(), 10)
		d := apd.NewWithBigInt(&coeff, -int32(r.Intn(30)))
		d.Negative = r.Intn(2) == 0
		n, err := fitDecimal(typ, d)
		if err != nil {
			n, _ = fitDecimal(typ, apd.New(0, 0)) // too many digits for typ
		}
		return n
	case StringFamily:
		alphabet := []rune("abcXYZ 019é€\U0001F600\\\"'\t\n")
		n := r.Intn(12)
		if typ.Width > 0 {
			n = min(n, int(typ.Width))
		}
		rs := make([]rune, n)
		for i := range rs {
			rs[i] = alphabet[r.Intn(len(alphabet))]
		}
		s := string(rs)
		if typ.StringKind == Char {
			s = strings.TrimRight(s, " ")
		}
		return s
	case BytesFamily:
		b := make([]byte, r.Intn(10))
		r.Read(b)
		return b
	case DateFamily:
		return dateFromDays(r.Int63n(daysSinceEpoch(maxDateExcl)-daysSinceEpoch(minTime)) + daysSinceEpoch(minTime))
	case TimestampFamily, TimestampTZFamily:
		lo, hi := microsSinceEpoch(minTime), microsSinceEpoch(maxStampExcl)
		if r.Intn(2) == 0 {
			lo, hi = microsSinceEpoch(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)), microsSinceEpoch(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))
		}
		span := uint64(hi) - uint64(lo) // the full range overflows int64
		return timeFromMicros(lo + int64(r.Uint64()%span))
	case UUIDFamily:
		var u UUID
		r.Read(u[:])
		return u
	case TimeFamily:
		if r.Intn(8) == 0 {
			return TimeOfDay([]int64{0, usPerDay, usPerDay - 1}[r.Intn(3)])
		}
		return TimeOfDay(r.Int63n(usPerDay))
	case IntervalFamily:
		if r.Intn(8) == 0 {
			return Interval{Months: math.MinInt32, Days: math.MaxInt32, Micros: math.MinInt64 + 1}
		}
		return Interval{Months: int32(r.Uint32()) >> r.Intn(32), Days: int32(r.Uint32()) >> r.Intn(32), Micros: int64(r.Uint64()) >> r.Intn(64)}
	case JSONBFamily:
		return randJSON(r, 3)
	case ArrayFamily:
		a := Array{Elems: make([]Datum, r.Intn(5))}
		for i := range a.Elems {
			if r.Intn(5) > 0 {
				a.Elems[i] = randDatum(r, typ.ElemType())
			}
		}
		return a
	}
	return nil
}

func randJSON(r *rand.Rand, depth int) JSON {
	k := r.Intn(6)
	if depth == 0 {
		k = r.Intn(4)
	}
	switch k {
	case 0:
		return JSON{Kind: JSONNull}
	case 1:
		return JSONStringOf(randDatum(r, String).(string))
	case 2:
		return JSONNumberOf(apd.New(r.Int63n(2000)-1000, -int32(r.Intn(4))))
	case 3:
		return JSONBoolOf(r.Intn(2) == 0)
	case 4:
		a := JSON{Kind: JSONArray}
		for i := r.Intn(4); i > 0; i-- {
			a.Elems = append(a.Elems, randJSON(r, depth-1))
		}
		return a
	}
	var keys []string
	var vals []JSON
	for i := r.Intn(4); i > 0; i-- {
		keys = append(keys, randDatum(r, String).(string))
		vals = append(vals, randJSON(r, depth-1))
	}
	return JSONObjectOf(keys, vals)
}

var roundTripTypes = []string{
	"bool", "int2", "int4", "int8", "float4", "float8", "numeric", "numeric(12,4)", "numeric(5,-2)", "text",
	"varchar(5)", "char(4)", "bytea", "date", "timestamp", "timestamptz", "uuid",
	"time", "interval", "jsonb", "int4[]", "int8[]", "text[]", "char(2)[]", "numeric(6,2)[]", "float4[]", "bool[]", "bytea[]",
	"timestamptz[]", "date[]", "uuid[]", "interval[]", "jsonb[]",
}

// sameDatum is exact equality, stricter than Compare: it tells -0 from 0 and 1.0 from 1.00.
func sameDatum(typ T, a, b Datum) bool {
	if fa, ok := a.(float64); ok {
		fb := b.(float64)
		return math.Float64bits(fa) == math.Float64bits(fb) || math.IsNaN(fa) && math.IsNaN(fb)
	}
	if da, ok := a.(*apd.Decimal); ok {
		db := b.(*apd.Decimal)
		return Compare(typ, a, b) == 0 && da.Exponent == db.Exponent && da.Form == db.Form && da.Negative == db.Negative
	}
	if ta, ok := a.(time.Time); ok {
		return ta.Equal(b.(time.Time))
	}
	if ia, ok := a.(Interval); ok {
		return ia == b.(Interval) // Compare would equate '1 mon' with '30 days'
	}
	if aa, ok := a.(Array); ok {
		ba := b.(Array)
		if len(aa.Elems) != len(ba.Elems) {
			return false
		}
		for i := range aa.Elems {
			if (aa.Elems[i] == nil) != (ba.Elems[i] == nil) || aa.Elems[i] != nil && !sameDatum(typ.ElemType(), aa.Elems[i], ba.Elems[i]) {
				return false
			}
		}
		return true
	}
	return Compare(typ, a, b) == 0
}

// TestRoundTrips checks ParseText(AppendText(x)) == x and DecodeBinary(AppendBinary(x)) == x
// over random values of every type.
func TestRoundTrips(t *testing.T) {
	for _, name := range roundTripTypes {
		typ := mustType(t, name)
		err := quick.Check(func(seed int64) bool {
			r := rand.New(rand.NewSource(seed))
			d := randDatum(r, typ)
			txt := string(AppendText(nil, typ, d))
			back, err := ParseText(typ, txt)
			if err != nil || !sameDatum(typ, back, d) {
				t.Logf("%s: text %q → %v, %v (from %#v)", name, txt, back, err, d)
				return false
			}
			bin, err := AppendBinary(nil, typ, d)
			if err != nil {
				t.Logf("%s: AppendBinary(%v): %v", name, d, err)
				return false
			}
			back, err = DecodeBinary(typ, bin)
			if err != nil || !sameDatum(typ, back, d) {
				t.Logf("%s: binary %x → %v, %v (from %v)", name, bin, back, err, d)
				return false
			}
			return true
		}, &quick.Config{MaxCount: 2000})
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestCompareMatchesOperators checks that sorting with Compare agrees with BinaryOp's = and <,
// apart from NULL, which sorts last but compares as NULL.
func TestCompareMatchesOperators(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, name := range roundTripTypes {
		typ := mustType(t, name)
		for i := 0; i < 2000; i++ {
			a, b := randDatum(r, typ), randDatum(r, typ)
			if r.Intn(3) == 0 {
				b = a // make equality common
			}
			c := Compare(typ, a, b)
			if Compare(typ, b, a) != -c {
				t.Fatalf("%s: Compare not antisymmetric for %v, %v", name, a, b)
			}
			_, eq, err1 := BinaryOp("=", typ, a, typ, b)
			_, lt, err2 := BinaryOp("<", typ, a, typ, b)
			if err1 != nil || err2 != nil {
				t.Fatalf("%s: %v %v", name, err1, err2)
			}
			if eq.(bool) != (c == 0) || lt.(bool) != (c < 0) {
				t.Fatalf("%s: Compare(%v, %v) = %d but = is %v and < is %v", name, a, b, c, eq, lt)
			}
		}
	}
	// Across number families the operators agree with the order of the exact values.
	for i := 0; i < 2000; i++ {
		x := r.Int63n(2000) - 1000
		y := apd.New(r.Int63n(20000)-10000, -1)
		_, lt, _ := BinaryOp("<", Int8, x, Numeric, y)
		_, flt, _ := BinaryOp("<", Float8, float64(x), Numeric, y)
		want := apd.New(x, 0).Cmp(y) < 0
		if lt.(bool) != want || flt.(bool) != want {
			t.Fatalf("%d < %s: %v / %v, want %v", x, y, lt, flt, want)
		}
	}
}
