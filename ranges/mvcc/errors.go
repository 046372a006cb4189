package mvcc

import (
	"fmt"

	"github.com/meridiandb/meridian/hlc"
)

// WriteIntentError reports intents of other transactions in the way of a read or write.
type WriteIntentError struct {
	Intents []Intent
}

func (e *WriteIntentError) Error() string {
	if len(e.Intents) == 1 {
		return fmt.Sprintf("conflicting intent on key %q of transaction %s", e.Intents[0].Key, e.Intents[0].Txn.ID)
	}
	return fmt.Sprintf("%d conflicting intents, the first on key %q of transaction %s", len(e.Intents), e.Intents[0].Key, e.Intents[0].Txn.ID)
}

// WriteTooOldError reports a write at Timestamp below an existing committed version; the write
// could go at ActualTimestamp instead.
type WriteTooOldError struct {
	Timestamp, ActualTimestamp hlc.Timestamp
}

func (e *WriteTooOldError) Error() string {
	return fmt.Sprintf("write at %s too old; a newer version exists, write at %s", e.Timestamp, e.ActualTimestamp)
}

// ConditionFailedError reports a conditional put whose key already had a value.
type ConditionFailedError struct {
	// Key is the key of the failed put, which tells the SQL layer which unique constraint
	// (the primary key or a unique index) a duplicate violates, and with which values.
	Key         []byte `codec:",omitempty"`
	ActualValue []byte
	// Timestamp is the committed version's timestamp; empty when the value is the writer's
	// own intent.
	Timestamp hlc.Timestamp `codec:",omitempty"`
}

func (e *ConditionFailedError) Error() string {
	v := e.ActualValue
	const max = 64 // a row can be large; the start identifies it well enough
	if len(v) > max {
		return fmt.Sprintf("condition failed: the key already has value %q...", v[:max])
	}
	return fmt.Sprintf("condition failed: the key already has value %q", v)
}

// ReadWithinUncertaintyIntervalError reports a value above the read timestamp that may have
// been written before the reader started (its clock may lag the writer's).
type ReadWithinUncertaintyIntervalError struct {
	ReadTimestamp, ExistingTimestamp hlc.Timestamp
	// Key is the key of the value, for the error a SQL client sees.
	Key []byte `codec:",omitempty"`
	// LocalTimestamp is the value's local timestamp (see UncertaintyInterval).
	LocalTimestamp hlc.Timestamp `codec:",omitempty"`
}

func (e *ReadWithinUncertaintyIntervalError) Error() string {
	if !e.LocalTimestamp.IsEmpty() && e.LocalTimestamp.Less(e.ExistingTimestamp) {
		return fmt.Sprintf("read at %s met a value at %s (local timestamp %s) within its uncertainty interval",
			e.ReadTimestamp, e.ExistingTimestamp, e.LocalTimestamp)
	}
	return fmt.Sprintf("read at %s met a value at %s within its uncertainty interval", e.ReadTimestamp, e.ExistingTimestamp)
}

// RefreshConflictError reports a write that invalidates a read being refreshed.
type RefreshConflictError struct {
	Key       []byte
	Timestamp hlc.Timestamp
	// Txn is the writer when the write is an intent; zero for a committed value, whose
	// writer is not recorded.
	Txn TxnID
}

func (e *RefreshConflictError) Error() string {
	return fmt.Sprintf("refresh failed: key %q was written at %s", e.Key, e.Timestamp)
}
