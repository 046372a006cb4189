package workload

import (
	"math"
	"math/bits"
	"time"
)

// The histogram's buckets are log-linear, as in HdrHistogram: values below 2^(subBits+1)
// nanoseconds have a bucket each, and every power of two above is split into 2^subBits
// buckets of equal width, so a bucket is never wider than 1/128 of its values (under 0.8%),
// whatever the magnitude. That keeps the percentiles of a 10µs read and of a 10s stall equally
// precise in a fixed 36 KiB, and two histograms merge by adding their counts.
const (
	subBits    = 7
	subBuckets = 1 << subBits
	// maxValue is the largest latency kept apart: an hour. Longer ones count as an hour (max
	// stays exact).
	maxValue = int64(time.Hour)
	// maxExp is the exponent of maxValue's bucket: an hour is 42 bits long, 34 above the
	// subBits+1 kept (TestHistogramBuckets checks that the buckets reach maxValue).
	maxExp     = 34
	numBuckets = maxExp*subBuckets + 2*subBuckets
)

// A Histogram counts latencies in log-linear buckets of at most 0.8% relative width. Its zero
// value is empty and ready to use; it is not safe for concurrent use.
type Histogram struct {
	counts   [numBuckets]int64
	n        int64
	sum      int64
	min, max int64
}

// bucketOf returns the index of v's bucket: v itself below 2*subBuckets, else the power of two
// above subBits that v spans (exp) and v's top subBits+1 bits.
func bucketOf(v int64) int {
	if v < 0 {
		v = 0
	}
	if v > maxValue {
		v = maxValue
	}
	exp := bits.Len64(uint64(v)) - subBits - 1
	if exp <= 0 {
		return int(v)
	}
	return exp*subBuckets + int(v>>exp)
}

// bucketRange returns the smallest value of bucket i and its width.
func bucketRange(i int) (low, width int64) {
	if i < 2*subBuckets {
		return int64(i), 1
	}
	exp := i/subBuckets - 1
	m := int64(i - exp*subBuckets)
	return m << exp, 1 << exp
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.counts[bucketOf(v)]++
	h.n++
	h.sum += v
}

// Merge adds o's latencies to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
}

// Reset empties h.
func (h *Histogram) Reset() { *h = Histogram{} }

// Count returns the number of latencies recorded.
func (h *Histogram) Count() int64 { return h.n }

// Max returns the largest latency recorded, exactly (0 when empty).
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Mean returns the mean latency (0 when empty).
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / h.n)
}

// Quantile returns the latency at quantile q (0 < q ≤ 1) by the nearest-rank definition: the
// smallest recorded value at least a fraction q of the values are no greater than, to within
// its bucket's width. It returns the bucket's midpoint, clamped to the exact min and max, so
// q=1 is exact and any other quantile is within 0.4% of a recorded value's true rank.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	if rank >= h.n {
		return time.Duration(h.max)
	}
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			low, width := bucketRange(i)
			v := low + (width-1)/2
			v = max(v, h.min)
			v = min(v, h.max)
			return time.Duration(v)
		}
	}
	return time.Duration(h.max)
}
