package main

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// maxSimulatedLatency bounds one entry of --simulated-latency. The farthest regions on Earth
// are about 150ms apart one way; an entry far above that is a typo ("35s" for "35ms") that
// would stall every Raft heartbeat and liveness update, so it is refused rather than obeyed.
const maxSimulatedLatency = time.Second

// regionPair is an unordered pair of regions, kept with the smaller name first so that
// "a:b" and "b:a" are the same entry.
type regionPair struct{ a, b string }

func newRegionPair(x, y string) regionPair {
	if x > y {
		x, y = y, x
	}
	return regionPair{x, y}
}

// latencyMatrix is the one-way delay between pairs of regions, as --simulated-latency gives
// it. It is symmetric; a region and itself, and a pair it does not list, have none.
type latencyMatrix map[regionPair]time.Duration

// parseSimulatedLatency reads --simulated-latency: comma-separated entries
// "REGION:REGION=DURATION", e.g. "us-east1:us-west1=35ms,us-east1:europe-west1=45ms", each
// the one-way delay between two distinct regions in either direction. Spaces around names and
// durations are ignored. A region name holding ':' cannot be written, and each pair may be
// listed once (in either order). The empty string is no simulated latency (a nil matrix).
func parseSimulatedLatency(s string) (latencyMatrix, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	m := make(latencyMatrix)
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return nil, fmt.Errorf("entry %d is empty", i+1)
		}
		pair, dur, ok := strings.Cut(entry, "=")
		if !ok {
			return nil, fmt.Errorf("entry %q is not of the form REGION:REGION=DURATION", entry)
		}
		parts := strings.Split(pair, ":")
		if len(parts) != 2 {
			return nil, fmt.Errorf("entry %q: %q is not two regions separated by one ':'", entry, strings.TrimSpace(pair))
		}
		a, b := strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1])
		if a == "" || b == "" {
			return nil, fmt.Errorf("entry %q: a region name is empty", entry)
		}
		if a == b {
			return nil, fmt.Errorf("entry %q: both regions are %q; nodes of one region have no simulated latency", entry, a)
		}
		d, err := time.ParseDuration(strings.TrimSpace(dur))
		if err != nil {
			return nil, fmt.Errorf("entry %q: %w", entry, err)
		}
		if d < 0 || d > maxSimulatedLatency {
			return nil, fmt.Errorf("entry %q: the latency must be between 0 and %s", entry, maxSimulatedLatency)
		}
		key := newRegionPair(a, b)
		if _, dup := m[key]; dup {
			return nil, fmt.Errorf("entry %q: the pair %s:%s is listed more than once", entry, key.a, key.b)
		}
		m[key] = d
	}
	return m, nil
}

// oneWay is the delay of a message between nodes of localities local and peer, by their
// "region" tiers (server.Config.SimulatedLatency). A peer whose locality is not known yet
// (nil) gets none: its first messages go undelayed rather than wait for gossip.
func (m latencyMatrix) oneWay(local, peer map[string]string) time.Duration {
	a, b := local["region"], peer["region"]
	if a == "" || b == "" || a == b {
		return 0
	}
	return m[newRegionPair(a, b)]
}

// has reports whether the matrix lists a pair with region in it.
func (m latencyMatrix) has(region string) bool {
	for p := range m {
		if p.a == region || p.b == region {
			return true
		}
	}
	return false
}

// simulatedLatency turns --simulated-latency into server.Config.SimulatedLatency for a node
// of the given locality: nil when the flag is empty. The node's own region must be one the
// flag names: a node without a region, or with one the matrix misspells, would otherwise
// run with no delay at all and the demo would silently measure nothing.
func simulatedLatency(flag string, locality map[string]string) (func(local, peer map[string]string) time.Duration, error) {
	m, err := parseSimulatedLatency(flag)
	if err != nil || m == nil {
		return nil, err
	}
	region := locality["region"]
	if region == "" {
		return nil, errors.New("it needs the node's region: give --locality region=...")
	}
	if !m.has(region) {
		return nil, fmt.Errorf("no pair names this node's region %q (--locality)", region)
	}
	return m.oneWay, nil
}
