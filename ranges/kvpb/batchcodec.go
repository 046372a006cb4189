package kvpb

import (
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/meridiandb/meridian/internal/wirebin"
)

// Batches travel in a hand-written form like their elements': formVersion, the header's
// fields, then each request (or response) as its kind number and its own form, framed with
// its length. A type with a binary form (pointcodec.go, txncodec.go) writes that form; the
// rarer ones, and errors, are MessagePack (wire.go) inside their frames. A reader skips bytes
// after the fields it knows, in the batch and in each element, so that a field added at the
// end is ignored by an older node.

// requestKinds numbers the request types on the network. A number names one type forever:
// a type removed leaves its number unused.
var requestKinds = [...]func() Request{
	1:  func() Request { return new(GetRequest) },
	2:  func() Request { return new(ScanRequest) },
	3:  func() Request { return new(PutRequest) },
	4:  func() Request { return new(ConditionalPutRequest) },
	5:  func() Request { return new(DeleteRequest) },
	6:  func() Request { return new(DeleteRangeRequest) },
	7:  func() Request { return new(EndTxnRequest) },
	8:  func() Request { return new(HeartbeatTxnRequest) },
	9:  func() Request { return new(QueryTxnRequest) },
	10: func() Request { return new(QueryIntentRequest) },
	11: func() Request { return new(RecoverTxnRequest) },
	12: func() Request { return new(PushTxnRequest) },
	13: func() Request { return new(ResolveIntentRequest) },
	14: func() Request { return new(RefreshRequest) },
	15: func() Request { return new(GCRequest) },
	16: func() Request { return new(AdminSplitRequest) },
	17: func() Request { return new(RangeStatsRequest) },
	18: func() Request { return new(AdminMergeRequest) },
	19: func() Request { return new(SubsumeRequest) },
	20: func() Request { return new(ResolveMergeRequest) },
	21: func() Request { return new(AdminRelocateRequest) },
	22: func() Request { return new(IncrementRequest) },
	23: func() Request { return new(ClearRangeRequest) },
	24: func() Request { return new(RemoveTxnRecordRequest) },
}

// responseKinds numbers the response types, as requestKinds the requests.
var responseKinds = [...]func() Response{
	1:  func() Response { return new(GetResponse) },
	2:  func() Response { return new(ScanResponse) },
	3:  func() Response { return new(PutResponse) },
	4:  func() Response { return new(ConditionalPutResponse) },
	5:  func() Response { return new(DeleteResponse) },
	6:  func() Response { return new(DeleteRangeResponse) },
	7:  func() Response { return new(EndTxnResponse) },
	8:  func() Response { return new(HeartbeatTxnResponse) },
	9:  func() Response { return new(QueryTxnResponse) },
	10: func() Response { return new(QueryIntentResponse) },
	11: func() Response { return new(RecoverTxnResponse) },
	12: func() Response { return new(PushTxnResponse) },
	13: func() Response { return new(ResolveIntentResponse) },
	14: func() Response { return new(RefreshResponse) },
	15: func() Response { return new(GCResponse) },
	16: func() Response { return new(AdminSplitResponse) },
	17: func() Response { return new(RangeStatsResponse) },
	18: func() Response { return new(AdminMergeResponse) },
	19: func() Response { return new(SubsumeResponse) },
	20: func() Response { return new(ResolveMergeResponse) },
	21: func() Response { return new(AdminRelocateResponse) },
	22: func() Response { return new(IncrementResponse) },
	23: func() Response { return new(ClearRangeResponse) },
	24: func() Response { return new(RemoveTxnRecordResponse) },
}

// kindOf maps each request and response type to its number.
var kindOf = func() map[reflect.Type]uint64 {
	m := make(map[reflect.Type]uint64)
	for k, newReq := range requestKinds {
		if newReq != nil {
			m[reflect.TypeOf(newReq())] = uint64(k)
		}
	}
	for k, newResp := range responseKinds {
		if newResp != nil {
			m[reflect.TypeOf(newResp())] = uint64(k)
		}
	}
	return m
}()

// appendElement appends v, a request or response, as its kind number and its framed form.
func appendElement(b []byte, v any) ([]byte, error) {
	kind, ok := kindOf[reflect.TypeOf(v)]
	if !ok {
		return nil, fmt.Errorf("kvpb: %T has no network encoding", v)
	}
	b = binary.AppendUvarint(b, kind)
	start := len(b)
	if a, ok := v.(encoding.BinaryAppender); ok {
		var err error
		if b, err = a.AppendBinary(b); err != nil {
			return nil, err
		}
	} else {
		m, err := encodeWire(v)
		if err != nil {
			return nil, fmt.Errorf("kvpb: encoding %T: %w", v, err)
		}
		b = append(b, m...)
	}
	return wirebin.Frame(b, start), nil
}

// readElement reads an element written by appendElement into the value kinds makes for its
// number.
func readElement[T any](r *wirebin.Reader, kinds []func() T, what string) (T, error) {
	var zero T
	kind := r.Uvarint()
	form := r.Frame()
	if err := r.Err(); err != nil {
		return zero, err
	}
	if kind >= uint64(len(kinds)) || kinds[kind] == nil {
		return zero, fmt.Errorf("unknown %s kind %d", what, kind)
	}
	v := kinds[kind]()
	var err error
	if u, ok := any(v).(encoding.BinaryUnmarshaler); ok {
		err = u.UnmarshalBinary(form)
	} else {
		err = decodeWire(form, v)
	}
	return v, err
}

// appendElements appends a count and then each element (appendElement).
func appendElements[T any](b []byte, elems []T) ([]byte, error) {
	b = binary.AppendUvarint(b, uint64(len(elems)))
	for _, e := range elems {
		var err error
		if b, err = appendElement(b, e); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// readElements reads what appendElements wrote.
func readElements[T any](r *wirebin.Reader, kinds []func() T, what string) ([]T, error) {
	elems := make([]T, r.Count(2))
	for i := range elems {
		var err error
		if elems[i], err = readElement(r, kinds, what); err != nil {
			return nil, err
		}
	}
	return elems, nil
}

// appendTxn appends an optional transaction, framed.
func appendTxn(b []byte, txn *Transaction) ([]byte, error) {
	b = wirebin.AppendBool(b, txn != nil)
	if txn == nil {
		return b, nil
	}
	start := len(b)
	b, err := txn.AppendBinary(b)
	if err != nil {
		return nil, err
	}
	return wirebin.Frame(b, start), nil
}

func readTxn(r *wirebin.Reader) (*Transaction, error) {
	if !r.Bool() {
		return nil, nil
	}
	form := r.Frame()
	if r.Err() != nil {
		return nil, nil // the caller reports the reader's error
	}
	txn := new(Transaction)
	return txn, txn.UnmarshalBinary(form)
}

// MarshalBinary encodes the batch for the network.
func (b *BatchRequest) MarshalBinary() ([]byte, error) { return b.AppendBinary(make([]byte, 0, 256)) }

// AppendBinary implements encoding.BinaryAppender.
func (b *BatchRequest) AppendBinary(buf []byte) ([]byte, error) {
	buf = appendTimestamp(append(buf, formVersion), b.Timestamp)
	buf = binary.AppendUvarint(buf, b.RangeID)
	buf = binary.AppendVarint(buf, int64(b.LockTimeout))
	buf = wirebin.AppendBool(buf, b.AsyncConsensus)
	buf = wirebin.AppendBool(buf, b.WithStaging)
	buf, err := appendTxn(buf, b.Txn)
	if err != nil {
		return nil, err
	}
	return appendElements(buf, b.Requests)
}

// UnmarshalBinary decodes a batch encoded by MarshalBinary.
func (b *BatchRequest) UnmarshalBinary(data []byte) error {
	var err error
	decErr := decodeForm(data, "a batch request", func(r *wirebin.Reader) {
		*b = BatchRequest{Timestamp: readTimestamp(r), RangeID: r.Uvarint(), LockTimeout: time.Duration(r.Varint()),
			AsyncConsensus: r.Bool(), WithStaging: r.Bool()}
		if b.Txn, err = readTxn(r); err != nil {
			return
		}
		b.Requests, err = readElements(r, requestKinds[:], "request")
	})
	if err != nil {
		return fmt.Errorf("kvpb: decoding a batch request: %w", err)
	}
	return decErr
}

// BatchReply is a node's answer to a BatchRequest sent over the network: a response, or an
// error whose type survives the trip.
type BatchReply struct {
	Response *BatchResponse
	Err      *Error
}

// MarshalBinary encodes the reply for the network.
func (r *BatchReply) MarshalBinary() ([]byte, error) { return r.AppendBinary(make([]byte, 0, 256)) }

// AppendBinary implements encoding.BinaryAppender.
func (r *BatchReply) AppendBinary(b []byte) ([]byte, error) {
	b = wirebin.AppendBool(append(b, formVersion), r.Response != nil)
	if br := r.Response; br != nil {
		b = appendTimestamp(b, br.Timestamp)
		b = binary.AppendUvarint(b, br.Observed.NodeID)
		b = appendTimestamp(b, br.Observed.Timestamp)
		var err error
		if b, err = appendTxn(b, br.Txn); err != nil {
			return nil, err
		}
		if b, err = appendElements(b, br.Responses); err != nil {
			return nil, err
		}
	}
	b = wirebin.AppendBool(b, r.Err != nil)
	if r.Err != nil {
		m, err := encodeWire(r.Err)
		if err != nil {
			return nil, fmt.Errorf("kvpb: encoding an error: %w", err)
		}
		start := len(b)
		b = wirebin.Frame(append(b, m...), start)
	}
	return b, nil
}

// UnmarshalBinary decodes a reply encoded by MarshalBinary.
func (r *BatchReply) UnmarshalBinary(data []byte) error {
	var err error
	decErr := decodeForm(data, "a batch reply", func(rd *wirebin.Reader) {
		*r = BatchReply{}
		if rd.Bool() {
			br := &BatchResponse{Timestamp: readTimestamp(rd),
				Observed: ObservedTimestamp{NodeID: rd.Uvarint(), Timestamp: readTimestamp(rd)}}
			r.Response = br
			if br.Txn, err = readTxn(rd); err != nil {
				return
			}
			if br.Responses, err = readElements(rd, responseKinds[:], "response"); err != nil {
				return
			}
		}
		if rd.Bool() {
			form := rd.Frame()
			if rd.Err() == nil {
				r.Err = new(Error)
				err = decodeWire(form, r.Err)
			}
		}
	})
	if err != nil {
		return fmt.Errorf("kvpb: decoding a batch reply: %w", err)
	}
	if decErr != nil {
		return decErr
	}
	if r.Response == nil && r.Err == nil {
		return errors.New("kvpb: a batch reply holds neither a response nor an error")
	}
	return nil
}
