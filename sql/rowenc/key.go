package rowenc

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/meridiandb/meridian/ranges/encoding"
	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/types"
)

// tablesPrefix starts the SQL table data key space; bytes below it belong to the system.
const tablesPrefix byte = 0x05

// PrimaryIndexID identifies the primary index within a table's key space; secondary indexes
// take higher IDs (see index.go).
const PrimaryIndexID = 1

// IndexPrefix is the key prefix shared by every row of table's primary index.
func IndexPrefix(tableID uint32) []byte { return IndexKeyPrefix(tableID, PrimaryIndexID) }

// PrimarySpan is the key span of a table's rows: its primary index, without the entries of
// its secondary indexes.
func PrimarySpan(tableID uint32) (start, end []byte) {
	start = IndexPrefix(tableID)
	return start, encoding.PrefixEnd(start)
}

// TableSpan is the key span holding all of a table's data.
func TableSpan(tableID uint32) (start, end []byte) {
	start = encoding.AppendUvarint([]byte{tablesPrefix}, uint64(tableID))
	return start, encoding.PrefixEnd(start)
}

func direction(desc bool) encoding.Direction {
	if desc {
		return encoding.Descending
	}
	return encoding.Ascending
}

// AppendKeyDatum appends the order-preserving encoding of d, a value of type t.
func AppendKeyDatum(b []byte, t types.T, d types.Datum, desc bool) ([]byte, error) {
	dir := direction(desc)
	if d == nil {
		return encoding.AppendNull(b, dir), nil
	}
	switch t.Family {
	case types.BoolFamily:
		return encoding.AppendBool(b, d.(bool), dir), nil
	case types.IntFamily:
		return encoding.AppendInt(b, d.(int64), dir), nil
	case types.FloatFamily:
		return encoding.AppendFloat(b, d.(float64), dir), nil
	case types.DecimalFamily:
		return encoding.AppendDecimal(b, d.(*apd.Decimal), dir), nil
	case types.StringFamily:
		return encoding.AppendString(b, d.(string), dir), nil
	case types.BytesFamily:
		return encoding.AppendBytes(b, d.([]byte), dir), nil
	case types.DateFamily, types.TimestampFamily, types.TimestampTZFamily:
		return encoding.AppendTime(b, d.(time.Time), dir), nil
	case types.UUIDFamily:
		return encoding.AppendUUID(b, d.(types.UUID), dir), nil
	case types.TimeFamily:
		return encoding.AppendInt(b, int64(d.(types.TimeOfDay)), dir), nil
	case types.OIDFamily:
		return encoding.AppendInt(b, int64(d.(types.Oid).ID), dir), nil
	case types.IntervalFamily:
		// Intervals order (and are equal) by span, so the key holds the span; the exact
		// months, days and time travel in the row value (see keyLosesValue).
		days, us := types.IntervalSpan(d.(types.Interval))
		return encoding.AppendInt(encoding.AppendInt(b, days, dir), us, dir), nil
	}
	return nil, fmt.Errorf("cannot encode a %s value in a key", t)
}

// decodeKeyDatum decodes one value of type t from the front of b.
func decodeKeyDatum(b []byte, t types.T, desc bool) ([]byte, types.Datum, error) {
	dir := direction(desc)
	if rest, isNull := encoding.DecodeNull(b, dir); isNull {
		return rest, nil, nil
	}
	switch t.Family {
	case types.BoolFamily:
		return encoding.DecodeBool(b, dir)
	case types.IntFamily:
		return encoding.DecodeInt(b, dir)
	case types.FloatFamily:
		return encoding.DecodeFloat(b, dir)
	case types.DecimalFamily:
		return encoding.DecodeDecimal(b, dir)
	case types.StringFamily:
		return encoding.DecodeString(b, dir)
	case types.BytesFamily:
		return encoding.DecodeBytes(b, dir)
	case types.DateFamily, types.TimestampFamily, types.TimestampTZFamily:
		return encoding.DecodeTime(b, dir)
	case types.UUIDFamily:
		rest, u, err := encoding.DecodeUUID(b, dir)
		return rest, types.UUID(u), err
	case types.TimeFamily:
		rest, v, err := encoding.DecodeInt(b, dir)
		return rest, types.TimeOfDay(v), err
	case types.OIDFamily:
		rest, v, err := encoding.DecodeInt(b, dir)
		return rest, types.Oid{ID: uint32(v)}, err
	case types.IntervalFamily:
		rest, days, err := encoding.DecodeInt(b, dir)
		if err != nil {
			return nil, nil, err
		}
		rest, us, err := encoding.DecodeInt(rest, dir)
		if err != nil {
			return nil, nil, err
		}
		iv, ok := types.IntervalFromSpan(days, us)
		if !ok {
			return nil, nil, fmt.Errorf("interval key out of range")
		}
		return rest, iv, nil
	}
	return nil, nil, fmt.Errorf("cannot decode a %s value from a key", t)
}

// KeyEncodable reports whether values of type t can be primary key columns. JSON and arrays
// cannot: their key encodings would have to follow their btree orders, which Meridian does not
// implement.
func KeyEncodable(t types.T) bool {
	switch t.Family {
	case types.JSONBFamily, types.JSONFamily, types.ArrayFamily:
		return false
	}
	return true
}

// keyLosesValue reports types whose key encoding does not determine the value: an interval's
// key is its span, which '1 mon' and '30 days' share. Such key columns are stored in the row
// value as well.
func keyLosesValue(t types.T) bool { return t.Family == types.IntervalFamily }

// PrimaryKey encodes the key of a row (all of the table's columns, in table order).
func PrimaryKey(t *catalog.Table, row []types.Datum) ([]byte, error) {
	key := IndexPrefix(t.KeyID())
	for i, ord := range t.PrimaryKeyOrdinals() {
		var err error
		key, err = AppendKeyDatum(key, t.Columns[ord].Type, row[ord], t.PrimaryKeyDesc[i])
		if err != nil {
			return nil, err
		}
	}
	return key, nil
}

// KeyPrefix encodes the key prefix of rows whose first len(vals) primary key columns equal vals.
func KeyPrefix(t *catalog.Table, vals []types.Datum) ([]byte, error) {
	key := IndexPrefix(t.KeyID())
	ords := t.PrimaryKeyOrdinals()
	for i, v := range vals {
		var err error
		key, err = AppendKeyDatum(key, t.Columns[ords[i]].Type, v, t.PrimaryKeyDesc[i])
		if err != nil {
			return nil, err
		}
	}
	return key, nil
}

// PrettyKey renders a key relative to table t's primary index for display, e.g. "/5/'a'",
// "/Min" for the index's start, or "<before>"/"<after>" for keys outside the table. A key
// that does not decode completely shows what decoded, then "/…".
func PrettyKey(t *catalog.Table, key []byte) string {
	prefix := IndexPrefix(t.KeyID())
	switch {
	case string(key) < string(prefix):
		return "<before>"
	case !strings.HasPrefix(string(key), string(prefix)):
		return "<after>"
	case len(key) == len(prefix):
		return "/Min"
	}
	rest := key[len(prefix):]
	var sb strings.Builder
	for i, ord := range t.PrimaryKeyOrdinals() {
		if len(rest) == 0 {
			break
		}
		col := t.Columns[ord]
		r, d, err := decodeKeyDatum(rest, col.Type, t.PrimaryKeyDesc[i])
		if err != nil {
			sb.WriteString("/…")
			return sb.String()
		}
		sb.WriteString("/")
		if d == nil {
			sb.WriteString("NULL")
		} else {
			sb.Write(types.AppendText(nil, col.Type, d))
		}
		rest = r
	}
	if len(rest) > 0 {
		sb.WriteString("/…")
	}
	return sb.String()
}

// DecodeTableKey splits a key of the table data space into its table and index IDs and the
// encoded index columns that follow them. ok is false for a key outside that space or one
// whose IDs do not decode: it is no row of any table.
func DecodeTableKey(key []byte) (tableID, indexID uint32, cols []byte, ok bool) {
	if len(key) == 0 || key[0] != tablesPrefix {
		return 0, 0, nil, false
	}
	rest, t, err := encoding.DecodeUvarint(key[1:])
	if err != nil || t > math.MaxUint32 {
		return 0, 0, nil, false
	}
	if len(rest) == 0 {
		return uint32(t), 0, nil, true // the table's start: no index yet
	}
	rest, i, err := encoding.DecodeUvarint(rest)
	if err != nil || i > math.MaxUint32 {
		return 0, 0, nil, false
	}
	return uint32(t), uint32(i), rest, true
}

// DecodePrimaryKey decodes t's primary key values, in key column order, from the encoded
// columns of a primary index key (as DecodeTableKey returns them). The bound of a span may
// hold only the first few columns, and gives that many values; bytes that are not a whole
// value of the next column, or that remain after the last, are an error.
func DecodePrimaryKey(t *catalog.Table, cols []byte) ([]types.Datum, error) {
	var vals []types.Datum
	for i, ord := range t.PrimaryKeyOrdinals() {
		if len(cols) == 0 {
			return vals, nil
		}
		if ord < 0 {
			return nil, fmt.Errorf("table %q: primary key column %d does not exist", t.Name, t.PrimaryKey[i])
		}
		rest, d, err := decodeKeyDatum(cols, t.Columns[ord].Type, t.PrimaryKeyDesc[i])
		if err != nil {
			return nil, fmt.Errorf("decoding key of %q: %w", t.Name, err)
		}
		vals, cols = append(vals, d), rest
	}
	if len(cols) > 0 {
		return nil, fmt.Errorf("key of %q: %d bytes after the primary key", t.Name, len(cols))
	}
	return vals, nil
}
