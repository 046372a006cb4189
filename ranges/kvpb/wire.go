package kvpb

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// The network encoding of batches is MessagePack with struct fields keyed by name, so a node
// ignores fields it does not know and reads absent ones as zero: nodes of adjacent versions
// can talk. Interface values (requests, responses, errors) travel as unions with one
// pointer field per concrete type, of which exactly one is set. A type with MarshalBinary
// (Transaction, see txncodec.go) travels as a byte string in its own form instead, which
// carries a version byte and is read leniently (bytes after the known fields are ignored).

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

type requestUnion struct {
	Get            *GetRequest            `codec:",omitempty"`
	Scan           *ScanRequest           `codec:",omitempty"`
	Put            *PutRequest            `codec:",omitempty"`
	ConditionalPut *ConditionalPutRequest `codec:",omitempty"`
	Delete         *DeleteRequest         `codec:",omitempty"`
	DeleteRange    *DeleteRangeRequest    `codec:",omitempty"`
	EndTxn         *EndTxnRequest         `codec:",omitempty"`
	HeartbeatTxn   *HeartbeatTxnRequest   `codec:",omitempty"`
	QueryTxn       *QueryTxnRequest       `codec:",omitempty"`
	QueryIntent    *QueryIntentRequest    `codec:",omitempty"`
	RecoverTxn     *RecoverTxnRequest     `codec:",omitempty"`
	PushTxn        *PushTxnRequest        `codec:",omitempty"`
	ResolveIntent  *ResolveIntentRequest  `codec:",omitempty"`
	Refresh        *RefreshRequest        `codec:",omitempty"`
	GC             *GCRequest             `codec:",omitempty"`
	AdminSplit     *AdminSplitRequest     `codec:",omitempty"`
	RangeStats     *RangeStatsRequest     `codec:",omitempty"`
	AdminMerge     *AdminMergeRequest     `codec:",omitempty"`
	Subsume        *SubsumeRequest        `codec:",omitempty"`
	ResolveMerge   *ResolveMergeRequest   `codec:",omitempty"`
	AdminRelocate  *AdminRelocateRequest  `codec:",omitempty"`
	Increment      *IncrementRequest      `codec:",omitempty"`
	ClearRange     *ClearRangeRequest     `codec:",omitempty"`
}

type responseUnion struct {
	Get            *GetResponse            `codec:",omitempty"`
	Scan           *ScanResponse           `codec:",omitempty"`
	Put            *PutResponse            `codec:",omitempty"`
	ConditionalPut *ConditionalPutResponse `codec:",omitempty"`
	Delete         *DeleteResponse         `codec:",omitempty"`
	DeleteRange    *DeleteRangeResponse    `codec:",omitempty"`
	EndTxn         *EndTxnResponse         `codec:",omitempty"`
	HeartbeatTxn   *HeartbeatTxnResponse   `codec:",omitempty"`
	QueryTxn       *QueryTxnResponse       `codec:",omitempty"`
	QueryIntent    *QueryIntentResponse    `codec:",omitempty"`
	RecoverTxn     *RecoverTxnResponse     `codec:",omitempty"`
	PushTxn        *PushTxnResponse        `codec:",omitempty"`
	ResolveIntent  *ResolveIntentResponse  `codec:",omitempty"`
	Refresh        *RefreshResponse        `codec:",omitempty"`
	GC             *GCResponse             `codec:",omitempty"`
	AdminSplit     *AdminSplitResponse     `codec:",omitempty"`
	RangeStats     *RangeStatsResponse     `codec:",omitempty"`
	AdminMerge     *AdminMergeResponse     `codec:",omitempty"`
	Subsume        *SubsumeResponse        `codec:",omitempty"`
	ResolveMerge   *ResolveMergeResponse   `codec:",omitempty"`
	AdminRelocate  *AdminRelocateResponse  `codec:",omitempty"`
	Increment      *IncrementResponse      `codec:",omitempty"`
	ClearRange     *ClearRangeResponse     `codec:",omitempty"`
}

// setUnion stores v in the field of *union that has v's type.
func setUnion(union any, v any) error {
	u := reflect.ValueOf(union).Elem()
	vt := reflect.TypeOf(v)
	for i := 0; i < u.NumField(); i++ {
		if u.Field(i).Type() == vt {
			u.Field(i).Set(reflect.ValueOf(v))
			return nil
		}
	}
	return fmt.Errorf("kvpb: %T has no network encoding", v)
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

type wireBatchRequest struct {
	Timestamp hlc.Timestamp
	Txn       *Transaction `codec:",omitempty"`
	RangeID   uint64
	Requests  []requestUnion
	// LockTimeout in nanoseconds.
	LockTimeout    int64 `codec:",omitempty"`
	AsyncConsensus bool  `codec:",omitempty"`
}

// MarshalBinary encodes the batch for the network.
func (b *BatchRequest) MarshalBinary() ([]byte, error) {
	w := wireBatchRequest{Timestamp: b.Timestamp, Txn: b.Txn, RangeID: b.RangeID, Requests: make([]requestUnion, len(b.Requests)), LockTimeout: int64(b.LockTimeout), AsyncConsensus: b.AsyncConsensus}
	for i, r := range b.Requests {
		if err := setUnion(&w.Requests[i], r); err != nil {
			return nil, err
		}
	}
	return encodeWire(&w)
}

// UnmarshalBinary decodes a batch encoded by MarshalBinary.
func (b *BatchRequest) UnmarshalBinary(data []byte) error {
	var w wireBatchRequest
	if err := decodeWire(data, &w); err != nil {
		return fmt.Errorf("kvpb: decoding batch request: %w", err)
	}
	*b = BatchRequest{Timestamp: w.Timestamp, Txn: w.Txn, RangeID: w.RangeID, Requests: make([]Request, len(w.Requests)), LockTimeout: time.Duration(w.LockTimeout), AsyncConsensus: w.AsyncConsensus}
	for i := range w.Requests {
		r, err := getUnion(&w.Requests[i])
		if err != nil {
			return err
		}
		b.Requests[i] = r.(Request)
	}
	return nil
}

type wireBatchResponse struct {
	Responses []responseUnion
	Txn       *Transaction `codec:",omitempty"`
	Timestamp hlc.Timestamp
	Observed  ObservedTimestamp `codec:",omitempty"`
}

// BatchReply is a node's answer to a BatchRequest sent over the network: a response, or an
// error whose type survives the trip.
type BatchReply struct {
	Response *BatchResponse
	Err      *Error
}

type wireBatchReply struct {
	Response *wireBatchResponse `codec:",omitempty"`
	Err      *Error             `codec:",omitempty"`
}

// MarshalBinary encodes the reply for the network.
func (r *BatchReply) MarshalBinary() ([]byte, error) {
	var w wireBatchReply
	w.Err = r.Err
	if br := r.Response; br != nil {
		w.Response = &wireBatchResponse{Txn: br.Txn, Timestamp: br.Timestamp, Observed: br.Observed, Responses: make([]responseUnion, len(br.Responses))}
		for i, resp := range br.Responses {
			if err := setUnion(&w.Response.Responses[i], resp); err != nil {
				return nil, err
			}
		}
	}
	return encodeWire(&w)
}

// UnmarshalBinary decodes a reply encoded by MarshalBinary.
func (r *BatchReply) UnmarshalBinary(data []byte) error {
	var w wireBatchReply
	if err := decodeWire(data, &w); err != nil {
		return fmt.Errorf("kvpb: decoding batch reply: %w", err)
	}
	*r = BatchReply{Err: w.Err}
	if wr := w.Response; wr != nil {
		r.Response = &BatchResponse{Txn: wr.Txn, Timestamp: wr.Timestamp, Observed: wr.Observed, Responses: make([]Response, len(wr.Responses))}
		for i := range wr.Responses {
			resp, err := getUnion(&wr.Responses[i])
			if err != nil {
				return err
			}
			r.Response.Responses[i] = resp
		}
	}
	if r.Response == nil && r.Err == nil {
		return errors.New("kvpb: a batch reply holds neither a response nor an error")
	}
	return nil
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
