package kv

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
)

// zipf draws ranks 0..n-1 with probability proportional to 1/(rank+1)^theta, 0 < theta < 1, by
// the rejection-free method of Gray et al., "Quickly Generating Billion-Record Synthetic
// Databases" (SIGMOD 1994): ranks 0 and 1 exactly, the rest from the inverse of the
// continuous approximation of the distribution's tail. Its constants cost O(n) once; a draw
// costs O(1). The constants are shared and read-only, so workers share one zipf and each
// draws with its own rng.
type zipf struct {
	n                 int64
	theta, alpha, eta float64
	zetan             float64
	half              float64 // 1 + 0.5^theta: the cumulative weight of ranks 0 and 1
}

// newZipf returns the distribution over n ranks with skew theta.
func newZipf(n int64, theta float64) (*zipf, error) {
	if n < 2 {
		return nil, fmt.Errorf("zipfian keys need a key space of at least 2, not %d", n)
	}
	if !(theta > 0 && theta < 1) {
		return nil, fmt.Errorf("zipfian skew must be in (0, 1), not %g", theta)
	}
	z := &zipf{n: n, theta: theta, alpha: 1 / (1 - theta), half: 1 + math.Pow(0.5, theta)}
	z.zetan = zeta(n, theta)
	z.eta = (1 - math.Pow(2/float64(n), 1-theta)) / (1 - zeta(2, theta)/z.zetan)
	return z, nil
}

// zeta is the sum over i in 1..n of 1/i^theta.
func zeta(n int64, theta float64) float64 {
	var s float64
	for i := int64(1); i <= n; i++ {
		s += 1 / math.Pow(float64(i), theta)
	}
	return s
}

// rank draws a rank: 0 is the most frequent.
func (z *zipf) rank(rng *rand.Rand) int64 {
	u := rng.Float64()
	uz := u * z.zetan
	switch {
	case uz < 1:
		return 0
	case uz < z.half:
		return 1
	}
	r := int64(float64(z.n) * math.Pow(z.eta*u-z.eta+1, z.alpha))
	return min(r, z.n-1)
}

// scatterPrime multiplies ranks into keys: a prime, so that rank -> rank*p mod n is a
// permutation of 0..n-1 whenever n is not a multiple of it.
const scatterPrime = 2_147_483_647

// key draws a key: a rank, scattered over the key space so that the hottest keys are not
// neighbours, which on a range-partitioned database would put them all in one range.
func (z *zipf) key(rng *rand.Rand) int64 {
	r := uint64(z.rank(rng))
	if z.n%scatterPrime == 0 {
		return int64(r)
	}
	hi, lo := bits.Mul64(r, scatterPrime)
	_, rem := bits.Div64(hi, lo, uint64(z.n))
	return int64(rem)
}
