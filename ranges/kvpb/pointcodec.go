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
	b := append(make([]byte, 0, 8+len(q.Key)), formVersion)
	b = wirebin.AppendBytes(b, q.Key)
	b = append(b, byte(q.Locking))
	return binary.AppendVarint(b, int64(q.Sequence)), nil
}

func (q *GetRequest) UnmarshalBinary(data []byte) error {
	return decodeForm(data, "a get request", func(r *wirebin.Reader) {
		*q = GetRequest{Key: r.Bytes(), Locking: LockStrength(r.Byte()), Sequence: int32(r.Varint())}
	})
}

func (q ScanRequest) MarshalBinary() ([]byte, error) {
	b := append(make([]byte, 0, 16+len(q.Key)+len(q.EndKey)), formVersion)
	b = wirebin.AppendBytes(b, q.Key)
	b = wirebin.AppendBytes(b, q.EndKey)
	b = binary.AppendVarint(b, q.MaxKeys)
	b = wirebin.AppendBool(b, q.Reverse)
	b = append(b, byte(q.Locking))
	return binary.AppendVarint(b, int64(q.Sequence)), nil
}

func (q *ScanRequest) UnmarshalBinary(data []byte) error {
	return decodeForm(data, "a scan request", func(r *wirebin.Reader) {
		*q = ScanRequest{Span: Span{Key: r.Bytes(), EndKey: r.Bytes()}, MaxKeys: r.Varint(), Reverse: r.Bool(),
			Locking: LockStrength(r.Byte()), Sequence: int32(r.Varint())}
	})
}

func (q PutRequest) MarshalBinary() ([]byte, error) {
	b := append(make([]byte, 0, 8+len(q.Key)+len(q.Value)), formVersion)
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
	b := append(make([]byte, 0, 8+len(q.Key)+len(q.Value)), formVersion)
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
	b := append(make([]byte, 0, 64+len(q.Key)+len(q.Txn.Key)), formVersion)
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

func (p GetResponse) MarshalBinary() ([]byte, error) {
	b := wirebin.AppendBool(append(make([]byte, 0, 32), formVersion), p.Value != nil)
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
	size := 16 + len(p.ResumeKey)
	for i := range p.KVs {
		size += 24 + len(p.KVs[i].Key) + len(p.KVs[i].Value)
	}
	b := append(make([]byte, 0, size), formVersion)
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

func (p QueryIntentResponse) MarshalBinary() ([]byte, error) {
	b := wirebin.AppendBool([]byte{formVersion}, p.Found)
	return appendTimestamp(b, p.Timestamp), nil
}

func (p *QueryIntentResponse) UnmarshalBinary(data []byte) error {
	return decodeForm(data, "a query intent response", func(r *wirebin.Reader) {
		*p = QueryIntentResponse{Found: r.Bool(), Timestamp: readTimestamp(r)}
	})
}

func (q ResolveIntentRequest) MarshalBinary() ([]byte, error) {
	b := append(make([]byte, 0, 64+len(q.Key)+len(q.EndKey)+len(q.Txn.Key)), formVersion)
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

func (p ResolveIntentResponse) MarshalBinary() ([]byte, error) {
	return binary.AppendVarint([]byte{formVersion}, int64(p.Resolved)), nil
}

func (p *ResolveIntentResponse) UnmarshalBinary(data []byte) error {
	return decodeForm(data, "a resolve intent response", func(r *wirebin.Reader) {
		*p = ResolveIntentResponse{Resolved: int(r.Varint())}
	})
}
