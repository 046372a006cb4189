package kvpb

import (
	"encoding/binary"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/internal/wirebin"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// A Transaction encodes itself in a hand-written binary form: it rides in nearly every
// request and response between nodes, where reflective MessagePack cost more than the rest
// of the batch together (go-msgpack uses a type's MarshalBinary when it has one), and it is
// the stored form of transaction records. The form is formVersion, then the fields in the
// order of AppendBinary. A field added later goes at the end; decoders ignore bytes after
// the fields they know.
const formVersion = 1

// MarshalBinary implements encoding.BinaryMarshaler. It has a value receiver so that
// go-msgpack finds it on Transaction values as well as pointers.
func (t Transaction) MarshalBinary() ([]byte, error) {
	return t.AppendBinary(make([]byte, 0, 128+len(t.Key)+16*len(t.LockSpans)))
}

// AppendBinary implements encoding.BinaryAppender.
func (t Transaction) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, formVersion)
	b = appendTxnMeta(b, &t.TxnMeta)
	b = append(b, byte(t.Status))
	b = appendTimestamp(b, t.ReadTimestamp)
	b = appendTimestamp(b, t.GlobalUncertaintyLimit)
	b = binary.AppendUvarint(b, uint64(len(t.ObservedTimestamps)))
	for _, o := range t.ObservedTimestamps {
		b = binary.AppendUvarint(b, o.NodeID)
		b = appendTimestamp(b, o.Timestamp)
	}
	b = appendTimestamp(b, t.LastHeartbeat)
	b = appendSpans(b, t.LockSpans)
	b = binary.AppendUvarint(b, t.GatewayNodeID)
	b = appendInFlightWrites(b, t.InFlightWrites)
	b = wirebin.AppendBytes(b, []byte(t.AbortReason))
	b = wirebin.AppendBytes(b, t.AbortKey)
	b = wirebin.AppendBool(b, t.AbortedBy != nil)
	if t.AbortedBy != nil {
		b = append(b, t.AbortedBy.ID[:]...)
		b = appendTimestamp(b, t.AbortedBy.Timestamp)
	}
	b = appendSeqRanges(b, t.IgnoredSeqNums)
	return b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (t *Transaction) UnmarshalBinary(data []byte) error {
	return decodeForm(data, "a transaction", t.read)
}

func (t *Transaction) read(r *wirebin.Reader) {
	*t = Transaction{}
	readTxnMeta(r, &t.TxnMeta)
	t.Status = TxnStatus(r.Byte())
	t.ReadTimestamp = readTimestamp(r)
	t.GlobalUncertaintyLimit = readTimestamp(r)
	if n := r.Count(2); n > 0 {
		t.ObservedTimestamps = make([]ObservedTimestamp, n)
		for i := range t.ObservedTimestamps {
			t.ObservedTimestamps[i] = ObservedTimestamp{NodeID: r.Uvarint(), Timestamp: readTimestamp(r)}
		}
	}
	t.LastHeartbeat = readTimestamp(r)
	t.LockSpans = readSpans(r)
	t.GatewayNodeID = r.Uvarint()
	t.InFlightWrites = readInFlightWrites(r)
	t.AbortReason = RetryReason(r.Bytes())
	t.AbortKey = r.Bytes()
	if r.Bool() {
		t.AbortedBy = &ConflictingTxn{}
		copy(t.AbortedBy.ID[:], r.Fixed(len(t.AbortedBy.ID)))
		t.AbortedBy.Timestamp = readTimestamp(r)
	}
	t.IgnoredSeqNums = readSeqRanges(r)
}

func appendSeqRanges(b []byte, rs []mvcc.SeqRange) []byte {
	b = binary.AppendUvarint(b, uint64(len(rs)))
	for _, r := range rs {
		b = binary.AppendVarint(b, int64(r.Start))
		b = binary.AppendVarint(b, int64(r.End))
	}
	return b
}

func readSeqRanges(r *wirebin.Reader) []mvcc.SeqRange {
	n := r.Count(2)
	if n == 0 {
		return nil
	}
	rs := make([]mvcc.SeqRange, n)
	for i := range rs {
		rs[i] = mvcc.SeqRange{Start: int32(r.Varint()), End: int32(r.Varint())}
	}
	return rs
}

// appendSpans appends a list of spans; readSpans reads it back, nil when empty.
func appendSpans(b []byte, spans []Span) []byte {
	b = binary.AppendUvarint(b, uint64(len(spans)))
	for _, sp := range spans {
		b = wirebin.AppendBytes(b, sp.Key)
		b = wirebin.AppendBytes(b, sp.EndKey)
	}
	return b
}

func readSpans(r *wirebin.Reader) []Span {
	n := r.Count(2)
	if n == 0 {
		return nil
	}
	spans := make([]Span, n)
	for i := range spans {
		spans[i] = Span{Key: r.Bytes(), EndKey: r.Bytes()}
	}
	return spans
}

func appendInFlightWrites(b []byte, ws []InFlightWrite) []byte {
	b = binary.AppendUvarint(b, uint64(len(ws)))
	for _, w := range ws {
		b = wirebin.AppendBytes(b, w.Key)
		b = binary.AppendVarint(b, int64(w.Sequence))
	}
	return b
}

func readInFlightWrites(r *wirebin.Reader) []InFlightWrite {
	n := r.Count(2)
	if n == 0 {
		return nil
	}
	ws := make([]InFlightWrite, n)
	for i := range ws {
		ws[i] = InFlightWrite{Key: r.Bytes(), Sequence: int32(r.Varint())}
	}
	return ws
}

func appendTxnMeta(b []byte, m *mvcc.TxnMeta) []byte {
	b = append(b, m.ID[:]...)
	b = wirebin.AppendBytes(b, m.Key)
	b = binary.AppendVarint(b, int64(m.Epoch))
	b = appendTimestamp(b, m.WriteTimestamp)
	b = appendTimestamp(b, m.MinTimestamp)
	b = binary.AppendVarint(b, int64(m.Priority))
	return binary.AppendVarint(b, int64(m.Sequence))
}

func readTxnMeta(r *wirebin.Reader, m *mvcc.TxnMeta) {
	copy(m.ID[:], r.Fixed(len(m.ID)))
	m.Key = r.Bytes()
	m.Epoch = int32(r.Varint())
	m.WriteTimestamp = readTimestamp(r)
	m.MinTimestamp = readTimestamp(r)
	m.Priority = int32(r.Varint())
	m.Sequence = int32(r.Varint())
}

func appendTimestamp(b []byte, ts hlc.Timestamp) []byte {
	b = binary.AppendVarint(b, ts.WallTime)
	return binary.AppendVarint(b, int64(ts.Logical))
}

func readTimestamp(r *wirebin.Reader) hlc.Timestamp {
	return hlc.Timestamp{WallTime: r.Varint(), Logical: int32(r.Varint())}
}
