package kvpb

import (
	"testing"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// BenchmarkBatchWire encodes and decodes a typical transactional batch (three point writes)
// and a typical reply (a scan of ten rows), as nodes send them to each other.
func BenchmarkBatchWire(b *testing.B) {
	ts := hlc.Timestamp{WallTime: 1700000000000000000, Logical: 1}
	txn := &Transaction{TxnMeta: mvcc.TxnMeta{ID: mvcc.TxnID{1}, Key: []byte("/t/1/warehouse/7"), WriteTimestamp: ts, MinTimestamp: ts, Sequence: 4},
		ReadTimestamp: ts, GlobalUncertaintyLimit: ts, LastHeartbeat: ts, GatewayNodeID: 2,
		ObservedTimestamps: []ObservedTimestamp{{NodeID: 1, Timestamp: ts}, {NodeID: 3, Timestamp: ts}},
		LockSpans:          []Span{{Key: []byte("/t/1/warehouse/7")}, {Key: []byte("/t/2/district/7/3")}}}
	ba := &BatchRequest{Txn: txn, Timestamp: ts, RangeID: 12, AsyncConsensus: true, Requests: []Request{
		&PutRequest{Key: []byte("/t/5/order/7/3/3001"), Value: make([]byte, 60), Sequence: 5},
		&ConditionalPutRequest{Key: []byte("/t/6/new_order/7/3/3001"), Value: make([]byte, 10), ExpectAbsent: true, Sequence: 6},
		&PutRequest{Key: []byte("/t/2/district/7/3"), Value: make([]byte, 90), Sequence: 7},
	}}
	scan := &ScanResponse{}
	for i := 0; i < 10; i++ {
		scan.KVs = append(scan.KVs, mvcc.KeyValue{Key: []byte("/t/8/order_line/7/3/3001/" + string(rune('0'+i))), Value: make([]byte, 50), Timestamp: ts})
	}
	reply := &BatchReply{Response: &BatchResponse{Txn: txn, Timestamp: ts, Observed: ObservedTimestamp{NodeID: 3, Timestamp: ts}, Responses: []Response{scan}}}
	// A commit's intent resolution on one range: three intents, no transaction.
	resolve := &BatchRequest{Timestamp: ts, RangeID: 12}
	for _, k := range []string{"/t/5/order/7/3/3001", "/t/6/new_order/7/3/3001", "/t/2/district/7/3"} {
		resolve.Requests = append(resolve.Requests, &ResolveIntentRequest{Span: Span{Key: []byte(k)}, Txn: txn.TxnMeta,
			Status: Committed, CommitTS: ts})
	}
	for _, c := range []struct {
		name string
		ba   *BatchRequest
	}{{"resolve", resolve}, {"request", ba}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d, err := c.ba.MarshalBinary()
				if err != nil {
					b.Fatal(err)
				}
				var out BatchRequest
				if err := out.UnmarshalBinary(d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("reply", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			d, err := reply.MarshalBinary()
			if err != nil {
				b.Fatal(err)
			}
			var out BatchReply
			if err := out.UnmarshalBinary(d); err != nil {
				b.Fatal(err)
			}
		}
	})
}
