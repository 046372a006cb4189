package txn

import (
	"context"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/kvpb"
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
