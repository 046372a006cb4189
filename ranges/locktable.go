package ranges

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/google/btree"

	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// lockTable holds, per key, the locks of the range that live only on its leaseholder, and
// queues the writers that found a key locked by another transaction.
//
// Two kinds of lock are held here. A transaction's intent is a replicated lock: the table
// only learns of it when someone finds it, and only orders the waiting for it. A locking
// read (FOR UPDATE, an UPDATE's read of its rows) takes an unreplicated lock: it exists only
// in this table, costs no round of consensus, and lasts until its transaction's intents
// here are resolved (the coordinator lists the locked keys among its lock spans), or until
// the lease moves or a split moves its key to the new range, when it is lost. Losing one
// loses no correctness: the locked rows are among the transaction's reads, which the timestamp cache protects and a refresh checks;
// a lost lock only means that a conflicting writer may make the transaction restart
// instead of queueing behind it. Plain reads never wait for an unreplicated lock.
//
// While a lock is held, every waiter pushes its holder: a push that waits at the holder's
// record until the holder finishes (see Replica.push), where deadlock detection sees who
// waits for whom. When the holder's lock is released, the first waiter in line gets a
// reservation: it evaluates next, and the rest stay queued until it has, behind its own new
// lock if it took one. A newcomer writing a key that has a queue joins its tail instead of
// slipping past (queuedAhead). Nothing polls: waiters sleep on channels until a resolution
// here or the end of a push wakes them.
type lockTable struct {
	mu    sync.Mutex
	locks map[string]*keyLock
	// ordered holds the entries of locks in key order, for the operations on a span (a
	// scan's check, a ranged resolution, a split), which visit only the keys in it.
	ordered *btree.BTreeG[*keyLock]
	// from and to are the pivots of a walk through ordered (kept here so that a walk
	// allocates none).
	from, to keyLock
	// unreplicated counts the keys that hold an unreplicated lock (bounded by
	// maxUnreplicatedLocks).
	unreplicated int
}

// maxUnreplicatedLocks bounds the unreplicated locks a range holds. Past it, locking reads
// take none (they are an optimization: see lockTable), so that the locks of transactions
// whose coordinators vanished without releasing them cannot grow without bound.
const maxUnreplicatedLocks = 1 << 16

type keyLock struct {
	key    []byte
	holder mvcc.TxnMeta // whose lock was last seen on the key
	held   bool         // the lock has not been seen released
	// unreplicated: holder holds an unreplicated lock on the key (and held is true). The
	// entry then stays while nobody waits: it is the lock.
	unreplicated bool
	reserved     *lockWaiter // let through after a release; evaluating now
	queue        []*lockWaiter
}

// lockWaiter is one request's place in the lock table.
type lockWaiter struct {
	txn  mvcc.TxnID // zero for a non-transactional request
	key  string     // the key it waits for or has reserved
	wake chan struct{}
}

func newLockTable() *lockTable {
	return &lockTable{
		locks:   make(map[string]*keyLock),
		ordered: btree.NewG(16, func(a, b *keyLock) bool { return bytes.Compare(a.key, b.key) < 0 }),
	}
}

// entry returns key's entry, made if there is none. Callers hold mu.
func (lt *lockTable) entry(key []byte) *keyLock {
	l := lt.locks[string(key)]
	if l == nil {
		// A copy: the key orders the entry in ordered, and the caller's slice may be reused.
		l = &keyLock{key: bytes.Clone(key)}
		lt.locks[string(key)] = l
		lt.ordered.ReplaceOrInsert(l)
	}
	return l
}

// visit calls f with the entries of the keys in sp, in key order, until f returns false. f
// must not change the table. Callers hold mu.
func (lt *lockTable) visit(sp kvpb.Span, f func(*keyLock) bool) {
	if len(sp.EndKey) == 0 {
		if l := lt.locks[string(sp.Key)]; l != nil {
			f(l)
		}
		return
	}
	lt.from.key, lt.to.key = sp.Key, sp.EndKey
	lt.ordered.AscendRange(&lt.from, &lt.to, f)
	lt.from.key, lt.to.key = nil, nil
}

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
	l := lt.entry(key)
	if holder != nil && !l.unreplicated {
		// (An unreplicated lock in the table is the truth about the key: the holder the
		// caller found may have released the key to it since.)
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
// reservation and its batch locked the key for its transaction (wrote), the lock is now held
// by that transaction; the queue behind it is woken either way.
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
	if !lt.dropIfIdle(l) {
		l.wakeAll()
	}
}

// dropIfIdle forgets l if it holds nothing the table must remember: no waiter, no
// reservation, no unreplicated lock. Callers hold mu.
func (lt *lockTable) dropIfIdle(l *keyLock) bool {
	if len(l.queue) > 0 || l.reserved != nil || l.unreplicated {
		return false
	}
	delete(lt.locks, string(l.key))
	lt.ordered.Delete(l)
	return true
}

// acquire gives txn an unreplicated lock on each of keys, which the caller (evaluating
// txn's locking read under its latches) has checked no other transaction holds.
func (lt *lockTable) acquire(keys [][]byte, txn mvcc.TxnMeta) {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	for _, k := range keys {
		l := lt.locks[string(k)]
		if l == nil || !l.unreplicated {
			if lt.unreplicated >= maxUnreplicatedLocks {
				return
			}
			l = lt.entry(k)
			lt.unreplicated++
		}
		l.holder, l.held, l.unreplicated = txn, true, true
	}
}

// heldBy returns the transaction other than txn holding an unreplicated lock on a key of
// sp, if any.
func (lt *lockTable) heldBy(sp kvpb.Span, txn mvcc.TxnID) (key []byte, holder mvcc.TxnMeta, ok bool) {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	other := func(l *keyLock) bool {
		return l.unreplicated && (l.holder.ID != txn || txn == mvcc.TxnID{})
	}
	if lt.unreplicated == 0 {
		return nil, mvcc.TxnMeta{}, false
	}
	lt.visit(sp, func(l *keyLock) bool {
		if other(l) {
			key, holder, ok = l.key, l.holder, true
		}
		return !ok
	})
	return key, holder, ok
}

// HoldsUnreplicatedLocks reports whether the range's lock table holds locks that live only
// on this leaseholder, which a lease transfer would lose.
func (r *Replica) HoldsUnreplicatedLocks() bool {
	r.locks.mu.Lock()
	defer r.locks.mu.Unlock()
	return r.locks.unreplicated > 0
}

// unreplicatedHeld reports whether txn holds an unreplicated lock on key.
func (lt *lockTable) unreplicatedHeld(key []byte, txn mvcc.TxnID) bool {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	l := lt.locks[string(key)]
	return l != nil && l.unreplicated && l.holder.ID == txn
}

// dropUnreplicated forgets every unreplicated lock, for a new lease: whatever the table
// held under an earlier lease may have been overtaken under another leaseholder's.
func (lt *lockTable) dropUnreplicated() {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	for _, l := range lt.locks {
		if l.unreplicated {
			lt.unlock(l)
		}
	}
}

// unlock marks l free, forgetting its unreplicated lock if it held one, and drops the
// entry or wakes its waiters. Callers hold mu.
func (lt *lockTable) unlock(l *keyLock) {
	if l.unreplicated {
		l.unreplicated = false
		lt.unreplicated--
	}
	l.held = false
	if !lt.dropIfIdle(l) {
		l.wakeAll()
	}
}

// forgetOutside forgets the locks of keys outside desc, which the range no longer holds (a
// split moved them to the new range): nothing would release them here, and an unreplicated
// one is lost, as at a lease change (the new range starts with none). The waiters queued
// for such keys are woken, to evaluate and be told that the key is elsewhere.
func (lt *lockTable) forgetOutside(desc *kvpb.RangeDescriptor) {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	var outside []*keyLock
	collect := func(l *keyLock) bool {
		outside = append(outside, l)
		return true
	}
	lt.from.key, lt.to.key = desc.StartKey, desc.EndKey
	lt.ordered.AscendLessThan(&lt.from, collect)
	lt.ordered.AscendGreaterOrEqual(&lt.to, collect)
	lt.from.key, lt.to.key = nil, nil
	for _, l := range outside {
		lt.unlock(l)
	}
}

// released records that txn's locks in sp are released (its intents resolved), waking
// those queued behind them.
func (lt *lockTable) released(sp kvpb.Span, txn mvcc.TxnID) {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	var mine []*keyLock
	lt.visit(sp, func(l *keyLock) bool {
		if l.held && l.holder.ID == txn {
			mine = append(mine, l)
		}
		return true
	})
	for _, l := range mine {
		lt.unlock(l)
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
	r.store.stats.lockPushes.Add(1)
	// The intent may have been resolved between its discovery and the waiter's arrival in
	// the queue; there is then nothing to push (and a finished holder's record may be
	// gone, which would make it look alive until it expired). An unreplicated lock has no
	// intent to look for: the table itself says whether it is still held.
	if !r.locks.unreplicatedHeld(key, holder.ID) {
		if in, err := mvcc.IntentOf(r.store.db, key, holder.ID); err != nil {
			return err
		} else if in == nil {
			r.locks.released(kvpb.Span{Key: key}, holder.ID)
			return nil
		}
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
