package ranges

import (
	"slices"
	"sync"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// tsCache remembers the latest timestamp at which each key span was read, so that a later
// write below that timestamp is pushed above it: a write may never invalidate a read that has
// already been served. Memory is bounded: when too many spans are remembered, they are
// forgotten and the low-water mark rises to cover them, which is conservative (it pushes more
// writes than necessary) but never unsafe.
type tsCache struct {
	mu       sync.Mutex
	lowWater hlc.Timestamp
	high     hlc.Timestamp // the latest read recorded
	points   map[string]tsEntry
	spans    []tsSpanEntry // in timestamp order, oldest first
	limit    int
}

type tsEntry struct {
	ts  hlc.Timestamp
	txn mvcc.TxnID
}

type tsSpanEntry struct {
	span kvpb.Span
	tsEntry
}

func newTSCache(lowWater hlc.Timestamp) *tsCache {
	return &tsCache{lowWater: lowWater, points: make(map[string]tsEntry), limit: 1 << 16}
}

// add records a read of span at ts by txn (zero ID for non-transactional reads).
func (c *tsCache) add(span kvpb.Span, ts hlc.Timestamp, txn mvcc.TxnID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ts.LessEq(c.lowWater) {
		return
	}
	c.high = c.high.Forward(ts)
	if len(span.EndKey) == 0 {
		k := string(span.Key)
		if e, ok := c.points[k]; ok && ts.LessEq(e.ts) {
			if e.ts == ts && e.txn != txn {
				c.points[k] = tsEntry{ts: ts} // two readers: neither may ignore the entry
			}
			return
		}
		c.points[k] = tsEntry{ts: ts, txn: txn}
	} else {
		// Reads arrive nearly in timestamp order: the place is found from the end.
		i := len(c.spans)
		for i > 0 && ts.Less(c.spans[i-1].ts) {
			i--
		}
		c.spans = slices.Insert(c.spans, i, tsSpanEntry{span: kvpb.Span{Key: append([]byte(nil), span.Key...), EndKey: append([]byte(nil), span.EndKey...)}, tsEntry: tsEntry{ts: ts, txn: txn}})
	}
	if len(c.points)+len(c.spans) > c.limit {
		c.evictLocked()
	}
}

func (c *tsCache) evictLocked() {
	for _, e := range c.points {
		c.lowWater = c.lowWater.Forward(e.ts)
	}
	for _, e := range c.spans {
		c.lowWater = c.lowWater.Forward(e.ts)
	}
	c.points = make(map[string]tsEntry)
	c.spans = nil
}

// forwardLowWater raises the low water: no write may land at or below ts.
func (c *tsCache) forwardLowWater(ts hlc.Timestamp) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lowWater = c.lowWater.Forward(ts)
}

// highWater returns a timestamp at or above every read recorded.
func (c *tsCache) highWater() hlc.Timestamp {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.high.Forward(c.lowWater)
}

// maxRead returns the latest read timestamp of key by a transaction other than txn, if it is
// at or above from; a timestamp below from otherwise. (A writer at from only needs to know
// about reads it must go above, and those are the newest spans, at the end of the list.)
func (c *tsCache) maxRead(key []byte, txn mvcc.TxnID, from hlc.Timestamp) hlc.Timestamp {
	c.mu.Lock()
	defer c.mu.Unlock()
	max := c.lowWater
	if e, ok := c.points[string(key)]; ok && (e.txn != txn || e.txn == (mvcc.TxnID{})) {
		max = max.Forward(e.ts)
	}
	for i := len(c.spans) - 1; i >= 0 && !c.spans[i].ts.Less(from); i-- {
		if e := c.spans[i]; (e.txn != txn || e.txn == (mvcc.TxnID{})) && e.span.Contains(key) {
			max = max.Forward(e.ts)
		}
	}
	return max
}
