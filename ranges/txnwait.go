package ranges

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// pushRecheckInterval is how often a waiting push looks again at what it cannot be told
// about: the pushee's heartbeat going stale, and the transactions waiting for its pusher
// (deadlock detection). A deadlock of two transactions is found within one interval, and
// each further transaction in a cycle adds at most one.
const pushRecheckInterval = 200 * time.Millisecond

// txnWaitQueue holds the pushes that wait for a transaction whose record lives on this range
// to finish. They are woken when the record changes here (a commit, an abort, a push), and
// they know whom their pushers wait for, which is how a deadlock that spans ranges and nodes
// is found: a push from A waiting for B learns, from the leaseholder of A's record, every
// transaction waiting for A; if B is among them, A and B wait for each other.
type txnWaitQueue struct {
	mu      sync.Mutex
	waiting map[mvcc.TxnID]map[*waitingPush]struct{} // by pushee
}

type waitingPush struct {
	pusher, pushee kvpb.TxnRef // pusher.ID is zero for a non-transactional pusher
	// upstream are the waits that end at the pusher, as last learned: through the pusher,
	// they wait for the pushee too.
	upstream []kvpb.WaitEdge
	changed  chan struct{} // signalled when the pushee's record changes
}

func newTxnWaitQueue() *txnWaitQueue {
	return &txnWaitQueue{waiting: make(map[mvcc.TxnID]map[*waitingPush]struct{})}
}

func (q *txnWaitQueue) enqueue(pusher, pushee kvpb.TxnRef) *waitingPush {
	wp := &waitingPush{pusher: pusher, pushee: pushee, changed: make(chan struct{}, 1)}
	q.mu.Lock()
	defer q.mu.Unlock()
	set := q.waiting[pushee.ID]
	if set == nil {
		set = make(map[*waitingPush]struct{})
		q.waiting[pushee.ID] = set
	}
	set[wp] = struct{}{}
	return wp
}

func (q *txnWaitQueue) dequeue(wp *waitingPush) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.waiting[wp.pushee.ID], wp)
	if len(q.waiting[wp.pushee.ID]) == 0 {
		delete(q.waiting, wp.pushee.ID)
	}
}

// recordChanged wakes the pushes waiting for id.
func (q *txnWaitQueue) recordChanged(id mvcc.TxnID) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for wp := range q.waiting[id] {
		select {
		case wp.changed <- struct{}{}:
		default:
		}
	}
}

// waitsInto lists the waits known here that end at id, directly or through others.
func (q *txnWaitQueue) waitsInto(id mvcc.TxnID) []kvpb.WaitEdge {
	q.mu.Lock()
	defer q.mu.Unlock()
	seen := make(map[kvpb.WaitEdge]struct{})
	var out []kvpb.WaitEdge
	add := func(e kvpb.WaitEdge) {
		if _, ok := seen[e]; !ok {
			seen[e] = struct{}{}
			out = append(out, e)
		}
	}
	for wp := range q.waiting[id] {
		if wp.pusher.ID == (mvcc.TxnID{}) {
			continue
		}
		add(kvpb.WaitEdge{Waiter: wp.pusher, Holder: wp.pushee})
		for _, e := range wp.upstream {
			add(e)
		}
	}
	return out
}

func (q *txnWaitQueue) setUpstream(wp *waitingPush, edges []kvpb.WaitEdge) {
	q.mu.Lock()
	defer q.mu.Unlock()
	wp.upstream = edges
}

// push evaluates a push. It answers once the pushee is finalized or pushed as asked (aborted
// if it expired, or if the pusher's priority class allows, or to break a deadlock). A push
// that may not wait answers at once if the pushee is still pending. Either kind waits for a
// STAGING pushee, which is committing, unless the pushee's coordinator has gone quiet: then
// the push recovers its status (see recoverStaging). A waiting push fails if its pusher is
// aborted meanwhile, so that a deadlock's victim learns at once.
func (r *Replica) push(ctx context.Context, ba *kvpb.BatchRequest, push *kvpb.PushTxnRequest) (*kvpb.BatchResponse, error) {
	var wp *waitingPush // registered once the push waits
	defer func() {
		if wp != nil {
			r.txnWait.dequeue(wp)
		}
	}()
	var tick *time.Ticker
	attempt := *push
	attempt.Wait = false
	for {
		now := r.store.cfg.Clock.Now()
		attempt.Now, attempt.ExpireBefore = now, now.Add(-int64(r.store.cfg.TxnLivenessThreshold))
		br, err := r.sendOnce(ctx, &kvpb.BatchRequest{Timestamp: ba.Timestamp, RangeID: ba.RangeID, Requests: []kvpb.Request{&attempt}})
		if err != nil {
			return nil, r.proposalError(err, true) // a push may be repeated
		}
		resp := br.Responses[0].(*kvpb.PushTxnResponse)
		pushee := resp.Pushee
		switch {
		case pushee.Status.Finalized() || !attempt.PushTo.IsEmpty() && pushee.Status == kvpb.Pending && !pushee.WriteTimestamp.Less(attempt.PushTo):
			if wp != nil && push.Pusher != nil {
				// The pusher may have been aborted while it waited (a deadlock's victim):
				// it should hear so now, not at its commit.
				if _, err := r.checkDeadlock(ctx, wp, push.Pusher); err != nil {
					return nil, err
				}
			}
			return br, nil
		case pushee.Status == kvpb.Staging && (attempt.Force || pushee.LastHeartbeat.Forward(pushee.MinTimestamp).Less(attempt.ExpireBefore)):
			rec, err := r.recoverStaging(ctx, pushee)
			if err != nil {
				return nil, err
			}
			resp.Pushee = rec
			return br, nil
		case pushee.Status == kvpb.Pending && !push.Wait:
			return br, nil
		}
		if wp == nil {
			var pusher kvpb.TxnRef
			if push.Pusher != nil {
				pusher = kvpb.TxnRef{ID: push.Pusher.ID, Priority: push.Pusher.Priority}
			}
			wp = r.txnWait.enqueue(pusher, kvpb.TxnRef{ID: push.Pushee.ID, Priority: push.Pushee.Priority})
			tick = time.NewTicker(pushRecheckInterval)
			defer tick.Stop()
			continue // the record may have changed before the push was queued
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wp.changed:
		case <-tick.C:
			if push.Pusher == nil || pushee.Status != kvpb.Pending {
				continue
			}
			abort, err := r.checkDeadlock(ctx, wp, push.Pusher)
			if err != nil {
				return nil, err
			}
			if abort {
				attempt.Force, attempt.Reason = true, kvpb.RetryDeadlock
			}
		}
	}
}

// recoverStaging settles a STAGING transaction whose coordinator went quiet (or that must be
// aborted to break a deadlock). If every in-flight write is in place at the staging
// timestamp, the transaction committed when the last one landed; if one is missing, it is
// made impossible (QueryIntent with Prevent), and the transaction aborts. This replica holds
// the record.
func (r *Replica) recoverStaging(ctx context.Context, rec *kvpb.Transaction) (*kvpb.Transaction, error) {
	rt := &kvpb.RecoverTxnRequest{Txn: rec.TxnMeta, ImplicitlyCommitted: true}
	for _, w := range rec.InFlightWrites {
		q := &kvpb.QueryIntentRequest{Key: w.Key, Txn: rec.TxnMeta, Sequence: w.Sequence, Prevent: true}
		br, err := r.store.route(ctx, &kvpb.BatchRequest{Requests: []kvpb.Request{q}})
		if err != nil {
			return nil, fmt.Errorf("recovering transaction %x: %w", rec.ID[:4], err)
		}
		if qr := br.Responses[0].(*kvpb.QueryIntentResponse); !qr.Found || rec.WriteTimestamp.Less(qr.Timestamp) {
			rt.ImplicitlyCommitted, rt.MissingWrite = false, w.Key
			break
		}
	}
	br, err := r.sendOnce(ctx, &kvpb.BatchRequest{RangeID: r.rangeID, Timestamp: r.store.cfg.Clock.Now(), Requests: []kvpb.Request{rt}})
	if err != nil {
		return nil, r.proposalError(err, true)
	}
	return br.Responses[0].(*kvpb.RecoverTxnResponse).Txn, nil
}

// checkDeadlock asks the leaseholder of the pusher's record which waits end at the pusher.
// If the pushee is among their waiters, pusher and pushee wait for each other: it reports
// whether this push should break the cycle, by aborting the pushee. It fails if the pusher
// has been aborted.
func (r *Replica) checkDeadlock(ctx context.Context, wp *waitingPush, pusher *mvcc.TxnMeta) (bool, error) {
	q := &kvpb.QueryTxnRequest{Txn: *pusher, WaitingTxns: true}
	br, err := r.store.route(ctx, &kvpb.BatchRequest{Requests: []kvpb.Request{q}})
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, nil // asked again at the next tick
	}
	resp := br.Responses[0].(*kvpb.QueryTxnResponse)
	if resp.Txn != nil && resp.Txn.Status == kvpb.Aborted {
		return false, kvpb.AbortedError(resp.Txn)
	}
	r.txnWait.setUpstream(wp, resp.Waiting)
	cycle := waitCycle(wp.pusher, wp.pushee, resp.Waiting)
	return cycle != nil && deadlockVictim(cycle) == wp.pushee, nil
}

// waitCycle finds a chain of waits from pushee to pusher in upstream, which with the
// pusher's own wait for the pushee closes a cycle, and returns the cycle's transactions (nil
// if there is none).
func waitCycle(pusher, pushee kvpb.TxnRef, upstream []kvpb.WaitEdge) []kvpb.TxnRef {
	next := make(map[mvcc.TxnID][]kvpb.TxnRef) // waiter -> holders
	for _, e := range upstream {
		next[e.Waiter.ID] = append(next[e.Waiter.ID], e.Holder)
	}
	prev := map[mvcc.TxnID]kvpb.TxnRef{pushee.ID: pushee}
	queue := []kvpb.TxnRef{pushee}
	for len(queue) > 0 {
		at := queue[0]
		queue = queue[1:]
		if at.ID == pusher.ID {
			cycle := []kvpb.TxnRef{pusher}
			for t := prev[pusher.ID]; t.ID != pushee.ID; t = prev[t.ID] {
				cycle = append(cycle, t)
			}
			return append(cycle, pushee)
		}
		for _, h := range next[at.ID] {
			if _, seen := prev[h.ID]; !seen {
				prev[h.ID] = at
				queue = append(queue, h)
			}
		}
	}
	return nil
}

// deadlockVictim picks the transaction of a cycle to abort: the one of lowest priority, then
// lowest ID. Every push of the cycle sees the same cycle and picks alike, and only the push
// whose pushee is the victim acts, so one transaction is aborted.
func deadlockVictim(cycle []kvpb.TxnRef) kvpb.TxnRef {
	v := cycle[0]
	for _, t := range cycle[1:] {
		if t.Priority < v.Priority || t.Priority == v.Priority && bytes.Compare(t.ID[:], v.ID[:]) < 0 {
			v = t
		}
	}
	return v
}

// canPushWithPriority reports whether a pusher's priority class lets it abort or move the
// pushee without waiting: HIGH beats anything below it, and anything beats LOW.
func canPushWithPriority(pusher, pushee int32) bool {
	return pusher == kvpb.MaxTxnPriority && pushee < pusher || pushee == kvpb.MinTxnPriority && pusher > pushee
}
