package txn

import (
	"context"
	"fmt"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/kvpb"
)

// Increment allocates values of the counter at req.Key outside any transaction (see
// kvpb.IncrementRequest): whatever happens to the transaction that asked, the values stay
// taken. A failure after the request was sent may leave them taken too (an ambiguous
// result); the caller never sees the same value twice.
func (db *DB) Increment(ctx context.Context, req *kvpb.IncrementRequest) (kvpb.IncrementResponse, error) {
	resp, err := db.sendPointNonTxn(ctx, req)
	if err != nil {
		return kvpb.IncrementResponse{}, err
	}
	r, ok := resp.(*kvpb.IncrementResponse)
	if !ok {
		return kvpb.IncrementResponse{}, fmt.Errorf("txn: an increment was answered with %T", resp)
	}
	return *r, nil
}

// PutNonTxn writes value at key outside any transaction, at the leaseholder's present time
// (a counter's new state, for SQL's setval).
func (db *DB) PutNonTxn(ctx context.Context, key, value []byte) error {
	_, err := db.sendPointNonTxn(ctx, &kvpb.PutRequest{Key: key, Value: value})
	return err
}

// sendPointNonTxn sends one single-key request without transaction state to the range that
// holds its key, following splits and merges.
func (db *DB) sendPointNonTxn(ctx context.Context, req kvpb.Request) (kvpb.Response, error) {
	var resp kvpb.Response
	err := sendByRange(ctx, db.lookup, req.Header().Key, nil, func(d kvpb.RangeDescriptor, _ kvpb.Span) error {
		br, err := db.sender.Send(ctx, &kvpb.BatchRequest{RangeID: d.RangeID, Requests: []kvpb.Request{req}})
		if err != nil {
			return err
		}
		if len(br.Responses) != 1 {
			return fmt.Errorf("txn: %d responses to one request", len(br.Responses))
		}
		resp = br.Responses[0]
		return nil
	})
	return resp, err
}

// ClearRange removes all of [start, end), every version of every key, outside any
// transaction: one kvpb.ClearRangeRequest to each range the span covers, clipped to it. The
// ranges' GC thresholds are raised to threshold first (see kvpb.ClearRangeRequest). It is
// idempotent, so a caller that failed halfway sends it again.
func (db *DB) ClearRange(ctx context.Context, start, end []byte, threshold hlc.Timestamp) error {
	return sendByRange(ctx, db.lookup, start, end, func(d kvpb.RangeDescriptor, piece kvpb.Span) error {
		req := &kvpb.ClearRangeRequest{Span: piece, Threshold: threshold}
		if _, err := db.sender.Send(ctx, &kvpb.BatchRequest{RangeID: d.RangeID, Requests: []kvpb.Request{req}}); err != nil {
			return fmt.Errorf("clearing [%q, %q): %w", piece.Key, piece.EndKey, err)
		}
		return nil
	})
}

// SettleRecord finishes what the coordinator of an abandoned transaction left undone, from
// the transaction's record (a STAGING or COMMITTED record that has been silent for long:
// its coordinator died): a STAGING transaction is recovered (committed if every in-flight
// write landed, else aborted), the intents the record lists are resolved, and the record is
// removed. It is safe to run twice, or beside anyone else who does part of it.
func (db *DB) SettleRecord(ctx context.Context, rec *kvpb.Transaction) error {
	if rec.Status == kvpb.Staging {
		resp, err := db.sendPointNonTxn(ctx, &kvpb.PushTxnRequest{Pushee: rec.TxnMeta, Now: db.clock.Now(), Force: true})
		if err != nil {
			return fmt.Errorf("recovering: %w", err)
		}
		rec = resp.(*kvpb.PushTxnResponse).Pushee
	}
	if !rec.Status.Finalized() {
		return fmt.Errorf("the transaction is %s, not finished", rec.Status)
	}
	tmp := &Txn{db: db, proto: &kvpb.Transaction{}}
	for _, sp := range rec.LockSpans {
		res := &kvpb.ResolveIntentRequest{Span: sp, Txn: rec.TxnMeta, Status: rec.Status, CommitTS: rec.WriteTimestamp, IgnoredSeqNums: rec.IgnoredSeqNums}
		if err := tmp.sendOneNonTxn(ctx, res, nil); err != nil {
			return fmt.Errorf("resolving its intents in %s: %w", sp, err)
		}
	}
	_, err := db.sendPointNonTxn(ctx, &kvpb.RemoveTxnRecordRequest{Txn: rec.TxnMeta, Status: rec.Status})
	return err
}
