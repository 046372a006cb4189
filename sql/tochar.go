package sql

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
)

// to_char's template patterns, for date/time values and for numbers, as PostgreSQL's
// formatting.c reads them.

// dateField is one date/time template pattern. Patterns match case-insensitively; the
// case of a name pattern's text (MONTH, Month, month) sets the case of the output.
type dateField struct {
	pat  string
	name bool // the output is a word whose case follows the pattern's
}

// toCharFields lists the patterns longest first, so that HH24 wins over HH and YYYY over YY.
var toCharFields = []dateField{
	{"Y,YYY", false}, {"YYYY", false}, {"YYY", false}, {"YY", false},
	{"IYYY", false}, {"IYY", false}, {"IY", false},
	{"HH24", false}, {"HH12", false}, {"HH", false},
	{"SSSSS", false}, {"SSSS", false}, {"SS", false},
	{"MONTH", true}, {"MON", true}, {"MI", false}, {"MM", false}, {"MS", false},
	{"DAY", true}, {"DDD", false}, {"DD", false}, {"DY", true}, {"D", false},
	{"IDDD", false}, {"ID", false}, {"IW", false}, {"I", false}, {"Y", false},
	{"A.M.", true}, {"P.M.", true}, {"AM", true}, {"PM", true},
	{"A.D.", true}, {"B.C.", true}, {"AD", true}, {"BC", true},
	{"FF1", false}, {"FF2", false}, {"FF3", false}, {"FF4", false}, {"FF5", false}, {"FF6", false},
	{"US", false}, {"WW", false}, {"W", false}, {"CC", false}, {"J", false}, {"Q", false},
	{"RM", true}, {"TZH", false}, {"TZM", false}, {"TZ", true}, {"OF", false},
}

// stampParts are the fields of a date/time value to_char prints.
type stampParts struct {
	year, month, day, hour, min, sec, micro int
	yday, wday                              int // 1-based day of year; 0 = Sunday
	zone                                    bool
	interval                                bool
}

func partsOfTime(t time.Time, zone bool) stampParts {
	t = t.UTC()
	return stampParts{year: t.Year(), month: int(t.Month()), day: t.Day(), hour: t.Hour(), min: t.Minute(),
		sec: t.Second(), micro: t.Nanosecond() / 1000, yday: t.YearDay(), wday: int(t.Weekday()), zone: zone}
}

func partsOfInterval(iv types.Interval) stampParts {
	us := iv.Micros
	p := stampParts{year: int(iv.Months / 12), month: int(iv.Months % 12), day: int(iv.Days), interval: true}
	p.hour = int(us / 3_600_000_000)
	us -= int64(p.hour) * 3_600_000_000
	p.min = int(us / 60_000_000)
	us -= int64(p.min) * 60_000_000
	p.sec = int(us / 1_000_000)
	p.micro = int(us % 1_000_000)
	return p
}

// caseLike returns word in the case the pattern text uses: all upper, capitalized or lower.
func caseLike(word, pat string) string {
	switch {
	case pat == strings.ToUpper(pat):
		return strings.ToUpper(word)
	case pat[0] >= 'A' && pat[0] <= 'Z':
		return strings.ToUpper(word[:1]) + strings.ToLower(word[1:])
	}
	return strings.ToLower(word)
}

// ordinal is the English suffix for n: st, nd, rd, th.
func ordinal(n int) string {
	if n < 0 {
		n = -n
	}
	if n%100 >= 11 && n%100 <= 13 {
		return "th"
	}
	switch n % 10 {
	case 1:
		return "st"
	case 2:
		return "nd"
	case 3:
		return "rd"
	}
	return "th"
}

var romanNumerals = []struct {
	v int
	s string
}{{1000, "M"}, {900, "CM"}, {500, "D"}, {400, "CD"}, {100, "C"}, {90, "XC"}, {50, "L"}, {40, "XL"},
	{10, "X"}, {9, "IX"}, {5, "V"}, {4, "IV"}, {1, "I"}}

func roman(n int) string {
	var sb strings.Builder
	for _, r := range romanNumerals {
		for n >= r.v {
			sb.WriteString(r.s)
			n -= r.v
		}
	}
	return sb.String()
}

// formatDateTime is to_char for a timestamp, date or interval.
func formatDateTime(p stampParts, f string) string {
	var sb strings.Builder
	for i := 0; i < len(f); {
		// Quoted text is copied; a backslash inside quotes escapes the next character.
		if f[i] == '"' {
			i++
			for i < len(f) && f[i] != '"' {
				if f[i] == '\\' && i+1 < len(f) {
					i++
				}
				sb.WriteByte(f[i])
				i++
			}
			i++
			continue
		}
		if f[i] == '\\' && i+1 < len(f) && f[i+1] == '"' {
			sb.WriteByte('"')
			i += 2
			continue
		}
		fm := false
		j := i
		for {
			up := strings.ToUpper(f[j:min(j+2, len(f))])
			if up == "FM" {
				fm, j = true, j+2
				continue
			}
			if up == "FX" || up == "TM" {
				j += 2
				continue
			}
			break
		}
		var field *dateField
		for k := range toCharFields {
			pat := toCharFields[k].pat
			if len(f)-j >= len(pat) && strings.EqualFold(f[j:j+len(pat)], pat) {
				field = &toCharFields[k]
				break
			}
		}
		if field == nil {
			if j > i { // FM or FX with nothing after it
				i = j
				continue
			}
			sb.WriteByte(f[i])
			i++
			continue
		}
		src := f[j : j+len(field.pat)]
		j += len(field.pat)
		out, num := dateFieldText(p, strings.ToUpper(field.pat), src, fm)
		// A TH or th suffix follows a number with its ordinal ending.
		if j+2 <= len(f) && strings.EqualFold(f[j:j+2], "TH") && num >= 0 && !field.name {
			suf := ordinal(num)
			if f[j:j+2] == "TH" {
				suf = strings.ToUpper(suf)
			}
			out += suf
			j += 2
		}
		sb.WriteString(out)
		i = j
	}
	return sb.String()
}

// dateFieldText renders one pattern; num is the number printed, for a TH suffix, or -1.
func dateFieldText(p stampParts, pat, src string, fm bool) (string, int) {
	pad := func(v, width int) (string, int) {
		if fm {
			return strconv.Itoa(v), v
		}
		if v < 0 {
			return "-" + fmt.Sprintf("%0*d", width, -v), v
		}
		return fmt.Sprintf("%0*d", width, v), v
	}
	// PostgreSQL's year 0 does not exist: Go's year 0 is 1 BC.
	year, bc := p.year, false
	if year <= 0 && !p.interval {
		year, bc = 1-year, true
	}
	isoYear, isoWeek := isoWeekOf(p)
	word := func(w string, width int) (string, int) {
		w = caseLike(w, src)
		if !fm {
			w = fmt.Sprintf("%-*s", width, w)
		}
		return w, -1
	}
	switch pat {
	case "Y,YYY":
		s := strconv.Itoa(year)
		if year >= 1000 {
			s = strconv.Itoa(year/1000) + "," + fmt.Sprintf("%03d", year%1000)
		}
		return s, year
	case "YYYY":
		return pad(year, 4)
	case "YYY":
		return pad(year%1000, 3)
	case "YY":
		return pad(year%100, 2)
	case "Y":
		return pad(year%10, 1)
	case "IYYY":
		return pad(isoYear, 4)
	case "IYY":
		return pad(isoYear%1000, 3)
	case "IY":
		return pad(isoYear%100, 2)
	case "I":
		return pad(isoYear%10, 1)
	case "HH24":
		return pad(p.hour, 2)
	case "HH12", "HH":
		h := p.hour % 12
		if h == 0 && !p.interval {
			h = 12
		}
		return pad(h, 2)
	case "MI":
		return pad(p.min, 2)
	case "SS":
		return pad(p.sec, 2)
	case "SSSS", "SSSSS":
		v := p.hour*3600 + p.min*60 + p.sec
		return strconv.Itoa(v), v
	case "MS":
		return pad(p.micro/1000, 3)
	case "US":
		return pad(p.micro, 6)
	case "FF1", "FF2", "FF3", "FF4", "FF5", "FF6":
		n := int(pat[2] - '0')
		v := p.micro / int(math.Pow10(6-n))
		return fmt.Sprintf("%0*d", n, v), v
	case "AM", "PM":
		if p.hour >= 12 {
			return caseLike("PM", src), -1
		}
		return caseLike("AM", src), -1
	case "A.M.", "P.M.":
		if p.hour >= 12 {
			return caseLike("P.M.", src), -1
		}
		return caseLike("A.M.", src), -1
	case "AD", "BC":
		if bc {
			return caseLike("BC", src), -1
		}
		return caseLike("AD", src), -1
	case "A.D.", "B.C.":
		if bc {
			return caseLike("B.C.", src), -1
		}
		return caseLike("A.D.", src), -1
	case "MONTH":
		if p.month < 1 {
			return "", -1
		}
		return word(time.Month(p.month).String(), 9)
	case "MON":
		if p.month < 1 {
			return "", -1
		}
		return caseLike(time.Month(p.month).String()[:3], src), -1
	case "MM":
		return pad(p.month, 2)
	case "DAY":
		return word(time.Weekday(p.wday).String(), 9)
	case "DY":
		return caseLike(time.Weekday(p.wday).String()[:3], src), -1
	case "DDD":
		return pad(p.yday, 3)
	case "IDDD":
		wd := (p.wday+6)%7 + 1
		return pad((isoWeek-1)*7+wd, 3)
	case "DD":
		return pad(p.day, 2)
	case "D":
		return pad(p.wday+1, 1)
	case "ID":
		return pad((p.wday+6)%7+1, 1)
	case "IW":
		return pad(isoWeek, 2)
	case "WW":
		return pad((p.yday-1)/7+1, 2)
	case "W":
		return pad((p.day-1)/7+1, 1)
	case "CC":
		cc := (year + 99) / 100
		if bc {
			cc = -cc
		}
		return pad(cc, 2)
	case "J":
		v := julianDay(p.year, p.month, p.day)
		return strconv.Itoa(v), v
	case "Q":
		if p.month < 1 {
			return "", -1
		}
		return pad((p.month-1)/3+1, 1)
	case "RM":
		if p.month < 1 {
			return "", -1
		}
		r := caseLike(roman(p.month), src)
		if !fm {
			r = fmt.Sprintf("%-4s", r)
		}
		return r, -1
	case "TZ":
		if p.zone {
			return caseLike("UTC", src), -1
		}
		return "", -1
	case "TZH":
		return "+00", -1
	case "TZM":
		return "00", -1
	case "OF":
		return "+00", -1
	}
	return "", -1
}

// isoWeekOf returns the ISO 8601 year and week of a date.
func isoWeekOf(p stampParts) (year, week int) {
	if p.interval {
		return 0, 0
	}
	return time.Date(p.year, time.Month(p.month), p.day, 0, 0, 0, 0, time.UTC).ISOWeek()
}

// julianDay is the Julian day number of a proleptic Gregorian date.
func julianDay(y, m, d int) int {
	a := (14 - m) / 12
	yy := y + 4800 - a
	mm := m + 12*a - 3
	return d + (153*mm+2)/5 + 365*yy + yy/4 - yy/100 + yy/400 - 32045
}

// numFormat is a parsed number template.
type numFormat struct {
	items     []numItem
	pre, post int // digit positions before and after the decimal point
	zeroStart int // 0-based position of the first 0 before the point, or -1
	zeroEnd   int // 1-based position of the last 0, or 0
	decimal   bool
	fm        bool
	bracket   bool // PR
	lsign     int  // S: 0 none, 1 before the digits, 2 after
	plus      bool // PL or SG
	minus     bool // MI or SG
	roman     bool
	eeee      bool
	multi     int // digits after V
}

type numItem struct {
	kind byte   // '9', '0', '.', ',', 'S', 'M' (MI), 'P' (PL), 'G' (SG), 'R' (PR), 'L', 'N' (RN), 'T' (TH), 't' (th), 0 literal
	text string // for literals
}

func numFormatError(msg string) error {
	return pgerror.New(pgerror.CodeSyntaxError, "%s", msg)
}

// parseNumFormat reads a number template.
func parseNumFormat(f string) (*numFormat, error) {
	nf := &numFormat{zeroStart: -1}
	afterV := false
	for i := 0; i < len(f); {
		up := strings.ToUpper(f[i:min(i+4, len(f))])
		switch {
		case f[i] == '9' || f[i] == '0':
			if nf.bracket {
				return nil, numFormatError("\"9\" must be ahead of \"PR\"")
			}
			if afterV {
				nf.multi++
				i++
				continue
			}
			if f[i] == '0' && nf.zeroStart < 0 && !nf.decimal {
				nf.zeroStart = nf.pre
			}
			if nf.decimal {
				nf.post++
			} else {
				nf.pre++
			}
			if f[i] == '0' {
				nf.zeroEnd = nf.pre + nf.post
			}
			nf.items = append(nf.items, numItem{kind: f[i]})
			i++
		case f[i] == '.' || f[i] == 'D' || f[i] == 'd':
			if nf.decimal {
				return nil, numFormatError("multiple decimal points")
			}
			if afterV {
				return nil, numFormatError("cannot use \"V\" and decimal point together")
			}
			nf.decimal = true
			nf.items = append(nf.items, numItem{kind: '.'})
			i++
		case f[i] == ',' || f[i] == 'G' || f[i] == 'g':
			nf.items = append(nf.items, numItem{kind: ','})
			i++
		case strings.HasPrefix(up, "FM"):
			nf.fm = true
			i += 2
		case strings.HasPrefix(up, "PR"):
			nf.bracket = true
			nf.items = append(nf.items, numItem{kind: 'R'})
			i += 2
		case strings.HasPrefix(up, "MI"):
			nf.minus = true
			nf.items = append(nf.items, numItem{kind: 'M'})
			i += 2
		case strings.HasPrefix(up, "PL"):
			nf.plus = true
			nf.items = append(nf.items, numItem{kind: 'P'})
			i += 2
		case strings.HasPrefix(up, "SG"):
			nf.plus, nf.minus = true, true
			nf.items = append(nf.items, numItem{kind: 'G'})
			i += 2
		case strings.HasPrefix(up, "RN"):
			nf.roman = true
			nf.items = append(nf.items, numItem{kind: 'N'})
			i += 2
		case strings.HasPrefix(up, "TH"):
			k := byte('T')
			if f[i] == 't' {
				k = 't'
			}
			nf.items = append(nf.items, numItem{kind: k})
			i += 2
		case up == "EEEE":
			nf.eeee = true
			i += 4
		case f[i] == 'S' || f[i] == 's':
			if nf.lsign != 0 {
				return nil, numFormatError("cannot use \"S\" twice")
			}
			nf.lsign = 1
			if nf.pre+nf.post > 0 {
				nf.lsign = 2
			}
			nf.items = append(nf.items, numItem{kind: 'S'})
			i++
		case f[i] == 'L' || f[i] == 'l':
			nf.items = append(nf.items, numItem{kind: 'L'})
			i++
		case f[i] == 'V' || f[i] == 'v':
			if nf.decimal {
				return nil, numFormatError("cannot use \"V\" and decimal point together")
			}
			afterV = true
			i++
		case f[i] == '"':
			j := i + 1
			var sb strings.Builder
			for j < len(f) && f[j] != '"' {
				if f[j] == '\\' && j+1 < len(f) {
					j++
				}
				sb.WriteByte(f[j])
				j++
			}
			nf.items = append(nf.items, numItem{text: sb.String()})
			i = j + 1
		default:
			nf.items = append(nf.items, numItem{text: f[i : i+1]})
			i++
		}
	}
	if nf.lsign != 0 && (nf.plus || nf.minus) {
		return nil, numFormatError("cannot use \"S\" and \"PL\"/\"MI\"/\"SG\"/\"PR\" together")
	}
	if nf.lsign != 0 && nf.bracket {
		return nil, numFormatError("cannot use \"S\" and \"PR\" together")
	}
	return nf, nil
}

// formatNumber is to_char for a number. digits is the value's decimal text rounded to
// nf.post places (without sign), neg its sign; it is what PostgreSQL feeds its template
// processor.
func formatNumber(nf *numFormat, digits string, neg bool) string {
	pre := nf.pre + nf.multi
	intLen := len(digits)
	if p := strings.IndexByte(digits, '.'); p >= 0 {
		intLen = p
	}
	outPreSpaces := 0
	switch {
	case intLen < pre:
		outPreSpaces = pre - intLen
	case intLen > pre:
		digits = strings.Repeat("#", pre) + "." + strings.Repeat("#", nf.post)
	}
	sign := byte('+')
	if neg {
		sign = '-'
	}
	// In fill mode, trailing fraction zeros after the last significant digit are dropped,
	// except where the template has 0s.
	lastRelevant := -1
	if nf.fm && nf.decimal {
		if p := strings.IndexByte(digits, '.'); p >= 0 {
			lastRelevant = p
			for k := len(digits) - 1; k > p; k-- {
				if digits[k] != '0' {
					lastRelevant = k
					break
				}
			}
			if nf.zeroEnd > outPreSpaces {
				lz := min(len(digits)-1, nf.zeroEnd-outPreSpaces)
				lastRelevant = max(lastRelevant, lz)
			}
		}
	}
	bracket := nf.bracket
	signWrote := false
	switch {
	case nf.plus || nf.minus:
		// MI, PL and SG place the sign themselves; only a negative number under PL alone
		// still needs its minus sign before the digits.
		signWrote = nf.minus || sign == '+'
	default:
		if sign != '-' && nf.fm {
			bracket = false
		}
		signWrote = sign == '+' && nf.fm && nf.lsign == 0
	}
	lsign := nf.lsign
	if lsign == 1 && nf.pre == 0 {
		lsign = 2
	}
	isZero := nf.zeroStart >= 0
	var out strings.Builder
	numIdx, numCurr := 0, 0
	numIn := false
	total := 0 // the digit and point positions, to know the last one
	for _, it := range nf.items {
		if it.kind == '9' || it.kind == '0' || it.kind == '.' {
			total++
		}
	}
	total += nf.multi
	predecSpace := func() bool {
		return !isZero && numIdx == 0 && len(digits) > 0 && digits[0] == '0' && nf.post != 0
	}
	writeSign := func() {
		if signWrote {
			return
		}
		if !(numCurr >= outPreSpaces || isZero && nf.zeroStart == numCurr) ||
			predecSpace() && !(lastRelevant >= 0 && digits[lastRelevant] == '.') {
			return
		}
		switch {
		case lsign == 1:
			out.WriteByte(sign)
			signWrote = true
		case lsign == 2:
		case bracket:
			if sign == '+' {
				out.WriteByte(' ')
			} else {
				out.WriteByte('<')
			}
			signWrote = true
		case sign == '+':
			if !nf.fm {
				out.WriteByte(' ')
			}
			signWrote = true
		default:
			out.WriteByte('-')
			signWrote = true
		}
	}
	digitPos := func(kind byte) {
		writeSign()
		switch {
		case numCurr < outPreSpaces && (nf.zeroStart > numCurr || !isZero):
			if !nf.fm {
				out.WriteByte(' ')
			}
		case isZero && numCurr < outPreSpaces && nf.zeroStart <= numCurr:
			out.WriteByte('0')
			numIn = true
		default:
			if numIdx < len(digits) && digits[numIdx] == '.' {
				out.WriteByte('.')
			} else {
				switch {
				case lastRelevant >= 0 && numIdx > lastRelevant && kind != '0':
				case predecSpace():
					if !nf.fm {
						out.WriteByte(' ')
					} else if lastRelevant >= 0 && digits[lastRelevant] == '.' {
						out.WriteByte('0')
					}
				case numIdx < len(digits):
					out.WriteByte(digits[numIdx])
					numIn = true
				}
			}
			if numIdx < len(digits) {
				numIdx++
			}
		}
		last := total - 1
		if lastRelevant >= 0 && numIdx-1 == lastRelevant && numIdx <= len(digits) {
			last = numCurr
		}
		if numCurr == last {
			switch {
			case signWrote && bracket:
				if sign == '+' {
					out.WriteByte(' ')
				} else {
					out.WriteByte('>')
				}
			case lsign == 2:
				out.WriteByte(sign)
			}
		}
		numCurr++
	}
	for _, it := range nf.items {
		switch it.kind {
		case '9', '0', '.':
			digitPos(it.kind)
			if it.kind != '.' && numCurr == nf.pre && nf.multi > 0 {
				for k := 0; k < nf.multi; k++ {
					digitPos('9')
				}
			}
		case ',':
			switch {
			case numIn:
				out.WriteByte(',')
			case !nf.fm:
				out.WriteByte(' ')
			}
		case 'M':
			switch {
			case sign == '-':
				out.WriteByte('-')
			case !nf.fm:
				out.WriteByte(' ')
			}
		case 'P':
			switch {
			case sign == '+':
				out.WriteByte('+')
			case !nf.fm:
				out.WriteByte(' ')
			}
		case 'G':
			out.WriteByte(sign)
		case 'L':
			out.WriteByte(' ')
		case 'T', 't':
			if digits != "" && digits[0] != '#' && !neg && !nf.decimal {
				n, _ := strconv.Atoi(digits[max(len(digits)-2, 0):])
				suf := ordinal(n)
				if it.kind == 'T' {
					suf = strings.ToUpper(suf)
				}
				out.WriteString(suf)
			}
		case 'S', 'R', 'N':
		default:
			out.WriteString(it.text)
		}
	}
	return out.String()
}

// toCharNumber formats d (int64, float64 or *apd.Decimal) with the template f.
func toCharNumber(d types.Datum, f string) (string, error) {
	nf, err := parseNumFormat(f)
	if err != nil {
		return "", err
	}
	if nf.roman {
		return toCharRoman(d, nf), nil
	}
	if nf.eeee {
		return toCharSci(d, nf)
	}
	// The value rounded to the template's fraction digits, as text without sign.
	var digits string
	var neg bool
	switch v := d.(type) {
	case int64:
		neg = v < 0
		digits = strconv.FormatUint(absU(v), 10)
		if nf.multi > 0 {
			digits += strings.Repeat("0", nf.multi)
		}
		if nf.post > 0 {
			digits += "." + strings.Repeat("0", nf.post)
		}
	case float64:
		if nf.multi > 0 {
			v *= math.Pow10(nf.multi)
		}
		post := nf.post
		// A double has only 15 reliable digits; PostgreSQL shows no more.
		whole := len(strconv.FormatFloat(math.Abs(v), 'f', 0, 64))
		if whole >= 15 {
			post = 0
		} else if whole+post > 15 {
			post = 15 - whole
		}
		s := strconv.FormatFloat(v, 'f', post, 64)
		neg = strings.HasPrefix(s, "-")
		digits = strings.TrimPrefix(s, "-")
		if post < nf.post {
			if post == 0 {
				digits += "."
			}
			digits += strings.Repeat("0", nf.post-post)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			digits = strings.Repeat("#", nf.pre) + "." + strings.Repeat("#", nf.post)
		}
	case *apd.Decimal:
		x := v
		if nf.multi > 0 && x.Form == apd.Finite {
			x = new(apd.Decimal).Set(v)
			x.Exponent += int32(nf.multi)
		}
		r, err := types.RoundNumeric(x, int64(nf.post))
		if err != nil {
			return "", err
		}
		s := string(types.AppendText(nil, types.Numeric, r))
		neg = strings.HasPrefix(s, "-")
		digits = strings.TrimPrefix(s, "-")
		if r.Form != apd.Finite {
			digits = strings.Repeat("#", nf.pre) + "." + strings.Repeat("#", nf.post)
		}
	}
	if !nf.decimal {
		if p := strings.IndexByte(digits, '.'); p >= 0 {
			digits = digits[:p]
		}
	}
	return formatNumber(nf, digits, neg), nil
}

// toCharRoman is the RN pattern: 1 to 3999 in Roman numerals, right-aligned in 15
// characters unless FM.
func toCharRoman(d types.Datum, nf *numFormat) string {
	var n int64
	switch v := d.(type) {
	case int64:
		n = v
	case float64:
		n = int64(math.RoundToEven(v))
	case *apd.Decimal:
		r, err := types.RoundNumeric(v, 0)
		if err == nil {
			n, _ = r.Int64()
		}
	}
	s := strings.Repeat("#", 15)
	if n >= 1 && n <= 3999 {
		s = roman(int(n))
	}
	if !nf.fm {
		s = fmt.Sprintf("%15s", s)
	}
	return s
}

// toCharSci is the EEEE pattern: scientific notation with the template's fraction digits.
func toCharSci(d types.Datum, nf *numFormat) (string, error) {
	var f float64
	switch v := d.(type) {
	case int64:
		f = float64(v)
	case float64:
		f = v
	case *apd.Decimal:
		f, _ = v.Float64()
	}
	s := strconv.FormatFloat(f, 'e', nf.post, 64)
	if !strings.HasPrefix(s, "-") {
		s = " " + s
	}
	return s, nil
}
