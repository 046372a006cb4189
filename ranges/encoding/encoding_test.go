package encoding

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"
	"testing/quick"
	"time"

	"github.com/cockroachdb/apd/v3"
)

// value is a column value: NULL or a Go value of the column's kind.
type value struct {
	null bool
	v    any
}

// kind bundles a column type's generator, codec and reference order, so that the property
// tests run over every type and any mix of them in tuples.
type kind struct {
	name    string
	gen     func(r *rand.Rand) any
	enc     func(b []byte, v any, dir Direction) []byte
	dec     func(b []byte, dir Direction) ([]byte, any, error)
	compare func(a, b any) int
	equal   func(a, b any) bool
}

func floatCompare(a, b float64) int {
	switch {
	case math.IsNaN(a) && math.IsNaN(b):
		return 0
	case math.IsNaN(a):
		return 1
	case math.IsNaN(b):
		return -1
	}
	return cmp.Compare(a, b)
}

// randDecimal draws decimals across classes, scales and sizes: specials, zeros at any
// scale, small and huge coefficients, exponents near the int32 limits, and values restated
// with trailing zeros.
func randDecimal(r *rand.Rand) *apd.Decimal {
	switch r.Intn(20) {
	case 0:
		return &apd.Decimal{Form: apd.NaN}
	case 1:
		return &apd.Decimal{Form: apd.Infinite, Negative: r.Intn(2) == 0}
	case 2:
		return apd.New(0, int32(r.Intn(10)-5))
	}
	d := new(apd.Decimal)
	switch r.Intn(4) {
	case 0: // huge: up to 80 digits
		digits := make([]byte, 1+r.Intn(80))
		for i := range digits {
			digits[i] = '0' + byte(r.Intn(10))
		}
		digits[0] = '1' + byte(r.Intn(9))
		d.Coeff.SetString(string(digits), 10)
	case 1:
		d.Coeff.SetInt64(r.Int63())
	default:
		d.Coeff.SetInt64(r.Int63n(1000))
	}
	switch r.Intn(10) {
	case 0:
		d.Exponent = math.MaxInt32 - int32(r.Intn(100))
	case 1:
		d.Exponent = math.MinInt32 + 100 + int32(r.Intn(100))
	default:
		d.Exponent = int32(r.Intn(60) - 30)
	}
	if r.Intn(4) == 0 { // the same value at a larger scale
		d.Coeff.Mul(&d.Coeff, apd.NewBigInt(1000))
		d.Exponent -= 3
	}
	d.Negative = r.Intn(2) == 0 && !d.IsZero()
	return d
}

func randBytes(r *rand.Rand) []byte {
	alphabet := []byte{0x00, 0x01, 'a', 'b', 0xfe, 0xff}
	b := make([]byte, r.Intn(5))
	for i := range b {
		b[i] = alphabet[r.Intn(len(alphabet))]
	}
	return b
}

var kinds = []kind{
	{
		name: "int",
		gen: func(r *rand.Rand) any {
			switch r.Intn(6) {
			case 0:
				return int64(math.MinInt64)
			case 1:
				return int64(math.MaxInt64)
			}
			return r.Int63n(2000) - 1000
		},
		enc:     func(b []byte, v any, d Direction) []byte { return AppendInt(b, v.(int64), d) },
		dec:     func(b []byte, d Direction) ([]byte, any, error) { return DecodeInt(b, d) },
		compare: func(a, b any) int { return cmp.Compare(a.(int64), b.(int64)) },
	},
	{
		name: "float",
		gen: func(r *rand.Rand) any {
			special := []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.NaN(), math.SmallestNonzeroFloat64, -math.MaxFloat64}
			if r.Intn(4) == 0 {
				return special[r.Intn(len(special))]
			}
			return (r.Float64() - 0.5) * math.Pow(10, float64(r.Intn(40)-20))
		},
		enc:     func(b []byte, v any, d Direction) []byte { return AppendFloat(b, v.(float64), d) },
		dec:     func(b []byte, d Direction) ([]byte, any, error) { return DecodeFloat(b, d) },
		compare: func(a, b any) int { return floatCompare(a.(float64), b.(float64)) },
		equal:   func(a, b any) bool { return floatCompare(a.(float64), b.(float64)) == 0 },
	},
	{
		name:    "decimal",
		gen:     func(r *rand.Rand) any { return randDecimal(r) },
		enc:     func(b []byte, v any, d Direction) []byte { return AppendDecimal(b, v.(*apd.Decimal), d) },
		dec:     func(b []byte, d Direction) ([]byte, any, error) { return DecodeDecimal(b, d) },
		compare: func(a, b any) int { return decimalCompare(a.(*apd.Decimal), b.(*apd.Decimal)) },
		equal:   func(a, b any) bool { return decimalCompare(a.(*apd.Decimal), b.(*apd.Decimal)) == 0 },
	},
	{
		name:    "bytes",
		gen:     func(r *rand.Rand) any { return randBytes(r) },
		enc:     func(b []byte, v any, d Direction) []byte { return AppendBytes(b, v.([]byte), d) },
		dec:     func(b []byte, d Direction) ([]byte, any, error) { return DecodeBytes(b, d) },
		compare: func(a, b any) int { return bytes.Compare(a.([]byte), b.([]byte)) },
		equal:   func(a, b any) bool { return bytes.Equal(a.([]byte), b.([]byte)) },
	},
	{
		name:    "string",
		gen:     func(r *rand.Rand) any { return string(randBytes(r)) },
		enc:     func(b []byte, v any, d Direction) []byte { return AppendString(b, v.(string), d) },
		dec:     func(b []byte, d Direction) ([]byte, any, error) { return DecodeString(b, d) },
		compare: func(a, b any) int { return cmp.Compare(a.(string), b.(string)) },
	},
	{
		name:    "bool",
		gen:     func(r *rand.Rand) any { return r.Intn(2) == 0 },
		enc:     func(b []byte, v any, d Direction) []byte { return AppendBool(b, v.(bool), d) },
		dec:     func(b []byte, d Direction) ([]byte, any, error) { return DecodeBool(b, d) },
		compare: func(a, b any) int { return cmp.Compare(boolInt(a.(bool)), boolInt(b.(bool))) },
	},
	{
		name: "time",
		gen: func(r *rand.Rand) any {
			return time.Unix(r.Int63n(1<<40)-1<<39, r.Int63n(1e9)).In(time.FixedZone("z", r.Intn(20)*3600))
		},
		enc:     func(b []byte, v any, d Direction) []byte { return AppendTime(b, v.(time.Time), d) },
		dec:     func(b []byte, d Direction) ([]byte, any, error) { return DecodeTime(b, d) },
		compare: func(a, b any) int { return a.(time.Time).Compare(b.(time.Time)) },
		equal:   func(a, b any) bool { return a.(time.Time).Equal(b.(time.Time)) },
	},
	{
		name: "uuid",
		gen: func(r *rand.Rand) any {
			var u [16]byte
			u[r.Intn(16)] = byte(r.Intn(256))
			u[0] = byte(r.Intn(3))
			return u
		},
		enc: func(b []byte, v any, d Direction) []byte { return AppendUUID(b, v.([16]byte), d) },
		dec: func(b []byte, d Direction) ([]byte, any, error) { return DecodeUUID(b, d) },
		compare: func(a, b any) int {
			x, y := a.([16]byte), b.([16]byte)
			return bytes.Compare(x[:], y[:])
		},
	},
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func decimalCompare(a, b *apd.Decimal) int {
	an, bn := a.Form == apd.NaN, b.Form == apd.NaN
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	}
	return a.Cmp(b)
}

// compareValues is the SQL order, NULL greatest, reversed for descending.
func compareValues(k kind, a, b value, dir Direction) int {
	var c int
	switch {
	case a.null && b.null:
		c = 0
	case a.null:
		c = 1
	case b.null:
		c = -1
	default:
		c = k.compare(a.v, b.v)
	}
	if dir == Descending {
		c = -c
	}
	return c
}

func encodeValue(k kind, b []byte, v value, dir Direction) []byte {
	if v.null {
		return AppendNull(b, dir)
	}
	return k.enc(b, v.v, dir)
}

func randValue(r *rand.Rand, k kind) value {
	if r.Intn(8) == 0 {
		return value{null: true}
	}
	return value{v: k.gen(r)}
}

func sign(x int) int { return cmp.Compare(x, 0) }

// TestOrderPreserved checks, for random pairs of every kind and direction, that the encodings
// compare like the values and decode back to them.
func TestOrderPreserved(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, k := range kinds {
		for _, dir := range []Direction{Ascending, Descending} {
			t.Run(fmt.Sprintf("%s/%d", k.name, dir), func(t *testing.T) {
				for i := 0; i < 5000; i++ {
					a, b := randValue(r, k), randValue(r, k)
					ea, eb := encodeValue(k, nil, a, dir), encodeValue(k, nil, b, dir)
					if got, want := sign(bytes.Compare(ea, eb)), compareValues(k, a, b, dir); got != want {
						t.Fatalf("%v vs %v: encodings compare %d, values %d (%x vs %x)", a.v, b.v, got, want, ea, eb)
					}
					checkRoundTrip(t, k, a, ea, dir)
				}
			})
		}
	}
}

func checkRoundTrip(t *testing.T, k kind, v value, enc []byte, dir Direction) {
	t.Helper()
	rest, isNull := DecodeNull(enc, dir)
	if isNull != v.null {
		t.Fatalf("%v: DecodeNull = %v", v.v, isNull)
	}
	if !isNull {
		var got any
		var err error
		rest, got, err = k.dec(enc, dir)
		if err != nil {
			t.Fatalf("decoding %v (%x): %v", v.v, enc, err)
		}
		eq := k.equal
		if eq == nil {
			eq = func(a, b any) bool { return k.compare(a, b) == 0 }
		}
		if !eq(got, v.v) {
			t.Fatalf("round trip of %v gave %v", v.v, got)
		}
	}
	if len(rest) != 0 {
		t.Fatalf("%v: %d bytes left after decoding", v.v, len(rest))
	}
}

// TestTuplesOrderPreserved checks that concatenated encodings order like tuples.
func TestTuplesOrderPreserved(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for i := 0; i < 20000; i++ {
		n := 2 + r.Intn(2)
		ks := make([]kind, n)
		dirs := make([]Direction, n)
		for j := range ks {
			ks[j] = kinds[r.Intn(len(kinds))]
			dirs[j] = Direction(r.Intn(2))
		}
		var ea, eb []byte
		want := 0
		a := make([]value, n)
		for j := range ks {
			a[j] = randValue(r, ks[j])
			vb := randValue(r, ks[j])
			if r.Intn(2) == 0 {
				vb = a[j] // share prefixes often
			}
			ea = encodeValue(ks[j], ea, a[j], dirs[j])
			eb = encodeValue(ks[j], eb, vb, dirs[j])
			if want == 0 {
				want = compareValues(ks[j], a[j], vb, dirs[j])
			}
		}
		if got := sign(bytes.Compare(ea, eb)); got != want {
			t.Fatalf("tuple %d: encodings compare %d, tuples %d", i, got, want)
		}
		// Decode the tuple back column by column.
		rest := ea
		for j := range ks {
			var isNull bool
			if rest, isNull = DecodeNull(rest, dirs[j]); isNull != a[j].null {
				t.Fatalf("tuple %d column %d: null = %v", i, j, isNull)
			}
			if !isNull {
				var err error
				if rest, _, err = ks[j].dec(rest, dirs[j]); err != nil {
					t.Fatalf("tuple %d column %d: %v", i, j, err)
				}
			}
		}
		if len(rest) != 0 {
			t.Fatalf("tuple %d: %d bytes left", i, len(rest))
		}
	}
}

func TestDecimalCanonical(t *testing.T) {
	for _, pair := range [][2]string{{"1", "1.000"}, {"-0.50", "-0.5"}, {"100", "1E2"}, {"0", "-0.00"}} {
		a, _, _ := apd.NewFromString(pair[0])
		b, _, _ := apd.NewFromString(pair[1])
		if !bytes.Equal(AppendDecimal(nil, a, Ascending), AppendDecimal(nil, b, Ascending)) {
			t.Errorf("%s and %s encode differently", pair[0], pair[1])
		}
	}
}

func TestUvarint(t *testing.T) {
	vals := []uint64{0, 1, 255, 256, 65535, 1 << 32, math.MaxUint64}
	for i, v := range vals {
		enc := AppendUvarint(nil, v)
		rest, got, err := DecodeUvarint(enc)
		if err != nil || got != v || len(rest) != 0 {
			t.Fatalf("%d: decoded %d, %v", v, got, err)
		}
		if i > 0 && bytes.Compare(AppendUvarint(nil, vals[i-1]), enc) >= 0 {
			t.Fatalf("%d does not sort after %d", v, vals[i-1])
		}
	}
}

func TestPrefixEnd(t *testing.T) {
	for _, tc := range []struct{ in, want []byte }{
		{[]byte{1, 2}, []byte{1, 3}},
		{[]byte{1, 0xff}, []byte{2}},
		{[]byte{0xff, 0xff}, nil},
		{nil, nil},
	} {
		if got := PrefixEnd(tc.in); !bytes.Equal(got, tc.want) {
			t.Errorf("PrefixEnd(%x) = %x, want %x", tc.in, got, tc.want)
		}
	}
}

// FuzzDecode feeds arbitrary bytes to every decoder. Each must return an error or a value,
// never panic, and since every value has exactly one encoding, a value it does return must
// re-encode to exactly the bytes it consumed.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{markerInt, 1, 2, 3, 4, 5, 6, 7, 8}, false)
	f.Add(AppendDecimal(nil, apd.New(-12345, -3), Ascending), true)
	f.Add(AppendString(nil, "a\x00b", Descending), true)
	f.Add(AppendTime(nil, time.Unix(1, 2), Ascending), false)
	f.Add(AppendUvarint(nil, 1<<40), false)
	f.Fuzz(func(t *testing.T, b []byte, desc bool) {
		dir := Ascending
		if desc {
			dir = Descending
		}
		if rest, isNull := DecodeNull(b, dir); isNull {
			if len(rest) != len(b)-1 {
				t.Fatalf("NULL consumed %d bytes", len(b)-len(rest))
			}
		} else if len(rest) != len(b) {
			t.Fatal("DecodeNull consumed input without finding a NULL")
		}
		if rest, v, err := DecodeUvarint(b); err == nil {
			if got := AppendUvarint(nil, v); !bytes.Equal(got, b[:len(b)-len(rest)]) {
				t.Fatalf("uvarint %d: decoded from %x, encodes as %x", v, b[:len(b)-len(rest)], got)
			}
		}
		for _, k := range kinds {
			rest, v, err := k.dec(b, dir)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("%s: error %v does not wrap ErrCorrupt", k.name, err)
				}
				continue
			}
			if len(rest) > len(b) {
				t.Fatalf("%s: rest longer than input", k.name)
			}
			if got, used := k.enc(nil, v, dir), b[:len(b)-len(rest)]; !bytes.Equal(got, used) {
				t.Fatalf("%s: %v decoded from %x re-encodes as %x", k.name, v, used, got)
			}
		}
	})
}

// FuzzDecodeDecimal aims the fuzzer at the decimal decoder, whose variable-length exponent
// and digit pairs have the most ways to be malformed.
func FuzzDecodeDecimal(f *testing.F) {
	seeds := []*apd.Decimal{apd.New(-1, math.MinInt32), apd.New(9000, math.MaxInt32)}
	for _, s := range []string{"0", "1", "-1", "123.4500", "-0.000001", "NaN", "-Infinity"} {
		d, _, err := apd.NewFromString(s)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, d)
	}
	for _, d := range seeds {
		f.Add(AppendDecimal(nil, d, Ascending), false)
		f.Add(AppendDecimal(nil, d, Descending), true)
	}
	f.Fuzz(func(t *testing.T, b []byte, desc bool) {
		dir := Ascending
		if desc {
			dir = Descending
		}
		rest, d, err := DecodeDecimal(b, dir)
		if err != nil {
			return
		}
		if got, used := AppendDecimal(nil, d, dir), b[:len(b)-len(rest)]; !bytes.Equal(got, used) {
			t.Fatalf("%s decoded from %x re-encodes as %x", d, used, got)
		}
	})
}

// FuzzDecimalOrder checks the decimal order on pairs of numbers the fuzzer writes as text.
func FuzzDecimalOrder(f *testing.F) {
	f.Add("1", "1.0")
	f.Add("0.5", "0.50001")
	f.Add("-12.5", "-12.51")
	f.Add("1e100", "NaN")
	f.Add("-Infinity", "-1e-100")
	f.Fuzz(func(t *testing.T, x, y string) {
		if len(x) > 100 || len(y) > 100 {
			return
		}
		a, _, err := apd.NewFromString(x)
		if err != nil {
			return
		}
		b, _, err := apd.NewFromString(y)
		if err != nil {
			return
		}
		// Aligning wildly different exponents to compare them is slow; the random tests
		// cover extreme exponents.
		if a.Exponent < -1000 || a.Exponent > 1000 || b.Exponent < -1000 || b.Exponent > 1000 {
			return
		}
		for _, dir := range []Direction{Ascending, Descending} {
			want := decimalCompare(a, b)
			if dir == Descending {
				want = -want
			}
			if got := sign(bytes.Compare(AppendDecimal(nil, a, dir), AppendDecimal(nil, b, dir))); got != want {
				t.Fatalf("%s vs %s (%s): encodings compare %d, want %d", a, b, dir, got, want)
			}
		}
	})
}

// TestQuick states the order and round-trip properties for testing/quick's own generators,
// whose values (full-range ints, arbitrary strings) complement the hand-made ones above.
func TestQuick(t *testing.T) {
	check := func(name string, f any) {
		t.Run(name, func(t *testing.T) {
			if err := quick.Check(f, &quick.Config{MaxCount: 2000}); err != nil {
				t.Error(err)
			}
		})
	}
	dirOf := func(desc bool) Direction {
		if desc {
			return Descending
		}
		return Ascending
	}
	orderSign := func(c int, desc bool) int {
		if desc {
			return -sign(c)
		}
		return sign(c)
	}
	check("int", func(a, b int64, desc bool) bool {
		dir := dirOf(desc)
		ea, eb := AppendInt(nil, a, dir), AppendInt(nil, b, dir)
		_, got, err := DecodeInt(ea, dir)
		return err == nil && got == a && sign(bytes.Compare(ea, eb)) == orderSign(cmp.Compare(a, b), desc)
	})
	check("float", func(a, b float64, desc bool) bool {
		dir := dirOf(desc)
		ea, eb := AppendFloat(nil, a, dir), AppendFloat(nil, b, dir)
		_, got, err := DecodeFloat(ea, dir)
		return err == nil && got == a && sign(bytes.Compare(ea, eb)) == orderSign(floatCompare(a, b), desc)
	})
	check("string", func(a, b string, desc bool) bool {
		dir := dirOf(desc)
		ea, eb := AppendString(nil, a, dir), AppendString(nil, b, dir)
		_, got, err := DecodeString(ea, dir)
		return err == nil && got == a && sign(bytes.Compare(ea, eb)) == orderSign(strings.Compare(a, b), desc)
	})
	check("bytes", func(a, b []byte, desc bool) bool {
		dir := dirOf(desc)
		ea, eb := AppendBytes(nil, a, dir), AppendBytes(nil, b, dir)
		_, got, err := DecodeBytes(ea, dir)
		return err == nil && bytes.Equal(got, a) && sign(bytes.Compare(ea, eb)) == orderSign(bytes.Compare(a, b), desc)
	})
	check("uvarint", func(a, b uint64) bool {
		ea, eb := AppendUvarint(nil, a), AppendUvarint(nil, b)
		_, got, err := DecodeUvarint(ea)
		return err == nil && got == a && sign(bytes.Compare(ea, eb)) == cmp.Compare(a, b)
	})
	check("decimal", func(ca, cb int64, xa, xb int8, desc bool) bool {
		dir := dirOf(desc)
		a, b := apd.New(ca, int32(xa)), apd.New(cb, int32(xb))
		ea, eb := AppendDecimal(nil, a, dir), AppendDecimal(nil, b, dir)
		_, got, err := DecodeDecimal(ea, dir)
		return err == nil && got.Cmp(a) == 0 && sign(bytes.Compare(ea, eb)) == orderSign(a.Cmp(b), desc)
	})
}

// TestSortedLists spells out the intended order of hand-picked values, edge cases first.
func TestSortedLists(t *testing.T) {
	dec := func(s string) *apd.Decimal {
		d, _, err := apd.NewFromString(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	lists := []struct {
		name string
		enc  []func(Direction) []byte
	}{
		{"strings", encoders(func(s string, d Direction) []byte { return AppendString(nil, s, d) },
			"", "\x00", "\x00\x00", "\x00\x01", "\x01", "a", "a\x00", "a\x00b", "a\x01", "ab", "abc", "b", "\xff", "\xff\xff")},
		{"ints", encoders(func(v int64, d Direction) []byte { return AppendInt(nil, v, d) },
			math.MinInt64, -256, -1, 0, 1, 255, 256, math.MaxInt64)},
		{"floats", encoders(func(v float64, d Direction) []byte { return AppendFloat(nil, v, d) },
			math.Inf(-1), -math.MaxFloat64, -1, -math.SmallestNonzeroFloat64, 0, math.SmallestNonzeroFloat64, 1, math.MaxFloat64, math.Inf(1), math.NaN())},
		{"decimals", encoders(func(v string, d Direction) []byte { return AppendDecimal(nil, dec(v), d) },
			"-Infinity", "-1e300", "-123.46", "-123.456", "-123.45", "-1.01", "-1", "-0.999", "-1e-300",
			"0", "1e-300", "0.001", "0.00101", "0.01", "0.999", "1", "1.000001", "1.01", "9", "10", "10.5", "99", "100", "1e300", "Infinity", "NaN")},
		{"bools", encoders(func(v bool, d Direction) []byte { return AppendBool(nil, v, d) }, false, true)},
		{"times", encoders(func(v time.Time, d Direction) []byte { return AppendTime(nil, v, d) },
			time.Unix(-1<<40, 0), time.Unix(-1, 999_999_999), time.Unix(0, 0).In(time.FixedZone("+5", 5*3600)),
			time.Unix(0, 1), time.Unix(1, 0).In(time.FixedZone("-8", -8*3600)), time.Unix(1<<40, 0))},
		{"uuids", encoders(func(v [16]byte, d Direction) []byte { return AppendUUID(nil, v, d) },
			[16]byte{}, [16]byte{15: 1}, [16]byte{0: 1}, [16]byte{0: 0xff, 15: 0xff})},
	}
	for _, l := range lists {
		for _, dir := range []Direction{Ascending, Descending} {
			t.Run(fmt.Sprintf("%s/%s", l.name, dir), func(t *testing.T) {
				var prev []byte
				for i, enc := range l.enc {
					e := enc(dir)
					cur := e
					if i > 0 {
						c := bytes.Compare(prev, cur)
						if dir == Descending {
							c = -c
						}
						if c >= 0 {
							t.Fatalf("value %d (%x) does not sort after value %d (%x)", i, cur, i-1, prev)
						}
					}
					prev = cur
				}
				// NULL is the greatest value: last ascending, first descending.
				null := AppendNull(nil, dir)
				for i, enc := range l.enc {
					c := bytes.Compare(enc(dir), null)
					if (dir == Ascending && c >= 0) || (dir == Descending && c <= 0) {
						t.Fatalf("value %d misplaced against NULL", i)
					}
				}
			})
		}
	}
}

func encoders[T any](enc func(T, Direction) []byte, vals ...T) []func(Direction) []byte {
	fs := make([]func(Direction) []byte, len(vals))
	for i, v := range vals {
		fs[i] = func(d Direction) []byte { return enc(v, d) }
	}
	return fs
}

// TestTruncated cuts valid encodings short at every length: the encodings are prefix-free,
// so each cut must be reported as corrupt.
func TestTruncated(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for _, k := range kinds {
		for _, dir := range []Direction{Ascending, Descending} {
			for i := 0; i < 200; i++ {
				v := k.gen(r)
				enc := k.enc(nil, v, dir)
				for n := 0; n < len(enc); n++ {
					if _, got, err := k.dec(enc[:n], dir); !errors.Is(err, ErrCorrupt) {
						t.Fatalf("%s %s: %x, a prefix of the encoding of %v, decoded as %v, %v", k.name, dir, enc[:n], v, got, err)
					}
				}
			}
		}
	}
}

// TestWrongType decodes each kind with every other kind's decoder: the marker must catch it.
func TestWrongType(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	for _, k := range kinds {
		enc := k.enc(nil, k.gen(r), Ascending)
		for _, other := range kinds {
			if other.name == k.name {
				continue
			}
			if _, _, err := other.dec(enc, Ascending); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s decoder accepted a %s: %v", other.name, k.name, err)
			}
		}
		if _, isNull := DecodeNull(enc, Ascending); isNull {
			t.Errorf("%s taken for NULL", k.name)
		}
	}
}

// TestDecimalNeighbours compares decimals built to share leading digits, where the order is
// decided by digit strings of different lengths, the subtle case of the encoding.
func TestDecimalNeighbours(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	for i := 0; i < 20000; i++ {
		a := randDecimal(r)
		if a.Form != apd.Finite {
			continue
		}
		b := new(apd.Decimal)
		b.Set(a)
		// Extend or change the tail of a's coefficient, keeping its leading digits.
		shift := int32(r.Intn(4))
		b.Coeff.Mul(&b.Coeff, apd.NewBigInt(int64(math.Pow10(int(shift)))))
		b.Exponent -= shift
		b.Coeff.Add(&b.Coeff, apd.NewBigInt(r.Int63n(21)-10))
		if b.Coeff.Sign() < 0 {
			b.Coeff.Neg(&b.Coeff)
			b.Negative = !b.Negative
		}
		for _, dir := range []Direction{Ascending, Descending} {
			want := decimalCompare(a, b)
			if dir == Descending {
				want = -want
			}
			ea, eb := AppendDecimal(nil, a, dir), AppendDecimal(nil, b, dir)
			if got := sign(bytes.Compare(ea, eb)); got != want {
				t.Fatalf("%s vs %s (%s): encodings compare %d, want %d (%x vs %x)", a, b, dir, got, want, ea, eb)
			}
			if _, got, err := DecodeDecimal(eb, dir); err != nil || got.Cmp(b) != 0 {
				t.Fatalf("%s round trip: %s, %v", b, got, err)
			}
		}
	}
}

func BenchmarkAppendInt(b *testing.B) {
	buf := make([]byte, 0, 64)
	for i := 0; i < b.N; i++ {
		buf = AppendInt(buf[:0], int64(i), Ascending)
	}
}

func BenchmarkAppendString(b *testing.B) {
	buf := make([]byte, 0, 64)
	for i := 0; i < b.N; i++ {
		buf = AppendString(buf[:0], "customer-name-0001", Ascending)
	}
}

func BenchmarkAppendDecimal(b *testing.B) {
	d := apd.New(123456789, -4)
	buf := make([]byte, 0, 64)
	for i := 0; i < b.N; i++ {
		buf = AppendDecimal(buf[:0], d, Ascending)
	}
}
