package rowenc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/types"
)

// valueVersion starts every row value. It also keeps the value non-empty when every
// non-key column is NULL: an empty value is a deletion tombstone in MVCC.
const valueVersion byte = 1

// Each stored column is: column ID (uvarint), family (1 byte), payload. The family makes values
// self-describing, so a value of a dropped column can be skipped without its descriptor.

// EncodeRow returns the key and value of row, whose elements follow t.Columns.
func EncodeRow(t *catalog.Table, row []types.Datum) (key, value []byte, err error) {
	key, err = PrimaryKey(t, row)
	if err != nil {
		return nil, nil, err
	}
	value = []byte{valueVersion}
	for i, c := range t.Columns {
		if row[i] == nil || t.IsPrimaryKeyColumn(c.ID) && !keyLosesValue(c.Type) {
			continue
		}
		value = binary.AppendUvarint(value, uint64(c.ID))
		value = append(value, byte(c.Type.Family))
		value, err = appendValueDatum(value, c.Type, row[i])
		if err != nil {
			return nil, nil, fmt.Errorf("column %q: %w", c.Name, err)
		}
	}
	return key, value, nil
}

func appendValueDatum(b []byte, t types.T, d types.Datum) ([]byte, error) {
	switch t.Family {
	case types.BoolFamily:
		if d.(bool) {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case types.IntFamily:
		return binary.AppendVarint(b, d.(int64)), nil
	case types.FloatFamily:
		return binary.BigEndian.AppendUint64(b, math.Float64bits(d.(float64))), nil
	case types.DecimalFamily:
		return appendLenPrefixed(b, []byte(d.(*apd.Decimal).String())), nil
	case types.StringFamily:
		return appendLenPrefixed(b, []byte(d.(string))), nil
	case types.BytesFamily:
		return appendLenPrefixed(b, d.([]byte)), nil
	case types.DateFamily, types.TimestampFamily, types.TimestampTZFamily:
		return binary.AppendVarint(b, d.(time.Time).UnixMicro()), nil
	case types.UUIDFamily:
		u := d.(types.UUID)
		return append(b, u[:]...), nil
	case types.TimeFamily:
		return binary.AppendVarint(b, int64(d.(types.TimeOfDay))), nil
	case types.OIDFamily:
		return binary.AppendUvarint(b, uint64(d.(types.Oid).ID)), nil
	case types.IntervalFamily:
		iv := d.(types.Interval)
		b = binary.AppendVarint(b, int64(iv.Months))
		b = binary.AppendVarint(b, int64(iv.Days))
		return binary.AppendVarint(b, iv.Micros), nil
	case types.JSONBFamily:
		return appendLenPrefixed(b, types.AppendJSON(nil, d.(types.JSON))), nil
	case types.JSONFamily:
		return appendLenPrefixed(b, []byte(d.(string))), nil
	case types.ArrayFamily:
		// The element family, the count, then each element as 0 (NULL) or 1 and its payload.
		a := d.(types.Array)
		b = append(b, byte(t.Elem))
		b = binary.AppendUvarint(b, uint64(len(a.Elems)))
		elem := t.ElemType()
		for _, e := range a.Elems {
			if e == nil {
				b = append(b, 0)
				continue
			}
			var err error
			if b, err = appendValueDatum(append(b, 1), elem, e); err != nil {
				return nil, err
			}
		}
		return b, nil
	}
	return nil, fmt.Errorf("cannot store a %s value", t)
}

func appendLenPrefixed(b, v []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(v))), v...)
}

var errCorrupt = errors.New("corrupt row value")

// DecodeRow fills row (len(t.Columns)) from a stored key and value.
func DecodeRow(t *catalog.Table, key, value []byte, row []types.Datum) error {
	for i := range row {
		row[i] = nil
	}
	prefix := IndexPrefix(t.KeyID())
	if len(key) < len(prefix) || string(key[:len(prefix)]) != string(prefix) {
		return fmt.Errorf("key %x is not in table %q", key, t.Name)
	}
	rest := key[len(prefix):]
	for i, ord := range t.PrimaryKeyOrdinals() {
		var d types.Datum
		var err error
		rest, d, err = decodeKeyDatum(rest, t.Columns[ord].Type, t.PrimaryKeyDesc[i])
		if err != nil {
			return fmt.Errorf("decoding key of %q: %w", t.Name, err)
		}
		row[ord] = d
	}
	if len(value) == 0 || value[0] != valueVersion {
		return fmt.Errorf("table %q: %w (version)", t.Name, errCorrupt)
	}
	v := value[1:]
	for len(v) > 0 {
		id, n := binary.Uvarint(v)
		if n <= 0 || len(v) < n+1 {
			return fmt.Errorf("table %q: %w", t.Name, errCorrupt)
		}
		fam := types.Family(v[n])
		v = v[n+1:]
		d, used, err := decodeValueDatum(v, fam)
		if err != nil {
			return fmt.Errorf("table %q column %d: %w", t.Name, id, err)
		}
		v = v[used:]
		if ord := t.ColumnOrdinal(uint32(id)); ord >= 0 {
			row[ord] = d
		}
	}
	return nil
}

func decodeValueDatum(b []byte, fam types.Family) (types.Datum, int, error) {
	switch fam {
	case types.BoolFamily:
		if len(b) < 1 {
			return nil, 0, errCorrupt
		}
		return b[0] != 0, 1, nil
	case types.IntFamily:
		v, n := binary.Varint(b)
		if n <= 0 {
			return nil, 0, errCorrupt
		}
		return v, n, nil
	case types.FloatFamily:
		if len(b) < 8 {
			return nil, 0, errCorrupt
		}
		return math.Float64frombits(binary.BigEndian.Uint64(b)), 8, nil
	case types.DecimalFamily, types.StringFamily, types.BytesFamily, types.JSONBFamily, types.JSONFamily:
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			return nil, 0, errCorrupt
		}
		raw := b[n : n+int(l)]
		used := n + int(l)
		switch fam {
		case types.DecimalFamily:
			d, _, err := apd.NewFromString(string(raw))
			if err != nil {
				return nil, 0, errCorrupt
			}
			return d, used, nil
		case types.StringFamily, types.JSONFamily:
			return string(raw), used, nil
		case types.JSONBFamily:
			j, err := types.ParseJSON(string(raw))
			if err != nil {
				return nil, 0, fmt.Errorf("%w: %v", errCorrupt, err)
			}
			return j, used, nil
		}
		return append([]byte(nil), raw...), used, nil
	case types.DateFamily, types.TimestampFamily, types.TimestampTZFamily:
		v, n := binary.Varint(b)
		if n <= 0 {
			return nil, 0, errCorrupt
		}
		return time.UnixMicro(v).UTC(), n, nil
	case types.UUIDFamily:
		if len(b) < 16 {
			return nil, 0, errCorrupt
		}
		var u types.UUID
		copy(u[:], b)
		return u, 16, nil
	case types.TimeFamily:
		v, n := binary.Varint(b)
		if n <= 0 {
			return nil, 0, errCorrupt
		}
		return types.TimeOfDay(v), n, nil
	case types.OIDFamily:
		v, n := binary.Uvarint(b)
		if n <= 0 || v > 1<<32-1 {
			return nil, 0, errCorrupt
		}
		return types.Oid{ID: uint32(v)}, n, nil
	case types.IntervalFamily:
		var f [3]int64
		used := 0
		for i := range f {
			v, n := binary.Varint(b[used:])
			if n <= 0 {
				return nil, 0, errCorrupt
			}
			f[i], used = v, used+n
		}
		if f[0] != int64(int32(f[0])) || f[1] != int64(int32(f[1])) {
			return nil, 0, errCorrupt
		}
		return types.Interval{Months: int32(f[0]), Days: int32(f[1]), Micros: f[2]}, used, nil
	case types.ArrayFamily:
		if len(b) < 1 || types.Family(b[0]) == types.ArrayFamily {
			return nil, 0, errCorrupt
		}
		elem := types.Family(b[0])
		count, n := binary.Uvarint(b[1:])
		if n <= 0 || count > uint64(len(b)) { // each element takes at least a byte
			return nil, 0, errCorrupt
		}
		used := 1 + n
		a := types.Array{Elems: make([]types.Datum, count)}
		for i := range a.Elems {
			if used >= len(b) {
				return nil, 0, errCorrupt
			}
			present := b[used]
			used++
			if present == 0 {
				continue
			}
			d, m, err := decodeValueDatum(b[used:], elem)
			if err != nil {
				return nil, 0, err
			}
			a.Elems[i], used = d, used+m
		}
		return a, used, nil
	}
	return nil, 0, fmt.Errorf("%w: unknown type family %d", errCorrupt, fam)
}
