package ranges

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/hashicorp/raft"

	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// Raft command format: a version byte, a flags byte, the lease (Raft term) it was evaluated
// under as a uvarint, for a split the new range's ID as a uvarint, for the commands of a
// merge (freeze, merge, abandon) the other range's ID, a Raft index and a wall time as
// uvarints and a length-prefixed key, then the Pebble batch representation of the writes the
// leaseholder evaluated.
const commandVersion byte = 3

// commandFlags say what an applied command changes besides data.
type commandFlags byte

const (
	// flagDescriptor: the command rewrites the range descriptor; replicas reload it.
	flagDescriptor commandFlags = 1 << iota
	// flagSplit: the command splits the range; replicas create the right-hand range.
	flagSplit
	// flagFreeze: a merge freezes this range (the right-hand one); from then on no command
	// changes its data unless it thaws the range.
	flagFreeze
	// flagThaw: the merge that froze this range was abandoned; the range serves again.
	flagThaw
	// flagMerge: this range (the left-hand one) absorbs the frozen range on its right.
	flagMerge
	// flagAbandonMerge: this range (the left-hand one) will never absorb the frozen range
	// named, unless it already has.
	flagAbandonMerge
)

const mergeFlags = flagFreeze | flagMerge | flagAbandonMerge

// command is one Raft entry's payload.
type command struct {
	flags commandFlags
	// leaseTerm is the Raft term whose lease the command was evaluated under: leases are
	// Raft leadership, so the term is the lease's sequence number. A command that reaches
	// the log in another term was evaluated under a lease that has since changed hands (a
	// new leaseholder may have served reads it did not see) and is rejected on apply.
	leaseTerm    uint64
	splitRangeID uint64 // with flagSplit: the right-hand range
	merge        mergeArgs
	repr         []byte
}

// mergeArgs are the arguments of the commands of a merge. For a freeze: the left range
// (otherRangeID, leftKey its start key) and when the freeze began (wallTime). For a merge
// or an abandonment: the right range and the index of the command that froze it.
type mergeArgs struct {
	otherRangeID uint64
	freezeIndex  uint64
	wallTime     uint64
	leftKey      []byte
}

func encodeCommand(c command) []byte {
	b := make([]byte, 0, 2+5*binary.MaxVarintLen64+len(c.merge.leftKey)+len(c.repr))
	b = append(b, commandVersion, byte(c.flags))
	b = binary.AppendUvarint(b, c.leaseTerm)
	if c.flags&flagSplit != 0 {
		b = binary.AppendUvarint(b, c.splitRangeID)
	}
	if c.flags&mergeFlags != 0 {
		m := c.merge
		b = binary.AppendUvarint(b, m.otherRangeID)
		b = binary.AppendUvarint(b, m.freezeIndex)
		b = binary.AppendUvarint(b, m.wallTime)
		b = binary.AppendUvarint(b, uint64(len(m.leftKey)))
		b = append(b, m.leftKey...)
	}
	return append(b, c.repr...)
}

func decodeCommand(b []byte) (command, error) {
	if len(b) < 2 || b[0] != commandVersion {
		return command{}, fmt.Errorf("unknown command version %d", b[0])
	}
	c := command{flags: commandFlags(b[1])}
	b = b[2:]
	uvarint := func(what string) (uint64, error) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, fmt.Errorf("command without %s", what)
		}
		b = b[n:]
		return v, nil
	}
	var err error
	if c.leaseTerm, err = uvarint("a lease term"); err != nil {
		return command{}, err
	}
	if c.flags&flagSplit != 0 {
		if c.splitRangeID, err = uvarint("a split range ID"); err != nil {
			return command{}, err
		}
	}
	if c.flags&mergeFlags != 0 {
		m := &c.merge
		for _, f := range []struct {
			v    *uint64
			what string
		}{{&m.otherRangeID, "a range ID"}, {&m.freezeIndex, "a freeze index"}, {&m.wallTime, "a wall time"}} {
			if *f.v, err = uvarint(f.what); err != nil {
				return command{}, err
			}
		}
		n, err := uvarint("a key length")
		if err != nil || n > uint64(len(b)) {
			return command{}, errors.New("merge command with a bad key")
		}
		m.leftKey, b = b[:n], b[n:]
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
	hooks   fsmHooks

	mu      sync.Mutex
	applied uint64
	// frozen: a merge froze the range (see Replica.subsume); nil when it is not frozen.
	frozen *frozenState
	// retired: the range was merged away or replaced by a snapshot of a range covering it;
	// this replica applies nothing more and is being destroyed.
	retired bool

	// Counters of entries Apply wrote and skipped (already in Pebble), for tests and metrics.
	appliedEntries, skippedEntries atomic.Uint64

	written *atomic.Int64 // bytes of commands applied
	stats   *storeStats   // the store's counters
}

// fsmHooks connect a range's state machine to its replica and store.
type fsmHooks struct {
	desc    func() *kvpb.RangeDescriptor  // the range's descriptor as the replica knows it
	onDesc  func(d *kvpb.RangeDescriptor) // called after a command or snapshot changed it
	onSplit func(right *kvpb.RangeDescriptor)
	// absorb brings this store's replica of the frozen range rightID up to its freeze
	// index and retires it, just before this range's merge of it applies.
	absorb func(rightID, freezeIndex uint64)
	// onMerged destroys the retired replica of rightID after the merge applied.
	onMerged func(rightID uint64)
	// retireOverlapping retires the store's other replicas overlapping d, before a snapshot
	// of d is installed over their keys.
	retireOverlapping func(d *kvpb.RangeDescriptor) (release func(), err error)
}

// frozenState describes a freeze, as persisted at keys.RangeFrozenKey.
type frozenState struct {
	index    uint64 // the Raft index of the freeze
	wallTime uint64 // when the leaseholder froze the range
	leftID   uint64 // the range it is merging into
	leftKey  []byte // that range's start key
}

func (fz *frozenState) encode() []byte {
	b := binary.AppendUvarint(nil, fz.index)
	b = binary.AppendUvarint(b, fz.wallTime)
	b = binary.AppendUvarint(b, fz.leftID)
	return append(b, fz.leftKey...)
}

func decodeFrozen(b []byte) (*frozenState, error) {
	fz := &frozenState{}
	for _, v := range []*uint64{&fz.index, &fz.wallTime, &fz.leftID} {
		x, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errors.New("corrupt freeze record")
		}
		*v, b = x, b[n:]
	}
	fz.leftKey = append([]byte(nil), b...)
	return fz, nil
}

func newRangeFSM(db *pebble.DB, rangeID uint64, hooks fsmHooks, written *atomic.Int64, stats *storeStats) (*rangeFSM, error) {
	f := &rangeFSM{db: db, rangeID: rangeID, hooks: hooks, written: written, stats: stats}
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
	if err := f.loadFrozen(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *rangeFSM) loadFrozen() error {
	v, ok, err := mvcc.GetUnversioned(f.db, keys.RangeFrozenKey(f.rangeID))
	if err != nil {
		return fmt.Errorf("reading freeze record of r%d: %w", f.rangeID, err)
	}
	f.frozen = nil
	if ok {
		if f.frozen, err = decodeFrozen(v); err != nil {
			return fmt.Errorf("r%d: %w", f.rangeID, err)
		}
	}
	return nil
}

func (f *rangeFSM) appliedIndex() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied
}

// freezeState returns the range's freeze, or nil.
func (f *rangeFSM) freezeState() *frozenState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.frozen
}

// errRetired answers commands that reach a replica merged away.
var errRetired = errors.New("the replica was merged away")

// Apply implements raft.FSM.
func (f *rangeFSM) Apply(l *raft.Log) any {
	f.awaitInitialized(l)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applyLocked(l)
}

// awaitInitialized holds back a command for a replica that does not know its range yet. A
// replica is created empty when a message of its range arrives first; a learner is filled
// by a snapshot before any command, but the right-hand range of a split can reach a node
// before the left range there has applied the split. Its commands must wait for that (the
// split is committed, so it comes): until then the left replica still owns the keys, and
// may yet apply entries from before the split to them.
func (f *rangeFSM) awaitInitialized(l *raft.Log) {
	if l.Type != raft.LogCommand {
		return
	}
	for f.hooks.desc().EndKey == nil {
		f.mu.Lock()
		retired := f.retired
		f.mu.Unlock()
		if retired {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func (f *rangeFSM) applyLocked(l *raft.Log) any {
	if f.retired {
		return errRetired
	}
	if l.Index <= f.applied {
		f.skippedEntries.Add(1)
		return nil // already in Pebble: replayed after a restart
	}
	b := f.db.NewBatch()
	defer b.Close()
	var cmd command
	var rejected error
	var result any
	var frozen *frozenState // what a freeze or thaw leaves
	if l.Type == raft.LogCommand && len(l.Data) > 0 {
		var err error
		if cmd, err = decodeCommand(l.Data); err != nil {
			return fmt.Errorf("r%d: bad command at index %d: %w", f.rangeID, l.Index, err)
		}
		switch {
		case cmd.leaseTerm != l.Term:
			// Evaluated under another lease: apply nothing but the index, and tell the
			// proposer (if it is still waiting) to retry under the current lease.
			rejected = &staleLeaseError{rangeID: f.rangeID, evaluated: cmd.leaseTerm, applied: l.Term}
		case f.frozen != nil && cmd.flags&flagThaw == 0:
			// Nothing changes a frozen range: its state is what the merge absorbs. (A command
			// evaluated before the freeze may reach the log after it.)
			rejected = &kvpb.MergeInProgressError{RangeID: f.rangeID}
		case cmd.flags&flagMerge != 0:
			abandoned, err := f.mergeAbandoned(cmd.merge)
			if err != nil {
				return fmt.Errorf("r%d: applying index %d: %w", f.rangeID, l.Index, err)
			}
			if abandoned {
				rejected = errMergeAbandoned
			}
		}
		if rejected != nil {
			cmd = command{}
		}
		if repr := cmd.repr; len(repr) > 0 {
			if err := b.SetRepr(append([]byte(nil), repr...)); err != nil {
				return fmt.Errorf("r%d: bad command at index %d: %w", f.rangeID, l.Index, err)
			}
		}
		var err2 error
		switch {
		case cmd.flags&flagFreeze != 0:
			m := cmd.merge
			frozen = &frozenState{index: l.Index, wallTime: m.wallTime, leftID: m.otherRangeID, leftKey: m.leftKey}
			err2 = mvcc.PutUnversioned(b, keys.RangeFrozenKey(f.rangeID), frozen.encode())
		case cmd.flags&flagThaw != 0:
			err2 = mvcc.DeleteUnversioned(b, keys.RangeFrozenKey(f.rangeID))
		case cmd.flags&flagMerge != 0:
			err2 = f.mergeLocked(b, cmd.merge)
		case cmd.flags&flagAbandonMerge != 0:
			result, err2 = f.abandonMergeLocked(b, cmd.merge)
		}
		if err2 != nil {
			return fmt.Errorf("r%d: applying index %d: %w", f.rangeID, l.Index, err2)
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
	f.stats.applied.Add(1)
	f.stats.appliedBytes.Add(int64(len(cmd.repr)))
	if cmd.flags&(flagFreeze|flagThaw) != 0 {
		f.frozen = frozen // nil for a thaw
	}
	if cmd.flags&flagDescriptor != 0 {
		d, err := loadDescriptor(f.db, f.rangeID)
		if err != nil {
			return err
		}
		f.hooks.onDesc(d)
	}
	if cmd.flags&flagSplit != 0 {
		right, err := loadDescriptor(f.db, cmd.splitRangeID)
		if err != nil {
			return err
		}
		f.hooks.onSplit(right)
	}
	if cmd.flags&flagMerge != 0 {
		f.hooks.onMerged(cmd.merge.otherRangeID)
	}
	if rejected != nil {
		return rejected
	}
	return result
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

// Snapshot implements raft.FSM. Raft snapshots a range to truncate its log, and the range's
// state is already in Pebble: the snapshot only records that (see lazySnapshots), after
// syncing Pebble's WAL, since everything up to the snapshot index must survive a crash
// without the log.
func (f *rangeFSM) Snapshot() (raft.FSMSnapshot, error) {
	if err := f.db.LogData(nil, pebble.Sync); err != nil {
		return nil, fmt.Errorf("r%d: syncing before snapshot: %w", f.rangeID, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.retired {
		return nil, errRetired
	}
	return stateInStore{}, nil
}

// state is a consistent view of the range's whole state as of the last applied command.
func (f *rangeFSM) state() (*rangeSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock() // no command applies between reading the descriptor and the snapshot
	if f.retired {
		return nil, errRetired
	}
	return &rangeSnapshot{snap: f.db.NewSnapshot(), rangeID: f.rangeID, desc: f.hooks.desc(), applied: f.applied}, nil
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
	if f.retired {
		return errRetired
	}
	// Replicas here of ranges the snapshot's range has since absorbed (or that it overlaps
	// for any other reason) are stale: they stop before their keys are replaced.
	release, err := f.hooks.retireOverlapping(desc)
	if err != nil {
		return fmt.Errorf("r%d: %w", f.rangeID, err)
	}
	defer release()
	if old := f.hooks.desc(); old.EndKey != nil {
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
	if err := f.loadFrozen(); err != nil {
		return err
	}
	f.hooks.onDesc(desc)
	return nil
}

func rangeEngineSpans(rangeID uint64, start, end []byte) [][2][]byte {
	return [][2][]byte{
		prefixSpan(keys.RangeIDKey(rangeID, "")),
		{mvcc.EncodeKey(keys.TxnRecordKey(start, mvcc.TxnID{}), zeroTS), mvcc.EncodeKey(keys.TxnRecordKey(end, mvcc.TxnID{}), zeroTS)},
		userDataSpan(start, end),
	}
}

// prefixSpan is the engine span of every key starting with p.
func prefixSpan(p []byte) [2][]byte {
	return [2][]byte{mvcc.EncodeKey(p, zeroTS), mvcc.EncodeKey(keys.PrefixEnd(p), zeroTS)}
}

// userDataSpan is the engine span of the addressable keys (every version) in [start, end).
func userDataSpan(start, end []byte) [2][]byte {
	return [2][]byte{mvcc.EncodeKey(maxKey(start, keys.LocalMax), zeroTS), mvcc.EncodeKey(end, zeroTS)}
}

// spanIter iterates over the engine span sp of r.
func spanIter(r pebble.Reader, sp [2][]byte) (*pebble.Iterator, error) {
	return r.NewIter(&pebble.IterOptions{LowerBound: sp[0], UpperBound: sp[1]})
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

// writeTo streams the range's descriptor and applied index, then its engine keys, as
// length-prefixed chunks: what Restore reads. The applied index travels in the header
// because a range that has applied no command yet (a new, empty range) has no
// applied-index key among its keys.
func (s *rangeSnapshot) writeTo(out io.Writer) error {
	w := bufio.NewWriter(out)
	writeChunk(w, encodeDescriptor(s.desc))
	writeChunk(w, binary.BigEndian.AppendUint64(nil, s.applied))
	for _, sp := range rangeEngineSpans(s.rangeID, s.desc.StartKey, s.desc.EndKey) {
		it, err := spanIter(s.snap, sp)
		if err != nil {
			return err
		}
		for ok := it.First(); ok; ok = it.Next() {
			writeChunk(w, it.Key())
			writeChunk(w, it.Value())
		}
		if err := it.Close(); err != nil {
			return err
		}
	}
	return w.Flush()
}

func (s *rangeSnapshot) release() { s.snap.Close() }

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
