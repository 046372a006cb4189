package kvpb

import (
	"fmt"
	"time"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// RetryReason says why a transaction must restart.
type RetryReason string

// Reasons a transaction restarts.
const (
	RetryWriteTooOld    RetryReason = "RETRY_WRITE_TOO_OLD"
	RetrySerializable   RetryReason = "RETRY_SERIALIZABLE"
	RetryAborted        RetryReason = "ABORT_REASON_ABORTED"
	RetryUncertainty    RetryReason = "RETRY_UNCERTAINTY"
	RetryConflict       RetryReason = "RETRY_CONFLICT"
	RetryCommitDeadline RetryReason = "RETRY_COMMIT_DEADLINE"
	RetryDeadlock       RetryReason = "ABORT_REASON_DEADLOCK"
	// RetryAsyncWriteFailure: a pipelined or in-flight write was not found where it should
	// have been. As the abort reason of a record, it is set only by a status recovery that
	// found an in-flight write missing and made it impossible: proof that the transaction
	// did not commit, which no other ABORTED record is (a record removed once its
	// transaction committed may be found missing and aborted).
	RetryAsyncWriteFailure RetryReason = "RETRY_ASYNC_WRITE_FAILURE"
	// RetryRecordExpired: the transaction had no record and started too long ago to be
	// given one: an aborted record of it may have been collected as garbage.
	RetryRecordExpired RetryReason = "ABORT_REASON_RECORD_EXPIRED"
)

// ConflictingTxn is what is known of the other transaction in a conflict. Who wrote a
// committed value is not recorded, so a conflict with one knows only its timestamp.
type ConflictingTxn struct {
	// ID is zero when the other transaction is not known, only its write.
	ID mvcc.TxnID `codec:",omitempty"`
	// Timestamp is where the other transaction wrote (or, pending, writes).
	Timestamp hlc.Timestamp `codec:",omitempty"`
}

// ShortID is the first 4 bytes of the ID in hex, how people are shown transactions; "" for
// an unknown one.
func (c *ConflictingTxn) ShortID() string {
	if c == nil || c.ID.IsEmpty() {
		return ""
	}
	return fmt.Sprintf("%x", c.ID[:4])
}

// LockNotAvailableError says a request gave up waiting for another transaction's lock after
// its lock timeout. It reaches SQL clients as SQLSTATE 55P03.
type LockNotAvailableError struct {
	Key     []byte
	Holder  mvcc.TxnID
	Timeout time.Duration
	// HolderTimestamp is where the holder writes, when known.
	HolderTimestamp hlc.Timestamp `codec:",omitempty"`
}

func (e *LockNotAvailableError) Error() string {
	return fmt.Sprintf("could not obtain lock on key %s within lock_timeout %s: held by transaction %x", keys.Pretty(e.Key), e.Timeout, e.Holder[:4])
}

// TransactionRetryError says the transaction must restart (with a higher timestamp, or from
// scratch after an abort). It reaches SQL clients as SQLSTATE 40001.
//
// Message says what happened in words and never holds a key: the layers that build it do not
// know what a key means. Key and Conflicting carry the conflict for the SQL layer to name.
type TransactionRetryError struct {
	Reason  RetryReason
	Message string
	// Aborted means the transaction's record is gone or aborted: the retry needs a new txn.
	Aborted bool
	// Timestamp is a timestamp the retry should start at or above.
	Timestamp hlc.Timestamp
	// Key is the key of the conflict, when one key caused it (nil otherwise). For
	// RetrySerializable, RetryWriteTooOld and RetryUncertainty, it is a key another
	// transaction wrote after (or about when) this one read it. For RetryAborted and
	// RetryDeadlock, it is the lock over which this transaction was aborted: one it held and
	// the aborting transaction wanted or, with Waiting, one it waited for.
	Key []byte `codec:",omitempty"`
	// Waiting says this transaction was aborted while it waited for Conflicting's lock on
	// Key: the deadlock victim learns so in its wait, while one that learns of its abort
	// later knows only the lock it held (from its record).
	Waiting bool `codec:",omitempty"`
	// Conflicting is the other transaction of the conflict, nil when not known.
	Conflicting *ConflictingTxn `codec:",omitempty"`
}

func (e *TransactionRetryError) Error() string {
	msg := fmt.Sprintf("restart transaction: %s: %s", e.Reason, e.Message)
	if e.Key != nil {
		msg += " (conflict on key " + keys.Pretty(e.Key)
		if id := e.Conflicting.ShortID(); id != "" {
			msg += " with transaction " + id
		}
		msg += ")"
	}
	return msg
}

// AbortedError is what a transaction finds when its record, rec, was aborted by another.
func AbortedError(rec *Transaction) error {
	reason, msg := rec.AbortReason, "was aborted by a conflicting transaction"
	switch reason {
	case RetryDeadlock:
		msg = "was aborted to break a deadlock with another transaction"
	case RetryAsyncWriteFailure:
		msg = "was aborted by status recovery: a write sent with its commit never landed"
	case RetryRecordExpired:
		msg = "had no transaction record and started too long ago to be given one (an aborted record of it may have been removed)"
	case "":
		reason = RetryAborted
	}
	return &TransactionRetryError{Reason: reason, Aborted: true, Message: fmt.Sprintf("transaction %x %s", rec.ID[:4], msg),
		Key: rec.AbortKey, Conflicting: rec.AbortedBy}
}

// TxnPushedError tells the coordinator that the transaction's record was pushed to a later
// timestamp than the commit proposed: refresh to PushedTo and commit again.
type TxnPushedError struct {
	PushedTo hlc.Timestamp
}

func (e *TxnPushedError) Error() string {
	return fmt.Sprintf("transaction record pushed to %s", e.PushedTo)
}

// ConflictError reports intents of other transactions that block a request. The store has
// already tried to clear them; the caller decides whether to wait or restart.
type ConflictError struct {
	Intents []mvcc.Intent
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("conflicting intents on %d key(s), first %q", len(e.Intents), e.Intents[0].Key)
}

// RangeNotFoundError says this store has no replica of the range a batch was sent to (by
// RangeID), or of any range holding its key.
type RangeNotFoundError struct {
	RangeID uint64
	Key     []byte
	StoreID uint64
}

func (e *RangeNotFoundError) Error() string {
	if e.RangeID != 0 {
		return fmt.Sprintf("r%d is not on store s%d", e.RangeID, e.StoreID)
	}
	return fmt.Sprintf("no range on store s%d holds key %q", e.StoreID, e.Key)
}

// BatchTimestampBeforeGCError rejects a request reading at or below the range's GC threshold:
// the versions it needs may have been collected.
type BatchTimestampBeforeGCError struct {
	Timestamp, Threshold hlc.Timestamp
}

func (e *BatchTimestampBeforeGCError) Error() string {
	return fmt.Sprintf("batch timestamp %s must be after the replica's GC threshold %s", e.Timestamp, e.Threshold)
}

// NotLeaseHolderError says the replica that got a batch does not hold the range's lease.
// LeaseHolder, when known, is the node to try instead.
type NotLeaseHolderError struct {
	RangeID     uint64
	NodeID      uint64 // the node that refused
	LeaseHolder uint64 // 0 when unknown
}

func (e *NotLeaseHolderError) Error() string {
	if e.LeaseHolder == 0 {
		return fmt.Sprintf("r%d: n%d does not hold the lease, and no leaseholder is known", e.RangeID, e.NodeID)
	}
	return fmt.Sprintf("r%d: n%d does not hold the lease; n%d does", e.RangeID, e.NodeID, e.LeaseHolder)
}

// AmbiguousResultError says a commit (or a non-transactional write) was sent but its outcome
// is unknown: the node evaluating it became unreachable before answering. It may or may not
// have been applied. It reaches SQL clients as SQLSTATE 40003.
type AmbiguousResultError struct {
	Message string
}

func (e *AmbiguousResultError) Error() string {
	return "result is ambiguous: " + e.Message
}

// RangeKeyMismatchError says a batch was sent to a range that does not (or no longer) hold
// all its keys: the sender's descriptor is stale, usually after a split. Ranges holds the
// descriptors the replica knows for the keys, for the sender's cache.
type RangeKeyMismatchError struct {
	RangeID uint64
	Key     []byte
	Ranges  []RangeDescriptor
}

func (e *RangeKeyMismatchError) Error() string {
	return fmt.Sprintf("key %q is outside r%d", e.Key, e.RangeID)
}

// MergeInProgressError says the range is frozen by a merge into the range on its left: it
// serves nothing until the merge ends, and then the sender finds the keys in the merged
// range (or here again, if the merge was abandoned).
type MergeInProgressError struct {
	RangeID uint64
}

func (e *MergeInProgressError) Error() string {
	return fmt.Sprintf("r%d is being merged into the range on its left", e.RangeID)
}
