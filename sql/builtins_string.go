package sql

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
)

// The string functions of PostgreSQL's "String Functions and Operators" and "Binary String
// Functions" chapters. Lengths and positions count characters, not bytes.

// maxStringBytes is PostgreSQL's limit on one value (1 GB less the header); functions that
// build strings check it before allocating.
const maxStringBytes = 1<<30 - 1

var (
	text  = types.String
	int4  = types.Int4
	int8  = types.Int8
	bytea = types.Bytes
)

func init() {
	// Not folded: how a timestamptz or float argument reads depends on the session.
	register("concat", overload{params: []types.T{anyType}, variadic: true, ret: text, nullCall: true, volatile: true, fn: concatFn})
	register("concat_ws", overload{params: []types.T{text, anyType}, variadic: true, ret: text, nullCall: true, volatile: true, fn: concatWS})
	register("repeat", sig(text, repeatFn, text, int4))
	register("lpad", sig(text, padFn(true), text, int4), sig(text, padFn(true), text, int4, text))
	register("rpad", sig(text, padFn(false), text, int4), sig(text, padFn(false), text, int4, text))
	register("left", sig(text, leftRight(true), text, int4))
	register("right", sig(text, leftRight(false), text, int4))
	register("reverse", sig(text, func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		r := []rune(v[0].(string))
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
		return string(r), nil
	}, text))
	for _, name := range []string{"substr", "substring"} {
		register(name, sig(text, substrFn, text, int4), sig(text, substrFn, text, int4, int4),
			sig(bytea, substrFn, bytea, int4), sig(bytea, substrFn, bytea, int4, int4))
	}
	// substring(s FROM pattern) is the POSIX regular expression form.
	register("substring", sig(text, regexpSubstring, text, text))
	// position(sub IN s) reaches here as position(sub, s); strpos takes them the other way.
	register("position", sig(int4, func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		return strpos(v[1], v[0]), nil
	}, text, text), sig(int4, func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		return strpos(v[1], v[0]), nil
	}, bytea, bytea))
	register("strpos", sig(int4, func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		return strpos(v[0], v[1]), nil
	}, text, text))
	register("replace", sig(text, func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		s, from, to := v[0].(string), v[1].(string), v[2].(string)
		if from == "" {
			return s, nil
		}
		return strings.ReplaceAll(s, from, to), nil
	}, text, text, text))
	register("translate", sig(text, translateFn, text, text, text))
	register("split_part", sig(text, splitPart, text, text, int4))
	register("initcap", sig(text, initcap, text))
	register("btrim", sig(text, trimFn(true, true), text), sig(text, trimFn(true, true), text, text))
	register("ltrim", sig(text, trimFn(true, false), text), sig(text, trimFn(true, false), text, text))
	register("rtrim", sig(text, trimFn(false, true), text), sig(text, trimFn(false, true), text, text))
	register("ascii", sig(int4, func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		r, _ := utf8.DecodeRuneInString(v[0].(string))
		if r == utf8.RuneError {
			return int64(0), nil // the empty string
		}
		return int64(r), nil
	}, text))
	register("chr", sig(text, chrFn, int4))
	register("md5", sig(text, md5Fn, text), sig(text, md5Fn, bytea))
	register("sha224", sig(bytea, shaFn(224), bytea))
	register("sha256", sig(bytea, shaFn(256), bytea))
	register("sha384", sig(bytea, shaFn(384), bytea))
	register("sha512", sig(bytea, shaFn(512), bytea))
	register("encode", sig(text, encodeFn, bytea, text))
	register("decode", sig(bytea, decodeFn, text, text))
	register("to_hex", sig(text, toHex(32), int4), sig(text, toHex(64), int8))
	register("quote_ident", sig(text, func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		return quoteIdent(v[0].(string)), nil
	}, text))
	register("quote_literal", sig(text, quoteLiteralFn, text), sig(text, quoteLiteralFn, anyType))
	register("quote_nullable",
		overload{params: []types.T{text}, ret: text, nullCall: true, fn: quoteNullable},
		overload{params: []types.T{anyType}, ret: text, nullCall: true, fn: quoteNullable})
	register("format", overload{params: []types.T{text}, ret: text, nullCall: true, fn: formatFn},
		overload{params: []types.T{text, anyType}, variadic: true, ret: text, nullCall: true, fn: formatFn})
	register("starts_with", sig(types.Bool, func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		return strings.HasPrefix(v[0].(string), v[1].(string)), nil
	}, text, text))
	register("bit_length", sig(int4, func(_ *evalCtx, ts []types.T, v []types.Datum) (types.Datum, error) {
		return int64(8 * octets(ts[0], v[0])), nil
	}, text), sig(int4, func(_ *evalCtx, ts []types.T, v []types.Datum) (types.Datum, error) {
		return int64(8 * octets(ts[0], v[0])), nil
	}, bytea))
	register("octet_length", sig(int4, func(_ *evalCtx, ts []types.T, v []types.Datum) (types.Datum, error) {
		return int64(octets(ts[0], v[0])), nil
	}, text), sig(int4, func(_ *evalCtx, ts []types.T, v []types.Datum) (types.Datum, error) {
		return int64(octets(ts[0], v[0])), nil
	}, bytea))
}

// octets is octet_length: char(n) counts its padding, as PostgreSQL stores it padded.
func octets(t types.T, d types.Datum) int {
	switch v := d.(type) {
	case []byte:
		return len(v)
	case string:
		n := len(v)
		if t.StringKind == types.Char && t.Width > 0 {
			n += max(int(t.Width)-utf8.RuneCountInString(v), 0)
		}
		return n
	}
	return 0
}

// textOf renders a value as its output function does, which is how concat and format show
// non-text arguments.
func textOf(t types.T, d types.Datum) string { return textWith(nil, t, d) }

// textWith is textOf under the session's settings (TimeZone, extra_float_digits,
// bytea_output); ec nil means the defaults.
func textWith(ec *evalCtx, t types.T, d types.Datum) string {
	if s, ok := d.(string); ok && t.StringKind != types.Char {
		return s
	}
	var st *types.Settings
	if ec != nil {
		st = ec.settings()
	}
	return string(types.AppendTextWith(nil, t, d, st)) // char(n) shows its padding
}

func tooLong() error {
	return pgerror.New(pgerror.CodeProgramLimitExceeded, "requested length too large")
}

func concatFn(ec *evalCtx, ts []types.T, v []types.Datum) (types.Datum, error) {
	var sb strings.Builder
	for i, d := range v {
		if d != nil {
			sb.WriteString(textWith(ec, ts[i], d))
		}
	}
	return sb.String(), nil
}

func concatWS(ec *evalCtx, ts []types.T, v []types.Datum) (types.Datum, error) {
	if v[0] == nil {
		return nil, nil
	}
	sep := v[0].(string)
	var sb strings.Builder
	first := true
	for i := 1; i < len(v); i++ {
		if v[i] == nil {
			continue
		}
		if !first {
			sb.WriteString(sep)
		}
		sb.WriteString(textWith(ec, ts[i], v[i]))
		first = false
	}
	return sb.String(), nil
}

func repeatFn(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
	s, n := v[0].(string), v[1].(int64)
	if n <= 0 || s == "" {
		return "", nil
	}
	if int64(len(s))*n > maxStringBytes {
		return nil, tooLong()
	}
	return strings.Repeat(s, int(n)), nil
}

// padFn is lpad/rpad: fill to length characters, truncating a longer string on the right.
func padFn(left bool) builtinFn {
	return func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		s, n := v[0].(string), v[1].(int64)
		fill := " "
		if len(v) == 3 {
			fill = v[2].(string)
		}
		if n <= 0 {
			return "", nil
		}
		r := []rune(s)
		if int64(len(r)) >= n || fill == "" {
			if int64(len(r)) > n {
				r = r[:n]
			}
			return string(r), nil
		}
		if n*int64(utf8.UTFMax) > maxStringBytes {
			return nil, tooLong()
		}
		f := []rune(fill)
		pad := make([]rune, 0, n-int64(len(r)))
		for i := 0; int64(len(pad)) < n-int64(len(r)); i++ {
			pad = append(pad, f[i%len(f)])
		}
		if left {
			return string(pad) + s, nil
		}
		return s + string(pad), nil
	}
}

// leftRight is left(s, n) and right(s, n); a negative n drops |n| characters from the
// other end.
func leftRight(left bool) builtinFn {
	return func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		r, n := []rune(v[0].(string)), v[1].(int64)
		size := int64(len(r))
		k := n
		if n < 0 {
			k = max(size+n, 0)
		}
		k = min(k, size)
		if left {
			return string(r[:k]), nil
		}
		return string(r[size-k:]), nil
	}
}

// substrFn is substr(s, start [, count]) for text (characters) and bytea (bytes). The
// window [start, start+count) is clipped to the string, so a start before 1 eats into the
// count.
func substrFn(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
	start := v[1].(int64)
	var size int64
	var r []rune
	b, isBytes := v[0].([]byte)
	if isBytes {
		size = int64(len(b))
	} else {
		r = []rune(v[0].(string))
		size = int64(len(r))
	}
	end := size + 1
	if len(v) == 3 {
		count := v[2].(int64)
		if count < 0 {
			return nil, pgerror.New("22011", "negative substring length not allowed")
		}
		end = min(start+count, end) // both int4: no overflow

	}
	lo := min(max(start, 1), size+1)
	hi := min(max(end, lo), size+1)
	if isBytes {
		return append([]byte(nil), b[lo-1:hi-1]...), nil
	}
	return string(r[lo-1 : hi-1]), nil
}

// strpos is the 1-based character position of sub in s, 0 if absent.
func strpos(s, sub types.Datum) types.Datum {
	if b, ok := s.([]byte); ok {
		i := strings.Index(string(b), string(sub.([]byte)))
		return int64(i + 1)
	}
	str := s.(string)
	i := strings.Index(str, sub.(string))
	if i < 0 {
		return int64(0)
	}
	return int64(utf8.RuneCountInString(str[:i]) + 1)
}

// translateFn replaces each character of from by the character of to at the same
// position, deleting it when to is shorter; the first occurrence in from wins.
func translateFn(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
	from, to := []rune(v[1].(string)), []rune(v[2].(string))
	var sb strings.Builder
	for _, c := range v[0].(string) {
		i := -1
		for k, f := range from {
			if f == c {
				i = k
				break
			}
		}
		switch {
		case i < 0:
			sb.WriteRune(c)
		case i < len(to):
			sb.WriteRune(to[i])
		}
	}
	return sb.String(), nil
}

// splitPart is split_part(s, delimiter, n); a negative n counts from the end.
func splitPart(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
	s, delim, n := v[0].(string), v[1].(string), v[2].(int64)
	if n == 0 {
		return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "field position must not be zero")
	}
	var parts []string
	switch {
	case s == "":
		return "", nil
	case delim == "":
		parts = []string{s}
	default:
		parts = strings.Split(s, delim)
	}
	if n < 0 {
		n += int64(len(parts)) + 1
	}
	if n < 1 || n > int64(len(parts)) {
		return "", nil
	}
	return parts[n-1], nil
}

// initcap upper-cases the first letter of each run of letters and digits and lower-cases
// the rest.
func initcap(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
	var sb strings.Builder
	inWord := false
	for _, c := range v[0].(string) {
		if inWord {
			sb.WriteRune(unicode.ToLower(c))
		} else {
			sb.WriteRune(unicode.ToUpper(c))
		}
		inWord = unicode.IsLetter(c) || unicode.IsDigit(c)
	}
	return sb.String(), nil
}

// trimFn removes the characters of the set (spaces by default) from the chosen ends.
func trimFn(leading, trailing bool) builtinFn {
	return func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		s, set := v[0].(string), " "
		if len(v) == 2 {
			set = v[1].(string)
		}
		if leading {
			s = strings.TrimLeft(s, set)
		}
		if trailing {
			s = strings.TrimRight(s, set)
		}
		return s, nil
	}
}

// trimCall compiles SQL's TRIM([BOTH | LEADING | TRAILING] [chars] FROM s), which the
// parser hands over as trim(s [, chars [, direction]]).
func (c *compiler) trimCall(n *ast.FuncCallExpr) (*scalar, error) {
	name := "btrim"
	args := n.Args
	if len(args) == 3 {
		if d, ok := args[2].(*ast.TrimDirectionExpr); ok {
			switch d.Direction {
			case ast.TrimLeading:
				name = "ltrim"
			case ast.TrimTrailing:
				name = "rtrim"
			}
			args = args[:2]
		}
	}
	compiled := make([]*scalar, len(args))
	for i, a := range args {
		s, err := c.compile(a)
		if err != nil {
			return nil, err
		}
		compiled[i] = s
	}
	return c.resolveCall(name, builtins[name], compiled)
}

func chrFn(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
	n := v[0].(int64)
	switch {
	case n < 0:
		return nil, pgerror.New(pgerror.CodeProgramLimitExceeded, "character number must be positive")
	case n == 0:
		return nil, pgerror.New(pgerror.CodeProgramLimitExceeded, "null character not permitted")
	case n > unicode.MaxRune:
		return nil, pgerror.New(pgerror.CodeProgramLimitExceeded, "requested character too large for encoding: %d", n)
	case n >= 0xD800 && n <= 0xDFFF:
		return nil, pgerror.New(pgerror.CodeProgramLimitExceeded, "requested character not valid for encoding: %d", n)
	}
	return string(rune(n)), nil
}

func bytesOf(d types.Datum) []byte {
	if b, ok := d.([]byte); ok {
		return b
	}
	return []byte(d.(string))
}

func md5Fn(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
	sum := md5.Sum(bytesOf(v[0]))
	return hex.EncodeToString(sum[:]), nil
}

func shaFn(bits int) builtinFn {
	return func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		b := v[0].([]byte)
		switch bits {
		case 224:
			s := sha256.Sum224(b)
			return s[:], nil
		case 256:
			s := sha256.Sum256(b)
			return s[:], nil
		case 384:
			s := sha512.Sum384(b)
			return s[:], nil
		}
		s := sha512.Sum512(b)
		return s[:], nil
	}
}

func unrecognizedEncoding(name string) error {
	return pgerror.New(pgerror.CodeInvalidParameterValue, "unrecognized encoding: \"%s\"", name)
}

// encodeFn is encode(bytes, 'hex' | 'base64' | 'escape').
func encodeFn(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
	b := v[0].([]byte)
	switch strings.ToLower(v[1].(string)) {
	case "hex":
		return hex.EncodeToString(b), nil
	case "base64":
		// PostgreSQL breaks base64 output into lines of 76 characters.
		enc := base64.StdEncoding.EncodeToString(b)
		var sb strings.Builder
		for len(enc) > 76 {
			sb.WriteString(enc[:76])
			sb.WriteByte('\n')
			enc = enc[76:]
		}
		sb.WriteString(enc)
		return sb.String(), nil
	case "escape":
		var sb strings.Builder
		for _, c := range b {
			switch {
			case c == 0 || c >= 0x80:
				fmt.Fprintf(&sb, "\\%03o", c)
			case c == '\\':
				sb.WriteString(`\\`)
			default:
				sb.WriteByte(c)
			}
		}
		return sb.String(), nil
	}
	return nil, unrecognizedEncoding(v[1].(string))
}

// decodeFn is decode(text, 'hex' | 'base64' | 'escape').
func decodeFn(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
	s := v[0].(string)
	switch strings.ToLower(v[1].(string)) {
	case "hex":
		return decodeHex(s)
	case "base64":
		return decodeBase64(s)
	case "escape":
		return decodeEscape(s)
	}
	return nil, unrecognizedEncoding(v[1].(string))
}

// decodeHex reads pairs of hex digits, skipping whitespace between pairs.
func decodeHex(s string) ([]byte, error) {
	out := make([]byte, 0, len(s)/2)
	for i := 0; i < len(s); {
		c := s[i]
		if c == ' ' || c == '\n' || c == '\t' || c == '\r' {
			i++
			continue
		}
		hi, ok := hexDigit(c)
		if !ok {
			return nil, invalidHexDigit(s[i:])
		}
		if i+1 >= len(s) {
			return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "invalid hexadecimal data: odd number of digits")
		}
		lo, ok := hexDigit(s[i+1])
		if !ok {
			return nil, invalidHexDigit(s[i+1:])
		}
		out = append(out, hi<<4|lo)
		i += 2
	}
	return out, nil
}

func invalidHexDigit(rest string) error {
	_, size := utf8.DecodeRuneInString(rest)
	return pgerror.New(pgerror.CodeInvalidParameterValue, "invalid hexadecimal digit: \"%s\"", rest[:size])
}

func hexDigit(c byte) (byte, bool) {
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

// decodeBase64 reads base64 ignoring whitespace, as PostgreSQL does.
func decodeBase64(s string) ([]byte, error) {
	clean := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\n' || c == '\t' || c == '\r':
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/', c == '=':
			clean = append(clean, c)
		default:
			_, size := utf8.DecodeRuneInString(s[i:])
			return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "invalid symbol \"%s\" found while decoding base64 sequence", s[i:i+size])
		}
	}
	out, err := base64.StdEncoding.DecodeString(string(clean))
	if err != nil {
		return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "invalid base64 end sequence").
			WithHint("Input data is missing padding, is truncated, or is otherwise corrupted.")
	}
	return out, nil
}

// decodeEscape reads the escape format: \\ is a backslash, \ooo an octal byte.
func decodeEscape(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			out = append(out, s[i])
			continue
		}
		switch {
		case i+1 < len(s) && s[i+1] == '\\':
			out = append(out, '\\')
			i++
		case i+3 < len(s) && isOctalDigit(s[i+1]) && isOctalDigit(s[i+2]) && isOctalDigit(s[i+3]) && s[i+1] <= '3':
			out = append(out, (s[i+1]-'0')<<6|(s[i+2]-'0')<<3|(s[i+3]-'0'))
			i += 3
		default:
			return nil, pgerror.New(pgerror.CodeInvalidTextRepresent, "invalid input syntax for type bytea")
		}
	}
	return out, nil
}

func isOctalDigit(c byte) bool { return c >= '0' && c <= '7' }

// toHex writes an integer in hex; negative values show their two's complement at the
// argument's width.
func toHex(bits int) builtinFn {
	return func(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
		n := v[0].(int64)
		if bits == 32 {
			return strconv.FormatUint(uint64(uint32(n)), 16), nil
		}
		return strconv.FormatUint(uint64(n), 16), nil
	}
}

// quoteIdent quotes a name unless it is a lower-case identifier that is not a keyword
// PostgreSQL reserves in some position.
func quoteIdent(s string) string {
	safe := s != "" && (s[0] >= 'a' && s[0] <= 'z' || s[0] == '_')
	for i := 0; i < len(s) && safe; i++ {
		c := s[i]
		safe = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_'
	}
	if safe && !reservedKeywords[s] {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// reservedKeywords are PostgreSQL 16's keywords other than the unreserved ones (reserved,
// type or function names, column names), which quote_ident must quote.
var reservedKeywords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`all analyse analyze and any array as asc asymmetric both case cast check
		collate column constraint create current_catalog current_date current_role current_time
		current_timestamp current_user default deferrable desc distinct do else end except false fetch for
		foreign from grant group having in initially intersect into lateral leading limit localtime
		localtimestamp not null offset on only or order placing primary references returning select
		session_user some symmetric system_user table then to trailing true union unique user using variadic
		when where window with
		authorization binary collation concurrently cross current_schema freeze full ilike inner is isnull
		join left like natural notnull outer overlaps right similar tablesample verbose
		between bigint bit boolean char character coalesce dec decimal exists extract float greatest
		grouping inout int integer interval json json_array json_arrayagg json_object json_objectagg
		json_scalar json_serialize least national nchar none normalize nullif numeric out overlay position
		precision real row setof smallint substring time timestamp treat trim values varchar xmlattributes
		xmlconcat xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable`) {
		m[w] = true
	}
	return m
}()

// quoteLiteral quotes a string as a SQL literal; one with backslashes becomes an E'...' string
// with them doubled, so it reads back the same whatever standard_conforming_strings says.
func quoteLiteral(s string) string {
	var sb strings.Builder
	if strings.Contains(s, `\`) {
		sb.WriteByte('E')
	}
	sb.WriteByte('\'')
	for _, c := range s {
		switch c {
		case '\'':
			sb.WriteString("''")
		case '\\':
			sb.WriteString(`\\`)
		default:
			sb.WriteRune(c)
		}
	}
	sb.WriteByte('\'')
	return sb.String()
}

func quoteLiteralFn(_ *evalCtx, ts []types.T, v []types.Datum) (types.Datum, error) {
	return quoteLiteral(castText(ts[0], v[0])), nil
}

func quoteNullable(_ *evalCtx, ts []types.T, v []types.Datum) (types.Datum, error) {
	if v[0] == nil {
		return "NULL", nil
	}
	return quoteLiteral(castText(ts[0], v[0])), nil
}

// castText is a value cast to text (booleans spell true and false), as quote_literal's
// anyelement form does.
func castText(t types.T, d types.Datum) string {
	if b, ok := d.(bool); ok {
		return strconv.FormatBool(b)
	}
	return textOf(t, d)
}

// formatFn is format(fmt, args...): %s (text), %I (identifier), %L (literal) and %%, with
// positions (%2$s), widths (%10s, %-10s) and widths from arguments (%*s, %*2$s).
func formatFn(_ *evalCtx, ts []types.T, v []types.Datum) (types.Datum, error) {
	if v[0] == nil {
		return nil, nil
	}
	f := v[0].(string)
	args, argTypes := v[1:], ts[1:]
	next := 0 // the argument an unnumbered specifier takes
	var sb strings.Builder
	unterminated := func() error {
		return pgerror.New(pgerror.CodeInvalidParameterValue, "unterminated format() type specifier").
			WithHint("For a single \"%\" use \"%%\".")
	}
	// number reads digits at f[i:], returning the value and the index after them.
	number := func(i int) (int, int, bool) {
		j := i
		for j < len(f) && f[j] >= '0' && f[j] <= '9' {
			j++
		}
		if j == i {
			return 0, i, false
		}
		n, err := strconv.Atoi(f[i:j])
		if err != nil || n > 1<<30 {
			return 0, j, false
		}
		return n, j, true
	}
	arg := func(pos int) (int, error) {
		if pos == 0 {
			return 0, pgerror.New(pgerror.CodeInvalidParameterValue, "format specifies argument 0, but arguments are numbered from 1")
		}
		if pos > len(args) {
			return 0, pgerror.New(pgerror.CodeInvalidParameterValue, "too few arguments for format()")
		}
		return pos - 1, nil
	}
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			sb.WriteByte(f[i])
			continue
		}
		i++
		if i >= len(f) {
			return nil, unterminated()
		}
		if f[i] == '%' {
			sb.WriteByte('%')
			continue
		}
		// [argpos$][flags][width][type]
		argPos := -1
		if n, j, ok := number(i); ok && j < len(f) && f[j] == '$' {
			argPos, i = n, j+1
		}
		leftAlign := false
		for i < len(f) && f[i] == '-' {
			leftAlign, i = true, i+1
		}
		width := 0
		if i < len(f) && f[i] == '*' {
			i++
			wpos := next + 1
			if n, j, ok := number(i); ok && j < len(f) && f[j] == '$' {
				wpos, i = n, j+1
			} else {
				next++
			}
			k, err := arg(wpos)
			if err != nil {
				return nil, err
			}
			if args[k] != nil {
				w, err := types.Cast(args[k], argTypes[k], types.Int4)
				if err != nil {
					return nil, err
				}
				width = int(w.(int64))
				if width < 0 {
					leftAlign, width = true, -width
				}
			}
		} else if n, j, ok := number(i); ok {
			width, i = n, j
		}
		if i >= len(f) {
			return nil, unterminated()
		}
		typ := f[i]
		if typ != 's' && typ != 'I' && typ != 'L' {
			_, size := utf8.DecodeRuneInString(f[i:])
			return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "unrecognized format() type specifier \"%s\"", f[i:i+size]).
				WithHint("For a single \"%\" use \"%%\".")
		}
		if argPos < 0 {
			next++
			argPos = next
		} else {
			next = argPos
		}
		k, err := arg(argPos)
		if err != nil {
			return nil, err
		}
		var out string
		switch d := args[k]; {
		case typ == 's':
			if d != nil {
				out = textOf(argTypes[k], d)
			}
		case typ == 'I':
			if d == nil {
				return nil, pgerror.New("22004", "null values cannot be formatted as an SQL identifier")
			}
			out = quoteIdent(textOf(argTypes[k], d))
		default:
			out = "NULL"
			if d != nil {
				out = quoteLiteral(textOf(argTypes[k], d))
			}
		}
		if pad := width - utf8.RuneCountInString(out); pad > 0 {
			if leftAlign {
				out += strings.Repeat(" ", pad)
			} else {
				out = strings.Repeat(" ", pad) + out
			}
		}
		sb.WriteString(out)
	}
	return sb.String(), nil
}
