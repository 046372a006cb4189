package txn

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// heldSender holds each batch a resolveBatcher sends until the test releases its range.
type heldSender struct {
	sent     chan *kvpb.BatchRequest
	mu       sync.Mutex
	releases map[uint64]chan error
}

func newHeldSender() *heldSender {
	return &heldSender{sent: make(chan *kvpb.BatchRequest, 100), releases: map[uint64]chan error{}}
}

// release answers the batch in flight on the range with err.
func (s *heldSender) release(rangeID uint64, err error) { s.releaseOf(rangeID) <- err }

func (s *heldSender) releaseOf(rangeID uint64) chan error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.releases[rangeID] == nil {
		s.releases[rangeID] = make(chan error)
	}
	return s.releases[rangeID]
}

func (s *heldSender) send(ctx context.Context, ba *kvpb.BatchRequest) error {
	s.sent <- ba
	select {
	case err := <-s.releaseOf(ba.RangeID):
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// resolutions returns n resolutions of keys named after the transaction.
func resolutions(txn string, n int) []kvpb.Request {
	reqs := make([]kvpb.Request, n)
	for i := range reqs {
		reqs[i] = &kvpb.ResolveIntentRequest{Span: kvpb.Span{Key: fmt.Appendf(nil, "%s/%d", txn, i)}, Status: kvpb.Committed}
	}
	return reqs
}

func keysOf(ba *kvpb.BatchRequest) []string {
	var out []string
	for _, r := range ba.Requests {
		out = append(out, string(r.Header().Key))
	}
	return out
}

// waitQueued waits until n calls wait behind the range's batch in flight.
func waitQueued(t *testing.T, b *resolveBatcher, rangeID uint64, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		b.mu.Lock()
		queued := len(b.waiting[rangeID])
		b.mu.Unlock()
		if queued == n {
			return
		}
	}
	t.Fatalf("r%d: %d calls never queued", rangeID, n)
}

func TestResolveBatcherMergesWhileBusy(t *testing.T) {
	ctx := context.Background()
	s := newHeldSender()
	b := newResolveBatcher(s.send, nil)

	results := make(chan error, 10)
	go func() { results <- b.resolve(ctx, 1, resolutions("a", 2)) }()
	first := <-s.sent
	if got, want := keysOf(first), []string{"a/0", "a/1"}; !slices.Equal(got, want) {
		t.Fatalf("first batch %v, want %v: an idle range's resolutions go at once, alone", got, want)
	}
	if first.RangeID != 1 {
		t.Fatalf("batch for r%d, want r1", first.RangeID)
	}

	// While it is in flight, three transactions' resolutions queue for the range; another
	// range is not held up.
	for i, name := range []string{"b", "c", "d"} {
		go func() { results <- b.resolve(ctx, 1, resolutions(name, 1)) }()
		waitQueued(t, b, 1, i+1)
	}
	other := make(chan error, 1)
	go func() { other <- b.resolve(ctx, 2, resolutions("x", 1)) }()
	if got := <-s.sent; got.RangeID != 2 {
		t.Fatalf("r2's resolution waited behind r1's batch: sent %v", keysOf(got))
	}
	s.release(2, nil)
	if err := <-other; err != nil {
		t.Fatal(err)
	}

	// The first batch's answer goes to its caller, and the queued calls go as one batch.
	s.release(1, nil)
	second := <-s.sent
	if got, want := keysOf(second), []string{"b/0", "c/0", "d/0"}; !slices.Equal(got, want) {
		t.Fatalf("second batch %v, want %v", got, want)
	}
	failed := errors.New("range gone")
	s.release(1, failed)
	var ok, bad int
	for range 4 {
		switch err := <-results; {
		case err == nil:
			ok++
		case errors.Is(err, failed):
			bad++
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	if ok != 1 || bad != 3 {
		t.Fatalf("%d calls succeeded and %d got the batch's error, want 1 and 3", ok, bad)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.waiting) != 0 {
		t.Fatalf("ranges left busy: %v", b.waiting)
	}
}

func TestResolveBatcherBoundsBatches(t *testing.T) {
	ctx := context.Background()
	s := newHeldSender()
	b := newResolveBatcher(s.send, nil)

	var wg sync.WaitGroup
	wg.Go(func() { _ = b.resolve(ctx, 1, resolutions("first", 1)) })
	<-s.sent
	// Queued: more than one batch's worth, and a call bigger than a batch by itself.
	sizes := []int{maxResolveBatch / 2, maxResolveBatch / 2, 1, maxResolveBatch + 5}
	for i, n := range sizes {
		wg.Go(func() { _ = b.resolve(ctx, 1, resolutions(fmt.Sprint(i), n)) })
		waitQueued(t, b, 1, i+1)
	}
	var got []int
	for range 3 {
		s.release(1, nil)
		got = append(got, len((<-s.sent).Requests))
	}
	s.release(1, nil)
	wg.Wait()
	if want := []int{maxResolveBatch, 1, maxResolveBatch + 5}; !slices.Equal(got, want) {
		t.Fatalf("batch sizes %v, want %v", got, want)
	}
}

// TestResolveBatcherRiders: a rider goes with the next batch sent to its range, and no other;
// with none sent, it goes by itself after riderWait; with its batch failed, it is sent once
// more, routed by its key.
func TestResolveBatcherRiders(t *testing.T) {
	ctx := context.Background()
	s := newHeldSender()
	b := newResolveBatcher(s.send, func(f func(context.Context)) bool { go f(ctx); return true })
	rider := func(k string) kvpb.Request {
		return &kvpb.RemoveTxnRecordRequest{Txn: mvcc.TxnMeta{Key: []byte(k)}, Status: kvpb.Committed}
	}

	b.ride(1, rider("r1"))
	b.ride(2, rider("r2"))
	done := make(chan error, 1)
	go func() { done <- b.resolve(ctx, 1, resolutions("a", 1)) }()
	if got, want := keysOf(<-s.sent), []string{"a/0", "r1"}; !slices.Equal(got, want) {
		t.Fatalf("batch %v, want %v: the rider goes with the next batch to its range", got, want)
	}
	s.release(1, nil)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	alone := <-s.sent // after riderWait
	if got, want := keysOf(alone), []string{"r2"}; !slices.Equal(got, want) || alone.RangeID != 2 {
		t.Fatalf("batch %v to r%d, want %v to r2", got, alone.RangeID, want)
	}
	s.release(2, nil)

	b.ride(3, rider("r3"))
	go func() { done <- b.resolve(ctx, 3, resolutions("c", 1)) }()
	<-s.sent
	failed := errors.New("range gone")
	s.release(3, failed)
	again := <-s.sent
	if got, want := keysOf(again), []string{"r3"}; !slices.Equal(got, want) || again.RangeID != 0 {
		t.Fatalf("after its batch failed: batch %v to r%d, want %v routed by key (r0)", got, again.RangeID, want)
	}
	s.release(0, nil)
	if err := <-done; !errors.Is(err, failed) {
		t.Fatalf("the call got %v, want its batch's error", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.riders) != 0 {
		t.Fatalf("riders left: %v", b.riders)
	}
}
