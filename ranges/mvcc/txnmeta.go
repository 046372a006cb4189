package mvcc

import (
	"encoding/binary"
	"encoding/hex"
	"errors"

	"github.com/meridiandb/meridian/hlc"
)

// TxnID identifies a transaction.
type TxnID [16]byte

// IsEmpty reports whether id is the zero ID (no transaction).
func (id TxnID) IsEmpty() bool { return id == TxnID{} }

func (id TxnID) String() string {
	h := hex.EncodeToString(id[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// TxnMeta is what an intent records about the transaction that wrote it.
type TxnMeta struct {
	ID TxnID
	// Key is the transaction's anchor key, where its record lives.
	Key []byte
	// Epoch counts the transaction's restarts; intents of older epochs are dead.
	Epoch int32
	// WriteTimestamp is where the transaction writes; its provisional values live there.
	WriteTimestamp hlc.Timestamp
	// MinTimestamp is the transaction's original start time.
	MinTimestamp hlc.Timestamp
	Priority     int32
	// Sequence numbers the write request that wrote the intent, within its transaction
	// (0: not numbered). A request sent again after its outcome was lost finds its own
	// intent by it, and does not take it for an earlier write of the transaction.
	Sequence int32
}

// Intent is a provisional write found by a reader or writer.
type Intent struct {
	Key []byte
	Txn TxnMeta
}

// metaVersion 2 added Sequence; version 1 metas read as Sequence 0.
const metaVersion = 2

func appendTS(b []byte, ts hlc.Timestamp) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(ts.WallTime))
	return binary.BigEndian.AppendUint32(b, uint32(ts.Logical))
}

func encodeMeta(m *TxnMeta) []byte {
	b := make([]byte, 0, 1+16+4+12+12+4+binary.MaxVarintLen32+len(m.Key))
	b = append(b, metaVersion)
	b = append(b, m.ID[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(m.Epoch))
	b = appendTS(b, m.WriteTimestamp)
	b = appendTS(b, m.MinTimestamp)
	b = binary.BigEndian.AppendUint32(b, uint32(m.Priority))
	b = binary.AppendUvarint(b, uint64(len(m.Key)))
	b = append(b, m.Key...)
	return binary.BigEndian.AppendUint32(b, uint32(m.Sequence))
}

var errBadMeta = errors.New("mvcc: corrupt intent meta")

func decodeMeta(b []byte) (TxnMeta, error) {
	var m TxnMeta
	const fixed = 1 + 16 + 4 + 12 + 12 + 4
	if len(b) < fixed || b[0] != 1 && b[0] != metaVersion {
		return m, errBadMeta
	}
	if b[0] == metaVersion {
		if len(b) < fixed+4 {
			return m, errBadMeta
		}
		m.Sequence = int32(binary.BigEndian.Uint32(b[len(b)-4:]))
		b = b[:len(b)-4]
	}
	copy(m.ID[:], b[1:17])
	m.Epoch = int32(binary.BigEndian.Uint32(b[17:]))
	m.WriteTimestamp = hlc.Timestamp{WallTime: int64(binary.BigEndian.Uint64(b[21:])), Logical: int32(binary.BigEndian.Uint32(b[29:]))}
	m.MinTimestamp = hlc.Timestamp{WallTime: int64(binary.BigEndian.Uint64(b[33:])), Logical: int32(binary.BigEndian.Uint32(b[41:]))}
	m.Priority = int32(binary.BigEndian.Uint32(b[45:]))
	n, l := binary.Uvarint(b[fixed:])
	if l <= 0 || uint64(len(b)-fixed-l) != n {
		return m, errBadMeta
	}
	m.Key = append([]byte(nil), b[fixed+l:]...)
	return m, nil
}
