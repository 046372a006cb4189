package types

import (
	"math"
	"strconv"

	"github.com/cockroachdb/apd/v3"
)

// AppendGroupKey appends a key for d, of type t, that is the same for two values exactly
// when Compare finds them equal, for GROUP BY, DISTINCT and DISTINCT aggregates: numeric
// 1.0 and 1.00, float 0 and -0, interval '1 mon' and '30 days', and jsonb 1.0 and 1 each
// share a key, as they share a group in PostgreSQL. The key never holds the byte 0xff, which
// callers use to separate columns. d must not be nil.
func AppendGroupKey(b []byte, t T, d Datum) []byte {
	switch v := d.(type) {
	case float64:
		if v == 0 {
			v = 0 // -0 groups with 0
		}
		if math.IsNaN(v) {
			return append(b, "NaN"...)
		}
		return strconv.AppendFloat(b, v, 'g', -1, 64)
	case *apd.Decimal:
		return appendDecimalKey(b, v)
	case Interval:
		days, us := v.span()
		b = strconv.AppendInt(b, days, 10)
		b = append(b, ':')
		return strconv.AppendInt(b, us, 10)
	case JSON:
		return appendJSONKey(b, v)
	case Oid:
		return strconv.AppendUint(b, uint64(v.ID), 10) // reg* values group by OID, not name
	case Array:
		elem := t.ElemType()
		b = append(b, '{')
		for _, e := range v.Elems {
			if e == nil {
				b = append(b, 'N')
				continue
			}
			// Length-prefixed, so that elements cannot run into each other.
			k := AppendGroupKey(nil, elem, e)
			b = strconv.AppendInt(b, int64(len(k)), 10)
			b = append(b, ':')
			b = append(b, k...)
		}
		return append(b, '}')
	case Record:
		return appendRecordGroupKey(b, t, v)
	}
	return AppendText(b, t, d)
}

// appendDecimalKey writes a numeric without trailing fractional zeros.
func appendDecimalKey(b []byte, d *apd.Decimal) []byte {
	if d.Form != apd.Finite {
		return appendDecimal(b, d)
	}
	var r apd.Decimal
	r.Reduce(d)
	if r.IsZero() {
		return append(b, '0')
	}
	return append(b, r.Text('E')...)
}

// appendJSONKey is AppendJSON with numbers keyed as numerics are.
func appendJSONKey(b []byte, j JSON) []byte {
	switch j.Kind {
	case JSONNumber:
		return appendDecimalKey(append(b, 'n'), j.Num)
	case JSONArray:
		b = append(b, '[')
		for _, e := range j.Elems {
			b = appendJSONKey(b, e)
			b = append(b, ',')
		}
		return append(b, ']')
	case JSONObject:
		b = append(b, '{')
		for i, k := range j.Keys {
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONKey(b, j.Vals[i])
			b = append(b, ',')
		}
		return append(b, '}')
	}
	return AppendJSON(b, j)
}
