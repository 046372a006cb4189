package ranges

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// conflictWaiter paces a request that waits for another transaction to finish.
type conflictWaiter struct {
	backoff time.Duration
}

func (w *conflictWaiter) wait(ctx context.Context) error {
	if w.backoff == 0 {
		w.backoff = time.Millisecond
	} else if w.backoff < 50*time.Millisecond {
		w.backoff *= 2
	}
	t := time.NewTimer(w.backoff)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// handleConflict deals with the intents of other transactions that blocked a request. An
// intent whose transaction has finished is resolved; an abandoned transaction is aborted and
// its intent removed. A live conflicting transaction is waited for if it is younger than the
// requester, and otherwise the requester restarts ("wait-die"): waits only ever go from older
// to younger transactions, so they can never form a cycle and deadlock.
//
// A reader never waits or restarts: it pushes the writer's timestamp above its read timestamp
// and moves the intent there, so it reads the value from before the write, as a snapshot
// would; the writer commits later and refreshes its reads (readTS is zero for writers).
func (s *Store) handleConflict(ctx context.Context, pusher *kvpb.Transaction, readTS hlc.Timestamp, intents []mvcc.Intent, w *conflictWaiter) error {
	for _, in := range intents {
		now := s.cfg.Clock.Now()
		push := &kvpb.PushTxnRequest{
			Pushee:       in.Txn,
			Now:          now,
			ExpireBefore: now.Add(-int64(s.cfg.TxnLivenessThreshold)),
		}
		isReader := !readTS.IsEmpty() && (pusher == nil || pusher.ID != in.Txn.ID)
		if isReader {
			push.PushTo = readTS.Next()
		}
		br, err := s.route(ctx, &kvpb.BatchRequest{Requests: []kvpb.Request{push}})
		if err != nil {
			return fmt.Errorf("pushing conflicting transaction %x: %w", in.Txn.ID[:4], err)
		}
		pushee := br.Responses[0].(*kvpb.PushTxnResponse).Pushee
		if pushee.Status.Finalized() {
			res := &kvpb.ResolveIntentRequest{Span: kvpb.Span{Key: in.Key}, Txn: in.Txn, Status: pushee.Status, CommitTS: pushee.WriteTimestamp}
			if _, err := s.route(ctx, &kvpb.BatchRequest{Requests: []kvpb.Request{res}}); err != nil {
				return fmt.Errorf("resolving intent on %q: %w", in.Key, err)
			}
			continue
		}
		if isReader && readTS.Less(pushee.WriteTimestamp) {
			res := &kvpb.ResolveIntentRequest{Span: kvpb.Span{Key: in.Key}, Txn: in.Txn, Status: kvpb.Pending, CommitTS: pushee.WriteTimestamp}
			if _, err := s.route(ctx, &kvpb.BatchRequest{Requests: []kvpb.Request{res}}); err != nil {
				return fmt.Errorf("moving intent on %q: %w", in.Key, err)
			}
			continue
		}
		if pusher != nil && pusher.ID == in.Txn.ID {
			return fmt.Errorf("transaction %x conflicts with its own intent on %q", in.Txn.ID[:4], in.Key)
		}
		if pusher != nil && !olderThan(&pusher.TxnMeta, &in.Txn) {
			return &kvpb.TransactionRetryError{Reason: kvpb.RetryConflict,
				Message: fmt.Sprintf("key %q is being written by a concurrent transaction (%x) that started earlier", in.Key, in.Txn.ID[:4])}
		}
		return w.wait(ctx)
	}
	return nil
}

// olderThan orders transactions by start time, then ID, for wait-die.
func olderThan(a, b *mvcc.TxnMeta) bool {
	if c := a.MinTimestamp.Compare(b.MinTimestamp); c != 0 {
		return c < 0
	}
	return bytes.Compare(a.ID[:], b.ID[:]) < 0
}
