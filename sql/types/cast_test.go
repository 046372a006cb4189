package types

import (
	"math"
	"testing"
	"time"

	"github.com/meridiandb/meridian/sql/pgerror"
)

func TestCast(t *testing.T) {
	day := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
	stamp := time.Date(2024, 2, 29, 13, 14, 15, 0, time.UTC)
	for _, c := range []struct {
		d        Datum
		from, to string
		want     string // value text, or "CODE: message" when it starts with a digit and has ": "
	}{
		{2.5, "float8", "int4", "2"}, {3.5, "float8", "int4", "4"}, {-2.5, "float8", "int8", "-2"}, {2.4999, "float4", "int2", "2"},
		{2147483647.4, "float8", "int4", "2147483647"}, {2147483647.5, "float8", "int4", "22003: integer out of range"},
		{math.NaN(), "float8", "int8", "22003: bigint out of range"}, {1e19, "float8", "int8", "22003: bigint out of range"},
		{40000.0, "float8", "int2", "22003: smallint out of range"},
		{dec("2.5"), "numeric", "int4", "3"}, {dec("-2.5"), "numeric", "int8", "-3"}, {dec("2.49"), "numeric", "int2", "2"},
		{dec("1e10"), "numeric", "int4", "22003: integer out of range"}, {dec("1e30"), "numeric", "int8", "22003: bigint out of range"},
		{numericNaN(), "numeric", "int4", "0A000: cannot convert NaN to integer"},
		{numericInf(false), "numeric", "int8", "0A000: cannot convert infinity to bigint"},
		{int64(70000), "int4", "int2", "22003: smallint out of range"}, {int64(7), "int8", "int2", "7"},
		{int64(3), "int4", "float8", "3"}, {int64(1<<53 + 1), "int8", "float8", "9.007199254740992e+15"},
		{int64(16777217), "int4", "float4", "1.6777216e+07"},
		{int64(42), "int4", "numeric", "42"}, {int64(42), "int4", "numeric(5,2)", "42.00"}, {int64(1000), "int4", "numeric(3,0)", "22003: numeric field overflow"},
		{0.1, "float8", "numeric", "0.1"}, {1.0 / 3, "float8", "numeric", "0.333333333333333"}, {1e20, "float8", "numeric", "100000000000000000000"},
		{2.5, "float8", "numeric", "2.5"}, {float64(float32(1.1)), "float4", "numeric", "1.1"}, {math.NaN(), "float8", "numeric", "NaN"},
		{math.Inf(-1), "float8", "numeric", "-Infinity"}, {math.Inf(1), "float8", "numeric(5,2)", "22003: numeric field overflow"},
		{dec("1.25"), "numeric", "float8", "1.25"}, {numericNaN(), "numeric", "float8", "NaN"}, {dec("1e400"), "numeric", "float8", "22003: value out of range: overflow"},
		{1e300, "float8", "float4", "22003: value out of range: overflow"}, {1e-300, "float8", "float4", "22003: value out of range: underflow"},
		{0.1, "float8", "float4", "0.1"},
		{dec("123.456"), "numeric", "numeric(5,2)", "123.46"}, {dec("1234.5"), "numeric", "numeric(5,2)", "22003: numeric field overflow"},
		{true, "bool", "int4", "1"}, {int64(5), "int4", "bool", "t"}, {int64(0), "int4", "bool", "f"},
		{true, "bool", "int8", "42846: cannot cast type boolean to bigint"}, {int64(1), "int2", "bool", "42846: cannot cast type smallint to boolean"},
		{true, "bool", "text", "true"}, {false, "bool", "varchar(3)", "fal"},
		{int64(42), "int4", "text", "42"}, {int64(12345), "int4", "varchar(3)", "123"}, {1.5, "float8", "text", "1.5"},
		{dec("1.50"), "numeric", "text", "1.50"}, {[]byte{1, 2}, "bytea", "text", `\x0102`}, {day, "date", "text", "2024-02-29"},
		{stamp, "timestamptz", "text", "2024-02-29 13:14:15+00"}, {UUID{}, "uuid", "text", "00000000-0000-0000-0000-000000000000"},
		{"abcdef", "text", "varchar(3)", "abc"}, {"abcdef", "text", "char(2)", "ab"}, {"a", "char(3)", "text", "a"},
		{"ab  ", "text", "char(3)", "ab "},
		{"42", "text", "int4", "42"}, {"x", "text", "int4", `22P02: invalid input syntax for type integer: "x"`},
		{"1.005", "varchar", "numeric(4,2)", "1.01"}, {"yes", "text", "bool", "t"}, {`\x01`, "text", "bytea", `\x01`},
		{"2024-02-29", "text", "date", "2024-02-29"}, {"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "text", "uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{"abcd", "unknown", "varchar(3)", "abc"}, {"12.345", "unknown", "numeric(4,2)", "12.35"}, {"7", "unknown", "int2", "7"},
		{day, "date", "timestamp", "2024-02-29 00:00:00"}, {day, "date", "timestamptz", "2024-02-29 00:00:00+00"},
		{stamp, "timestamp", "date", "2024-02-29"}, {stamp, "timestamptz", "date", "2024-02-29"},
		{stamp, "timestamp", "timestamptz", "2024-02-29 13:14:15+00"}, {stamp, "timestamptz", "timestamp", "2024-02-29 13:14:15"},
		{[]byte{1}, "bytea", "int4", "42846: cannot cast type bytea to integer"},
		{[]byte{1}, "bytea", "uuid", "42846: cannot cast type bytea to uuid"},
		{day, "date", "int4", "42846: cannot cast type date to integer"},
		{true, "bool", "numeric", "42846: cannot cast type boolean to numeric"},
		{UUID{}, "uuid", "bytea", "42846: cannot cast type uuid to bytea"},
		{nil, "int4", "text", "NULL"}, {nil, "unknown", "date", "NULL"},
		{nil, "bytea", "int4", "42846: cannot cast type bytea to integer"},
	} {
		from, to := mustType(t, c.from), mustType(t, c.to)
		v, err := Cast(c.d, from, to)
		checkConversion(t, "Cast", c.d, c.from, c.to, v, err, c.want)
	}
}

func TestAssignCast(t *testing.T) {
	stamp := time.Date(2024, 2, 29, 13, 14, 15, 0, time.UTC)
	for _, c := range []struct {
		d        Datum
		from, to string
		want     string
	}{
		{"abcdef", "text", "varchar(3)", "22001: value too long for type character varying(3)"},
		{"abcd", "varchar(4)", "char(3)", "22001: value too long for type character(3)"},
		{"abc   ", "text", "varchar(3)", "abc"}, {"ab    ", "text", "varchar(3)", "ab "}, {"abc  ", "text", "char(3)", "abc"},
		{"ab", "text", "char(3)", "ab "}, {"x", "varchar(5)", "text", "x"},
		{int64(12345), "int4", "varchar(3)", "22001: value too long for type character varying(3)"}, {int64(123), "int4", "varchar(3)", "123"},
		{"42", "text", "int4", "42804: column is of type integer but expression is of type text"},
		{"42", "unknown", "int4", "42"}, {"abcd", "unknown", "varchar(3)", "22001: value too long for type character varying(3)"},
		{true, "bool", "int4", "42804: column is of type integer but expression is of type boolean"},
		{int64(1), "int4", "bool", "42804: column is of type boolean but expression is of type integer"},
		{"2024-01-01", "text", "date", "42804: column is of type date but expression is of type text"},
		{nil, "text", "int4", "42804: column is of type integer but expression is of type text"},
		{nil, "unknown", "int4", "NULL"}, {nil, "int8", "int4", "NULL"},
		{dec("123.456"), "numeric", "numeric(5,2)", "123.46"}, {dec("1234.5"), "numeric", "numeric(5,2)", "22003: numeric field overflow"},
		{int64(70000), "int4", "int2", "22003: smallint out of range"}, {int64(7), "int8", "int2", "7"},
		{2.5, "float8", "int4", "2"}, {dec("2.5"), "numeric", "int4", "3"}, {int64(5), "int4", "numeric(3,1)", "5.0"},
		{int64(5), "int4", "float4", "5"}, {1.25, "float8", "numeric(2,1)", "1.3"},
		{stamp, "timestamptz", "date", "2024-02-29"}, {stamp, "timestamp", "timestamptz", "2024-02-29 13:14:15+00"},
		{stamp, "timestamp", "text", "2024-02-29 13:14:15"},
		{[]byte{1}, "bytea", "text", `\x01`},
		{UUID{}, "uuid", "bytea", "42804: column is of type bytea but expression is of type uuid"},
	} {
		from, to := mustType(t, c.from), mustType(t, c.to)
		v, err := AssignCast(c.d, from, to)
		checkConversion(t, "AssignCast", c.d, c.from, c.to, v, err, c.want)
	}
}

func checkConversion(t *testing.T, fn string, d Datum, from, to string, v Datum, err error, want string) {
	t.Helper()
	what := fn + "(" + text(mustType(t, from), d) + ", " + from + ", " + to + ")"
	if code, msg := splitCode(want); len(code) == 5 && msg != "" && code[0] >= '0' && code[0] <= '9' && code != want {
		expectErr(t, what, err, code, msg)
		if err == nil {
			t.Errorf("%s = %v, want error", what, v)
		}
		return
	}
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if got := text(mustType(t, to), v); got != want {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
	if v != nil {
		// The result must be the Go representation the target family documents.
		if back, err := ParseText(mustType(t, to), text(mustType(t, to), v)); err != nil || Compare(mustType(t, to), back, v) != 0 {
			t.Errorf("%s: result %#v does not round-trip (%v)", what, v, err)
		}
	}
}

func TestCastErrorsAreTyped(t *testing.T) {
	_, err := AssignCast("x", String, Int4)
	expectErr(t, "hint", err, pgerror.CodeDatatypeMismatch, "")
	if pe := err.(*pgerror.Error); pe.Hint != "You will need to rewrite or cast the expression." {
		t.Errorf("hint %q", pe.Hint)
	}
}
