package txn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/meridiandb/meridian/ranges/kvpb"
)

// isRangeKeyMismatch reports whether err says a batch went to a range that no longer holds
// its keys: the sender's descriptor was stale (the range split or merged after the lookup).
// Nothing of the batch was applied, so it is always safe to send again.
func isRangeKeyMismatch(err error) bool {
	var mismatch *kvpb.RangeKeyMismatchError
	return errors.As(err, &mismatch)
}

// awaitReroute is called before sending again, by fresh descriptors, a request that met a
// RangeKeyMismatchError; attempt counts the retries so far, from 0. The DistSender has
// already corrected its cache from the error, so a retry usually succeeds at once; the
// pause after a few attempts is for ranges that keep changing shape, or meta records that
// lag a split. Retrying is bounded by ctx alone: a split is routine and never the caller's
// error, so what ends the retries is the caller giving up, and that is what is returned.
func awaitReroute(ctx context.Context, attempt int, mismatch error) error {
	if attempt < 2 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("rerouting after %v: %w", mismatch, err)
		}
		return nil
	}
	if err := sleepCtx(ctx, time.Duration(min(attempt, 25))*10*time.Millisecond); err != nil {
		return fmt.Errorf("rerouting after %v: %w", mismatch, err)
	}
	return nil
}

// sendByRange walks [key, end) range by range, or sends to the range of key alone when end
// is empty, handing send each range's descriptor and its piece of the span. A range that
// changed shape since it was looked up makes the walk go on from the same key by fresh
// descriptors; the pieces already sent stay done. A mismatch means nothing of the batch was
// applied, so any request may be sent again for its piece.
func sendByRange(ctx context.Context, lookup RangeLookup, key, end []byte, send func(d kvpb.RangeDescriptor, piece kvpb.Span) error) error {
	for attempt := 0; ; {
		d, err := lookup.RangeForKey(ctx, key)
		if err != nil {
			return err
		}
		piece := kvpb.Span{Key: key, EndKey: end}
		if len(end) > 0 && len(d.EndKey) > 0 && bytes.Compare(d.EndKey, end) < 0 {
			piece.EndKey = d.EndKey
		}
		err = send(d, piece)
		if isRangeKeyMismatch(err) {
			if werr := awaitReroute(ctx, attempt, err); werr != nil {
				return werr
			}
			attempt++
			continue
		}
		if err != nil {
			return err
		}
		attempt = 0
		if len(end) == 0 || len(d.EndKey) == 0 || bytes.Compare(end, d.EndKey) <= 0 {
			return nil
		}
		key = d.EndKey
	}
}

// endTxnUnresolved is what an EndTxn left for its coordinator to resolve: the lock spans
// outside the range that evaluated it.
func endTxnUnresolved(br *kvpb.BatchResponse) []kvpb.Span {
	if br == nil || len(br.Responses) == 0 {
		return nil
	}
	if et, ok := br.Responses[len(br.Responses)-1].(*kvpb.EndTxnResponse); ok {
		return et.Unresolved
	}
	return nil
}
