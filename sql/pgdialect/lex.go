package pgdialect

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/meridiandb/meridian/sql/pgerror"
)

type tokenKind uint8

const (
	tokIdent  tokenKind = iota // unquoted identifier or keyword, folded to lower case
	tokQIdent                  // "quoted identifier", case kept
	tokString                  // string constant; text holds its value
	tokNumber
	tokParam // $n; num holds n
	tokOp    // operator or punctuation
)

type token struct {
	kind tokenKind
	text string
	num  int
	pos  int // byte offset in the original text
	// gen marks keywords the rewrites produce: they are meant as tidb syntax and are never
	// quoted, even when the same word from the client would be.
	gen bool
	// name marks a word a rewrite found in a name position (a column definition, a column
	// list): the emitter quotes it if tidb reserves it.
	name bool
}

func (t token) is(words ...string) bool {
	if t.kind != tokIdent {
		return false
	}
	for _, w := range words {
		if t.text == w {
			return true
		}
	}
	return false
}

func (t token) isOp(op string) bool { return t.kind == tokOp && t.text == op }

func syntaxErrorAt(src string, pos int, format string, args ...any) error {
	e := pgerror.New(pgerror.CodeSyntaxError, format, args...)
	e.Position = utf8.RuneCountInString(src[:min(pos, len(src))]) + 1
	return e
}

// nearText is the text a syntax error points at.
func nearText(src string, pos int) string {
	rest := src[pos:]
	end := len(rest)
	for i, r := range rest {
		if i > 0 && (unicode.IsSpace(r) || strings.ContainsRune(",;()", r)) {
			end = i
			break
		}
	}
	return rest[:end]
}

// lex splits src into tokens.
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			start := i
			depth := 0
			for i < len(src) {
				if strings.HasPrefix(src[i:], "/*") {
					depth++
					i += 2
				} else if strings.HasPrefix(src[i:], "*/") {
					depth--
					i += 2
					if depth == 0 {
						break
					}
				} else {
					i++
				}
			}
			if depth != 0 {
				return nil, syntaxErrorAt(src, start, "unterminated /* comment at or near \"%s\"", nearText(src, start))
			}
		case c == '\'':
			s, n, err := lexString(src, i, false)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokString, text: s, pos: i})
			i += n
		case (c == 'e' || c == 'E') && i+1 < len(src) && src[i+1] == '\'':
			s, n, err := lexString(src, i+1, true)
			if err != nil {
				return nil, err
			}
			// Escapes can spell bytes that are not text; PostgreSQL refuses them too.
			if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
				e := pgerror.New(pgerror.CodeCharacterNotInRepertoire, "invalid byte sequence for encoding \"UTF8\"")
				e.Position = utf8.RuneCountInString(src[:i]) + 1
				return nil, e
			}
			toks = append(toks, token{kind: tokString, text: s, pos: i})
			i += 1 + n
		case (c == 'n' || c == 'N') && i+1 < len(src) && src[i+1] == '\'':
			// A national character string is an ordinary string in PostgreSQL.
			s, n, err := lexString(src, i+1, false)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokString, text: s, pos: i})
			i += 1 + n
		case (c == 'u' || c == 'U') && (strings.HasPrefix(src[i+1:], "&'") || strings.HasPrefix(src[i+1:], "&\"")):
			return nil, pgerror.Unsupported("Unicode escape strings (U&'...')")
		case (c == 'x' || c == 'X' || c == 'b' || c == 'B') && i+1 < len(src) && src[i+1] == '\'':
			s, n, err := lexString(src, i+1, false)
			if err != nil {
				return nil, err
			}
			if err := checkBitString(src, i, c, s); err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokOp, text: string(c|0x20) + "'" + s + "'", pos: i})
			i += 1 + n
		case c == '"':
			j := i + 1
			var sb strings.Builder
			for {
				if j >= len(src) {
					return nil, syntaxErrorAt(src, i, "unterminated quoted identifier at or near \"%s\"", nearText(src, i))
				}
				if src[j] == '"' {
					if j+1 < len(src) && src[j+1] == '"' {
						sb.WriteByte('"')
						j += 2
						continue
					}
					break
				}
				sb.WriteByte(src[j])
				j++
			}
			if sb.Len() == 0 {
				return nil, syntaxErrorAt(src, i, "zero-length delimited identifier at or near \"\"\"\"")
			}
			toks = append(toks, token{kind: tokQIdent, text: sb.String(), pos: i})
			i = j + 1
		case c == '$':
			if i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9' {
				j := i + 1
				for j < len(src) && src[j] >= '0' && src[j] <= '9' {
					j++
				}
				n, err := strconv.Atoi(src[i+1 : j])
				if err != nil || n < 1 || n > 65535 {
					return nil, syntaxErrorAt(src, i, "invalid parameter %s", src[i:j])
				}
				toks = append(toks, token{kind: tokParam, num: n, pos: i})
				i = j
				continue
			}
			// A dollar-quoted string: $tag$ ... $tag$.
			j := i + 1
			for j < len(src) && isIdentChar(src[j]) && src[j] != '$' {
				j++
			}
			if j >= len(src) || src[j] != '$' {
				return nil, syntaxErrorAt(src, i, "syntax error at or near \"%s\"", nearText(src, i))
			}
			delim := src[i : j+1]
			end := strings.Index(src[j+1:], delim)
			if end < 0 {
				return nil, syntaxErrorAt(src, i, "unterminated dollar-quoted string at or near \"%s\"", nearText(src, i))
			}
			toks = append(toks, token{kind: tokString, text: src[j+1 : j+1+end], pos: i})
			i = j + 1 + end + len(delim)
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9':
			j := lexNumber(src, i)
			if j+1 < len(src) && src[j] == '.' && src[j+1] >= '0' && src[j+1] <= '9' {
				return nil, syntaxErrorAt(src, j, "syntax error at or near \"%s\"", nearText(src, j))
			}
			if j < len(src) && isIdentStart(src[j]) {
				return nil, syntaxErrorAt(src, i, "trailing junk after numeric literal at or near \"%s\"", nearText(src, i))
			}
			toks = append(toks, token{kind: tokNumber, text: src[i:j], pos: i})
			i = j
		case isIdentStart(c):
			j := i
			for j < len(src) && isIdentChar(src[j]) {
				j++
			}
			toks = append(toks, token{kind: tokIdent, text: foldASCII(src[i:j]), pos: i})
			i = j
		default:
			op := lexOp(src[i:])
			switch op {
			case "#", "`", "\\", "{", "}", "!":
				// tidb gives these meanings PostgreSQL does not have (comments, quoting, ODBC
				// escapes, negation); PostgreSQL itself rejects them here. (? is jsonb's key
				// existence operator, rewritten into a call before tidb could read it as a
				// placeholder.)
				return nil, syntaxErrorAt(src, i, "syntax error at or near \"%s\"", op)
			}
			toks = append(toks, token{kind: tokOp, text: op, pos: i})
			i += len(op)
		}
	}
	return toks, nil
}

// lexNumber returns the end of the numeric literal starting at i: digits with at most one
// decimal point, then an optional exponent.
func lexNumber(src string, i int) int {
	j := i
	for j < len(src) && src[j] >= '0' && src[j] <= '9' {
		j++
	}
	// "1..2" is not a number followed by a fraction; leave the dots alone.
	if j < len(src) && src[j] == '.' && !(j+1 < len(src) && src[j+1] == '.') {
		j++
		for j < len(src) && src[j] >= '0' && src[j] <= '9' {
			j++
		}
	}
	if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
		k := j + 1
		if k < len(src) && (src[k] == '+' || src[k] == '-') {
			k++
		}
		if k < len(src) && src[k] >= '0' && src[k] <= '9' {
			for k < len(src) && src[k] >= '0' && src[k] <= '9' {
				k++
			}
			j = k
		}
	}
	return j
}

// checkBitString accepts the X'...' and B'...' literals tidb reads the same way PostgreSQL
// does: whole bytes of hex digits, or binary digits.
func checkBitString(src string, pos int, kind byte, s string) error {
	hex := kind == 'x' || kind == 'X'
	for k := 0; k < len(s); k++ {
		if hex && !isHex(s[k]) || !hex && s[k] != '0' && s[k] != '1' {
			what := "binary"
			if hex {
				what = "hexadecimal"
			}
			return syntaxErrorAt(src, pos, "\"%c\" is not a valid %s digit", s[k], what)
		}
	}
	if hex && len(s)%2 != 0 {
		return pgerror.Unsupported("hexadecimal bit strings of odd length")
	}
	return nil
}

// foldASCII lower-cases ASCII letters only, as PostgreSQL folds unquoted identifiers.
func foldASCII(s string) string {
	for k := 0; k < len(s); k++ {
		if s[k] >= 'A' && s[k] <= 'Z' {
			b := []byte(s)
			for m := k; m < len(b); m++ {
				if b[m] >= 'A' && b[m] <= 'Z' {
					b[m] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' || c == '$' }

var multiOps = []string{"->>", "#>>", "~~*", "#>", "#-", "?|", "?&", "!~~", "!~*", "::", "<=", ">=", "<>", "!=", "||", "->", "=>", "~~", "!~", "~*", "@>", "<@", "&&", "<<", ">>"}

func lexOp(s string) string {
	for _, op := range multiOps {
		if strings.HasPrefix(s, op) {
			return op
		}
	}
	_, n := utf8.DecodeRuneInString(s)
	return s[:n]
}

// lexString reads the quoted string whose opening quote is src[start]. With escapes it
// applies the backslash escapes of E'...' strings. It returns the value and the bytes consumed.
func lexString(src string, start int, escapes bool) (string, int, error) {
	var sb strings.Builder
	i := start + 1
	for {
		if i >= len(src) {
			return "", 0, syntaxErrorAt(src, start, "unterminated quoted string at or near \"%s\"", src[start:])
		}
		c := src[i]
		if c == '\'' {
			if i+1 < len(src) && src[i+1] == '\'' {
				sb.WriteByte('\'')
				i += 2
				continue
			}
			return sb.String(), i + 1 - start, nil
		}
		if c == '\\' && escapes && i+1 < len(src) {
			n, err := unescape(&sb, src[i+1:])
			if err != nil {
				return "", 0, syntaxErrorAt(src, i, "invalid escape in string at or near \"%s\"", nearText(src, i))
			}
			i += 1 + n
			continue
		}
		sb.WriteByte(c)
		i++
	}
}

// unescape applies one backslash escape (the text after the backslash), returning its length.
func unescape(sb *strings.Builder, s string) (int, error) {
	switch s[0] {
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
	case 'x':
		j := 1
		for j < len(s) && j < 3 && isHex(s[j]) {
			j++
		}
		if j == 1 {
			return 0, strconv.ErrSyntax
		}
		v, _ := strconv.ParseUint(s[1:j], 16, 8)
		sb.WriteByte(byte(v))
		return j, nil
	case 'u', 'U':
		n := 4
		if s[0] == 'U' {
			n = 8
		}
		if len(s) < 1+n {
			return 0, strconv.ErrSyntax
		}
		v, err := strconv.ParseUint(s[1:1+n], 16, 32)
		if err != nil || !utf8.ValidRune(rune(v)) {
			return 0, strconv.ErrSyntax
		}
		sb.WriteRune(rune(v))
		return 1 + n, nil
	default:
		if s[0] >= '0' && s[0] <= '7' {
			j := 0
			for j < len(s) && j < 3 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			v, _ := strconv.ParseUint(s[:j], 8, 16)
			sb.WriteByte(byte(v))
			return j, nil
		}
		sb.WriteByte(s[0])
	}
	return 1, nil
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
