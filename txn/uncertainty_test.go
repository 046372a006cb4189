package txn_test

import (
	"context"
	"testing"
	"time"

	"github.com/meridiandb/meridian/hlc"
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
