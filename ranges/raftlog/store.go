package raftlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/hashicorp/raft"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// ErrNotFound is returned by Get for a key that was never set. hashicorp/raft recognizes it
// by its message, so the message must stay "not found".
var ErrNotFound = errors.New("not found")

// entryVersion leads every stored log entry, so that the format can change.
const entryVersion byte = 1

// Store is one Raft group's log and stable store. It implements raft.LogStore and
// raft.StableStore, and is safe for concurrent use.
type Store struct {
	db     *pebble.DB
	logKey []byte // entries live at logKey + big-endian index
	kvKey  []byte // stable-store values live at kvKey + name
}

// New returns the log and stable store kept in db under prefix. Prefix must be unique to the
// group and must not be a prefix of any other group's prefix.
func New(db *pebble.DB, prefix []byte) *Store {
	return &Store{
		db:     db,
		logKey: append(append([]byte(nil), prefix...), 'l'),
		kvKey:  append(append([]byte(nil), prefix...), 's'),
	}
}

func (s *Store) entryKey(index uint64) []byte {
	k := make([]byte, 0, len(s.logKey)+8)
	k = append(k, s.logKey...)
	return mvcc.EncodeKey(binary.BigEndian.AppendUint64(k, index), hlc.Timestamp{})
}

// bounds returns engine-key bounds that hold exactly the group's entries.
func (s *Store) bounds() (lower, upper []byte) {
	end := append(append([]byte(nil), s.logKey[:len(s.logKey)-1]...), s.logKey[len(s.logKey)-1]+1)
	return mvcc.EncodeKey(s.logKey, hlc.Timestamp{}), mvcc.EncodeKey(end, hlc.Timestamp{})
}

func (s *Store) indexOf(engineKey []byte) (uint64, error) {
	k, _, err := mvcc.DecodeKey(engineKey)
	if err != nil {
		return 0, err
	}
	if len(k) != len(s.logKey)+8 {
		return 0, fmt.Errorf("raftlog: malformed entry key %q", k)
	}
	return binary.BigEndian.Uint64(k[len(s.logKey):]), nil
}

// edge returns the first (first=true) or last index in the log, or 0 when it is empty.
func (s *Store) edge(first bool) (uint64, error) {
	lower, upper := s.bounds()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	var ok bool
	if first {
		ok = it.First()
	} else {
		ok = it.Last()
	}
	if !ok {
		return 0, it.Error()
	}
	return s.indexOf(it.Key())
}

// FirstIndex implements raft.LogStore.
func (s *Store) FirstIndex() (uint64, error) { return s.edge(true) }

// LastIndex implements raft.LogStore.
func (s *Store) LastIndex() (uint64, error) { return s.edge(false) }

// GetLog implements raft.LogStore.
func (s *Store) GetLog(index uint64, log *raft.Log) error {
	v, closer, err := s.db.Get(s.entryKey(index))
	if errors.Is(err, pebble.ErrNotFound) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return fmt.Errorf("raftlog: reading entry %d: %w", index, err)
	}
	defer closer.Close()
	if err := decodeEntry(v, log); err != nil {
		return fmt.Errorf("raftlog: entry %d: %w", index, err)
	}
	log.Index = index
	return nil
}

// StoreLog implements raft.LogStore.
func (s *Store) StoreLog(log *raft.Log) error { return s.StoreLogs([]*raft.Log{log}) }

// StoreLogs implements raft.LogStore. The entries are durable when it returns.
func (s *Store) StoreLogs(logs []*raft.Log) error {
	b := s.db.NewBatch()
	defer b.Close()
	var buf []byte
	for _, l := range logs {
		buf = appendEntry(buf[:0], l)
		if err := b.Set(s.entryKey(l.Index), buf, nil); err != nil {
			return err
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("raftlog: appending %d entries: %w", len(logs), err)
	}
	return nil
}

// DeleteRange implements raft.LogStore: it removes entries min through max, inclusive.
func (s *Store) DeleteRange(min, max uint64) error {
	if max < min {
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	end := s.entryKey(max + 1)
	if max == ^uint64(0) {
		_, end = s.bounds()
	}
	if err := b.DeleteRange(s.entryKey(min), end, nil); err != nil {
		return err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("raftlog: deleting entries %d-%d: %w", min, max, err)
	}
	return nil
}

// Destroy removes the group's whole log and stable state, for a replica that leaves the store.
func (s *Store) Destroy() error {
	b := s.db.NewBatch()
	defer b.Close()
	for _, p := range [][]byte{s.logKey, s.kvKey} {
		end := append(append([]byte(nil), p[:len(p)-1]...), p[len(p)-1]+1)
		if err := b.DeleteRange(mvcc.EncodeKey(p, hlc.Timestamp{}), mvcc.EncodeKey(end, hlc.Timestamp{}), nil); err != nil {
			return err
		}
	}
	return b.Commit(pebble.Sync)
}

func (s *Store) stableKey(name []byte) []byte {
	k := make([]byte, 0, len(s.kvKey)+len(name))
	return append(append(k, s.kvKey...), name...)
}

// Set implements raft.StableStore. The value is durable when it returns.
func (s *Store) Set(key, val []byte) error {
	b := s.db.NewBatch()
	defer b.Close()
	if err := mvcc.PutUnversioned(b, s.stableKey(key), val); err != nil {
		return err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("raftlog: setting %q: %w", key, err)
	}
	return nil
}

// Get implements raft.StableStore; a key never set gives ErrNotFound.
func (s *Store) Get(key []byte) ([]byte, error) {
	v, ok, err := mvcc.GetUnversioned(s.db, s.stableKey(key))
	if err != nil {
		return nil, fmt.Errorf("raftlog: reading %q: %w", key, err)
	}
	if !ok {
		return nil, ErrNotFound
	}
	return v, nil
}

// SetUint64 implements raft.StableStore.
func (s *Store) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 implements raft.StableStore.
func (s *Store) GetUint64(key []byte) (uint64, error) {
	v, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("raftlog: value of %q is %d bytes, not a uint64", key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// Entry encoding: version byte, uvarint term, type byte, varint AppendedAt (Unix ns, 0 when
// unset), uvarint-length-prefixed Data, then uvarint-length-prefixed Extensions.
func appendEntry(b []byte, l *raft.Log) []byte {
	b = append(b, entryVersion)
	b = binary.AppendUvarint(b, l.Term)
	b = append(b, byte(l.Type))
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	b = binary.AppendVarint(b, at)
	b = binary.AppendUvarint(b, uint64(len(l.Data)))
	b = append(b, l.Data...)
	b = binary.AppendUvarint(b, uint64(len(l.Extensions)))
	return append(b, l.Extensions...)
}

var errCorrupt = errors.New("corrupt log entry")

func decodeEntry(b []byte, l *raft.Log) error {
	if len(b) == 0 || b[0] != entryVersion {
		return fmt.Errorf("%w: unknown version", errCorrupt)
	}
	b = b[1:]
	term, n := binary.Uvarint(b)
	if n <= 0 || len(b) < n+1 {
		return errCorrupt
	}
	l.Term, l.Type = term, raft.LogType(b[n])
	b = b[n+1:]
	at, n := binary.Varint(b)
	if n <= 0 {
		return errCorrupt
	}
	b = b[n:]
	l.AppendedAt = time.Time{}
	if at != 0 {
		l.AppendedAt = time.Unix(0, at)
	}
	var err error
	if l.Data, b, err = readBytes(b); err != nil {
		return err
	}
	if l.Extensions, b, err = readBytes(b); err != nil {
		return err
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(b))
	}
	return nil
}

// readBytes reads a uvarint-length-prefixed byte string, copying it out of b (which Pebble
// may reuse) and returning nil for an empty one.
func readBytes(b []byte) ([]byte, []byte, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) < n {
		return nil, nil, errCorrupt
	}
	b = b[w:]
	if n == 0 {
		return nil, b, nil
	}
	return append([]byte(nil), b[:n]...), b[n:], nil
}

var (
	_ raft.LogStore    = (*Store)(nil)
	_ raft.StableStore = (*Store)(nil)
)
