package kvpb

import (
	"fmt"
	"testing"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/mvcc"
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

// TestIgnoreSeqRange: ignored ranges stay sorted and disjoint, merging what overlaps or
// touches; a clone's ranges are its own.
func TestIgnoreSeqRange(t *testing.T) {
	for _, c := range []struct {
		add  [][2]int32
		want string
	}{
		{[][2]int32{{3, 5}}, "[{3 5}]"},
		{[][2]int32{{3, 5}, {5, 3}}, "[{3 5}]"},
		{[][2]int32{{3, 5}, {8, 9}}, "[{3 5} {8 9}]"},
		{[][2]int32{{8, 9}, {3, 5}}, "[{3 5} {8 9}]"},
		{[][2]int32{{3, 5}, {6, 7}}, "[{3 7}]"},
		{[][2]int32{{3, 5}, {8, 9}, {4, 8}}, "[{3 9}]"},
		{[][2]int32{{3, 5}, {8, 9}, {12, 14}, {1, 1}, {6, 6}}, "[{1 1} {3 6} {8 9} {12 14}]"},
		{[][2]int32{{3, 5}, {8, 9}, {1, 20}}, "[{1 20}]"},
		{[][2]int32{{3, 5}, {4, 4}}, "[{3 5}]"},
	} {
		var txn Transaction
		for _, r := range c.add {
			txn.IgnoreSeqRange(mvcc.SeqRange{Start: r[0], End: r[1]})
		}
		if got := fmt.Sprint(txn.IgnoredSeqNums); got != c.want {
			t.Errorf("adding %v: %s, want %s", c.add, got, c.want)
		}
	}
	var txn Transaction
	txn.IgnoreSeqRange(mvcc.SeqRange{Start: 2, End: 3})
	c := txn.Clone()
	c.IgnoreSeqRange(mvcc.SeqRange{Start: 4, End: 4})
	c.IgnoredSeqNums[0].Start = 1
	if fmt.Sprint(txn.IgnoredSeqNums) != "[{2 3}]" {
		t.Fatalf("changing a clone changed the original: %v", txn.IgnoredSeqNums)
	}
}
