package rowenc

import (
	"encoding/binary"
	"fmt"

	"github.com/meridiandb/meridian/ranges/encoding"
	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/types"
)

// Secondary index entries. An entry's key is
//
//	/<table>/<index>/<indexed columns…>[/<primary key columns the index does not index>]
//
// with each indexed column in its direction (NULL sorts after every value ascending, before
// every value descending, as in PostgreSQL). The primary key suffix makes the keys of a
// non-unique index distinct and points each entry at its row. A unique index leaves the
// suffix out of the key, so that two rows with the same values collide on one key, except
// when an indexed column is NULL: NULLs never conflict, so such an entry keeps the suffix in
// its key like a non-unique one. An entry's value is
//
//	version byte, uvarint n, n bytes of key suffix, stored columns
//
// where the key suffix, encoded as in the key, is present (n > 0) exactly when the key lacks
// it, and the stored columns are tagged like a row's value (see EncodeRow): the index's
// STORING/INCLUDE columns, and any column of the key whose key encoding loses its value.

// indexValueVersion starts every index entry value; like a row's, it also keeps the value
// non-empty, since an empty value is a deletion tombstone.
const indexValueVersion byte = 1

// IndexKeyPrefix is the prefix of every key of index indexID of table tableID.
func IndexKeyPrefix(tableID, indexID uint32) []byte {
	k := []byte{tablesPrefix}
	k = encoding.AppendUvarint(k, uint64(tableID))
	return encoding.AppendUvarint(k, uint64(indexID))
}

// IndexSpan is the key span of all entries of index indexID of table tableID.
func IndexSpan(tableID, indexID uint32) (start, end []byte) {
	start = IndexKeyPrefix(tableID, indexID)
	return start, encoding.PrefixEnd(start)
}

// IndexKeyHasNull reports whether one of idx's columns is NULL in row: then its entry
// cannot conflict with another, even in a unique index.
func IndexKeyHasNull(t *catalog.Table, idx *catalog.Index, row []types.Datum) bool {
	for _, id := range idx.ColumnIDs {
		if row[t.ColumnOrdinal(id)] == nil {
			return true
		}
	}
	return false
}

// suffixInKey reports whether an entry of idx for a row with (hasNull) or without a NULL
// indexed value carries the primary key suffix in its key.
func suffixInKey(idx *catalog.Index, hasNull bool) bool { return !idx.Unique || hasNull }

// appendColumns appends the key encodings of the columns ids of row, in directions desc.
func appendColumns(b []byte, t *catalog.Table, ids []uint32, desc []bool, row []types.Datum) ([]byte, error) {
	for i, id := range ids {
		ord := t.ColumnOrdinal(id)
		if ord < 0 {
			return nil, fmt.Errorf("table %q has no column %d", t.Name, id)
		}
		var err error
		if b, err = AppendKeyDatum(b, t.Columns[ord].Type, row[ord], desc[i]); err != nil {
			return nil, fmt.Errorf("column %q: %w", t.Columns[ord].Name, err)
		}
	}
	return b, nil
}

// IndexEntry encodes the entry of row (all of t's columns, in table order) in idx.
func IndexEntry(t *catalog.Table, idx *catalog.Index, row []types.Datum) (key, value []byte, err error) {
	key, err = appendColumns(IndexKeyPrefix(t.KeyID(), idx.ID), t, idx.ColumnIDs, idx.ColumnDesc, row)
	if err != nil {
		return nil, nil, err
	}
	suffixIDs, suffixDesc := t.KeySuffixColumns(idx)
	suffix, err := appendColumns(nil, t, suffixIDs, suffixDesc, row)
	if err != nil {
		return nil, nil, err
	}
	value = []byte{indexValueVersion}
	if suffixInKey(idx, IndexKeyHasNull(t, idx, row)) {
		key = append(key, suffix...)
		value = binary.AppendUvarint(value, 0)
	} else {
		value = binary.AppendUvarint(value, uint64(len(suffix)))
		value = append(value, suffix...)
	}
	// The exact values of key columns whose key encodings lose them, then the stored columns.
	var tagged []uint32
	for _, id := range append(append([]uint32(nil), idx.ColumnIDs...), suffixIDs...) {
		if keyLosesValue(t.Columns[t.ColumnOrdinal(id)].Type) {
			tagged = append(tagged, id)
		}
	}
	tagged = append(tagged, idx.StoredColumnIDs...)
	for _, id := range tagged {
		ord := t.ColumnOrdinal(id)
		if ord < 0 {
			return nil, nil, fmt.Errorf("table %q has no column %d", t.Name, id)
		}
		if row[ord] == nil {
			continue
		}
		c := t.Columns[ord]
		value = binary.AppendUvarint(value, uint64(c.ID))
		value = append(value, byte(c.Type.Family))
		if value, err = appendValueDatum(value, c.Type, row[ord]); err != nil {
			return nil, nil, fmt.Errorf("column %q: %w", c.Name, err)
		}
	}
	return key, value, nil
}

// IndexColumnIDs lists the columns an entry of idx holds: its indexed columns, the primary
// key columns and its stored columns.
func IndexColumnIDs(t *catalog.Table, idx *catalog.Index) []uint32 {
	suffix, _ := t.KeySuffixColumns(idx)
	out := append(append([]uint32(nil), idx.ColumnIDs...), suffix...)
	return append(out, idx.StoredColumnIDs...)
}

// decodeColumns decodes the key encodings of the columns ids from the front of b into row.
func decodeColumns(b []byte, t *catalog.Table, ids []uint32, desc []bool, row []types.Datum) (rest []byte, sawNull bool, err error) {
	for i, id := range ids {
		ord := t.ColumnOrdinal(id)
		if ord < 0 {
			return nil, false, fmt.Errorf("table %q has no column %d", t.Name, id)
		}
		var d types.Datum
		if b, d, err = decodeKeyDatum(b, t.Columns[ord].Type, desc[i]); err != nil {
			return nil, false, fmt.Errorf("decoding index key of %q: %w", t.Name, err)
		}
		row[ord] = d
		sawNull = sawNull || d == nil
	}
	return b, sawNull, nil
}

// DecodeIndexEntry fills row (len(t.Columns)) with the columns an entry of idx holds (see
// IndexColumnIDs); the others are NULL.
func DecodeIndexEntry(t *catalog.Table, idx *catalog.Index, key, value []byte, row []types.Datum) error {
	for i := range row {
		row[i] = nil
	}
	prefix := IndexKeyPrefix(t.KeyID(), idx.ID)
	if len(key) < len(prefix) || string(key[:len(prefix)]) != string(prefix) {
		return fmt.Errorf("key %x is not in index %q of %q", key, idx.Name, t.Name)
	}
	rest, hasNull, err := decodeColumns(key[len(prefix):], t, idx.ColumnIDs, idx.ColumnDesc, row)
	if err != nil {
		return err
	}
	if len(value) == 0 || value[0] != indexValueVersion {
		return fmt.Errorf("index %q of %q: %w (version)", idx.Name, t.Name, errCorrupt)
	}
	n, used := binary.Uvarint(value[1:])
	if used <= 0 || uint64(len(value)-1-used) < n {
		return fmt.Errorf("index %q of %q: %w (key suffix)", idx.Name, t.Name, errCorrupt)
	}
	valueSuffix := value[1+used : 1+used+int(n)]
	tagged := value[1+used+int(n):]
	suffixIDs, suffixDesc := t.KeySuffixColumns(idx)
	suffix := rest
	if !suffixInKey(idx, hasNull) {
		if len(rest) > 0 {
			return fmt.Errorf("index %q of %q: %d bytes after the key", idx.Name, t.Name, len(rest))
		}
		suffix = valueSuffix
	}
	if rest, _, err = decodeColumns(suffix, t, suffixIDs, suffixDesc, row); err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("index %q of %q: %d bytes after the primary key", idx.Name, t.Name, len(rest))
	}
	for len(tagged) > 0 {
		id, n := binary.Uvarint(tagged)
		if n <= 0 || len(tagged) < n+1 {
			return fmt.Errorf("index %q of %q: %w", idx.Name, t.Name, errCorrupt)
		}
		fam := types.Family(tagged[n])
		tagged = tagged[n+1:]
		d, used, err := decodeValueDatum(tagged, fam)
		if err != nil {
			return fmt.Errorf("index %q of %q column %d: %w", idx.Name, t.Name, id, err)
		}
		tagged = tagged[used:]
		if ord := t.ColumnOrdinal(uint32(id)); ord >= 0 {
			row[ord] = d
		}
	}
	return nil
}

// DecodeIndexKey decodes the values in an index key's encoded columns (as DecodeTableKey
// returns them): the indexed columns, then the primary key suffix when the key holds one,
// for messages such as a unique violation's "Key (b)=(5)". The bound of a span may hold only
// the first few values, and gives that many; bytes that are not a whole value of the next
// column, or that remain after the last, are an error. ids are the values' columns.
func DecodeIndexKey(t *catalog.Table, idx *catalog.Index, cols []byte) (ids []uint32, vals []types.Datum, err error) {
	suffixIDs, suffixDesc := t.KeySuffixColumns(idx)
	allIDs := append(append([]uint32(nil), idx.ColumnIDs...), suffixIDs...)
	allDesc := append(append([]bool(nil), idx.ColumnDesc...), suffixDesc...)
	row := make([]types.Datum, len(t.Columns))
	for i, id := range allIDs {
		if len(cols) == 0 {
			break
		}
		if cols, _, err = decodeColumns(cols, t, allIDs[i:i+1], allDesc[i:i+1], row); err != nil {
			return nil, nil, err
		}
		ids, vals = append(ids, id), append(vals, row[t.ColumnOrdinal(id)])
	}
	if len(cols) > 0 {
		return nil, nil, fmt.Errorf("key of index %q of %q: %d bytes after the primary key", idx.Name, t.Name, len(cols))
	}
	return ids, vals, nil
}
