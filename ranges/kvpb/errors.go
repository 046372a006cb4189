package kvpb

import (
	"fmt"
	"time"

	"github.com/meridiandb/meridian/hlc"
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
	// RetryAsyncWriteFailure: a pipelined write was not found where it should have been.
	RetryAsyncWriteFailure RetryReason = "RETRY_ASYNC_WRITE_FAILURE"
)

// LockNotAvailableError says a request gave up waiting for another transaction's lock after
// its lock timeout. It reaches SQL clients as SQLSTATE 55P03.
type LockNotAvailableError struct {
	Key     []byte
	Holder  mvcc.TxnID
	Timeout time.Duration
}

func (e *LockNotAvailableError) Error() string {
	return fmt.Sprintf("could not obtain lock on key %q within lock_timeout %s: held by transaction %x", e.Key, e.Timeout, e.Holder[:4])
}

// TransactionRetryError says the transaction must restart (with a higher timestamp, or from
// scratch after an abort). It reaches SQL clients as SQLSTATE 40001.
type TransactionRetryError struct {
	Reason  RetryReason
	Message string
	// Aborted means the transaction's record is gone or aborted: the retry needs a new txn.
	Aborted bool
	// Timestamp is a timestamp the retry should start at or above.
	Timestamp hlc.Timestamp
}

func (e *TransactionRetryError) Error() string {
	return fmt.Sprintf("restart transaction: %s: %s", e.Reason, e.Message)
}

// AbortedError is what a transaction finds when its record, rec, was aborted by another.
func AbortedError(rec *Transaction) error {
	reason, msg := rec.AbortReason, "the transaction was aborted by a conflicting transaction"
	switch reason {
	case RetryDeadlock:
		msg = "the transaction was aborted to break a deadlock with another transaction"
	case "":
		reason = RetryAborted
	}
	return &TransactionRetryError{Reason: reason, Aborted: true, Message: fmt.Sprintf("%s (transaction %x)", msg, rec.ID[:4])}
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
