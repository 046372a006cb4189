package types

import (
	"math"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/meridiandb/meridian/sql/pgerror"
)

func TestBinaryOp(t *testing.T) {
	d := func(y int, m time.Month, dd int) time.Time { return time.Date(y, m, dd, 0, 0, 0, 0, time.UTC) }
	ts := time.Date(2024, 2, 29, 0, 0, 0, 1000, time.UTC)
	char3 := T{Family: StringFamily, StringKind: Char, Width: 3}
	for _, c := range []struct {
		op    string
		lt    T
		l     Datum
		rt    T
		r     Datum
		want  string // result text, or "CODE: message" for errors
		wantT string
	}{
		{"+", Int4, int64(1), Int4, int64(2), "3", "integer"},
		{"+", Int2, int64(1), Int2, int64(2), "3", "smallint"},
		{"+", Int2, int64(32767), Int2, int64(1), "22003: smallint out of range", ""},
		{"*", Int2, int64(200), Int2, int64(200), "22003: smallint out of range", ""},
		{"+", Int2, int64(32767), Int4, int64(1), "32768", "integer"},
		{"+", Int4, int64(math.MaxInt32), Int4, int64(1), "22003: integer out of range", ""},
		{"-", Int4, int64(math.MinInt32), Int4, int64(1), "22003: integer out of range", ""},
		{"-", Int8, int64(math.MinInt64), Int8, int64(1), "22003: bigint out of range", ""},
		{"+", Int8, int64(math.MaxInt64), Int8, int64(1), "22003: bigint out of range", ""},
		{"*", Int8, int64(math.MaxInt64), Int8, int64(2), "22003: bigint out of range", ""},
		{"*", Int8, int64(-1), Int8, int64(math.MinInt64), "22003: bigint out of range", ""},
		{"*", Int8, int64(-3037000500), Int8, int64(3037000500), "22003: bigint out of range", ""},
		{"*", Int8, int64(-3037000499), Int8, int64(3037000499), "-9223372030926249001", "bigint"},
		{"/", Int4, int64(7), Int4, int64(2), "3", "integer"},
		{"/", Int4, int64(-7), Int4, int64(2), "-3", "integer"},
		{"%", Int4, int64(-7), Int4, int64(2), "-1", "integer"},
		{"%", Int8, int64(math.MinInt64), Int8, int64(-1), "0", "bigint"},
		{"/", Int8, int64(math.MinInt64), Int8, int64(-1), "22003: bigint out of range", ""},
		{"/", Int4, int64(math.MinInt32), Int4, int64(-1), "22003: integer out of range", ""},
		{"/", Int4, int64(1), Int4, int64(0), "22012: division by zero", ""},
		{"%", Int2, int64(1), Int2, int64(0), "22012: division by zero", ""},
		{"+", Int4, int64(1), Int8, int64(2), "3", "bigint"},
		{"+", Int4, int64(1), Numeric, dec("1.5"), "2.5", "numeric"},
		{"-", Numeric, dec("1.50"), Numeric, dec("0.5"), "1.00", "numeric"},
		{"*", Numeric, dec("1.5"), Numeric, dec("2.25"), "3.375", "numeric"},
		{"/", Numeric, dec("1"), Numeric, dec("3"), "0.33333333333333333333", "numeric"},
		{"/", Numeric, dec("10"), Int4, int64(4), "2.5000000000000000", "numeric"},
		{"/", Int4, int64(2), Numeric, dec("3"), "0.66666666666666666667", "numeric"},
		{"/", Numeric, dec("3"), Numeric, dec("3"), "1.00000000000000000000", "numeric"},
		{"/", Numeric, dec("1.000000000000000000000000"), Numeric, dec("3"), "0.333333333333333333333333", "numeric"},
		{"/", Numeric, dec("123456789"), Numeric, dec("7"), "17636684.142857142857", "numeric"},
		{"/", Numeric, dec("-2"), Numeric, dec("3"), "-0.66666666666666666667", "numeric"},
		{"/", Numeric, dec("0.5"), Numeric, dec("2"), "0.25000000000000000000", "numeric"},
		{"/", Numeric, dec("1"), Numeric, dec("0"), "22012: division by zero", ""},
		{"%", Numeric, dec("7.5"), Numeric, dec("2"), "1.5", "numeric"},
		{"%", Numeric, dec("-7.5"), Numeric, dec("2"), "-1.5", "numeric"},
		{"%", Numeric, dec("1"), Numeric, dec("0.0"), "22012: division by zero", ""},
		{"+", Numeric, numericNaN(), Numeric, dec("1"), "NaN", "numeric"},
		{"-", Numeric, numericInf(false), Numeric, numericInf(false), "NaN", "numeric"},
		{"+", Numeric, numericInf(true), Int4, int64(1), "-Infinity", "numeric"},
		{"*", Numeric, numericInf(false), Numeric, dec("0"), "NaN", "numeric"},
		{"/", Numeric, dec("1"), Numeric, numericInf(false), "0", "numeric"},
		{"*", Numeric, dec("-0.5"), Int4, int64(0), "0.0", "numeric"},
		{"+", Float8, 0.5, Int4, int64(1), "1.5", "double precision"},
		{"+", Float4, 0.5, Float4, 0.25, "0.75", "real"},
		{"+", Float4, 0.5, Float8, 0.25, "0.75", "double precision"},
		{"*", Float8, 0.5, Numeric, dec("3"), "1.5", "double precision"},
		{"/", Float8, 1.0, Int4, int64(0), "22012: division by zero", ""},
		{"/", Float8, math.NaN(), Float8, 0.0, "NaN", "double precision"},
		{"*", Float8, 1e308, Float8, 10.0, "22003: value out of range: overflow", ""},
		{"*", Float8, 1e-308, Float8, 1e-308, "22003: value out of range: underflow", ""},
		{"*", Float4, 1e38, Float4, 10.0, "22003: value out of range: overflow", ""},
		{"+", Float8, math.Inf(1), Float8, 1.0, "Infinity", "double precision"},
		{"%", Float8, 5.5, Int4, int64(2), "42883: operator does not exist: double precision % integer", ""},
		{"<", Int4, int64(1), Numeric, dec("1.5"), "t", "boolean"},
		{"=", Int8, int64(2), Float8, 2.0, "t", "boolean"},
		{"=", Numeric, dec("2.00"), Int4, int64(2), "t", "boolean"},
		{">", Float8, math.NaN(), Float8, math.Inf(1), "t", "boolean"},
		{"=", Float8, math.NaN(), Float8, math.NaN(), "t", "boolean"},
		{"=", Float8, math.Copysign(0, -1), Float8, 0.0, "t", "boolean"},
		{"<>", String, "a", String, "b", "t", "boolean"},
		{"<", String, "B", String, "a", "t", "boolean"},
		{"=", char3, "ab", String, "ab", "t", "boolean"},
		{"=", char3, "ab ", char3, "ab", "t", "boolean"},
		{"<=", Bytes, []byte{1}, Bytes, []byte{1, 0}, "t", "boolean"},
		{">=", Bool, true, Bool, false, "t", "boolean"},
		{"<", UUIDType, UUID{1}, UUIDType, UUID{2}, "t", "boolean"},
		{"<", Date, d(2024, 2, 29), Timestamp, ts, "t", "boolean"},
		{"=", Date, d(2024, 2, 29), TimestampTZ, d(2024, 2, 29), "t", "boolean"},
		{"=", Int4, int64(1), String, "1", "42883: operator does not exist: integer = text", ""},
		{"<", Bool, true, Int4, int64(1), "42883: operator does not exist: boolean < integer", ""},
		{"=", Int4, nil, String, nil, "42883: operator does not exist: integer = text", ""},
		{"||", String, "a", Int4, int64(1), "a1", "text"},
		{"||", Bool, true, String, "x", "truex", "text"}, // anytextcat casts to text: true, not t
		{"||", char3, "a", String, "b", "ab", "text"},
		{"||", String, "a", Bytes, []byte{1}, `a\x01`, "text"},
		{"||", Bytes, []byte{1}, Bytes, []byte{2}, `\x0102`, "bytea"},
		{"||", Int4, int64(1), Int4, int64(2), "42883: operator does not exist: integer || integer", ""},
		{"||", Unknown, nil, String, "x", "NULL", "text"},
		{"+", Date, d(2024, 2, 28), Int4, int64(2), "2024-03-01", "date"},
		{"+", Int4, int64(2), Date, d(2024, 2, 28), "2024-03-01", "date"},
		{"-", Date, d(2024, 3, 1), Int4, int64(1), "2024-02-29", "date"},
		{"-", Date, d(2024, 3, 1), Date, d(2024, 2, 28), "2", "integer"},
		{"-", Date, d(1500, 3, 1), Date, d(2500, 2, 28), "-365242", "integer"},
		{"+", Date, d(2024, 3, 1), Int8, int64(1) << 40, "22008: date out of range", ""},
		{"-", Int4, int64(1), Date, d(2024, 3, 1), "42883: operator does not exist: integer - date", ""},
		{"+", Date, d(2024, 3, 1), Date, d(2024, 3, 1), "42883: operator does not exist: date + date", ""},
		{"-", Timestamp, ts, Timestamp, ts, "00:00:00", "interval"},
		{"+", Timestamp, ts, Int4, int64(1), "42883: operator does not exist: timestamp without time zone + integer", ""},
		{"+", Bool, true, Bool, true, "42883: operator does not exist: boolean + boolean", ""},
		{"+", String, "1", Int4, int64(1), "42883: operator does not exist: text + integer", ""},
		{"^", Int4, int64(1), Int4, int64(1), "42883: operator does not exist: integer ^ integer", ""},
		{"+", Int4, nil, Int8, int64(1), "NULL", "bigint"},
		{"/", Int4, int64(1), Numeric, nil, "NULL", "numeric"},
		{"+", Unknown, nil, Int2, int64(1), "NULL", "smallint"},
		{"=", Unknown, nil, String, "x", "NULL", "boolean"},
		{"=", Unknown, nil, Unknown, nil, "NULL", "boolean"},
		{"-", Date, nil, Date, nil, "NULL", "integer"},
		{"+", Date, nil, Int4, nil, "NULL", "date"},
	} {
		typ, v, err := BinaryOp(c.op, c.lt, c.l, c.rt, c.r)
		what := text(c.lt, c.l) + " " + c.op + " " + text(c.rt, c.r)
		if code, msg := splitCode(c.want); code != c.want && len(code) == 5 && c.wantT == "" {
			expectErr(t, what, err, code, msg)
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", what, err)
			continue
		}
		if got := text(typ, v); got != c.want || typ.String() != c.wantT {
			t.Errorf("%s = %s (%s), want %s (%s)", what, got, typ, c.want, c.wantT)
		}
	}
}

func TestUnaryMinus(t *testing.T) {
	for _, c := range []struct {
		typ  T
		d    Datum
		want string
	}{
		{Int4, int64(5), "-5"}, {Int8, int64(math.MinInt64 + 1), "9223372036854775807"},
		{Int8, int64(math.MinInt64), "22003: bigint out of range"}, {Int4, int64(math.MinInt32), "22003: integer out of range"},
		{Int2, int64(math.MinInt16), "22003: smallint out of range"},
		{Float8, 1.5, "-1.5"}, {Float8, math.Inf(1), "-Infinity"}, {Float8, 0.0, "-0"},
		{Numeric, dec("1.50"), "-1.50"}, {Numeric, dec("0.00"), "0.00"}, {Numeric, numericNaN(), "NaN"}, {Numeric, numericInf(true), "Infinity"},
		{Int4, nil, "NULL"},
		{String, "x", "42883: operator does not exist: - text"}, {Bool, nil, "42883: operator does not exist: - boolean"},
	} {
		v, err := UnaryMinus(c.typ, c.d)
		if code, msg := splitCode(c.want); code != c.want && len(code) == 5 {
			expectErr(t, "-"+c.want, err, code, msg)
			continue
		}
		if err != nil || text(c.typ, v) != c.want {
			t.Errorf("-(%v) = %v, %v; want %s", c.d, v, err, c.want)
		}
	}
}

func TestCompare(t *testing.T) {
	char3 := T{Family: StringFamily, StringKind: Char, Width: 3}
	for _, c := range []struct {
		typ  T
		a, b Datum
		want int
	}{
		{Int4, nil, int64(1), 1}, {Int4, int64(1), nil, -1}, {Int4, nil, nil, 0}, {Int8, int64(-1), int64(1), -1},
		{Float8, math.NaN(), math.Inf(1), 1}, {Float8, math.Inf(1), math.NaN(), -1}, {Float8, math.NaN(), math.NaN(), 0},
		{Float8, math.Copysign(0, -1), 0.0, 0}, {Float8, nil, math.NaN(), 1}, {Float8, math.Inf(-1), -1e308, -1},
		{Numeric, numericNaN(), dec("1e100"), 1}, {Numeric, dec("1.0"), dec("1"), 0}, {Numeric, numericInf(false), dec("1e100"), 1},
		{Numeric, numericNaN(), numericInf(false), 1}, {Numeric, dec("-0.5"), dec("0.25"), -1}, {Numeric, int64(2), dec("1.5"), 1},
		{String, "a", "b", -1}, {String, "B", "a", -1}, {String, "é", "z", 1}, {String, "ab", "ab ", -1}, {char3, "ab", "ab ", 0},
		{Bytes, []byte{1}, []byte{1, 0}, -1}, {Bytes, []byte{}, []byte{}, 0},
		{Bool, false, true, -1}, {Bool, true, true, 0},
		{Date, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC), 1},
		{TimestampTZ, time.Date(2024, 1, 1, 1, 0, 0, 0, time.FixedZone("", 3600)), time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), 0},
		{UUIDType, UUID{0: 1}, UUID{15: 1}, 1},
	} {
		if got := Compare(c.typ, c.a, c.b); got != c.want {
			t.Errorf("Compare(%s, %v, %v) = %d, want %d", c.typ, c.a, c.b, got, c.want)
		}
	}
	if Compare(Numeric, &apd.Decimal{Form: apd.NaN}, &apd.Decimal{Form: apd.NaNSignaling}) != 0 {
		t.Error("NaNs are equal")
	}
	_, _, err := BinaryOp("=", Int4, int64(1), Bool, true)
	expectErr(t, "int = bool", err, pgerror.CodeUndefinedFunction, "operator does not exist: integer = boolean")
}
