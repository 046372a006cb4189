package ranges

import (
	"context"
	"testing"
	"time"

	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// TestWaiterResolvesFinishedHolderInline: a write that waited for a lock whose holder has
// committed, but whose coordinator has not yet resolved its intent, resolves the intent in
// its own batch: one round of consensus on the range, not one to resolve and one to write.
// The holder's value stays, committed, below the waiter's.
func TestWaiterResolvesFinishedHolderInline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	// The holder's record lives on another range than the key, as a coordinator's commit
	// leaves a remote intent for its cleanup.
	mustSend(t, s, 1, &kvpb.AdminSplitRequest{SplitKey: []byte("\x10m"), NewRangeID: 2})
	key := []byte("\x10k")
	holder, waiter := pendingTxn(s.cfg.Clock, 1, []byte("\x10z")), pendingTxn(s.cfg.Clock, 2, []byte("\x10y"))
	holder.Sequence = 1
	wrote, err := s.Send(ctx, &kvpb.BatchRequest{Txn: holder.Clone(), Requests: []kvpb.Request{
		&kvpb.PutRequest{Key: key, Value: []byte("holder"), Sequence: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	// The write may land above the transaction's timestamp (a new store's clock), and the
	// transaction then commits there, as a coordinator does.
	holder.WriteTimestamp = wrote.Txn.WriteTimestamp
	holder.ReadTimestamp = holder.WriteTimestamp
	r1 := s.Replica(1)
	done := make(chan error, 1)
	go func() {
		_, err := s.Send(ctx, &kvpb.BatchRequest{Txn: waiter.Clone(), Requests: []kvpb.Request{
			&kvpb.PutRequest{Key: key, Value: []byte("waiter"), Sequence: 1}}})
		done <- err
	}()
	awaitQueued(t, r1, key, done)
	before := r1.AppliedIndex()
	commit := holder.Clone()
	commit.LockSpans = []kvpb.Span{{Key: key}}
	br, err := s.Send(ctx, &kvpb.BatchRequest{Txn: commit, Requests: []kvpb.Request{
		&kvpb.EndTxnRequest{Commit: true, LockSpans: []kvpb.Span{{Key: key}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if un := br.Responses[0].(*kvpb.EndTxnResponse).Unresolved; len(un) != 1 {
		t.Fatalf("the commit left %v for its coordinator, want the key", un)
	}
	if err := <-done; err != nil {
		t.Fatalf("the waiter: %v", err)
	}
	if rounds := r1.AppliedIndex() - before; rounds != 1 {
		t.Errorf("the waiter took %d rounds of consensus on its range, want 1", rounds)
	}
	kv, err := mvcc.Get(s.DB(), key, holder.WriteTimestamp, mvcc.ReadOptions{})
	if err != nil || kv == nil || string(kv.Value) != "holder" {
		t.Fatalf("the holder's committed value: %v, %v", kv, err)
	}
}
