package types

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"

	"github.com/meridiandb/meridian/sql/pgerror"
)

// JSONKind is the kind of a JSON value. The order is jsonb's btree order between kinds:
// null < string < number < boolean < array < object.
type JSONKind uint8

// The JSON kinds.
const (
	JSONNull JSONKind = iota
	JSONString
	JSONNumber
	JSONBool
	JSONArray
	JSONObject
)

// JSON is a jsonb value, held as jsonb keeps it: numbers as numeric, object keys unique
// (the last duplicate wins) and sorted shorter first, then bytewise, which is the order
// jsonb prints them in.
type JSON struct {
	Kind  JSONKind
	Bool  bool
	Num   *apd.Decimal
	Str   string
	Elems []JSON   // JSONArray
	Keys  []string // JSONObject, sorted by jsonKeyLess
	Vals  []JSON   // JSONObject, Vals[i] belongs to Keys[i]
}

// maxJSONDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxJSONDepth = 1000

func jsonKeyLess(a, b string) int {
	if len(a) != len(b) {
		return cmpOrdered(int64(len(a)), int64(len(b)))
	}
	return strings.Compare(a, b)
}

// JSONStringOf, JSONNumberOf and the rest build values; JSONObjectOf sorts and dedupes keys.
func JSONStringOf(s string) JSON       { return JSON{Kind: JSONString, Str: s} }
func JSONNumberOf(d *apd.Decimal) JSON { return JSON{Kind: JSONNumber, Num: d} }
func JSONBoolOf(b bool) JSON           { return JSON{Kind: JSONBool, Bool: b} }
func JSONArrayOf(elems ...JSON) JSON   { return JSON{Kind: JSONArray, Elems: elems} }
func JSONObjectOf(keys []string, vals []JSON) JSON {
	type kv struct {
		k string
		v JSON
		i int
	}
	pairs := make([]kv, len(keys))
	for i := range keys {
		pairs[i] = kv{keys[i], vals[i], i}
	}
	// Stable by position so that among duplicates the last written wins below.
	slices.SortStableFunc(pairs, func(a, b kv) int { return jsonKeyLess(a.k, b.k) })
	out := JSON{Kind: JSONObject}
	for i, p := range pairs {
		if i+1 < len(pairs) && pairs[i+1].k == p.k {
			continue
		}
		out.Keys = append(out.Keys, p.k)
		out.Vals = append(out.Vals, p.v)
	}
	return out
}

func badJSON(detail string) error {
	return pgerror.New(pgerror.CodeInvalidTextRepresent, "invalid input syntax for type json").WithDetail(detail)
}

// ParseJSON reads JSON text (RFC 8259, as PostgreSQL's json and jsonb input accept it) into
// its jsonb form.
func ParseJSON(s string) (JSON, error) {
	if !utf8.ValidString(s) {
		return JSON{}, pgerror.New(pgerror.CodeCharacterNotInRepertoire, `invalid byte sequence for encoding "UTF8"`)
	}
	p := &jsonParser{s: s}
	v, err := p.value(0)
	if err != nil {
		return JSON{}, err
	}
	p.skipSpace()
	if p.pos < len(p.s) {
		return JSON{}, badJSON(p.tokenDetail())
	}
	return v, nil
}

type jsonParser struct {
	s   string
	pos int
}

func (p *jsonParser) skipSpace() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// tokenDetail names the token at the current position, as PostgreSQL's DETAIL does.
func (p *jsonParser) tokenDetail() string {
	if p.pos >= len(p.s) {
		return "The input string ended unexpectedly."
	}
	end := p.pos + 1
	for end < len(p.s) && (isJSONWordByte(p.s[end]) && isJSONWordByte(p.s[p.pos])) {
		end++
	}
	_, n := utf8.DecodeRuneInString(p.s[p.pos:])
	end = max(end, p.pos+n)
	return `Token "` + p.s[p.pos:end] + `" is invalid.`
}

func isJSONWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c >= 0x80
}

func (p *jsonParser) value(depth int) (JSON, error) {
	if depth > maxJSONDepth {
		return JSON{}, pgerror.New(pgerror.CodeProgramLimitExceeded, "stack depth limit exceeded").
			WithDetail("JSON values may nest at most 1000 levels.")
	}
	p.skipSpace()
	if p.pos >= len(p.s) {
		return JSON{}, badJSON("The input string ended unexpectedly.")
	}
	switch c := p.s[p.pos]; {
	case c == '{':
		p.pos++
		var keys []string
		var vals []JSON
		p.skipSpace()
		if p.pos < len(p.s) && p.s[p.pos] == '}' {
			p.pos++
			return JSON{Kind: JSONObject}, nil
		}
		for {
			p.skipSpace()
			if p.pos >= len(p.s) || p.s[p.pos] != '"' {
				return JSON{}, badJSON(p.tokenDetail())
			}
			k, err := p.str()
			if err != nil {
				return JSON{}, err
			}
			p.skipSpace()
			if p.pos >= len(p.s) || p.s[p.pos] != ':' {
				return JSON{}, badJSON(p.tokenDetail())
			}
			p.pos++
			v, err := p.value(depth + 1)
			if err != nil {
				return JSON{}, err
			}
			keys, vals = append(keys, k), append(vals, v)
			p.skipSpace()
			if p.pos < len(p.s) && p.s[p.pos] == ',' {
				p.pos++
				continue
			}
			if p.pos < len(p.s) && p.s[p.pos] == '}' {
				p.pos++
				return JSONObjectOf(keys, vals), nil
			}
			return JSON{}, badJSON(p.tokenDetail())
		}
	case c == '[':
		p.pos++
		out := JSON{Kind: JSONArray}
		p.skipSpace()
		if p.pos < len(p.s) && p.s[p.pos] == ']' {
			p.pos++
			return out, nil
		}
		for {
			v, err := p.value(depth + 1)
			if err != nil {
				return JSON{}, err
			}
			out.Elems = append(out.Elems, v)
			p.skipSpace()
			if p.pos < len(p.s) && p.s[p.pos] == ',' {
				p.pos++
				continue
			}
			if p.pos < len(p.s) && p.s[p.pos] == ']' {
				p.pos++
				return out, nil
			}
			return JSON{}, badJSON(p.tokenDetail())
		}
	case c == '"':
		s, err := p.str()
		if err != nil {
			return JSON{}, err
		}
		return JSONStringOf(s), nil
	case c == '-' || isDigit(c):
		return p.number()
	}
	for _, w := range []string{"true", "false", "null"} {
		if strings.HasPrefix(p.s[p.pos:], w) && (p.pos+len(w) == len(p.s) || !isJSONWordByte(p.s[p.pos+len(w)])) {
			p.pos += len(w)
			switch w {
			case "true":
				return JSONBoolOf(true), nil
			case "false":
				return JSONBoolOf(false), nil
			}
			return JSON{Kind: JSONNull}, nil
		}
	}
	return JSON{}, badJSON(p.tokenDetail())
}

// number reads -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? as a numeric.
func (p *jsonParser) number() (JSON, error) {
	start := p.pos
	digits := func() int {
		n := 0
		for p.pos < len(p.s) && isDigit(p.s[p.pos]) {
			p.pos++
			n++
		}
		return n
	}
	if p.s[p.pos] == '-' {
		p.pos++
	}
	intStart := p.pos
	if n := digits(); n == 0 || n > 1 && p.s[intStart] == '0' {
		p.pos = start
		return JSON{}, badJSON(p.tokenDetail())
	}
	if p.pos < len(p.s) && p.s[p.pos] == '.' {
		p.pos++
		if digits() == 0 {
			p.pos = start
			return JSON{}, badJSON(p.tokenDetail())
		}
	}
	if p.pos < len(p.s) && (p.s[p.pos] == 'e' || p.s[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.s) && (p.s[p.pos] == '+' || p.s[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			p.pos = start
			return JSON{}, badJSON(p.tokenDetail())
		}
	}
	if p.pos < len(p.s) && isJSONWordByte(p.s[p.pos]) {
		p.pos = start
		return JSON{}, badJSON(p.tokenDetail())
	}
	d, err := parseDecimal(p.s[start:p.pos])
	if err != nil {
		return JSON{}, err
	}
	return JSONNumberOf(d), nil
}

// str reads a string literal whose opening quote is at pos.
func (p *jsonParser) str() (string, error) {
	p.pos++
	var sb strings.Builder
	for {
		if p.pos >= len(p.s) {
			return "", badJSON("The input string ended unexpectedly.")
		}
		c := p.s[p.pos]
		switch {
		case c == '"':
			p.pos++
			return sb.String(), nil
		case c < 0x20:
			return "", badJSON(`Character with value 0x` + strconv.FormatUint(uint64(c), 16) + ` must be escaped.`)
		case c != '\\':
			sb.WriteByte(c)
			p.pos++
			continue
		}
		if p.pos+1 >= len(p.s) {
			return "", badJSON("The input string ended unexpectedly.")
		}
		e := p.s[p.pos+1]
		p.pos += 2
		switch e {
		case '"', '\\', '/':
			sb.WriteByte(e)
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 't':
			sb.WriteByte('\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", badJSON(`"\u" must be followed by four hexadecimal digits.`)
			}
			if utf16.IsSurrogate(r) {
				var r2 rune = -1
				if strings.HasPrefix(p.s[p.pos:], `\u`) {
					p.pos += 2
					r2, ok = p.hex4()
					if !ok {
						return "", badJSON(`"\u" must be followed by four hexadecimal digits.`)
					}
				}
				r = utf16.DecodeRune(r, r2)
				if r == utf8.RuneError {
					return "", badJSON("Unicode low surrogate must follow a high surrogate.")
				}
			}
			if r == 0 {
				return "", pgerror.New("22P05", "unsupported Unicode escape sequence").
					WithDetail(`\u0000 cannot be converted to text.`)
			}
			sb.WriteRune(r)
		default:
			return "", badJSON(`Escape sequence "\` + string(e) + `" is invalid.`)
		}
	}
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.pos+4 > len(p.s) {
		return 0, false
	}
	v, err := strconv.ParseUint(p.s[p.pos:p.pos+4], 16, 32)
	if err != nil {
		return 0, false
	}
	p.pos += 4
	return rune(v), true
}

// AppendJSON writes j as jsonb prints it: `{"a": 1, "b": [1, 2]}`.
func AppendJSON(b []byte, j JSON) []byte {
	switch j.Kind {
	case JSONNull:
		return append(b, "null"...)
	case JSONBool:
		if j.Bool {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case JSONNumber:
		return appendDecimal(b, j.Num)
	case JSONString:
		return appendJSONString(b, j.Str)
	case JSONArray:
		b = append(b, '[')
		for i, e := range j.Elems {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = AppendJSON(b, e)
		}
		return append(b, ']')
	}
	b = append(b, '{')
	for i, k := range j.Keys {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendJSONString(b, k)
		b = append(b, ": "...)
		b = AppendJSON(b, j.Vals[i])
	}
	return append(b, '}')
}

// appendJSONString quotes s as PostgreSQL's escape_json does.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			b = append(b, `\"`...)
		case '\\':
			b = append(b, `\\`...)
		case '\b':
			b = append(b, `\b`...)
		case '\f':
			b = append(b, `\f`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		default:
			if c < 0x20 {
				b = append(b, `\u00`...)
				b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
			} else {
				b = append(b, c)
			}
		}
	}
	return append(b, '"')
}

// CompareJSON is jsonb's btree order: kinds in JSONKind order, except that, as in
// PostgreSQL, containers compare by their number of elements (or pairs) before their
// contents, a top-level scalar counting as a one-element array that sorts before a real one
// (so a top-level empty array sorts before every scalar). Object pairs compare key, then
// value, in key order; strings compare bytewise.
func CompareJSON(a, b JSON) int {
	return compareJSON(a, b, true)
}

func compareJSON(a, b JSON, top bool) int {
	if top {
		aScalar, bScalar := a.Kind < JSONArray, b.Kind < JSONArray
		switch {
		case aScalar && b.Kind == JSONArray:
			if c := cmpOrdered(1, int64(len(b.Elems))); c != 0 {
				return c
			}
			return -1
		case bScalar && a.Kind == JSONArray:
			if c := cmpOrdered(int64(len(a.Elems)), 1); c != 0 {
				return c
			}
			return 1
		}
	}
	if a.Kind != b.Kind {
		return cmpOrdered(int64(a.Kind), int64(b.Kind))
	}
	switch a.Kind {
	case JSONNull:
		return 0
	case JSONString:
		return strings.Compare(a.Str, b.Str)
	case JSONNumber:
		return compareDecimal(a.Num, b.Num)
	case JSONBool:
		return cmpBool(a.Bool, b.Bool)
	case JSONArray:
		if c := cmpOrdered(int64(len(a.Elems)), int64(len(b.Elems))); c != 0 {
			return c
		}
		for i := range a.Elems {
			if c := compareJSON(a.Elems[i], b.Elems[i], false); c != 0 {
				return c
			}
		}
		return 0
	}
	if c := cmpOrdered(int64(len(a.Keys)), int64(len(b.Keys))); c != 0 {
		return c
	}
	for i := range a.Keys {
		if c := strings.Compare(a.Keys[i], b.Keys[i]); c != 0 {
			return c
		}
		if c := compareJSON(a.Vals[i], b.Vals[i], false); c != 0 {
			return c
		}
	}
	return 0
}

// Get is j -> key for an object; ok is false (SQL NULL) otherwise or when the key is absent.
func (j JSON) Get(key string) (JSON, bool) {
	if j.Kind != JSONObject {
		return JSON{}, false
	}
	i, found := slices.BinarySearchFunc(j.Keys, key, jsonKeyLess)
	if !found {
		return JSON{}, false
	}
	return j.Vals[i], true
}

// Index is j -> i for an array, counting from the end when i is negative.
func (j JSON) Index(i int64) (JSON, bool) {
	if j.Kind != JSONArray {
		return JSON{}, false
	}
	if i < 0 {
		i += int64(len(j.Elems))
	}
	if i < 0 || i >= int64(len(j.Elems)) {
		return JSON{}, false
	}
	return j.Elems[i], true
}

// Path is j #> path: each step a key of an object or an integer index of an array.
func (j JSON) Path(path []string) (JSON, bool) {
	cur := j
	for _, step := range path {
		var ok bool
		switch cur.Kind {
		case JSONObject:
			cur, ok = cur.Get(step)
		case JSONArray:
			i, err := strconv.ParseInt(strings.TrimSpace(step), 10, 64)
			if err != nil {
				return JSON{}, false
			}
			cur, ok = cur.Index(i)
		}
		if !ok {
			return JSON{}, false
		}
	}
	return cur, true
}

// AsText is what ->> and #>> return: a string's contents, NULL for JSON null, otherwise
// the value's jsonb text.
func (j JSON) AsText() (string, bool) {
	switch j.Kind {
	case JSONNull:
		return "", false
	case JSONString:
		return j.Str, true
	}
	return string(AppendJSON(nil, j)), true
}

// TypeName is jsonb_typeof(j).
func (j JSON) TypeName() string {
	return [...]string{"null", "string", "number", "boolean", "array", "object"}[j.Kind]
}

// Exists is j ? key: key is a top-level key of an object, or a string element of an array
// (or the string itself, for a top-level string).
func (j JSON) Exists(key string) bool {
	switch j.Kind {
	case JSONObject:
		_, ok := j.Get(key)
		return ok
	case JSONArray:
		for _, e := range j.Elems {
			if e.Kind == JSONString && e.Str == key {
				return true
			}
		}
	case JSONString:
		return j.Str == key
	}
	return false
}

// Contains is a @> b. An object contains an object whose every pair it has, with a value
// that contains that pair's value; an array contains an array each of whose elements is
// contained in one of its elements, and a top-level array contains a scalar it has as an
// element. Scalars contain only themselves.
func (a JSON) Contains(b JSON) bool {
	if (a.Kind == JSONObject) != (b.Kind == JSONObject) {
		return false
	}
	if a.Kind == JSONArray && b.Kind < JSONArray {
		b = JSONArrayOf(b)
	}
	return jsonContains(a, b)
}

func jsonContains(a, b JSON) bool {
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case JSONObject:
		for i, k := range b.Keys {
			v, ok := a.Get(k)
			if !ok || !jsonContains(v, b.Vals[i]) {
				return false
			}
		}
		return true
	case JSONArray:
		for _, be := range b.Elems {
			found := false
			for _, ae := range a.Elems {
				if jsonContains(ae, be) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	}
	return compareJSON(a, b, false) == 0
}

// ConcatJSON is a || b: objects merge (b's values win), arrays concatenate, and any other
// pair becomes an array of both sides' elements.
func ConcatJSON(a, b JSON) JSON {
	if a.Kind == JSONObject && b.Kind == JSONObject {
		keys := append(slices.Clone(a.Keys), b.Keys...)
		vals := append(slices.Clone(a.Vals), b.Vals...)
		return JSONObjectOf(keys, vals)
	}
	elems := func(j JSON) []JSON {
		if j.Kind == JSONArray {
			return j.Elems
		}
		return []JSON{j}
	}
	return JSONArrayOf(append(slices.Clone(elems(a)), elems(b)...)...)
}

// ToJSON is to_jsonb(d) for a value of type t: numbers and booleans map to their JSON
// kinds, arrays to arrays, JSON to itself, and everything else to the string of its text
// form (date and time values in ISO 8601 with a T, as PostgreSQL writes them in JSON).
func ToJSON(t T, d Datum) (JSON, error) {
	switch v := d.(type) {
	case nil:
		return JSON{Kind: JSONNull}, nil
	case JSON:
		return v, nil
	case bool:
		return JSONBoolOf(v), nil
	case int64:
		return JSONNumberOf(apd.New(v, 0)), nil
	case float64:
		if s := string(appendFloat(nil, v, t.isFloat4())); isDecimalLiteral(s) {
			dd, err := parseDecimal(s)
			if err == nil {
				return JSONNumberOf(dd), nil
			}
		}
		return JSONStringOf(string(appendFloat(nil, v, t.isFloat4()))), nil
	case *apd.Decimal:
		if v.Form != apd.Finite {
			return JSONStringOf(string(appendDecimal(nil, v))), nil
		}
		return JSONNumberOf(v), nil
	case Array:
		out := JSON{Kind: JSONArray, Elems: make([]JSON, len(v.Elems))}
		for i, e := range v.Elems {
			je, err := ToJSON(t.ElemType(), e)
			if err != nil {
				return JSON{}, err
			}
			out.Elems[i] = je
		}
		return out, nil
	case time.Time:
		text := AppendText(nil, t, v)
		if i := bytes.IndexByte(text, ' '); i == 10 && t.Family != DateFamily {
			text[i] = 'T'
		}
		if t.Family == TimestampTZFamily {
			text = append(bytes.TrimSuffix(text, []byte("+00")), "+00:00"...)
		}
		return JSONStringOf(string(text)), nil
	case string:
		if t.Family == JSONFamily {
			return ParseJSON(v)
		}
	}
	return JSONStringOf(string(AppendText(nil, t, d))), nil
}
