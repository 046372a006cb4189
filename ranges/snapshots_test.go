package ranges

import (
	"os"
	"path/filepath"
	"testing"
)

// TestLazySnapshotsRemoveStaleCopies: a copy of the state left by a crash while it was being
// sent is removed when the range's snapshot store opens again; other files stay.
func TestLazySnapshotsRemoveStaleCopies(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "sending-123.tmp")
	kept := filepath.Join(dir, "snapshots")
	if err := os.WriteFile(stale, []byte("state"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(kept, 0o755); err != nil {
		t.Fatal(err)
	}
	newLazySnapshots(dir, nil, nil)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale copy still there: %v", err)
	}
	if _, err := os.Stat(kept); err != nil {
		t.Fatalf("the snapshot directory went too: %v", err)
	}
}
