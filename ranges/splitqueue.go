package ranges

import (
	"bytes"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// Automatic splits. A range splits by size when its data passes a threshold, at the key that
// halves it, and by load when it serves more requests per second than a threshold, at the
// median of a sample of the keys it was asked for. The leaseholder's node decides (it
// allocates the new range's ID); these methods only find the split key.

// DefaultRangeMaxBytes is the size above which a range splits.
const DefaultRangeMaxBytes = 64 << 20

// loadWindow is how long request rates are measured over.
const loadWindow = 10 * time.Second

// loadStats counts the requests a range serves and samples their keys.
type loadStats struct {
	mu          sync.Mutex
	windowStart time.Time
	count       int
	samples     [][]byte // reservoir of keys requested in the current window
	qps         float64  // rate of the last complete window
	median      []byte   // median sampled key of the last complete window
}

const loadSamples = 64

func (l *loadStats) record(key []byte, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.windowStart.IsZero() {
		l.windowStart = now
	}
	if d := now.Sub(l.windowStart); d >= loadWindow {
		l.qps = float64(l.count) / d.Seconds()
		l.median = medianKey(l.samples)
		l.windowStart, l.count, l.samples = now, 0, l.samples[:0]
	}
	l.count++
	if len(l.samples) < loadSamples {
		l.samples = append(l.samples, append([]byte(nil), key...))
	} else if i := rand.IntN(l.count); i < loadSamples {
		l.samples[i] = append(l.samples[i][:0], key...)
	}
}

// rate is the request rate lately: over the window under way once it has lasted a whole
// window (a range gone quiet has no new window to report), else the last complete one's.
func (l *loadStats) rate(now time.Time) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d := now.Sub(l.windowStart); !l.windowStart.IsZero() && d >= loadWindow {
		return float64(l.count) / d.Seconds()
	}
	return l.qps
}

func medianKey(samples [][]byte) []byte {
	if len(samples) == 0 {
		return nil
	}
	s := append([][]byte(nil), samples...)
	sort.Slice(s, func(i, j int) bool { return bytes.Compare(s[i], s[j]) < 0 })
	return append([]byte(nil), s[len(s)/2]...)
}

// LoadSplitKey returns where to split the range to halve its load, if it served more than
// qps requests per second over the last measured window.
func (r *Replica) LoadSplitKey(qps float64) ([]byte, bool) {
	r.load.mu.Lock()
	rate, median := r.load.qps, r.load.median
	r.load.mu.Unlock()
	if rate <= qps || median == nil {
		return nil, false
	}
	return r.validSplitKey(median)
}

// SizeSplitKey returns the key that halves the range, if its data (every version) takes more
// than maxBytes. Only a range written to since the last check is measured again.
func (r *Replica) SizeSplitKey(maxBytes int64) ([]byte, bool) {
	written := r.written.Load()
	if written == r.sizeCheckedAt.Load() {
		return nil, false
	}
	r.sizeCheckedAt.Store(written)
	if ub, ok := r.sizeUpperBound(); ok && ub <= maxBytes {
		return nil, false // too small to split, without reading it again
	}
	approx := r.ApproximateBytes()
	if c := r.sizeCache.Load(); c != nil && time.Since(c.at) < recountAfter(c.bytes) {
		if est, ok := r.scaledEstimate(approx); ok && est < maxBytes {
			return nil, false // small by Pebble's estimate; counted again in a while
		}
	}
	d := r.Desc()
	if d.EndKey == nil {
		return nil, false
	}
	start := maxKey(d.StartKey, keys.SystemMax)
	if bytes.Compare(start, d.EndKey) >= 0 {
		return nil, false
	}
	r.sizeCounts.Add(1)
	it, err := r.store.db.NewIter(&pebble.IterOptions{
		LowerBound: mvcc.EncodeKey(start, hlc.Timestamp{}), UpperBound: mvcc.EncodeKey(d.EndKey, hlc.Timestamp{}),
	})
	if err != nil {
		return nil, false
	}
	defer it.Close()
	var total int64
	var mid []byte
	for ok := it.First(); ok; ok = it.Next() {
		total += int64(len(it.Key()) + len(it.Value()))
		if mid == nil && total > maxBytes/2 {
			if k, _, err := mvcc.DecodeKey(it.Key()); err == nil {
				mid = append([]byte(nil), k...)
			}
		}
		if total > maxBytes && mid != nil {
			return r.validSplitKey(mid)
		}
	}
	if it.Error() == nil {
		r.sizeCache.Store(&sizeCount{written: written, gen: d.Generation, limit: math.MaxInt64, bytes: total, approx: approx, at: time.Now()})
	}
	return nil, false
}

// sizeUpperBound bounds the range's data bytes from above without reading them: the last
// exact count plus the bytes of every command applied since (a write adds at most its own
// size; overwrites, intents resolved and deletes add less or take away). ok is false when
// there is no exact count of the range as it is now bounded. The split and merge queues
// visit every range every few seconds; counting a large range each time (it is written to
// all the time under load) took most of a node's CPU.
func (r *Replica) sizeUpperBound() (int64, bool) {
	c := r.sizeCache.Load()
	if c == nil || c.gen != r.Desc().Generation || c.bytes >= c.limit {
		return 0, false
	}
	return c.bytes + (r.written.Load() - c.written), true
}

// dataBytes is the size of the range's user keys and values, counted up to limit (0: not
// counted). Estimates from Pebble miss data still in memtables; this counts exactly, and the
// limit keeps the cost down for large ranges. A range known to be under limit without
// counting (sizeUpperBound) reports the bound instead.
func (r *Replica) dataBytes(limit int64) int64 {
	if limit <= 0 {
		return 0
	}
	// Pebble's estimate misses memtables, so it only ever says "at least"; scaled by the
	// last count it says so sooner.
	approx := r.ApproximateBytes()
	if approx >= limit {
		return limit
	}
	if est, ok := r.scaledEstimate(approx); ok && est >= limit {
		return limit
	}
	written, gen := r.written.Load(), r.Desc().Generation
	if c := r.sizeCache.Load(); c != nil && c.gen == gen && (c.written == written && (c.bytes < c.limit || limit <= c.limit) ||
		c.bytes >= c.limit && limit <= c.limit && time.Since(c.at) < recountBigAfter) {
		return min(c.bytes, limit)
	}
	if ub, ok := r.sizeUpperBound(); ok && ub < limit {
		return ub // small for sure: the bound errs towards bigger, so merges only lose
	}
	n := r.countDataBytes(limit)
	r.sizeCache.Store(&sizeCount{written: written, gen: gen, limit: limit, bytes: n, approx: approx, at: time.Now()})
	return n
}

// scaledEstimate estimates the range's data bytes without reading them: approx, Pebble's
// estimate of its bytes on disk now (compressed, and without what is still in memtables; see
// ApproximateBytes), times the data bytes
// the last count found per byte of that estimate then. A count that stopped at its limit
// makes the estimate low, never high, which errs towards counting again. ok is false without
// a count of the range as it is now bounded. Counting a range reads all of it: under TPC-C
// at ten warehouses, counting every written range on every pass of the split and merge
// queues took half of each node's CPU.
func (r *Replica) scaledEstimate(approx int64) (int64, bool) {
	c := r.sizeCache.Load()
	if c == nil || c.gen != r.Desc().Generation || c.approx <= 0 {
		return 0, false
	}
	return int64(float64(approx) * float64(c.bytes) / float64(c.approx)), true
}

// sizeCount is a count of dataBytes, valid while the replica's written counter and
// descriptor generation are unchanged: bytes, exact if below limit, else "at least limit".
type sizeCount struct {
	written, gen, limit, bytes int64
	approx                     int64     // ApproximateBytes when it was counted
	at                         time.Time // when it was counted
}

// recountBigAfter is how long a range counted at or above a limit is taken to still be, even
// while it is written. Only garbage collection and range deletions shrink a range, and what
// asks (the merge queue) can wait; Pebble's estimate cannot answer instead, as it measures
// compressed bytes, and recounting a range that is written all the time took a tenth of a
// node's CPU under TPC-C.
const recountBigAfter = time.Minute

// recountAfter is how long the split queue trusts scaledEstimate to say a written range of
// about n bytes is still too small to split, before it counts the range again: the estimate
// misses writes still in memtables, so it is trusted for longer only where counting costs
// more, for up to two minutes (at 256 KiB of counting per second of trust).
func recountAfter(n int64) time.Duration {
	return min(time.Duration(n>>18)*time.Second, 2*time.Minute)
}

func (r *Replica) countDataBytes(limit int64) int64 {
	r.sizeCounts.Add(1)
	d := r.Desc()
	if d.EndKey == nil {
		return 0
	}
	it, err := spanIter(r.store.db, userDataSpan(d.StartKey, d.EndKey))
	if err != nil {
		return limit // unknown: too big to matter
	}
	defer it.Close()
	var total int64
	for ok := it.First(); ok && total < limit; ok = it.Next() {
		total += int64(len(it.Key()) + len(it.Value()))
	}
	return total
}

// validSplitKey checks that the range can split at key.
func (r *Replica) validSplitKey(key []byte) ([]byte, bool) {
	d := r.Desc()
	if !d.ContainsKey(key) || bytes.Equal(key, d.StartKey) || bytes.Compare(key, keys.SystemMax) < 0 {
		return nil, false
	}
	return key, true
}

// writeCounter counts the bytes of commands a replica applied (written), and remembers the
// count at its last size check (sizeCheckedAt), the last count of its size (sizeCache), and
// how many times its data was read to count it (sizeCounts).
type writeCounter struct {
	written, sizeCheckedAt, sizeCounts atomic.Int64
	sizeCache                          atomic.Pointer[sizeCount]
}
