package types

import (
	"encoding/binary"
	"strings"

	"github.com/meridiandb/meridian/sql/pgerror"
)

func malformedArray(s, detail string) error {
	return pgerror.New(pgerror.CodeInvalidTextRepresent, `malformed array literal: "%s"`, s).WithDetail(detail)
}

func multiDimUnsupported() error {
	return pgerror.Unsupported("multidimensional arrays")
}

// parseArray is array_in for a one-dimensional array: '{1,2,NULL}', '{"a b","c\"d"}',
// optionally after the dimension decoration '[1:3]='. Elements go through the element type's
// input function; unquoted NULL (any case) is NULL.
func parseArray(t T, s string, st *Settings) (Datum, error) {
	str := strings.TrimLeft(s, " \t\n\r\v\f")
	if strings.HasPrefix(str, "[") {
		eq := strings.IndexByte(str, '=')
		if eq < 0 {
			return nil, malformedArray(s, `Missing "=" after array dimensions.`)
		}
		dims := strings.TrimSpace(str[:eq])
		if strings.Count(dims, "[") > 1 {
			return nil, multiDimUnsupported()
		}
		lo, _, ok := strings.Cut(strings.Trim(dims, "[]"), ":")
		if !ok || strings.TrimSpace(lo) != "1" {
			return nil, pgerror.Unsupported("array lower bounds other than 1")
		}
		str = strings.TrimLeft(str[eq+1:], " \t\n\r\v\f")
	}
	if !strings.HasPrefix(str, "{") {
		return nil, malformedArray(s, `Array value must start with "{" or dimension information.`)
	}
	elem := t.ElemType()
	var out Array
	i := 1
	skipSpace := func() {
		for i < len(str) && isArraySpace(str[i]) {
			i++
		}
	}
	skipSpace()
	if i < len(str) && str[i] == '}' {
		i++
	} else {
		for {
			skipSpace()
			if i >= len(str) {
				return nil, malformedArray(s, "Unexpected end of input.")
			}
			switch str[i] {
			case '{':
				return nil, multiDimUnsupported()
			case ',', '}':
				return nil, malformedArray(s, `Unexpected "`+str[i:i+1]+`" character.`)
			}
			var sb strings.Builder
			quoted, sawQuote := false, false
			// trailing marks where unescaped trailing blanks of an unquoted element start.
			trailing := -1
		element:
			for ; i < len(str); i++ {
				c := str[i]
				switch {
				case c == '\\':
					if i+1 >= len(str) {
						return nil, malformedArray(s, "Unexpected end of input.")
					}
					i++
					sb.WriteByte(str[i])
					trailing = -1
				case c == '"':
					if sawQuote && !quoted || !quoted && sb.Len() > 0 {
						return nil, malformedArray(s, `Unexpected array element.`)
					}
					quoted, sawQuote = !quoted, true
				case quoted:
					sb.WriteByte(c)
				case c == ',' || c == '}':
					break element
				case c == '{':
					return nil, malformedArray(s, `Unexpected "{" character.`)
				case isArraySpace(c):
					if trailing < 0 {
						trailing = sb.Len()
					}
					sb.WriteByte(c)
				default:
					if sawQuote {
						return nil, malformedArray(s, `Unexpected array element.`)
					}
					sb.WriteByte(c)
					trailing = -1
				}
			}
			if quoted || i >= len(str) {
				return nil, malformedArray(s, "Unexpected end of input.")
			}
			text := sb.String()
			if trailing >= 0 {
				text = text[:trailing]
			}
			if !sawQuote && strings.EqualFold(text, "null") {
				out.Elems = append(out.Elems, nil)
			} else {
				v, err := ParseTextWith(elem, text, st)
				if err != nil {
					return nil, err
				}
				out.Elems = append(out.Elems, v)
			}
			if str[i] == '}' {
				i++
				break
			}
			i++ // the comma
		}
	}
	for ; i < len(str); i++ {
		if !isArraySpace(str[i]) {
			return nil, malformedArray(s, "Junk after closing right brace.")
		}
	}
	return out, nil
}

func isArraySpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// appendArray is array_out: '{1,2,NULL}', with an element quoted when it is empty, is
// NULL spelled as text, or holds a brace, comma, quote, backslash or white space.
func appendArray(b []byte, t T, a Array, st *Settings) []byte {
	elem := t.ElemType()
	b = append(b, '{')
	var buf []byte
	for i, e := range a.Elems {
		if i > 0 {
			b = append(b, ',')
		}
		if e == nil {
			b = append(b, "NULL"...)
			continue
		}
		buf = AppendTextWith(buf[:0], elem, e, st)
		if !needsArrayQuotes(buf) {
			b = append(b, buf...)
			continue
		}
		b = append(b, '"')
		for _, c := range buf {
			if c == '"' || c == '\\' {
				b = append(b, '\\')
			}
			b = append(b, c)
		}
		b = append(b, '"')
	}
	return append(b, '}')
}

func needsArrayQuotes(s []byte) bool {
	if len(s) == 0 || strings.EqualFold(string(s), "null") {
		return true
	}
	for _, c := range s {
		switch c {
		case '{', '}', ',', '"', '\\':
			return true
		}
		if isArraySpace(c) {
			return true
		}
	}
	return false
}

// appendArrayBinary is array_send for one dimension: ndim, has-nulls flag, element OID,
// then the dimension's length and lower bound (1), then each element as a length (-1 for
// NULL) and its binary form. An empty array has no dimensions.
func appendArrayBinary(b []byte, t T, a Array) ([]byte, error) {
	elem := t.ElemType()
	ndim, hasNull := uint32(0), uint32(0)
	if len(a.Elems) > 0 {
		ndim = 1
	}
	for _, e := range a.Elems {
		if e == nil {
			hasNull = 1
		}
	}
	b = binary.BigEndian.AppendUint32(b, ndim)
	b = binary.BigEndian.AppendUint32(b, hasNull)
	b = binary.BigEndian.AppendUint32(b, elem.OID())
	if ndim == 1 {
		b = binary.BigEndian.AppendUint32(b, uint32(len(a.Elems)))
		b = binary.BigEndian.AppendUint32(b, 1)
	}
	for _, e := range a.Elems {
		var err error
		if b, err = AppendBinaryField(b, elem, e); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// decodeArrayBinary is array_recv for arrays of at most one dimension.
func decodeArrayBinary(t T, b []byte) (Datum, error) {
	elem := t.ElemType()
	if len(b) < 12 {
		return nil, badBinary()
	}
	ndim := int32(binary.BigEndian.Uint32(b))
	flags := binary.BigEndian.Uint32(b[4:])
	oid := binary.BigEndian.Uint32(b[8:])
	b = b[12:]
	switch {
	case ndim < 0 || ndim > 6:
		return nil, pgerror.New(pgerror.CodeInvalidBinaryRepresent, "invalid number of dimensions: %d", ndim)
	case flags != 0 && flags != 1:
		return nil, pgerror.New(pgerror.CodeInvalidBinaryRepresent, "invalid array flags")
	case oid != elem.OID():
		got := "unknown"
		if gt, ok := FromOID(oid); ok {
			got = gt.String()
		}
		return nil, pgerror.New(pgerror.CodeDatatypeMismatch, "binary data has array element type %d (%s) instead of expected %d (%s)", oid, got, elem.OID(), elem.String())
	case ndim > 1:
		return nil, multiDimUnsupported()
	}
	if ndim == 0 {
		if len(b) != 0 {
			return nil, badBinary()
		}
		return Array{}, nil
	}
	if len(b) < 8 {
		return nil, badBinary()
	}
	n := int32(binary.BigEndian.Uint32(b))
	lbound := int32(binary.BigEndian.Uint32(b[4:]))
	b = b[8:]
	if n < 0 || int64(n) > int64(len(b))/4 {
		return nil, badBinary()
	}
	if lbound != 1 && n > 0 {
		return nil, pgerror.Unsupported("array lower bounds other than 1")
	}
	out := Array{Elems: make([]Datum, n)}
	for i := range out.Elems {
		if len(b) < 4 {
			return nil, badBinary()
		}
		l := int32(binary.BigEndian.Uint32(b))
		b = b[4:]
		if l == -1 {
			continue
		}
		if l < 0 || int(l) > len(b) {
			return nil, badBinary()
		}
		v, err := DecodeBinary(elem, b[:l])
		if err != nil {
			return nil, err
		}
		out.Elems[i] = v
		b = b[l:]
	}
	if len(b) != 0 {
		return nil, badBinary()
	}
	return out, nil
}

// compareArrays is array_cmp: element by element, NULL elements after all others (and equal
// to each other), then the shorter array first.
func compareArrays(t T, a, b Array) int {
	elem := t.ElemType()
	for i := 0; i < len(a.Elems) && i < len(b.Elems); i++ {
		if c := Compare(elem, a.Elems[i], b.Elems[i]); c != 0 {
			return c
		}
	}
	return cmpOrdered(int64(len(a.Elems)), int64(len(b.Elems)))
}

// arrayHas reports whether a has a non-NULL element equal to v.
func arrayHas(elem T, a Array, v Datum) bool {
	for _, e := range a.Elems {
		if e != nil && Compare(elem, e, v) == 0 {
			return true
		}
	}
	return false
}

// ArrayContains is a @> b: every element of b is in a. A NULL element of b is in nothing.
func ArrayContains(t T, a, b Array) bool {
	elem := t.ElemType()
	for _, e := range b.Elems {
		if e == nil || !arrayHas(elem, a, e) {
			return false
		}
	}
	return true
}

// ArrayOverlaps is a && b: some non-NULL element is in both.
func ArrayOverlaps(t T, a, b Array) bool {
	elem := t.ElemType()
	for _, e := range b.Elems {
		if e != nil && arrayHas(elem, a, e) {
			return true
		}
	}
	return false
}

// Subscript is a[i], 1-based; out of range is NULL.
func (a Array) Subscript(i int64) Datum {
	if i < 1 || i > int64(len(a.Elems)) {
		return nil
	}
	return a.Elems[i-1]
}

// Slice is a[lo:hi], clipped to the array; an empty range is the empty array.
func (a Array) Slice(lo, hi int64) Array {
	lo = max(lo, 1)
	hi = min(hi, int64(len(a.Elems)))
	if lo > hi {
		return Array{}
	}
	return Array{Elems: append([]Datum(nil), a.Elems[lo-1:hi]...)}
}
