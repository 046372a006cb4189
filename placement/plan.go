package placement

import (
	"fmt"
	"slices"
	"time"
)

// Defaults of the cluster settings Plan uses.
const (
	DefaultReplicas      = 3
	DefaultTimeUntilDead = 5 * time.Minute
)

// Node is what Plan knows of one node.
type Node struct {
	ID       uint64
	Locality map[string]string
	// Live says the node is reachable now; DeadFor is how long it has not been (0 if live).
	Live    bool
	DeadFor time.Duration
	// Draining marks a node being decommissioned: its replicas move elsewhere.
	Draining bool
	// NoLeases marks a node that may not hold leases now (its liveness record expired,
	// though it may still be reachable).
	NoLeases bool
	// Replicas and Leases are how many replicas and leases the node holds (to even out
	// the load).
	Replicas int
	Leases   int
}

// Config holds the settings Plan follows.
type Config struct {
	// Replicas is how many replicas each range should have.
	Replicas int
	// TimeUntilDead is how long a node may be unreachable before its replicas are replaced.
	TimeUntilDead time.Duration
}

// ActionKind says what Plan wants done.
type ActionKind int

const (
	// None: the range is as it should be.
	None ActionKind = iota
	// Add a replica on Node.
	Add
	// Remove the replica on Node.
	Remove
)

// Action is one change to a range's replicas.
type Action struct {
	Kind   ActionKind
	Node   uint64
	Reason string
	// Rebalance marks a change made only to even out load; callers pace those.
	Rebalance bool
}

func (a Action) String() string {
	switch a.Kind {
	case Add:
		return fmt.Sprintf("add n%d: %s", a.Node, a.Reason)
	case Remove:
		return fmt.Sprintf("remove n%d: %s", a.Node, a.Reason)
	}
	return "none"
}

// Plan returns the next change for a range whose replicas are on the nodes listed in
// replicas and whose lease is on leaseholder (never removed: move the lease first).
func Plan(replicas []uint64, leaseholder uint64, nodes []Node, cfg Config) Action {
	if cfg.Replicas <= 0 {
		cfg.Replicas = DefaultReplicas
	}
	if cfg.TimeUntilDead <= 0 {
		cfg.TimeUntilDead = DefaultTimeUntilDead
	}
	byID := make(map[uint64]Node, len(nodes))
	for _, n := range nodes {
		byID[n.ID] = n
	}
	// A replica on a node that is gone for good goes first: removing it keeps the quorum
	// among live replicas, where adding first would need every live replica to agree. A
	// node Plan is not told about is not known to be dead (the caller may not have heard
	// of it yet), so its replica stays.
	for _, id := range replicas {
		n, known := byID[id]
		if id != leaseholder && known && !n.Live && n.DeadFor >= cfg.TimeUntilDead {
			return Action{Kind: Remove, Node: id, Reason: fmt.Sprintf("n%d is dead", id)}
		}
	}

	// Count what the range needs: replicas on draining nodes are to be replaced, so they
	// do not count towards the goal.
	healthy := 0
	for _, id := range replicas {
		if !byID[id].Draining {
			healthy++
		}
	}
	if healthy < cfg.Replicas {
		if target, ok := pickTarget(replicas, byID, nodes); ok {
			return Action{Kind: Add, Node: target, Reason: fmt.Sprintf("%d of %d replicas", healthy, cfg.Replicas)}
		}
	}
	// Surplus: drop draining replicas first, then the one whose locality is most crowded.
	if len(replicas) > cfg.Replicas || (healthy >= cfg.Replicas && len(replicas) > healthy) {
		if id, ok := pickVictim(replicas, leaseholder, byID); ok {
			return Action{Kind: Remove, Node: id, Reason: fmt.Sprintf("%d replicas, want %d", len(replicas), cfg.Replicas)}
		}
	}
	return rebalance(replicas, leaseholder, byID, nodes)
}

// rebalance moves a replica from a node well above the mean replica count to one well below
// it, as an add (the surplus rule then removes the loaded one): counts within 10% (and one
// replica) of the mean are left alone, so that the cluster settles.
func rebalance(replicas []uint64, leaseholder uint64, byID map[uint64]Node, nodes []Node) Action {
	total, live := 0, 0
	for _, n := range nodes {
		if n.Live && !n.Draining {
			total += n.Replicas
			live++
		}
	}
	if live == 0 {
		return Action{Kind: None}
	}
	mean := float64(total) / float64(live)
	overloaded := false
	for _, id := range replicas {
		if n := byID[id]; id != leaseholder && float64(n.Replicas) > mean*1.1+1 {
			overloaded = true
		}
	}
	if !overloaded {
		return Action{Kind: None}
	}
	target, ok := pickTarget(replicas, byID, nodes)
	if !ok || float64(byID[target].Replicas) >= mean*0.9-1 {
		return Action{Kind: None}
	}
	return Action{Kind: Add, Node: target, Rebalance: true,
		Reason: fmt.Sprintf("rebalance: n%d holds %d replicas, the mean is %.1f", target, byID[target].Replicas, mean)}
}

// pickTarget chooses a live, non-draining node without a replica: the one whose locality
// shares the fewest tiers with the existing replicas, then the least loaded, then the
// lowest ID.
func pickTarget(replicas []uint64, byID map[uint64]Node, nodes []Node) (uint64, bool) {
	var best *Node
	var bestShared int
	for i := range nodes {
		n := &nodes[i]
		if !n.Live || n.Draining || slices.Contains(replicas, n.ID) {
			continue
		}
		shared := 0
		for _, id := range replicas {
			shared += sharedTiers(n.Locality, byID[id].Locality)
		}
		if best == nil || shared < bestShared ||
			(shared == bestShared && (n.Replicas < best.Replicas || (n.Replicas == best.Replicas && n.ID < best.ID))) {
			best, bestShared = n, shared
		}
	}
	if best == nil {
		return 0, false
	}
	return best.ID, true
}

// pickVictim chooses a replica to remove: on a draining node if any, else the one sharing
// the most locality tiers with the others, then the most loaded node. Never the leaseholder.
func pickVictim(replicas []uint64, leaseholder uint64, byID map[uint64]Node) (uint64, bool) {
	var best uint64
	bestScore, bestLoad := -1, -1
	for _, id := range replicas {
		if id == leaseholder {
			continue
		}
		n := byID[id]
		score := 0
		for _, o := range replicas {
			if o != id {
				score += sharedTiers(n.Locality, byID[o].Locality)
			}
		}
		if n.Draining {
			score += 1 << 20
		}
		if score > bestScore || (score == bestScore && (n.Replicas > bestLoad || (n.Replicas == bestLoad && id > best))) {
			best, bestScore, bestLoad = id, score, n.Replicas
		}
	}
	return best, bestScore >= 0
}

// sharedTiers counts the locality tiers (region, zone, ...) two nodes have in common,
// outermost first: nodes in different regions share nothing, even a zone name.
func sharedTiers(a, b map[string]string) int {
	n := 0
	for _, tier := range []string{"region", "zone", "rack"} {
		va, oka := a[tier]
		vb, okb := b[tier]
		if !oka || !okb || va != vb {
			break
		}
		n++
	}
	return n
}

// LeaseTarget says whether the leaseholder of a range with replicas on the listed nodes
// should hand its lease to another of them to even out lease counts, and to which: only
// from a node well above the mean (10% and one lease) to a live one well below it.
func LeaseTarget(replicas []uint64, leaseholder uint64, nodes []Node) (uint64, bool) {
	total, live := 0, 0
	byID := make(map[uint64]Node, len(nodes))
	for _, n := range nodes {
		byID[n.ID] = n
		if n.Live && !n.Draining && !n.NoLeases {
			total += n.Leases
			live++
		}
	}
	if live == 0 {
		return 0, false
	}
	mean := float64(total) / float64(live)
	if float64(byID[leaseholder].Leases) <= mean*1.1+1 {
		return 0, false
	}
	var best Node
	found := false
	for _, id := range replicas {
		n, ok := byID[id]
		if !ok || id == leaseholder || !n.Live || n.Draining || n.NoLeases || float64(n.Leases) >= mean*0.9-1 {
			continue
		}
		if !found || n.Leases < best.Leases || (n.Leases == best.Leases && n.ID < best.ID) {
			best, found = n, true
		}
	}
	return best.ID, found
}
