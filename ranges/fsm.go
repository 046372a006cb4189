package ranges

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble"
	"github.com/hashicorp/raft"

	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// Raft command format: a version byte, a flags byte, the lease (Raft term) it was evaluated
// under as a uvarint, for a split the new range's ID as a uvarint, then the Pebble batch
// representation of the writes the leaseholder evaluated.
const commandVersion byte = 3

// commandFlags say what an applied command changes besides data.
type commandFlags byte

const (
	// flagDescriptor: the command rewrites the range descriptor; replicas reload it.
	flagDescriptor commandFlags = 1 << iota
	// flagSplit: the command splits the range; replicas create the right-hand range.
	flagSplit
)

// command is one Raft entry's payload.
type command struct {
	flags commandFlags
	// leaseTerm is the Raft term whose lease the command was evaluated under: leases are
	// Raft leadership, so the term is the lease's sequence number. A command that reaches
	// the log in another term was evaluated under a lease that has since changed hands (a
	// new leaseholder may have served reads it did not see) and is rejected on apply.
	leaseTerm    uint64
	splitRangeID uint64 // with flagSplit: the right-hand range
	repr         []byte
}

func encodeCommand(c command) []byte {
	b := make([]byte, 0, 2+2*binary.MaxVarintLen64+len(c.repr))
	b = append(b, commandVersion, byte(c.flags))
	b = binary.AppendUvarint(b, c.leaseTerm)
	if c.flags&flagSplit != 0 {
		b = binary.AppendUvarint(b, c.splitRangeID)
	}
	return append(b, c.repr...)
}

func decodeCommand(b []byte) (command, error) {
	if len(b) < 2 || b[0] != commandVersion {
		return command{}, fmt.Errorf("unknown command version %d", b[0])
	}
	c := command{flags: commandFlags(b[1])}
	b = b[2:]
	term, n := binary.Uvarint(b)
	if n <= 0 {
		return command{}, errors.New("command without a lease term")
	}
	c.leaseTerm, b = term, b[n:]
	if c.flags&flagSplit != 0 {
		id, n := binary.Uvarint(b)
		if n <= 0 {
			return command{}, errors.New("split command without a range ID")
		}
		c.splitRangeID, b = id, b[n:]
	}
	c.repr = b
	return c, nil
}

// rangeFSM applies a range's committed Raft entries to the store's Pebble database. The
// applied index is written in the same Pebble batch as the entry's writes, so after a crash
// the state and its index agree, and entries at or below it are skipped when Raft replays them.
type rangeFSM struct {
	db      *pebble.DB
	rangeID uint64

	mu      sync.Mutex
	applied uint64

	// Counters of entries Apply wrote and skipped (already in Pebble), for tests and metrics.
	appliedEntries, skippedEntries atomic.Uint64

	desc    func() *kvpb.RangeDescriptor  // the range's descriptor as the replica knows it
	onDesc  func(d *kvpb.RangeDescriptor) // called after a command or snapshot changed it
	onSplit func(right *kvpb.RangeDescriptor)
	written *atomic.Int64 // bytes of commands applied
}

func newRangeFSM(db *pebble.DB, rangeID uint64, desc func() *kvpb.RangeDescriptor, onDesc, onSplit func(*kvpb.RangeDescriptor), written *atomic.Int64) (*rangeFSM, error) {
	f := &rangeFSM{db: db, rangeID: rangeID, desc: desc, onDesc: onDesc, onSplit: onSplit, written: written}
	v, ok, err := mvcc.GetUnversioned(db, keys.RangeAppliedIndexKey(rangeID))
	if err != nil {
		return nil, fmt.Errorf("reading applied index of r%d: %w", rangeID, err)
	}
	if ok {
		if len(v) != 8 {
			return nil, fmt.Errorf("r%d: corrupt applied index (%d bytes)", rangeID, len(v))
		}
		f.applied = binary.BigEndian.Uint64(v)
	}
	return f, nil
}

func (f *rangeFSM) appliedIndex() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied
}

// Apply implements raft.FSM.
func (f *rangeFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	if l.Index <= f.applied {
		f.skippedEntries.Add(1)
		return nil // already in Pebble: replayed after a restart
	}
	b := f.db.NewBatch()
	defer b.Close()
	var cmd command
	var rejected error
	if l.Type == raft.LogCommand && len(l.Data) > 0 {
		var err error
		if cmd, err = decodeCommand(l.Data); err != nil {
			return fmt.Errorf("r%d: bad command at index %d: %w", f.rangeID, l.Index, err)
		}
		if cmd.leaseTerm != l.Term {
			// Evaluated under another lease: apply nothing but the index, and tell the
			// proposer (if it is still waiting) to retry under the current lease.
			rejected = &staleLeaseError{rangeID: f.rangeID, evaluated: cmd.leaseTerm, applied: l.Term}
			cmd = command{}
		}
		if repr := cmd.repr; len(repr) > 0 {
			if err := b.SetRepr(append([]byte(nil), repr...)); err != nil {
				return fmt.Errorf("r%d: bad command at index %d: %w", f.rangeID, l.Index, err)
			}
		}
	}
	if err := mvcc.PutUnversioned(b, keys.RangeAppliedIndexKey(f.rangeID), binary.BigEndian.AppendUint64(nil, l.Index)); err != nil {
		return err
	}
	// Not synced: the Raft log is durable, and a lost tail is re-applied from it on restart.
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("r%d: applying index %d: %w", f.rangeID, l.Index, err)
	}
	f.applied = l.Index
	f.appliedEntries.Add(1)
	f.written.Add(int64(len(cmd.repr)))
	if cmd.flags&flagDescriptor != 0 {
		d, err := loadDescriptor(f.db, f.rangeID)
		if err != nil {
			return err
		}
		f.onDesc(d)
	}
	if cmd.flags&flagSplit != 0 {
		right, err := loadDescriptor(f.db, cmd.splitRangeID)
		if err != nil {
			return err
		}
		f.onSplit(right)
	}
	return rejected
}

// staleLeaseError rejects a command evaluated under an earlier lease than the one in force
// when it reached the log.
type staleLeaseError struct {
	rangeID            uint64
	evaluated, applied uint64
}

func (e *staleLeaseError) Error() string {
	return fmt.Sprintf("r%d: command evaluated under the lease of term %d reached the log in term %d", e.rangeID, e.evaluated, e.applied)
}

// Snapshot implements raft.FSM. Raft truncates its log up to the snapshot index once the
// snapshot is persisted, so Pebble's WAL is synced first: everything up to that index must
// survive a crash without the log.
func (f *rangeFSM) Snapshot() (raft.FSMSnapshot, error) {
	if err := f.db.LogData(nil, pebble.Sync); err != nil {
		return nil, fmt.Errorf("r%d: syncing before snapshot: %w", f.rangeID, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock() // no command applies between reading the descriptor and the snapshot
	return &rangeSnapshot{snap: f.db.NewSnapshot(), rangeID: f.rangeID, desc: f.desc(), applied: f.applied}, nil
}

// Restore implements raft.FSM: it replaces the range's state with the snapshot's contents.
// The snapshot starts with the range descriptor it was taken under, which may have a
// different span from the one this replica knew (or this replica may know none yet).
func (f *rangeFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	r := bufio.NewReader(rc)
	hdr, err := readChunk(r)
	if err != nil {
		return fmt.Errorf("r%d: reading snapshot header: %w", f.rangeID, err)
	}
	desc, err := decodeDescriptor(hdr)
	if err != nil {
		return fmt.Errorf("r%d: snapshot header: %w", f.rangeID, err)
	}
	if desc.RangeID != f.rangeID {
		return fmt.Errorf("r%d: got a snapshot of r%d", f.rangeID, desc.RangeID)
	}
	appliedHdr, err := readChunk(r)
	if err != nil || len(appliedHdr) != 8 {
		return fmt.Errorf("r%d: reading snapshot header: applied index: %v", f.rangeID, err)
	}
	applied := binary.BigEndian.Uint64(appliedHdr)
	b := f.db.NewBatch()
	defer b.Close()
	spans := rangeEngineSpans(f.rangeID, desc.StartKey, desc.EndKey)
	if old := f.desc(); old.EndKey != nil {
		spans = append(spans, rangeEngineSpans(f.rangeID, old.StartKey, old.EndKey)...)
	}
	for _, sp := range spans {
		if err := b.DeleteRange(sp[0], sp[1], nil); err != nil {
			return err
		}
	}
	for {
		k, err := readChunk(r)
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("r%d: reading snapshot: %w", f.rangeID, err)
		}
		v, err := readChunk(r)
		if err != nil {
			return fmt.Errorf("r%d: reading snapshot: %w", f.rangeID, err)
		}
		if err := b.Set(k, v, nil); err != nil {
			return err
		}
	}
	if err := mvcc.PutUnversioned(b, keys.RangeAppliedIndexKey(f.rangeID), appliedHdr); err != nil {
		return err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return err
	}
	f.applied = applied
	f.onDesc(desc)
	return nil
}

func rangeEngineSpans(rangeID uint64, start, end []byte) [][2][]byte {
	idPrefix := keys.RangeIDKey(rangeID, "")
	return [][2][]byte{
		{mvcc.EncodeKey(idPrefix, zeroTS), mvcc.EncodeKey(keys.PrefixEnd(idPrefix), zeroTS)},
		{mvcc.EncodeKey(keys.TxnRecordKey(start, mvcc.TxnID{}), zeroTS), mvcc.EncodeKey(keys.TxnRecordKey(end, mvcc.TxnID{}), zeroTS)},
		{mvcc.EncodeKey(maxKey(start, keys.LocalMax), zeroTS), mvcc.EncodeKey(end, zeroTS)},
	}
}

func maxKey(a, b []byte) []byte {
	if string(a) > string(b) {
		return a
	}
	return b
}

type rangeSnapshot struct {
	snap    *pebble.Snapshot
	rangeID uint64
	desc    *kvpb.RangeDescriptor
	applied uint64
}

// Persist streams the range's descriptor and applied index, then its engine keys, as
// length-prefixed chunks. The applied index travels in the header because a range that has
// applied no command yet (a new, empty range) has no applied-index key among its keys.
func (s *rangeSnapshot) Persist(sink raft.SnapshotSink) error {
	w := bufio.NewWriter(sink)
	writeChunk(w, encodeDescriptor(s.desc))
	writeChunk(w, binary.BigEndian.AppendUint64(nil, s.applied))
	for _, sp := range rangeEngineSpans(s.rangeID, s.desc.StartKey, s.desc.EndKey) {
		it, err := s.snap.NewIter(&pebble.IterOptions{LowerBound: sp[0], UpperBound: sp[1]})
		if err != nil {
			sink.Cancel()
			return err
		}
		for ok := it.First(); ok; ok = it.Next() {
			writeChunk(w, it.Key())
			writeChunk(w, it.Value())
		}
		if err := it.Close(); err != nil {
			sink.Cancel()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *rangeSnapshot) Release() { s.snap.Close() }

func writeChunk(w *bufio.Writer, b []byte) {
	var hdr [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(hdr[:], uint64(len(b)))
	w.Write(hdr[:n])
	w.Write(b)
}

func readChunk(r *bufio.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > 1<<30 {
		return nil, fmt.Errorf("snapshot chunk of %d bytes is too large", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, io.ErrUnexpectedEOF
	}
	return b, nil
}
