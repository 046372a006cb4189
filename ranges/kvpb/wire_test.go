package kvpb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/internal/wirebin"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

var (
	ts1  = hlc.Timestamp{WallTime: 1700000000000000000, Logical: 3}
	ts2  = hlc.Timestamp{WallTime: 1700000000500000000}
	meta = mvcc.TxnMeta{ID: mvcc.TxnID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, Key: []byte("anchor"),
		Epoch: 2, WriteTimestamp: ts2, MinTimestamp: ts1}
	span = Span{Key: []byte("a"), EndKey: []byte("b\x00c")}
	txn  = &Transaction{TxnMeta: meta, Status: Pending, ReadTimestamp: ts1, GlobalUncertaintyLimit: ts2,
		LastHeartbeat: ts1, LockSpans: []Span{span, {Key: []byte("k")}},
		AbortKey: []byte("k"), AbortedBy: &ConflictingTxn{ID: meta.ID, Timestamp: ts2},
		ObservedTimestamps: []ObservedTimestamp{{NodeID: 1, Timestamp: ts1}, {NodeID: 3, Timestamp: ts2}}, GatewayNodeID: 1}
)

// allRequests holds one of every request type with every field set.
func allRequests() []Request {
	return []Request{
		&GetRequest{Key: []byte("k"), Locking: LockExclusive},
		&ScanRequest{Span: span, MaxKeys: 10, Reverse: true, Locking: LockShared},
		&PutRequest{Key: []byte("k"), Value: []byte{0, 1, 0xff}, Sequence: 3},
		&ConditionalPutRequest{Key: []byte("k"), Value: []byte("v"), ExpectAbsent: true, Sequence: 4},
		&DeleteRequest{Key: []byte("k"), Sequence: 5},
		&DeleteRangeRequest{Span: span},
		&EndTxnRequest{Commit: true, LockSpans: []Span{span}, InFlightWrites: []InFlightWrite{{Key: []byte("k"), Sequence: 2}}},
		&HeartbeatTxnRequest{Now: ts2},
		&QueryTxnRequest{Txn: meta, WaitingTxns: true},
		&QueryIntentRequest{Key: []byte("k"), Txn: meta, Prevent: true},
		&RecoverTxnRequest{Txn: meta, ImplicitlyCommitted: true, MissingWrite: []byte("w")}, // both, for the codec
		&PushTxnRequest{Pushee: meta, Now: ts2, ExpireBefore: ts1, Force: true, PushTo: ts2, Pusher: &meta, Wait: true, Reason: RetryDeadlock, Key: []byte("k")},
		&ResolveIntentRequest{Span: span, Txn: meta, Status: Committed, CommitTS: ts2},
		&RefreshRequest{Span: span, From: ts1},
		&GCRequest{Span: span, Threshold: ts1},
		&ClearRangeRequest{Span: span, Threshold: ts2},
		&AdminSplitRequest{SplitKey: []byte("m"), NewRangeID: 9},
		&RangeStatsRequest{Span: span, SizeLimit: 1 << 20},
		&AdminMergeRequest{Left: RangeDescriptor{RangeID: 1, EndKey: []byte("m")}, Right: RangeDescriptor{RangeID: 9, StartKey: []byte("m"), Sticky: true}},
		&SubsumeRequest{Left: RangeDescriptor{RangeID: 1}, Right: RangeDescriptor{RangeID: 9}},
		&ResolveMergeRequest{LeftKey: []byte("a"), RightRangeID: 9, FreezeIndex: 40},
		&AdminRelocateRequest{Range: RangeDescriptor{RangeID: 9}, Targets: []uint64{1, 2, 4}},
		&IncrementRequest{Key: []byte("k"), Increment: -2, Count: 10, Start: -1, Min: -100, Max: -1, Cycle: true},
		&RemoveTxnRecordRequest{Txn: meta, Status: Committed},
	}
}

func allResponses() []Response {
	return []Response{
		&GetResponse{Value: &mvcc.KeyValue{Key: []byte("k"), Value: []byte("v"), Timestamp: ts1}},
		&ScanResponse{KVs: []mvcc.KeyValue{{Key: []byte("a"), Value: []byte("1"), Timestamp: ts1}}, ResumeKey: []byte("b")},
		&PutResponse{},
		&ConditionalPutResponse{},
		&DeleteResponse{},
		&DeleteRangeResponse{Keys: [][]byte{[]byte("a"), []byte("b")}},
		&EndTxnResponse{OnePhaseCommit: true},
		&HeartbeatTxnResponse{Txn: txn},
		&QueryTxnResponse{Txn: txn, Found: true, Waiting: []WaitEdge{{Waiter: TxnRef{ID: meta.ID, Priority: 3}, Holder: TxnRef{Priority: 9}}}},
		&QueryIntentResponse{Found: true},
		&RecoverTxnResponse{Txn: txn},
		&PushTxnResponse{Pushee: txn},
		&ResolveIntentResponse{Resolved: 4},
		&RefreshResponse{},
		&GCResponse{Removed: 9},
		&ClearRangeResponse{},
		&AdminSplitResponse{Left: RangeDescriptor{RangeID: 1, EndKey: []byte("m")}, Right: RangeDescriptor{RangeID: 9, StartKey: []byte("m")}},
		&RangeStatsResponse{NodeID: 2, ApproximateBytes: 1 << 20, QPS: 12.5, Bytes: 4096, Age: time.Minute},
		&AdminMergeResponse{Merged: RangeDescriptor{RangeID: 1, EndKey: []byte("z"), Generation: 4}},
		&SubsumeResponse{FreezeIndex: 40, FreezeTimestamp: ts2},
		&ResolveMergeResponse{Merged: true},
		&AdminRelocateResponse{Done: true},
		&IncrementResponse{First: -7, Count: 3},
		&RemoveTxnRecordResponse{Removed: true},
	}
}

// TestKindsCoverEveryType: every request and response type the tests know has a number on
// the network, and no two types share one, so a new type added without a network encoding
// fails here.
func TestKindsCoverEveryType(t *testing.T) {
	n := 0
	for _, v := range allRequests() {
		if _, ok := kindOf[reflect.TypeOf(v)]; !ok {
			t.Errorf("%T has no kind number", v)
		}
		n++
	}
	for _, v := range allResponses() {
		if _, ok := kindOf[reflect.TypeOf(v)]; !ok {
			t.Errorf("%T has no kind number", v)
		}
		n++
	}
	if len(kindOf) != n {
		t.Errorf("%d types numbered, the tests know %d", len(kindOf), n)
	}
}

func TestBatchRequestRoundTrip(t *testing.T) {
	for _, ba := range []*BatchRequest{
		{Timestamp: ts1, Txn: txn, RangeID: 7, Requests: allRequests(), LockTimeout: time.Second},
		{Timestamp: ts2, Requests: []Request{&GetRequest{Key: []byte("x")}}}, // non-transactional
		{Txn: txn, RangeID: 3, AsyncConsensus: true, Requests: []Request{&PutRequest{Key: []byte("p"), Sequence: 2}}},
		{Txn: txn, RangeID: 4, WithStaging: true, Requests: []Request{&PutRequest{Key: []byte("s"), Sequence: 3}}},
	} {
		b, err := ba.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got BatchRequest
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(&got, ba) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, *ba)
		}
	}
}

func TestBatchReplyRoundTrip(t *testing.T) {
	for _, r := range []*BatchReply{
		{Response: &BatchResponse{Responses: allResponses(), Txn: txn, Timestamp: ts2, Observed: ObservedTimestamp{NodeID: 3, Timestamp: ts1}}},
		{Response: &BatchResponse{Responses: []Response{&GetResponse{}}, Timestamp: ts1}},
	} {
		b, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got BatchReply
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(&got, r) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got.Response, r.Response)
		}
	}
}

func TestDescriptorRoundTrip(t *testing.T) {
	d := &RangeDescriptor{RangeID: 4, StartKey: []byte("a"), EndKey: []byte{0xff, 0xff},
		Replicas: []ReplicaDescriptor{{NodeID: 1, StoreID: 1, ReplicaID: 1}, {NodeID: 3, StoreID: 3, ReplicaID: 2}}, Generation: 7}
	b, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got RangeDescriptor
	if err := got.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(&got, d) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
}

// TestErrorsKeepTheirType: every typed error callers branch on arrives as that type, with
// its fields, wrapped or not, and other errors arrive with their message.
func TestErrorsKeepTheirType(t *testing.T) {
	typed := []error{
		&TransactionRetryError{Reason: RetrySerializable, Message: "m", Aborted: true, Timestamp: ts1,
			Key: []byte("\x05\x89k"), Conflicting: &ConflictingTxn{ID: meta.ID, Timestamp: ts2}},
		&TxnPushedError{PushedTo: ts2},
		&ConflictError{Intents: []mvcc.Intent{{Key: []byte("k"), Txn: meta}}},
		&RangeNotFoundError{RangeID: 2, Key: []byte("k"), StoreID: 1},
		&MergeInProgressError{RangeID: 9},
		&NotLeaseHolderError{RangeID: 3, NodeID: 1, LeaseHolder: 2},
		&AmbiguousResultError{Message: "n2 went away"},
		&RangeKeyMismatchError{RangeID: 1, Key: []byte("z"), Ranges: []RangeDescriptor{{RangeID: 2, StartKey: []byte("m"), EndKey: []byte{0xff}}}},
		&BatchTimestampBeforeGCError{Timestamp: ts1, Threshold: ts2},
		&mvcc.WriteIntentError{Intents: []mvcc.Intent{{Key: []byte("k"), Txn: meta}}},
		&mvcc.WriteTooOldError{Timestamp: ts1, ActualTimestamp: ts2},
		&mvcc.ConditionFailedError{Key: []byte("k"), ActualValue: []byte("v")},
		&mvcc.ReadWithinUncertaintyIntervalError{ReadTimestamp: ts1, ExistingTimestamp: ts2, Key: []byte("k"), LocalTimestamp: ts1},
		&mvcc.RefreshConflictError{Key: []byte("k"), Timestamp: ts2, Txn: meta.ID},
		&hlc.ClockOffsetError{Remote: ts2, Physical: 5, MaxOffset: 500 * time.Millisecond},
		&LockNotAvailableError{Key: []byte("k"), Holder: meta.ID, Timeout: time.Second, HolderTimestamp: ts2},
	}
	if n := reflect.TypeOf(errorDetail{}).NumField(); n != len(typed) {
		t.Fatalf("errorDetail has %d fields, the test %d", n, len(typed))
	}
	for _, orig := range typed {
		for _, sent := range []error{orig, fmt.Errorf("r3: evaluating: %w", orig)} {
			got := roundTripError(t, sent)
			if got.Error() != sent.Error() {
				t.Errorf("message %q, want %q", got.Error(), sent.Error())
			}
			target := reflect.New(reflect.TypeOf(orig))
			if !errors.As(got, target.Interface()) {
				t.Errorf("%q does not unwrap to %T", got, orig)
				continue
			}
			if !reflect.DeepEqual(target.Elem().Interface(), orig) {
				t.Errorf("detail %+v, want %+v", target.Elem().Interface(), orig)
			}
		}
	}
	plain := roundTripError(t, errors.New("disk full"))
	if plain.Error() != "disk full" {
		t.Errorf("plain error: %q", plain)
	}
	if got := roundTripError(t, fmt.Errorf("waiting: %w", context.DeadlineExceeded)); !errors.Is(got, context.DeadlineExceeded) {
		t.Errorf("%q is not DeadlineExceeded", got)
	}
	if got := roundTripError(t, context.Canceled); !errors.Is(got, context.Canceled) {
		t.Errorf("%q is not Canceled", got)
	}
}

// TestConflictSurvivesTheNetwork: what a SQL client's error names — the key of a conflict and
// the other transaction — arrives with the error, in either form a conflict takes, and an
// error from a node that does not send them arrives without them.
func TestConflictSurvivesTheNetwork(t *testing.T) {
	key := []byte{0x05, 0xf0, 0x89, 0x8d, 0x00, 0xff}
	for _, orig := range []error{
		&TransactionRetryError{Reason: RetryDeadlock, Aborted: true, Message: "aborted to break a deadlock", Key: key,
			Conflicting: &ConflictingTxn{ID: meta.ID, Timestamp: ts2}},
		&TransactionRetryError{Reason: RetrySerializable, Key: key, Conflicting: &ConflictingTxn{Timestamp: ts1}},
		&LockNotAvailableError{Key: key, Holder: meta.ID, Timeout: time.Nanosecond, HolderTimestamp: ts1},
	} {
		var got error = roundTripError(t, fmt.Errorf("r7: %w", orig))
		target := reflect.New(reflect.TypeOf(orig))
		if !errors.As(got, target.Interface()) || !reflect.DeepEqual(target.Elem().Interface(), orig) {
			t.Errorf("%v: arrived as %+v", orig, target.Elem().Interface())
		}
		if strings.Contains(got.Error(), string(key[1:4])) {
			t.Errorf("the message shows the raw key: %q", got)
		}
	}

	// A node of the version before sends a retry error without them.
	type oldRetry struct {
		Reason    RetryReason
		Message   string
		Aborted   bool
		Timestamp hlc.Timestamp
	}
	type oldDetail struct {
		TransactionRetry *oldRetry
	}
	oldErr, err := encodeWire(&struct {
		Message string
		Detail  oldDetail
	}{Message: "restart", Detail: oldDetail{&oldRetry{Reason: RetryWriteTooOld, Message: "m", Timestamp: ts1}}})
	if err != nil {
		t.Fatal(err)
	}
	// A reply with no response and that error.
	b := wirebin.Frame(append([]byte{formVersion, 0, 1}, oldErr...), 3)
	var r BatchReply
	if err := r.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	var re *TransactionRetryError
	if !errors.As(r.Err.GoError(), &re) || re.Reason != RetryWriteTooOld || re.Key != nil || re.Conflicting != nil {
		t.Fatalf("an old node's retry error arrived as %+v", re)
	}
}

func roundTripError(t *testing.T, err error) error {
	t.Helper()
	b, merr := (&BatchReply{Err: NewError(err)}).MarshalBinary()
	if merr != nil {
		t.Fatal(merr)
	}
	var r BatchReply
	if uerr := r.UnmarshalBinary(b); uerr != nil {
		t.Fatal(uerr)
	}
	return r.Err.GoError()
}

func TestMalformedMessages(t *testing.T) {
	good, err := (&BatchRequest{Txn: txn, Requests: allRequests()}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var ba BatchRequest
	for i := 0; i < len(good); i += 7 {
		if err := ba.UnmarshalBinary(good[:i]); err == nil {
			t.Fatalf("truncated to %d bytes: decoded without error", i)
		}
	}
	// A request of a kind this node does not know (a newer node's) is an error naming it.
	unknown := append(bytes.Clone(good[:len(good)-len(mustAppendElement(t, allRequests()[len(allRequests())-1]))]), 99, 1, formVersion)
	if err := (&BatchRequest{}).UnmarshalBinary(unknown); err == nil || !strings.Contains(err.Error(), "unknown request kind 99") {
		t.Fatalf("a request of an unknown kind: %v", err)
	}
	var r BatchReply
	if err := r.UnmarshalBinary([]byte{formVersion, 0, 0}); err == nil {
		t.Fatal("an empty reply decoded without error")
	}
}

// mustAppendElement is v's encoding as an element of a batch.
func mustAppendElement(t *testing.T, v any) []byte {
	b, err := appendElement(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzUnmarshal(f *testing.F) {
	for _, m := range []interface{ MarshalBinary() ([]byte, error) }{
		&BatchRequest{Txn: txn, Requests: allRequests()},
		&BatchReply{Response: &BatchResponse{Responses: allResponses()}},
		&BatchReply{Err: NewError(&TxnPushedError{PushedTo: ts1})},
	} {
		b, err := m.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var ba BatchRequest
		_ = ba.UnmarshalBinary(b)
		var r BatchReply
		_ = r.UnmarshalBinary(b)
	})
}

func TestReplayable(t *testing.T) {
	for _, tc := range []struct {
		name string
		ba   BatchRequest
		want bool
	}{
		{"read", BatchRequest{Requests: []Request{&GetRequest{Key: []byte("k")}}}, true},
		{"write of an open transaction", BatchRequest{Txn: txn, Requests: []Request{&PutRequest{Key: []byte("k")}}}, true},
		{"write outside a transaction", BatchRequest{Requests: []Request{&PutRequest{Key: []byte("k")}}}, false},
		{"commit", BatchRequest{Txn: txn, Requests: []Request{&PutRequest{Key: []byte("k")}, &EndTxnRequest{Commit: true}}}, false},
		{"unnumbered conditional write", BatchRequest{Txn: txn, Requests: []Request{&ConditionalPutRequest{Key: []byte("k"), ExpectAbsent: true}}}, false},
		{"push", BatchRequest{Requests: []Request{&PushTxnRequest{Pushee: meta}}}, true},
		{"intent resolution", BatchRequest{Requests: []Request{&ResolveIntentRequest{Span: span}}}, true},
		{"numbered conditional write", BatchRequest{Txn: txn, Requests: []Request{&ConditionalPutRequest{Key: []byte("k"), ExpectAbsent: true, Sequence: 2}}}, true},
		{"write in flight beside a staged record", BatchRequest{Txn: txn, WithStaging: true, Requests: []Request{&PutRequest{Key: []byte("k"), Sequence: 3}}}, false},
	} {
		if got := tc.ba.Replayable(); got != tc.want {
			t.Errorf("%s: Replayable() = %v, want %v", tc.name, got, tc.want)
		}
	}
}
