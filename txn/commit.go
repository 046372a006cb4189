package txn

import (
	"context"
	"errors"
	"fmt"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/kvpb"
)

// SetParallelCommits turns parallel commits on or off (kv.transaction.parallel_commits_enabled)
// for the transactions the DB starts from now on.
func (db *DB) SetParallelCommits(on bool) { db.serialCommits.Store(!on) }

// commitInParallel commits the transaction together with b, a batch of point writes, in one
// round of consensus (parallel commits): the writes on the range of the transaction's record
// go in one batch with an EndTxn that stages the record (STAGING) and names every other
// write as in flight; those other writes go to their ranges at the same time, and the
// transaction's pipelined writes still in flight are proven alongside. Once all of them
// succeed at the transaction's timestamp the transaction is committed, and the record is
// marked COMMITTED (and intents resolved) afterwards, in the background. Anyone who meets the
// staged record before then and finds its coordinator gone recovers its status by proving or
// preventing each in-flight write.
//
// It reports false, having sent nothing, when b does not qualify.
func (t *Txn) commitInParallel(ctx context.Context, b *Batch) (bool, error) {
	if t.db.serialCommits.Load() {
		return false, nil
	}
	for _, req := range b.reqs {
		if !kvpb.IsPointWrite(req) {
			return false, nil
		}
	}
	t.numberWrites(b)
	t.setAnchor(b)
	// The batch's writes go out at once with the staging; any earlier write of theirs must
	// be in place first. (With no writes, there is nothing to check: proveTouched would take
	// the empty list for "all", and prove every pipelined write a round before the staging
	// instead of alongside it.)
	if len(b.reqs) > 0 {
		if err := t.proveTouched(ctx, b.reqs); err != nil {
			return true, err
		}
	}
	pipelined := t.inFlightWrites(nil)
	if len(b.reqs) == 0 && len(pipelined) == 0 {
		return false, nil
	}
	txn := t.snapshot()
	if txn.ReadTimestamp.Less(txn.WriteTimestamp) {
		if err := t.refreshTo(ctx, txn.WriteTimestamp); err != nil {
			return true, err
		}
		txn = t.snapshot()
	}
	anchor, err := t.db.lookup.RangeForKey(ctx, txn.Key)
	if err != nil {
		return true, err
	}
	var staged []kvpb.Request // with the record
	var inFlight []int        // indexes into b.reqs, elsewhere
	for i, req := range b.reqs {
		if anchor.ContainsKey(req.Header().Key) {
			staged = append(staged, req)
		} else {
			inFlight = append(inFlight, i)
		}
	}
	if len(inFlight) == 0 && len(pipelined) == 0 {
		return false, nil // one range: the ordinary commit is as quick
	}
	for _, req := range b.reqs {
		t.lockSpans = append(t.lockSpans, req.Header())
	}
	t.haltHeartbeat() // no heartbeat may recreate the record after the commit
	et := &kvpb.EndTxnRequest{Commit: true, LockSpans: t.lockSpans}
	for _, i := range inFlight {
		et.InFlightWrites = append(et.InFlightWrites, kvpb.InFlightWrite{Key: b.reqs[i].Header().Key, Sequence: *kvpb.IntentSequence(b.reqs[i])})
	}
	for _, w := range pipelined {
		et.InFlightWrites = append(et.InFlightWrites, kvpb.InFlightWrite{Key: w.key, Sequence: w.seq})
	}
	b.Results = make([]Result, len(b.reqs))
	writeReqs := make([]kvpb.Request, len(inFlight))
	for n, i := range inFlight {
		writeReqs[n] = b.reqs[i]
	}
	var (
		writes      []pointResult
		proofTSs    []hlc.Timestamp
		proofErrs   []error
		stagingErr  error
		stagingReqs = append(append([]kvpb.Request(nil), staged...), et)
	)
	// The staging batch, the writes in flight and the proofs of earlier writes all go at once.
	inParallel(3, func(k int) {
		switch k {
		case 0:
			_, stagingErr = t.db.sender.Send(ctx, &kvpb.BatchRequest{Txn: txn, RangeID: anchor.RangeID, Requests: stagingReqs, LockTimeout: t.lockTimeout})
		case 1:
			writes = t.sendPoints(ctx, txn, writeReqs, besideStaging)
		case 2:
			proofTSs, proofErrs = t.prove(ctx, txn, pipelined)
		}
	})
	writeErrs := make([]error, len(inFlight))
	writeTSs := make([]hlc.Timestamp, len(inFlight))
	for n, i := range inFlight {
		writeErrs[n], writeTSs[n] = writes[n].err, writes[n].ts
		if writes[n].err == nil {
			fillResult(&b.Results[i], writes[n].resp)
		}
	}

	pushedTo, definite, ambiguous, ambiguousKey := txn.WriteTimestamp, error(nil), false, []byte(nil)
	tss := append(writeTSs, proofTSs...)
	for n, err := range append(writeErrs, proofErrs...) {
		switch {
		case err == nil:
			pushedTo = pushedTo.Forward(tss[n])
		case isAmbiguous(err):
			ambiguous = true
			if n < len(inFlight) {
				ambiguousKey = writeReqs[n].Header().Key
			} else {
				ambiguousKey = pipelined[n-len(inFlight)].key
			}
		case definite == nil:
			definite = err
		}
	}
	switch {
	case stagingErr == nil && definite == nil && !ambiguous && pushedTo == txn.WriteTimestamp:
		// Every write is in place at the staged timestamp: committed.
		t.recordRefreshSpans(b.reqs, b.Results)
		return true, t.finishCommit(ctx, txn, anchor, true)
	case definite != nil:
		// A write is certainly missing, so the transaction is not committed; the caller
		// rolls back, which aborts a staged record too.
		return true, definite
	case stagingErr == nil && !ambiguous:
		// Some writes were pushed above the staged timestamp: commit the ordinary way
		// above them, refreshing the reads first.
		t.ForwardTimestamp(pushedTo)
		t.recordRefreshSpans(b.reqs, b.Results)
		return true, t.commit(ctx)
	case stagingErr != nil && !isAmbiguous(stagingErr):
		// Nothing was staged, and the writes on the record's range were not made: make
		// them, and commit the ordinary way, above the writes made elsewhere. (Committed
		// below one, the write would move under a read that was served above it, and that
		// pushed it: the reader would have missed a committed write.)
		var mismatch *kvpb.RangeKeyMismatchError
		if !isPushed(stagingErr) && !errors.As(stagingErr, &mismatch) {
			return true, stagingErr
		}
		if ambiguous {
			// A write made elsewhere lies at a timestamp nobody knows, if at all: no commit
			// can count on it. Nothing was staged, so the transaction certainly did not
			// commit; it starts again.
			return true, &kvpb.TransactionRetryError{Reason: kvpb.RetryAsyncWriteFailure, Key: ambiguousKey,
				Message: "the answer to a write sent with the commit was lost, and the commit was refused"}
		}
		t.ForwardTimestamp(pushedTo)
		for _, req := range staged {
			var res Result
			if err := t.sendOne(ctx, req, &res); err != nil {
				return true, err
			}
		}
		t.recordRefreshSpans(b.reqs, b.Results)
		return true, t.commit(ctx)
	}
	// The outcome of the staging or of an in-flight write is unknown: settle it the way
	// anyone else would.
	rec, err := t.recoverOwn(ctx, txn)
	if err != nil {
		return true, &kvpb.AmbiguousResultError{Message: fmt.Sprintf("committing: %v", err)}
	}
	if rec.Status == kvpb.Aborted && rec.AbortReason == kvpb.RetryAsyncWriteFailure {
		// A recovery found the staged record and a write missing: certainly not committed.
		return true, kvpb.AbortedError(rec)
	}
	if rec.Status != kvpb.Committed {
		// Any other ABORTED is not proof that it did not commit: another recovery may have
		// committed it and removed its record (with every intent resolved) before this one
		// looked, finding none, or an in-flight write already resolved into a committed
		// value, and then declared it aborted. Only COMMITTED is certain here.
		return true, &kvpb.AmbiguousResultError{Message: fmt.Sprintf(
			"committing: the commit's outcome was unknown, and recovering it found the transaction %s, which a concurrent recovery that committed it could also leave", rec.Status)}
	}
	t.recordRefreshSpans(b.reqs, b.Results)
	return true, t.finishCommit(ctx, txn, anchor, false)
}

// finishCommit completes a commit that has happened: it acknowledges it once the clock has
// passed its timestamp, and, in the background, marks a staged record COMMITTED and
// resolves the intents.
func (t *Txn) finishCommit(ctx context.Context, txn *kvpb.Transaction, anchor kvpb.RangeDescriptor, staged bool) error {
	t.finish()
	lockSpans := t.lockSpans
	db := t.db
	db.goAfter(holdOf(ctx), func(ctx context.Context) {
		// Recovered by someone else, the record kept what its range did not resolve, and
		// this coordinator cannot tell what that was: anchor may be stale. Resolving every
		// span is safe (resolving a resolved intent does nothing), and this path is rare.
		remote := lockSpans
		if staged {
			unresolved, err := t.markCommitted(ctx, txn, anchor, lockSpans)
			if err != nil {
				// Whoever meets the staged record recovers it as committed.
				db.log.Warn("marking a staged transaction committed", "txn", fmt.Sprintf("%x", txn.ID[:4]), "err", err)
				return
			}
			remote = unresolved
		}
		t.resolveRemote(nil, txn, kvpb.Committed, remote)
	})
	return t.commitWait(ctx, txn.WriteTimestamp)
}

// markCommitted marks the staged record of txn, which is committed, COMMITTED, and returns
// the lock spans its range left for the coordinator to resolve. The record's range may have
// changed shape since anchor was looked up: the EndTxn then goes by a fresh descriptor.
func (t *Txn) markCommitted(ctx context.Context, txn *kvpb.Transaction, anchor kvpb.RangeDescriptor, lockSpans []kvpb.Span) ([]kvpb.Span, error) {
	et := &kvpb.EndTxnRequest{Commit: true, LockSpans: lockSpans}
	rangeID := anchor.RangeID
	for attempt := 0; ; attempt++ {
		br, err := t.db.sender.Send(ctx, &kvpb.BatchRequest{Txn: txn, RangeID: rangeID, Requests: []kvpb.Request{et}})
		if !isRangeKeyMismatch(err) {
			if err != nil {
				return nil, fmt.Errorf("committing the staged record on r%d: %w", rangeID, err)
			}
			return endTxnUnresolved(br), nil
		}
		if werr := awaitReroute(ctx, attempt, err); werr != nil {
			return nil, werr
		}
		d, err := t.db.lookup.RangeForKey(ctx, txn.Key)
		if err != nil {
			return nil, fmt.Errorf("looking up the record's range: %w", err)
		}
		rangeID = d.RangeID
	}
}

// recoverOwn settles the transaction's own commit when its outcome is unknown, the way
// anyone else would: a forced push at its record recovers a STAGING record (proving or
// preventing each in-flight write), aborts one that never got staged, and reports a
// finished one as it is.
func (t *Txn) recoverOwn(ctx context.Context, txn *kvpb.Transaction) (*kvpb.Transaction, error) {
	resp, err := t.db.sendPointNonTxn(ctx, &kvpb.PushTxnRequest{Pushee: txn.TxnMeta, Now: t.db.clock.Now(), Force: true})
	if err != nil {
		return nil, err
	}
	return resp.(*kvpb.PushTxnResponse).Pushee, nil
}

func isAmbiguous(err error) bool {
	var amb *kvpb.AmbiguousResultError
	return errors.As(err, &amb) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

func isPushed(err error) bool {
	var pushed *kvpb.TxnPushedError
	return errors.As(err, &pushed)
}
