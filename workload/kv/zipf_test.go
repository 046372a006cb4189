package kv

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestZipfSkew(t *testing.T) {
	const n, draws = 1000, 400_000
	for _, theta := range []float64{0.5, 0.99} {
		z, err := newZipf(n, theta)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(7, 8))
		counts := make([]int, n)
		for range draws {
			counts[z.rank(rng)]++
		}
		// The exact probabilities of ranks 0 and 1, and those of the next few within the
		// approximation of the continuous tail (18% off at rank 2 for theta 0.99).
		for r, tol := range []float64{0.03, 0.03, 0.2, 0.2, 0.2} {
			want := 1 / math.Pow(float64(r+1), theta) / z.zetan
			got := float64(counts[r]) / draws
			if math.Abs(got-want)/want > tol {
				t.Errorf("theta %g: rank %d drawn %.4f of the time, want %.4f", theta, r, got, want)
			}
		}
		// The hottest 10% of keys take the share the distribution gives them.
		var hot int
		var wantHot float64
		for r := range n / 10 {
			hot += counts[r]
			wantHot += 1 / math.Pow(float64(r+1), theta) / z.zetan
		}
		if got := float64(hot) / draws; math.Abs(got-wantHot) > 0.02 {
			t.Errorf("theta %g: hottest 10%% drawn %.3f of the time, want %.3f", theta, got, wantHot)
		}
	}
}

func TestZipfKeysArePermuted(t *testing.T) {
	const n = 1000
	z, err := newZipf(n, 0.99)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	seen := map[int64]int{}
	for range 100_000 {
		k := z.key(rng)
		if k < 0 || k >= n {
			t.Fatalf("key %d outside [0, %d)", k, n)
		}
		seen[k]++
	}
	// Ranks 0 and 1 land on different keys, not necessarily 0 and 1, and stay the hottest.
	k0, k1 := int64(0), int64(scatterPrime%n)
	if seen[k0] <= seen[k1] || seen[k1] < 1000 {
		t.Fatalf("hottest keys %d (%d draws) and %d (%d draws)", k0, seen[k0], k1, seen[k1])
	}
	if _, err := newZipf(n, 1); err == nil {
		t.Fatal("skew 1 accepted")
	}
	if _, err := newZipf(1, 0.5); err == nil {
		t.Fatal("key space of 1 accepted")
	}
}
