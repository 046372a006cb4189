package register

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// registers is a linearizable register per key: every operation takes
// effect atomically under the mutex.
type registers struct {
	mu   sync.Mutex
	vals map[string]int
}

func (r *registers) apply(key string, kind OpKind, value, expect int) (result int, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.vals[key]
	switch kind {
	case Write:
		r.vals[key] = value
	case CAS:
		if cur != expect {
			return cur, false
		}
		r.vals[key] = value
	}
	return cur, true
}

type simulation struct {
	clients      int
	keys         int
	opsPerClient int
	// lossEvery makes about one operation in lossEvery lose its
	// response, whether or not it took effect; 0 loses none.
	lossEvery int
	// stale tells whether a client's i-th operation is replaced by a
	// read answered with an old value, as by a lagging replica.
	stale func(client, i int) bool
}

// run drives the registers from concurrent clients and returns their history
// and the keys that got a stale read.
func (s simulation) run(t *testing.T, seed uint64) ([]Op, []string) {
	t.Helper()
	regs := &registers{vals: make(map[string]int)}
	var rec Recorder
	var mu sync.Mutex
	var staleKeys []string
	var wg sync.WaitGroup
	for c := range s.clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(c)))
			seen := make(map[string]int) // last value this client saw, as the next CAS's expectation
			for i := range s.opsPerClient {
				key := fmt.Sprintf("k%d", rng.IntN(s.keys))
				// Every value written is unique, which makes stale reads
				// provably stale.
				fresh := c*1_000_000 + i + 1

				if s.stale != nil && s.stale(c, i) {
					// The client reads a value, overwrites it, and is then
					// served the value it overwrote: no order of the three
					// explains that.
					p := rec.Begin(c, key, Read, 0, 0)
					old, _ := regs.apply(key, Read, 0, 0)
					p.End(old, true)
					p = rec.Begin(c, key, Write, fresh, 0)
					regs.apply(key, Write, fresh, 0)
					p.End(0, true)
					p = rec.Begin(c, key, Read, 0, 0)
					p.End(old, true)
					mu.Lock()
					staleKeys = append(staleKeys, key)
					mu.Unlock()
					continue
				}

				kind := OpKind(rng.IntN(3))
				expect := seen[key]
				p := rec.Begin(c, key, kind, fresh, expect)
				if s.lossEvery > 0 && rng.IntN(s.lossEvery) == 0 {
					switch rng.IntN(3) {
					case 0:
						regs.apply(key, kind, fresh, expect)
						p.Ambiguous()
					case 1:
						p.Ambiguous()
					case 2:
						p.Fail()
					}
					continue
				}
				cur, ok := regs.apply(key, kind, fresh, expect)
				p.End(cur, ok)
				if kind == Read || !ok {
					seen[key] = cur
				} else {
					seen[key] = fresh
				}
			}
		})
	}
	wg.Wait()
	slices.Sort(staleKeys)
	return rec.History(), slices.Compact(staleKeys)
}

func TestCheckSimulated(t *testing.T) {
	tests := []struct {
		name string
		sim  simulation
		want Outcome
	}{
		{
			name: "linearizable",
			sim:  simulation{clients: 8, keys: 4, opsPerClient: 500},
			want: Linearizable,
		},
		{
			name: "linearizable with lost responses",
			sim:  simulation{clients: 8, keys: 4, opsPerClient: 500, lossEvery: 200},
			want: Linearizable,
		},
		{
			name: "one stale read",
			sim: simulation{clients: 8, keys: 4, opsPerClient: 500,
				stale: func(c, i int) bool { return c == 3 && i == 250 }},
			want: NotLinearizable,
		},
		{
			name: "stale reads",
			sim: simulation{clients: 8, keys: 4, opsPerClient: 500,
				stale: func(c, i int) bool { return i%200 == 100 }},
			want: NotLinearizable,
		},
		{
			name: "stale reads with lost responses",
			sim: simulation{clients: 8, keys: 4, opsPerClient: 500, lossEvery: 200,
				stale: func(c, i int) bool { return c%2 == 0 && i == 300 }},
			want: NotLinearizable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed)
			ops, staleKeys := tt.sim.run(t, seed)
			start := time.Now()
			res, err := Check(ops, 30*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("checked %d operations in %v", len(ops), time.Since(start))
			if res.Outcome != tt.want {
				t.Fatalf("outcome = %v, want %v\n%s", res.Outcome, tt.want, res.Explanation)
			}
			if !slices.Equal(res.Keys, staleKeys) {
				t.Errorf("keys = %q, want the keys with stale reads %q\n%s", res.Keys, staleKeys, res.Explanation)
			}
		})
	}
}
