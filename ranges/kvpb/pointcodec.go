package kvpb

import (
	"encoding/binary"
	"fmt"

	"github.com/meridiandb/meridian/internal/wirebin"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// The requests and responses of point reads and writes, and the resolution of intents that
// follows every commit, most of what nodes send each other,
// encode themselves like Transaction (txncodec.go): a form version byte, then the fields in
// order. Value receivers for MarshalBinary, so that go-msgpack finds it on values too.

// decodeForm checks the form's version byte, reads the rest with read, and reports what
// went wrong, naming what was being decoded.
func decodeForm(data []byte, what string, read func(r *wirebin.Reader)) error {
	r := wirebin.NewReader(data)
	if v := r.Byte(); r.Err() == nil && v != formVersion {
		return fmt.Errorf("kvpb: %s in unknown form %d", what, v)
	}
	read(r)
	if err := r.Err(); err != nil {
		return fmt.Errorf("kvpb: decoding %s: %w", what, err)
	}
	return nil
}

func appendKeyValue(b []byte, kv *mvcc.KeyValue) []byte {
	b = wirebin.AppendBytes(b, kv.Key)
	b = wirebin.AppendBytes(b, kv.Value)
	return appendTimestamp(b, kv.Timestamp)
}

func readKeyValue(r *wirebin.Reader) mvcc.KeyValue {
	return mvcc.KeyValue{Key: r.Bytes(), Value: r.Bytes(), Timestamp: readTimestamp(r)}
}

func (q GetRequest) MarshalBinary() ([]byte, error) {
	return q.AppendBinary(make([]byte, 0, 8+len(q.Key)))
}

func (q GetRequest) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, formVersion)
	b = wirebin.AppendBytes(b, q.Key)
	return append(b, byte(q.Locking)), nil
}

func (q *GetRequest) UnmarshalBinary(data []byte) error {
	return decodeForm(data, "a get request", func(r *wirebin.Reader) {
		*q = GetRequest{Key: r.Bytes(), Locking: LockStrength(r.Byte())}
	})
}

func (q ScanRequest) MarshalBinary() ([]byte, error) {
	return q.AppendBinary(make([]byte, 0, 16+len(q.Key)+len(q.EndKey)))
}

func (q ScanRequest) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, formVersion)
	b = wirebin.AppendBytes(b, q.Key)
	b = wirebin.AppendBytes(b, q.EndKey)
	b = binary.AppendVarint(b, q.MaxKeys)
	b = wirebin.AppendBool(b, q.Reverse)
	return append(b, byte(q.Locking)), nil
}

func (q *ScanRequest) UnmarshalBinary(data []byte) error {
	return decodeForm(data, "a scan request", func(r *wirebin.Reader) {
		*q = ScanRequest{Span: Span{Key: r.Bytes(), EndKey: r.Bytes()}, MaxKeys: r.Varint(), Reverse: r.Bool(),
			Locking: LockStrength(r.Byte())}
	})
}

func (q PutRequest) MarshalBinary() ([]byte, error) {
	return q.AppendBinary(make([]byte, 0, 8+len(q.Key)+len(q.Value)))
}

func (q PutRequest) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, formVersion)
	b = wirebin.AppendBytes(b, q.Key)
	b = wirebin.AppendBytes(b, q.Value)
	return binary.AppendVarint(b, int64(q.Sequence)), nil
}

func (q *PutRequest) UnmarshalBinary(data []byte) error {
	return decodeForm(data, "a put request", func(r *wirebin.Reader) {
		*q = PutRequest{Key: r.Bytes(), Value: r.Bytes(), Sequence: int32(r.Varint())}
	})
}

func (q ConditionalPutRequest) MarshalBinary() ([]byte, error) {
	return q.AppendBinary(make([]byte, 0, 8+len(q.Key)+len(q.Value)))
}

func (q ConditionalPutRequest) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, formVersion)
	b = wirebin.AppendBytes(b, q.Key)
	b = wirebin.AppendBytes(b, q.Value)
	b = wirebin.AppendBool(b, q.ExpectAbsent)
	return binary.AppendVarint(b, int64(q.Sequence)), nil
}

func (q *ConditionalPutRequest) UnmarshalBinary(data []byte) error {
	return decodeForm(data, "a conditional put request", func(r *wirebin.Reader) {
		*q = ConditionalPutRequest{Key: r.Bytes(), Value: r.Bytes(), ExpectAbsent: r.Bool(), Sequence: int32(r.Varint())}
	})
}

func (q QueryIntentRequest) MarshalBinary() ([]byte, error) {
	return q.AppendBinary(make([]byte, 0, 64+len(q.Key)+len(q.Txn.Key)))
}

func (q QueryIntentRequest) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, formVersion)
	b = wirebin.AppendBytes(b, q.Key)
	b = appendTxnMeta(b, &q.Txn)
	b = binary.AppendVarint(b, int64(q.Sequence))
	return wirebin.AppendBool(b, q.Prevent), nil
}

func (q *QueryIntentRequest) UnmarshalBinary(data []byte) error {
	return decodeForm(data, "a query intent request", func(r *wirebin.Reader) {
		*q = QueryIntentRequest{Key: r.Bytes()}
		readTxnMeta(r, &q.Txn)
		q.Sequence = int32(r.Varint())
		q.Prevent = r.Bool()
	})
}

func (p GetResponse) MarshalBinary() ([]byte, error) { return p.AppendBinary(make([]byte, 0, 32)) }

func (p GetResponse) AppendBinary(b []byte) ([]byte, error) {
	b = wirebin.AppendBool(append(b, formVersion), p.Value != nil)
	if p.Value == nil {
		return b, nil
	}
	return appendKeyValue(b, p.Value), nil
}

func (p *GetResponse) UnmarshalBinary(data []byte) error {
	return decodeForm(data, "a get response", func(r *wirebin.Reader) {
		*p = GetResponse{}
		if r.Bool() {
			kv := readKeyValue(r)
			p.Value = &kv
		}
	})
}

func (p ScanResponse) MarshalBinary() ([]byte, error) {
	return p.AppendBinary(make([]byte, 0, p.size()))
}

// size is about the length of the scan response's form.
func (p ScanResponse) size() int {
	size := 16 + len(p.ResumeKey)
	for i := range p.KVs {
		size += 24 + len(p.KVs[i].Key) + len(p.KVs[i].Value)
	}
	return size
}

func (p ScanResponse) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, formVersion)
	if p.KVs == nil {
		b = append(b, 0)
	} else {
		b = binary.AppendUvarint(b, uint64(len(p.KVs))+1)
	}
	for i := range p.KVs {
		b = appendKeyValue(b, &p.KVs[i])
	}
	return wirebin.AppendBytes(b, p.ResumeKey), nil
}

func (p *ScanResponse) UnmarshalBinary(data []byte) error {
	return decodeForm(data, "a scan response", func(r *wirebin.Reader) {
		*p = ScanResponse{}
		if n := r.Count(1); n > 0 { // 0 for nil, else 1 + the number of rows
			p.KVs = make([]mvcc.KeyValue, n-1)
			for i := range p.KVs {
				p.KVs[i] = readKeyValue(r)
			}
		}
		p.ResumeKey = r.Bytes()
	})
}

func (p QueryIntentResponse) MarshalBinary() ([]byte, error) { return p.AppendBinary(nil) }

func (p QueryIntentResponse) AppendBinary(b []byte) ([]byte, error) {
	b = wirebin.AppendBool(append(b, formVersion), p.Found)
	return appendTimestamp(b, p.Timestamp), nil
}

func (p *QueryIntentResponse) UnmarshalBinary(data []byte) error {
	return decodeForm(data, "a query intent response", func(r *wirebin.Reader) {
		*p = QueryIntentResponse{Found: r.Bool(), Timestamp: readTimestamp(r)}
	})
}

func (q ResolveIntentRequest) MarshalBinary() ([]byte, error) {
	return q.AppendBinary(make([]byte, 0, 64+len(q.Key)+len(q.EndKey)+len(q.Txn.Key)))
}

func (q ResolveIntentRequest) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, formVersion)
	b = wirebin.AppendBytes(b, q.Key)
	b = wirebin.AppendBytes(b, q.EndKey)
	b = appendTxnMeta(b, &q.Txn)
	b = append(b, byte(q.Status))
	b = appendTimestamp(b, q.CommitTS)
	return appendSeqRanges(b, q.IgnoredSeqNums), nil
}

func (q *ResolveIntentRequest) UnmarshalBinary(data []byte) error {
	return decodeForm(data, "a resolve intent request", func(r *wirebin.Reader) {
		*q = ResolveIntentRequest{Span: Span{Key: r.Bytes(), EndKey: r.Bytes()}}
		readTxnMeta(r, &q.Txn)
		q.Status = TxnStatus(r.Byte())
		q.CommitTS = readTimestamp(r)
		q.IgnoredSeqNums = readSeqRanges(r)
	})
}

func (p ResolveIntentResponse) MarshalBinary() ([]byte, error) { return p.AppendBinary(nil) }

func (p ResolveIntentResponse) AppendBinary(b []byte) ([]byte, error) {
	return binary.AppendVarint(append(b, formVersion), int64(p.Resolved)), nil
}

func (p *ResolveIntentResponse) UnmarshalBinary(data []byte) error {
	return decodeForm(data, "a resolve intent response", func(r *wirebin.Reader) {
		*p = ResolveIntentResponse{Resolved: int(r.Varint())}
	})
}

func (q DeleteRequest) MarshalBinary() ([]byte, error) { return q.AppendBinary(nil) }

func (q DeleteRequest) AppendBinary(b []byte) ([]byte, error) {
	b = wirebin.AppendBytes(append(b, formVersion), q.Key)
	return binary.AppendVarint(b, int64(q.Sequence)), nil
}

func (q *DeleteRequest) UnmarshalBinary(data []byte) error {
	return decodeForm(data, "a delete request", func(r *wirebin.Reader) {
		*q = DeleteRequest{Key: r.Bytes(), Sequence: int32(r.Varint())}
	})
}

func (q RefreshRequest) MarshalBinary() ([]byte, error) { return q.AppendBinary(nil) }

func (q RefreshRequest) AppendBinary(b []byte) ([]byte, error) {
	b = wirebin.AppendBytes(append(b, formVersion), q.Key)
	b = wirebin.AppendBytes(b, q.EndKey)
	return appendTimestamp(b, q.From), nil
}

func (q *RefreshRequest) UnmarshalBinary(data []byte) error {
	return decodeForm(data, "a refresh request", func(r *wirebin.Reader) {
		*q = RefreshRequest{Span: Span{Key: r.Bytes(), EndKey: r.Bytes()}, From: readTimestamp(r)}
	})
}

func (q EndTxnRequest) MarshalBinary() ([]byte, error) { return q.AppendBinary(nil) }

func (q EndTxnRequest) AppendBinary(b []byte) ([]byte, error) {
	b = wirebin.AppendBool(append(b, formVersion), q.Commit)
	b = appendSpans(b, q.LockSpans)
	return appendInFlightWrites(b, q.InFlightWrites), nil
}

func (q *EndTxnRequest) UnmarshalBinary(data []byte) error {
	return decodeForm(data, "an end transaction request", func(r *wirebin.Reader) {
		*q = EndTxnRequest{Commit: r.Bool(), LockSpans: readSpans(r), InFlightWrites: readInFlightWrites(r)}
	})
}

func (p EndTxnResponse) MarshalBinary() ([]byte, error) { return p.AppendBinary(nil) }

func (p EndTxnResponse) AppendBinary(b []byte) ([]byte, error) {
	b = wirebin.AppendBool(append(b, formVersion), p.OnePhaseCommit)
	return appendSpans(b, p.Unresolved), nil
}

func (p *EndTxnResponse) UnmarshalBinary(data []byte) error {
	return decodeForm(data, "an end transaction response", func(r *wirebin.Reader) {
		*p = EndTxnResponse{OnePhaseCommit: r.Bool(), Unresolved: readSpans(r)}
	})
}

// The responses of writes and refreshes carry nothing: their forms are the version alone.

func (PutResponse) AppendBinary(b []byte) ([]byte, error) { return append(b, formVersion), nil }
func (ConditionalPutResponse) AppendBinary(b []byte) ([]byte, error) {
	return append(b, formVersion), nil
}
func (DeleteResponse) AppendBinary(b []byte) ([]byte, error)  { return append(b, formVersion), nil }
func (RefreshResponse) AppendBinary(b []byte) ([]byte, error) { return append(b, formVersion), nil }

func (p PutResponse) MarshalBinary() ([]byte, error)            { return p.AppendBinary(nil) }
func (p ConditionalPutResponse) MarshalBinary() ([]byte, error) { return p.AppendBinary(nil) }
func (p DeleteResponse) MarshalBinary() ([]byte, error)         { return p.AppendBinary(nil) }
func (p RefreshResponse) MarshalBinary() ([]byte, error)        { return p.AppendBinary(nil) }

func (p *PutResponse) UnmarshalBinary(data []byte) error {
	return decodeForm(data, "a put response", func(*wirebin.Reader) { *p = PutResponse{} })
}

func (p *ConditionalPutResponse) UnmarshalBinary(data []byte) error {
	return decodeForm(data, "a conditional put response", func(*wirebin.Reader) { *p = ConditionalPutResponse{} })
}

func (p *DeleteResponse) UnmarshalBinary(data []byte) error {
	return decodeForm(data, "a delete response", func(*wirebin.Reader) { *p = DeleteResponse{} })
}

func (p *RefreshResponse) UnmarshalBinary(data []byte) error {
	return decodeForm(data, "a refresh response", func(*wirebin.Reader) { *p = RefreshResponse{} })
}
