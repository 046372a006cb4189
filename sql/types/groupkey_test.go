package types

import (
	"bytes"
	"math/rand"
	"testing"
)

// TestGroupKeyMatchesCompare: two values have the same group key exactly when Compare finds
// them equal.
func TestGroupKeyMatchesCompare(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for _, name := range roundTripTypes {
		typ := mustType(t, name)
		for i := 0; i < 1000; i++ {
			a, b := randDatum(r, typ), randDatum(r, typ)
			if r.Intn(3) == 0 {
				b = a
			}
			same := bytes.Equal(AppendGroupKey(nil, typ, a), AppendGroupKey(nil, typ, b))
			if same != (Compare(typ, a, b) == 0) {
				t.Fatalf("%s: %s and %s: same key %v, Compare %d", name, text(typ, a), text(typ, b), same, Compare(typ, a, b))
			}
		}
	}
	for _, c := range []struct {
		typ  T
		a, b string
	}{
		{Numeric, "1.0", "1.00"}, {Numeric, "100", "1e2"}, {Float8, "0", "-0"}, {IntervalT, "1 mon", "30 days"},
		{IntervalT, "1 day", "24:00:00"}, {JSONB, `{"a": [1.0, 2]}`, `{"a": [1, 2.00]}`}, {ArrayOf(Numeric), "{1.0,NULL}", "{1,NULL}"},
	} {
		a, _ := ParseText(c.typ, c.a)
		b, _ := ParseText(c.typ, c.b)
		if !bytes.Equal(AppendGroupKey(nil, c.typ, a), AppendGroupKey(nil, c.typ, b)) {
			t.Errorf("%s: %s and %s should share a key", c.typ, c.a, c.b)
		}
	}
}
