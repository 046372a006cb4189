package txn

import (
	"bytes"
	"context"
	"fmt"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/kvpb"
)

// Write pipelining: a transaction's point writes are answered by their leaseholders once
// evaluated and proposed, not once replicated, so a statement that writes does not wait for
// a round of consensus. Such a write is in flight until the transaction proves it with a
// QueryIntent, which waits for the write's latches and so for its outcome. A write must be
// proven before anything the transaction does relies on it: before a later request touches
// its key, and before the commit (with parallel commits, in the same round as the staging
// of the record, which names it among the in-flight writes). A write that turns out lost
// makes the transaction restart. (Locks are not pipelined: they are held on the leaseholder
// without a round of consensus, and need no proof.)

// maxInFlightWrites bounds the writes a transaction keeps in flight; past it, writes wait for
// consensus as they go, which keeps the proofs at commit, and the STAGING record listing
// them, small.
const maxInFlightWrites = 256

// SetWritePipelining turns write pipelining on or off
// (kv.transaction.write_pipelining_enabled) for the transactions the DB starts from now on.
func (db *DB) SetWritePipelining(on bool) { db.serialWrites.Store(!on) }

// pipelineWrite reports whether req, about to be sent, may go without waiting for
// consensus (and then counts it as in flight once it has been answered).
func (t *Txn) pipelineWrite(req kvpb.Request) bool {
	return t.pipelineWrites([]kvpb.Request{req})
}

// pipelineWrites reports whether reqs, sent together, may all be pipelined: each is a point
// write, and the writes in flight stay within maxInFlightWrites.
func (t *Txn) pipelineWrites(reqs []kvpb.Request) bool {
	if !t.pipelining {
		return false
	}
	for _, req := range reqs {
		if !kvpb.IsPointWrite(req) {
			return false
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.inFlight)+len(reqs) <= maxInFlightWrites
}

// addInFlight records a pipelined write the leaseholder answered.
func (t *Txn) addInFlight(req kvpb.Request) {
	seq := *kvpb.WriteSequence(req)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.inFlight == nil {
		t.inFlight = map[string]int32{}
	}
	k := string(req.Header().Key)
	t.inFlight[k] = max(t.inFlight[k], seq)
}

// inFlightWrite is a pipelined write not yet proven.
type inFlightWrite struct {
	key []byte
	seq int32
}

// inFlightWrites lists the writes in flight, all of them or, with reqs, those whose keys
// reqs touch.
func (t *Txn) inFlightWrites(reqs []kvpb.Request) []inFlightWrite {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []inFlightWrite
	for k, seq := range t.inFlight {
		if reqs != nil && !touches(reqs, []byte(k)) {
			continue
		}
		out = append(out, inFlightWrite{key: []byte(k), seq: seq})
	}
	return out
}

func touches(reqs []kvpb.Request, key []byte) bool {
	for _, req := range reqs {
		h := req.Header()
		if bytes.Equal(h.Key, key) || len(h.EndKey) > 0 && h.Contains(key) {
			return true
		}
	}
	return false
}

// proven forgets a write that was proven in place (unless the transaction wrote the key again
// since, with a later write that is still in flight).
func (t *Txn) proven(w inFlightWrite) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.inFlight[string(w.key)] == w.seq {
		delete(t.inFlight, string(w.key))
	}
}

// proveTouched proves, before reqs are sent, the in-flight writes on keys they touch: the
// transaction must read its own writes, and write over them, only once they are in place.
func (t *Txn) proveTouched(ctx context.Context, reqs []kvpb.Request) error {
	ws := t.inFlightWrites(reqs)
	if len(ws) == 0 {
		return nil
	}
	txn := t.snapshot()
	tss, errs := t.prove(ctx, txn, ws)
	if err := firstError(errs); err != nil {
		return err
	}
	for _, ts := range tss {
		t.mu.Lock()
		t.proto.WriteTimestamp = t.proto.WriteTimestamp.Forward(ts)
		t.mu.Unlock()
	}
	return nil
}

// proveAll proves every write in flight, before a commit that does not stage its record.
func (t *Txn) proveAll(ctx context.Context) error {
	return t.proveTouched(ctx, nil)
}

// prove asks, all at once (a batch of queries per range), whether each of ws is in place,
// and returns the timestamps they were found at, marking those found proven. A write found
// missing gives a retry error: the transaction's writes are not what it believes them to be.
func (t *Txn) prove(ctx context.Context, txn *kvpb.Transaction, ws []inFlightWrite) ([]hlc.Timestamp, []error) {
	tss := make([]hlc.Timestamp, len(ws))
	errs := make([]error, len(ws))
	reqs := make([]kvpb.Request, len(ws))
	for i, w := range ws {
		reqs[i] = &kvpb.QueryIntentRequest{Key: w.key, Txn: txn.TxnMeta, Sequence: w.seq}
	}
	for i, r := range t.sendPoints(ctx, txn, reqs, replicated) {
		switch {
		case r.err != nil:
			errs[i] = r.err
		case !r.resp.(*kvpb.QueryIntentResponse).Found:
			errs[i] = t.lostWriteError(ctx, txn, ws[i])
		default:
			tss[i] = r.resp.(*kvpb.QueryIntentResponse).Timestamp
			t.proven(ws[i])
		}
	}
	return tss, errs
}

// lostWriteError explains a pipelined write found missing: most often another transaction
// aborted this one (to break a deadlock, or by priority) and removed its intents, which the
// record tells; otherwise the write itself failed to replicate.
func (t *Txn) lostWriteError(ctx context.Context, txn *kvpb.Transaction, w inFlightWrite) error {
	q := &kvpb.QueryTxnRequest{Txn: txn.TxnMeta}
	if r := t.sendPoints(ctx, txn, []kvpb.Request{q}, replicated)[0]; r.err == nil {
		if rec := r.resp.(*kvpb.QueryTxnResponse).Txn; rec != nil && rec.Status == kvpb.Aborted {
			return kvpb.AbortedError(rec)
		}
	}
	return &kvpb.TransactionRetryError{Reason: kvpb.RetryAsyncWriteFailure, Key: w.key,
		Message: fmt.Sprintf("write number %d of the transaction was lost before it was replicated", w.seq)}
}
