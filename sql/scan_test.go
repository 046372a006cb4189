package sql

import (
	"bytes"
	"testing"

	"github.com/meridiandb/meridian/ranges/encoding"
	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/types"
)

func intConsts(vals ...int64) []*scalar {
	out := make([]*scalar, len(vals))
	for i, v := range vals {
		out[i] = constScalar(types.Int8, v)
	}
	return out
}

// TestConstraintSpans: the spans of key constraints over primary key and index columns,
// including the limits: too many point spans, and ranges over columns holding NULLs.
func TestConstraintSpans(t *testing.T) {
	tbl := &catalog.Table{ID: 104, Name: "t", Columns: []catalog.Column{
		{ID: 1, Name: "a", Type: types.Int8}, {ID: 2, Name: "b", Type: types.Int8, Nullable: true},
	}, PrimaryKey: []uint32{1}, PrimaryKeyDesc: []bool{false}}
	key := func(prefix []byte, vals ...any) []byte {
		k := append([]byte(nil), prefix...)
		for _, v := range vals {
			switch v := v.(type) {
			case nil:
				k = encoding.AppendNull(k, encoding.Ascending)
			case int64:
				k = encoding.AppendInt(k, v, encoding.Ascending)
			case [2]int64: // a descending value
				k = encoding.AppendInt(k, v[0], encoding.Descending)
			case string: // a descending NULL
				k = encoding.AppendNull(k, encoding.Descending)
			}
		}
		return k
	}
	pk := keyColumns{prefix: rowenc.IndexPrefix(104), ords: []int{0}, desc: []bool{false}}
	idx := keyColumns{prefix: rowenc.IndexKeyPrefix(104, 2), ords: []int{1}, desc: []bool{false}, nullable: true}
	idxDesc := keyColumns{prefix: rowenc.IndexKeyPrefix(104, 2), ords: []int{1}, desc: []bool{true}, nullable: true}
	many := make([]int64, maxPointSpans+1)
	for i := range many {
		many[i] = int64(i)
	}
	for _, tc := range []struct {
		name  string
		kc    *keyConstraint
		kcols keyColumns
		point bool
		want  []keySpan
	}{
		{"points", &keyConstraint{eqs: [][]*scalar{intConsts(3, 1, 3)}}, pk, true,
			[]keySpan{{start: key(pk.prefix, int64(1))}, {start: key(pk.prefix, int64(3))}}},
		{"too many points scan the whole prefix", &keyConstraint{eqs: [][]*scalar{intConsts(many...)}}, pk, true,
			[]keySpan{{pk.prefix, encoding.PrefixEnd(pk.prefix)}}},
		{"a range on a key column", &keyConstraint{lo: constScalar(types.Int8, int64(5)), rangeCol: 0}, pk, false,
			[]keySpan{{encoding.PrefixEnd(key(pk.prefix, int64(5))), encoding.PrefixEnd(pk.prefix)}}},
		{"an open range stops before NULLs", &keyConstraint{lo: constScalar(types.Int8, int64(5)), rangeCol: 0}, idx, false,
			[]keySpan{{encoding.PrefixEnd(key(idx.prefix, int64(5))), key(idx.prefix, nil)}}},
		{"descending: NULLs come first", &keyConstraint{lo: constScalar(types.Int8, int64(5)), rangeCol: 0}, idxDesc, false,
			[]keySpan{{encoding.PrefixEnd(key(idxDesc.prefix, "null")), key(idxDesc.prefix, [2]int64{5})}}},
		{"= NULL matches nothing", &keyConstraint{eqs: [][]*scalar{{constScalar(types.Int8, nil)}}}, idx, false, nil},
	} {
		got, err := tc.kc.spans(&evalCtx{}, tbl, tc.kcols, tc.point)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(got) != len(tc.want) {
			t.Fatalf("%s: %d spans, want %d: %x", tc.name, len(got), len(tc.want), got)
		}
		for i := range got {
			if !bytes.Equal(got[i].start, tc.want[i].start) || !bytes.Equal(got[i].end, tc.want[i].end) {
				t.Errorf("%s: span %d is [%x, %x), want [%x, %x)", tc.name, i, got[i].start, got[i].end, tc.want[i].start, tc.want[i].end)
			}
		}
	}
}
