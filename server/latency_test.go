package server

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/meridiandb/meridian/ranges"
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

// TestSchemaLeaseAcrossRegions: a node whose system range's leaseholder is in another region
// keeps its schema lease through its transactions and through pauses between them, so that
// none of them pays the trip to read the schema version. With a fixed half-second lease,
// renewed only when a transaction found it nearly used up, a renewal across regions (several
// round trips) landed after the lease had run out, and after any pause of a second the next
// statements read the version themselves: the first statements of every psql session against
// a multi-region cluster each cost two round trips more than they should.
func TestSchemaLeaseAcrossRegions(t *testing.T) {
	next := 0
	nodes := startClusterWith(t, 3, func(cfg *Config) {
		next++
		// Raft's production timing: the tests' shortened one (a 150 ms leader lease) is
		// shorter than a round trip and a half here, and its leaders kept stepping down.
		cfg.RaftHeartbeatTimeout = ranges.DefaultRaftHeartbeatTimeout
		cfg.Locality = map[string]string{"region": fmt.Sprint("r", next)}
		cfg.SimulatedLatency = func(local, peer map[string]string) time.Duration {
			if local["region"] != peer["region"] {
				return 60 * time.Millisecond
			}
			return 0
		}
	})
	waitFirstRangeEverywhere(t, nodes)
	n := nodes[1]
	ctx := context.Background()
	conn := connect(t, n)
	selectOne := func() {
		t.Helper()
		if _, err := conn.Exec(ctx, "SELECT 1", pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 30*time.Second, "a statement served by node 2's lease", func() bool {
		before := n.cat.LeasedTransactions()
		selectOne()
		return n.cat.LeasedTransactions() > before
	})
	// Statements a little apart, then after pauses longer than a fixed lease lasted.
	for i, pause := range []time.Duration{300 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond, 2 * time.Second, 3 * time.Second} {
		time.Sleep(pause)
		before := n.cat.LeasedTransactions()
		selectOne()
		if n.cat.LeasedTransactions() == before {
			t.Fatalf("statement %d, %s after the one before: not served by the node's schema lease (it read the version across regions)", i, pause)
		}
	}
}
