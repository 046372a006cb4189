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
