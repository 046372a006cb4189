package types

import (
	"encoding/hex"
	"testing"
	"time"
)

// TestTimeAndIntervalText checks input forms and PostgreSQL's output (IntervalStyle
// postgres) for time and interval.
func TestTimeAndIntervalText(t *testing.T) {
	for _, c := range []struct{ typ, in, want string }{
		{"interval", "1 day", "1 day"},
		{"interval", "2 hours 30 minutes", "02:30:00"},
		{"interval", "01:02:03", "01:02:03"},
		{"interval", "P1DT2H", "1 day 02:00:00"},
		{"interval", "p1y2m3dt4h5m6.5s", "1 year 2 mons 3 days 04:05:06.5"},
		{"interval", "P1W", "7 days"},
		{"interval", "PT1.5S", "00:00:01.5"},
		{"interval", "1 year 2 mons 3 days 04:05:06.5", "1 year 2 mons 3 days 04:05:06.5"},
		{"interval", "1.5 years", "1 year 6 mons"},
		{"interval", "1.5 months", "1 mon 15 days"},
		{"interval", "1.5 days", "1 day 12:00:00"},
		{"interval", "-1 days +02:03:00", "-1 days +02:03:00"},
		{"interval", "@ 1 day 2 hours ago", "-1 days -02:00:00"},
		{"interval", "10min", "00:10:00"},
		{"interval", "1 week", "7 days"},
		{"interval", "3 04:05:06", "3 days 04:05:06"},
		{"interval", "-1 year -2 mons", "-1 years -2 mons"},
		{"interval", "1 mon -1 day", "1 mon -1 days"},
		{"interval", "-00:00:01", "-00:00:01"},
		{"interval", "100 hours", "100:00:00"},
		{"interval", "5", "00:00:05"},
		{"interval", "1:02.5", "00:01:02.5"},
		{"interval", "1 century", "100 years"},
		{"interval", "0", "00:00:00"},
		{"interval", "2 Days 3 Hours", "2 days 03:00:00"},
		{"interval", "1 ms", "00:00:00.001"},
		{"interval", "-1.5 hours", "-01:30:00"},
		{"interval", "178956970 years 7 mons", "178956970 years 7 mons"},
		{"time", "10:00", "10:00:00"},
		{"time", "23:59:59.999999", "23:59:59.999999"},
		{"time", "24:00:00", "24:00:00"},
		{"time", "10:00 PM", "22:00:00"},
		{"time", "12:00 am", "00:00:00"},
		{"time", "2024-01-01 10:11:12", "10:11:12"},
		{"time", "10:00:00+02", "10:00:00"},
		{"time", "allballs", "00:00:00"},
		{"time", "04:05:06.7890125", "04:05:06.789013"},
	} {
		typ := mustType(t, c.typ)
		d, err := ParseText(typ, c.in)
		if err != nil {
			t.Errorf("%s %q: %v", c.typ, c.in, err)
			continue
		}
		if got := text(typ, d); got != c.want {
			t.Errorf("%s %q: got %q, want %q", c.typ, c.in, got, c.want)
		}
	}
	for _, c := range []struct{ typ, in, want string }{
		{"interval", "abc", `22007: invalid input syntax for type interval: "abc"`},
		{"interval", "1 fortnight", `22007: invalid input syntax for type interval: "1 fortnight"`},
		{"interval", "", `22007: `},
		{"interval", "1:60", `22008: interval field value out of range: "1:60"`},
		{"interval", "P1H", `22007: `},
		{"interval", "178956971 years", `22008: `},
		{"interval", "1 day day", `22007: `},
		{"interval", "1 hour 1 hour", `22007: invalid input syntax for type interval: "1 hour 1 hour"`},
		{"interval", "1 hour 01:00", `22007: `},
		{"interval", "1 hr 2 hours", `22007: `},
		{"interval", "P1D2D", `22007: `},
		{"time", "25:00", `22008: date/time field value out of range: "25:00"`},
		{"time", "24:00:01", `22008: `},
		{"time", "x", `22007: invalid input syntax for type time: "x"`},
		{"time", "10", `22007: `},
		{"time", "13:00 PM", `22008: `},
	} {
		_, err := ParseText(mustType(t, c.typ), c.in)
		code, msg := splitCode(c.want)
		expectErr(t, c.typ+" "+c.in, err, code, msg)
	}
}

func ts(s string) time.Time {
	v, err := ParseText(Timestamp, s)
	if err != nil {
		panic(err)
	}
	return v.(time.Time)
}

func iv(s string) Interval {
	v, err := ParseInterval(s)
	if err != nil {
		panic(err)
	}
	return v
}

func TestIntervalArithmetic(t *testing.T) {
	day := func(s string) time.Time {
		v, err := ParseText(Date, s)
		if err != nil {
			panic(err)
		}
		return v.(time.Time)
	}
	tod := func(s string) TimeOfDay {
		v, err := ParseTimeOfDay(s)
		if err != nil {
			panic(err)
		}
		return v
	}
	tz := TimestampTZ
	for _, c := range []struct {
		op     string
		lt     T
		l      Datum
		rt     T
		r      Datum
		want   string
		wantTy string
	}{
		{"+", Timestamp, ts("2024-01-31 10:00"), IntervalT, iv("1 mon"), "2024-02-29 10:00:00", "timestamp without time zone"},
		{"-", Timestamp, ts("2024-03-31"), IntervalT, iv("1 mon"), "2024-02-29 00:00:00", "timestamp without time zone"},
		{"+", tz, ts("2024-01-01 23:00"), IntervalT, iv("1 day 2 hours"), "2024-01-03 01:00:00+00", "timestamp with time zone"},
		{"+", IntervalT, iv("1 hour"), tz, ts("2024-01-01"), "2024-01-01 01:00:00+00", "timestamp with time zone"},
		{"+", Date, day("2024-01-01"), IntervalT, iv("1 day 2 hours"), "2024-01-02 02:00:00", "timestamp without time zone"},
		{"-", Date, day("2024-01-01"), IntervalT, iv("1 hour"), "2023-12-31 23:00:00", "timestamp without time zone"},
		{"-", Timestamp, ts("2024-01-02 01:00"), Timestamp, ts("2024-01-01"), "1 day 01:00:00", "interval"},
		{"-", Timestamp, ts("2024-01-01"), Timestamp, ts("2024-01-02 01:00"), "-1 days -01:00:00", "interval"},
		{"-", tz, ts("2024-01-01 00:00:00.5"), Date, day("2024-01-01"), "00:00:00.5", "interval"},
		{"-", IntervalT, iv("1 day"), IntervalT, iv("2 hours"), "1 day -02:00:00", "interval"},
		{"+", IntervalT, iv("1 mon"), IntervalT, iv("1 day 01:00"), "1 mon 1 day 01:00:00", "interval"},
		{"*", IntervalT, iv("1 hour"), Numeric, dec("2.5"), "02:30:00", "interval"},
		{"*", Int4, int64(3), IntervalT, iv("1 day 1 hour"), "3 days 03:00:00", "interval"},
		{"/", IntervalT, iv("1 mon"), Int4, int64(2), "15 days", "interval"},
		{"*", IntervalT, iv("1 mon"), Float8, 1.5, "1 mon 15 days", "interval"},
		{"/", IntervalT, iv("1 day"), Int4, int64(3), "08:00:00", "interval"},
		{"/", IntervalT, iv("1 day"), Int4, int64(0), "22012: division by zero", ""},
		{"*", IntervalT, iv("1 year"), Float8, 1e10, "22008: interval out of range", ""},
		{"+", Time, tod("10:00"), IntervalT, iv("3 hours"), "13:00:00", "time without time zone"},
		{"+", Time, tod("23:00"), IntervalT, iv("2 hours"), "01:00:00", "time without time zone"},
		{"-", Time, tod("01:00"), IntervalT, iv("2 hours"), "23:00:00", "time without time zone"},
		{"-", Time, tod("10:00"), Time, tod("08:30"), "01:30:00", "interval"},
		{"+", Date, day("2024-01-01"), Time, tod("10:00"), "2024-01-01 10:00:00", "timestamp without time zone"},
		{"=", IntervalT, iv("1 mon"), IntervalT, iv("30 days"), "t", "boolean"},
		{"<", IntervalT, iv("1 day"), IntervalT, iv("25 hours"), "t", "boolean"},
		{">", IntervalT, iv("-1 day"), IntervalT, iv("-25 hours"), "t", "boolean"},
		{"<", Time, tod("10:00"), Time, tod("10:00:00.000001"), "t", "boolean"},
		{"+", Timestamp, ts("294276-12-31"), IntervalT, iv("1 day"), "22008: timestamp out of range", ""},
		{"+", Time, tod("10:00"), Time, tod("10:00"), "42883: operator does not exist: time without time zone + time without time zone", ""},
		{"*", IntervalT, iv("1 day"), IntervalT, iv("1 day"), "42883: operator does not exist: interval * interval", ""},
		{"+", IntervalT, nil, Timestamp, ts("2024-01-01"), "NULL", "timestamp without time zone"},
	} {
		typ, v, err := BinaryOp(c.op, c.lt, c.l, c.rt, c.r)
		what := text(c.lt, c.l) + " " + c.op + " " + text(c.rt, c.r)
		if c.wantTy == "" {
			code, msg := splitCode(c.want)
			expectErr(t, what, err, code, msg)
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", what, err)
			continue
		}
		if got := text(typ, v); got != c.want || typ.String() != c.wantTy {
			t.Errorf("%s = %s (%s), want %s (%s)", what, got, typ, c.want, c.wantTy)
		}
	}
	if v, err := UnaryMinus(IntervalT, iv("1 day -02:00")); err != nil || text(IntervalT, v) != "-1 days +02:00:00" {
		t.Errorf("-interval: %v %v", text(IntervalT, v), err)
	}
}

func TestExtractTruncAge(t *testing.T) {
	stamp := ts("2024-02-29 13:14:15.5")
	for _, c := range []struct {
		field string
		typ   T
		d     Datum
		want  string
	}{
		{"year", Timestamp, stamp, "2024"}, {"second", Timestamp, stamp, "15.500000"},
		{"epoch", Timestamp, stamp, "1709212455.500000"}, {"dow", Timestamp, stamp, "4"},
		{"doy", Timestamp, stamp, "60"}, {"quarter", Timestamp, stamp, "1"}, {"week", Timestamp, stamp, "9"},
		{"milliseconds", Timestamp, stamp, "15500.000"}, {"microseconds", Timestamp, stamp, "15500000"},
		{"HOUR", TimestampTZ, stamp, "13"}, {"minute", Timestamp, stamp, "14"}, {"isodow", Timestamp, stamp, "4"},
		{"century", Timestamp, stamp, "21"}, {"millennium", Timestamp, stamp, "3"}, {"decade", Timestamp, stamp, "202"},
		{"julian", Date, ts("2024-02-29"), "2460370"}, {"epoch", Date, ts("2024-02-29"), "1709164800"},
		{"day", Date, ts("2024-02-29"), "29"}, {"timezone", TimestampTZ, stamp, "0"},
		{"epoch", IntervalT, iv("1 day 1 hour"), "90000.000000"}, {"hour", IntervalT, iv("25 hours"), "25"},
		{"epoch", IntervalT, iv("1 year"), "31557600.000000"}, {"month", IntervalT, iv("14 mons"), "2"},
		{"year", IntervalT, iv("14 mons"), "1"}, {"second", IntervalT, iv("-1.5 s"), "-1.500000"},
		{"hour", Time, TimeOfDay(13 * usPerHour), "13"}, {"epoch", Time, TimeOfDay(usPerHour + 1), "3600.000001"},
		{"hour", Date, ts("2024-02-29"), `0A000: unit "hour" not supported for type date`},
		{"day", Time, TimeOfDay(0), `0A000: unit "day" not supported for type time without time zone`},
		{"fortnight", Timestamp, stamp, `22023: unit "fortnight" not recognized for type timestamp without time zone`},
	} {
		got, err := Extract(c.field, c.typ, c.d)
		if code, msg := splitCode(c.want); len(code) == 5 && code != c.want {
			expectErr(t, c.field, err, code, msg)
			continue
		}
		if err != nil || got.String() != c.want && string(appendDecimal(nil, got)) != c.want {
			t.Errorf("extract(%s from %s): %v %v, want %s", c.field, text(c.typ, c.d), got, err, c.want)
		}
	}
	if f, err := DatePart("second", Timestamp, stamp); err != nil || f != 15.5 {
		t.Errorf("date_part: %v %v", f, err)
	}
	for _, c := range []struct{ field, want string }{
		{"month", "2024-02-01 00:00:00"}, {"week", "2024-02-26 00:00:00"}, {"quarter", "2024-01-01 00:00:00"},
		{"hour", "2024-02-29 13:00:00"}, {"second", "2024-02-29 13:14:15"}, {"year", "2024-01-01 00:00:00"},
		{"decade", "2020-01-01 00:00:00"}, {"century", "2001-01-01 00:00:00"}, {"millennium", "2001-01-01 00:00:00"},
		{"milliseconds", "2024-02-29 13:14:15.5"}, {"day", "2024-02-29 00:00:00"},
	} {
		got, err := DateTrunc(c.field, Timestamp, stamp)
		if err != nil || text(Timestamp, got) != c.want {
			t.Errorf("date_trunc(%s): %v %v, want %s", c.field, text(Timestamp, got), err, c.want)
		}
	}
	if got, err := DateTrunc("hour", IntervalT, iv("1 day 02:30:00")); err != nil || text(IntervalT, got) != "1 day 02:00:00" {
		t.Errorf("date_trunc(hour, interval): %v %v", got, err)
	}
	for _, c := range []struct{ a, b, want string }{
		{"2001-04-10", "1957-06-13", "43 years 9 mons 27 days"},
		{"2024-03-01", "2024-01-31", "1 mon 1 day"},
		{"2024-01-31", "2024-03-01", "-1 mons -1 days"},
		{"2024-01-01 10:00", "2023-12-31 12:00", "22:00:00"},
	} {
		got, err := Age(ts(c.a), ts(c.b))
		if err != nil || text(IntervalT, got) != c.want {
			t.Errorf("age(%s, %s) = %v %v, want %s", c.a, c.b, text(IntervalT, got), err, c.want)
		}
	}
	for _, c := range []struct {
		fn       func(Interval) (Interval, error)
		in, want string
	}{
		{JustifyHours, "1 day 27:00:00", "2 days 03:00:00"},
		{JustifyDays, "35 days", "1 mon 5 days"},
		{JustifyInterval, "1 mon -1 hour", "29 days 23:00:00"},
	} {
		got, err := c.fn(iv(c.in))
		if err != nil || text(IntervalT, got) != c.want {
			t.Errorf("justify %s = %v, want %s", c.in, text(IntervalT, got), c.want)
		}
	}
}

func TestTimeIntervalBinaryKnown(t *testing.T) {
	for _, c := range []struct {
		typ T
		d   Datum
		hex string
	}{
		{Time, TimeOfDay(usPerHour + 1), "00000000d693a401"},
		{IntervalT, Interval{Months: 14, Days: -3, Micros: 5}, "0000000000000005fffffffd0000000e"},
	} {
		b, err := AppendBinary(nil, c.typ, c.d)
		if err != nil || hex.EncodeToString(b) != c.hex {
			t.Errorf("%s: %x %v, want %s", text(c.typ, c.d), b, err, c.hex)
		}
		back, err := DecodeBinary(c.typ, b)
		if err != nil || Compare(c.typ, back, c.d) != 0 || back != c.d {
			t.Errorf("%s: decoded %v %v", text(c.typ, c.d), back, err)
		}
	}
	for _, c := range []struct {
		typ  T
		hex  string
		want string
	}{
		{Time, "0000", "22P03: "},
		{Time, "00000014b1aaaaaa", "22008: time out of range"},
		{IntervalT, "00", "22P03: "},
	} {
		b, _ := hex.DecodeString(c.hex)
		_, err := DecodeBinary(c.typ, b)
		code, msg := splitCode(c.want)
		expectErr(t, c.hex, err, code, msg)
	}
}

func TestTimeIntervalCasts(t *testing.T) {
	for _, c := range []struct {
		d        Datum
		from, to T
		want     string
	}{
		{ts("2024-01-01 10:11:12.5"), Timestamp, Time, "10:11:12.5"},
		{TimeOfDay(usPerHour), Time, IntervalT, "01:00:00"},
		{iv("1 day 25:30:00"), IntervalT, Time, "01:30:00"},
		{iv("-01:00"), IntervalT, Time, "23:00:00"},
		{iv("1 day"), IntervalT, String, "1 day"},
		{"3 hours", String, IntervalT, "03:00:00"},
		{"10:00", String, Time, "10:00:00"},
	} {
		v, err := Cast(c.d, c.from, c.to)
		if err != nil || text(c.to, v) != c.want {
			t.Errorf("cast %s to %s: %v %v, want %s", text(c.from, c.d), c.to, text(c.to, v), err, c.want)
		}
	}
	if _, err := Cast(iv("1 day"), IntervalT, Int4); err == nil {
		t.Error("interval::int should fail")
	}
	if _, err := AssignCast(TimeOfDay(0), Time, IntervalT); err != nil {
		t.Errorf("time to interval assignment: %v", err)
	}
}
