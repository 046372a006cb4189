package types

import (
	"strings"
	"time"

	"github.com/meridiandb/meridian/sql/pgerror"
)

// pgEpoch is the origin of PostgreSQL's binary dates and timestamps.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

const secondsPerDay = 86400

// PostgreSQL's supported ranges: both start at 4714-11-24 BC (Julian day 0; Go year -4713),
// dates end in 5874897 AD and timestamps at the end of 294276 AD.
var (
	minTime      = time.Date(-4713, 11, 24, 0, 0, 0, 0, time.UTC)
	maxDateExcl  = time.Date(5874898, 1, 1, 0, 0, 0, 0, time.UTC)
	maxStampExcl = time.Date(294277, 1, 1, 0, 0, 0, 0, time.UTC)
)

// dateInRange reports whether a date value is inside PostgreSQL's date range.
func dateInRange(t time.Time) bool { return !t.Before(minTime) && t.Before(maxDateExcl) }

// stampInRange reports whether a timestamp value is inside PostgreSQL's timestamp range.
func stampInRange(t time.Time) bool { return !t.Before(minTime) && t.Before(maxStampExcl) }

// truncateToDate drops the time of day, reading t in UTC (the session time zone).
func truncateToDate(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// daysSinceEpoch is a date's day number relative to 2000-01-01, as the binary format sends it.
func daysSinceEpoch(t time.Time) int64 {
	return floorDiv64(t.Unix()-pgEpoch.Unix(), secondsPerDay)
}

func dateFromDays(days int64) time.Time {
	return time.Unix(pgEpoch.Unix()+days*secondsPerDay, 0).UTC()
}

// microsSinceEpoch is a timestamp's offset from 2000-01-01 00:00 UTC in microseconds; the
// whole timestamp range fits in an int64.
func microsSinceEpoch(t time.Time) int64 {
	return (t.Unix()-pgEpoch.Unix())*1_000_000 + int64(t.Nanosecond()/1000)
}

func timeFromMicros(us int64) time.Time {
	sec := floorDiv64(us, 1_000_000)
	return time.Unix(pgEpoch.Unix()+sec, (us-sec*1_000_000)*1000).UTC()
}

func floorDiv64(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// appendDate writes t's date as YYYY-MM-DD, the ISO DateStyle, returning whether the year is
// BC; PostgreSQL has no year 0 and writes "0001-01-01 BC" for Go's year 0.
func appendDate(b []byte, t time.Time) ([]byte, bool) {
	y, m, d := t.Date()
	bc := y <= 0
	if bc {
		y = 1 - y
	}
	b = appendPadded(b, y, 4)
	b = append(b, '-')
	b = appendPadded(b, int(m), 2)
	b = append(b, '-')
	return appendPadded(b, d, 2), bc
}

// appendClock writes HH:MM:SS and, if non-zero, the microseconds with trailing zeros trimmed.
func appendClock(b []byte, t time.Time) []byte {
	b = appendPadded(b, t.Hour(), 2)
	b = append(b, ':')
	b = appendPadded(b, t.Minute(), 2)
	b = append(b, ':')
	b = appendPadded(b, t.Second(), 2)
	if us := t.Nanosecond() / 1000; us != 0 {
		b = append(b, '.')
		digits := 6
		for us%10 == 0 {
			us /= 10
			digits--
		}
		b = appendPadded(b, us, digits)
	}
	return b
}

func appendPadded(b []byte, v, width int) []byte {
	var buf [20]byte
	i := len(buf)
	for v > 0 || i > len(buf)-width {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, buf[i:]...)
}

// appendDateTimeIn writes a date, timestamp or timestamptz value in DateStyle ISO; a
// timestamptz is shown in the session time zone loc, with its offset from UTC there.
func appendDateTimeIn(b []byte, f Family, t time.Time, loc *time.Location) []byte {
	if f == TimestampTZFamily {
		t = t.In(loc)
	} else {
		t = t.UTC()
	}
	b, bc := appendDate(b, t)
	if f != DateFamily {
		b = append(b, ' ')
		b = appendClock(b, t)
		if f == TimestampTZFamily {
			_, off := t.Zone()
			b = appendZoneOffset(b, off)
		}
	}
	if bc {
		b = append(b, " BC"...)
	}
	return b
}

// appendZoneOffset writes an offset east of UTC in seconds as PostgreSQL does: +HH, with
// :MM and :SS only when they are not zero.
func appendZoneOffset(b []byte, off int) []byte {
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	b = append(b, sign)
	b = appendPadded(b, off/3600, 2)
	if m, sec := off/60%60, off%60; m != 0 || sec != 0 {
		b = append(b, ':')
		b = appendPadded(b, m, 2)
		if sec != 0 {
			b = append(b, ':')
			b = appendPadded(b, sec, 2)
		}
	}
	return b
}

// wallClock is the reading of the instant t on the clocks of loc, as a time whose UTC fields
// hold it: the timestamp (without time zone) a timestamptz is at loc.
func wallClock(t time.Time, loc *time.Location) time.Time {
	_, off := t.In(loc).Zone()
	return t.UTC().Add(time.Duration(off) * time.Second)
}

// instantAt is the instant at which loc's clocks read wall (held in its UTC fields): the
// timestamptz a timestamp is at loc. A reading that occurs twice (when clocks fall back) is
// taken as the later one, in standard time; one that never occurs (skipped when clocks
// spring forward) is read with the offset in force before the change, which lands it past
// the change by the gap. Both are PostgreSQL's choices.
func instantAt(wall time.Time, loc *time.Location) time.Time {
	if loc == time.UTC {
		return wall
	}
	// The offsets a day before and after: a zone changes its offset at most once in a
	// window this small.
	_, before := wall.Add(-24 * time.Hour).In(loc).Zone()
	_, after := wall.Add(24 * time.Hour).In(loc).Zone()
	offsetAt := func(t time.Time) int {
		_, off := t.In(loc).Zone()
		return off
	}
	// Read with the later offset if that reading is right (the usual case, and the later
	// of two readings), else with the earlier one (right, or the skipped-reading rule).
	if asAfter := wall.Add(-time.Duration(after) * time.Second); offsetAt(asAfter) == after {
		return asAfter
	}
	return wall.Add(-time.Duration(before) * time.Second)
}

// dateTimeScanner walks a date/time literal left to right.
type dateTimeScanner struct {
	s   string
	pos int
}

func (sc *dateTimeScanner) done() bool { return sc.pos >= len(sc.s) }

func (sc *dateTimeScanner) peek() byte {
	if sc.done() {
		return 0
	}
	return sc.s[sc.pos]
}

// digits consumes a run of decimal digits, returning the value and how many there were.
func (sc *dateTimeScanner) digits() (v, n int) {
	for !sc.done() && isDigit(sc.peek()) && n < 10 {
		v = v*10 + int(sc.peek()-'0')
		sc.pos++
		n++
	}
	return v, n
}

func (sc *dateTimeScanner) skipSpaces() int {
	start := sc.pos
	for !sc.done() && sc.peek() == ' ' {
		sc.pos++
	}
	return sc.pos - start
}

// consumeWord consumes w case-insensitively if it comes next.
func (sc *dateTimeScanner) consumeWord(w string) bool {
	if len(sc.s)-sc.pos >= len(w) && strings.EqualFold(sc.s[sc.pos:sc.pos+len(w)], w) {
		sc.pos += len(w)
		return true
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// parseDateTimeIn reads the ISO 8601 forms PostgreSQL accepts for date, timestamp and
// timestamptz in DateStyle ISO: "YYYY-MM-DD" or "YYYYMMDD", optionally followed by a time
// "HH:MM[:SS[.fraction]]" after 'T' or spaces, a zone (Z, UTC, GMT, ±HH, ±HH:MM, ±HHMM,
// ±HH:MM:SS) and an AD/BC suffix. The fraction is rounded to microseconds. The zone is applied
// only for timestamptz, which without one is a time in loc; PostgreSQL silently ignores it for
// the other two.
func parseDateTimeIn(f Family, s string, loc *time.Location) (time.Time, error) {
	t := T{Family: f}
	badFormat := func() error {
		return pgerror.New(pgerror.CodeInvalidDatetimeFormat, `invalid input syntax for type %s: "%s"`, t.String(), s)
	}
	fieldOverflow := func() error {
		return pgerror.New(pgerror.CodeDatetimeFieldOverflow, `date/time field value out of range: "%s"`, s)
	}
	str := strings.TrimSpace(s)
	switch strings.ToLower(str) {
	case "epoch":
		return time.Unix(0, 0).UTC(), nil
	case "infinity", "+infinity", "-infinity":
		return time.Time{}, pgerror.New(pgerror.CodeFeatureNotSupported, "infinite %s values are not supported", t.String())
	case "now", "today", "tomorrow", "yesterday", "allballs":
		return time.Time{}, pgerror.New(pgerror.CodeFeatureNotSupported, `special %s value "%s" is not supported`, t.String(), str)
	}
	sc := &dateTimeScanner{s: str}

	year, n := sc.digits()
	var month, day int
	switch {
	case n == 8 && sc.done() || n == 8 && (sc.peek() == 'T' || sc.peek() == 't' || sc.peek() == ' '):
		year, month, day = year/10000, year/100%100, year%100
	case n >= 3 && sc.peek() == '-':
		sc.pos++
		var k int
		if month, k = sc.digits(); k < 1 || k > 2 || sc.peek() != '-' {
			return time.Time{}, badFormat()
		}
		sc.pos++
		if day, k = sc.digits(); k < 1 || k > 2 {
			return time.Time{}, badFormat()
		}
	default:
		return time.Time{}, badFormat()
	}

	var hour, minute, sec, micros int
	if c := sc.peek(); c == 'T' || c == 't' || (c == ' ' && sc.skipSpaces() > 0 && isDigit(sc.peek())) {
		if c != ' ' {
			sc.pos++
		}
		var k int
		if hour, k = sc.digits(); k < 1 || k > 2 || sc.peek() != ':' {
			return time.Time{}, badFormat()
		}
		sc.pos++
		if minute, k = sc.digits(); k != 2 {
			return time.Time{}, badFormat()
		}
		if sc.peek() == ':' {
			sc.pos++
			if sec, k = sc.digits(); k != 2 {
				return time.Time{}, badFormat()
			}
			if sc.peek() == '.' {
				sc.pos++
				var ok bool
				if micros, ok = sc.fraction(); !ok {
					return time.Time{}, badFormat()
				}
			}
		}
	}

	zoneSecs, hasZone, err := sc.zone()
	if err != nil {
		if pe, ok := err.(*pgerror.Error); ok && pe.Code == pgerror.CodeInvalidTZDisplacement {
			return time.Time{}, pgerror.New(pe.Code, `time zone displacement out of range: "%s"`, s)
		}
		return time.Time{}, badFormat()
	}
	sc.skipSpaces()
	bc := false
	switch {
	case sc.consumeWord("bc"):
		bc = true
	case sc.consumeWord("ad"):
	}
	sc.skipSpaces()
	if !sc.done() {
		return time.Time{}, badFormat()
	}

	if year == 0 || month < 1 || month > 12 || day < 1 || hour > 24 || minute > 59 || sec > 60 ||
		hour == 24 && (minute != 0 || sec != 0 || micros != 0) {
		return time.Time{}, fieldOverflow()
	}
	if bc {
		year = 1 - year
	}
	if day > daysIn(time.Month(month), year) {
		return time.Time{}, fieldOverflow()
	}
	// time.Date normalises hour 24 and second 60 into the next day or minute, as PostgreSQL does.
	tm := time.Date(year, time.Month(month), day, hour, minute, sec, micros*1000, time.UTC)
	if f == DateFamily {
		tm = truncateToDate(tm)
		if !dateInRange(tm) {
			return time.Time{}, pgerror.New(pgerror.CodeDatetimeFieldOverflow, `date out of range: "%s"`, s)
		}
		return tm, nil
	}
	if f == TimestampTZFamily {
		if hasZone {
			tm = tm.Add(-time.Duration(zoneSecs) * time.Second)
		} else {
			tm = instantAt(tm, loc)
		}
	}
	if !stampInRange(tm) {
		return time.Time{}, pgerror.New(pgerror.CodeDatetimeFieldOverflow, `timestamp out of range: "%s"`, s)
	}
	return tm, nil
}

// fraction reads the digits after a seconds decimal point as microseconds, rounding half up
// at the seventh digit; a carry into the next second is left to time.Date.
func (sc *dateTimeScanner) fraction() (int, bool) {
	micros, n, roundUp := 0, 0, false
	for !sc.done() && isDigit(sc.peek()) {
		c := int(sc.peek() - '0')
		switch {
		case n < 6:
			micros = micros*10 + c
		case n == 6:
			roundUp = c >= 5
		}
		n++
		sc.pos++
	}
	if n == 0 {
		return 0, false
	}
	for i := n; i < 6; i++ {
		micros *= 10
	}
	if roundUp {
		micros++
	}
	return micros, true
}

// zone reads an optional time zone, returning its offset east of UTC in seconds.
func (sc *dateTimeScanner) zone() (secs int, ok bool, err error) {
	save := sc.pos
	sc.skipSpaces()
	if sc.consumeWord("utc") || sc.consumeWord("gmt") {
		return 0, true, nil
	}
	if sc.consumeWord("z") {
		if sc.done() || sc.peek() == ' ' {
			return 0, true, nil
		}
		sc.pos--
	}
	c := sc.peek()
	if c != '+' && c != '-' {
		sc.pos = save
		return 0, false, nil
	}
	sc.pos++
	h, n := sc.digits()
	var m, s int
	switch {
	case n == 4:
		h, m = h/100, h%100
	case n == 6:
		h, m, s = h/10000, h/100%100, h%100
	case n == 1 || n == 2:
		if sc.peek() == ':' {
			sc.pos++
			if m, n = sc.digits(); n != 2 {
				return 0, false, errBadZone
			}
			if sc.peek() == ':' {
				sc.pos++
				if s, n = sc.digits(); n != 2 {
					return 0, false, errBadZone
				}
			}
		}
	default:
		return 0, false, errBadZone
	}
	if m > 59 || s > 59 {
		return 0, false, errBadZone
	}
	if h > 15 {
		return 0, false, pgerror.New(pgerror.CodeInvalidTZDisplacement, "time zone displacement out of range")
	}
	secs = h*3600 + m*60 + s
	if c == '-' {
		secs = -secs
	}
	return secs, true, nil
}

var errBadZone = pgerror.New(pgerror.CodeInvalidDatetimeFormat, "invalid time zone")

// daysIn is the number of days in month m of the proleptic Gregorian year y (Go numbering).
func daysIn(m time.Month, y int) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
