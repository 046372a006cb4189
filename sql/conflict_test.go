package sql

import (
	"testing"
	"time"

	"github.com/meridiandb/meridian/ranges/encoding"
	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/types"
)

// testTables are tables of the kinds of primary key there are: an integer, a text, a
// composite one with a descending column, and a table without one (its hidden rowid).
func testTables() map[uint32]*catalog.Table {
	tables := map[uint32]*catalog.Table{}
	add := func(id uint32, name string, cols []catalog.Column, pk []uint32, desc []bool) {
		tables[id] = &catalog.Table{ID: id, Name: name, Columns: cols, PrimaryKey: pk, PrimaryKeyDesc: desc}
	}
	add(104, "accounts", []catalog.Column{{ID: 1, Name: "id", Type: types.Int8}, {ID: 2, Name: "bal", Type: types.Int8}},
		[]uint32{1}, []bool{false})
	tables[104].Indexes = []catalog.Index{{ID: 3, Name: "accounts_bal_idx", ColumnIDs: []uint32{2}, ColumnDesc: []bool{true}, State: catalog.IndexPublic}}
	add(105, "users", []catalog.Column{{ID: 1, Name: "email", Type: types.String}}, []uint32{1}, []bool{false})
	add(106, "orders", []catalog.Column{{ID: 1, Name: "qty", Type: types.Int4}, {ID: 2, Name: "region", Type: types.String},
		{ID: 3, Name: "placed", Type: types.Date}}, []uint32{2, 3}, []bool{false, true})
	add(107, "log", []catalog.Column{{ID: 1, Name: "msg", Type: types.String, Nullable: true},
		{ID: 2, Name: "rowid", Type: types.Int8, Hidden: true}}, []uint32{2}, []bool{false})
	return tables
}

func lookupIn(tables map[uint32]*catalog.Table) tableLookup {
	return func(id uint32) *catalog.Table { return tables[id] }
}

// rowKey is the key of the row of tbl with the given column values.
func rowKey(t *testing.T, tbl *catalog.Table, row ...types.Datum) []byte {
	t.Helper()
	key, err := rowenc.PrimaryKey(tbl, row)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// indexKey is the key of the entry in the named index of the row with the given values.
func indexKey(t *testing.T, tbl *catalog.Table, index string, row ...types.Datum) []byte {
	t.Helper()
	key, _, err := rowenc.IndexEntry(tbl, tbl.IndexByName(index), row)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestDescribeKey(t *testing.T) {
	tables := testTables()
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	accounts5 := rowKey(t, tables[104], int64(5), nil)
	orderPrefix, err := rowenc.KeyPrefix(tables[106], []types.Datum{"eu/west"})
	if err != nil {
		t.Fatal(err)
	}
	tableStart, _ := rowenc.TableSpan(104)
	for _, tc := range []struct {
		name   string
		key    []byte
		tables tableLookup
		terms  string
		pretty string
		tuple  string
	}{
		{"integer key", accounts5, lookupIn(tables),
			`table "accounts", key (id)=(5)`, "/Table/accounts/accounts_pkey/5", "(id)=(5)"},
		{"negative integer", rowKey(t, tables[104], int64(-12), nil), lookupIn(tables),
			`table "accounts", key (id)=(-12)`, "/Table/accounts/accounts_pkey/-12", "(id)=(-12)"},
		{"text key", rowKey(t, tables[105], "ann@example.com"), lookupIn(tables),
			`table "users", key (email)=(ann@example.com)`, `/Table/users/users_pkey/"ann@example.com"`, "(email)=(ann@example.com)"},
		{"composite key, one column descending", rowKey(t, tables[106], int64(3), "eu/west", day), lookupIn(tables),
			`table "orders", key (region, placed)=(eu/west, 2026-03-01)`, `/Table/orders/orders_pkey/"eu/west"/2026-03-01`,
			"(region, placed)=(eu/west, 2026-03-01)"},
		{"span bound holding the first column", orderPrefix, lookupIn(tables),
			`table "orders", key (region)=(eu/west)`, `/Table/orders/orders_pkey/"eu/west"`, "(region)=(eu/west)"},
		{"hidden rowid", rowKey(t, tables[107], nil, int64(998877)), lookupIn(tables),
			`table "log", key (rowid)=(998877)`, "/Table/log/log_pkey/998877", "(rowid)=(998877)"},
		{"the table's start", tableStart, lookupIn(tables), `table "accounts"`, "/Table/accounts", "()=()"},
		{"the index's start", rowenc.IndexPrefix(104), lookupIn(tables), `table "accounts"`, "/Table/accounts/accounts_pkey", "()=()"},
		{"another index", append(encoding.AppendUvarint(tableStart[:len(tableStart):len(tableStart)], 2), 0x12, 0x34), lookupIn(tables),
			`table "accounts"`, "/Table/accounts/2/0x1234", "()=()"},
		{"a secondary index entry", indexKey(t, tables[104], "accounts_bal_idx", int64(5), int64(-40)), lookupIn(tables),
			`table "accounts", index "accounts_bal_idx", key (bal, id)=(-40, 5)`, "/Table/accounts/accounts_bal_idx/-40/5", "(bal, id)=(-40, 5)"},
		{"a table the catalog does not know", rowKey(t, tables[104], int64(5), nil), lookupIn(nil),
			"key /Table/104/1/0x118000000000000005", "/Table/104/1/0x118000000000000005", "()=()"},
		{"no catalog at all", accounts5, nil, "key /Table/104/1/0x118000000000000005", "/Table/104/1/0x118000000000000005", "()=()"},
		{"bytes after the key", append(accounts5[:len(accounts5):len(accounts5)], 0xfe, 0x00), lookupIn(tables),
			`table "accounts"`, "/Table/accounts/accounts_pkey/0x118000000000000005fe00", "()=()"},
		{"a value cut short", rowKey(t, tables[105], "ann")[:8], lookupIn(tables),
			`table "users"`, "/Table/users/users_pkey/0x14616e6e00", "()=()"},
		{"catalog key", []byte{0x03, 'd', 0, 0, 0, 104}, lookupIn(tables),
			"key /System/descriptor/104", "/System/descriptor/104", "()=()"},
		{"cluster key", keys.SchemaVersionKey, lookupIn(tables),
			"key /System/schema-version", "/System/schema-version", "()=()"},
		{"meta key", keys.MetaKey(accounts5), lookupIn(tables), "key /Meta/0x056801118000000000000005", "/Meta/0x056801118000000000000005", "()=()"},
		{"transaction record", keys.TxnRecordKey(accounts5, [16]byte{0xab, 0xcd, 0xef, 0x01}), lookupIn(tables),
			"key /Local/Txn/0x056801118000000000000005/abcdef01", "/Local/Txn/0x056801118000000000000005/abcdef01", "()=()"},
		{"garbage", []byte{0x05, 0xff, 0xff, 0x00, '\n'}, lookupIn(tables), "key /0x05ffff000a", "/0x05ffff000a", "()=()"},
		{"nothing", nil, lookupIn(tables), "key /Min", "/Min", "()=()"},
	} {
		k := describeKey(tc.key, tc.tables)
		if got := k.terms(); got != tc.terms {
			t.Errorf("%s: terms %s, want %s", tc.name, got, tc.terms)
		}
		if k.pretty != tc.pretty {
			t.Errorf("%s: pretty %s, want %s", tc.name, k.pretty, tc.pretty)
		}
		if got := k.tuple(); got != tc.tuple {
			t.Errorf("%s: tuple %s, want %s", tc.name, got, tc.tuple)
		}
	}
}

// FuzzDescribeKey: whatever the bytes, naming them neither fails nor panics, and never shows
// them raw.
func FuzzDescribeKey(f *testing.F) {
	tables := testTables()
	for _, tbl := range tables {
		start, end := rowenc.TableSpan(tbl.ID)
		f.Add(start)
		f.Add(end)
	}
	f.Add(append(rowenc.IndexPrefix(106), 0x12, 'a', 0x00, 0x01, 0x00))
	f.Fuzz(func(t *testing.T, key []byte) {
		k := describeKey(key, lookupIn(tables))
		for _, c := range []byte(k.pretty) {
			if c < ' ' || c > '~' {
				t.Fatalf("%q rendered as %q", key, k.pretty)
			}
		}
	})
}
