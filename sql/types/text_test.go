package types

import (
	"math"
	"testing"
	"time"

	"github.com/meridiandb/meridian/sql/pgerror"
)

// TestParseAndFormatText parses input text and checks PostgreSQL's output for the value.
func TestParseAndFormatText(t *testing.T) {
	for _, c := range []struct{ typ, in, want string }{
		{"bool", " TRUE ", "t"}, {"bool", "off", "f"}, {"bool", "Yes", "t"}, {"bool", "n", "f"}, {"bool", "tr", "t"},
		{"bool", "1", "t"}, {"bool", "0", "f"}, {"bool", "of", "f"}, {"bool", "FALSE", "f"},
		{"int4", " 42 ", "42"}, {"int4", "+7", "7"}, {"int4", "-2147483648", "-2147483648"}, {"int2", "32767", "32767"},
		{"int8", "-9223372036854775808", "-9223372036854775808"}, {"int4", "1_000", "1000"}, {"int4", "0x1F", "31"},
		{"int8", "0b101", "5"}, {"int4", "0o17", "15"}, {"int4", "010", "10"},
		{"float8", "1e20", "1e+20"}, {"float8", "0.1", "0.1"}, {"float8", "1234567", "1234567"}, {"float8", "0.00001", "1e-05"},
		{"float8", "0.0001", "0.0001"}, {"float8", "123456789012345", "123456789012345"}, {"float8", "1234567890123456", "1.234567890123456e+15"},
		{"float8", "-infinity", "-Infinity"}, {"float8", "Infinity", "Infinity"}, {"float8", "inf", "Infinity"}, {"float8", "nan", "NaN"},
		{"float8", "-0", "-0"}, {"float8", "1.7976931348623157e308", "1.7976931348623157e+308"}, {"float8", "5e-324", "5e-324"},
		{"float8", " 3.25 ", "3.25"}, {"float8", "1e-100", "1e-100"},
		{"float4", "1.5", "1.5"}, {"float4", "1234567", "1.234567e+06"}, {"float4", "123456", "123456"}, {"float4", "0.1", "0.1"},
		{"float4", "3.4028235e38", "3.4028235e+38"}, {"float4", "NaN", "NaN"},
		{"numeric", "1.50", "1.50"}, {"numeric", " -0.00 ", "0.00"}, {"numeric", "1e3", "1000"}, {"numeric", "1.5e-3", "0.0015"},
		{"numeric", ".5", "0.5"}, {"numeric", "5.", "5"}, {"numeric", "NaN", "NaN"}, {"numeric", "-Infinity", "-Infinity"},
		{"numeric", "1_000.5", "1000.5"}, {"numeric", "12345678901234567890.123456789", "12345678901234567890.123456789"},
		{"numeric(5,2)", "3.14159", "3.14"}, {"numeric(5,2)", "2.675", "2.68"}, {"numeric(5,2)", "-2.675", "-2.68"},
		{"numeric(5,2)", "1", "1.00"}, {"numeric(4,1)", "-0.05", "-0.1"}, {"numeric(4,1)", "-0.04", "0.0"}, {"numeric(5,2)", "NaN", "NaN"},
		{"numeric(3,-2)", "12345", "12300"}, {"numeric(3,5)", "0.001234", "0.00123"}, {"numeric(5,2)", "999.994", "999.99"},
		{"text", "héllo wörld", "héllo wörld"}, {"text", "", ""}, {"varchar(3)", "abc", "abc"}, {"varchar(3)", "ab   ", "ab "},
		{"varchar(3)", "äöü", "äöü"}, {"varchar", "anything at all", "anything at all"},
		{"char(3)", "a", "a  "}, {"char(3)", "abc   ", "abc"}, {"char", "x", "x"}, {"bpchar", "ab  ", "ab"},
		{"bytea", `\x00ff`, `\x00ff`}, {"bytea", `\X0A 0b`, `\x0a0b`}, {"bytea", `a\\b\001`, `\x615c6201`}, {"bytea", "", `\x`},
		{"bytea", `\x`, `\x`}, {"bytea", "abc", `\x616263`},
		{"date", "2024-02-29", "2024-02-29"}, {"date", " 2024-2-9 ", "2024-02-09"}, {"date", "20240229", "2024-02-29"},
		{"date", "2024-02-29 23:59:59-05", "2024-02-29"}, {"date", "2024-02-29T10:00", "2024-02-29"}, {"date", "epoch", "1970-01-01"},
		{"date", "0001-01-01 BC", "0001-01-01 BC"}, {"date", "4714-11-24 BC", "4714-11-24 BC"}, {"date", "5874897-12-31", "5874897-12-31"},
		{"date", "0099-01-01", "0099-01-01"}, {"date", "1999-01-08 AD", "1999-01-08"},
		{"timestamp", "2024-02-29 13:14:15.123456", "2024-02-29 13:14:15.123456"},
		{"timestamp", "2024-02-29T13:14:15.123456+05", "2024-02-29 13:14:15.123456"},
		{"timestamp", "2024-02-29 13:14:15.5", "2024-02-29 13:14:15.5"}, {"timestamp", "2024-02-29 13:14", "2024-02-29 13:14:00"},
		{"timestamp", "2024-02-29", "2024-02-29 00:00:00"}, {"timestamp", "2024-02-29 24:00:00", "2024-03-01 00:00:00"},
		{"timestamp", "2024-02-29 23:59:59.9999995", "2024-03-01 00:00:00"}, {"timestamp", "epoch", "1970-01-01 00:00:00"},
		{"timestamp", "2024-02-29 13:14:15.1234564", "2024-02-29 13:14:15.123456"}, {"timestamp", "0044-03-15 12:00 BC", "0044-03-15 12:00:00 BC"},
		{"timestamptz", "2024-02-29 15:14:15.123456+02", "2024-02-29 13:14:15.123456+00"},
		{"timestamptz", "2024-02-29 13:14:15.1234567Z", "2024-02-29 13:14:15.123457+00"},
		{"timestamptz", "2024-02-29T13:14:15-03:30", "2024-02-29 16:44:15+00"},
		{"timestamptz", "2024-02-29 13:14:15 -0330", "2024-02-29 16:44:15+00"},
		{"timestamptz", "2024-02-29 13:14:15 UTC", "2024-02-29 13:14:15+00"},
		{"timestamptz", "2024-02-29 01:00+05", "2024-02-28 20:00:00+00"},
		{"timestamptz", "2024-02-29", "2024-02-29 00:00:00+00"},
		{"uuid", "{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{"uuid", "a0eebc999c0b4ef8bb6d6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{"uuid", "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
	} {
		typ := mustType(t, c.typ)
		d, err := ParseText(typ, c.in)
		if err != nil {
			t.Errorf("ParseText(%s, %q): %v", c.typ, c.in, err)
			continue
		}
		if got := text(typ, d); got != c.want {
			t.Errorf("%s %q → %q, want %q", c.typ, c.in, got, c.want)
		}
	}
}

func TestParseTextErrors(t *testing.T) {
	for _, c := range []struct{ typ, in, want string }{
		{"int4", "abc", `22P02: invalid input syntax for type integer: "abc"`},
		{"int4", "", `22P02: invalid input syntax for type integer: ""`},
		{"int4", "1.5", `22P02: invalid input syntax for type integer: "1.5"`},
		{"int4", "1__0", `22P02: invalid input syntax for type integer: "1__0"`},
		{"int4", "99999999999", `22003: value "99999999999" is out of range for type integer`},
		{"int2", "40000", `22003: value "40000" is out of range for type smallint`},
		{"int8", "9223372036854775808", `22003: value "9223372036854775808" is out of range for type bigint`},
		{"float8", "abc", `22P02: invalid input syntax for type double precision: "abc"`},
		{"float8", "1e400", `22003: "1e400" is out of range for type double precision`},
		{"float8", "1e-400", `22003: "1e-400" is out of range for type double precision`},
		{"float4", "1e40", `22003: "1e40" is out of range for type real`},
		{"numeric", "1.2.3", `22P02: invalid input syntax for type numeric: "1.2.3"`},
		{"numeric", "", `22P02: invalid input syntax for type numeric: ""`},
		{"numeric", "1e5x", `22P02: invalid input syntax for type numeric: "1e5x"`},
		{"numeric", "e5", `22P02: invalid input syntax for type numeric: "e5"`},
		{"numeric", "sNaN", `22P02: invalid input syntax for type numeric: "sNaN"`},
		{"numeric(3,1)", "123.4", "22003: numeric field overflow"},
		{"numeric(5,2)", "999.995", "22003: numeric field overflow"},
		{"numeric(5,2)", "Infinity", "22003: numeric field overflow"},
		{"numeric", "1e200000", "22003: value overflows numeric format"},
		{"varchar(3)", "abcd", "22001: value too long for type character varying(3)"},
		{"char(2)", "abc", "22001: value too long for type character(2)"},
		{"text", "a\x00b", `22021: invalid byte sequence for encoding "UTF8": 0x00`},
		{"text", "a\xffb", `22021: invalid byte sequence for encoding "UTF8": 0xff`},
		{"bool", "maybe", `22P02: invalid input syntax for type boolean: "maybe"`},
		{"bool", "o", `22P02: invalid input syntax for type boolean: "o"`},
		{"bool", "", `22P02: invalid input syntax for type boolean: ""`},
		{"bytea", `\xzz`, `22023: invalid hexadecimal digit: "z"`},
		{"bytea", `\x123`, "22023: invalid hexadecimal data: odd number of digits"},
		{"bytea", `\9`, "22P02: invalid input syntax for type bytea"},
		{"bytea", `\400`, "22P02: invalid input syntax for type bytea"},
		{"date", "2024-13-01", `22008: date/time field value out of range: "2024-13-01"`},
		{"date", "2023-02-29", `22008: date/time field value out of range: "2023-02-29"`},
		{"date", "0000-01-01", `22008: date/time field value out of range: "0000-01-01"`},
		{"date", "4714-11-23 BC", `22008: date out of range: "4714-11-23 BC"`},
		{"date", "5874898-01-01", `22008: date out of range: "5874898-01-01"`},
		{"date", "abc", `22007: invalid input syntax for type date: "abc"`},
		{"date", "2024/01/01", `22007: invalid input syntax for type date: "2024/01/01"`},
		{"date", "24-01-01", `22007: invalid input syntax for type date: "24-01-01"`},
		{"date", "infinity", "0A000: "},
		{"date", "today", "0A000: "},
		{"timestamp", "2024-01-01 25:00", `22008: date/time field value out of range: "2024-01-01 25:00"`},
		{"timestamp", "2024-01-01 10:60", `22008: date/time field value out of range: "2024-01-01 10:60"`},
		{"timestamp", "2024-01-01 24:00:01", `22008: date/time field value out of range: "2024-01-01 24:00:01"`},
		{"timestamp", "2024-01-01 10:00:00 junk", `22007: invalid input syntax for type timestamp without time zone: "2024-01-01 10:00:00 junk"`},
		{"timestamp", "2024-01-01 10:00:00.", `22007: invalid input syntax for type timestamp without time zone: "2024-01-01 10:00:00."`},
		{"timestamp", "294277-01-01", `22008: timestamp out of range: "294277-01-01"`},
		{"timestamp", "-infinity", "0A000: "},
		{"timestamptz", "2024-01-01 10:00+16", `22009: time zone displacement out of range: "2024-01-01 10:00+16"`},
		{"timestamptz", "2024-01-01 10:00+1:3", `22007: invalid input syntax for type timestamp with time zone: "2024-01-01 10:00+1:3"`},
		{"uuid", "xyz", `22P02: invalid input syntax for type uuid: "xyz"`},
		{"uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1", `22P02: invalid input syntax for type uuid: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1"`},
		{"uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111", "22P02: "},
		{"uuid", "-a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "22P02: "},
		{"uuid", "a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11", "22P02: "},
		{"uuid", "a0eeb-c999c0b4ef8bb6d6bb9bd380a11", "22P02: "},
		{"uuid", "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "22P02: "},
	} {
		code, msg := splitCode(c.want)
		_, err := ParseText(mustType(t, c.typ), c.in)
		expectErr(t, c.typ+" "+c.in, err, code, msg)
	}
}

func TestParseTextValues(t *testing.T) {
	d, err := ParseText(TimestampTZ, "2024-02-29 15:14:15.5+02")
	if err != nil || !d.(time.Time).Equal(time.Date(2024, 2, 29, 13, 14, 15, 5e8, time.UTC)) || d.(time.Time).Location() != time.UTC {
		t.Errorf("timestamptz value %v, %v", d, err)
	}
	d, _ = ParseText(Date, "2024-02-29")
	if d.(time.Time) != time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC) {
		t.Errorf("date value %v", d)
	}
	d, _ = ParseText(Float4, "0.1")
	if d.(float64) != float64(float32(0.1)) {
		t.Errorf("float4 value %v is not single precision", d)
	}
	d, _ = ParseText(mustType(t, "char(3)"), "ab ")
	if d.(string) != "ab" {
		t.Errorf("char(3) is stored unpadded, got %q", d)
	}
	d, _ = ParseText(Unknown, "x")
	if d.(string) != "x" {
		t.Errorf("unknown %v", d)
	}
	if f, _ := ParseText(Float8, "-0"); !math.Signbit(f.(float64)) {
		t.Error("-0 lost its sign")
	}
	_, err = ParseText(Timestamp, "2024-01-01 10:00+16")
	if err != nil {
		// timestamp ignores the zone but PostgreSQL still validates it.
		expectErr(t, "timestamp zone", err, pgerror.CodeInvalidTZDisplacement, "")
	}
}

func TestAppendTextDirect(t *testing.T) {
	for _, c := range []struct {
		typ  T
		d    Datum
		want string
	}{
		{Bool, true, "t"}, {Int2, int64(-5), "-5"}, {Float8, 1e20, "1e+20"}, {Float8, math.Inf(-1), "-Infinity"},
		{Float8, 1.0 / 3, "0.3333333333333333"}, {Float8, 100.0, "100"}, {Float8, 1e15, "1e+15"}, {Float8, 123e-7, "1.23e-05"},
		{Float4, float64(float32(1.0 / 3)), "0.33333334"}, {Float4, 1e6, "1e+06"},
		{Numeric, dec("1.50"), "1.50"}, {Numeric, dec("-0"), "0"}, {Numeric, dec("1E+3"), "1000"}, {Numeric, dec("-1.23E-5"), "-0.0000123"},
		{Bytes, []byte{}, `\x`}, {Bytes, []byte{0xde, 0xad}, `\xdead`},
		{T{Family: StringFamily, StringKind: Char, Width: 4}, "ä", "ä   "},
		{Date, time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), "2024-01-02"},
		{Date, time.Date(0, 1, 2, 0, 0, 0, 0, time.UTC), "0001-01-02 BC"},
		{Date, time.Date(12345, 1, 2, 0, 0, 0, 0, time.UTC), "12345-01-02"},
		{Timestamp, time.Date(2024, 1, 2, 3, 4, 5, 60000, time.UTC), "2024-01-02 03:04:05.00006"},
		{TimestampTZ, time.Date(2024, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)), "2024-01-02 02:04:05+00"},
		{TimestampTZ, time.Date(-1, 1, 2, 3, 4, 5, 0, time.UTC), "0002-01-02 03:04:05+00 BC"},
		{UUIDType, UUID{0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11}, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
	} {
		if got := string(AppendText([]byte("<"), c.typ, c.d)); got != "<"+c.want {
			t.Errorf("AppendText(%s, %v) = %q, want %q", c.typ, c.d, got, "<"+c.want)
		}
	}
}
