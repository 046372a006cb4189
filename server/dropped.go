package server

import (
	"context"
	"time"
)

// droppedDataLoop removes, each GC interval, the data of tables dropped or truncated more
// than the GC TTL ago (sql.Server.ClearDroppedData): DROP TABLE and TRUNCATE only record the
// key space they leave, so that they cost one descriptor write whatever the table holds,
// and the data goes here, a whole span at a time. Every node runs the loop: clearing is
// idempotent, and a node that stops halfway leaves the record for the next pass.
func (n *Node) droppedDataLoop(ctx context.Context) error {
	t := time.NewTicker(n.store.GCInterval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		cleared, err := n.sql.ClearDroppedData(pctx, n.store.GCHorizon())
		cancel()
		if err != nil && ctx.Err() == nil {
			// The records stay: the next pass tries again.
			n.log.Warn("removing the data of dropped tables", "err", err)
		}
		if cleared > 0 {
			n.log.Info("removed the data of dropped tables", "key_spaces", cleared)
		}
	}
}
