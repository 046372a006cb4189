package txn

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridiandb/meridian/ranges/kvpb"
)

// resolveBatcher sends the intent resolutions of finished transactions to their ranges,
// merging those of many transactions: while a batch of resolutions is being replicated on a
// range, the resolutions that arrive for the range wait, and go together in the next batch.
// Under load, many transactions' resolutions then cost one consensus write on a range instead
// of one each; on an idle range a resolution goes at once, with no wait added. (CockroachDB's
// intent resolver batches across transactions too, with a short timer instead.)
//
// Requests that need neither an answer nor haste (the removal of a finished transaction's
// record) ride along: they go in the next batch sent to their range, or by themselves
// after riderWait. Under load they then cost no consensus write of their own.
type resolveBatcher struct {
	send func(ctx context.Context, ba *kvpb.BatchRequest) error
	// async runs f in the background, unless the owner is stopping (DB.goAsync).
	async func(f func(ctx context.Context)) bool

	mu sync.Mutex
	// waiting holds, for each range with a batch in flight, the calls queued behind it.
	waiting map[uint64][]*resolveCall
	// riders holds, for each range, the requests riding with its next batch.
	riders map[uint64][]kvpb.Request

	batches, calls atomic.Int64
}

// riderWait is how long a rider waits for a batch to go with before it goes alone.
const riderWait = time.Second

// resolveCall is one transaction's resolutions on one range, and the outcome of the batch
// that carried them.
type resolveCall struct {
	reqs []kvpb.Request
	err  error
	done chan struct{}
}

func newResolveBatcher(send func(ctx context.Context, ba *kvpb.BatchRequest) error, async func(f func(ctx context.Context)) bool) *resolveBatcher {
	return &resolveBatcher{send: send, async: async, waiting: map[uint64][]*resolveCall{}, riders: map[uint64][]kvpb.Request{}}
}

// ride queues req to go with the next batch sent to range rangeID, or alone within
// riderWait. Its outcome is nobody's concern: a failed rider is sent once more, routed by
// its key, and then forgotten.
func (b *resolveBatcher) ride(rangeID uint64, req kvpb.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.riders[rangeID]) == 0 {
		time.AfterFunc(riderWait, func() {
			b.async(func(ctx context.Context) { _ = b.resolve(ctx, rangeID, nil) })
		})
	}
	b.riders[rangeID] = append(b.riders[rangeID], req)
}

// resolve sends reqs, resolutions of intents on range rangeID, in one batch with the
// resolutions other transactions have waiting for the range, and returns that batch's error.
// A batch carries at most maxResolveBatch requests, besides one call's own if it has more.
//
// The call that finds the range idle sends for it until nothing waits: its own batch, then
// the batches queued meanwhile. So no goroutine is kept per range, and a range's batches go
// one at a time.
func (b *resolveBatcher) resolve(ctx context.Context, rangeID uint64, reqs []kvpb.Request) error {
	c := &resolveCall{reqs: reqs, done: make(chan struct{})}
	b.mu.Lock()
	if queue, busy := b.waiting[rangeID]; busy {
		b.waiting[rangeID] = append(queue, c)
		b.mu.Unlock()
		select {
		case <-c.done:
			return c.err
		case <-ctx.Done():
			// The call stays queued: the sender still sends it, which is harmless.
			return ctx.Err()
		}
	}
	b.waiting[rangeID] = nil // in flight, nothing queued yet
	b.mu.Unlock()

	batch := []*resolveCall{c}
	for len(batch) > 0 {
		b.sendBatch(ctx, rangeID, batch)
		b.mu.Lock()
		batch = b.next(rangeID)
		b.mu.Unlock()
	}
	return c.err
}

// next takes the calls for the range's next batch from its queue, or marks the range idle
// if none wait. b.mu is held.
func (b *resolveBatcher) next(rangeID uint64) []*resolveCall {
	queue := b.waiting[rangeID]
	if len(queue) == 0 {
		delete(b.waiting, rangeID)
		return nil
	}
	n, size := 0, 0
	for n < len(queue) && (n == 0 || size+len(queue[n].reqs) <= maxResolveBatch) {
		size += len(queue[n].reqs)
		n++
	}
	batch := queue[:n:n]
	b.waiting[rangeID] = queue[n:]
	return batch
}

// counts returns how many batches were sent and how many calls they carried.
func (b *resolveBatcher) counts() (batches, calls int64) {
	return b.batches.Load(), b.calls.Load()
}

// sendBatch sends the calls' requests as one batch to the range and gives each call its
// outcome.
func (b *resolveBatcher) sendBatch(ctx context.Context, rangeID uint64, calls []*resolveCall) {
	b.mu.Lock()
	riders := b.riders[rangeID]
	delete(b.riders, rangeID)
	b.mu.Unlock()
	reqs := calls[0].reqs
	if len(calls) > 1 || len(riders) > 0 {
		reqs = nil
		for _, c := range calls {
			reqs = append(reqs, c.reqs...)
		}
		reqs = append(reqs, riders...)
	}
	var err error
	if len(reqs) > 0 {
		b.batches.Add(1)
		for _, c := range calls {
			if len(c.reqs) > 0 { // not a flush of riders
				b.calls.Add(1)
			}
		}
		err = b.send(ctx, &kvpb.BatchRequest{RangeID: rangeID, Requests: reqs})
	}
	for _, c := range calls {
		c.err = err
		close(c.done)
	}
	if err != nil {
		// The range changed shape since the riders were queued for it, most likely.
		for _, r := range riders {
			_ = b.send(ctx, &kvpb.BatchRequest{Requests: []kvpb.Request{r}})
		}
	}
}
