package txn

import (
	"context"
	"time"

	"github.com/meridiandb/meridian/ranges/kvpb"
)

// startHeartbeat keeps the transaction's record alive while it holds intents, so that others
// who meet its intents wait for it instead of aborting it as abandoned.
func (t *Txn) startHeartbeat() {
	if t.stopHeartbeat != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.stopHeartbeat = func() {
		cancel()
		<-done
	}
	if !t.db.goAsync(func(dbCtx context.Context) {
		defer close(done)
		tick := time.NewTicker(t.db.HeartbeatInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-dbCtx.Done():
				return
			case <-tick.C:
			}
			txn := t.snapshot()
			d, err := t.db.lookup.RangeForKey(ctx, txn.Key)
			if err != nil {
				continue
			}
			t.heartbeatSent.Store(true)
			hb := &kvpb.HeartbeatTxnRequest{Now: t.db.clock.Now()}
			br, err := t.db.sender.Send(ctx, &kvpb.BatchRequest{Txn: txn, RangeID: d.RangeID, Requests: []kvpb.Request{hb}})
			if err != nil {
				continue
			}
			if rec := br.Responses[0].(*kvpb.HeartbeatTxnResponse).Txn; rec != nil && rec.Status == kvpb.Aborted {
				return // the next operation will find the record aborted
			}
		}
	}) {
		close(done)
	}
}
