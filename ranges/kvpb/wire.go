package kvpb

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// The requests and responses without binary forms, and errors, travel in batches
// (batchcodec.go) as MessagePack with struct fields keyed by name, so a node ignores fields
// it does not know and reads absent ones as zero: nodes of adjacent versions can talk. An
// error's typed detail travels as a union with one pointer field per type, of which at most
// one is set.

// wireHandle is configured once and then shared; go-msgpack handles are safe for concurrent
// use after their first use.
var wireHandle = &codec.MsgpackHandle{WriteExt: true}

func encodeWire(v any) ([]byte, error) {
	var b []byte
	if err := codec.NewEncoderBytes(&b, wireHandle).Encode(v); err != nil {
		return nil, err
	}
	return b, nil
}

func decodeWire(b []byte, v any) (err error) {
	defer func() {
		// go-msgpack reports some malformed inputs by panicking; bytes from the network
		// must only ever produce an error.
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed message: %v", r)
		}
	}()
	return codec.NewDecoderBytes(b, wireHandle).Decode(v)
}

// getUnion returns the one field of *union that is set.
func getUnion(union any) (any, error) {
	u := reflect.ValueOf(union).Elem()
	var found any
	n := 0
	for i := 0; i < u.NumField(); i++ {
		if f := u.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			found = f.Interface()
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("kvpb: a %s holds %d values, want 1", u.Type().Name(), n)
	}
	return found, nil
}

// Error carries an error across the network. Message is the whole text of the original
// error; Detail, when the error (or one it wraps) is of a type callers branch on, is that
// typed error, so errors.As works on the receiving side.
type Error struct {
	Message string
	Detail  errorDetail
	// Context is "canceled" or "deadline exceeded" when the error was a context error.
	Context string `codec:",omitempty"`
}

type errorDetail struct {
	TransactionRetry *TransactionRetryError                   `codec:",omitempty"`
	TxnPushed        *TxnPushedError                          `codec:",omitempty"`
	Conflict         *ConflictError                           `codec:",omitempty"`
	RangeNotFound    *RangeNotFoundError                      `codec:",omitempty"`
	NotLeaseHolder   *NotLeaseHolderError                     `codec:",omitempty"`
	Ambiguous        *AmbiguousResultError                    `codec:",omitempty"`
	RangeKeyMismatch *RangeKeyMismatchError                   `codec:",omitempty"`
	MergeInProgress  *MergeInProgressError                    `codec:",omitempty"`
	GCThreshold      *BatchTimestampBeforeGCError             `codec:",omitempty"`
	WriteIntent      *mvcc.WriteIntentError                   `codec:",omitempty"`
	WriteTooOld      *mvcc.WriteTooOldError                   `codec:",omitempty"`
	ConditionFailed  *mvcc.ConditionFailedError               `codec:",omitempty"`
	Uncertainty      *mvcc.ReadWithinUncertaintyIntervalError `codec:",omitempty"`
	RefreshConflict  *mvcc.RefreshConflictError               `codec:",omitempty"`
	ClockOffset      *hlc.ClockOffsetError                    `codec:",omitempty"`
	LockNotAvailable *LockNotAvailableError                   `codec:",omitempty"`
}

// NewError captures err for the network; nil gives nil.
func NewError(err error) *Error {
	if err == nil {
		return nil
	}
	e := &Error{Message: err.Error()}
	d := reflect.ValueOf(&e.Detail).Elem()
	for i := 0; i < d.NumField(); i++ {
		target := reflect.New(d.Field(i).Type()) // a **T for errors.As
		if errors.As(err, target.Interface()) {
			d.Field(i).Set(target.Elem())
			break
		}
	}
	switch {
	case errors.Is(err, context.Canceled):
		e.Context = "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		e.Context = "deadline exceeded"
	}
	return e
}

// GoError turns e back into an error: its message is the original's, and it unwraps to the
// typed detail (or context error) when there was one.
func (e *Error) GoError() error {
	if e == nil {
		return nil
	}
	var cause error
	if d, err := getUnion(&e.Detail); err == nil {
		cause = d.(error)
	}
	switch e.Context {
	case "canceled":
		cause = errors.Join(cause, context.Canceled)
	case "deadline exceeded":
		cause = errors.Join(cause, context.DeadlineExceeded)
	}
	return &remoteError{msg: e.Message, cause: cause}
}

// remoteError is an error that happened on another node.
type remoteError struct {
	msg   string
	cause error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.cause }
