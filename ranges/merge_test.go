package ranges

import (
	"context"
	"errors"
	"testing"

	"github.com/meridiandb/meridian/ranges/kvpb"
)

func sendOne(t *testing.T, s *Store, rangeID uint64, req kvpb.Request) (kvpb.Response, error) {
	t.Helper()
	br, err := s.Send(context.Background(), &kvpb.BatchRequest{RangeID: rangeID, Requests: []kvpb.Request{req}})
	if err != nil {
		return nil, err
	}
	return br.Responses[0], nil
}

func mustSend(t *testing.T, s *Store, rangeID uint64, req kvpb.Request) kvpb.Response {
	t.Helper()
	resp, err := sendOne(t, s, rangeID, req)
	if err != nil {
		t.Fatalf("%T to r%d: %v", req, rangeID, err)
	}
	return resp
}

// TestMergeProtocol walks a merge through its states on one store: a freeze stops the right
// range; an abandonment settles the merge against it, so that the merge command, arriving
// late, is rejected; a thaw serves the range again; then a real merge absorbs it (data
// stays, the range is gone and tombstoned, and requests for it are redirected), settles as
// merged, and survives a restart.
func TestMergeProtocol(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	mustSend(t, s, 1, &kvpb.AdminSplitRequest{SplitKey: []byte("\x10m"), NewRangeID: 2})
	mustSend(t, s, 2, &kvpb.AdminSplitRequest{SplitKey: []byte("\x10t"), NewRangeID: 3})
	put(t, s, "\x10n", "left")
	put(t, s, "\x10u", "right")
	left, right := *s.Replica(2).Desc(), *s.Replica(3).Desc()

	// Freeze the right range as a merge would, and then let the merge go quiet.
	sub := mustSend(t, s, 3, &kvpb.SubsumeRequest{Left: left, Right: right}).(*kvpb.SubsumeResponse)
	var merging *kvpb.MergeInProgressError
	if _, err := sendOne(t, s, 3, &kvpb.PutRequest{Key: []byte("\x10v"), Value: []byte("x")}); !errors.As(err, &merging) {
		t.Fatalf("a write to the frozen range: %v, want MergeInProgressError", err)
	}
	// Asked to settle, the left range records that the merge will not happen...
	res := mustSend(t, s, 2, &kvpb.ResolveMergeRequest{LeftKey: left.StartKey, RightRangeID: 3, FreezeIndex: sub.FreezeIndex})
	if res.(*kvpb.ResolveMergeResponse).Merged {
		t.Fatal("an unmerged range was reported merged")
	}
	// ...so the merge command, reaching its log afterwards, changes nothing.
	l := s.Replica(2)
	widened := left
	widened.EndKey, widened.Generation = right.EndKey, right.Generation+1
	b := s.db.NewIndexedBatch()
	if err := writeDescriptor(b, &widened, &left, s.Clock().Now(), localTimestamp(s.Clock())); err != nil {
		t.Fatal(err)
	}
	cmd := command{flags: flagDescriptor | flagMerge, merge: mergeArgs{otherRangeID: 3, freezeIndex: sub.FreezeIndex}, repr: append([]byte(nil), b.Repr()...)}
	b.Close()
	if _, err := l.proposeResult(context.Background(), cmd); !errors.Is(err, errMergeAbandoned) {
		t.Fatalf("a merge after its abandonment: %v, want errMergeAbandoned", err)
	}
	if d := l.Desc(); string(d.EndKey) != "\x10t" || s.Replica(3) == nil {
		t.Fatalf("after an abandoned merge: left %s, right present %v", d, s.Replica(3) != nil)
	}
	if d, err := loadDescriptor(s.db, 2); err != nil || string(d.EndKey) != "\x10t" {
		t.Fatalf("after an abandoned merge the stored left descriptor is %s (%v)", d, err)
	}
	// Thawed, the right range serves again.
	if _, err := s.Replica(3).proposeResult(context.Background(), command{flags: flagThaw}); err != nil {
		t.Fatal(err)
	}
	put(t, s, "\x10v", "thawed")

	// Now a merge that completes.
	right = *s.Replica(3).Desc()
	clock := s.Clock()
	before := clock.PhysicalNow()
	merged := mustSend(t, s, 2, &kvpb.AdminMergeRequest{Left: left, Right: right}).(*kvpb.AdminMergeResponse).Merged
	if string(merged.StartKey) != "\x10m" || string(merged.EndKey) != string(right.EndKey) {
		t.Fatalf("merged range %s", &merged)
	}
	// The absorbed values were written under their own leaseholder's clock: no observation
	// of this node taken before the merge tells whether they came after it.
	if min := l.minValidObserved.Load(); min < before+int64(clock.MaxOffset()) {
		t.Fatalf("after the merge the minimum valid observed timestamp is %d, below %d + the max offset", min, before)
	}
	if s.Replica(3) != nil {
		t.Fatal("the absorbed range is still on the store")
	}
	for k, want := range map[string]string{"\x10n": "left", "\x10u": "right", "\x10v": "thawed"} {
		if got := get(t, s, k); got != want {
			t.Errorf("%q = %q, want %q", k, got, want)
		}
	}
	put(t, s, "\x10w", "merged")
	var mismatch *kvpb.RangeKeyMismatchError
	if _, err := sendOne(t, s, 3, &kvpb.GetRequest{Key: []byte("\x10u")}); !errors.As(err, &mismatch) || mismatch.Ranges[0].RangeID != 2 {
		t.Fatalf("a request for the absorbed range: %v, want a redirect to r2", err)
	}
	if err := s.createReplica(context.Background(), 3); err == nil {
		t.Fatal("a message for the absorbed range recreated it")
	}
	res = mustSend(t, s, 2, &kvpb.ResolveMergeRequest{LeftKey: left.StartKey, RightRangeID: 3, FreezeIndex: 1 << 40})
	if !res.(*kvpb.ResolveMergeResponse).Merged {
		t.Fatal("the absorbed range was not reported merged")
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	defer s.Close()
	if s.Replica(3) != nil {
		t.Fatal("the absorbed range came back after a restart")
	}
	if d := s.Replica(2).Desc(); string(d.EndKey) != string(merged.EndKey) {
		t.Fatalf("after a restart r2 is %s", d)
	}
	for k, want := range map[string]string{"\x10u": "right", "\x10w": "merged"} {
		if got := get(t, s, k); got != want {
			t.Errorf("after a restart %q = %q, want %q", k, got, want)
		}
	}
}
