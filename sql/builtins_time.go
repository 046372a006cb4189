package sql

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
)

// The date/time functions: to_char and its inverses, the make_* constructors, date_bin,
// isfinite and timeofday. Times are read and shown in the session time zone, which is UTC.

var (
	timestamp   = types.Timestamp
	timestamptz = types.TimestampTZ
	interval    = types.IntervalT
	date        = types.Date
)

func init() {
	register("to_char",
		sig(text, toCharTime(false), timestamp, text),
		sig(text, toCharTime(true), timestamptz, text),
		sig(text, func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
			if v[1].(string) == "" {
				return nil, nil // as PostgreSQL: an empty template gives NULL
			}
			return formatDateTime(partsOfInterval(v[0].(types.Interval)), v[1].(string)), nil
		}, interval, text),
		sig(text, toCharNum, int4, text), sig(text, toCharNum, int8, text),
		sig(text, toCharNum, numeric, text), sig(text, toCharNum, float8, text))
	register("to_date", sig(date, func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		t, err := parseWithFormat(v[0].(string), v[1].(string), true)
		if err != nil {
			return nil, err
		}
		y, m, d := t.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
	}, text, text))
	register("to_timestamp", sig(timestamptz, func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		return parseWithFormat(v[0].(string), v[1].(string), false)
	}, text, text), sig(timestamptz, epochToTimestamp, float8))
	register("make_date", sig(date, func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		return makeDate(v[0].(int64), v[1].(int64), v[2].(int64))
	}, int4, int4, int4))
	register("make_time", sig(types.Time, func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		us, err := makeClock(v[0].(int64), v[1].(int64), v[2].(float64))
		if err != nil {
			return nil, err
		}
		return types.TimeOfDay(us), nil
	}, int4, int4, float8))
	register("make_timestamp", sig(timestamp, func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		return makeTimestamp(v, time.UTC)
	}, int4, int4, int4, int4, int4, float8))
	register("make_timestamptz", sig(timestamptz, func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		return makeTimestamp(v, time.UTC)
	}, int4, int4, int4, int4, int4, float8), sig(timestamptz, func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		loc, err := timeZone(v[6].(string))
		if err != nil {
			return nil, err
		}
		return makeTimestamp(v[:6], loc)
	}, int4, int4, int4, int4, int4, float8, text))
	// make_interval(years, months, weeks, days, hours, mins, secs): each defaults to 0.
	for n := 0; n <= 7; n++ {
		params := make([]types.T, n)
		for i := range params {
			params[i] = int4
		}
		if n == 7 {
			params[6] = float8
		}
		register("make_interval", sig(interval, makeInterval, params...))
	}
	register("date_bin", sig(timestamp, dateBin, interval, timestamp, timestamp),
		sig(timestamptz, dateBin, interval, timestamptz, timestamptz))
	register("isfinite", sig(types.Bool, func(*evalCtx, []types.T, []types.Datum) (types.Datum, error) {
		return true, nil // Meridian has no infinite dates, timestamps or intervals
	}, date), sig(types.Bool, func(*evalCtx, []types.T, []types.Datum) (types.Datum, error) {
		return true, nil
	}, timestamptz), sig(types.Bool, func(*evalCtx, []types.T, []types.Datum) (types.Datum, error) {
		return true, nil
	}, timestamp), sig(types.Bool, func(*evalCtx, []types.T, []types.Datum) (types.Datum, error) {
		return true, nil
	}, interval))
	register("timeofday", overload{ret: text, volatile: true, fn: func(*evalCtx, []types.T, []types.Datum) (types.Datum, error) {
		now := time.Now().UTC()
		return now.Format("Mon Jan 02 15:04:05.000000 2006 MST"), nil
	}})
}

func toCharTime(zone bool) builtinFn {
	return func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		if v[1].(string) == "" {
			return nil, nil // as PostgreSQL: an empty template gives NULL
		}
		return formatDateTime(partsOfTime(v[0].(time.Time), zone), v[1].(string)), nil
	}
}

func toCharNum(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
	return toCharNumber(v[0], v[1].(string))
}

// epochToTimestamp is to_timestamp(seconds since 1970-01-01 UTC).
func epochToTimestamp(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
	secs := v[0].(float64)
	switch {
	case math.IsNaN(secs):
		return nil, pgerror.New(pgerror.CodeDatetimeFieldOverflow, "timestamp cannot be NaN")
	case math.IsInf(secs, 0):
		return nil, pgerror.New(pgerror.CodeFeatureNotSupported, "infinite timestamp with time zone values are not supported")
	}
	// The range check first: outside it the microseconds overflow an int64.
	const minSecs, maxSecs = -210866803200, 9224318016000 // 4714-11-24 BC, 294277-01-01
	if secs < minSecs || secs >= maxSecs {
		return nil, pgerror.New(pgerror.CodeDatetimeFieldOverflow, "timestamp out of range: \"%s\"", strconv.FormatFloat(secs, 'g', -1, 64))
	}
	us := int64(math.RoundToEven(secs * 1e6))
	return time.UnixMicro(us).UTC(), nil
}

// makeDate builds a date, reporting PostgreSQL's error for one that does not exist. A
// negative year is BC: PostgreSQL has no year 0, so -1 is Go's year 0.
func makeDate(y, m, d int64) (types.Datum, error) {
	t, ok := civilDate(y, m, d)
	if !ok {
		return nil, pgerror.New(pgerror.CodeDatetimeFieldOverflow, "date field value out of range: %d-%02d-%02d", y, m, d)
	}
	return t, nil
}

func civilDate(y, m, d int64) (time.Time, bool) {
	if y == 0 || m < 1 || m > 12 || d < 1 || d > 31 || y > 5874897 || y < -4713 {
		return time.Time{}, false
	}
	gy := y
	if y < 0 {
		gy = y + 1
	}
	t := time.Date(int(gy), time.Month(m), int(d), 0, 0, 0, 0, time.UTC)
	if t.Day() != int(d) {
		return time.Time{}, false // February 30th
	}
	return t, true
}

// makeClock is a time of day in microseconds; 24:00:00 is allowed, as in PostgreSQL.
func makeClock(h, m int64, s float64) (int64, error) {
	us := int64(math.RoundToEven(s * 1e6))
	if h < 0 || m < 0 || m > 59 || s < 0 || math.IsNaN(s) || s >= 61 ||
		h > 24 || h*3_600_000_000+m*60_000_000+us > 24*3_600_000_000 {
		return 0, pgerror.New(pgerror.CodeDatetimeFieldOverflow, "time field value out of range: %d:%02d:%s", h, m, twoDigitSeconds(s))
	}
	return h*3_600_000_000 + m*60_000_000 + us, nil
}

// twoDigitSeconds prints seconds as C's %02g does.
func twoDigitSeconds(s float64) string {
	out := strconv.FormatFloat(s, 'g', 6, 64)
	if len(out) < 2 {
		out = "0" + out
	}
	return out
}

func makeTimestamp(v []types.Datum, loc *time.Location) (types.Datum, error) {
	y, mo, d := v[0].(int64), v[1].(int64), v[2].(int64)
	day, ok := civilDate(y, mo, d)
	if !ok {
		return nil, pgerror.New(pgerror.CodeDatetimeFieldOverflow, "date field value out of range: %d-%02d-%02d", y, mo, d)
	}
	us, err := makeClock(v[3].(int64), v[4].(int64), v[5].(float64))
	if err != nil {
		return nil, err
	}
	t := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, loc).Add(time.Duration(us) * time.Microsecond)
	return t.UTC(), nil
}

// timeZone reads a time zone name or a numeric offset (+05, -03:30), for
// make_timestamptz.
func timeZone(name string) (*time.Location, error) {
	s := strings.TrimSpace(name)
	if up := strings.ToUpper(s); up == "UTC" || up == "GMT" || up == "Z" || up == "ZULU" {
		return time.UTC, nil
	}
	if len(s) > 1 && (s[0] == '+' || s[0] == '-') {
		hm := strings.SplitN(s[1:], ":", 2)
		h, err1 := strconv.Atoi(hm[0])
		m := 0
		var err2 error
		if len(hm) == 2 {
			m, err2 = strconv.Atoi(hm[1])
		}
		if err1 == nil && err2 == nil && h <= 15 && m < 60 {
			// ISO 8601 offsets, east of Greenwich positive, as PostgreSQL reads a numeric zone
			// here.
			off := h*3600 + m*60
			if s[0] == '-' {
				off = -off
			}
			return time.FixedZone(s, off), nil
		}
	}
	loc, err := time.LoadLocation(s)
	if err != nil || s == "" || s == "Local" {
		return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "time zone \"%s\" not recognized", name)
	}
	return loc, nil
}

// makeInterval is make_interval(years, months, weeks, days, hours, mins, secs).
func makeInterval(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
	f := [7]float64{}
	for i, d := range v {
		switch x := d.(type) {
		case int64:
			f[i] = float64(x)
		case float64:
			f[i] = x
		}
	}
	months := f[0]*12 + f[1]
	days := f[2]*7 + f[3]
	micros := f[4]*3_600_000_000 + f[5]*60_000_000 + math.RoundToEven(f[6]*1e6)
	if math.Abs(months) > math.MaxInt32 || math.Abs(days) > math.MaxInt32 || math.Abs(micros) >= math.MaxInt64 || math.IsNaN(micros) {
		return nil, pgerror.New(pgerror.CodeDatetimeFieldOverflow, "interval out of range")
	}
	return types.Interval{Months: int32(months), Days: int32(days), Micros: int64(micros)}, nil
}

// dateBin is date_bin(stride, source, origin): the start of the stride-wide bin, counted
// from origin, that holds source.
func dateBin(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
	stride := v[0].(types.Interval)
	src, origin := v[1].(time.Time), v[2].(time.Time)
	if stride.Months != 0 {
		return nil, pgerror.New(pgerror.CodeFeatureNotSupported, "timestamps cannot be binned into intervals containing months or years")
	}
	strideUS := int64(stride.Days)*86_400_000_000 + stride.Micros
	if strideUS <= 0 {
		return nil, pgerror.New(pgerror.CodeDatetimeFieldOverflow, "stride must be greater than zero")
	}
	diff := src.Sub(origin).Microseconds()
	delta := diff - diff%strideUS
	// The bin starts at or before source even when origin is after it.
	if origin.After(src) && strideUS > 1 && diff%strideUS != 0 {
		delta -= strideUS
	}
	return origin.Add(time.Duration(delta) * time.Microsecond).UTC(), nil
}

// parsed collects the fields to_date and to_timestamp read.
type parsed struct {
	year, month, day       int
	hour, min, sec, micros int
	hasYear, bc            bool
	pm, hasMeridiem        bool
	hour12                 bool
	yday, julian           int
	tzSecs                 int
}

// parseWithFormat reads s with the to_char template f, as to_timestamp and to_date do:
// template separators match any non-alphanumeric input character, spaces before fields are
// skipped, a number reads as many digits as its field holds when the next field follows
// without separator and up to the next non-digit otherwise.
func parseWithFormat(s, f string, dateOnly bool) (time.Time, error) {
	p := parsed{month: 1, day: 1}
	pos := 0
	type item struct {
		pat string // upper-case pattern, "" for a literal
		lit string
		fm  bool
	}
	var items []item
	for i := 0; i < len(f); {
		if f[i] == '"' {
			j := i + 1
			var sb strings.Builder
			for j < len(f) && f[j] != '"' {
				if f[j] == '\\' && j+1 < len(f) {
					j++
				}
				sb.WriteByte(f[j])
				j++
			}
			items = append(items, item{lit: "\"" + sb.String()})
			i = j + 1
			continue
		}
		fm := false
		for i+2 <= len(f) && (strings.EqualFold(f[i:i+2], "FM") || strings.EqualFold(f[i:i+2], "FX") || strings.EqualFold(f[i:i+2], "TM")) {
			fm = fm || strings.EqualFold(f[i:i+2], "FM")
			i += 2
		}
		matched := false
		for _, fld := range toCharFields {
			if len(f)-i >= len(fld.pat) && strings.EqualFold(f[i:i+len(fld.pat)], fld.pat) {
				items = append(items, item{pat: fld.pat, lit: f[i : i+len(fld.pat)], fm: fm})
				i += len(fld.pat)
				matched = true
				break
			}
		}
		if !matched && i < len(f) {
			items = append(items, item{lit: f[i : i+1]})
			i++
		}
	}
	badValue := func(val, pat string, detail string) error {
		return pgerror.New(pgerror.CodeInvalidDatetimeFormat, "invalid value \"%s\" for \"%s\"", val, pat).WithDetail(detail)
	}
	numericPat := func(pat string) bool {
		switch pat {
		case "", "MONTH", "MON", "DAY", "DY", "AM", "PM", "A.M.", "P.M.", "AD", "BC", "A.D.", "B.C.", "RM", "TZ":
			return false
		}
		return true
	}
	widths := map[string]int{"YYYY": 4, "YYY": 3, "YY": 2, "Y": 1, "IYYY": 4, "IYY": 3, "IY": 2, "I": 1,
		"MM": 2, "DD": 2, "DDD": 3, "IDDD": 3, "HH": 2, "HH12": 2, "HH24": 2, "MI": 2, "SS": 2, "MS": 3, "US": 6,
		"SSSS": 5, "SSSSS": 5, "J": 7, "D": 1, "ID": 1, "IW": 2, "WW": 2, "W": 1, "CC": 2, "Q": 1,
		"FF1": 1, "FF2": 2, "FF3": 3, "FF4": 4, "FF5": 5, "FF6": 6, "TZH": 3, "TZM": 2, "OF": 3}
	for k, it := range items {
		if pos >= len(s) {
			break
		}
		if it.pat == "" {
			if strings.HasPrefix(it.lit, "\"") {
				pos = min(pos+len(it.lit)-1, len(s))
				continue
			}
			c := rune(s[pos])
			if it.lit == " " {
				for pos < len(s) && s[pos] == ' ' {
					pos++
				}
				continue
			}
			if !unicode.IsLetter(c) && !unicode.IsDigit(c) || strings.EqualFold(it.lit, s[pos:pos+1]) {
				pos++
			}
			continue
		}
		for pos < len(s) && s[pos] == ' ' {
			pos++
		}
		if pos >= len(s) {
			break
		}
		if !numericPat(it.pat) {
			var err error
			if pos, err = parseDateWord(s, pos, it.pat, it.lit, &p); err != nil {
				return time.Time{}, err
			}
			continue
		}
		// How many digits: the field's width when another field follows directly.
		exact := k+1 < len(items) && numericPat(items[k+1].pat) && items[k+1].pat != "" && !it.fm
		start := pos
		if (it.pat == "TZH" || it.pat == "OF") && (s[pos] == '+' || s[pos] == '-') {
			pos++
		}
		neg := false
		if s[pos] == '-' && (it.pat == "YYYY" || it.pat == "J") {
			neg = true
			pos++
		}
		digitsStart := pos
		limit := len(s)
		if exact {
			limit = min(digitsStart+widths[it.pat], len(s))
		}
		if it.pat == "Y,YYY" {
			for pos < len(s) && (s[pos] >= '0' && s[pos] <= '9' || s[pos] == ',') {
				pos++
			}
		} else {
			for pos < limit && s[pos] >= '0' && s[pos] <= '9' {
				pos++
			}
		}
		txt := strings.ReplaceAll(s[digitsStart:pos], ",", "")
		// PostgreSQL quotes as many characters as the field is wide.
		quoted := s[start:min(start+max(widths[it.pat], 1), len(s))]
		if txt == "" || exact && pos-digitsStart < widths[it.pat] && pos < len(s) {
			return time.Time{}, badValue(quoted, it.lit, "Value must be an integer.")
		}
		n, err := strconv.Atoi(txt)
		if err != nil {
			return time.Time{}, badValue(txt, it.lit, "Value must be in the range -2147483648 to 2147483647.")
		}
		if neg {
			n = -n
		}
		ndigits := pos - digitsStart
		switch it.pat {
		case "YYYY", "Y,YYY", "IYYY":
			p.year, p.hasYear = n, true
		case "YYY", "IYY":
			if ndigits < 3 {
				n += 2000
			} else if n < 100 {
				n += 2000
			} else {
				n += 1000
			}
			p.year, p.hasYear = n, true
		case "YY", "IY":
			if ndigits <= 2 {
				if n < 70 {
					n += 2000
				} else {
					n += 1900
				}
			}
			p.year, p.hasYear = n, true
		case "Y", "I":
			if ndigits == 1 {
				n += 2020
			}
			p.year, p.hasYear = n, true
		case "MM":
			p.month = n
		case "DD":
			p.day = n
		case "DDD", "IDDD":
			p.yday = n
		case "HH", "HH12":
			p.hour, p.hour12 = n, true
		case "HH24":
			p.hour = n
		case "MI":
			p.min = n
		case "SS":
			p.sec = n
		case "SSSS", "SSSSS":
			p.hour, p.min, p.sec = n/3600, n/60%60, n%60
		case "MS":
			p.micros = n * int(math.Pow10(3-ndigits)) * 1000
		case "US", "FF1", "FF2", "FF3", "FF4", "FF5", "FF6":
			p.micros = n * int(math.Pow10(6-ndigits))
		case "J":
			p.julian = n
		case "TZH", "OF":
			p.tzSecs = n * 3600
			if s[start] == '-' {
				p.tzSecs = -p.tzSecs
			}
		case "TZM":
			if p.tzSecs < 0 {
				p.tzSecs -= n * 60
			} else {
				p.tzSecs += n * 60
			}
		case "CC":
			if !p.hasYear {
				p.year = (n-1)*100 + 1
			}
		}
	}
	return p.toTime(s, dateOnly)
}

// parseDateWord reads a month or day name, a meridiem or an era indicator.
func parseDateWord(s string, pos int, pat, lit string, p *parsed) (int, error) {
	rest := strings.ToLower(s[pos:])
	try := func(words []string) int {
		for i, w := range words {
			if strings.HasPrefix(rest, strings.ToLower(w)) {
				return i
			}
		}
		return -1
	}
	noMatch := func() error {
		end := pos
		for end < len(s) && s[end] != ' ' {
			end++
		}
		return pgerror.New(pgerror.CodeInvalidDatetimeFormat, "invalid value \"%s\" for \"%s\"", s[pos:end], lit).
			WithDetail("The given value did not match any of the allowed values for this field.")
	}
	switch pat {
	case "MONTH", "MON":
		var names []string
		for m := time.January; m <= time.December; m++ {
			if pat == "MONTH" {
				names = append(names, m.String())
			} else {
				names = append(names, m.String()[:3])
			}
		}
		i := try(names)
		if i < 0 {
			return pos, noMatch()
		}
		p.month = i + 1
		return pos + len(names[i]), nil
	case "DAY", "DY":
		var names []string
		for d := time.Sunday; d <= time.Saturday; d++ {
			if pat == "DAY" {
				names = append(names, d.String())
			} else {
				names = append(names, d.String()[:3])
			}
		}
		i := try(names)
		if i < 0 {
			return pos, noMatch()
		}
		return pos + len(names[i]), nil
	case "AM", "PM", "A.M.", "P.M.":
		words := []string{"am", "pm"}
		if strings.Contains(pat, ".") {
			words = []string{"a.m.", "p.m."}
		}
		i := try(words)
		if i < 0 {
			return pos, noMatch()
		}
		p.hasMeridiem, p.pm = true, i == 1
		return pos + len(words[i]), nil
	case "AD", "BC", "A.D.", "B.C.":
		words := []string{"ad", "bc"}
		if strings.Contains(pat, ".") {
			words = []string{"a.d.", "b.c."}
		}
		i := try(words)
		if i < 0 {
			return pos, noMatch()
		}
		p.bc = i == 1
		return pos + len(words[i]), nil
	}
	return pos, pgerror.New(pgerror.CodeFeatureNotSupported, "formatting field \"%s\" is only supported in to_char", lit)
}

// toTime validates the fields and builds the instant (in UTC, the session zone, shifted by
// a parsed offset).
func (p *parsed) toTime(input string, dateOnly bool) (time.Time, error) {
	outOfRange := func() error {
		return pgerror.New(pgerror.CodeDatetimeFieldOverflow, "date/time field value out of range: \"%s\"", input)
	}
	if p.hour12 {
		if p.hour < 1 || p.hour > 12 {
			return time.Time{}, pgerror.New(pgerror.CodeInvalidDatetimeFormat, "hour \"%d\" is invalid for the 12-hour clock", p.hour).
				WithHint("Use the 24-hour clock, or give an hour between 1 and 12.")
		}
	}
	if p.hasMeridiem {
		if p.hour < 1 || p.hour > 12 {
			return time.Time{}, pgerror.New(pgerror.CodeInvalidDatetimeFormat, "hour \"%d\" is invalid for the 12-hour clock", p.hour).
				WithHint("Use the 24-hour clock, or give an hour between 1 and 12.")
		}
		if p.pm && p.hour < 12 {
			p.hour += 12
		} else if !p.pm && p.hour == 12 {
			p.hour = 0
		}
	}
	year := p.year
	if !p.hasYear && p.year == 0 {
		year = 1
	}
	if p.bc {
		year = 1 - year
	}
	var day time.Time
	switch {
	case p.julian != 0:
		day = time.Date(-4713, 11, 24, 0, 0, 0, 0, time.UTC).AddDate(0, 0, p.julian)
	case p.yday != 0:
		if p.yday < 1 || p.yday > 366 {
			return time.Time{}, outOfRange()
		}
		day = time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, p.yday-1)
		if day.Year() != year {
			return time.Time{}, outOfRange()
		}
	default:
		if p.month < 1 || p.month > 12 || p.day < 1 || p.day > 31 {
			return time.Time{}, outOfRange()
		}
		day = time.Date(year, time.Month(p.month), p.day, 0, 0, 0, 0, time.UTC)
		if day.Day() != p.day {
			return time.Time{}, outOfRange()
		}
	}
	if dateOnly {
		return day, nil
	}
	if p.hour > 24 || p.min > 59 || p.sec > 60 || p.hour == 24 && (p.min > 0 || p.sec > 0 || p.micros > 0) {
		return time.Time{}, outOfRange()
	}
	t := day.Add(time.Duration(p.hour)*time.Hour + time.Duration(p.min)*time.Minute +
		time.Duration(p.sec)*time.Second + time.Duration(p.micros)*time.Microsecond)
	return t.Add(-time.Duration(p.tzSecs) * time.Second).UTC(), nil
}
