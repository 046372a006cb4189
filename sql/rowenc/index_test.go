package rowenc

import (
	"bytes"
	"math/rand"
	"sort"
	"testing"

	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/types"
)

// testIndexes are indexes of testTable (primary key a, b DESC) of every shape: non-unique and
// unique, with and without descending and stored columns, holding a primary key column or not.
func testIndexes() []catalog.Index {
	return []catalog.Index{
		{ID: 2, Name: "d_desc_e", ColumnIDs: []uint32{4, 5}, ColumnDesc: []bool{true, false}, StoredColumnIDs: []uint32{6}},
		{ID: 3, Name: "c_a_key", ColumnIDs: []uint32{3, 1}, ColumnDesc: []bool{false, false}, Unique: true},
		{ID: 4, Name: "g_key", ColumnIDs: []uint32{7}, ColumnDesc: []bool{true}, Unique: true, StoredColumnIDs: []uint32{8, 11}},
		{ID: 5, Name: "k_idx", ColumnIDs: []uint32{11}, ColumnDesc: []bool{false}},
		{ID: 6, Name: "b_idx", ColumnIDs: []uint32{2}, ColumnDesc: []bool{false}},
	}
}

// compareIndexTuples orders two rows as idx orders their entries: by the indexed columns in
// their directions (NULL after every value ascending, before every value descending), then,
// where the key holds it, by the primary key suffix in its directions.
func compareIndexTuples(t *catalog.Table, idx *catalog.Index, a, b []types.Datum) int {
	ids, desc := append([]uint32(nil), idx.ColumnIDs...), append([]bool(nil), idx.ColumnDesc...)
	if suffixInKey(idx, IndexKeyHasNull(t, idx, a)) && suffixInKey(idx, IndexKeyHasNull(t, idx, b)) {
		sIDs, sDesc := t.KeySuffixColumns(idx)
		ids, desc = append(ids, sIDs...), append(desc, sDesc...)
	}
	for i, id := range ids {
		ord := t.ColumnOrdinal(id)
		c := types.Compare(t.Columns[ord].Type, a[ord], b[ord])
		if desc[i] {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// TestIndexEntryRoundTripAndOrder: every entry decodes back to exactly the columns its index
// holds, entries sort like their index tuples, and they stay inside their index's span.
func TestIndexEntryRoundTripAndOrder(t *testing.T) {
	tbl := testTable()
	tbl.Indexes = testIndexes()
	r := rand.New(rand.NewSource(11))
	var rows [][]types.Datum
	for i := 0; i < 400; i++ {
		rows = append(rows, randRow(r, tbl))
	}
	for i := range tbl.Indexes {
		idx := &tbl.Indexes[i]
		t.Run(idx.Name, func(t *testing.T) {
			held := map[uint32]bool{}
			for _, id := range IndexColumnIDs(tbl, idx) {
				held[id] = true
			}
			type entry struct {
				key []byte
				row []types.Datum
			}
			var entries []entry
			start, end := IndexSpan(tbl.ID, idx.ID)
			for _, row := range rows {
				k, v, err := IndexEntry(tbl, idx, row)
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Compare(k, start) < 0 || bytes.Compare(k, end) >= 0 {
					t.Fatalf("entry key %x outside the index span", k)
				}
				got := make([]types.Datum, len(tbl.Columns))
				if err := DecodeIndexEntry(tbl, idx, k, v, got); err != nil {
					t.Fatal(err)
				}
				for j, c := range tbl.Columns {
					want := row[j]
					if !held[c.ID] {
						want = nil
					}
					if types.Compare(c.Type, want, got[j]) != 0 {
						t.Fatalf("column %s: want %v, decoded %v", c.Name, want, got[j])
					}
				}
				for n := 0; n < len(v); n++ {
					_ = DecodeIndexEntry(tbl, idx, k, v[:n], got) // must not panic
				}
				entries = append(entries, entry{k, row})
			}
			sort.Slice(entries, func(i, j int) bool { return bytes.Compare(entries[i].key, entries[j].key) < 0 })
			for j := 1; j < len(entries); j++ {
				a, b := entries[j-1], entries[j]
				c := compareIndexTuples(tbl, idx, a.row, b.row)
				if c > 0 {
					t.Fatalf("entries out of order: %v before %v", a.row, b.row)
				}
			}
		})
	}
}

// TestUniqueIndexKeys: in a unique index, rows with equal values collide on one key (the
// primary key travels in the value), while a NULL value keeps entries apart; a non-unique
// index never collides.
func TestUniqueIndexKeys(t *testing.T) {
	tbl := testTable()
	tbl.Indexes = testIndexes()
	row := func(a int64, b string, c any) []types.Datum {
		r := make([]types.Datum, len(tbl.Columns))
		r[0], r[1] = a, b
		if c != nil {
			r[2] = c
		}
		return r
	}
	unique := tbl.IndexByName("c_a_key") // (c, a): a is the primary key's first column
	nonUnique := tbl.IndexByName("b_idx")
	for _, tc := range []struct {
		name    string
		idx     *catalog.Index
		x, y    []types.Datum
		collide bool
	}{
		{"same values, other rows", unique, row(1, "x", true), row(1, "y", true), true},
		{"other values", unique, row(1, "x", true), row(1, "y", false), false},
		{"NULL never conflicts", unique, row(1, "x", nil), row(1, "y", nil), false},
		{"non-unique: equal values", nonUnique, row(1, "x", true), row(2, "x", true), false},
	} {
		kx, vx, err := IndexEntry(tbl, tc.idx, tc.x)
		if err != nil {
			t.Fatal(err)
		}
		ky, _, err := IndexEntry(tbl, tc.idx, tc.y)
		if err != nil {
			t.Fatal(err)
		}
		if got := bytes.Equal(kx, ky); got != tc.collide {
			t.Errorf("%s: keys equal = %v, want %v", tc.name, got, tc.collide)
		}
		// Whichever row an entry is for, it decodes to that row's primary key.
		got := make([]types.Datum, len(tbl.Columns))
		if err := DecodeIndexEntry(tbl, tc.idx, kx, vx, got); err != nil {
			t.Fatal(err)
		}
		if got[0] != tc.x[0] || got[1] != tc.x[1] {
			t.Errorf("%s: entry points at (%v, %v), want (%v, %v)", tc.name, got[0], got[1], tc.x[0], tc.x[1])
		}
	}
	// The unique key holds the indexed values only; its values decode for messages.
	k, _, err := IndexEntry(tbl, unique, row(7, "x", true))
	if err != nil {
		t.Fatal(err)
	}
	_, indexID, cols, ok := DecodeTableKey(k)
	if !ok || indexID != unique.ID {
		t.Fatalf("DecodeTableKey: index %d, %v", indexID, ok)
	}
	ids, vals, err := DecodeIndexKey(tbl, unique, cols)
	if err != nil || len(vals) != 2 || vals[0] != true || vals[1] != int64(7) || ids[0] != 3 || ids[1] != 1 {
		t.Fatalf("DecodeIndexKey = %v, %v, %v", ids, vals, err)
	}
	// A non-unique key holds the primary key suffix too; a key cut inside a value does
	// not decode.
	k, _, err = IndexEntry(tbl, nonUnique, row(7, "x", true))
	if err != nil {
		t.Fatal(err)
	}
	_, _, cols, _ = DecodeTableKey(k)
	if ids, vals, err := DecodeIndexKey(tbl, nonUnique, cols); err != nil || len(vals) != 2 || vals[0] != "x" || vals[1] != int64(7) || ids[1] != 1 {
		t.Fatalf("DecodeIndexKey = %v, %v, %v", ids, vals, err)
	}
	if _, _, err := DecodeIndexKey(tbl, nonUnique, cols[:len(cols)-1]); err == nil {
		t.Fatal("a key cut inside a value decoded")
	}
}

// TestIndexIntervalColumn: an interval key column comes back exactly from an index entry,
// though its key holds only its span ('1 mon' and '30 days' share a key).
func TestIndexIntervalColumn(t *testing.T) {
	tbl := newTypesTable()
	idx := catalog.Index{ID: 2, Name: "b_c", ColumnIDs: []uint32{2}, ColumnDesc: []bool{true}, StoredColumnIDs: []uint32{3}}
	var keys [][]byte
	for _, iv := range []string{"1 mon", "30 days"} {
		row := make([]types.Datum, len(tbl.Columns))
		row[0], row[1], row[2] = parse(t, types.Time, "10:00"), parse(t, types.IntervalT, iv), parse(t, types.JSONB, `{"a": 1}`)
		k, v, err := IndexEntry(tbl, &idx, row)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]types.Datum, len(tbl.Columns))
		if err := DecodeIndexEntry(tbl, &idx, k, v, got); err != nil {
			t.Fatal(err)
		}
		for _, ord := range []int{0, 1, 2} {
			typ := tbl.Columns[ord].Type
			if a, b := types.AppendText(nil, typ, row[ord]), types.AppendText(nil, typ, got[ord]); !bytes.Equal(a, b) {
				t.Errorf("column %s: wrote %s, read %s", tbl.Columns[ord].Name, a, b)
			}
		}
		keys = append(keys, k)
	}
	if !bytes.Equal(keys[0], keys[1]) {
		t.Error("'1 mon' and '30 days' have different index keys")
	}
}
