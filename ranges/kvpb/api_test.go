package kvpb

import (
	"testing"

	"github.com/meridiandb/meridian/hlc"
)

// TestObserveKeepsLowest: a transaction keeps the lowest reading of each node's clock, ignores
// empty observations, and a clone's observations are its own.
func TestObserveKeepsLowest(t *testing.T) {
	at := func(w int64) hlc.Timestamp { return hlc.Timestamp{WallTime: w} }
	var txn Transaction
	txn.Observe(ObservedTimestamp{NodeID: 2, Timestamp: at(20)})
	txn.Observe(ObservedTimestamp{NodeID: 2, Timestamp: at(30)})
	txn.Observe(ObservedTimestamp{NodeID: 1, Timestamp: at(25)})
	txn.Observe(ObservedTimestamp{NodeID: 1, Timestamp: at(15)})
	txn.Observe(ObservedTimestamp{NodeID: 3})
	txn.Observe(ObservedTimestamp{Timestamp: at(1)})
	for node, want := range map[uint64]int64{1: 15, 2: 20} {
		if got, ok := txn.ObservedTimestamp(node); !ok || got != at(want) {
			t.Errorf("n%d: observed %s (%v), want %d", node, got, ok, want)
		}
	}
	if _, ok := txn.ObservedTimestamp(3); ok || len(txn.ObservedTimestamps) != 2 {
		t.Fatalf("empty observations were recorded: %v", txn.ObservedTimestamps)
	}
	c := txn.Clone()
	c.Observe(ObservedTimestamp{NodeID: 2, Timestamp: at(5)})
	if got, _ := txn.ObservedTimestamp(2); got != at(20) {
		t.Fatalf("observing on a clone changed the original: n2 at %s", got)
	}
}
