package txn_test

import (
	"context"
	"testing"
	"time"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/txn"
)

// TestObservedTimestamp: a value written on a node after the transaction observed that
// node's clock was written after the transaction began, wherever its timestamp lands: even
// inside the transaction's uncertainty interval it neither moves nor restarts the
// transaction, which reads below it. (Values written before the observation are uncertain:
// TestUncertaintyRefresh.)
func TestObservedTimestamp(t *testing.T) {
	db, _ := newDB(t)
	db.NodeID = 99 // the transactions' gateway is elsewhere: only answers observe node 1
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// For a clock offset after it takes a lease, a replica takes no observation of its node
	// below that: values written under the previous lease are uncertain meanwhile.
	time.Sleep(600 * time.Millisecond)

	reader := db.NewTxn()
	start := reader.ReadTimestamp()
	if got := get(t, ctx, reader, "other"); got != "<nil>" { // observes node 1
		t.Fatal(got)
	}
	writer := db.NewTxn()
	mustPut(t, ctx, writer, "k", "v")
	if err := writer.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if wrote := writer.ReadTimestamp(); !start.Less(wrote) || start.Add(int64(hlc.DefaultMaxOffset)).Less(wrote) {
		t.Fatalf("setup: the write at %s is not within the reader's uncertainty interval above %s", wrote, start)
	}
	if got := get(t, ctx, reader, "k"); got != "<nil>" {
		t.Fatalf("the reader saw a value written after it observed the node: %s", got)
	}
	if ts := reader.ReadTimestamp(); ts != start || reader.Epoch() != 0 {
		t.Fatalf("the reader moved from %s to %s (epoch %d) for a value written after it observed the node", start, ts, reader.Epoch())
	}
	if err := reader.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestObservationsSurviveRestart: the coordinator starts with its gateway's clock observed at
// the transaction's start, adds the first (lowest) reading of each node that serves it, and
// keeps them all when the transaction restarts: they were taken after it first began.
func TestObservationsSurviveRestart(t *testing.T) {
	db, _ := newDB(t)
	db.NodeID = 5
	ctx := context.Background()
	tx := db.NewTxn()
	start := tx.ReadTimestamp()
	if obs, ok := txn.Observed(tx, 5); !ok || obs != start {
		t.Fatalf("the gateway's observation is %s (%v), want the start %s", obs, ok, start)
	}
	if _, ok := txn.Observed(tx, 1); ok {
		t.Fatal("node 1 observed before it served anything")
	}
	get(t, ctx, tx, "a")
	first, ok := txn.Observed(tx, 1)
	if !ok || first.Less(start) {
		t.Fatalf("after a read served by node 1 its observation is %s (%v), want one at or above %s", first, ok, start)
	}
	get(t, ctx, tx, "b")
	if obs, _ := txn.Observed(tx, 1); obs != first {
		t.Fatalf("a later reading replaced the first: %s, then %s", first, obs)
	}
	if err := tx.Restart(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if !start.Less(tx.ReadTimestamp()) {
		t.Fatalf("the restarted transaction reads at %s, not after %s", tx.ReadTimestamp(), start)
	}
	for node, want := range map[uint64]hlc.Timestamp{5: start, 1: first} {
		if obs, ok := txn.Observed(tx, node); !ok || obs != want {
			t.Errorf("after the restart n%d's observation is %s (%v), want %s", node, obs, ok, want)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}
