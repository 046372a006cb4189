package ranges

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// lockTable queues, per key, the writers that found another transaction's intent there. It
// lives on the leaseholder and holds a key only while someone waits for it: the intents
// themselves are the locks and are replicated; the table only orders the waiting.
//
// While the lock is held, every waiter pushes its holder: a push that waits at the holder's
// record until the holder finishes (see Replica.push), where deadlock detection sees who
// waits for whom. When the holder's intent is resolved, the first waiter in line gets a
// reservation: it evaluates next, and the rest stay queued until it has, behind its own new
// intent if it wrote one. A newcomer writing a key that has a queue joins its tail instead of
// slipping past (queuedAhead). Nothing polls: waiters sleep on channels until a resolution
// here or the end of a push wakes them.
type lockTable struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	key      []byte
	holder   mvcc.TxnMeta // whose intent was last seen on the key
	held     bool         // the intent has not been seen resolved
	reserved *lockWaiter  // let through after a release; evaluating now
	queue    []*lockWaiter
}

// lockWaiter is one request's place in the lock table.
type lockWaiter struct {
	txn  mvcc.TxnID // zero for a non-transactional request
	key  string     // the key it waits for or has reserved
	wake chan struct{}
}

func newLockTable() *lockTable { return &lockTable{locks: make(map[string]*keyLock)} }

// wakeAll signals every waiter of l that the lock's state changed. Callers hold mu.
func (l *keyLock) wakeAll() {
	for _, w := range l.queue {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// enqueue adds a waiter for key to the tail of its queue. holder, when known, is the
// transaction whose intent the waiter found.
func (lt *lockTable) enqueue(key []byte, holder *mvcc.TxnMeta, txn mvcc.TxnID) *lockWaiter {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	l := lt.locks[string(key)]
	if l == nil {
		l = &keyLock{key: key}
		lt.locks[string(key)] = l
	}
	if holder != nil {
		l.holder, l.held = *holder, true
	}
	w := &lockWaiter{txn: txn, key: string(key), wake: make(chan struct{}, 1)}
	l.queue = append(l.queue, w)
	return w
}

// turn describes what a queued waiter should do next.
type turn struct {
	proceed bool         // evaluate now (the waiter holds the reservation)
	push    bool         // the lock is held: push its holder
	holder  mvcc.TxnMeta // the lock's holder
}

// next decides w's turn. The waiter at the head of the queue of a free, unreserved lock gets
// the reservation; a waiter whose own transaction holds the lock goes at once. While the
// lock is held, every other waiter pushes its holder: the push waits
// at the holder's record, where deadlock detection can see who waits for whom. Otherwise
// (another waiter holds the reservation, or is first in line) w waits.
func (lt *lockTable) next(w *lockWaiter) turn {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	l := lt.locks[w.key]
	if l == nil {
		return turn{}
	}
	if l.held && l.holder.ID != w.txn {
		return turn{push: true, holder: l.holder}
	}
	if l.held && w.txn != (mvcc.TxnID{}) {
		// Its own transaction's lock: nothing to wait for, and the waiters queued ahead
		// wait for this very transaction.
		if i := slices.Index(l.queue, w); i >= 0 {
			l.queue = slices.Delete(l.queue, i, i+1)
		}
		return turn{proceed: true}
	}
	if len(l.queue) == 0 || l.queue[0] != w || l.reserved != nil {
		return turn{holder: l.holder}
	}
	l.queue = l.queue[1:]
	l.reserved = w
	return turn{proceed: true}
}

// leave takes w out of the table after it has evaluated (or given up). If w held the
// reservation and its batch left an intent of its transaction on the key (wrote), the lock is
// now held by that transaction; the queue behind it is woken either way.
func (lt *lockTable) leave(w *lockWaiter, wrote *mvcc.TxnMeta) {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	l := lt.locks[w.key]
	if l == nil {
		return
	}
	if l.reserved == w {
		l.reserved = nil
		if wrote != nil {
			l.holder, l.held = *wrote, true
		}
	} else if i := slices.Index(l.queue, w); i >= 0 {
		l.queue = slices.Delete(l.queue, i, i+1)
	}
	if len(l.queue) == 0 && l.reserved == nil {
		delete(lt.locks, w.key)
		return
	}
	l.wakeAll()
}

// released records that txn's intents in sp are resolved, waking those queued behind them.
func (lt *lockTable) released(sp kvpb.Span, txn mvcc.TxnID) {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	if len(sp.EndKey) == 0 {
		if l := lt.locks[string(sp.Key)]; l != nil && l.held && l.holder.ID == txn {
			l.held = false
			l.wakeAll()
		}
		return
	}
	for _, l := range lt.locks {
		if l.held && l.holder.ID == txn && sp.Contains(l.key) {
			l.held = false
			l.wakeAll()
		}
	}
}

// queuedAhead reports whether a newcomer writing key must queue: others wait for the key,
// or one of them holds its reservation.
func (lt *lockTable) queuedAhead(key []byte, txn mvcc.TxnID) bool {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	l := lt.locks[string(key)]
	if l == nil || l.held && l.holder.ID == txn && txn != (mvcc.TxnID{}) {
		return false
	}
	return len(l.queue) > 0 || l.reserved != nil && l.reserved.txn != txn
}

// waitForLock queues ba behind the lock on key (whose holder, if the caller found its intent,
// is holder) and returns once ba holds the key's reservation: it should evaluate again. The
// returned waiter must be passed to leave after that evaluation. It fails when the context
// ends, when the lock timeout passes (LockNotAvailableError), or when a push it makes fails
// (the transaction was aborted, by a deadlock for example).
func (r *Replica) waitForLock(ctx context.Context, ba *kvpb.BatchRequest, key []byte, holder *mvcc.TxnMeta, deadline time.Time) (*lockWaiter, error) {
	txnID := txnIDOf(ba)
	w := r.locks.enqueue(key, holder, txnID)
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		timeout = t.C
	}
	for {
		tn := r.locks.next(w)
		if tn.proceed {
			return w, nil
		}
		if tn.push {
			if err := r.pushLockHolder(ctx, ba, key, tn.holder, w, timeout); err != nil {
				r.locks.leave(w, nil)
				if err == errLockTimeout {
					return nil, lockNotAvailable(ba, key, tn.holder)
				}
				return nil, blockedOn(err, key, tn.holder)
			}
			continue
		}
		select {
		case <-w.wake:
		case <-timeout:
			r.locks.leave(w, nil)
			return nil, lockNotAvailable(ba, key, tn.holder)
		case <-ctx.Done():
			r.locks.leave(w, nil)
			return nil, ctx.Err()
		}
	}
}

func lockNotAvailable(ba *kvpb.BatchRequest, key []byte, holder mvcc.TxnMeta) error {
	return &kvpb.LockNotAvailableError{Key: key, Holder: holder.ID, Timeout: ba.LockTimeout, HolderTimestamp: holder.WriteTimestamp}
}

// blockedOn adds to a deadlock abort that ends a wait for holder's lock on key what only the
// wait knows: the key the victim was blocked on, and by whom (its record names the lock it
// held instead). Other errors pass unchanged.
func blockedOn(err error, key []byte, holder mvcc.TxnMeta) error {
	var re *kvpb.TransactionRetryError
	if !errors.As(err, &re) || re.Reason != kvpb.RetryDeadlock {
		return err
	}
	named := *re
	named.Key, named.Waiting = key, true
	named.Conflicting = &kvpb.ConflictingTxn{ID: holder.ID, Timestamp: holder.WriteTimestamp}
	return &named
}

type lockTimeoutError struct{}

func (lockTimeoutError) Error() string { return "lock timeout" }

var errLockTimeout error = lockTimeoutError{}

// pushLockHolder pushes the holder of the lock w waits for, and returns when the holder has
// finished (and its intent on key is resolved), or the lock's state changed.
func (r *Replica) pushLockHolder(ctx context.Context, ba *kvpb.BatchRequest, key []byte, holder mvcc.TxnMeta, w *lockWaiter, timeout <-chan time.Time) error {
	// The intent may have been resolved between its discovery and the waiter's arrival in
	// the queue; there is then nothing to push (and a finished holder's record may be
	// gone, which would make it look alive until it expired).
	if in, err := mvcc.IntentOf(r.store.db, key, holder.ID); err != nil {
		return err
	} else if in == nil {
		r.locks.released(kvpb.Span{Key: key}, holder.ID)
		return nil
	}
	pctx, cancel := context.WithCancel(ctx)
	push := &kvpb.PushTxnRequest{Pushee: holder, Wait: true, Key: key}
	if ba.Txn != nil {
		push.Pusher = &ba.Txn.TxnMeta
	}
	type result struct {
		pushee *kvpb.Transaction
		err    error
	}
	done := make(chan result, 1)
	go func() {
		br, err := r.store.route(pctx, &kvpb.BatchRequest{Requests: []kvpb.Request{push}})
		if err != nil {
			done <- result{err: err}
			return
		}
		done <- result{pushee: br.Responses[0].(*kvpb.PushTxnResponse).Pushee}
	}()
	finished := false
	defer func() {
		// The push is this call's: it ends before the call does.
		cancel()
		if !finished {
			<-done
		}
	}()
	select {
	case res := <-done:
		finished = true
		if res.err != nil {
			return res.err
		}
		if !res.pushee.Status.Finalized() {
			return nil // look again
		}
		// The waiter's evaluation resolves the intent in its own batch (finalizedTxns);
		// if it goes elsewhere (the lease moved), whoever meets the intent next pushes
		// again and learns the same.
		r.finalized.add(res.pushee)
		r.locks.released(kvpb.Span{Key: key}, holder.ID)
		return nil
	case <-w.wake:
		return nil // resolved here by its own transaction, or the queue changed
	case <-timeout:
		return errLockTimeout
	case <-ctx.Done():
		return ctx.Err()
	}
}
