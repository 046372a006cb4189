package txn

import (
	"context"
	"time"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// RecoverOwn lets the package's external tests settle a commit of unknown outcome as its
// coordinator does (recoverOwn).
func RecoverOwn(ctx context.Context, db *DB, txn *kvpb.Transaction) (*kvpb.Transaction, error) {
	return (&Txn{db: db}).recoverOwn(ctx, txn)
}

// Observed is the transaction's observation of node nodeID's clock, for the package's
// external tests.
func Observed(t *Txn, nodeID uint64) (hlc.Timestamp, bool) {
	return t.snapshot().ObservedTimestamp(nodeID)
}

// Meta is the transaction's identity and timestamps, for the package's external tests.
func Meta(t *Txn) mvcc.TxnMeta { return t.snapshot().TxnMeta }

// SetHoldLimit sets how long commits' background work waits for a HoldBackground release.
func SetHoldLimit(db *DB, d time.Duration) { db.holdLimit = d }
