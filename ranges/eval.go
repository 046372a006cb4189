package ranges

import (
	"context"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"
	"github.com/hashicorp/raft"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// evalContext is the state of one batch evaluation.
type evalContext struct {
	r     *Replica
	ba    *kvpb.BatchRequest
	rw    mvcc.ReadWriter
	txn   *kvpb.Transaction // mutable copy; nil for non-transactional batches
	meta  *mvcc.TxnMeta     // the meta written into intents; nil when writing committed values
	write hlc.Timestamp     // where this batch writes
	local hlc.Timestamp     // the local timestamp of what it writes (see mvcc.Put)
	// locked are the keys its locking reads lock, to be locked in the lock table once it
	// has evaluated.
	locked [][]byte
}

func (r *Replica) readOptions(ba *kvpb.BatchRequest) mvcc.ReadOptions {
	opts := mvcc.ReadOptions{Uncertainty: r.uncertaintyInterval(ba), Uncommitted: ba.Uncommitted}
	if ba.Txn != nil {
		opts.Txn, opts.Ignored = &ba.Txn.TxnMeta, ba.Txn.IgnoredSeqNums
	}
	return opts
}

func txnIDOf(ba *kvpb.BatchRequest) mvcc.TxnID {
	if ba.Txn == nil {
		return mvcc.TxnID{}
	}
	return ba.Txn.ID
}

// evaluateRead serves a read-only batch from Pebble directly: the latches guarantee that every
// conflicting write has been applied, so no Raft round trip is needed.
func (r *Replica) evaluateRead(ctx context.Context, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error) {
	br := &kvpb.BatchResponse{Txn: ba.Txn.Clone(), Timestamp: ba.Timestamp}
	opts := r.readOptions(ba)
	snap := r.store.db.NewSnapshot()
	defer snap.Close()
	rd := mvcc.Shared(snap)
	defer rd.CloseIter()
	for _, req := range ba.Requests {
		resp, err := r.evalRead(rd, ba, req, opts)
		if err != nil {
			return nil, err
		}
		br.Responses = append(br.Responses, resp)
	}
	r.recordReads(ba, br, ba.Timestamp)
	return br, nil
}

func (r *Replica) evalRead(rd pebble.Reader, ba *kvpb.BatchRequest, req kvpb.Request, opts mvcc.ReadOptions) (kvpb.Response, error) {
	switch t := req.(type) {
	case *kvpb.GetRequest:
		kv, err := mvcc.Get(rd, t.Key, ba.Timestamp, opts)
		if err != nil {
			return nil, err
		}
		return &kvpb.GetResponse{Value: kv}, nil
	case *kvpb.ScanRequest:
		res, err := mvcc.Scan(rd, t.Key, t.EndKey, ba.Timestamp, mvcc.ScanOptions{ReadOptions: opts, MaxKeys: t.MaxKeys, Reverse: t.Reverse})
		if err != nil {
			return nil, err
		}
		return &kvpb.ScanResponse{KVs: res.KVs, ResumeKey: res.ResumeKey}, nil
	case *kvpb.QueryTxnRequest:
		rec, err := readTxnRecord(rd, t.Txn.Key, t.Txn.ID)
		if err != nil {
			return nil, err
		}
		resp := &kvpb.QueryTxnResponse{Txn: rec, Found: rec != nil}
		if t.WaitingTxns {
			resp.Waiting = r.txnWait.waitsInto(t.Txn.ID)
		}
		return resp, nil
	case *kvpb.QueryIntentRequest:
		in, err := mvcc.IntentOf(rd, t.Key, t.Txn.ID)
		if err != nil {
			return nil, err
		}
		if in == nil || in.Sequence < t.Sequence {
			return &kvpb.QueryIntentResponse{}, nil
		}
		return &kvpb.QueryIntentResponse{Found: true, Timestamp: in.WriteTimestamp}, nil
	case *kvpb.RefreshRequest:
		if ba.Txn == nil {
			return nil, errors.New("refresh outside a transaction")
		}
		if err := mvcc.CheckNoNewerWrites(rd, t.Key, t.EndKey, t.From, ba.Timestamp, ba.Txn.ID); err != nil {
			var rce *mvcc.RefreshConflictError
			if errors.As(err, &rce) {
				return nil, &kvpb.TransactionRetryError{Reason: kvpb.RetrySerializable,
					Message:     fmt.Sprintf("a read is no longer valid at %s: the key was written at %s", ba.Timestamp, rce.Timestamp),
					Key:         rce.Key,
					Conflicting: &kvpb.ConflictingTxn{ID: rce.Txn, Timestamp: rce.Timestamp}}
			}
			return nil, err
		}
		return &kvpb.RefreshResponse{}, nil
	}
	return nil, fmt.Errorf("unexpected read request %T", req)
}

// recordReads remembers the reads served in br in the timestamp cache at ts, so that no later
// write lands at or below ts on what they read.
func (r *Replica) recordReads(ba *kvpb.BatchRequest, br *kvpb.BatchResponse, ts hlc.Timestamp) {
	id := txnIDOf(ba)
	for i, req := range ba.Requests {
		switch t := req.(type) {
		case *kvpb.GetRequest:
			r.tsc.add(kvpb.Span{Key: t.Key}, ts, id)
		case *kvpb.ScanRequest:
			r.tsc.add(scannedSpan(t, br.Responses[i]), ts, id)
		case *kvpb.RefreshRequest:
			r.tsc.add(t.Span, ts, id)
		case *kvpb.QueryIntentRequest:
			if qr := br.Responses[i].(*kvpb.QueryIntentResponse); t.Prevent && (!qr.Found || t.Txn.WriteTimestamp.Less(qr.Timestamp)) {
				// A missing in-flight write can no longer land at or below the staging
				// timestamp: status recovery has ruled it out.
				r.tsc.add(kvpb.Span{Key: t.Key}, t.Txn.WriteTimestamp, mvcc.TxnID{})
			}
		}
	}
}

// scannedSpan is the part of a scan's span it read: a limited scan only read up to where it
// stopped.
func scannedSpan(sc *kvpb.ScanRequest, resp kvpb.Response) kvpb.Span {
	var resume []byte
	if sr, ok := resp.(*kvpb.ScanResponse); ok {
		resume = sr.ResumeKey
	}
	return sc.ScannedSpan(resume)
}

// maxEvalAttempts bounds re-evaluation after WriteTooOld pushes within one batch.
const maxEvalAttempts = 10

// evaluateWrite evaluates a batch that writes, proposing its effects through Raft (or, for a
// pipelined batch, handing them to Raft and returning the pending application). now is this
// node's physical clock, read under the batch's latches: the local timestamp of the values it
// writes.
func (r *Replica) evaluateWrite(ctx context.Context, ba *kvpb.BatchRequest, now hlc.Timestamp) (*kvpb.BatchResponse, raft.ApplyFuture, error) {
	onePC := r.canOnePhaseCommit(ba)
	writeTS := ba.Timestamp
	if ba.Txn != nil {
		writeTS = ba.Txn.WriteTimestamp
	}
	// No write may land at or below a timestamp another transaction has read at.
	id := txnIDOf(ba)
	for _, req := range ba.Requests {
		if writesIntents(req) {
			if max := r.tsc.maxRead(req.Header().Key, id, writeTS); !max.Less(writeTS) {
				writeTS = max.Next()
			}
		}
	}
	// resolve are intents of finished transactions met by an earlier attempt, which the
	// next resolves in its own batch before evaluating (see finalizedTxns).
	var resolve []mvcc.Intent
	for attempt := 0; ; attempt++ {
		br, batch, locked, err := r.evalWriteAt(ba, writeTS, now, onePC, resolve)
		var wto *mvcc.WriteTooOldError
		if errors.As(err, &wto) && attempt < maxEvalAttempts {
			batch.Close()
			writeTS = writeTS.Forward(wto.ActualTimestamp)
			continue
		}
		var wie *mvcc.WriteIntentError
		if errors.As(err, &wie) && attempt < maxEvalAttempts && r.finalized.allKnown(wie.Intents) {
			batch.Close()
			resolve = append(resolve, wie.Intents...)
			continue
		}
		if err != nil {
			batch.Close()
			return nil, nil, err
		}
		defer batch.Close()
		if ba.Txn != nil && ba.Txn.WriteTimestamp.Less(writeTS) {
			if at, ok := replayedAt(batch, ba); ok {
				br.Txn.WriteTimestamp = at
			}
		}
		if onePC && writeTS != ba.Txn.ReadTimestamp {
			// The reads the transaction made are only valid at its read timestamp; the
			// coordinator must refresh them before committing higher.
			return nil, nil, &kvpb.TxnPushedError{PushedTo: writeTS}
		}
		// Under the latches, so that no conflicting write evaluates between the check for
		// others' locks and these.
		if len(locked) > 0 {
			r.locks.acquire(locked, br.Txn.TxnMeta)
		}
		// The reads of a batch that writes are locking reads (or a transaction's reads
		// beside its writes): recorded at the write timestamp, where the locks are, so that
		// no one writes below it a key the transaction read as empty, or a gap of a scan,
		// that no lock holds.
		if !batch.Empty() && pipelinable(ba) {
			pending := r.submit(ctx, command{repr: batch.Repr()}, proposalTimeout)
			r.recordReads(ba, br, writeTS)
			return br, pending, nil
		}
		if !batch.Empty() {
			if err := r.propose(ctx, command{repr: batch.Repr()}); err != nil {
				return nil, nil, err
			}
		}
		r.afterWrite(ba, !batch.Empty())
		r.recordReads(ba, br, writeTS)
		return br, nil, nil
	}
}

// replayedAt reports, for a transactional batch of point writes that was pushed above its
// timestamp, whether every write was a replay (the batch sent again after its answer was
// lost: a DistSender retry at a new leaseholder, whose timestamp cache starts high), and if
// so the highest timestamp its intents lie at. A replay writes nothing, so the batch's
// writes are where the first attempt put them, and its answer must say so: a parallel
// commit whose in-flight write seemed pushed would take itself for not committed, and fail
// with a retry error, when every write was in place at the staged timestamp and a status
// recovery can (and may already) commit it. rw holds the batch's evaluation.
func replayedAt(rw pebble.Reader, ba *kvpb.BatchRequest) (hlc.Timestamp, bool) {
	var at hlc.Timestamp
	for _, req := range ba.Requests {
		switch req.(type) {
		case *kvpb.PutRequest, *kvpb.ConditionalPutRequest, *kvpb.DeleteRequest:
		default:
			return hlc.Timestamp{}, false
		}
		seq := *kvpb.IntentSequence(req)
		in, err := mvcc.IntentOf(rw, req.Header().Key, ba.Txn.ID)
		if err != nil || in == nil || seq == 0 || in.Sequence < seq {
			return hlc.Timestamp{}, false
		}
		// An intent this evaluation wrote lies at the pushed timestamp, and keeps it.
		at = at.Forward(in.WriteTimestamp)
	}
	return at, !at.IsEmpty()
}

// pipelinable reports whether a batch may be answered before its writes are replicated:
// point writes of a transaction that asked for it (and no commit, which is only done once
// replicated).
func pipelinable(ba *kvpb.BatchRequest) bool {
	if !ba.AsyncConsensus || ba.Txn == nil {
		return false
	}
	for _, req := range ba.Requests {
		if !kvpb.IsPointWrite(req) {
			return false
		}
	}
	return true
}

// writesIntents reports whether req locks the keys it names: data writes, which leave intents
// (or, outside a transaction, values) there, and exclusive locking reads, which lock them in
// the lock table. Either must wait for other transactions' locks.
func writesIntents(req kvpb.Request) bool {
	switch t := req.(type) {
	case *kvpb.GetRequest:
		return t.Locking == kvpb.LockExclusive
	case *kvpb.ScanRequest:
		return t.Locking == kvpb.LockExclusive
	}
	return isDataWrite(req)
}

func isDataWrite(req kvpb.Request) bool {
	switch req.(type) {
	case *kvpb.PutRequest, *kvpb.ConditionalPutRequest, *kvpb.DeleteRequest, *kvpb.DeleteRangeRequest, *kvpb.IncrementRequest:
		return true
	}
	return false
}

// canOnePhaseCommit reports whether the batch holds every write of its transaction together
// with the commit, all on this range: then the writes can be applied as committed values in
// one Raft round, with no intents and no transaction record.
func (r *Replica) canOnePhaseCommit(ba *kvpb.BatchRequest) bool {
	if ba.Txn == nil || len(ba.Requests) == 0 {
		return false
	}
	et, ok := ba.Requests[len(ba.Requests)-1].(*kvpb.EndTxnRequest)
	if !ok || !et.Commit || ba.Txn.Epoch != 0 || len(et.InFlightWrites) > 0 {
		// A staging commit (parallel commits) has writes elsewhere, or earlier ones in
		// flight, perhaps on this batch's very keys (a lock, FOR UPDATE, then the write).
		return false
	}
	// Every lock span must be written by this very batch (no earlier intents exist). A set
	// of the batch's write spans keeps this linear in the batch's size: a statement writing
	// 100,000 rows in one batch lists as many lock spans.
	type spanKey struct{ key, endKey string }
	written := make(map[spanKey]bool, len(ba.Requests)-1)
	for _, req := range ba.Requests[:len(ba.Requests)-1] {
		if isDataWrite(req) {
			h := req.Header()
			written[spanKey{string(h.Key), string(h.EndKey)}] = true
		}
	}
	for _, sp := range et.LockSpans {
		if !written[spanKey{string(sp.Key), string(sp.EndKey)}] {
			return false
		}
	}
	return true
}

// evalWriteAt evaluates ba at writeTS into a new batch, which the caller closes. It also
// returns the keys ba's locking reads lock, for the caller to lock in the lock table.
func (r *Replica) evalWriteAt(ba *kvpb.BatchRequest, writeTS, local hlc.Timestamp, onePC bool, resolve []mvcc.Intent) (*kvpb.BatchResponse, *pebble.Batch, [][]byte, error) {
	batch := r.store.db.NewIndexedBatch()
	if err := r.checkUnreplicatedLocks(ba); err != nil {
		return nil, batch, nil, err
	}
	rw := mvcc.SharedWriter(batch)
	defer rw.CloseIter() // before the caller proposes or closes the batch
	if err := r.finalized.resolve(rw, resolve); err != nil {
		return nil, batch, nil, err
	}
	ec := &evalContext{r: r, ba: ba, rw: rw, write: writeTS, local: local}
	if ba.Txn != nil {
		ec.txn = ba.Txn.Clone()
		ec.txn.WriteTimestamp = writeTS
		if !onePC {
			ec.meta = &ec.txn.TxnMeta
		}
	}
	br := &kvpb.BatchResponse{Timestamp: writeTS}
	opts := r.readOptions(ba)
	for _, req := range ba.Requests {
		var resp kvpb.Response
		var err error
		if !req.IsWrite() {
			resp, err = r.evalRead(rw, ba, req, opts)
		} else {
			resp, err = ec.evalWrite(req, onePC)
		}
		if err != nil {
			return nil, batch, nil, err
		}
		br.Responses = append(br.Responses, resp)
	}
	br.Txn = ec.txn
	return br, batch, ec.locked, nil
}

// checkUnreplicatedLocks fails with a WriteIntentError naming the lock if a request of ba
// that would lock or write a key meets another transaction's unreplicated lock on it; the
// caller waits for it like for an intent. A lock whose holder is known to have finished
// is released on the way.
func (r *Replica) checkUnreplicatedLocks(ba *kvpb.BatchRequest) error {
	id := txnIDOf(ba)
	for _, req := range ba.Requests {
		if !writesIntents(req) {
			continue
		}
		for {
			key, holder, ok := r.locks.heldBy(req.Header(), id)
			if !ok {
				break
			}
			in := mvcc.Intent{Key: key, Txn: holder}
			if !r.finalized.allKnown([]mvcc.Intent{in}) {
				return &mvcc.WriteIntentError{Intents: []mvcc.Intent{in}}
			}
			r.locks.released(kvpb.Span{Key: key}, holder.ID)
		}
	}
	return nil
}

func (ec *evalContext) evalWrite(req kvpb.Request, onePC bool) (kvpb.Response, error) {
	switch t := req.(type) {
	case *kvpb.PutRequest:
		return &kvpb.PutResponse{}, mvcc.Put(ec.rw, t.Key, ec.write, ec.local, t.Value, ec.numbered(t.Sequence))
	case *kvpb.ConditionalPutRequest:
		err := mvcc.ConditionalPut(ec.rw, t.Key, ec.write, ec.local, t.Value, ec.numbered(t.Sequence), t.ExpectAbsent, ec.ignored())
		var cfe *mvcc.ConditionFailedError
		if errors.As(err, &cfe) && ec.ba.Txn != nil && ec.ba.Timestamp.Less(cfe.Timestamp) {
			// The value was committed after this transaction's snapshot, which saw the key
			// absent: not a duplicate in any serial order, but a conflict (PostgreSQL says
			// 40001 here too, not 23505).
			return nil, &kvpb.TransactionRetryError{Reason: kvpb.RetrySerializable,
				Message:     fmt.Sprintf("the key was written at %s by a concurrent transaction, after this transaction's snapshot at %s", cfe.Timestamp, ec.ba.Timestamp),
				Key:         t.Key,
				Conflicting: &kvpb.ConflictingTxn{Timestamp: cfe.Timestamp}}
		}
		return &kvpb.ConditionalPutResponse{}, err
	case *kvpb.DeleteRequest:
		return &kvpb.DeleteResponse{}, mvcc.Delete(ec.rw, t.Key, ec.write, ec.local, ec.numbered(t.Sequence))
	case *kvpb.DeleteRangeRequest:
		res, err := mvcc.Scan(ec.rw, t.Key, t.EndKey, ec.ba.Timestamp, mvcc.ScanOptions{ReadOptions: ec.r.readOptions(ec.ba)})
		if err != nil {
			return nil, err
		}
		resp := &kvpb.DeleteRangeResponse{}
		meta := ec.numbered(t.Sequence)
		for _, kv := range res.KVs {
			if err := mvcc.Delete(ec.rw, kv.Key, ec.write, ec.local, meta); err != nil {
				return nil, err
			}
			resp.Keys = append(resp.Keys, kv.Key)
		}
		return resp, nil
	case *kvpb.IncrementRequest:
		return ec.increment(t)
	case *kvpb.GetRequest, *kvpb.ScanRequest:
		return ec.lockingRead(req)
	case *kvpb.EndTxnRequest:
		if onePC {
			return ec.onePhaseCommit()
		}
		return ec.endTxn(t)
	case *kvpb.HeartbeatTxnRequest:
		return ec.heartbeatTxn(t)
	case *kvpb.PushTxnRequest:
		return ec.pushTxn(t)
	case *kvpb.RecoverTxnRequest:
		return ec.recoverTxn(t)
	case *kvpb.ResolveIntentRequest:
		n, err := resolveSpan(ec.rw, t.Span, t.Txn.ID, t.Status, t.CommitTS, t.IgnoredSeqNums)
		return &kvpb.ResolveIntentResponse{Resolved: n}, err
	case *kvpb.RemoveTxnRecordRequest:
		return ec.removeTxnRecord(t)
	case *kvpb.GCRequest:
		return ec.gc(t)
	case *kvpb.ClearRangeRequest:
		return ec.clearRange(t)
	}
	return nil, fmt.Errorf("unexpected write request %T", req)
}

// increment allocates values of the counter at t.Key from its newest value. Outside a
// transaction the batch writes at ec.write: a newer committed value makes the write too old,
// and the evaluation is retried above it, so the value read is always the newest.
func (ec *evalContext) increment(t *kvpb.IncrementRequest) (kvpb.Response, error) {
	if ec.ba.Txn != nil {
		return nil, errors.New("an increment is only sent outside a transaction")
	}
	if t.Increment == 0 || t.Min > t.Max {
		return nil, fmt.Errorf("malformed increment of key %q", t.Key)
	}
	kv, err := mvcc.Get(ec.rw, t.Key, ec.write, mvcc.ReadOptions{})
	if err != nil {
		return nil, err
	}
	var present *kvpb.CounterState
	if kv != nil {
		st, err := kvpb.DecodeCounterState(kv.Value)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", t.Key, err)
		}
		present = &st
	}
	resp, next := t.Allocate(present)
	if resp.Count == 0 {
		return &resp, nil
	}
	return &resp, mvcc.Put(ec.rw, t.Key, ec.write, ec.local, next.Encode(), nil)
}

// numbered is the meta for an intent written by the request with sequence number seq (nil
// when the batch writes committed values).
func (ec *evalContext) numbered(seq int32) *mvcc.TxnMeta {
	if ec.meta == nil {
		return nil
	}
	m := *ec.meta
	m.Sequence = seq
	return &m
}

// ignored are the batch's transaction's rolled-back write numbers.
func (ec *evalContext) ignored() []mvcc.SeqRange {
	if ec.txn == nil {
		return nil
	}
	return ec.txn.IgnoredSeqNums
}

// lockingRead serves a read that locks what it returns (FOR UPDATE): every row read gets an
// unreplicated lock (see lockTable), taken once the batch has evaluated. It waits for other
// transactions' intents on its keys, at any timestamp, as a write would. A lock is only
// worth having on the newest value. If one was committed above the transaction's read
// timestamp (typically by the holder of the lock it just waited for), the rows are read
// again at the batch's write timestamp, above that value (the batch is first evaluated
// again higher if need be), and locked there; the batch's answer carries that write
// timestamp, and the coordinator moves the transaction's reads up to it, if they are still
// valid there, before it uses the rows. The lock is taken either way: a read that failed
// instead and came back after the refresh would find the row taken by the next waiter, and
// a queue of waiters would each fail once for every one served before it.
func (ec *evalContext) lockingRead(req kvpb.Request) (kvpb.Response, error) {
	if ec.ba.Txn == nil {
		return nil, errors.New("a locking read needs a transaction")
	}
	resp, err := ec.r.evalRead(ec.rw, ec.ba, req, ec.r.readOptions(ec.ba))
	if err != nil {
		return nil, err
	}
	h := req.Header()
	if sc, ok := req.(*kvpb.ScanRequest); ok {
		h = scannedSpan(sc, resp)
	}
	newest, err := mvcc.NewestAbove(ec.rw, h.Key, h.EndKey, ec.ba.Timestamp, ec.txn.ID)
	if err != nil {
		return nil, err
	}
	if !newest.IsEmpty() {
		if !newest.Less(ec.write) {
			return nil, &mvcc.WriteTooOldError{Timestamp: ec.write, ActualTimestamp: newest.Next()}
		}
		at := *ec.ba
		at.Timestamp = ec.write
		if resp, err = ec.r.evalRead(ec.rw, &at, req, ec.r.readOptions(&at)); err != nil {
			return nil, err
		}
	}
	var rows []mvcc.KeyValue
	switch t := resp.(type) {
	case *kvpb.GetResponse:
		if t.Value != nil {
			rows = []mvcc.KeyValue{*t.Value}
		}
	case *kvpb.ScanResponse:
		rows = t.KVs
	}
	for _, kv := range rows {
		ec.locked = append(ec.locked, kv.Key)
	}
	return resp, nil
}

// resolveSpan resolves transaction id's intents in sp (see kvpb.ResolveIntentRequest).
func resolveSpan(rw mvcc.ReadWriter, sp kvpb.Span, id mvcc.TxnID, status kvpb.TxnStatus, commitTS hlc.Timestamp, ignored []mvcc.SeqRange) (int, error) {
	if status == kvpb.Pending {
		if len(sp.EndKey) > 0 {
			return 0, fmt.Errorf("pushing intents over a span is not supported")
		}
		ok, err := mvcc.PushIntent(rw, sp.Key, id, commitTS)
		if ok {
			return 1, err
		}
		return 0, err
	}
	commit := status == kvpb.Committed
	if len(sp.EndKey) == 0 {
		ok, err := mvcc.ResolveIntent(rw, sp.Key, id, commit, commitTS, ignored)
		if ok {
			return 1, err
		}
		return 0, err
	}
	return mvcc.ResolveIntentRange(rw, sp.Key, sp.EndKey, id, commit, commitTS, ignored)
}

// endTxn finalizes the transaction record, or stages it (parallel commits). Intents on this
// range are resolved in the same batch; if that covers every intent, no record needs to stay
// behind.
func (ec *evalContext) endTxn(t *kvpb.EndTxnRequest) (kvpb.Response, error) {
	txn := ec.txn
	rec, err := readTxnRecord(ec.rw, txn.Key, txn.ID)
	if err != nil {
		return nil, err
	}
	if rec != nil {
		switch rec.Status {
		case kvpb.Aborted:
			if !t.Commit {
				break
			}
			return nil, kvpb.AbortedError(rec)
		case kvpb.Committed:
			if t.Commit {
				// A retried commit that already happened: the record lists what it left.
				return &kvpb.EndTxnResponse{Unresolved: rec.LockSpans}, nil
			}
			return nil, fmt.Errorf("cannot abort committed transaction %x", txn.ID)
		}
		// A STAGING record is its coordinator's to finish either way: it knows whether its
		// in-flight writes succeeded.
	}
	status := kvpb.Aborted
	if t.Commit {
		if rec == nil && ec.r.store.recordMayBeGone(&txn.TxnMeta) {
			return nil, kvpb.AbortedError(recordGone(txn))
		}
		if rec != nil && rec.Status == kvpb.Pending && ec.txn.WriteTimestamp.Less(rec.WriteTimestamp) {
			// A reader pushed the transaction: it must commit above that read.
			return nil, &kvpb.TxnPushedError{PushedTo: rec.WriteTimestamp}
		}
		if ec.txn.ReadTimestamp.Less(ec.txn.WriteTimestamp) {
			return nil, &kvpb.TxnPushedError{PushedTo: ec.txn.WriteTimestamp}
		}
		status = kvpb.Committed
	}
	if t.Commit && len(t.InFlightWrites) > 0 {
		// STAGING: committed once every in-flight write is in place at this timestamp, which
		// its coordinator learns from their responses and anyone else by status recovery.
		// Nothing is resolved yet.
		txn.Status = kvpb.Staging
		txn.LockSpans = t.LockSpans
		txn.InFlightWrites = t.InFlightWrites
		txn.LastHeartbeat = txn.LastHeartbeat.Forward(ec.r.store.cfg.Clock.Now())
		return &kvpb.EndTxnResponse{}, writeTxnRecord(ec.rw, txn)
	}
	txn.InFlightWrites = nil
	remote, err := ec.finalize(txn, status, t.LockSpans, false)
	return &kvpb.EndTxnResponse{Unresolved: remote}, err
}

// onePhaseCommit ends a transaction whose writes, all in this batch, are written as
// committed values. It has no intents, but it may have a record: written by its heartbeat
// (it held locks for a while), or by someone who pushed it over a lock. An ABORTED one stops
// the commit; any other goes, or it would stay for good.
func (ec *evalContext) onePhaseCommit() (kvpb.Response, error) {
	rec, err := readTxnRecord(ec.rw, ec.txn.Key, ec.txn.ID)
	if err != nil {
		return nil, err
	}
	if rec != nil {
		if rec.Status == kvpb.Aborted {
			return nil, kvpb.AbortedError(rec)
		}
		if err := deleteTxnRecord(ec.rw, &ec.txn.TxnMeta); err != nil {
			return nil, err
		}
	}
	return &kvpb.EndTxnResponse{OnePhaseCommit: true}, nil
}

// finalize gives txn's record its final status, resolving the intents in lockSpans that lie
// on this range. The record goes away if that was all of them, unless keep (an aborted
// record stays, so that a write still in flight cannot revive the transaction). It returns
// the lock spans left to resolve elsewhere.
func (ec *evalContext) finalize(txn *kvpb.Transaction, status kvpb.TxnStatus, lockSpans []kvpb.Span, keep bool) ([]kvpb.Span, error) {
	desc := ec.r.Desc()
	var remote []kvpb.Span
	for _, sp := range lockSpans {
		if desc.ContainsKey(sp.Key) && (len(sp.EndKey) == 0 || string(sp.EndKey) <= string(desc.EndKey)) {
			if _, err := resolveSpan(ec.rw, sp, txn.ID, status, txn.WriteTimestamp, txn.IgnoredSeqNums); err != nil {
				return nil, err
			}
			continue
		}
		remote = append(remote, sp)
	}
	if len(remote) == 0 && !keep {
		return nil, deleteTxnRecord(ec.rw, &txn.TxnMeta)
	}
	txn.Status = status
	txn.LockSpans = remote
	return remote, writeTxnRecord(ec.rw, txn)
}

// recoverTxn finishes an abandoned STAGING transaction as status recovery decided.
func (ec *evalContext) recoverTxn(t *kvpb.RecoverTxnRequest) (kvpb.Response, error) {
	rec, err := readTxnRecord(ec.rw, t.Txn.Key, t.Txn.ID)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		// The recovery read the record STAGING, and only finalization removes a STAGING
		// record, with every intent it listed resolved (see finalize): the transaction is
		// finished. If every in-flight write was found it committed; otherwise it may have
		// gone either way (a concurrent recovery that committed it resolved the write this
		// one found missing), and nothing is written, so that no record claims an outcome
		// nobody knows. Its intents being gone, a pusher may take either answer.
		status := kvpb.Aborted
		if t.ImplicitlyCommitted {
			status = kvpb.Committed
		}
		return &kvpb.RecoverTxnResponse{Txn: &kvpb.Transaction{TxnMeta: t.Txn, Status: status, AbortReason: kvpb.RetryAborted}}, nil
	}
	if rec.Status != kvpb.Staging || rec.WriteTimestamp != t.Txn.WriteTimestamp {
		return &kvpb.RecoverTxnResponse{Txn: rec}, nil
	}
	status := kvpb.Committed
	if !t.ImplicitlyCommitted {
		// Proof, for the coordinator too, that the transaction did not commit: a write it
		// needed can no longer land where it would have counted.
		status, rec.AbortReason, rec.AbortKey = kvpb.Aborted, kvpb.RetryAsyncWriteFailure, t.MissingWrite
	}
	lockSpans := rec.LockSpans
	rec.InFlightWrites = nil
	if _, err := ec.finalize(rec, status, lockSpans, status == kvpb.Aborted); err != nil {
		return nil, err
	}
	rec.Status = status
	return &kvpb.RecoverTxnResponse{Txn: rec}, nil
}

func (ec *evalContext) heartbeatTxn(t *kvpb.HeartbeatTxnRequest) (kvpb.Response, error) {
	rec, err := readTxnRecord(ec.rw, ec.txn.Key, ec.txn.ID)
	if err != nil {
		return nil, err
	}
	if rec == nil && ec.r.store.recordMayBeGone(&ec.txn.TxnMeta) {
		return &kvpb.HeartbeatTxnResponse{Txn: recordGone(ec.txn)}, nil
	}
	if rec == nil {
		rec = ec.txn.Clone()
		rec.Status = kvpb.Pending
	}
	if rec.Status == kvpb.Pending {
		rec.LastHeartbeat = rec.LastHeartbeat.Forward(t.Now)
		if err := writeTxnRecord(ec.rw, rec); err != nil {
			return nil, err
		}
	}
	return &kvpb.HeartbeatTxnResponse{Txn: rec}, nil
}

// removeTxnRecord removes a finished transaction's record, its intents all resolved (see
// kvpb.RemoveTxnRecordRequest). Someone who meets the transaction afterwards finds no
// record, as after a commit that resolved every intent on the record's range: there are no
// intents of it left to meet, and a push that was already on its way when they were resolved
// finds the transaction as good as abandoned, and so harmless to abort.
func (ec *evalContext) removeTxnRecord(t *kvpb.RemoveTxnRecordRequest) (kvpb.Response, error) {
	rec, err := readTxnRecord(ec.rw, t.Txn.Key, t.Txn.ID)
	if err != nil || rec == nil || rec.Status != t.Status {
		return &kvpb.RemoveTxnRecordResponse{}, err
	}
	return &kvpb.RemoveTxnRecordResponse{Removed: true}, deleteTxnRecord(ec.rw, &t.Txn)
}

// pushTxn aborts a pending transaction that is abandoned (no heartbeat since ExpireBefore) or
// that the pusher may abort outright (Force).
func (ec *evalContext) pushTxn(t *kvpb.PushTxnRequest) (kvpb.Response, error) {
	rec, err := readTxnRecord(ec.rw, t.Pushee.Key, t.Pushee.ID)
	if err != nil {
		return nil, err
	}
	if ft, ok := ec.r.finalized.get(t.Pushee.ID); rec == nil && ok {
		rec = &kvpb.Transaction{TxnMeta: t.Pushee, Status: ft.status, IgnoredSeqNums: ft.ignored}
		rec.WriteTimestamp = ft.ts
		return &kvpb.PushTxnResponse{Pushee: rec}, nil
	}
	if rec == nil && ec.r.store.recordMayBeGone(&t.Pushee) {
		// Its ABORTED record may have been collected: aborted it stays.
		rec = recordGone(&kvpb.Transaction{TxnMeta: t.Pushee})
		return &kvpb.PushTxnResponse{Pushee: rec}, writeTxnRecord(ec.rw, rec)
	}
	if rec == nil {
		// No record yet: the intent's write timestamp is the latest sign of life (a restarted
		// transaction keeps its old MinTimestamp, so that would look abandoned).
		rec = &kvpb.Transaction{TxnMeta: t.Pushee, Status: kvpb.Pending, LastHeartbeat: t.Pushee.WriteTimestamp.Forward(t.Pushee.MinTimestamp)}
	}
	if rec.Status.Finalized() || rec.Status == kvpb.Staging {
		// A STAGING transaction may already be committed at its timestamp: it can be
		// neither aborted nor moved, only waited for or recovered (see Replica.push).
		return &kvpb.PushTxnResponse{Pushee: rec}, nil
	}
	switch {
	case rec.LastHeartbeat.Forward(rec.MinTimestamp).Less(t.ExpireBefore):
		rec.Status, rec.AbortReason = kvpb.Aborted, kvpb.RetryAborted
	case !t.PushTo.IsEmpty():
		if !rec.WriteTimestamp.Less(t.PushTo) {
			return &kvpb.PushTxnResponse{Pushee: rec}, nil
		}
		rec.WriteTimestamp = t.PushTo
	case t.Force || t.Pusher != nil && canPushWithPriority(t.Pusher.Priority, rec.Priority):
		rec.Status, rec.AbortReason = kvpb.Aborted, t.Reason
		if t.Pusher != nil && t.Key != nil {
			rec.AbortKey = t.Key
			rec.AbortedBy = &kvpb.ConflictingTxn{ID: t.Pusher.ID, Timestamp: t.Pusher.WriteTimestamp}
		}
	default:
		return &kvpb.PushTxnResponse{Pushee: rec}, nil
	}
	if err := writeTxnRecord(ec.rw, rec); err != nil {
		return nil, err
	}
	return &kvpb.PushTxnResponse{Pushee: rec}, nil
}

// gc removes versions no read above the threshold can see, and raises the range's GC
// threshold in the same batch so that no read below it is served afterwards.
func (ec *evalContext) gc(t *kvpb.GCRequest) (kvpb.Response, error) {
	cfg := &ec.r.store.cfg
	records, err := collectTxnRecords(ec.rw, ec.r.Desc(), cfg.Clock.Now().Add(-int64(cfg.TxnRecordTTL)))
	if err != nil {
		return nil, err
	}
	th, err := ec.r.gcThreshold()
	if err != nil {
		return nil, err
	}
	if t.Threshold.LessEq(th) {
		return &kvpb.GCResponse{TxnRecordsRemoved: records}, nil
	}
	// Readers at or below the new threshold are refused from now on (the batch is applied
	// under this request's latches before any later read evaluates).
	ec.r.gcThresholdWall.Store(t.Threshold.WallTime)
	if err := mvcc.PutUnversioned(ec.rw, keys.RangeGCThresholdKey(ec.r.rangeID), encodeTimestamp(t.Threshold)); err != nil {
		return nil, err
	}
	st, err := mvcc.GC(ec.rw, t.Key, t.EndKey, t.Threshold)
	return &kvpb.GCResponse{Removed: int(st.VersionsRemoved), TxnRecordsRemoved: records}, err
}

// clearRange deletes every version of every key of the request's span with one range
// deletion, after raising the range's GC threshold to the request's threshold, so that no
// read that could have seen the data is served from the emptied span afterwards. Unlike a
// DeleteRange it neither reads the keys nor leaves a tombstone per key: its cost does not
// grow with the data, and it is what frees the space of a dropped or truncated table.
func (ec *evalContext) clearRange(t *kvpb.ClearRangeRequest) (kvpb.Response, error) {
	if ec.ba.Txn != nil {
		return nil, errors.New("a ClearRange is only sent outside a transaction")
	}
	desc := ec.r.Desc()
	if !desc.ContainsKey(t.Key) || len(t.EndKey) == 0 || string(t.EndKey) > string(desc.EndKey) {
		return nil, fmt.Errorf("ClearRange of %s does not lie on r%d", t.Span, ec.r.rangeID)
	}
	th, err := ec.r.gcThreshold()
	if err != nil {
		return nil, err
	}
	if th.Less(t.Threshold) {
		// As for a GC request: readers at or below the threshold are refused from now on.
		ec.r.gcThresholdWall.Store(t.Threshold.WallTime)
		if err := mvcc.PutUnversioned(ec.rw, keys.RangeGCThresholdKey(ec.r.rangeID), encodeTimestamp(t.Threshold)); err != nil {
			return nil, err
		}
	}
	if err := mvcc.ClearRange(ec.rw, t.Key, t.EndKey); err != nil {
		return nil, fmt.Errorf("clearing %s: %w", t.Span, err)
	}
	return &kvpb.ClearRangeResponse{}, nil
}
