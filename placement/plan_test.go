package placement

import (
	"testing"
	"time"
)

func live(id uint64, region, zone string, replicas int) Node {
	return Node{ID: id, Live: true, Locality: map[string]string{"region": region, "zone": zone}, Replicas: replicas}
}

func dead(id uint64, region string, for_ time.Duration) Node {
	return Node{ID: id, DeadFor: for_, Locality: map[string]string{"region": region}}
}

func TestPlan(t *testing.T) {
	cfg := Config{Replicas: 3, TimeUntilDead: time.Minute}
	three := []Node{live(1, "us", "a", 5), live(2, "us", "b", 5), live(3, "eu", "a", 5)}
	for _, tc := range []struct {
		name        string
		replicas    []uint64
		leaseholder uint64
		nodes       []Node
		cfg         Config
		want        Action
	}{
		{"healthy", []uint64{1, 2, 3}, 1, three, cfg, Action{Kind: None}},
		{"one replica grows", []uint64{1}, 1, three, cfg, Action{Kind: Add, Node: 3}}, // other region first
		{"two replicas grow", []uint64{1, 3}, 1, three, cfg, Action{Kind: Add, Node: 2}},
		{"too few nodes", []uint64{1, 2}, 1, three[:2], cfg, Action{Kind: None}},
		{"least loaded wins a tie", []uint64{1}, 1,
			[]Node{live(1, "us", "a", 5), live(2, "eu", "a", 9), live(3, "eu", "b", 2)}, cfg, Action{Kind: Add, Node: 3}},
		{"recently unreachable is waited for", []uint64{1, 2, 3}, 1,
			[]Node{live(1, "us", "a", 1), live(2, "us", "b", 1), dead(3, "eu", time.Second), live(4, "eu", "b", 0)}, cfg, Action{Kind: None}},
		{"dead replica is removed first", []uint64{1, 2, 3}, 1,
			[]Node{live(1, "us", "a", 1), live(2, "us", "b", 1), dead(3, "eu", time.Hour), live(4, "eu", "b", 0)}, cfg, Action{Kind: Remove, Node: 3}},
		{"then replaced", []uint64{1, 2}, 1,
			[]Node{live(1, "us", "a", 1), live(2, "us", "b", 1), dead(3, "eu", time.Hour), live(4, "eu", "b", 0)}, cfg, Action{Kind: Add, Node: 4}},
		{"unknown node is not taken for dead", []uint64{1, 2, 9}, 1, three, cfg, Action{Kind: None}},
		{"the leaseholder is never removed", []uint64{1, 2, 3}, 3,
			[]Node{live(1, "us", "a", 1), live(2, "us", "b", 1), dead(3, "eu", time.Hour)}, cfg, Action{Kind: None}},
		{"draining node is replaced before it is removed", []uint64{1, 2, 3}, 1,
			[]Node{live(1, "us", "a", 1), live(2, "us", "b", 1), {ID: 3, Live: true, Draining: true}, live(4, "eu", "b", 0)}, cfg, Action{Kind: Add, Node: 4}},
		{"then the draining replica goes", []uint64{1, 2, 3, 4}, 1,
			[]Node{live(1, "us", "a", 1), live(2, "us", "b", 1), {ID: 3, Live: true, Draining: true}, live(4, "eu", "b", 0)}, cfg, Action{Kind: Remove, Node: 3}},
		{"surplus removes the most crowded locality", []uint64{1, 2, 3, 4}, 1,
			[]Node{live(1, "us", "a", 1), live(2, "us", "a", 1), live(3, "eu", "a", 1), live(4, "ap", "a", 1)}, cfg, Action{Kind: Remove, Node: 2}},
		{"replication factor five", []uint64{1, 2, 3}, 1,
			append(three, live(4, "ap", "a", 0), live(5, "ap", "b", 0)), Config{Replicas: 5}, Action{Kind: Add, Node: 4}},
		{"defaults", []uint64{1}, 1, three, Config{}, Action{Kind: Add, Node: 3}},
		{"rebalance onto an empty node", []uint64{1, 2, 3}, 1,
			[]Node{live(1, "us", "a", 10), live(2, "us", "b", 10), live(3, "eu", "a", 10), live(4, "ap", "a", 0)}, cfg, Action{Kind: Add, Node: 4}},
		{"then the loaded surplus replica goes", []uint64{1, 2, 3, 4}, 1,
			[]Node{live(1, "us", "a", 10), live(2, "us", "b", 11), live(3, "eu", "a", 10), live(4, "ap", "a", 1)}, cfg, Action{Kind: Remove, Node: 2}},
		{"balanced enough", []uint64{1, 2, 3}, 1,
			[]Node{live(1, "us", "a", 10), live(2, "us", "b", 10), live(3, "eu", "a", 10), live(4, "ap", "a", 8)}, cfg, Action{Kind: None}},
		{"only the leaseholder is loaded", []uint64{1, 2, 3}, 1,
			[]Node{live(1, "us", "a", 30), live(2, "us", "b", 5), live(3, "eu", "a", 5), live(4, "ap", "a", 0)}, cfg, Action{Kind: None}},
	} {
		got := Plan(tc.replicas, tc.leaseholder, tc.nodes, tc.cfg)
		if got.Kind != tc.want.Kind || got.Node != tc.want.Node {
			t.Errorf("%s: Plan = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestLeaseTarget(t *testing.T) {
	withLeases := func(id uint64, leases int) Node { return Node{ID: id, Live: true, Leases: leases} }
	for _, tc := range []struct {
		name        string
		replicas    []uint64
		leaseholder uint64
		nodes       []Node
		want        uint64
	}{
		{"balanced", []uint64{1, 2, 3}, 1, []Node{withLeases(1, 10), withLeases(2, 10), withLeases(3, 10)}, 0},
		{"to the emptiest replica", []uint64{1, 2, 3}, 1, []Node{withLeases(1, 30), withLeases(2, 5), withLeases(3, 0)}, 3},
		{"not to a node outside the range", []uint64{1, 2}, 1, []Node{withLeases(1, 30), withLeases(2, 30), withLeases(3, 0)}, 0},
		{"not to a dead node", []uint64{1, 2, 3}, 1, []Node{withLeases(1, 30), withLeases(2, 30), {ID: 3}}, 0},
		{"not from a node at the mean", []uint64{1, 2, 3}, 2, []Node{withLeases(1, 30), withLeases(2, 10), withLeases(3, 0)}, 0},
	} {
		got, ok := LeaseTarget(tc.replicas, tc.leaseholder, tc.nodes)
		if got != tc.want || ok != (tc.want != 0) {
			t.Errorf("%s: LeaseTarget = %d, %v; want %d", tc.name, got, ok, tc.want)
		}
	}
}
