package ranges

import (
	"sync"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// finalizedTxns remembers, for a while, how transactions ended whose intents this replica's
// lock waiters waited for. A waiter whose push finds the lock's holder finished does not
// resolve the intent in a round of consensus of its own before going on: the lock table
// lets it through, and its evaluation resolves the intent it meets in the batch of its own
// writes (see Replica.evaluateWrite). On a hot row each handover of the lock then costs one
// round of consensus, not two. The holder's own coordinator resolves its intents too, as
// before; whichever comes first does it, and the other finds nothing to do.
//
// The leaseholder of a transaction's record also remembers the transactions it saw finish
// there, and so remove their records (or never write one): a push that met one of their
// intents or locks before they finished, and reaches the record's range after, learns how
// it ended instead of writing a PENDING record, which nothing would ever remove.
type finalizedTxns struct {
	mu    sync.Mutex
	txns  map[mvcc.TxnID]finalizedTxn
	order []mvcc.TxnID // oldest first
}

type finalizedTxn struct {
	status  kvpb.TxnStatus
	ts      hlc.Timestamp // the commit timestamp
	ignored []mvcc.SeqRange
}

// maxFinalizedTxns bounds the memory: an entry is needed only between a waiter's push and
// its next evaluation.
const maxFinalizedTxns = 1024

func (f *finalizedTxns) add(rec *kvpb.Transaction) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.txns == nil {
		f.txns = make(map[mvcc.TxnID]finalizedTxn)
	}
	if _, ok := f.txns[rec.ID]; !ok {
		f.order = append(f.order, rec.ID)
	}
	f.txns[rec.ID] = finalizedTxn{status: rec.Status, ts: rec.WriteTimestamp, ignored: rec.IgnoredSeqNums}
	for len(f.order) > maxFinalizedTxns {
		delete(f.txns, f.order[0])
		f.order = f.order[1:]
	}
}

// get returns how transaction id ended, if it is known.
func (f *finalizedTxns) get(id mvcc.TxnID) (finalizedTxn, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ft, ok := f.txns[id]
	return ft, ok
}

// allKnown reports whether every intent's transaction is known to have finished.
func (f *finalizedTxns) allKnown(intents []mvcc.Intent) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, in := range intents {
		if _, ok := f.txns[in.Txn.ID]; !ok {
			return false
		}
	}
	return len(intents) > 0
}

// resolve resolves intents of finished transactions (allKnown) in rw.
func (f *finalizedTxns) resolve(rw mvcc.ReadWriter, intents []mvcc.Intent) error {
	for _, in := range intents {
		f.mu.Lock()
		ft, ok := f.txns[in.Txn.ID]
		f.mu.Unlock()
		if !ok {
			continue // evicted meanwhile: the evaluation meets the intent again and waits
		}
		if _, err := mvcc.ResolveIntent(rw, in.Key, in.Txn.ID, ft.status == kvpb.Committed, ft.ts, ft.ignored); err != nil {
			return err
		}
	}
	return nil
}
