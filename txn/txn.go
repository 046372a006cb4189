package txn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/kvpb"
)

// ErrTxnDone is returned when a committed or rolled-back transaction is used again.
var ErrTxnDone = errors.New("transaction is already finished")

// maxRefreshSpans bounds the read spans remembered for refreshes; past it they are merged
// into one covering span, which may make a refresh fail more often but never wrongly succeed.
const maxRefreshSpans = 4096

// Txn is one transaction. It is not safe for concurrent use by several goroutines except that
// its heartbeat runs alongside.
type Txn struct {
	db *DB

	mu    sync.Mutex // guards proto against the heartbeat goroutine
	proto *kvpb.Transaction

	lockSpans    []kvpb.Span
	refreshSpans []kvpb.Span
	done         bool
	readOnly     bool // reads at a fixed historical timestamp
	restarts     int  // how many times Restart ran; paces the next one
	priority     UserPriority
	lockTimeout  time.Duration
	sequence     int32 // the last write request's number (see numberWrites)
	pipelining   bool  // writes go without waiting for consensus (see pipeline.go)
	buffering    bool  // blind writes wait for the commit (see buffer.go)
	// buffered are the blind writes not sent yet, of distinct keys, in the order written.
	buffered []kvpb.Request
	// used: the transaction has sent requests in this attempt; a savepoint taken before
	// that is its initial savepoint (see Savepoint).
	used bool
	// restartCause is the retryable error the transaction failed with, nil unless it must
	// restart before it can go on (see RollbackToSavepoint).
	restartCause error
	// inFlight holds the pipelined writes not yet proven: the last sequence number sent to
	// each key. Guarded by mu (writes of one batch go out concurrently).
	inFlight map[string]int32

	stopHeartbeat context.CancelFunc
	// heartbeatSent: a heartbeat went out in this attempt, and may have written the record.
	heartbeatSent atomic.Bool
	onFinish      []func(context.Context) // see OnFinish
}

// Epoch counts the transaction's restarts: each restart is a new attempt whose reads start
// over.
func (t *Txn) Epoch() int { return t.restarts }

// ReadTimestamp is the timestamp the transaction reads at.
func (t *Txn) ReadTimestamp() hlc.Timestamp {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.proto.ReadTimestamp
}

// SetFixedTimestamp pins a transaction that has not yet run anything to read at ts; it may
// then only read (AS OF SYSTEM TIME).
func (t *Txn) SetFixedTimestamp(ts hlc.Timestamp) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.proto.ReadTimestamp, t.proto.WriteTimestamp, t.proto.MinTimestamp = ts, ts, ts
	t.proto.GlobalUncertaintyLimit = ts
	t.readOnly = true
}

// AssumeRead records key as read at the transaction's read timestamp, its value there
// known by other means (a schema lease): if the transaction moves to a later timestamp,
// its refresh fails should key have been written in between.
func (t *Txn) AssumeRead(key []byte) {
	t.refreshSpans = append(t.refreshSpans, kvpb.Span{Key: key})
}

// ForwardTimestamp moves the transaction's write timestamp up to ts; it commits there,
// refreshing its reads first.
func (t *Txn) ForwardTimestamp(ts hlc.Timestamp) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.proto.WriteTimestamp = t.proto.WriteTimestamp.Forward(ts)
}

// ID is the transaction's ID.
func (t *Txn) ID() [16]byte { return t.proto.ID }

// HasWrites reports whether the transaction has written anything.
func (t *Txn) HasWrites() bool { return len(t.lockSpans) > 0 || len(t.buffered) > 0 }

func (t *Txn) snapshot() *kvpb.Transaction {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.proto.Clone()
}

// Run sends the batch's requests and fills b.Results.
func (t *Txn) Run(ctx context.Context, b *Batch) error {
	if t.done {
		return ErrTxnDone
	}
	if t.readOnly && b.hasWrites() {
		return ErrReadOnly
	}
	t.used = true
	canBuffer := t.buffering && bufferable(b)
	n := 0
	if canBuffer {
		n = len(b.reqs)
	}
	if err := t.flushFor(ctx, b.reqs, n); err != nil {
		return t.noteRestart(err)
	}
	if canBuffer {
		t.buffer(b)
		return nil
	}
	return t.noteRestart(t.send(ctx, b, false))
}

// noteRestart remembers a retryable error the transaction failed with, and returns err.
func (t *Txn) noteRestart(err error) error {
	if IsRetryable(err) {
		if t.restartCause == nil {
			t.db.stats.restarts.Add(1)
		}
		t.restartCause = err
	}
	return err
}

// ErrReadOnly is returned for a write in a transaction pinned to a historical timestamp.
var ErrReadOnly = errors.New("cannot write in a transaction reading at a fixed historical timestamp")

// CommitInBatch sends b together with the commit. When every write of the transaction is in
// b and lands on one range, the transaction commits in one Raft round without intents.
func (t *Txn) CommitInBatch(ctx context.Context, b *Batch) error {
	if t.done {
		return ErrTxnDone
	}
	if t.readOnly && b.hasWrites() {
		return ErrReadOnly
	}
	t.used = true
	return t.counted(t.noteRestart(t.commitInBatch(ctx, b)))
}

func (t *Txn) commitInBatch(ctx context.Context, b *Batch) error {
	if err := t.flushFor(ctx, b.reqs, 0); err != nil {
		return err
	}
	if n := len(t.buffered); n > 0 {
		// The buffered writes go with the commit too.
		all := &Batch{reqs: append(t.takeBuffered(), b.reqs...)}
		err := t.commitInBatch(ctx, all)
		if all.Results != nil {
			b.Results = all.Results[n:]
		}
		return err
	}
	if len(t.lockSpans) == 0 && t.snapshot().Epoch == 0 && b.hasWrites() {
		if ok, err := t.tryOnePhase(ctx, b); ok || err != nil {
			return err
		}
	}
	if ok, err := t.commitInParallel(ctx, b); ok {
		return err
	}
	if err := t.send(ctx, b, false); err != nil {
		return err
	}
	return t.commit(ctx)
}

// tryOnePhase commits b in one batch if all its keys live on one range. It reports whether it
// did (or failed trying).
func (t *Txn) tryOnePhase(ctx context.Context, b *Batch) (bool, error) {
	var desc kvpb.RangeDescriptor
	for i, req := range b.reqs {
		h := req.Header()
		d, err := t.db.lookup.RangeForKey(ctx, h.Key)
		if err != nil {
			return true, err
		}
		if i == 0 {
			desc = d
		} else if d.RangeID != desc.RangeID {
			return false, nil
		}
		if len(h.EndKey) > 0 && bytes.Compare(h.EndKey, d.EndKey) > 0 {
			return false, nil
		}
	}
	t.numberWrites(b)
	t.setAnchor(b)
	var writes []kvpb.Span
	for _, req := range b.reqs {
		if req.IsWrite() {
			writes = append(writes, req.Header())
		}
	}
	reqs := append(append([]kvpb.Request(nil), b.reqs...), &kvpb.EndTxnRequest{Commit: true, LockSpans: writes})
	for attempt := 0; ; attempt++ {
		ba := &kvpb.BatchRequest{Txn: t.snapshot(), RangeID: desc.RangeID, Requests: reqs, LockTimeout: t.lockTimeout}
		br, err := t.db.sender.Send(ctx, ba)
		var pushed *kvpb.TxnPushedError
		if errors.As(err, &pushed) {
			if attempt >= 10 {
				return true, &kvpb.TransactionRetryError{Reason: kvpb.RetrySerializable, Timestamp: pushed.PushedTo,
					Message: fmt.Sprintf("the commit was pushed %d times in a row by concurrent readers and writers", attempt+1)}
			}
			// Someone read these keys later than our timestamp (or wrote newer versions):
			// move the whole transaction up, re-validating what it read.
			if err := t.refreshTo(ctx, pushed.PushedTo); err != nil {
				return true, err
			}
			continue
		}
		var mismatch *kvpb.RangeKeyMismatchError
		if errors.As(err, &mismatch) {
			return false, nil // the range split: nothing was applied; commit the long way
		}
		if err != nil {
			return true, err
		}
		t.fillResults(b, br.Responses[:len(b.reqs)])
		t.recordRefreshSpans(b.reqs, b.Results)
		t.finish()
		return true, t.commitWait(ctx, ba.Txn.WriteTimestamp)
	}
}

// numberWrites gives each request of b that leaves intents and has no number yet the next
// sequence number of the transaction, so that a write sent again after its outcome was lost
// recognizes its own intent, and a rollback to a savepoint can name the writes it undoes. A
// restart keeps counting: numbers only need to differ within an epoch, and a savepoint
// taken before a restart stays below every later write.
func (t *Txn) numberWrites(b *Batch) {
	for _, req := range b.reqs {
		if seq := kvpb.IntentSequence(req); seq != nil && *seq == 0 {
			t.sequence++
			*seq = t.sequence
		}
	}
}

// setAnchor picks the transaction's anchor key (where its record lives): its first write.
func (t *Txn) setAnchor(b *Batch) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.proto.Key != nil {
		return
	}
	for _, req := range b.reqs {
		if req.IsWrite() {
			t.proto.Key = append([]byte(nil), req.Header().Key...)
			return
		}
	}
}

// send splits b by range and sends each part, updating the transaction from the responses.
func (t *Txn) send(ctx context.Context, b *Batch, _ bool) error {
	t.numberWrites(b)
	t.setAnchor(b)
	if err := t.proveTouched(ctx, b.reqs); err != nil {
		return err
	}
	// Writes are counted as the transaction's before they are sent: one that fails, or
	// whose outcome is unknown, may still have left an intent, which the commit or rollback
	// must resolve, and which the heartbeat must keep from looking abandoned meanwhile.
	var wrote bool
	for _, req := range b.reqs {
		if req.IsWrite() {
			t.lockSpans = append(t.lockSpans, req.Header())
			wrote = true
		}
	}
	if wrote {
		t.startHeartbeat()
	}
	b.Results = make([]Result, len(b.reqs))
	switch {
	case independentWrites(b.reqs):
		// Requests on distinct keys that do not depend on each other go to their ranges
		// at once, one batch per range: a statement writing or reading n rows over k
		// ranges costs k requests and one round, not n of each.
		if err := t.sendIndependent(ctx, b); err != nil {
			return err
		}
		t.recordRefreshSpans(b.reqs, b.Results)
		return nil
	case independentReads(b.reqs):
		err := t.sendIndependent(ctx, b)
		if _, refreshable := refreshableRestart(err); !refreshable {
			if err != nil {
				return err
			}
			t.recordRefreshSpans(b.reqs, b.Results)
			return nil
		}
		// A read that needs the transaction's reads moved up goes again one at a time
		// below, where that is done.
		b.Results = make([]Result, len(b.reqs))
	case independentLocks(b.reqs):
		again, err := t.sendLocks(ctx, b)
		if err != nil {
			return err
		}
		return t.sendInTurn(ctx, b, again)
	}
	all := make([]int, len(b.reqs))
	for i := range all {
		all[i] = i
	}
	return t.sendInTurn(ctx, b, all)
}

// sendInTurn sends the requests idx of b one at a time, in order. Whenever the transaction's
// reads must move up (a value in a read's uncertainty interval, a locking read that locked
// a value newer than the read timestamp), the reads it made so far are refreshed first.
func (t *Txn) sendInTurn(ctx context.Context, b *Batch, idx []int) error {
	var unrecorded []int // sent, their reads not yet recorded for refreshes
	refresh := func(ts hlc.Timestamp) error {
		t.recordRefresh(b, unrecorded)
		unrecorded = nil
		return t.refreshTo(ctx, ts)
	}
	for _, i := range idx {
		req := b.reqs[i]
		recorded := false
		for attempt := 0; ; attempt++ {
			err := t.sendOne(ctx, req, &b.Results[i])
			if err == nil && isLockingRead(req) {
				// A locking read that met a value committed above the transaction's read
				// timestamp locked and returned the newest rows, at the write timestamp its
				// batch came back with: what the transaction read so far must hold there
				// too before the rows are used. A locking read that found nothing locked
				// nothing, and is refreshed with them.
				if read, write := t.timestamps(); read.Less(write) {
					if len(b.Results[i].Rows) == 0 {
						unrecorded, recorded = append(unrecorded, i), true
					}
					if err := refresh(write); err != nil {
						return err
					}
				}
			}
			re, ok := refreshableRestart(err)
			if !ok || attempt >= maxReadRefreshes || t.readOnly {
				if err != nil {
					return err
				}
				break
			}
			// A value in the request's uncertainty interval may have been written before
			// the transaction began: move the reads up past it, if what the transaction
			// read so far is still valid there, and read again; at most maxReadRefreshes
			// times.
			if rerr := refresh(re.Timestamp); rerr != nil {
				return err
			}
			b.Results[i] = Result{}
		}
		if !recorded {
			unrecorded = append(unrecorded, i)
		}
	}
	t.recordRefresh(b, unrecorded)
	return nil
}

// sendLocks sends b's requests, exclusive locking reads of distinct keys, to their ranges at
// once, one batch per range (sendPoints): a FOR UPDATE of n rows costs one round per range,
// not n in turn. As in sendInTurn, once the transaction's write timestamp is above its read
// timestamp (a range locked values newer than the read timestamp) the reads made before,
// and the locking reads here that found no row (and so locked nothing), are refreshed
// before any row is used; the rows found are locked, and recorded after. It returns the
// requests that met a value in their uncertainty interval, for sendInTurn to send again.
func (t *Txn) sendLocks(ctx context.Context, b *Batch) ([]int, error) {
	var empty, found, again []int
	var failed error
	for i, r := range t.sendPoints(ctx, t.snapshot(), b.reqs, replicated) {
		if r.err != nil {
			if _, ok := refreshableRestart(r.err); ok && !t.readOnly {
				again = append(again, i)
			} else if failed == nil {
				failed = r.err
			}
			continue
		}
		t.absorb(b.reqs[i], r.resp, r.ts, false, &b.Results[i])
		if len(b.Results[i].Rows) > 0 {
			found = append(found, i)
		} else {
			empty = append(empty, i)
		}
	}
	if failed != nil {
		return nil, failed
	}
	t.recordRefresh(b, empty)
	if read, write := t.timestamps(); read.Less(write) {
		if err := t.refreshTo(ctx, write); err != nil {
			return nil, err
		}
	}
	t.recordRefresh(b, found)
	return again, nil
}

// recordRefresh records the reads of b's requests idx for refreshes.
func (t *Txn) recordRefresh(b *Batch, idx []int) {
	for _, i := range idx {
		t.recordRefreshSpans(b.reqs[i:i+1], b.Results[i:i+1])
	}
}

// isLockingRead reports whether req is a read that locks what it reads (FOR UPDATE).
func isLockingRead(req kvpb.Request) bool {
	switch req.(type) {
	case *kvpb.GetRequest, *kvpb.ScanRequest:
		return req.IsWrite() // an exclusive lock
	}
	return false
}

// timestamps returns the transaction's read and write timestamps.
func (t *Txn) timestamps() (read, write hlc.Timestamp) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.proto.ReadTimestamp, t.proto.WriteTimestamp
}

// maxReadRefreshes bounds how often one request moves its transaction's reads up to read a
// value from its uncertainty interval before the transaction restarts instead.
const maxReadRefreshes = 5

// refreshableRestart reports whether err asks the transaction to restart for a reason that
// moving its reads up to the error's timestamp can cure instead: a value in its uncertainty
// interval.
func refreshableRestart(err error) (*kvpb.TransactionRetryError, bool) {
	var re *kvpb.TransactionRetryError
	ok := errors.As(err, &re) && !re.Timestamp.IsEmpty() && re.Reason == kvpb.RetryUncertainty
	return re, ok
}

// independentWrites reports whether reqs are several point writes to distinct keys.
func independentWrites(reqs []kvpb.Request) bool {
	if len(reqs) < 2 {
		return false
	}
	for _, req := range reqs {
		if !kvpb.IsPointWrite(req) {
			return false
		}
	}
	return distinctKeys(reqs)
}

// independentReads reports whether reqs are several plain (unlocked) point reads.
func independentReads(reqs []kvpb.Request) bool { return pointReads(reqs, kvpb.LockNone) }

// independentLocks reports whether reqs are several exclusive locking point reads of
// distinct keys.
func independentLocks(reqs []kvpb.Request) bool {
	return pointReads(reqs, kvpb.LockExclusive) && distinctKeys(reqs)
}

// distinctKeys reports whether no two of reqs name the same key.
func distinctKeys(reqs []kvpb.Request) bool {
	seen := make(map[string]struct{}, len(reqs))
	for _, req := range reqs {
		k := string(req.Header().Key)
		if _, dup := seen[k]; dup {
			return false
		}
		seen[k] = struct{}{}
	}
	return true
}

// pointReads reports whether reqs are several point reads, all with the given locking.
func pointReads(reqs []kvpb.Request, locking kvpb.LockStrength) bool {
	if len(reqs) < 2 {
		return false
	}
	for _, req := range reqs {
		if g, ok := req.(*kvpb.GetRequest); !ok || g.Locking != locking {
			return false
		}
	}
	return true
}

// sendIndependent sends b's requests, which do not depend on each other, one batch per range
// (sendPoints), pipelining the writes if it may pipeline them all.
func (t *Txn) sendIndependent(ctx context.Context, b *Batch) error {
	async, mode := t.pipelineWrites(b.reqs), replicated
	if async {
		mode = pipelined
	}
	res := t.sendPoints(ctx, t.snapshot(), b.reqs, mode)
	for i, r := range res {
		if r.err == nil {
			t.absorb(b.reqs[i], r.resp, r.ts, async, &b.Results[i])
		}
	}
	for _, r := range res {
		if r.err != nil {
			return r.err
		}
	}
	return nil
}

// inParallel calls f(0), ..., f(n-1) at once and returns when all have returned. f(0) runs on
// the caller's goroutine: most calls have n = 1, and a new goroutine would also grow its stack
// from nothing to the depth of a request's evaluation (copying it each time), which profiles
// showed to cost more than the request's work on a local range.
func inParallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Go(func() { f(i) })
	}
	if n > 0 {
		f(0)
	}
	wg.Wait()
}

func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// sendOne sends one request, splitting a span request at range boundaries. A range that
// split or merged under it (RangeKeyMismatchError) makes it start over with fresh
// descriptors, for as long as ctx allows.
func (t *Txn) sendOne(ctx context.Context, req kvpb.Request, res *Result) error {
	orig := *res
	for attempt := 0; ; attempt++ {
		err := t.sendOneAttempt(ctx, req, res)
		if !isRangeKeyMismatch(err) {
			return err
		}
		if werr := awaitReroute(ctx, attempt, err); werr != nil {
			return werr
		}
		*res = orig
	}
}

func (t *Txn) sendOneAttempt(ctx context.Context, req kvpb.Request, res *Result) error {
	h := req.Header()
	desc, err := t.db.lookup.RangeForKey(ctx, h.Key)
	if err != nil {
		return err
	}
	if len(h.EndKey) == 0 || bytes.Compare(h.EndKey, desc.EndKey) <= 0 {
		return t.sendToRange(ctx, desc.RangeID, req, res)
	}
	// A span across ranges: visit each range in order (reverse scans backwards).
	sc, isScan := req.(*kvpb.ScanRequest)
	if isScan && sc.Reverse {
		return t.reverseScanAcross(ctx, sc, res)
	}
	key := h.Key
	for bytes.Compare(key, h.EndKey) < 0 {
		d, err := t.db.lookup.RangeForKey(ctx, key)
		if err != nil {
			return err
		}
		end := h.EndKey
		if bytes.Compare(d.EndKey, end) < 0 {
			end = d.EndKey
		}
		part := withSpan(req, kvpb.Span{Key: key, EndKey: end})
		if isScan && sc.MaxKeys > 0 {
			part.(*kvpb.ScanRequest).MaxKeys = sc.MaxKeys - int64(len(res.Rows))
		}
		var pr Result
		if err := t.sendToRange(ctx, d.RangeID, part, &pr); err != nil {
			return err
		}
		res.Rows = append(res.Rows, pr.Rows...)
		res.Keys = append(res.Keys, pr.Keys...)
		if pr.ResumeKey != nil {
			res.ResumeKey = pr.ResumeKey
			return nil
		}
		key = end
	}
	return nil
}

func (t *Txn) reverseScanAcross(ctx context.Context, sc *kvpb.ScanRequest, res *Result) error {
	end := sc.EndKey
	for bytes.Compare(sc.Key, end) < 0 {
		// The range holding the last key before end.
		d, err := t.db.lookup.RangeForKey(ctx, prevKey(end))
		if err != nil {
			return err
		}
		start := sc.Key
		if bytes.Compare(d.StartKey, start) > 0 {
			start = d.StartKey
		}
		part := &kvpb.ScanRequest{Span: kvpb.Span{Key: start, EndKey: end}, Reverse: true, Locking: sc.Locking}
		if sc.MaxKeys > 0 {
			part.MaxKeys = sc.MaxKeys - int64(len(res.Rows))
		}
		var pr Result
		if err := t.sendToRange(ctx, d.RangeID, part, &pr); err != nil {
			return err
		}
		res.Rows = append(res.Rows, pr.Rows...)
		if pr.ResumeKey != nil {
			res.ResumeKey = pr.ResumeKey
			return nil
		}
		end = start
	}
	return nil
}

// prevKey is a key just before k in the ordering, good enough to find the range holding the
// keys below k.
func prevKey(k []byte) []byte {
	if len(k) == 0 {
		return k
	}
	p := append([]byte(nil), k...)
	if p[len(p)-1] == 0 {
		return p[:len(p)-1]
	}
	p[len(p)-1]--
	return append(p, 0xff, 0xff, 0xff, 0xff)
}

func withSpan(req kvpb.Request, sp kvpb.Span) kvpb.Request {
	switch r := req.(type) {
	case *kvpb.ScanRequest:
		c := *r
		c.Span = sp
		return &c
	case *kvpb.DeleteRangeRequest:
		c := *r
		c.Span = sp
		return &c
	case *kvpb.ResolveIntentRequest:
		c := *r
		c.Span = sp
		return &c
	case *kvpb.RefreshRequest:
		c := *r
		c.Span = sp
		return &c
	}
	panic(fmt.Sprintf("withSpan: %T is not a span request", req))
}

func (t *Txn) sendToRange(ctx context.Context, rangeID uint64, req kvpb.Request, res *Result) error {
	ba := &kvpb.BatchRequest{Txn: t.snapshot(), RangeID: rangeID, Requests: []kvpb.Request{req}, LockTimeout: t.lockTimeout,
		AsyncConsensus: t.pipelineWrite(req)}
	br, err := t.db.sender.Send(ctx, ba)
	if err != nil {
		return err
	}
	t.observe(br)
	var writeTS hlc.Timestamp
	if br.Txn != nil {
		writeTS = br.Txn.WriteTimestamp
	}
	t.absorb(req, br.Responses[0], writeTS, ba.AsyncConsensus, res)
	return nil
}

// absorb takes in the response to req, sent pipelined or not, from a batch that came back
// with writeTS: a pipelined write is in flight until proven, and the transaction writes no
// lower than its batch did.
func (t *Txn) absorb(req kvpb.Request, resp kvpb.Response, writeTS hlc.Timestamp, pipelined bool, res *Result) {
	if pipelined {
		t.addInFlight(req)
	}
	t.mu.Lock()
	t.proto.WriteTimestamp = t.proto.WriteTimestamp.Forward(writeTS)
	t.mu.Unlock()
	fillResult(res, resp)
}

// observe records the clock reading of the leaseholder that served br, for the
// transaction's later reads there (see kvpb.Transaction.ObservedTimestamps).
func (t *Txn) observe(br *kvpb.BatchResponse) {
	if br == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.proto.Observe(br.Observed)
}

func (t *Txn) fillResults(b *Batch, resps []kvpb.Response) {
	b.Results = make([]Result, len(b.reqs))
	for i, r := range resps {
		fillResult(&b.Results[i], r)
	}
}

func fillResult(res *Result, resp kvpb.Response) {
	switch r := resp.(type) {
	case *kvpb.GetResponse:
		if r.Value != nil {
			res.Rows = append(res.Rows, *r.Value)
		}
	case *kvpb.ScanResponse:
		res.Rows = append(res.Rows, r.KVs...)
		res.ResumeKey = r.ResumeKey
	case *kvpb.DeleteRangeResponse:
		res.Keys = append(res.Keys, r.Keys...)
	}
}

// recordRefreshSpans records what reqs read, for a refresh to check; results are their
// results (if known): a scan that stopped at a resume key read only up to it, and a
// refresh that checked the rest would fail the transaction on writes it never saw.
func (t *Txn) recordRefreshSpans(reqs []kvpb.Request, results []Result) {
	for i, req := range reqs {
		switch req := req.(type) {
		case *kvpb.GetRequest, *kvpb.DeleteRangeRequest, *kvpb.ConditionalPutRequest:
			h := req.Header()
			t.refreshSpans = append(t.refreshSpans, kvpb.Span{Key: h.Key, EndKey: h.EndKey})
		case *kvpb.ScanRequest:
			var resume []byte
			if i < len(results) {
				resume = results[i].ResumeKey
			}
			t.refreshSpans = append(t.refreshSpans, req.ScannedSpan(resume))
		}
	}
	if len(t.refreshSpans) > maxRefreshSpans {
		t.refreshSpans = []kvpb.Span{coverSpans(t.refreshSpans)}
	}
}

// refreshTo moves the transaction's read timestamp to ts after checking that nothing it read
// changed in between; if something did, the transaction must restart (40001).
func (t *Txn) refreshTo(ctx context.Context, ts hlc.Timestamp) error {
	t.mu.Lock()
	from := t.proto.ReadTimestamp
	t.mu.Unlock()
	if ts.LessEq(from) {
		return nil
	}
	refreshing := t.snapshot()
	refreshing.ReadTimestamp = ts
	refreshing.WriteTimestamp = refreshing.WriteTimestamp.Forward(ts)
	// The reads are checked all at once: the point reads in one batch per range
	// (sendPoints), each span on its own, a refresh of n reads costing a round, not n.
	var points []kvpb.Request
	var spans []kvpb.Span
	for _, sp := range t.refreshSpans {
		if len(sp.EndKey) == 0 {
			points = append(points, &kvpb.RefreshRequest{Span: sp, From: from})
		} else {
			spans = append(spans, sp)
		}
	}
	errs := make([]error, len(spans)+1)
	inParallel(len(spans)+1, func(i int) {
		if i < len(spans) {
			errs[i] = t.sendRefresh(ctx, refreshing, &kvpb.RefreshRequest{Span: spans[i], From: from})
			return
		}
		for _, r := range t.sendPoints(ctx, refreshing, points, replicated) {
			if r.err != nil {
				errs[i] = r.err
				return
			}
		}
	})
	if err := firstError(errs); err != nil {
		return err
	}
	t.mu.Lock()
	t.proto.ReadTimestamp = ts
	t.proto.WriteTimestamp = t.proto.WriteTimestamp.Forward(ts)
	t.mu.Unlock()
	return nil
}

// sendRefresh refreshes req's span range by range. A range that changed shape since it was
// cached makes the refresh go on from the same key by fresh descriptors: the parts already
// refreshed stay valid.
func (t *Txn) sendRefresh(ctx context.Context, txn *kvpb.Transaction, req *kvpb.RefreshRequest) error {
	return sendByRange(ctx, t.db.lookup, req.Key, req.EndKey, func(d kvpb.RangeDescriptor, piece kvpb.Span) error {
		part := *req
		part.Key, part.EndKey = piece.Key, piece.EndKey
		br, err := t.db.sender.Send(ctx, &kvpb.BatchRequest{Txn: txn, RangeID: d.RangeID, Requests: []kvpb.Request{&part}})
		if err == nil {
			t.observe(br)
		}
		return err
	})
}

// Commit commits the transaction. A transaction whose write timestamp was pushed first
// refreshes its reads to the new timestamp.
func (t *Txn) Commit(ctx context.Context) error {
	if t.done {
		return ErrTxnDone
	}
	return t.counted(t.noteRestart(t.commit(ctx)))
}

// counted counts a commit in the DB's stats.
func (t *Txn) counted(err error) error {
	if err == nil {
		t.db.stats.commits.Add(1)
	}
	return err
}

func (t *Txn) commit(ctx context.Context) error {
	if len(t.buffered) > 0 {
		return t.commitInBatch(ctx, &Batch{})
	}
	if len(t.lockSpans) == 0 {
		t.finish()
		return nil
	}
	if ok, err := t.commitInParallel(ctx, &Batch{}); ok {
		return err
	}
	// The record is committed only once every write is known to be in place.
	if err := t.proveAll(ctx); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		txn := t.snapshot()
		if txn.ReadTimestamp.Less(txn.WriteTimestamp) {
			if err := t.refreshTo(ctx, txn.WriteTimestamp); err != nil {
				return err
			}
			txn = t.snapshot()
		}
		d, err := t.db.lookup.RangeForKey(ctx, txn.Key)
		if err != nil {
			return err
		}
		// No heartbeat may race with the commit and recreate the record after it.
		t.haltHeartbeat()
		et := &kvpb.EndTxnRequest{Commit: true, LockSpans: t.lockSpans}
		br, err := t.db.sender.Send(ctx, &kvpb.BatchRequest{Txn: txn, RangeID: d.RangeID, Requests: []kvpb.Request{et}})
		if isRangeKeyMismatch(err) {
			// The record's range changed shape since d was cached; nothing was applied.
			if werr := awaitReroute(ctx, attempt, err); werr != nil {
				return werr
			}
			continue
		}
		var pushed *kvpb.TxnPushedError
		if errors.As(err, &pushed) {
			if attempt >= 10 {
				// Readers keep pushing us: start over rather than chase them.
				return &kvpb.TransactionRetryError{Reason: kvpb.RetrySerializable, Timestamp: pushed.PushedTo,
					Message: fmt.Sprintf("the commit was pushed %d times in a row by concurrent readers", attempt+1)}
			}
			if err := t.refreshTo(ctx, pushed.PushedTo); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		t.finish()
		t.resolveRemote(holdOf(ctx), txn, kvpb.Committed, endTxnUnresolved(br))
		return t.commitWait(ctx, txn.WriteTimestamp)
	}
}

// commitWait holds back the acknowledgement of a commit whose timestamp is ahead of this
// node's physical clock (writes are pushed into the future after a lease moves, for
// example) until the physical clock passes it. A transaction that starts anywhere after the
// acknowledgement then reads at a later timestamp, or finds the write in its uncertainty
// interval (its start plus the maximum offset between any two clocks), and so sees it. The
// hybrid clock would not do: answers from the leaseholders move it forward, up to the
// timestamps they wrote at, with no news about real time.
func (t *Txn) commitWait(ctx context.Context, commitTS hlc.Timestamp) error {
	clock := t.db.clock
	for {
		ahead := time.Duration(commitTS.WallTime - clock.PhysicalNow())
		if ahead < 0 {
			return nil
		}
		if err := sleepCtx(ctx, ahead+time.Microsecond); err != nil {
			return err
		}
	}
}

// resolveRemote resolves, in the background once hold is released (see HoldBackground), the
// intents of remote: those the EndTxn could not resolve on the record's own range, as that
// range reported them (the coordinator's descriptor of the record's range may be stale, and
// cannot tell).
func (t *Txn) resolveRemote(hold <-chan struct{}, txn *kvpb.Transaction, status kvpb.TxnStatus, remote []kvpb.Span) {
	if len(remote) == 0 {
		return
	}
	db := t.db
	db.goAfter(hold, func(ctx context.Context) {
		resolve := func(sp kvpb.Span) kvpb.Request {
			return &kvpb.ResolveIntentRequest{Span: sp, Txn: txn.TxnMeta, Status: status, CommitTS: txn.WriteTimestamp,
				IgnoredSeqNums: txn.IgnoredSeqNums}
		}
		// The ranges are resolved at once, each in batches shared with other transactions'
		// resolutions there: one consensus write per batch (see resolveBatcher).
		var wg sync.WaitGroup
		var failed atomic.Bool
		for _, g := range groupLockSpans(ctx, db.lookup, remote) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for chunk := range slices.Chunk(g.spans, maxResolveBatch) {
					reqs := make([]kvpb.Request, len(chunk))
					for i, sp := range chunk {
						reqs[i] = resolve(sp)
					}
					var err error
					if g.rangeID == 0 {
						// Not looked up: a batch of its own, routed by its key.
						_, err = db.sender.Send(ctx, &kvpb.BatchRequest{Requests: reqs})
					} else {
						err = db.resolver.resolve(ctx, g.rangeID, reqs)
					}
					if err == nil {
						continue
					}
					// The range changed shape since it was looked up, or a span crosses into
					// the next: span by span, by fresh descriptors.
					for _, sp := range chunk {
						tmp := &Txn{db: db, proto: &kvpb.Transaction{}}
						if err := tmp.sendOneNonTxn(ctx, resolve(sp), nil); err != nil {
							failed.Store(true)
							db.log.Warn("resolving intents", "span", sp, "err", err)
						}
					}
				}
			}()
		}
		wg.Wait()
		if !failed.Load() {
			db.removeRecord(ctx, txn, status)
		}
	})
}

// removeRecord removes the record of a finished transaction whose intents are all resolved,
// riding with the next resolutions sent to its range (see resolveBatcher.ride). Without
// this, every transaction that wrote beyond its record's range would leave its record
// behind for good. A record that stays anyway (the removal failed) is harmless: a finished
// transaction's record only answers those who ask about it.
func (db *DB) removeRecord(ctx context.Context, txn *kvpb.Transaction, status kvpb.TxnStatus) {
	req := &kvpb.RemoveTxnRecordRequest{Txn: txn.TxnMeta, Status: status}
	d, err := db.lookup.RangeForKey(ctx, txn.Key)
	if err != nil {
		// Routed by its key.
		if _, err := db.sender.Send(ctx, &kvpb.BatchRequest{Requests: []kvpb.Request{req}}); err != nil && ctx.Err() == nil {
			db.log.Warn("removing a finished transaction's record", "txn", fmt.Sprintf("%x", txn.ID[:4]), "err", err)
		}
		return
	}
	db.resolver.ride(d.RangeID, req)
}

// maxResolveBatch is how many lock spans one batch of intent resolutions carries.
const maxResolveBatch = 1024

// condenseAbove is how many lock spans a transaction must hold on one range for their
// resolution there to be one ranged resolution instead of a resolution per span.
const condenseAbove = 4 * maxResolveBatch

// rangeLockSpans are the lock spans of a transaction that lie on one range (by their start).
type rangeLockSpans struct {
	rangeID uint64
	spans   []kvpb.Span
}

// groupLockSpans groups a finished transaction's lock spans by the range they start on, for
// resolving them in a batch per range. A range holding many of them (a bulk INSERT or COPY)
// gets one span covering them instead: a ranged resolution visits every key of its span, so
// it pays only where the intents are dense, while a point resolution costs the intent alone
// (a few Delivery rows among 300,000 order lines must not cost a scan of them all). A span
// that cannot be looked up stays in a group of its own, resolved by itself.
func groupLockSpans(ctx context.Context, lookup RangeLookup, spans []kvpb.Span) []rangeLockSpans {
	byRange := map[uint64]int{}
	var out []rangeLockSpans
	for _, sp := range spans {
		id := uint64(0)
		if d, err := lookup.RangeForKey(ctx, sp.Key); err == nil {
			id = d.RangeID
		}
		i, ok := byRange[id]
		if !ok || id == 0 {
			i = len(out)
			byRange[id] = i
			out = append(out, rangeLockSpans{rangeID: id})
		}
		out[i].spans = append(out[i].spans, sp)
	}
	for i := range out {
		if len(out[i].spans) > condenseAbove {
			out[i].spans = []kvpb.Span{coverSpans(out[i].spans)}
		}
	}
	return out
}

// coverSpans is the smallest span covering spans.
func coverSpans(spans []kvpb.Span) kvpb.Span {
	var c kvpb.Span
	for i, sp := range spans {
		end := sp.EndKey
		if len(end) == 0 {
			end = append(append([]byte(nil), sp.Key...), 0)
		}
		if i == 0 || bytes.Compare(sp.Key, c.Key) < 0 {
			c.Key = sp.Key
		}
		if i == 0 || bytes.Compare(end, c.EndKey) > 0 {
			c.EndKey = end
		}
	}
	return c
}

// sendOneNonTxn sends a request without transaction state, split by range. It is for
// idempotent requests (intent resolution): a range that changed shape since it was cached
// makes the request go on from the same key by fresh descriptors, the parts already sent
// being done.
func (t *Txn) sendOneNonTxn(ctx context.Context, req kvpb.Request, _ *Result) error {
	h := req.Header()
	return sendByRange(ctx, t.db.lookup, h.Key, h.EndKey, func(d kvpb.RangeDescriptor, piece kvpb.Span) error {
		part := req
		if len(h.EndKey) > 0 {
			part = withSpan(req, piece)
		}
		_, err := t.db.sender.Send(ctx, &kvpb.BatchRequest{RangeID: d.RangeID, Requests: []kvpb.Request{part}})
		return err
	})
}

// Rollback aborts the transaction, removing its intents.
func (t *Txn) Rollback(ctx context.Context) error {
	if t.done {
		return nil
	}
	if len(t.buffered) > 0 || len(t.lockSpans) > 0 {
		t.db.stats.rollbacks.Add(1)
	}
	t.finish()
	t.buffered = nil // never sent: nothing to undo
	t.mu.Lock()
	t.inFlight = nil // resolving them aborted, the writes need no proof
	t.mu.Unlock()
	// A transaction whose writes were all buffered wrote none, but a heartbeat may have
	// written its record, which the rollback aborts.
	if len(t.lockSpans) == 0 && !t.heartbeatSent.Load() {
		return nil
	}
	txn := t.snapshot()
	et := &kvpb.EndTxnRequest{Commit: false, LockSpans: t.lockSpans}
	var unresolved []kvpb.Span
	err := sendByRange(ctx, t.db.lookup, txn.Key, nil, func(d kvpb.RangeDescriptor, _ kvpb.Span) error {
		br, err := t.db.sender.Send(ctx, &kvpb.BatchRequest{Txn: txn, RangeID: d.RangeID, Requests: []kvpb.Request{et}})
		unresolved = endTxnUnresolved(br)
		return err
	})
	if err != nil {
		return fmt.Errorf("rolling back: %w", err)
	}
	t.resolveRemote(holdOf(ctx), txn, kvpb.Aborted, unresolved)
	return nil
}

// Restart prepares the transaction to run again after a retryable error: its writes so far
// are rolled back and it continues as a new transaction at the current time, keeping its
// original start time so that it ages (and so wins conflicts) across restarts.
//
// Restart first waits a jittered, exponentially growing pause. Without it a transaction that
// lost a conflict would come straight back, meet the same unfinished winner, and burn through
// its retries before the winner could commit.
//
// cause is the error that made the transaction restart: one that names a timestamp (a value
// in the uncertainty interval, a write that could not be read around) makes the new attempt
// start at or above it, so that it does not meet the same value again.
func (t *Txn) Restart(ctx context.Context, cause error) error {
	old := t.snapshot()
	t.done = false
	if len(t.lockSpans) > 0 || t.stopHeartbeat != nil {
		if err := t.Rollback(ctx); err != nil {
			return err
		}
	}
	if err := sleepCtx(ctx, restartBackoff(t.restarts)); err != nil {
		return err
	}
	t.restarts++
	start := t.db.clock.Now()
	var re *kvpb.TransactionRetryError
	if errors.As(cause, &re) {
		start = start.Forward(re.Timestamp)
	}
	fresh := t.db.newProto(start, old.MinTimestamp)
	fresh.Priority = old.Priority
	if t.readOnly {
		// A historical read stays where it was pinned.
		fresh.ReadTimestamp, fresh.WriteTimestamp = old.ReadTimestamp, old.ReadTimestamp
		fresh.MinTimestamp, fresh.GlobalUncertaintyLimit = old.ReadTimestamp, old.ReadTimestamp
	} else {
		// Every observation so far (the gateway's at the first start among them) was taken
		// after the transaction first began, which is all that makes one valid: a value
		// written on its node after it cannot have been acknowledged before the
		// transaction began, in this attempt or the first.
		fresh.ObservedTimestamps = append([]kvpb.ObservedTimestamp(nil), old.ObservedTimestamps...)
	}
	t.mu.Lock()
	t.proto = fresh
	t.mu.Unlock()
	t.lockSpans, t.refreshSpans, t.buffered, t.done = nil, nil, nil, false
	t.used, t.restartCause = false, nil
	t.heartbeatSent.Store(false)
	t.db.openTxn(t)
	return nil
}

// restartBackoff is the pause before restart number n (from 0): 100µs doubling to at most
// 50ms, scaled by a random factor in [0.5, 1.5) so that transactions that collided once do
// not collide again in lockstep.
func restartBackoff(n int) time.Duration {
	d := 100 * time.Microsecond << min(n, 9)
	return d/2 + rand.N(d)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (t *Txn) finish() {
	t.done = true
	t.haltHeartbeat()
	t.db.closeTxn(t)
	for _, f := range t.onFinish {
		t.db.goAsync(f)
	}
	t.onFinish = nil
}

// OnFinish has f run in the background once the transaction has committed or rolled back.
func (t *Txn) OnFinish(f func(ctx context.Context)) {
	t.onFinish = append(t.onFinish, f)
}

func (t *Txn) haltHeartbeat() {
	if t.stopHeartbeat != nil {
		t.stopHeartbeat()
		t.stopHeartbeat = nil
	}
}
