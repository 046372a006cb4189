package tpcc

import (
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
)

// cLastLoad is the load's constant C of NURand for C_LAST (2.1.6). It is fixed rather than
// drawn so that a resumed load, and every later run, agree on it without storing it; the
// spec allows any value in [0..255]. The run's values are drawn once per process.
const cLastLoad = 157

// The cardinalities of the initial population (4.3.3.1).
const (
	numItems   = 100000
	numDist    = 10 // districts per warehouse
	numCust    = 3000
	numOrders  = 3000
	newOrders  = 900 // the last 900 orders of each district are undelivered
	firstNewOD = numOrders - newOrders + 1
	unusedItem = numItems + 1 // the item number of New-Order's rollback (2.4.1.5)
)

// runConstants are the NURand constants C that every terminal of a run shares (2.1.6).
type runConstants struct {
	cLast, cID, olIID int
}

var (
	runOnce sync.Once
	runC    runConstants
)

// theRunConstants returns this process's run constants, drawing them on first use.
func theRunConstants() runConstants {
	runOnce.Do(func() {
		runC = runConstants{cLast: cLastRun(cLastLoad, rand.IntN), cID: rand.IntN(1024), olIID: rand.IntN(8192)}
	})
	return runC
}

// cLastRun picks the run's C for C_LAST so that its distance from the load's value lies in
// [65..119] and is neither 96 nor 112 (2.1.6.1), which keeps the run's last names from
// lining up with the loaded ones. intn is rand.IntN, a parameter for tests.
func cLastRun(load int, intn func(int) int) int {
	for {
		c := intn(256)
		d := c - load
		if d < 0 {
			d = -d
		}
		if d >= 65 && d <= 119 && d != 96 && d != 112 {
			return c
		}
	}
}

// gen draws the random values of the spec (2.1.4 to 2.1.6, 4.3.2).
type gen struct {
	r *rand.Rand
}

func newGen(seed uint64) *gen {
	return &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// uniform returns an integer in [lo..hi].
func (g *gen) uniform(lo, hi int) int { return lo + g.r.IntN(hi-lo+1) }

// nurand is NURand(A, x, y) of 2.1.6.
func (g *gen) nurand(a, c, x, y int) int {
	return (((g.uniform(0, a) | g.uniform(x, y)) + c) % (y - x + 1)) + x
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// astring is a random a-string of length in [lo..hi] (4.3.2.2).
func (g *gen) astring(lo, hi int) string {
	b := make([]byte, g.uniform(lo, hi))
	for i := range b {
		b[i] = alnum[g.r.IntN(len(alnum))]
	}
	return string(b)
}

// nstring is a random n-string (digits) of length in [lo..hi].
func (g *gen) nstring(lo, hi int) string {
	b := make([]byte, g.uniform(lo, hi))
	for i := range b {
		b[i] = byte('0' + g.r.IntN(10))
	}
	return string(b)
}

// zip is a zip code of 4.3.2.7: four random digits then "11111".
func (g *gen) zip() string { return g.nstring(4, 4) + "11111" }

// state is two random letters.
func (g *gen) state() string {
	return string([]byte{byte('A' + g.r.IntN(26)), byte('A' + g.r.IntN(26))})
}

// data is the i_data/s_data of 4.3.3.1: an a-string of [26..50] that in 10% of rows holds
// "ORIGINAL" at a random position.
func (g *gen) data() string {
	s := g.astring(26, 50)
	if g.r.IntN(10) == 0 {
		p := g.r.IntN(len(s) - 8 + 1)
		s = s[:p] + "ORIGINAL" + s[p+8:]
	}
	return s
}

// fixed returns a number with the given digits after the point drawn uniformly in [lo..hi]
// (both in units of the last digit), e.g. fixed(100, 10000, 2) for [1.00..100.00]. Money
// and rates travel as decimal strings so no binary floating point ever touches them.
func (g *gen) fixed(lo, hi, scale int) string { return decimal(g.uniform(lo, hi), scale) }

// decimal formats v/10^scale.
func decimal(v, scale int) string {
	neg := v < 0
	if neg {
		v = -v
	}
	s := strconv.Itoa(v)
	for len(s) <= scale {
		s = "0" + s
	}
	if scale > 0 {
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// perm returns a random permutation of 1..n.
func (g *gen) perm(n int) []int {
	p := g.r.Perm(n)
	for i := range p {
		p[i]++
	}
	return p
}

// negExp draws a think time around mean from the negative exponential distribution,
// capped at ten times the mean (5.2.5.4).
func (g *gen) negExp(mean float64) float64 {
	r := g.r.Float64()
	for r == 0 {
		r = g.r.Float64()
	}
	return math.Min(-math.Log(r)*mean, 10*mean)
}

var syllables = [10]string{"BAR", "OUGHT", "ABLE", "PRI", "PRES", "ESE", "ANTI", "CALLY", "ATION", "EING"}

// lastName builds C_LAST from the three digits of n in [0..999] (4.3.2.3).
func lastName(n int) string {
	return syllables[n/100] + syllables[n/10%10] + syllables[n%10]
}

// mix64 is SplitMix64's finalizer: a cheap, well spread hash for seeds and for values that
// must be computable without replaying a generator.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// olCount is O_OL_CNT, uniform in [5..15], of the loaded order (w, d, o). It is a pure
// function so that RowsToLoad can count order lines exactly without generating the data.
func olCount(w, d, o int) int {
	h := mix64(uint64(w)<<32 ^ uint64(d)<<16 ^ uint64(o))
	return 5 + int(h%11)
}
