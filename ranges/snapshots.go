package ranges

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// lazySnapshots is a range's Raft snapshot store. Raft snapshots a range every few thousand
// log entries so that it can truncate the log, and hashicorp/raft's snapshot is a copy of the
// whole state: for a 64 MiB range under a steady write load, that meant rewriting 64 MiB to
// disk every few seconds for nothing, since the state is already durable in Pebble. So a
// snapshot taken here holds only a marker (stateInStore). The state is copied only when Raft
// opens a snapshot to send it to a follower that is too far behind for the log (or a new
// replica): Open then writes the range's current state to a file and hands that out.
//
// The copy is of the state now, newer than the snapshot's index. That is safe: the
// receiver's Restore takes the applied index from the copy's header, and skips the log
// entries up to it that Raft then sends (they are already in the state), as it does for
// entries replayed after a restart.
type lazySnapshots struct {
	*raft.FileSnapshotStore
	dir string
	fsm *rangeFSM
	// copies counts the copies of the state made to send.
	copies atomic.Int64
}

// stateMarker is the whole content of a snapshot taken by the range itself.
var stateMarker = []byte("meridian: the range's state is in its store\n")

// stateInStore is the FSMSnapshot of a range: it persists the marker.
type stateInStore struct{}

func (stateInStore) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(stateMarker); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (stateInStore) Release() {}

// newLazySnapshots wraps files, whose directory is dir, for fsm. Copies a crash left
// behind in dir are removed.
func newLazySnapshots(dir string, fsm *rangeFSM, files *raft.FileSnapshotStore) *lazySnapshots {
	stale, _ := filepath.Glob(filepath.Join(dir, sendingPattern))
	for _, f := range stale {
		os.Remove(f)
	}
	return &lazySnapshots{FileSnapshotStore: files, dir: dir, fsm: fsm}
}

// sendingPattern names the copies of the state made to send.
const sendingPattern = "sending-*.tmp"

// Open implements raft.SnapshotStore. A snapshot received from another replica holds its
// state and is opened as stored; a marker is replaced by a copy of the range's state.
func (s *lazySnapshots) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	meta, rc, err := s.FileSnapshotStore.Open(id)
	if err != nil {
		return nil, nil, err
	}
	if meta.Size != int64(len(stateMarker)) {
		return meta, rc, nil
	}
	stored, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, nil, err
	}
	if !bytes.Equal(stored, stateMarker) {
		return meta, io.NopCloser(bytes.NewReader(stored)), nil
	}
	f, size, err := s.copyState()
	if err != nil {
		return nil, nil, fmt.Errorf("r%d: copying the state for snapshot %s: %w", s.fsm.rangeID, id, err)
	}
	s.copies.Add(1)
	s.fsm.stats.snapshotsSent.Add(1)
	copied := *meta
	copied.Size = size
	return &copied, f, nil
}

// copyState writes the range's current state to a temporary file, open at its start, which
// is removed when closed.
func (s *lazySnapshots) copyState() (*tempFile, int64, error) {
	st, err := s.fsm.state()
	if err != nil {
		return nil, 0, err
	}
	defer st.release()
	f, err := os.CreateTemp(s.dir, sendingPattern)
	if err != nil {
		return nil, 0, err
	}
	t := &tempFile{File: f}
	if err := st.writeTo(f); err != nil {
		t.Close()
		return nil, 0, err
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		t.Close()
		return nil, 0, err
	}
	t.r = bufio.NewReader(f)
	return t, size, nil
}

// tempFile is a file read once and removed when closed.
type tempFile struct {
	*os.File
	r *bufio.Reader
}

func (t *tempFile) Read(p []byte) (int, error) { return t.r.Read(p) }

func (t *tempFile) Close() error {
	err := t.File.Close()
	if rerr := os.Remove(t.Name()); err == nil {
		err = rerr
	}
	return err
}
