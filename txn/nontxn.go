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
