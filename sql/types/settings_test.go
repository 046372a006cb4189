package types

import (
	"math"
	"testing"
	"time"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Skipf("no time zone data for %s: %v", name, err)
	}
	return loc
}

// TestTimestampTZInZone reads and prints timestamptz values in a session zone, across both
// of New York's clock changes, as PostgreSQL does.
func TestTimestampTZInZone(t *testing.T) {
	st := &Settings{Location: mustZone(t, "America/New_York"), ExtraFloatDigits: 1}
	for _, c := range []struct{ in, want string }{
		{"2024-07-01 12:00:00+00", "2024-07-01 08:00:00-04"},
		{"2024-01-15 08:00", "2024-01-15 08:00:00-05"},
		{"2024-03-10 01:59:59", "2024-03-10 01:59:59-05"},
		// Skipped by the spring change: read with the offset before it.
		{"2024-03-10 02:30", "2024-03-10 03:30:00-04"},
		{"2024-03-10 03:00", "2024-03-10 03:00:00-04"},
		// Repeated by the fall change: read as the second, standard-time pass.
		{"2024-11-03 01:30", "2024-11-03 01:30:00-05"},
		{"2024-11-03 00:59", "2024-11-03 00:59:00-04"},
		{"2024-11-03 02:00", "2024-11-03 02:00:00-05"},
		{"1850-01-01 00:00Z", "1849-12-31 19:03:58-04:56:02"},
		{"0044-03-15 12:00Z BC", "0044-03-15 07:03:58-04:56:02 BC"},
	} {
		d, err := ParseTextWith(TimestampTZ, c.in, st)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if got := string(AppendTextWith(nil, TimestampTZ, d, st)); got != c.want {
			t.Errorf("%s: got %s, want %s", c.in, got, c.want)
		}
	}
	// Timestamp and date values are readings, not instants: the zone does not move them.
	ts, _ := ParseTextWith(Timestamp, "2024-07-01 12:00", st)
	if got := string(AppendTextWith(nil, Timestamp, ts, st)); got != "2024-07-01 12:00:00" {
		t.Errorf("timestamp: %s", got)
	}
}

func TestCastsInZone(t *testing.T) {
	st := &Settings{Location: mustZone(t, "Asia/Kolkata")}
	instant := time.Date(2024, 7, 1, 20, 0, 0, 0, time.UTC) // 01:30 the next day in Kolkata
	for _, c := range []struct {
		to   T
		want string
	}{
		{Timestamp, "2024-07-02 01:30:00"}, {Date, "2024-07-02"}, {Time, "01:30:00"},
		{String, "2024-07-02 01:30:00+05:30"},
	} {
		v, err := CastWith(instant, TimestampTZ, c.to, st)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(AppendText(nil, c.to, v)); got != c.want {
			t.Errorf("timestamptz -> %s: %s, want %s", c.to.String(), got, c.want)
		}
	}
	back, err := CastWith(time.Date(2024, 7, 2, 1, 30, 0, 0, time.UTC), Timestamp, TimestampTZ, st)
	if err != nil || !back.(time.Time).Equal(instant) {
		t.Errorf("timestamp -> timestamptz: %v %v", back, err)
	}
	if !CastUsesSettings(TimestampTZ, String) || !CastUsesSettings(String, TimestampTZ) || !CastUsesSettings(Float8, String) ||
		CastUsesSettings(Int8, String) || CastUsesSettings(TimestampTZ, TimestampTZ) || !CastUsesSettings(ArrayOf(TimestampTZ), ArrayOf(String)) {
		t.Error("CastUsesSettings")
	}
}

func TestExtractAndTruncInZone(t *testing.T) {
	st := &Settings{Location: mustZone(t, "America/New_York")}
	at := func(s string) time.Time {
		v, err := ParseText(TimestampTZ, s)
		if err != nil {
			t.Fatal(err)
		}
		return v.(time.Time)
	}
	for _, c := range []struct{ field, in, want string }{
		{"hour", "2024-07-01 02:00Z", "22"}, {"day", "2024-07-01 02:00Z", "30"},
		{"timezone", "2024-07-01 02:00Z", "-14400"}, {"timezone_hour", "2024-01-01 00:00Z", "-5"},
		{"timezone_minute", "2024-01-01 00:00Z", "0"}, {"epoch", "2024-07-01 02:00Z", "1719799200.000000"},
	} {
		v, err := ExtractWith(c.field, TimestampTZ, at(c.in), st)
		if err != nil {
			t.Fatal(err)
		}
		if got := v.String(); got != c.want {
			t.Errorf("extract(%s from %s): %s, want %s", c.field, c.in, got, c.want)
		}
	}
	for _, c := range []struct{ field, in, want string }{
		{"day", "2024-07-01 02:00Z", "2024-06-30 00:00:00-04"},
		{"day", "2024-11-03 12:00Z", "2024-11-03 00:00:00-04"},
		{"hour", "2024-11-03 05:30Z", "2024-11-03 01:00:00-04"},
		{"hour", "2024-11-03 06:30Z", "2024-11-03 01:00:00-05"},
		{"week", "2024-03-13 12:00Z", "2024-03-11 00:00:00-04"},
	} {
		v, err := DateTruncWith(c.field, TimestampTZ, at(c.in), st)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(AppendTextWith(nil, TimestampTZ, v, st)); got != c.want {
			t.Errorf("date_trunc(%s, %s): %s, want %s", c.field, c.in, got, c.want)
		}
	}
}

func TestFloatAndByteaSettings(t *testing.T) {
	tenth, fifth := 0.1, 0.2 // variables: constant arithmetic would be exact
	for _, c := range []struct {
		extra int
		typ   T
		v     float64
		want  string
	}{
		{1, Float8, tenth + fifth, "0.30000000000000004"}, {0, Float8, tenth + fifth, "0.3"},
		{0, Float8, 1e15, "1e+15"}, {0, Float8, 123456789012345, "123456789012345"},
		{-1, Float8, 1.0 / 3, "0.33333333333333"}, {-15, Float8, 1.0 / 3, "0.3"},
		{0, Float4, float64(float32(0.1)), "0.1"}, {3, Float4, float64(float32(0.1)), "0.1"},
		{0, Float4, 1234567, "1.23457e+06"}, {0, Float8, math.Copysign(0, -1), "-0"},
	} {
		got := string(AppendTextWith(nil, c.typ, c.v, &Settings{ExtraFloatDigits: c.extra}))
		if got != c.want {
			t.Errorf("%v with extra_float_digits %d: %s, want %s", c.v, c.extra, got, c.want)
		}
	}
	esc := &Settings{ByteaEscape: true}
	if got := string(AppendTextWith(nil, Bytes, []byte("a\\b\x00\xff'"), esc)); got != `a\\b\000\377'` {
		t.Errorf("escaped bytea: %s", got)
	}
	// The escape form reads back.
	back, err := ParseText(Bytes, `a\\b\000\377'`)
	if err != nil || string(back.([]byte)) != "a\\b\x00\xff'" {
		t.Errorf("escaped bytea read back: %q %v", back, err)
	}
}
