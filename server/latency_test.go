package server

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestSimulatedLatencyByLocality: a node asks its SimulatedLatency for the delay of the
// messages to and from each peer with both localities, the peer's as gossip has it, so that
// a delay matrix over regions and zones applies to the right pairs. Before gossip knows a
// peer (a joining node's first messages) the peer's is nil; after, it is the peer's.
func TestSimulatedLatencyByLocality(t *testing.T) {
	var (
		mu    sync.Mutex
		pairs = map[string]bool{} // "local zone → peer zone"
		next  int
	)
	latency := func(local, peer map[string]string) time.Duration {
		mu.Lock()
		defer mu.Unlock()
		pairs[local["zone"]+" → "+peer["zone"]] = true
		if local["region"] != peer["region"] {
			return 2 * time.Millisecond
		}
		return 0
	}
	nodes := startClusterWith(t, 3, func(cfg *Config) {
		next++
		region := "a"
		if next == 3 {
			region = "b"
		}
		cfg.Locality = map[string]string{"region": region, "zone": fmt.Sprint(next)}
		cfg.SimulatedLatency = latency
	})
	waitFirstRangeEverywhere(t, nodes)
	mu.Lock()
	clear(pairs) // from now on every peer is known
	mu.Unlock()
	waitFor(t, 30*time.Second, "messages from every node", func() bool {
		mu.Lock()
		defer mu.Unlock()
		from := map[string]bool{}
		for pair := range pairs {
			var local, peer string
			if _, err := fmt.Sscanf(pair, "%s → %s", &local, &peer); err != nil || local == peer {
				t.Fatalf("a message was delayed as %q: the peer's locality was not known, or was its own", pair)
			}
			from[local] = true
		}
		return len(from) == 3
	})
}
