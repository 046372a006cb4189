package sql

import (
	"errors"
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"

	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
)

// The POSIX regular expression functions. PostgreSQL's engine (Tcl's "advanced regular
// expressions") and Go's RE2 agree on the common syntax; the escapes whose spelling
// differs (\y, \Y, \Z) are translated, and what RE2 cannot do (back references,
// lookaround) is reported as an invalid expression rather than matched differently.

func init() {
	register("regexp_replace", sig(text, regexpReplace, text, text, text), sig(text, regexpReplace, text, text, text, text))
	register("regexp_match", sig(types.ArrayOf(text), regexpMatch, text, text), sig(types.ArrayOf(text), regexpMatch, text, text, text))
	register("regexp_split_to_array", sig(types.ArrayOf(text), regexpSplit, text, text), sig(types.ArrayOf(text), regexpSplit, text, text, text))
	register("regexp_like", sig(types.Bool, regexpLike, text, text), sig(types.Bool, regexpLike, text, text, text))
	register("regexp_count", sig(int4, regexpCount, text, text))
}

// regexpOptions are the flags a call's options string sets.
type regexpOptions struct {
	global bool
	flags  string // Go flags: i, s, m
	quote  bool   // the pattern is a literal string
}

// parseRegexpFlags reads PostgreSQL's option letters; global says whether the function
// accepts g.
func parseRegexpFlags(s string, global bool, fn string) (regexpOptions, error) {
	o := regexpOptions{}
	ci, newline := false, false
	for _, c := range s {
		switch c {
		case 'g':
			if !global {
				return o, pgerror.New(pgerror.CodeInvalidParameterValue, "%s() does not support the \"global\" option", fn).
					WithHint(map[string]string{
						"regexp_match": "Use the regexp_matches function instead.",
					}[fn])
			}
			o.global = true
		case 'i':
			ci = true
		case 'c':
			ci = false
		case 'n', 'm':
			newline = true
		case 's':
			newline = false
		case 'q':
			o.quote = true
		case 'e', 'b', 'x', 'p', 'w':
			return o, pgerror.New(pgerror.CodeFeatureNotSupported, "regular expression option \"%c\" is not supported", c)
		default:
			return o, pgerror.New(pgerror.CodeInvalidParameterValue, "invalid regular expression option: \"%c\"", c)
		}
	}
	if ci {
		o.flags += "i"
	}
	if newline {
		o.flags += "m" // ^ and $ at line ends; . stops at newlines
	} else {
		o.flags += "s" // PostgreSQL's . matches a newline by default
	}
	return o, nil
}

// regexpCache keeps compiled expressions, since a pattern usually repeats for every row.
var regexpCache struct {
	sync.Mutex
	m map[string]*regexp.Regexp
}

func compileRegexp(pattern string, o regexpOptions) (*regexp.Regexp, error) {
	key := o.flags + "\x00" + pattern
	if o.quote {
		key = "q" + key
	}
	regexpCache.Lock()
	re, ok := regexpCache.m[key]
	regexpCache.Unlock()
	if ok {
		return re, nil
	}
	src := translateRegexp(pattern)
	if o.quote {
		src = regexp.QuoteMeta(pattern)
	}
	re, err := regexp.Compile("(?" + o.flags + ")" + src)
	if err != nil {
		msg := err.Error()
		var se *syntax.Error
		if errors.As(err, &se) {
			msg = string(se.Code) // without the expression, which carries the flags added here
		}
		return nil, pgerror.New("2201B", "invalid regular expression: %s", msg)
	}
	regexpCache.Lock()
	if regexpCache.m == nil || len(regexpCache.m) >= 512 {
		regexpCache.m = map[string]*regexp.Regexp{}
	}
	regexpCache.m[key] = re
	regexpCache.Unlock()
	return re, nil
}

// translateRegexp rewrites the escapes PostgreSQL spells differently from RE2: \y and \Y
// (word boundary or not) and \Z (end of string).
func translateRegexp(p string) string {
	if !strings.Contains(p, `\`) {
		return p
	}
	var sb strings.Builder
	inBracket := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			next := p[i+1]
			i++
			if !inBracket {
				switch next {
				case 'y':
					sb.WriteString(`\b`)
					continue
				case 'Y':
					sb.WriteString(`\B`)
					continue
				case 'Z':
					sb.WriteString(`\z`)
					continue
				}
			}
			sb.WriteByte('\\')
			sb.WriteByte(next)
			continue
		case c == '[' && !inBracket:
			inBracket = true
			sb.WriteByte(c)
			// A ] right after [ or [^ is a literal member.
			if i+1 < len(p) && p[i+1] == '^' {
				sb.WriteByte('^')
				i++
			}
			if i+1 < len(p) && p[i+1] == ']' {
				sb.WriteByte(']')
				i++
			}
			continue
		case c == ']' && inBracket:
			inBracket = false
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

// regexpArgs compiles the pattern of a call with an optional options argument at index
// optIdx.
func regexpArgs(v []types.Datum, optIdx int, global bool, fn string) (*regexp.Regexp, regexpOptions, error) {
	opts := ""
	if len(v) > optIdx {
		opts = v[optIdx].(string)
	}
	o, err := parseRegexpFlags(opts, global, fn)
	if err != nil {
		return nil, o, err
	}
	re, err := compileRegexp(v[1].(string), o)
	return re, o, err
}

// regexpReplace is regexp_replace(s, pattern, replacement [, flags]): the first match, or
// every match with g, replaced; \1..\9 in the replacement insert groups, \& the match.
func regexpReplace(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
	re, o, err := regexpArgs(v, 3, true, "regexp_replace")
	if err != nil {
		return nil, err
	}
	s, repl := v[0].(string), v[2].(string)
	n := 1
	if o.global {
		n = -1
	}
	matches := re.FindAllStringSubmatchIndex(s, n)
	if len(matches) == 0 {
		return s, nil
	}
	var sb strings.Builder
	last := 0
	for _, m := range matches {
		sb.WriteString(s[last:m[0]])
		expandReplacement(&sb, repl, s, m)
		last = m[1]
	}
	sb.WriteString(s[last:])
	return sb.String(), nil
}

func expandReplacement(sb *strings.Builder, repl, s string, m []int) {
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c != '\\' || i+1 >= len(repl) {
			sb.WriteByte(c)
			continue
		}
		next := repl[i+1]
		switch {
		case next >= '1' && next <= '9':
			g := int(next - '0')
			if 2*g+1 < len(m) && m[2*g] >= 0 {
				sb.WriteString(s[m[2*g]:m[2*g+1]])
			}
			i++
		case next == '&':
			sb.WriteString(s[m[0]:m[1]])
			i++
		case next == '\\':
			sb.WriteByte('\\')
			i++
		default:
			sb.WriteByte('\\') // not an escape: the backslash stays
		}
	}
}

// matchArray is a match as regexp_match returns it: the groups if the pattern has any
// (NULL for a group that did not take part), else the whole match.
func matchArray(s string, m []int) types.Array {
	if len(m) == 2 {
		return types.Array{Elems: []types.Datum{s[m[0]:m[1]]}}
	}
	out := types.Array{Elems: make([]types.Datum, len(m)/2-1)}
	for g := 1; g < len(m)/2; g++ {
		if m[2*g] >= 0 {
			out.Elems[g-1] = s[m[2*g]:m[2*g+1]]
		}
	}
	return out
}

func regexpMatch(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
	re, _, err := regexpArgs(v, 2, false, "regexp_match")
	if err != nil {
		return nil, err
	}
	s := v[0].(string)
	m := re.FindStringSubmatchIndex(s)
	if m == nil {
		return nil, nil
	}
	return matchArray(s, m), nil
}

// regexpSubstring is substring(s FROM pattern): the first group's text if the pattern has
// groups, else the match; NULL without a match.
func regexpSubstring(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
	re, _, err := regexpArgs(v, 2, false, "substring")
	if err != nil {
		return nil, err
	}
	s := v[0].(string)
	m := re.FindStringSubmatchIndex(s)
	if m == nil {
		return nil, nil
	}
	if len(m) > 2 {
		if m[2] < 0 {
			return nil, nil
		}
		return s[m[2]:m[3]], nil
	}
	return s[m[0]:m[1]], nil
}

// regexpSplit is regexp_split_to_array(s, pattern [, flags]). As in PostgreSQL, an empty
// match at the start or end of the string or right after another match does not split.
func regexpSplit(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
	re, _, err := regexpArgs(v, 2, false, "regexp_split_to_array")
	if err != nil {
		return nil, err
	}
	s := v[0].(string)
	var out types.Array
	start, prevEnd := 0, 0
	for _, m := range re.FindAllStringIndex(s, -1) {
		if m[0] < len(s) && m[1] > prevEnd {
			out.Elems = append(out.Elems, s[start:m[0]])
			start = m[1]
		}
		prevEnd = m[1]
	}
	out.Elems = append(out.Elems, s[start:])
	return out, nil
}

func regexpLike(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
	re, _, err := regexpArgs(v, 2, false, "regexp_like")
	if err != nil {
		return nil, err
	}
	return re.MatchString(v[0].(string)), nil
}

func regexpCount(_ *evalCtx, _ []types.T, v []types.Datum) (types.Datum, error) {
	re, _, err := regexpArgs(v, 2, false, "regexp_count")
	if err != nil {
		return nil, err
	}
	return int64(len(re.FindAllStringIndex(v[0].(string), -1))), nil
}
