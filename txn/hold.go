package txn

import (
	"context"
	"sync"
	"time"
)

// defaultHoldLimit bounds how long a commit's background work waits for its client's
// answer: a gateway that never says it answered delays the work, never loses it.
const defaultHoldLimit = 10 * time.Millisecond

type holdKey struct{}

// HoldBackground returns a context under which the background work that commits start
// (marking a staged record committed, resolving intents on other ranges) waits until
// release is called, or a short while (10 ms) has passed. A gateway calls release once it
// has sent the client its answer: on a machine with few cores that work would otherwise
// compete with the answer for the CPU, adding to the latency the client sees, which is what
// parallel commits exist to cut. Release may be called more than once.
func HoldBackground(ctx context.Context) (held context.Context, release func()) {
	ch := make(chan struct{})
	var once sync.Once
	return context.WithValue(ctx, holdKey{}, (<-chan struct{})(ch)), func() { once.Do(func() { close(ch) }) }
}

// holdOf returns the hold of ctx (nil if none): closed once the background work of commits
// made under ctx may start.
func holdOf(ctx context.Context) <-chan struct{} {
	h, _ := ctx.Value(holdKey{}).(<-chan struct{})
	return h
}

// goAfter runs f like goAsync, once hold is released (at once if hold is nil).
func (db *DB) goAfter(hold <-chan struct{}, f func(ctx context.Context)) bool {
	if hold == nil {
		return db.goAsync(f)
	}
	return db.goAsync(func(ctx context.Context) {
		t := time.NewTimer(db.holdLimit)
		defer t.Stop()
		select {
		case <-hold:
		case <-t.C:
		case <-ctx.Done():
		}
		f(ctx)
	})
}
