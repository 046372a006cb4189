package txn

import (
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
