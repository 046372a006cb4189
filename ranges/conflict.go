package ranges

import (
	"context"
	"fmt"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// pushWritersAbove clears the way for a read at readTS through other transactions' intents,
// without waiting: an intent whose transaction has finished is resolved; a live writer is
// pushed above readTS and its intent moved there, so the read sees the value from before
// the write, as a snapshot would. The writer commits later and refreshes its own reads.
// (Writers, in contrast, queue in the lock table.)
//
// It returns the transactions found uncommitted and pushed: their intents, now above the
// read timestamp but perhaps within its uncertainty interval, are not uncertain, since they
// commit (if ever) after this moment, which is after the reader began.
func (s *Store) pushWritersAbove(ctx context.Context, reader *kvpb.Transaction, readTS hlc.Timestamp, intents []mvcc.Intent) ([]mvcc.TxnID, error) {
	var uncommitted []mvcc.TxnID
	for _, in := range intents {
		if reader != nil && reader.ID == in.Txn.ID {
			return nil, fmt.Errorf("transaction %x conflicts with its own intent on %q", in.Txn.ID[:4], in.Key)
		}
		now := s.cfg.Clock.Now()
		push := &kvpb.PushTxnRequest{
			Pushee:       in.Txn,
			Now:          now,
			ExpireBefore: now.Add(-int64(s.cfg.TxnLivenessThreshold)),
			PushTo:       readTS.Next(),
		}
		if reader != nil {
			push.Pusher = &reader.TxnMeta
		}
		br, err := s.route(ctx, &kvpb.BatchRequest{Requests: []kvpb.Request{push}})
		if err != nil {
			return nil, fmt.Errorf("pushing conflicting transaction %x: %w", in.Txn.ID[:4], err)
		}
		pushee := br.Responses[0].(*kvpb.PushTxnResponse).Pushee
		status := pushee.Status
		if !status.Finalized() {
			if !readTS.Less(pushee.WriteTimestamp) {
				return nil, fmt.Errorf("transaction %x could not be pushed above %s", in.Txn.ID[:4], readTS)
			}
			status = kvpb.Pending // move the intent up
			uncommitted = append(uncommitted, in.Txn.ID)
		}
		if err := s.resolveIntent(ctx, in.Key, in.Txn, status, pushee.WriteTimestamp, pushee.IgnoredSeqNums); err != nil {
			return nil, err
		}
	}
	return uncommitted, nil
}

// resolveIntent settles txn's intent on key, wherever its range is: commits or aborts it for
// a finished transaction, or moves it up to ts for a pushed one (status Pending). ignored
// are the transaction's rolled-back write numbers, as its record has them.
func (s *Store) resolveIntent(ctx context.Context, key []byte, txn mvcc.TxnMeta, status kvpb.TxnStatus, ts hlc.Timestamp, ignored []mvcc.SeqRange) error {
	res := &kvpb.ResolveIntentRequest{Span: kvpb.Span{Key: key}, Txn: txn, Status: status, CommitTS: ts, IgnoredSeqNums: ignored}
	if _, err := s.route(ctx, &kvpb.BatchRequest{Requests: []kvpb.Request{res}}); err != nil {
		return fmt.Errorf("resolving intent on %q: %w", key, err)
	}
	return nil
}
