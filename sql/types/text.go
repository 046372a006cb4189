package types

import (
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"

	"github.com/meridiandb/meridian/sql/pgerror"
)

// AppendText appends d's PostgreSQL text output form (DateStyle ISO, TimeZone UTC,
// extra_float_digits 1) for type t. d must not be nil.
func AppendText(b []byte, t T, d Datum) []byte {
	return AppendTextWith(b, t, d, DefaultSettings)
}

// AppendTextWith is AppendText under the session settings st: timestamptz values print in
// its time zone, floats with its extra_float_digits, bytea in its bytea_output.
func AppendTextWith(b []byte, t T, d Datum, st *Settings) []byte {
	switch v := d.(type) {
	case bool:
		if v {
			return append(b, 't')
		}
		return append(b, 'f')
	case int64:
		return strconv.AppendInt(b, v, 10)
	case float64:
		if st != nil && st.ExtraFloatDigits <= 0 {
			return appendRoundedFloat(b, v, t.isFloat4(), st.ExtraFloatDigits)
		}
		return appendFloat(b, v, t.isFloat4())
	case *apd.Decimal:
		return appendDecimal(b, v)
	case string:
		b = append(b, v...)
		if t.Family == StringFamily && t.StringKind == Char && t.Width > 0 {
			for n := utf8.RuneCountInString(v); n < int(t.Width); n++ {
				b = append(b, ' ')
			}
		}
		return b
	case []byte:
		if st != nil && st.ByteaEscape {
			return appendEscapedBytea(b, v)
		}
		b = append(b, `\x`...)
		return hex.AppendEncode(b, v)
	case time.Time:
		f := t.Family
		if !isTime(f) {
			f = TimestampTZFamily // an instant of unknown type: say so with the zone
		}
		return appendDateTimeIn(b, f, v, st.location())
	case UUID:
		var buf [36]byte
		hex.Encode(buf[0:8], v[0:4])
		hex.Encode(buf[9:13], v[4:6])
		hex.Encode(buf[14:18], v[6:8])
		hex.Encode(buf[19:23], v[8:10])
		hex.Encode(buf[24:], v[10:])
		buf[8], buf[13], buf[18], buf[23] = '-', '-', '-', '-'
		return append(b, buf[:]...)
	case TimeOfDay:
		return appendTimeOfDay(b, v)
	case Interval:
		return appendInterval(b, v)
	case JSON:
		return AppendJSON(b, v)
	case Array:
		return appendArray(b, t, v, st)
	case Oid:
		return appendOid(b, t, v)
	case Record:
		return appendRecord(b, t, v, st)
	}
	// Datums are produced by this package, so another Go type is a programming error upstream;
	// printing it beats crashing a server holding other sessions.
	return append(b, "?"...)
}

// appendFloat writes the shortest text that reads back as the same value, as PostgreSQL 12+
// does with extra_float_digits > 0: positional for decimal exponents in [-4, 15) (or [-4, 6)
// for real), otherwise d.ddde±XX with at least two exponent digits.
func appendFloat(b []byte, f float64, float4 bool) []byte {
	if name, ok := nonFiniteFloat(f); ok {
		return append(b, name...)
	}
	bits, fixedMax := 64, 15
	if float4 {
		bits, fixedMax = 32, 6
	}
	if f == 0 {
		if math.Signbit(f) {
			return append(b, "-0"...)
		}
		return append(b, '0')
	}
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, bits)
	i := strings.LastIndexByte(string(e), 'e')
	exp, _ := strconv.Atoi(string(e[i+1:]))
	if exp >= -4 && exp < fixedMax {
		return strconv.AppendFloat(b, f, 'f', -1, bits)
	}
	// Go already writes "e+06" style exponents with at least two digits.
	return append(b, e...)
}

// nonFiniteFloat is PostgreSQL's spelling of a NaN or infinite f; ok is false for the
// finite ones.
func nonFiniteFloat(f float64) (name string, ok bool) {
	switch {
	case math.IsNaN(f):
		return "NaN", true
	case math.IsInf(f, 1):
		return "Infinity", true
	case math.IsInf(f, -1):
		return "-Infinity", true
	}
	return "", false
}

// appendRoundedFloat writes f as PostgreSQL does with extra_float_digits <= 0: rounded to 15
// (real: 6) plus extra significant digits, in C's %g form, which Go's 'g' format matches.
func appendRoundedFloat(b []byte, f float64, float4 bool, extra int) []byte {
	if name, ok := nonFiniteFloat(f); ok {
		return append(b, name...)
	}
	digits, bits := 15+extra, 64
	if float4 {
		digits, bits = 6+extra, 32
	}
	return strconv.AppendFloat(b, f, 'g', max(digits, 1), bits)
}

// appendEscapedBytea is bytea_output = escape: printable ASCII as is, a backslash doubled,
// every other byte as a three-digit octal escape.
func appendEscapedBytea(b []byte, v []byte) []byte {
	for _, c := range v {
		switch {
		case c == '\\':
			b = append(b, `\\`...)
		case c < 0x20 || c > 0x7e:
			b = append(b, '\\', '0'+c>>6, '0'+c>>3&7, '0'+c&7)
		default:
			b = append(b, c)
		}
	}
	return b
}

func invalidText(t T, s string) error {
	return pgerror.New(pgerror.CodeInvalidTextRepresent, `invalid input syntax for type %s: "%s"`, t.String(), s)
}

// ParseText parses PostgreSQL's text input form of a value of type t, enforcing t's modifiers
// as an input function does (a too-long varchar(n) value is an error, numeric(p,s) rounds).
func ParseText(t T, s string) (Datum, error) {
	return ParseTextWith(t, s, DefaultSettings)
}

// ParseTextWith is ParseText under the session settings st: a timestamptz written without a
// zone is a time in st's time zone.
func ParseTextWith(t T, s string, st *Settings) (Datum, error) {
	switch t.Family {
	case BoolFamily:
		return parseBool(s)
	case IntFamily:
		return parseInt(t, s)
	case FloatFamily:
		return parseFloat(t, s)
	case DecimalFamily:
		d, err := parseDecimal(s)
		if err != nil {
			return nil, err
		}
		return decimalDatum(fitDecimal(t, d))
	case StringFamily:
		return fitString(t, s, false)
	case BytesFamily:
		return parseBytea(s)
	case DateFamily, TimestampFamily, TimestampTZFamily:
		return parseDateTimeIn(t.Family, s, st.location())
	case UUIDFamily:
		return parseUUID(s)
	case TimeFamily:
		return ParseTimeOfDay(s)
	case IntervalFamily:
		return ParseInterval(s)
	case JSONBFamily:
		return ParseJSON(s)
	case JSONFamily:
		// json keeps the text as given, once it is known to be JSON.
		if _, err := ParseJSON(s); err != nil {
			return nil, err
		}
		return s, nil
	case ArrayFamily:
		return parseArray(t, s, st)
	case OIDFamily:
		return parseOid(t, s)
	case UnknownFamily:
		return s, nil
	}
	return nil, pgerror.Unsupported("values of type " + t.String())
}

// parseBool accepts what PostgreSQL's boolin does: any unambiguous prefix of true, false, yes
// or no, on/off (at least two letters), and 1/0, case-insensitively and ignoring blanks.
func parseBool(s string) (Datum, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	if v != "" {
		switch {
		case strings.HasPrefix("true", v), strings.HasPrefix("yes", v), v == "on", v == "1":
			return true, nil
		case strings.HasPrefix("false", v), strings.HasPrefix("no", v), len(v) >= 2 && strings.HasPrefix("off", v), v == "0":
			return false, nil
		}
	}
	return nil, invalidText(Bool, s)
}

// parseInt accepts PostgreSQL 16's integer input: surrounding blanks, a sign, decimal digits
// with single underscores between them, or a 0x/0o/0b prefixed literal.
func parseInt(t T, s string) (Datum, error) {
	str := strings.TrimSpace(s)
	body := strings.TrimLeft(str, "+-")
	var v int64
	var err error
	if len(body) > 1 && body[0] == '0' && strings.ContainsRune("xXoObB", rune(body[1])) {
		if len(str)-len(body) > 1 {
			return nil, invalidText(t, s)
		}
		v, err = strconv.ParseInt(str, 0, 64)
	} else {
		digits, ok := stripUnderscores(str)
		if !ok {
			return nil, invalidText(t, s)
		}
		v, err = strconv.ParseInt(digits, 10, 64)
	}
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return nil, intInputRange(t, s)
		}
		return nil, invalidText(t, s)
	}
	if !intFits(t, v) {
		return nil, intInputRange(t, s)
	}
	return v, nil
}

func intInputRange(t T, s string) error {
	return pgerror.New(pgerror.CodeNumericValueOutOfRange, `value "%s" is out of range for type %s`, s, t.String())
}

// stripUnderscores removes digit-group underscores, which must sit between two digits.
func stripUnderscores(s string) (string, bool) {
	if !strings.Contains(s, "_") {
		return s, true
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '_' {
			if i == 0 || i == len(s)-1 || !isDigit(s[i-1]) || !isDigit(s[i+1]) {
				return "", false
			}
			continue
		}
		sb.WriteByte(s[i])
	}
	return sb.String(), true
}

// intFits reports whether v is in range for t's width.
func intFits(t T, v int64) bool {
	switch t.intWidth() {
	case 16:
		return v >= math.MinInt16 && v <= math.MaxInt16
	case 32:
		return v >= math.MinInt32 && v <= math.MaxInt32
	}
	return true
}

// parseFloat is float4in/float8in: strtod syntax plus the Infinity and NaN spellings, with
// overflow and underflow to zero reported as out of range.
func parseFloat(t T, s string) (Datum, error) {
	str := strings.TrimSpace(s)
	switch strings.ToLower(str) {
	case "nan", "+nan", "-nan":
		return math.NaN(), nil
	case "infinity", "+infinity", "inf", "+inf":
		return math.Inf(1), nil
	case "-infinity", "-inf":
		return math.Inf(-1), nil
	}
	if strings.ContainsRune(str, '_') {
		return nil, invalidText(t, s) // strtod has no digit separators
	}
	bits := 64
	if t.isFloat4() {
		bits = 32
	}
	f, err := strconv.ParseFloat(str, bits)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return nil, floatInputRange(t, s)
		}
		return nil, invalidText(t, s)
	}
	if f == 0 && hasNonZeroMantissa(str) {
		return nil, floatInputRange(t, s)
	}
	return f, nil
}

func floatInputRange(t T, s string) error {
	return pgerror.New(pgerror.CodeNumericValueOutOfRange, `"%s" is out of range for type %s`, s, t.String())
}

// hasNonZeroMantissa reports whether a decimal float literal has a non-zero digit before its
// exponent, i.e. whether a zero result means it underflowed.
func hasNonZeroMantissa(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == 'e' || c == 'E' || c == 'p' || c == 'P':
			return false
		case c >= '1' && c <= '9':
			return true
		}
	}
	return false
}

// parseDecimal is numeric_in without the type modifier: blanks, NaN and the infinities in any
// case, and decimal or exponent notation with PostgreSQL 16's digit-group underscores.
func parseDecimal(s string) (*apd.Decimal, error) {
	str := strings.TrimSpace(s)
	switch strings.ToLower(str) {
	case "nan":
		return numericNaN(), nil
	case "infinity", "+infinity", "inf", "+inf":
		return numericInf(false), nil
	case "-infinity", "-inf":
		return numericInf(true), nil
	}
	digits, ok := stripUnderscores(str)
	if !ok {
		return nil, invalidText(Numeric, s)
	}
	if !isDecimalLiteral(digits) {
		return nil, invalidText(Numeric, s)
	}
	d, _, err := apd.NewFromString(digits)
	if err != nil {
		return nil, numericOverflow() // well-formed, so only the exponent can be at fault
	}
	return normDecimal(d)
}

// isDecimalLiteral reports whether s is [+-]digits[.digits][e[+-]digits] with at least one
// mantissa digit, the syntax numeric_in accepts.
func isDecimalLiteral(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	mantissa := 0
	for ; i < len(s) && isDigit(s[i]); i++ {
		mantissa++
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && isDigit(s[i]); i++ {
			mantissa++
		}
	}
	if mantissa == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		for ; i < len(s) && isDigit(s[i]); i++ {
		}
		if i == start {
			return false
		}
	}
	return i == len(s)
}

// fitString applies a string type's length to s. Input and assignment reject a value that is
// too long unless the excess is only blanks; an explicit cast truncates silently. Values of
// char(n) are kept without trailing blanks, which PostgreSQL treats as insignificant.
func fitString(t T, s string, explicit bool) (Datum, error) {
	if err := checkUTF8(s); err != nil {
		return nil, err
	}
	if t.StringKind == Char {
		s = strings.TrimRight(s, " ")
	}
	if t.StringKind == Text || t.Width <= 0 {
		return s, nil
	}
	n := 0
	for i := range s {
		if n == int(t.Width) {
			if !explicit && strings.TrimRight(s[i:], " ") != "" {
				return nil, pgerror.New(pgerror.CodeStringDataRightTrunc, "value too long for type %s", t.String())
			}
			s = s[:i]
			if t.StringKind == Char {
				s = strings.TrimRight(s, " ")
			}
			break
		}
		n++
	}
	return s, nil
}

// checkUTF8 rejects what a UTF8 database cannot store: invalid sequences and NUL.
func checkUTF8(s string) error {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == 0 || r == utf8.RuneError && size <= 1 {
			return pgerror.New(pgerror.CodeCharacterNotInRepertoire, `invalid byte sequence for encoding "UTF8": 0x%02x`, s[i])
		}
		i += size
	}
	return nil
}

// parseBytea is byteain: the hex form \x... (blanks allowed between digit pairs) or the escape
// form, where a backslash starts \\ or a three-digit octal escape.
func parseBytea(s string) (Datum, error) {
	if len(s) >= 2 && s[0] == '\\' && (s[1] == 'x' || s[1] == 'X') {
		return parseHexBytea(s[2:])
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] != '\\':
			out = append(out, s[i])
		case i+1 < len(s) && s[i+1] == '\\':
			out = append(out, '\\')
			i++
		case i+3 < len(s) && s[i+1] >= '0' && s[i+1] <= '3' && isOctal(s[i+2]) && isOctal(s[i+3]):
			out = append(out, (s[i+1]-'0')<<6|(s[i+2]-'0')<<3|(s[i+3]-'0'))
			i += 3
		default:
			return nil, pgerror.New(pgerror.CodeInvalidTextRepresent, "invalid input syntax for type bytea")
		}
	}
	return out, nil
}

func parseHexBytea(s string) (Datum, error) {
	out := make([]byte, 0, len(s)/2)
	for i := 0; i < len(s); {
		if c := s[i]; c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			i++
			continue
		}
		hi, ok := unhex(s[i])
		if !ok {
			return nil, badHexDigit(s[i:])
		}
		if i+1 >= len(s) {
			return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "invalid hexadecimal data: odd number of digits")
		}
		lo, ok := unhex(s[i+1])
		if !ok {
			return nil, badHexDigit(s[i+1:])
		}
		out = append(out, hi<<4|lo)
		i += 2
	}
	return out, nil
}

func badHexDigit(rest string) error {
	_, n := utf8.DecodeRuneInString(rest)
	return pgerror.New(pgerror.CodeInvalidParameterValue, `invalid hexadecimal digit: "%s"`, rest[:n])
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// parseUUID is uuid_in: 32 hex digits in either case, optionally in braces, with a hyphen
// allowed after any group of four digits.
func parseUUID(s string) (Datum, error) {
	str := s
	if strings.HasPrefix(str, "{") {
		if !strings.HasSuffix(str, "}") {
			return nil, invalidText(UUIDType, s)
		}
		str = str[1 : len(str)-1]
	}
	var u UUID
	n := 0
	for i := 0; i < len(str); i++ {
		if str[i] == '-' && n > 0 && n%4 == 0 && n < 32 && i+1 < len(str) && str[i+1] != '-' {
			continue
		}
		v, ok := unhex(str[i])
		if !ok || n == 32 {
			return nil, invalidText(UUIDType, s)
		}
		if n%2 == 0 {
			u[n/2] = v << 4
		} else {
			u[n/2] |= v
		}
		n++
	}
	if n != 32 {
		return nil, invalidText(UUIDType, s)
	}
	return u, nil
}
