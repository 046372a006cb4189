package workload

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// exactQuantile is the nearest-rank quantile of sorted.
func exactQuantile(sorted []time.Duration, q float64) time.Duration {
	rank := int(math.Ceil(q * float64(len(sorted))))
	rank = max(rank, 1)
	return sorted[rank-1]
}

func TestHistogramQuantiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	samples := map[string][]time.Duration{}
	// Log-uniform from 10µs to 10 minutes: every magnitude the histogram claims to cover.
	for range 20000 {
		exp := math.Log(10e3) + rng.Float64()*(math.Log(600e9)-math.Log(10e3))
		samples["log-uniform"] = append(samples["log-uniform"], time.Duration(math.Exp(exp)))
	}
	// Mostly fast with a slow tail, like a database under contention.
	for range 10000 {
		d := time.Duration(200e3 + rng.NormFloat64()*20e3)
		if rng.IntN(100) == 0 {
			d = time.Duration(50e6 + rng.Float64()*500e6)
		}
		samples["tail"] = append(samples["tail"], d)
	}
	samples["tiny"] = []time.Duration{3, 1, 2}
	samples["one"] = []time.Duration{1234567}
	for name, vs := range samples {
		t.Run(name, func(t *testing.T) {
			var h Histogram
			for _, v := range vs {
				h.Record(v)
			}
			sorted := slices.Clone(vs)
			slices.Sort(sorted)
			if h.Count() != int64(len(vs)) {
				t.Fatalf("count %d, want %d", h.Count(), len(vs))
			}
			for _, q := range []float64{0.01, 0.5, 0.9, 0.95, 0.99, 0.999, 1} {
				got, want := h.Quantile(q), exactQuantile(sorted, q)
				if err := math.Abs(float64(got-want)) / float64(want); err > 0.01 {
					t.Errorf("q%.3f = %v, want %v (off by %.2f%%)", q, got, want, 100*err)
				}
			}
			if h.Max() != sorted[len(sorted)-1] {
				t.Errorf("max %v, want %v exactly", h.Max(), sorted[len(sorted)-1])
			}
		})
	}
}

func TestHistogramMerge(t *testing.T) {
	var a, b, all Histogram
	for i := range 1000 {
		d := time.Duration(i*i) * time.Microsecond
		all.Record(d)
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	a.Merge(&b)
	if a != all {
		t.Fatalf("merged histogram differs from one that recorded everything")
	}
	var empty Histogram
	if empty.Quantile(0.5) != 0 || empty.Max() != 0 || empty.Mean() != 0 {
		t.Fatalf("empty histogram should report zeros")
	}
	a.Reset()
	if a.Count() != 0 {
		t.Fatalf("reset left %d values", a.Count())
	}
}

func TestHistogramBuckets(t *testing.T) {
	// Buckets must tile the values without gaps or overlaps, and be narrow.
	prevEnd := int64(0)
	for i := range bucketOf(maxValue) + 1 {
		low, width := bucketRange(i)
		if low != prevEnd {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, low, prevEnd)
		}
		if bucketOf(low) != i || bucketOf(low+width-1) != i {
			t.Fatalf("bucket %d [%d,+%d) does not map back to itself", i, low, width)
		}
		if low >= subBuckets && float64(width)/float64(low) > 1.0/subBuckets+1e-12 {
			t.Fatalf("bucket %d is %d wide at %d: too wide", i, width, low)
		}
		prevEnd = low + width
	}
	if prevEnd <= maxValue {
		t.Fatalf("buckets end at %d, before the max value %d", prevEnd, maxValue)
	}
	if bucketOf(math.MaxInt64) != bucketOf(maxValue) || bucketOf(maxValue) >= numBuckets || bucketOf(-5) != 0 {
		t.Fatalf("out-of-range values are not clamped")
	}
}
