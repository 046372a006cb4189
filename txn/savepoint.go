package txn

import (
	"context"
	"errors"
	"fmt"

	"github.com/meridiandb/meridian/ranges/mvcc"
)

// Savepoints. Every request that leaves intents carries the next sequence number of its
// transaction (numberWrites), and an intent keeps the values of its transaction's earlier
// writes to the key with their numbers (see package mvcc). A savepoint is the number of the
// last write before it; rolling back to it adds the numbers written since to the
// transaction's ignored ranges (kvpb.Transaction.IgnoredSeqNums), which travel with every
// later batch and with the commit: the transaction's reads skip those writes, and its
// intents commit to their latest write not ignored (or vanish if all of a key's writes
// were). Nothing is sent to roll back; the intents stay where they are until the
// transaction ends, and so do their locks: a key locked after a savepoint stays locked
// after a rollback to it. Releasing a savepoint needs nothing at this layer.
//
// Write pipelining: a rolled-back write still in flight is no longer proven, nor listed in
// a STAGING record. Nothing relies on it any more, and any earlier write of the same key
// was proven before it was sent (proveTouched), so the proofs the commit needs are all
// still tracked. Its key stays among the lock spans, so that its intent, if it lands, is
// resolved; and its latches, held until it applies or fails, keep every later request on
// the key from overtaking it.

// Savepoint is a point in a transaction that it can roll back to.
type Savepoint struct {
	// seq is the number of the transaction's last write before the savepoint.
	seq int32
	// attempt is the transaction's restart count when the savepoint was taken.
	attempt int
	// initial: the transaction had sent nothing in that attempt. Rolling back to such a
	// savepoint can restart the transaction (see RollbackToSavepoint).
	initial bool
}

// Initial reports whether the savepoint was taken before its transaction sent anything.
func (sp Savepoint) Initial() bool { return sp.initial }

// Savepoint returns the transaction's present point, to roll back to later.
func (t *Txn) Savepoint() Savepoint {
	return Savepoint{seq: t.sequence, attempt: t.restarts, initial: !t.used}
}

// ErrSavepointStale is returned for a rollback to a savepoint taken in an earlier attempt
// of a transaction that has restarted since (unless it was the initial one): the writes
// it would keep were all rolled back by the restart.
var ErrSavepointStale = errors.New("the savepoint was taken before the transaction restarted")

// SavepointRestartError refuses a rollback to a savepoint of a transaction that failed with
// a retryable error (a serialization failure, a deadlock, an abort by another transaction)
// and so must restart: its reads, or its writes, are no longer valid, and only its initial
// savepoint can be rolled back to, which restarts it.
type SavepointRestartError struct {
	// Cause is the retryable error the transaction failed with.
	Cause error
}

func (e *SavepointRestartError) Error() string {
	return fmt.Sprintf("the transaction must restart, and only its initial savepoint can be rolled back to: %v", e.Cause)
}

func (e *SavepointRestartError) Unwrap() error { return e.Cause }

// RollbackToSavepoint undoes the transaction's writes since sp, which stays valid: the
// transaction can roll back to it again later.
//
// A transaction that failed with a retryable error (see IsRetryable) cannot continue where
// it was: rolling back to its initial savepoint restarts it (see Restart), and rolling
// back to any other fails with a *SavepointRestartError.
func (t *Txn) RollbackToSavepoint(ctx context.Context, sp Savepoint) error {
	if t.done {
		return ErrTxnDone
	}
	if cause := t.restartCause; cause != nil {
		if !sp.initial {
			return &SavepointRestartError{Cause: cause}
		}
		return t.Restart(ctx, cause)
	}
	if sp.attempt != t.restarts && !sp.initial {
		return ErrSavepointStale
	}
	if t.sequence <= sp.seq {
		return nil // nothing written since
	}
	undone := mvcc.SeqRange{Start: sp.seq + 1, End: t.sequence}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.proto.IgnoreSeqRange(undone)
	for k, seq := range t.inFlight {
		if seq > sp.seq {
			delete(t.inFlight, k)
		}
	}
	t.dropBufferedAfter(sp.seq)
	return nil
}
