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

// SeqRange is an inclusive range [Start, End] of a transaction's write sequence numbers.
type SeqRange struct {
	Start, End int32
}

// SeqIgnored reports whether seq lies in one of ignored, the write numbers a transaction
// rolled back to a savepoint (kvpb.Transaction.IgnoredSeqNums). Sequence 0, an unnumbered
// write, is never ignored.
func SeqIgnored(ignored []SeqRange, seq int32) bool {
	for _, r := range ignored {
		if r.Start <= seq && seq <= r.End {
			return true
		}
	}
	return false
}

// IntentWrite is an earlier write of an intent's transaction to the intent's key, in the same
// epoch, overwritten by a later one: its value (empty for a deletion) and the write's
// sequence number. The intent keeps them so that rolling back to a savepoint can bring the
// value back (see SeqRange).
type IntentWrite struct {
	Sequence int32
	Value    []byte
}

// intentMeta is what the meta slot of a key with an intent holds: the writer, and the
// history of the writer's earlier writes to the key, oldest first. The provisional value (at
// WriteTimestamp) is the write numbered TxnMeta.Sequence.
type intentMeta struct {
	TxnMeta
	History []IntentWrite
}

// visible returns the transaction's latest write to the key that is not ignored: the
// provisional value (current=true), or a value from the history, or found=false when every
// write is ignored.
func (m *intentMeta) visible(ignored []SeqRange) (value []byte, current, found bool) {
	if !SeqIgnored(ignored, m.Sequence) {
		return nil, true, true
	}
	for i := len(m.History) - 1; i >= 0; i-- {
		if h := m.History[i]; !SeqIgnored(ignored, h.Sequence) {
			return h.Value, false, true
		}
	}
	return nil, false, false
}

// Meta versions: 2 added Sequence (version 1 metas read as Sequence 0); 3 adds the intent
// history after it. A meta without history is still written as version 2.
const (
	metaVersionSeq     = 2
	metaVersionHistory = 3
)

func appendTS(b []byte, ts hlc.Timestamp) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(ts.WallTime))
	return binary.BigEndian.AppendUint32(b, uint32(ts.Logical))
}

func encodeMeta(m *TxnMeta) []byte { return encodeIntentMeta(&intentMeta{TxnMeta: *m}) }

func encodeIntentMeta(im *intentMeta) []byte {
	m := &im.TxnMeta
	n := 1 + 16 + 4 + 12 + 12 + 4 + binary.MaxVarintLen32 + len(m.Key) + 4
	version := byte(metaVersionSeq)
	if len(im.History) > 0 {
		version = metaVersionHistory
		n += binary.MaxVarintLen32
		for _, h := range im.History {
			n += 4 + binary.MaxVarintLen32 + len(h.Value)
		}
	}
	b := make([]byte, 0, n)
	b = append(b, version)
	b = append(b, m.ID[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(m.Epoch))
	b = appendTS(b, m.WriteTimestamp)
	b = appendTS(b, m.MinTimestamp)
	b = binary.BigEndian.AppendUint32(b, uint32(m.Priority))
	b = binary.AppendUvarint(b, uint64(len(m.Key)))
	b = append(b, m.Key...)
	b = binary.BigEndian.AppendUint32(b, uint32(m.Sequence))
	if version == metaVersionHistory {
		b = binary.AppendUvarint(b, uint64(len(im.History)))
		for _, h := range im.History {
			b = binary.BigEndian.AppendUint32(b, uint32(h.Sequence))
			b = binary.AppendUvarint(b, uint64(len(h.Value)))
			b = append(b, h.Value...)
		}
	}
	return b
}

var errBadMeta = errors.New("mvcc: corrupt intent meta")

// decodeMeta decodes the transaction of a meta, skipping its history.
func decodeMeta(b []byte) (TxnMeta, error) {
	im, err := decodeIntentMeta(b, false)
	return im.TxnMeta, err
}

// decodeIntentMeta decodes a meta; with history, its history too, whose values are
// subslices of b.
func decodeIntentMeta(b []byte, history bool) (intentMeta, error) {
	var im intentMeta
	m := &im.TxnMeta
	const fixed = 1 + 16 + 4 + 12 + 12 + 4
	if len(b) < fixed || b[0] < 1 || b[0] > metaVersionHistory {
		return im, errBadMeta
	}
	version := b[0]
	copy(m.ID[:], b[1:17])
	m.Epoch = int32(binary.BigEndian.Uint32(b[17:]))
	m.WriteTimestamp = hlc.Timestamp{WallTime: int64(binary.BigEndian.Uint64(b[21:])), Logical: int32(binary.BigEndian.Uint32(b[29:]))}
	m.MinTimestamp = hlc.Timestamp{WallTime: int64(binary.BigEndian.Uint64(b[33:])), Logical: int32(binary.BigEndian.Uint32(b[41:]))}
	m.Priority = int32(binary.BigEndian.Uint32(b[45:]))
	rest := b[fixed:]
	n, l := binary.Uvarint(rest)
	if l <= 0 || uint64(len(rest)-l) < n {
		return im, errBadMeta
	}
	m.Key = append([]byte(nil), rest[l:l+int(n)]...)
	rest = rest[l+int(n):]
	if version >= metaVersionSeq {
		if len(rest) < 4 {
			return im, errBadMeta
		}
		m.Sequence = int32(binary.BigEndian.Uint32(rest))
		rest = rest[4:]
	}
	if version == metaVersionHistory {
		count, l := binary.Uvarint(rest)
		if l <= 0 || count == 0 || count > uint64(len(rest)) {
			return im, errBadMeta
		}
		rest = rest[l:]
		if history {
			im.History = make([]IntentWrite, 0, count)
		}
		for range count {
			if len(rest) < 4 {
				return im, errBadMeta
			}
			seq := int32(binary.BigEndian.Uint32(rest))
			vlen, l := binary.Uvarint(rest[4:])
			if l <= 0 || uint64(len(rest)-4-l) < vlen {
				return im, errBadMeta
			}
			value := rest[4+l : 4+l+int(vlen) : 4+l+int(vlen)]
			if history {
				im.History = append(im.History, IntentWrite{Sequence: seq, Value: value})
			}
			rest = rest[4+l+int(vlen):]
		}
	}
	if len(rest) != 0 {
		return im, errBadMeta
	}
	return im, nil
}
