package ranges

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
)

// TestGCAfterTTL overwrites a key and lets the background GC run with a short TTL: the old
// version disappears from the engine, the newest stays, and reads below the GC threshold are
// refused rather than answered from a partly collected history.
func TestGCAfterTTL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clock := hlc.NewClock(nil, hlc.DefaultMaxOffset)
	s, err := OpenStore(ctx, StoreConfig{Dir: t.TempDir(), Clock: clock, GCTTL: 50 * time.Millisecond, GCInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put(t, s, "\x10k", "v1")
	between := clock.Now()
	put(t, s, "\x10k", "v2")
	key := []byte("\x10k")
	deadline := time.Now().Add(10 * time.Second)
	for {
		kv, err := mvcc.Get(s.DB(), key, between, mvcc.ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if kv == nil {
			break // v1 collected
		}
		if time.Now().After(deadline) {
			t.Fatal("old version never collected")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := get(t, s, "\x10k"); got != "v2" {
		t.Fatalf("newest version = %q after GC", got)
	}
	_, err = s.Send(ctx, &kvpb.BatchRequest{Timestamp: between, Requests: []kvpb.Request{&kvpb.GetRequest{Key: key}}})
	var gce *kvpb.BatchTimestampBeforeGCError
	if !errors.As(err, &gce) {
		t.Fatalf("read below the GC threshold: %v", err)
	}
}
