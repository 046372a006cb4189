package register

import (
	"slices"
	"sync"
	"time"
)

// A Recorder collects the history of operations issued by concurrent clients.
// The zero value is ready to use, and its methods, as well as those of the
// [Pending] handles it returns, may be called from multiple goroutines.
type Recorder struct {
	mu     sync.Mutex
	ops    []Op
	status []status
}

type status uint8

const (
	inFlight status = iota
	finished
	dropped
)

// A Pending is an operation that has been called but whose outcome has not
// been recorded yet. Exactly one of End, Fail or Ambiguous must be called on
// it; calling a second one panics.
type Pending struct {
	r *Recorder
	i int
}

// Begin records the call of an operation and returns a handle through which
// its outcome is recorded. value is the value written by a Write or the new
// value of a CAS, and expect the value a CAS expects; both are ignored where
// they do not apply. Call Begin just before sending the request: the call
// time must not be later than the moment the operation could take effect.
func (r *Recorder) Begin(client int, key string, kind OpKind, value, expect int) *Pending {
	op := Op{Client: client, Key: key, Kind: kind, Value: value, Expect: expect, Call: time.Now()}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, op)
	r.status = append(r.status, inFlight)
	return &Pending{r: r, i: len(r.ops) - 1}
}

// End records that the operation completed. result is the value returned by
// a Read; ok reports whether a CAS swapped, and must be true for a Read or a
// Write, since an operation that did not complete should end with Fail or
// Ambiguous instead. Call End as soon as the response arrives: the return
// time must not be earlier than the moment the operation took effect.
func (p *Pending) End(result int, ok bool) {
	now := time.Now()
	p.finish(finished, func(op *Op) {
		op.Result = result
		op.OK = ok
		op.Return = now
	})
}

// Fail records that the operation certainly did not take effect, for
// instance because the transaction was rolled back. It is left out of the
// history.
func (p *Pending) Fail() {
	p.finish(dropped, func(*Op) {})
}

// Ambiguous records that the outcome of the operation is unknown: it may have
// taken effect, at any moment after its call, or not at all. A timeout or a
// connection lost while waiting for the response is ambiguous.
func (p *Pending) Ambiguous() {
	now := time.Now()
	p.finish(finished, func(op *Op) {
		op.Unknown = true
		// Only for people reading the history; Check ignores it.
		op.Return = now
	})
}

func (p *Pending) finish(s status, set func(*Op)) {
	r := p.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.status[p.i] != inFlight {
		panic("register: operation finished twice")
	}
	r.status[p.i] = s
	set(&r.ops[p.i])
}

// History returns the operations recorded so far, ordered by call time.
// Operations still in flight are included as ambiguous, because whoever asks
// for the history has stopped waiting for them.
func (r *Recorder) History() []Op {
	r.mu.Lock()
	h := make([]Op, 0, len(r.ops))
	for i, op := range r.ops {
		switch r.status[i] {
		case inFlight:
			op.Unknown = true
		case dropped:
			continue
		}
		h = append(h, op)
	}
	r.mu.Unlock()
	// Begin reads the clock before taking the lock, so the recording order
	// can differ slightly from call order.
	slices.SortStableFunc(h, func(a, b Op) int { return a.Call.Compare(b.Call) })
	return h
}
