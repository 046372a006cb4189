package kvpb

import (
	"reflect"
	"testing"
)

// fill sets every field reachable from v to a value other than its zero, different from
// field to field: a field the hand-written codec forgets does not survive a round trip.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n)
			}
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := 0; i < 2; i++ {
			fill(v.Index(i), n)
		}
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			fill(v.Index(i), n)
		}
	case reflect.String:
		v.SetString("s" + string(rune('a'+*n%26)))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n%3 + 1)) // small and not zero: TxnStatus is a byte with four values
	case reflect.Interface:
		// Requests and responses: the caller puts real ones in.
	default:
		panic("fill: unhandled kind " + v.Kind().String())
	}
}

// binaryForm is a type that encodes itself by hand (txncodec.go, pointcodec.go).
type binaryForm interface {
	MarshalBinary() ([]byte, error)
	UnmarshalBinary([]byte) error
}

// TestBinaryFormsCoverEveryField: every field of every hand-encoded type survives a round
// trip, so a field added later and left out of its form fails here; and no prefix of an
// encoding decodes.
func TestBinaryFormsCoverEveryField(t *testing.T) {
	for _, proto := range []binaryForm{&Transaction{}, &GetRequest{}, &ScanRequest{}, &PutRequest{},
		&ConditionalPutRequest{}, &QueryIntentRequest{}, &ResolveIntentRequest{}, &GetResponse{}, &ScanResponse{},
		&QueryIntentResponse{}, &ResolveIntentResponse{}, &DeleteRequest{}, &RefreshRequest{}, &EndTxnRequest{},
		&EndTxnResponse{}} {
		typ := reflect.TypeOf(proto).Elem()
		in := reflect.New(typ)
		n := 0
		fill(in.Elem(), &n)
		b, err := in.Interface().(binaryForm).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		out := reflect.New(typ)
		if err := out.Interface().(binaryForm).UnmarshalBinary(b); err != nil {
			t.Fatalf("%s: %v", typ.Name(), err)
		}
		if !reflect.DeepEqual(in.Interface(), out.Interface()) {
			t.Fatalf("%s: round trip lost a field:\n got %+v\nwant %+v", typ.Name(), out.Interface(), in.Interface())
		}
		for i := 0; i < len(b); i++ {
			if err := reflect.New(typ).Interface().(binaryForm).UnmarshalBinary(b[:i]); err == nil {
				t.Fatalf("%s truncated to %d bytes: decoded without error", typ.Name(), i)
			}
		}
	}
}

// TestBatchFormsCoverEveryField: every field of a batch's header survives a round trip, with
// every kind of request or response inside.
func TestBatchFormsCoverEveryField(t *testing.T) {
	var ba BatchRequest
	n := 0
	fill(reflect.ValueOf(&ba).Elem(), &n)
	ba.Requests = allRequests()
	ba.Uncommitted = nil // filled in by the leaseholder, never sent
	var reply BatchReply
	fill(reflect.ValueOf(&reply).Elem(), &n)
	reply.Response.Responses = allResponses()
	reply.Err = &Error{Message: "m", Detail: errorDetail{TxnPushed: &TxnPushedError{PushedTo: ts1}}, Context: "canceled"}
	for _, in := range []binaryForm{&ba, &reply} {
		b, err := in.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		out := reflect.New(reflect.TypeOf(in).Elem()).Interface().(binaryForm)
		if err := out.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(in, out) {
			t.Fatalf("round trip lost a field:\n got %+v\nwant %+v", out, in)
		}
		for i := 0; i < len(b); i++ {
			if err := reflect.New(reflect.TypeOf(in).Elem()).Interface().(binaryForm).UnmarshalBinary(b[:i]); err == nil {
				t.Fatalf("%T truncated to %d bytes: decoded without error", in, i)
			}
		}
	}
}

func TestTransactionInABatch(t *testing.T) {
	var in Transaction
	n := 0
	fill(reflect.ValueOf(&in).Elem(), &n)
	// Inside a batch on the network, the transaction travels in the same form.
	ba := &BatchRequest{Txn: &in, RangeID: 3, Requests: []Request{&GetRequest{Key: []byte("k")}}}
	wire, err := ba.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back BatchRequest
	if err := back.UnmarshalBinary(wire); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Txn, &in) {
		t.Fatalf("transaction in a batch:\n got %+v\nwant %+v", back.Txn, in)
	}
}

func FuzzTransactionDecode(f *testing.F) {
	var in Transaction
	n := 0
	fill(reflect.ValueOf(&in).Elem(), &n)
	b, _ := in.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		var tx Transaction
		_ = tx.UnmarshalBinary(data) // must not panic
	})
}

func BenchmarkTransactionCodec(b *testing.B) {
	var in Transaction
	n := 0
	fill(reflect.ValueOf(&in).Elem(), &n)
	in.ObservedTimestamps, in.InFlightWrites, in.AbortedBy, in.IgnoredSeqNums, in.AbortKey, in.AbortReason = nil, nil, nil, nil, nil, ""
	b.Run("binary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			d, _ := in.MarshalBinary()
			var out Transaction
			if err := out.UnmarshalBinary(d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("msgpack", func(b *testing.B) {
		type plain Transaction // without the methods: go-msgpack's reflective form
		b.ReportAllocs()
		for b.Loop() {
			d, err := encodeWire((*plain)(&in))
			if err != nil {
				b.Fatal(err)
			}
			var out plain
			if err := decodeWire(d, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
