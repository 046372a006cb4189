package ranges

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/meridiandb/meridian/ranges/kvpb"
)

// TestExpiredLeaseIsNotServed: a leader whose lease ran out (as after a stall: a loaded
// machine, a long pause) serves nothing until a quorum confirms it still leads, even while
// Raft still calls it leader. Here its followers are gone: it must refuse, not answer from
// what may be stale state (TPC-C saw a stalled leader lock and return a row the new leader
// had already changed).
func TestExpiredLeaseIsNotServed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := newTestCluster(t, 3)
	r1 := c.replicateFirstRange(ctx)
	if err := c.put(ctx, "\x10k", "v"); err != nil {
		t.Fatal(err)
	}
	if err := r1.checkLeaseholder(ctx); err != nil {
		t.Fatalf("n1 does not lead r1: %v", err)
	}
	get := &kvpb.BatchRequest{Requests: []kvpb.Request{&kvpb.GetRequest{Key: []byte("\x10k")}}}
	if _, err := c.nodes[1].store.Send(ctx, get); err != nil {
		t.Fatalf("a read with a valid lease: %v", err)
	}

	c.stop(2)
	c.stop(3)
	r1.leaseUntil.Store(0)
	_, err := c.nodes[1].store.Send(ctx, get)
	var nlhe *kvpb.NotLeaseHolderError
	if !errors.As(err, &nlhe) {
		t.Fatalf("a leader with an expired lease and no quorum answered a read: %v", err)
	}
}
