package types

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/meridiandb/meridian/sql/pgerror"
)

// Lengths PostgreSQL uses when an interval's months and days must be compared or converted
// to a duration: a month is 30 days and a day 24 hours.
const (
	usPerSec    = 1_000_000
	usPerMinute = 60 * usPerSec
	usPerHour   = 60 * usPerMinute
	usPerDay    = 24 * usPerHour
	daysPerMon  = 30
)

func intervalOverflow() error {
	return pgerror.New(pgerror.CodeDatetimeFieldOverflow, "interval out of range")
}

func badInterval(s string) error {
	return pgerror.New(pgerror.CodeInvalidDatetimeFormat, `invalid input syntax for type interval: "%s"`, s)
}

func intervalFieldOverflow(s string) error {
	return pgerror.New(pgerror.CodeDatetimeFieldOverflow, `interval field value out of range: "%s"`, s)
}

// span is the interval's length with months of 30 days and days of 24 hours, as whole days
// plus microseconds in [0, 1 day): the key PostgreSQL compares intervals by. Unlike the
// microsecond total, it cannot overflow.
func (iv Interval) span() (days, micros int64) {
	days = int64(iv.Months)*daysPerMon + int64(iv.Days) + floorDiv64(iv.Micros, usPerDay)
	return days, iv.Micros - floorDiv64(iv.Micros, usPerDay)*usPerDay
}

// CompareInterval orders intervals by span, so '1 mon' equals '30 days', as in PostgreSQL.
func CompareInterval(a, b Interval) int {
	ad, au := a.span()
	bd, bu := b.span()
	if c := cmpOrdered(ad, bd); c != 0 {
		return c
	}
	return cmpOrdered(au, bu)
}

// IntervalSpan exposes span for order-preserving key encodings.
func IntervalSpan(iv Interval) (days, micros int64) { return iv.span() }

// IntervalFromSpan is the interval of a span, in days and time; what a key keeps of an
// interval when its months and days are folded together.
func IntervalFromSpan(days, micros int64) (Interval, bool) {
	if days > math.MaxInt32 || days < math.MinInt32 {
		return Interval{}, false
	}
	return Interval{Days: int32(days), Micros: micros}, true
}

// appendInterval writes iv in IntervalStyle postgres: "1 year 2 mons -3 days +04:05:06.5".
func appendInterval(b []byte, iv Interval) []byte {
	years, mons := iv.Months/12, iv.Months%12
	isZero, isBefore := true, false
	part := func(v int64, unit string) {
		if v == 0 {
			return
		}
		if !isZero {
			b = append(b, ' ')
		}
		if isBefore && v > 0 {
			b = append(b, '+')
		}
		b = strconv.AppendInt(b, v, 10)
		b = append(b, ' ')
		b = append(b, unit...)
		if v != 1 {
			b = append(b, 's')
		}
		isBefore, isZero = v < 0, false
	}
	part(int64(years), "year")
	part(int64(mons), "mon")
	part(int64(iv.Days), "day")
	us := iv.Micros
	if isZero || us != 0 {
		if !isZero {
			b = append(b, ' ')
		}
		switch {
		case us < 0:
			b = append(b, '-')
		case isBefore:
			b = append(b, '+')
		}
		u := uint64(us)
		if us < 0 {
			u = uint64(-(us + 1)) + 1 // MinInt64 too
		}
		b = appendClockMicros(b, u)
	}
	return b
}

// appendClockMicros writes HH:MM:SS[.ffffff] for a duration, hours unbounded.
func appendClockMicros(b []byte, u uint64) []byte {
	h := u / usPerHour
	u -= h * usPerHour
	m := u / usPerMinute
	u -= m * usPerMinute
	if h < 10 {
		b = append(b, '0')
	}
	b = strconv.AppendUint(b, h, 10)
	b = append(b, ':')
	b = appendPadded(b, int(m), 2)
	b = append(b, ':')
	return appendSeconds(b, int64(u))
}

// appendSeconds writes SS[.ffffff] from microseconds below a minute, trailing zeros trimmed.
func appendSeconds(b []byte, us int64) []byte {
	b = appendPadded(b, int(us/usPerSec), 2)
	if frac := int(us % usPerSec); frac != 0 {
		b = append(b, '.')
		digits := 6
		for frac%10 == 0 {
			frac /= 10
			digits--
		}
		b = appendPadded(b, frac, digits)
	}
	return b
}

// appendTimeOfDay writes a time as HH:MM:SS[.ffffff].
func appendTimeOfDay(b []byte, t TimeOfDay) []byte {
	return appendClockMicros(b, uint64(t))
}

// intervalUnit says how one unit of an interval field adds to the interval.
type intervalUnit struct {
	months int64 // months per unit (years and up)
	days   int64 // days per unit (days and weeks)
	micros int64 // microseconds per unit (hours and down)
}

var intervalUnits = func() map[string]intervalUnit {
	m := map[string]intervalUnit{}
	add := func(u intervalUnit, names string) {
		for _, n := range strings.Fields(names) {
			m[n] = u
		}
	}
	add(intervalUnit{months: 12000}, "millennium millennia millenniums mil mils")
	add(intervalUnit{months: 1200}, "century centuries cent c")
	add(intervalUnit{months: 120}, "decade decades dec decs")
	add(intervalUnit{months: 12}, "year years yr yrs y")
	add(intervalUnit{months: 1}, "month months mon mons")
	add(intervalUnit{days: 7}, "week weeks w")
	add(intervalUnit{days: 1}, "day days d")
	add(intervalUnit{micros: usPerHour}, "hour hours hr hrs h")
	add(intervalUnit{micros: usPerMinute}, "minute minutes min mins m")
	add(intervalUnit{micros: usPerSec}, "second seconds sec secs s")
	add(intervalUnit{micros: 1000}, "millisecond milliseconds msec msecs ms")
	add(intervalUnit{micros: 1}, "microsecond microseconds usec usecs us")
	return m
}()

// intervalBuilder accumulates fields with overflow checks.
type intervalBuilder struct {
	months, days, micros int64
	ok                   bool
}

func (ib *intervalBuilder) addMonths(v int64) { ib.months = ib.checkedAdd(ib.months, v) }
func (ib *intervalBuilder) addDays(v int64)   { ib.days = ib.checkedAdd(ib.days, v) }
func (ib *intervalBuilder) addMicros(v int64) { ib.micros = ib.checkedAdd(ib.micros, v) }

func (ib *intervalBuilder) checkedAdd(a, b int64) int64 {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		ib.ok = false
	}
	return s
}

func (ib *intervalBuilder) checkedMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	p := a * b
	if p/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		ib.ok = false
	}
	return p
}

// addFraction adds frac (|frac| < 1) of a unit of `per` microseconds, rounded.
func (ib *intervalBuilder) addFracMicros(frac float64, per int64) {
	ib.addMicros(int64(math.Round(frac * float64(per))))
}

// add adds whole units and a fraction of a unit, spilling the fraction down the way
// PostgreSQL does: fractional years become whole months, fractional months days of 30, and
// fractional days and weeks time.
func (ib *intervalBuilder) add(u intervalUnit, whole int64, frac float64) {
	switch {
	case u.months > 0:
		ib.addMonths(ib.checkedMul(whole, u.months))
		if u.months >= 12 {
			ib.addMonths(int64(math.Round(frac * float64(u.months))))
		} else {
			d := frac * daysPerMon
			ib.addDays(int64(d))
			ib.addFracMicros(d-math.Trunc(d), usPerDay)
		}
	case u.days > 0:
		ib.addDays(ib.checkedMul(whole, u.days))
		d := frac * float64(u.days)
		ib.addDays(int64(d))
		ib.addFracMicros(d-math.Trunc(d), usPerDay)
	default:
		ib.addMicros(ib.checkedMul(whole, u.micros))
		ib.addFracMicros(frac, u.micros)
	}
}

func (ib *intervalBuilder) result() (Interval, bool) {
	if !ib.ok || ib.months > math.MaxInt32 || ib.months < math.MinInt32 || ib.days > math.MaxInt32 || ib.days < math.MinInt32 {
		return Interval{}, false
	}
	return Interval{Months: int32(ib.months), Days: int32(ib.days), Micros: ib.micros}, true
}

// splitNumber splits a decimal number into its integer part and fraction (same sign).
func splitNumber(s string) (whole int64, frac float64, ok bool) {
	neg := false
	switch {
	case strings.HasPrefix(s, "-"):
		neg, s = true, s[1:]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	intPart, fracPart, hasDot := strings.Cut(s, ".")
	if intPart == "" && (!hasDot || fracPart == "") || !allDigits(intPart) || !allDigits(fracPart) {
		return 0, 0, false
	}
	if intPart != "" {
		v, err := strconv.ParseInt(intPart, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		whole = v
	}
	if fracPart != "" {
		f, err := strconv.ParseFloat("0."+fracPart, 64)
		if err != nil {
			return 0, 0, false
		}
		frac = f
	}
	if neg {
		whole, frac = -whole, -frac
	}
	return whole, frac, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// intervalTokens splits interval text into numbers (with sign, '.' and ':') and words.
func intervalTokens(s string) []string {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == ',':
			i++
		case isDigit(c) || c == '.' || c == '+' || c == '-':
			j := i + 1
			for j < len(s) && (isDigit(s[j]) || s[j] == '.' || s[j] == ':') {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		case c >= 'a' && c <= 'z':
			j := i + 1
			for j < len(s) && s[j] >= 'a' && s[j] <= 'z' {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		default:
			toks = append(toks, s[i:i+1])
			i++
		}
	}
	return toks
}

// ParseInterval reads PostgreSQL's interval input: the verbose form ('1 year 2 mons',
// '2 hours 30 minutes', '1.5 days', '10min', '-1 days +02:03:00', '@ 1 day ago'), a time of
// day as a duration ('01:02:03', '1:02.5' as minutes and seconds) with an optional leading
// day count ('3 04:05:06'), a bare number of seconds, and ISO 8601 ('P1Y2M3DT4H5M6S', 'PT2H',
// 'P1W').
func ParseInterval(s string) (Interval, error) {
	str := strings.ToLower(strings.TrimSpace(s))
	if strings.HasPrefix(str, "p") {
		return parseISOInterval(s, str[1:])
	}
	str = strings.TrimPrefix(str, "@")
	toks := intervalTokens(str)
	if len(toks) == 0 {
		return Interval{}, badInterval(s)
	}
	ago := false
	if toks[len(toks)-1] == "ago" {
		ago, toks = true, toks[:len(toks)-1]
	}
	ib := intervalBuilder{ok: true}
	// Each unit may be given once, as in PostgreSQL: '1 hour 1 hour' is a mistake, not two
	// hours. A clock gives hours, minutes and seconds.
	seen := map[intervalUnit]bool{}
	once := func(units ...intervalUnit) bool {
		for _, u := range units {
			if seen[u] {
				return false
			}
			seen[u] = true
		}
		return true
	}
	clockUnits := []intervalUnit{intervalUnits["hour"], intervalUnits["minute"], intervalUnits["second"]}
	for i := 0; i < len(toks); i++ {
		tok := toks[i]
		switch {
		case strings.Contains(tok, ":"):
			us, ok := parseClockDuration(tok)
			if !ok {
				return Interval{}, badIntervalOrRange(s, tok)
			}
			if !once(clockUnits...) {
				return Interval{}, badInterval(s)
			}
			ib.addMicros(us)
		case isNumberStart(tok[0]):
			whole, frac, ok := splitNumber(tok)
			if !ok {
				return Interval{}, badInterval(s)
			}
			var u intervalUnit
			switch {
			case i+1 < len(toks) && intervalUnits[toks[i+1]] != (intervalUnit{}):
				u = intervalUnits[toks[i+1]]
				i++
			case i+1 < len(toks) && strings.Contains(toks[i+1], ":"):
				u = intervalUnit{days: 1} // '3 04:05:06': a day count before a time
			case i+1 == len(toks):
				u = intervalUnit{micros: usPerSec} // a bare trailing number is seconds
			default:
				return Interval{}, badInterval(s)
			}
			if !once(u) {
				return Interval{}, badInterval(s)
			}
			ib.add(u, whole, frac)
		default:
			return Interval{}, badInterval(s)
		}
	}
	iv, ok := ib.result()
	if !ok {
		return Interval{}, intervalFieldOverflow(s)
	}
	if ago {
		if iv, ok = negateInterval(iv); !ok {
			return Interval{}, intervalFieldOverflow(s)
		}
	}
	return iv, nil
}

func isNumberStart(c byte) bool { return isDigit(c) || c == '.' || c == '+' || c == '-' }

func badIntervalOrRange(s, tok string) error {
	// Well-formed digits with a field out of range (minutes past 59) is 22008.
	for _, p := range strings.Split(strings.TrimLeft(tok, "+-"), ":") {
		if p == "" || !allDigits(strings.Replace(p, ".", "", 1)) {
			return badInterval(s)
		}
	}
	return intervalFieldOverflow(s)
}

// parseClockDuration reads [-+]H:MM[:SS[.f]] or MM:SS.f as microseconds.
func parseClockDuration(tok string) (int64, bool) {
	neg := strings.HasPrefix(tok, "-")
	tok = strings.TrimLeft(tok, "+-")
	parts := strings.Split(tok, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, false
	}
	if len(parts) == 2 && strings.Contains(parts[1], ".") {
		parts = append([]string{"0"}, parts...) // MM:SS.f
	}
	if strings.Contains(parts[0], ".") || strings.Contains(parts[1], ".") || parts[0] == "" || len(parts[1]) == 0 || len(parts[1]) > 2 {
		return 0, false
	}
	h, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || h > math.MaxInt64/usPerHour {
		return 0, false
	}
	m, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || m > 59 {
		return 0, false
	}
	us := h*usPerHour + m*usPerMinute
	if len(parts) == 3 {
		whole, frac, ok := splitNumber(parts[2])
		if !ok || whole > 59 || strings.HasPrefix(parts[2], "+") || strings.HasPrefix(parts[2], "-") {
			return 0, false
		}
		sec := whole*usPerSec + int64(math.Round(frac*usPerSec))
		if us > math.MaxInt64-sec {
			return 0, false
		}
		us += sec
	}
	if neg {
		us = -us
	}
	return us, true
}

// parseISOInterval reads the designator form of ISO 8601 after its P.
func parseISOInterval(orig, s string) (Interval, error) {
	ib := intervalBuilder{ok: true}
	seen := map[intervalUnit]bool{}
	inTime := false
	if s == "" {
		return Interval{}, badInterval(orig)
	}
	for len(s) > 0 {
		if s[0] == 't' {
			if inTime {
				return Interval{}, badInterval(orig)
			}
			inTime, s = true, s[1:]
			if s == "" {
				return Interval{}, badInterval(orig)
			}
			continue
		}
		j := 0
		for j < len(s) && (isDigit(s[j]) || s[j] == '.' || (j == 0 && (s[j] == '-' || s[j] == '+'))) {
			j++
		}
		if j == 0 || j == len(s) {
			return Interval{}, badInterval(orig)
		}
		whole, frac, ok := splitNumber(s[:j])
		if !ok {
			return Interval{}, badInterval(orig)
		}
		var u intervalUnit
		switch d := s[j]; {
		case d == 'y' && !inTime:
			u = intervalUnits["year"]
		case d == 'm' && !inTime:
			u = intervalUnits["month"]
		case d == 'w' && !inTime:
			u = intervalUnits["week"]
		case d == 'd' && !inTime:
			u = intervalUnits["day"]
		case d == 'h' && inTime:
			u = intervalUnits["hour"]
		case d == 'm' && inTime:
			u = intervalUnits["minute"]
		case d == 's' && inTime:
			u = intervalUnits["second"]
		default:
			return Interval{}, badInterval(orig)
		}
		if seen[u] {
			return Interval{}, badInterval(orig)
		}
		seen[u] = true
		ib.add(u, whole, frac)
		s = s[j+1:]
	}
	iv, ok := ib.result()
	if !ok {
		return Interval{}, intervalFieldOverflow(orig)
	}
	return iv, nil
}

func negateInterval(iv Interval) (Interval, bool) {
	if iv.Months == math.MinInt32 || iv.Days == math.MinInt32 || iv.Micros == math.MinInt64 {
		return Interval{}, false
	}
	return Interval{Months: -iv.Months, Days: -iv.Days, Micros: -iv.Micros}, true
}

// ParseTimeOfDay is time_in: HH:MM[:SS[.fraction]] with an optional AM/PM, optionally after
// a date (which is ignored) and before a zone (ignored too, as for timestamp without time
// zone); "allballs" is midnight. 24:00:00 is allowed, as the end of a day.
func ParseTimeOfDay(s string) (TimeOfDay, error) {
	bad := func() error {
		return pgerror.New(pgerror.CodeInvalidDatetimeFormat, `invalid input syntax for type time: "%s"`, s)
	}
	str := strings.ToLower(strings.TrimSpace(s))
	switch str {
	case "allballs":
		return 0, nil
	case "now":
		return 0, pgerror.New(pgerror.CodeFeatureNotSupported, `special time value "%s" is not supported`, str)
	}
	// A leading date: YYYY-MM-DD followed by a space or T.
	if len(str) > 10 && str[4] == '-' && str[7] == '-' && (str[10] == ' ' || str[10] == 't') {
		str = strings.TrimSpace(str[11:])
	}
	sc := &dateTimeScanner{s: str}
	hour, k := sc.digits()
	if k < 1 || k > 2 || sc.peek() != ':' {
		return 0, bad()
	}
	sc.pos++
	minute, k := sc.digits()
	if k != 2 {
		return 0, bad()
	}
	var sec, micros int
	if sc.peek() == ':' {
		sc.pos++
		if sec, k = sc.digits(); k != 2 {
			return 0, bad()
		}
		if sc.peek() == '.' {
			sc.pos++
			var ok bool
			if micros, ok = sc.fraction(); !ok {
				return 0, bad()
			}
		}
	}
	sc.skipSpaces()
	switch {
	case sc.consumeWord("am"):
		if hour > 12 || hour == 0 {
			return 0, timeFieldOverflow(s)
		}
		if hour == 12 {
			hour = 0
		}
	case sc.consumeWord("pm"):
		if hour > 12 || hour == 0 {
			return 0, timeFieldOverflow(s)
		}
		if hour != 12 {
			hour += 12
		}
	}
	if _, _, err := sc.zone(); err != nil {
		return 0, bad()
	}
	sc.skipSpaces()
	if !sc.done() {
		return 0, bad()
	}
	us := int64(hour)*usPerHour + int64(minute)*usPerMinute + int64(sec)*usPerSec + int64(micros)
	if minute > 59 || sec > 60 || us > usPerDay {
		return 0, timeFieldOverflow(s)
	}
	return TimeOfDay(us), nil
}

func timeFieldOverflow(s string) error {
	return pgerror.New(pgerror.CodeDatetimeFieldOverflow, `date/time field value out of range: "%s"`, s)
}

// timeOfDayOf is the time of day of a timestamp's UTC reading.
func timeOfDayOf(t time.Time) TimeOfDay {
	t = t.UTC()
	return TimeOfDay(int64(t.Hour())*usPerHour + int64(t.Minute())*usPerMinute + int64(t.Second())*usPerSec + int64(t.Nanosecond()/1000))
}

// AddInterval is timestamp + interval: months first (a day past the end of the new month
// becomes its last day, so Jan 31 + 1 mon is Feb 29), then days, then time.
func AddInterval(t time.Time, iv Interval) (time.Time, error) {
	t = t.UTC()
	if iv.Months != 0 {
		y, m, d := t.Date()
		total := int64(y)*12 + int64(m-1) + int64(iv.Months)
		ny, nm := int(floorDiv64(total, 12)), time.Month(total-floorDiv64(total, 12)*12+1)
		if last := daysIn(nm, ny); d > last {
			d = last
		}
		t = time.Date(ny, nm, d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	}
	if iv.Days != 0 {
		t = t.AddDate(0, 0, int(iv.Days))
	}
	if !stampInRange(t) {
		return time.Time{}, stampOutOfRange()
	}
	us := microsSinceEpoch(t)
	sum := us + iv.Micros
	if (iv.Micros > 0 && sum < us) || (iv.Micros < 0 && sum > us) {
		return time.Time{}, stampOutOfRange()
	}
	res := timeFromMicros(sum)
	if !stampInRange(res) {
		return time.Time{}, stampOutOfRange()
	}
	return res, nil
}

func stampOutOfRange() error {
	return pgerror.New(pgerror.CodeDatetimeFieldOverflow, "timestamp out of range")
}

// subtractStamps is timestamp - timestamp: the difference as days and time of the same sign,
// as PostgreSQL's interval_justify_hours leaves it.
func subtractStamps(a, b time.Time) (Interval, error) {
	diff := microsSinceEpoch(a) - microsSinceEpoch(b) // both within ±2^62 µs of 2000
	days := diff / usPerDay
	if days > math.MaxInt32 || days < math.MinInt32 {
		return Interval{}, intervalOverflow()
	}
	return Interval{Days: int32(days), Micros: diff - days*usPerDay}, nil
}

// addIntervals adds or subtracts two intervals field by field.
func addIntervals(a, b Interval, sub bool) (Interval, error) {
	if sub {
		var ok bool
		if b, ok = negateInterval(b); !ok {
			return Interval{}, intervalOverflow()
		}
	}
	ib := intervalBuilder{ok: true, months: int64(a.Months), days: int64(a.Days), micros: a.Micros}
	ib.addMonths(int64(b.Months))
	ib.addDays(int64(b.Days))
	ib.addMicros(b.Micros)
	iv, ok := ib.result()
	if !ok {
		return Interval{}, intervalOverflow()
	}
	return iv, nil
}

// tsRound rounds to microsecond precision in the unit of x, as PostgreSQL's TSROUND does, so
// that fractions such as 1/3 month do not leave a stray microsecond.
func tsRound(x float64) float64 { return math.RoundToEven(x*1e6) / 1e6 }

// scaleInterval is interval * factor (interval / factor with div): months and days are
// scaled separately and their fractions spill into days and time, following interval_mul.
func scaleInterval(iv Interval, factor float64, div bool) (Interval, error) {
	if div {
		if factor == 0 {
			return Interval{}, divByZero()
		}
	}
	scale := func(v float64) float64 {
		if div {
			return v / factor
		}
		return v * factor
	}
	if math.IsNaN(factor) || math.IsInf(factor, 0) {
		return Interval{}, intervalOverflow()
	}
	fm := scale(float64(iv.Months))
	fd := scale(float64(iv.Days))
	if fm > math.MaxInt32 || fm < math.MinInt32 || fd > math.MaxInt32 || fd < math.MinInt32 {
		return Interval{}, intervalOverflow()
	}
	months, days := int64(fm), int64(fd)
	monthRemDays := tsRound((fm - float64(months)) * daysPerMon)
	secRem := tsRound((fd - float64(days) + monthRemDays - math.Trunc(monthRemDays)) * secondsPerDay)
	if math.Abs(secRem) >= secondsPerDay {
		days += int64(secRem / secondsPerDay)
		secRem -= math.Trunc(secRem/secondsPerDay) * secondsPerDay
	}
	days += int64(monthRemDays)
	ft := math.RoundToEven(scale(float64(iv.Micros)) + secRem*usPerSec)
	if ft >= math.MaxInt64 || ft < math.MinInt64 || days > math.MaxInt32 || days < math.MinInt32 {
		return Interval{}, intervalOverflow()
	}
	return Interval{Months: int32(months), Days: int32(days), Micros: int64(ft)}, nil
}

// JustifyHours moves whole 24-hour periods of time into days; JustifyDays moves whole
// 30-day periods into months; both leave the parts with one sign, as PostgreSQL's
// justify_hours and justify_days do. JustifyInterval does both.
func JustifyHours(iv Interval) (Interval, error) {
	days := int64(iv.Days) + iv.Micros/usPerDay
	us := iv.Micros % usPerDay
	switch {
	case days > 0 && us < 0:
		us += usPerDay
		days--
	case days < 0 && us > 0:
		us -= usPerDay
		days++
	}
	if days > math.MaxInt32 || days < math.MinInt32 {
		return Interval{}, intervalOverflow()
	}
	return Interval{Months: iv.Months, Days: int32(days), Micros: us}, nil
}

// JustifyDays: see JustifyHours.
func JustifyDays(iv Interval) (Interval, error) {
	months := int64(iv.Months) + int64(iv.Days)/daysPerMon
	days := iv.Days % daysPerMon
	switch {
	case months > 0 && days < 0:
		days += daysPerMon
		months--
	case months < 0 && days > 0:
		days -= daysPerMon
		months++
	}
	if months > math.MaxInt32 || months < math.MinInt32 {
		return Interval{}, intervalOverflow()
	}
	return Interval{Months: int32(months), Days: days, Micros: iv.Micros}, nil
}

// JustifyInterval: see JustifyHours. The signs of all three parts end up alike.
func JustifyInterval(iv Interval) (Interval, error) {
	days := int64(iv.Days) + iv.Micros/usPerDay
	us := iv.Micros % usPerDay
	months := int64(iv.Months) + days/daysPerMon
	days %= daysPerMon
	switch {
	case months > 0 && (days < 0 || days == 0 && us < 0):
		days += daysPerMon
		months--
	case months < 0 && (days > 0 || days == 0 && us > 0):
		days -= daysPerMon
		months++
	}
	switch {
	case days > 0 && us < 0:
		us += usPerDay
		days--
	case days < 0 && us > 0:
		us -= usPerDay
		days++
	}
	if months > math.MaxInt32 || months < math.MinInt32 {
		return Interval{}, intervalOverflow()
	}
	return Interval{Months: int32(months), Days: int32(days), Micros: us}, nil
}

// Age is age(a, b): a - b in years, months and days of the calendar (borrowing days from
// the month before as PostgreSQL's timestamp_age does), with the time of day as time.
func Age(a, b time.Time) (Interval, error) {
	a, b = a.UTC(), b.UTC()
	neg := a.Before(b)
	y1, m1, d1 := a.Date()
	y2, m2, d2 := b.Date()
	us := int64(timeOfDayOf(a)) - int64(timeOfDayOf(b))
	year, mon, day := int64(y1-y2), int64(m1-m2), int64(d1-d2)
	if neg {
		year, mon, day, us = -year, -mon, -day, -us
	}
	for us < 0 {
		us += usPerDay
		day--
	}
	for day < 0 {
		// Borrow the length of the earlier date's month.
		y, m := y2, m2
		if neg {
			y, m = y1, m1
		}
		day += int64(daysIn(m, y))
		mon--
	}
	for mon < 0 {
		mon += 12
		year--
	}
	if neg {
		year, mon, day, us = -year, -mon, -day, -us
	}
	months := year*12 + mon
	if months > math.MaxInt32 || months < math.MinInt32 {
		return Interval{}, intervalOverflow()
	}
	return Interval{Months: int32(months), Days: int32(day), Micros: us}, nil
}
