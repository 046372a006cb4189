// Package invariants makes a test binary fail when the storage layer reports a broken
// invariant during any of its tests (see mvcc.CommitBelowIntent): such a report means a bug
// somewhere in the layers above, whichever test happened to trigger it, and it would pass
// unnoticed in a test that checks only its own results.
package invariants

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// Main runs the tests of m and exits, failing if any broken invariant was reported while they
// ran. A package calls it from its TestMain.
func Main(m *testing.M) {
	var broken atomic.Int64
	report := func(key []byte, intentTS, commitTS hlc.Timestamp) {
		broken.Add(1)
		fmt.Fprintf(os.Stderr, "INVARIANT VIOLATED: the intent on %s at %s was committed below it, at %s\n", keys.Pretty(key), intentTS, commitTS)
	}
	mvcc.CommitBelowIntent.Store(&report)
	code := m.Run()
	if n := broken.Load(); n > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d intents were committed below their timestamps (see INVARIANT VIOLATED above)\n", n)
		code = 1
	}
	os.Exit(code)
}
