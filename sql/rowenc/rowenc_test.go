package rowenc

import (
	"bytes"
	"math/rand"
	"sort"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/types"
)

func testTable() *catalog.Table {
	cols := []types.T{types.Int8, types.String, types.Bool, types.Float8, types.Numeric, types.Bytes,
		types.Date, types.Timestamp, types.TimestampTZ, types.UUIDType, types.Int4}
	t := &catalog.Table{ID: 104, Name: "t"}
	for i, typ := range cols {
		t.Columns = append(t.Columns, catalog.Column{ID: uint32(i + 1), Name: string(rune('a' + i)), Type: typ, Nullable: i > 1})
	}
	// Primary key (a, b DESC).
	t.PrimaryKey, t.PrimaryKeyDesc = []uint32{1, 2}, []bool{false, true}
	return t
}

func randRow(r *rand.Rand, t *catalog.Table) []types.Datum {
	row := make([]types.Datum, len(t.Columns))
	for i, c := range t.Columns {
		if c.Nullable && r.Intn(4) == 0 {
			continue
		}
		switch c.Type.Family {
		case types.IntFamily:
			row[i] = r.Int63n(20) - 10
		case types.StringFamily:
			row[i] = string([]byte{byte('a' + r.Intn(3)), 0, byte('a' + r.Intn(3))})[:1+r.Intn(3)]
		case types.BoolFamily:
			row[i] = r.Intn(2) == 0
		case types.FloatFamily:
			row[i] = r.NormFloat64()
		case types.DecimalFamily:
			row[i] = apd.New(r.Int63n(100000)-50000, -int32(r.Intn(4)))
		case types.BytesFamily:
			row[i] = []byte{byte(r.Intn(256)), 0}
		case types.DateFamily:
			row[i] = time.Date(2000+r.Intn(50), 1, 1+r.Intn(28), 0, 0, 0, 0, time.UTC)
		case types.TimestampFamily, types.TimestampTZFamily:
			row[i] = time.UnixMicro(r.Int63n(1e15)).UTC()
		case types.UUIDFamily:
			var u types.UUID
			r.Read(u[:])
			row[i] = u
		}
	}
	return row
}

// TestRoundTripAndKeyOrder encodes random rows: each decodes back to itself, and row keys sort
// like the primary key tuples (a ascending, b descending).
func TestRoundTripAndKeyOrder(t *testing.T) {
	tbl := testTable()
	r := rand.New(rand.NewSource(5))
	type kr struct {
		key []byte
		row []types.Datum
	}
	var rows []kr
	for i := 0; i < 500; i++ {
		row := randRow(r, tbl)
		k, v, err := EncodeRow(tbl, row)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]types.Datum, len(row))
		if err := DecodeRow(tbl, k, v, got); err != nil {
			t.Fatal(err)
		}
		for j := range row {
			if types.Compare(tbl.Columns[j].Type, row[j], got[j]) != 0 {
				t.Fatalf("column %s: wrote %v, read %v", tbl.Columns[j].Name, row[j], got[j])
			}
		}
		rows = append(rows, kr{k, row})
	}
	sort.Slice(rows, func(i, j int) bool { return bytes.Compare(rows[i].key, rows[j].key) < 0 })
	for i := 1; i < len(rows); i++ {
		a, b := rows[i-1].row, rows[i].row
		c := types.Compare(types.Int8, a[0], b[0])
		if c == 0 {
			c = -types.Compare(types.String, a[1], b[1])
		}
		if c > 0 {
			t.Fatalf("key order breaks PK order: %v,%q before %v,%q", a[0], a[1], b[0], b[1])
		}
	}
	start, end := TableSpan(tbl.ID)
	for _, x := range rows {
		if bytes.Compare(x.key, start) < 0 || bytes.Compare(x.key, end) >= 0 {
			t.Fatal("row key outside its table span")
		}
	}
}

// TestAllNullValueIsNotATombstone: a row whose non-key columns are all NULL still has a
// non-empty value (an empty one would read as deleted).
func TestAllNullValueIsNotATombstone(t *testing.T) {
	tbl := testTable()
	row := make([]types.Datum, len(tbl.Columns))
	row[0], row[1] = int64(1), "x"
	_, v, err := EncodeRow(tbl, row)
	if err != nil || len(v) == 0 {
		t.Fatalf("value %x, %v", v, err)
	}
}

func TestDecodeCorrupt(t *testing.T) {
	tbl := testTable()
	k, v, err := EncodeRow(tbl, randRow(rand.New(rand.NewSource(1)), tbl))
	if err != nil {
		t.Fatal(err)
	}
	row := make([]types.Datum, len(tbl.Columns))
	for n := 0; n < len(v); n++ {
		_ = DecodeRow(tbl, k, v[:n], row) // must not panic
	}
	if err := DecodeRow(tbl, k[:len(k)-1], v, row); err == nil {
		t.Fatal("truncated key decoded")
	}
}

// TestDecodeTableKey: a row's key decodes back to its table, its index and its primary key
// values; a span bound to the values it holds; anything else is refused, never misread.
func TestDecodeTableKey(t *testing.T) {
	tbl := testTable()
	r := rand.New(rand.NewSource(9))
	for i := 0; i < 100; i++ {
		row := randRow(r, tbl)
		key, err := PrimaryKey(tbl, row)
		if err != nil {
			t.Fatal(err)
		}
		id, index, cols, ok := DecodeTableKey(key)
		if !ok || id != tbl.ID || index != PrimaryIndexID {
			t.Fatalf("DecodeTableKey(%x) = %d, %d, %v", key, id, index, ok)
		}
		vals, err := DecodePrimaryKey(tbl, cols)
		if err != nil || len(vals) != 2 {
			t.Fatalf("DecodePrimaryKey(%x) = %v, %v", cols, vals, err)
		}
		for j, ord := range tbl.PrimaryKeyOrdinals() {
			if types.Compare(tbl.Columns[ord].Type, vals[j], row[ord]) != 0 {
				t.Fatalf("column %s: wrote %v, decoded %v", tbl.Columns[ord].Name, row[ord], vals[j])
			}
		}
		if _, err := DecodePrimaryKey(tbl, cols[:len(cols)-1]); err == nil {
			t.Fatalf("a key cut inside a value decoded: %x", cols[:len(cols)-1])
		}
		if _, err := DecodePrimaryKey(tbl, append(cols[:len(cols):len(cols)], 0x12)); err == nil {
			t.Fatal("a key with bytes after the primary key decoded")
		}
	}
	prefix, err := KeyPrefix(tbl, []types.Datum{int64(7)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, cols, ok := DecodeTableKey(prefix); !ok {
		t.Fatal("span bound is not a table key")
	} else if vals, err := DecodePrimaryKey(tbl, cols); err != nil || len(vals) != 1 || vals[0] != int64(7) {
		t.Fatalf("span bound decoded as %v, %v", vals, err)
	}
	start, _ := TableSpan(tbl.ID)
	if id, index, cols, ok := DecodeTableKey(start); !ok || id != tbl.ID || index != 0 || cols != nil {
		t.Fatalf("table start: %d %d %x %v", id, index, cols, ok)
	}
	for _, k := range [][]byte{nil, {0x03, 'd'}, {tablesPrefix}, {tablesPrefix, 0xff}, {0x06, 0x89}} {
		if id, index, _, ok := DecodeTableKey(k); ok {
			t.Errorf("DecodeTableKey(%x) = %d, %d: want no table key", k, id, index)
		}
	}
}

// newTypesTable has time and interval key columns and JSON and array value columns.
func newTypesTable() *catalog.Table {
	cols := []types.T{types.Time, types.IntervalT, types.JSONB, types.JSONT, types.ArrayOf(types.Int4),
		types.ArrayOf(types.String), types.ArrayOf(types.Numeric), types.ArrayOf(types.Bytes),
		types.ArrayOf(types.IntervalT), types.ArrayOf(types.JSONB), types.ArrayOf(types.TimestampTZ), types.Time}
	t := &catalog.Table{ID: 105, Name: "n"}
	for i, typ := range cols {
		t.Columns = append(t.Columns, catalog.Column{ID: uint32(i + 1), Name: string(rune('a' + i)), Type: typ, Nullable: i > 1})
	}
	t.PrimaryKey, t.PrimaryKeyDesc = []uint32{1, 2}, []bool{true, false}
	return t
}

func parse(t *testing.T, typ types.T, s string) types.Datum {
	t.Helper()
	v, err := types.ParseText(typ, s)
	if err != nil {
		t.Fatalf("%s %q: %v", typ, s, err)
	}
	return v
}

// TestNewTypesRoundTrip: time, interval, jsonb, json and array values come back exactly
// (an interval key column keeps its months and days although its key is its span), and
// keys follow the types' orders.
func TestNewTypesRoundTrip(t *testing.T) {
	tbl := newTypesTable()
	texts := [][]string{
		{"10:00", "1 mon", `{"b": [1, 2.50], "a": null}`, `{"x" : 1}`, "{1,NULL,-3}", `{"a b",NULL,""}`, "{1.50,NaN}",
			`{"\\x00ff"}`, `{"1 day",-01:00}`, `{"{\"k\": true}",NULL}`, `{"2024-01-01 10:00:00+00"}`, "23:59:59.999999"},
		{"10:00", "30 days", "[]", "[]", "{}", "{}", "{}", "{}", "{}", "{}", "{}", "24:00:00"},
		{"09:00", "-1 days +25:00:00", "1", "null", "{0}", `{"\\"}`, "{0}", "{}", "{}", "{}", "{}", "00:00"},
		{"10:00", "1 day 00:00:01", `"s"`, `"s"`, "{2147483647}", "{x}", "{1e-20}", "{}", "{}", "{}", "{}", "01:00"},
	}
	var keys [][]byte
	for _, tx := range texts {
		row := make([]types.Datum, len(tbl.Columns))
		for i, s := range tx {
			row[i] = parse(t, tbl.Columns[i].Type, s)
		}
		k, v, err := EncodeRow(tbl, row)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]types.Datum, len(row))
		if err := DecodeRow(tbl, k, v, got); err != nil {
			t.Fatal(err)
		}
		for i := range row {
			typ := tbl.Columns[i].Type
			if a, b := types.AppendText(nil, typ, row[i]), types.AppendText(nil, typ, got[i]); !bytes.Equal(a, b) {
				t.Errorf("column %s: wrote %s, read %s", tbl.Columns[i].Name, a, b)
			}
		}
		for n := 0; n < len(v); n++ {
			_ = DecodeRow(tbl, k, v[:n], got) // must not panic
		}
		keys = append(keys, k)
	}
	// (time DESC, interval ASC): '1 mon' and '30 days' share a key, as they are equal.
	if !bytes.Equal(keys[0], keys[1]) {
		t.Error("'1 mon' and '30 days' have different keys")
	}
	if bytes.Compare(keys[3], keys[0]) >= 0 || bytes.Compare(keys[0], keys[2]) >= 0 {
		t.Error("keys out of order")
	}
	if vals, err := DecodePrimaryKey(tbl, keys[2][len(IndexPrefix(tbl.ID)):]); err != nil || string(types.AppendText(nil, types.IntervalT, vals[1])) != "01:00:00" {
		t.Errorf("decoded interval key: %v %v", vals, err)
	}
	for _, typ := range []types.T{types.JSONB, types.JSONT, types.ArrayOf(types.Int4)} {
		if KeyEncodable(typ) {
			t.Errorf("%s should not be key-encodable", typ)
		}
	}
	if !KeyEncodable(types.IntervalT) || !KeyEncodable(types.Time) {
		t.Error("time and interval are key-encodable")
	}
}
