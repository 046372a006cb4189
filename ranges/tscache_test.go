package ranges

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// TestTSCacheMaxRead checks maxRead against a brute-force answer over reads of points and
// spans arriving out of timestamp order: every read at or above from counts, a
// transaction's own reads do not count for it, and anything lower may be left out.
func TestTSCacheMaxRead(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	type read struct {
		span kvpb.Span
		ts   hlc.Timestamp
		txn  mvcc.TxnID
	}
	low := hlc.Timestamp{WallTime: 10}
	c := newTSCache(low)
	var reads []read
	key := func(i int) []byte { return []byte(fmt.Sprintf("k%02d", i)) }
	txns := []mvcc.TxnID{{}, {1}, {2}}
	for range 500 {
		r := read{ts: hlc.Timestamp{WallTime: int64(rng.IntN(200))}, txn: txns[rng.IntN(len(txns))]}
		a := rng.IntN(50)
		r.span = kvpb.Span{Key: key(a)}
		if rng.IntN(2) == 0 {
			r.span.EndKey = key(a + 1 + rng.IntN(5))
		}
		c.add(r.span, r.ts, r.txn)
		reads = append(reads, r)
	}
	for range 2000 {
		k, txn := key(rng.IntN(55)), txns[rng.IntN(len(txns))]
		from := hlc.Timestamp{WallTime: int64(rng.IntN(220))}
		want := low
		// Points keep one entry per key: two readers at the same timestamp leave an
		// entry neither may ignore.
		points := map[string]map[hlc.Timestamp][]mvcc.TxnID{}
		for _, r := range reads {
			if len(r.span.EndKey) == 0 {
				m := points[string(r.span.Key)]
				if m == nil {
					m = map[hlc.Timestamp][]mvcc.TxnID{}
					points[string(r.span.Key)] = m
				}
				if !slices.Contains(m[r.ts], r.txn) {
					m[r.ts] = append(m[r.ts], r.txn)
				}
				continue
			}
			if r.span.Contains(k) && (r.txn != txn || r.txn == (mvcc.TxnID{})) && low.Less(r.ts) {
				want = want.Forward(r.ts)
			}
		}
		var newest hlc.Timestamp
		for ts := range points[string(k)] {
			newest = newest.Forward(ts)
		}
		if by := points[string(k)][newest]; len(by) > 0 && low.Less(newest) {
			if len(by) > 1 || by[0] != txn || by[0] == (mvcc.TxnID{}) {
				want = want.Forward(newest)
			}
		}
		got := c.maxRead(k, txn, from)
		if !want.Less(from) && got != want || want.Less(from) && !got.Less(from) {
			t.Fatalf("maxRead(%s, %v, from %s) = %s, want %s", k, txn, from, got, want)
		}
	}
}
