package types

import (
	"math"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/meridiandb/meridian/sql/pgerror"
)

// dateFields maps the spellings extract, date_part and date_trunc accept to one name.
var dateFields = func() map[string]string {
	m := map[string]string{}
	for canon, names := range map[string]string{
		"microseconds": "microsecond microseconds us usec usecs",
		"milliseconds": "millisecond milliseconds ms msec msecs",
		"second":       "second seconds s sec secs",
		"minute":       "minute minutes m min mins",
		"hour":         "hour hours h hr hrs",
		"day":          "day days d",
		"week":         "week weeks w",
		"month":        "month months mon mons",
		"quarter":      "quarter qtr",
		"year":         "year years y yr yrs",
		"decade":       "decade decades dec decs",
		"century":      "century centuries c cent",
		"millennium":   "millennium millennia mil mils",
		"epoch":        "epoch",
		"dow":          "dow",
		"doy":          "doy",
		"isodow":       "isodow",
		"isoyear":      "isoyear",
		"julian":       "julian j",
		"timezone":     "timezone",
		"timezone_h":   "timezone_h timezone_hour",
		"timezone_m":   "timezone_m timezone_minute",
	} {
		for _, n := range strings.Fields(names) {
			m[n] = canon
		}
	}
	return m
}()

func unitNotRecognized(field string, t T) error {
	return pgerror.New(pgerror.CodeInvalidParameterValue, `unit "%s" not recognized for type %s`, field, t.String())
}

func unitNotSupported(field string, t T) error {
	return pgerror.New(pgerror.CodeFeatureNotSupported, `unit "%s" not supported for type %s`, field, t.String())
}

// scaled is v / 10^scale as a numeric with that many digits after the point.
func scaled(v int64, scale int32) *apd.Decimal { return apd.New(v, -scale) }

// Extract is EXTRACT(field FROM d) for a date, time, timestamp, timestamptz or interval d:
// a numeric, as in PostgreSQL 14 and later, with seconds to six places and milliseconds to
// three.
func Extract(field string, t T, d Datum) (*apd.Decimal, error) {
	return ExtractWith(field, t, d, DefaultSettings)
}

// ExtractWith is Extract under the session settings st: the fields of a timestamptz are
// those of its reading in st's time zone.
func ExtractWith(field string, t T, d Datum, st *Settings) (*apd.Decimal, error) {
	name := strings.ToLower(strings.TrimSpace(field))
	f, ok := dateFields[name]
	if !ok {
		return nil, unitNotRecognized(name, t)
	}
	switch v := d.(type) {
	case TimeOfDay:
		return extractClock(f, name, t, int64(v), true)
	case Interval:
		return extractInterval(f, name, t, v)
	case time.Time:
		return extractStamp(f, name, t, v, st.location())
	}
	return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function extract(unknown, %s) does not exist", t.String())
}

// extractClock handles the fields of a time of day (or the time part of an interval).
func extractClock(f, name string, t T, us int64, isTime bool) (*apd.Decimal, error) {
	sec := us % usPerMinute
	switch f {
	case "microseconds":
		return scaled(sec, 0), nil
	case "milliseconds":
		return scaled(sec, 3), nil
	case "second":
		return scaled(sec, 6), nil
	case "minute":
		return scaled(us%usPerHour/usPerMinute, 0), nil
	case "hour":
		return scaled(us/usPerHour, 0), nil
	case "epoch":
		if isTime {
			return scaled(us, 6), nil
		}
	}
	return nil, unitNotSupported(name, t)
}

func extractInterval(f, name string, t T, iv Interval) (*apd.Decimal, error) {
	years := int64(iv.Months / 12)
	switch f {
	case "microseconds", "milliseconds", "second", "minute", "hour":
		return extractClock(f, name, t, iv.Micros, false)
	case "day":
		return scaled(int64(iv.Days), 0), nil
	case "month":
		return scaled(int64(iv.Months%12), 0), nil
	case "quarter":
		return scaled(int64(iv.Months%12)/3+1, 0), nil
	case "year":
		return scaled(years, 0), nil
	case "decade":
		return scaled(years/10, 0), nil
	case "century":
		return scaled(years/100, 0), nil
	case "millennium":
		return scaled(years/1000, 0), nil
	case "epoch":
		// A year counts 365.25 days and a month 30, as in PostgreSQL: in microseconds,
		// years * 31557600e6 + months * 2592000e6 + days * 86400e6 + time, done exactly.
		total := new(apd.Decimal)
		parts := [][2]int64{{years, 31557600 * usPerSec}, {int64(iv.Months % 12), daysPerMon * usPerDay}, {int64(iv.Days), usPerDay}, {iv.Micros, 1}}
		for _, p := range parts {
			term := new(apd.Decimal)
			if _, err := decimalCtx.Mul(term, apd.New(p[0], 0), apd.New(p[1], 0)); err != nil {
				return nil, intervalOverflow()
			}
			if _, err := decimalCtx.Add(total, total, term); err != nil {
				return nil, intervalOverflow()
			}
		}
		total.Exponent -= 6
		return total, nil
	}
	return nil, unitNotSupported(name, t)
}

// extractStamp handles dates and timestamps; Go's ISOWeek numbers weeks as PostgreSQL does.
func extractStamp(f, name string, t T, tm time.Time, loc *time.Location) (*apd.Decimal, error) {
	instant := tm.UTC()
	_, offset := tm.In(loc).Zone()
	if t.Family == TimestampTZFamily {
		tm = wallClock(tm, loc)
	} else {
		tm = instant
	}
	isDate := t.Family == DateFamily
	y, m, d := tm.Date()
	us := int64(timeOfDayOf(tm))
	switch f {
	case "microseconds", "milliseconds", "second", "minute", "hour":
		if isDate {
			return nil, unitNotSupported(name, t)
		}
		return extractClock(f, name, t, us, false)
	case "day":
		return scaled(int64(d), 0), nil
	case "month":
		return scaled(int64(m), 0), nil
	case "quarter":
		return scaled(int64(m-1)/3+1, 0), nil
	case "week":
		_, w := tm.ISOWeek()
		return scaled(int64(w), 0), nil
	case "year":
		if y <= 0 {
			return scaled(int64(y-1), 0), nil // there is no year 0: 1 BC is -1
		}
		return scaled(int64(y), 0), nil
	case "decade":
		if y >= 0 {
			return scaled(int64(y/10), 0), nil
		}
		return scaled(-int64((8-(y-1))/10), 0), nil
	case "century":
		if y > 0 {
			return scaled(int64((y+99)/100), 0), nil
		}
		return scaled(-int64((99-(y-1))/100), 0), nil
	case "millennium":
		if y > 0 {
			return scaled(int64((y+999)/1000), 0), nil
		}
		return scaled(-int64((999-(y-1))/1000), 0), nil
	case "dow":
		return scaled(int64(tm.Weekday()), 0), nil
	case "isodow":
		wd := int64(tm.Weekday())
		if wd == 0 {
			wd = 7
		}
		return scaled(wd, 0), nil
	case "doy":
		return scaled(int64(tm.YearDay()), 0), nil
	case "isoyear":
		iy, _ := tm.ISOWeek()
		if iy <= 0 {
			iy--
		}
		return scaled(int64(iy), 0), nil
	case "julian":
		// Julian day 0 is 4714-11-24 BC (Go year -4713).
		jd := floorDiv64(tm.Unix()-minTime.Unix(), secondsPerDay)
		if isDate || us == 0 {
			return scaled(jd, 0), nil
		}
		// The fraction of the day, to the precision numeric division gives.
		frac := new(apd.Decimal)
		if _, err := decimalCtx.Quo(frac, apd.New(us, 0), apd.New(usPerDay, 0)); err != nil {
			return nil, err
		}
		out := new(apd.Decimal)
		_, err := decimalCtx.Add(out, apd.New(jd, 0), frac)
		return out, err
	case "epoch":
		if isDate {
			return scaled(instant.Unix(), 0), nil
		}
		return scaled(instant.Unix()*usPerSec+int64(instant.Nanosecond()/1000), 6), nil
	case "timezone", "timezone_h", "timezone_m":
		if t.Family != TimestampTZFamily {
			break
		}
		// The offset east of UTC in the session zone; hours and minutes truncate toward
		// zero, keeping its sign.
		switch f {
		case "timezone_h":
			return scaled(int64(offset/3600), 0), nil
		case "timezone_m":
			return scaled(int64(offset/60%60), 0), nil
		}
		return scaled(int64(offset), 0), nil
	}
	return nil, unitNotSupported(name, t)
}

// DatePart is date_part(field, d): Extract as double precision.
func DatePart(field string, t T, d Datum) (float64, error) {
	return DatePartWith(field, t, d, DefaultSettings)
}

// DatePartWith is DatePart under the session settings st.
func DatePartWith(field string, t T, d Datum, st *Settings) (float64, error) {
	v, err := ExtractWith(field, t, d, st)
	if err != nil {
		return 0, err
	}
	f, err := v.Float64()
	if err != nil {
		return math.NaN(), nil
	}
	return f, nil
}

// DateTrunc is date_trunc(field, d) for a timestamp, timestamptz or interval: d with every
// field smaller than field zeroed (a week starts on Monday; decades, centuries and millennia
// start in years ending in 0, 01 and 001).
func DateTrunc(field string, t T, d Datum) (Datum, error) {
	return DateTruncWith(field, t, d, DefaultSettings)
}

// DateTruncWith is DateTrunc under the session settings st: a timestamptz is truncated on the
// clocks of st's time zone. Truncated to a day or more, the result takes the offset in force
// at its own reading; to an hour or less, it keeps the value's offset, so that truncating
// within the hour clocks fall back repeats stays in that hour, as in PostgreSQL.
func DateTruncWith(field string, t T, d Datum, st *Settings) (Datum, error) {
	name := strings.ToLower(strings.TrimSpace(field))
	f, ok := dateFields[name]
	if !ok {
		return nil, unitNotRecognized(name, t)
	}
	if iv, ok := d.(Interval); ok {
		return truncInterval(f, name, t, iv)
	}
	tm, ok := d.(time.Time)
	if !ok {
		return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function date_trunc(unknown, %s) does not exist", t.String())
	}
	loc := st.location()
	withZone := t.Family == TimestampTZFamily
	_, offset := tm.In(loc).Zone()
	if withZone {
		tm = wallClock(tm, loc)
	} else {
		tm = tm.UTC()
	}
	y, m, day := tm.Date()
	ns := tm.Nanosecond()
	hh, mm, ss := tm.Clock()
	switch f {
	case "microseconds":
		ns = ns / 1000 * 1000
	case "milliseconds":
		ns = ns / 1_000_000 * 1_000_000
	case "second":
		ns = 0
	case "minute":
		ns, ss = 0, 0
	case "hour":
		ns, ss, mm = 0, 0, 0
	case "day":
		ns, ss, mm, hh = 0, 0, 0, 0
	case "week":
		ns, ss, mm, hh = 0, 0, 0, 0
		wd := int(tm.Weekday()+6) % 7 // days since Monday
		day -= wd
	case "month", "quarter", "year", "decade", "century", "millennium":
		ns, ss, mm, hh, day = 0, 0, 0, 0, 1
		switch f {
		case "quarter":
			m = (m-1)/3*3 + 1
		case "year":
			m = 1
		case "decade":
			m = 1
			if y > 0 {
				y = y / 10 * 10
			} else {
				y = -((8 - (y - 1)) / 10) * 10
			}
		case "century":
			m = 1
			if y > 0 {
				y = (y+99)/100*100 - 99
			} else {
				y = -((99-(y-1))/100)*100 + 1
			}
		case "millennium":
			m = 1
			if y > 0 {
				y = (y+999)/1000*1000 - 999
			} else {
				y = -((999-(y-1))/1000)*1000 + 1
			}
		}
	default:
		return nil, unitNotSupported(name, t)
	}
	res := time.Date(y, m, day, hh, mm, ss, ns, time.UTC)
	if withZone {
		switch f {
		case "microseconds", "milliseconds", "second", "minute", "hour":
			res = res.Add(-time.Duration(offset) * time.Second)
		default:
			res = instantAt(res, loc)
		}
	}
	if !stampInRange(res) {
		return nil, stampOutOfRange()
	}
	return res, nil
}

func truncInterval(f, name string, t T, iv Interval) (Datum, error) {
	us := iv.Micros
	switch f {
	case "microseconds":
	case "milliseconds":
		us = us / 1000 * 1000
	case "second":
		us = us / usPerSec * usPerSec
	case "minute":
		us = us / usPerMinute * usPerMinute
	case "hour":
		us = us / usPerHour * usPerHour
	case "day":
		us = 0
	case "month":
		return Interval{Months: iv.Months}, nil
	case "quarter":
		return Interval{Months: iv.Months / 3 * 3}, nil
	case "year":
		return Interval{Months: iv.Months / 12 * 12}, nil
	case "decade":
		return Interval{Months: iv.Months / 120 * 120}, nil
	case "century":
		return Interval{Months: iv.Months / 1200 * 1200}, nil
	case "millennium":
		return Interval{Months: iv.Months / 12000 * 12000}, nil
	default:
		return nil, unitNotSupported(name, t)
	}
	return Interval{Months: iv.Months, Days: iv.Days, Micros: us}, nil
}
