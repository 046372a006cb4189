package ranges

import (
	"context"
	"fmt"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// pushWritersAbove clears the way for a read through other transactions' intents, without
// waiting: an intent whose transaction has finished is resolved; a live writer is pushed
// above limit (the read's uncertainty limit: an intent below it conflicts with the read) and
// its intent moved there, so the read sees the value from before the write, as a snapshot
// would. The writer commits later and refreshes its own reads. (Writers, in contrast, queue
// in the lock table.)
func (s *Store) pushWritersAbove(ctx context.Context, reader *kvpb.Transaction, limit hlc.Timestamp, intents []mvcc.Intent) error {
	for _, in := range intents {
		if reader != nil && reader.ID == in.Txn.ID {
			return fmt.Errorf("transaction %x conflicts with its own intent on %q", in.Txn.ID[:4], in.Key)
		}
		now := s.cfg.Clock.Now()
		push := &kvpb.PushTxnRequest{
			Pushee:       in.Txn,
			Now:          now,
			ExpireBefore: now.Add(-int64(s.cfg.TxnLivenessThreshold)),
			PushTo:       limit.Next(),
		}
		if reader != nil {
			push.Pusher = &reader.TxnMeta
		}
		br, err := s.route(ctx, &kvpb.BatchRequest{Requests: []kvpb.Request{push}})
		if err != nil {
			return fmt.Errorf("pushing conflicting transaction %x: %w", in.Txn.ID[:4], err)
		}
		pushee := br.Responses[0].(*kvpb.PushTxnResponse).Pushee
		status := pushee.Status
		if !status.Finalized() {
			if !limit.Less(pushee.WriteTimestamp) {
				return fmt.Errorf("transaction %x could not be pushed above %s", in.Txn.ID[:4], limit)
			}
			status = kvpb.Pending // move the intent up
		}
		res := &kvpb.ResolveIntentRequest{Span: kvpb.Span{Key: in.Key}, Txn: in.Txn, Status: status, CommitTS: pushee.WriteTimestamp}
		if _, err := s.route(ctx, &kvpb.BatchRequest{Requests: []kvpb.Request{res}}); err != nil {
			return fmt.Errorf("resolving intent on %q: %w", in.Key, err)
		}
	}
	return nil
}
