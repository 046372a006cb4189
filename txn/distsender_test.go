package txn_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
	"github.com/meridiandb/meridian/txn"
)

// rangeWorld is a test double of a cluster's stores, seen through one node: ranges with
// their current descriptors, and meta records that may lag behind them, as they do between
// a split and its coordinator's update of the records.
type rangeWorld struct {
	mu      sync.Mutex
	ranges  map[uint64]kvpb.RangeDescriptor
	meta    map[string]kvpb.RangeDescriptor // by end key
	sends   map[uint64]int                  // batches sent to each range, lookups excepted
	lookups int
	// repairAfter: the lookup that brings the meta records up to date (0: never).
	repairAfter int
}

func newRangeWorld(descs ...kvpb.RangeDescriptor) *rangeWorld {
	w := &rangeWorld{ranges: map[uint64]kvpb.RangeDescriptor{}, meta: map[string]kvpb.RangeDescriptor{}, sends: map[uint64]int{}}
	for _, d := range descs {
		w.ranges[d.RangeID] = d
		w.meta[string(d.EndKey)] = d
	}
	return w
}

// change gives ranges new descriptors without updating their meta records.
func (w *rangeWorld) change(descs ...kvpb.RangeDescriptor) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, d := range descs {
		w.ranges[d.RangeID] = d
	}
}

func (w *rangeWorld) repairMeta() {
	w.meta = map[string]kvpb.RangeDescriptor{}
	for _, d := range w.ranges {
		w.meta[string(d.EndKey)] = d
	}
}

// Send answers meta lookups from the meta records and other batches as the range's
// leaseholder would: with an empty result, or, for a key outside the range, with its
// current descriptor.
func (w *rangeWorld) Send(_ context.Context, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ba.RangeID == 1 {
		w.lookups++
		if w.lookups == w.repairAfter {
			w.repairMeta()
		}
		from := ba.Requests[0].Header().Key
		var found *kvpb.RangeDescriptor
		for _, d := range w.meta {
			if bytes.Compare(keys.MetaKey(d.EndKey), from) >= 0 && (found == nil || bytes.Compare(d.EndKey, found.EndKey) < 0) {
				found = &d
			}
		}
		resp := &kvpb.ScanResponse{}
		if found != nil {
			enc, err := found.MarshalBinary()
			if err != nil {
				return nil, err
			}
			resp.KVs = []mvcc.KeyValue{{Key: keys.MetaKey(found.EndKey), Value: enc}}
		}
		return &kvpb.BatchResponse{Responses: []kvpb.Response{resp}}, nil
	}
	w.sends[ba.RangeID]++
	d, ok := w.ranges[ba.RangeID]
	if !ok {
		return nil, &kvpb.RangeNotFoundError{RangeID: ba.RangeID, StoreID: 1}
	}
	var out []kvpb.Response
	for _, req := range ba.Requests {
		if k := req.Header().Key; !d.ContainsKey(k) {
			return nil, &kvpb.RangeKeyMismatchError{RangeID: d.RangeID, Key: k, Ranges: []kvpb.RangeDescriptor{d}}
		}
		out = append(out, &kvpb.GetResponse{})
	}
	return &kvpb.BatchResponse{Responses: out}, nil
}

func userKey(s string) []byte { return append(append([]byte(nil), keys.SystemMax...), s...) }

func desc(id uint64, start, end []byte, gen int64) kvpb.RangeDescriptor {
	return kvpb.RangeDescriptor{RangeID: id, StartKey: start, EndKey: end, Generation: gen,
		Replicas: []kvpb.ReplicaDescriptor{{NodeID: 1, StoreID: 1}}}
}

var firstRange = desc(1, keys.KeyMin, keys.SystemMax, 1)

// TestStaleMetaRecordIsNotFollowedBack: a range split and its leaseholder said so, but the
// meta record of the right half still names the whole range until the split's coordinator
// updates it. The sender must wait for the record (or another source) rather than send the
// batch back to the range that just refused it, again and again: that loop once kept a
// query redirecting for minutes.
func TestStaleMetaRecordIsNotFollowedBack(t *testing.T) {
	whole := desc(2, keys.SystemMax, keys.KeyMax, 1)
	w := newRangeWorld(firstRange, whole)
	ds := txn.NewDistSender(txn.DistSenderConfig{NodeID: 1, Local: w})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := ds.RangeForKey(ctx, userKey("q")); err != nil { // caches the whole range
		t.Fatal(err)
	}
	w.change(desc(2, keys.SystemMax, userKey("m"), 2), desc(3, userKey("m"), keys.KeyMax, 2))
	w.mu.Lock()
	w.repairAfter = w.lookups + 6
	w.mu.Unlock()

	ba := &kvpb.BatchRequest{RangeID: 2, Requests: []kvpb.Request{&kvpb.GetRequest{Key: userKey("q")}}}
	if _, err := ds.Send(ctx, ba); err != nil {
		t.Fatalf("get after the split: %v", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sends[2] != 1 || w.sends[3] != 1 {
		t.Fatalf("sends: r2 %d, r3 %d; want one each (r2 refuses, r3 serves once the meta record is right)", w.sends[2], w.sends[3])
	}
}

// TestOlderDescriptorDoesNotEvictNewer: a descriptor older than the cached ones it overlaps
// (an old meta record, a lagging replica's answer) is not cached, whatever its range ID.
func TestOlderDescriptorDoesNotEvictNewer(t *testing.T) {
	w := newRangeWorld(firstRange)
	ds := txn.NewDistSender(txn.DistSenderConfig{NodeID: 1, Local: w})
	ds.Learn(desc(3, userKey("m"), userKey("t"), 3), desc(4, userKey("t"), keys.KeyMax, 3))
	ds.Learn(desc(2, keys.SystemMax, keys.KeyMax, 1)) // before the splits that made r3 and r4
	ds.Learn(desc(3, userKey("m"), keys.KeyMax, 2))   // r3 before it split off r4
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for k, want := range map[string]uint64{"n": 3, "u": 4} {
		d, err := ds.RangeForKey(ctx, userKey(k))
		if err != nil {
			t.Fatal(err)
		}
		if d.RangeID != want || d.Generation != 3 {
			t.Errorf("%s: r%d generation %d, want r%d generation 3", k, d.RangeID, d.Generation, want)
		}
	}
	ds.Learn(desc(3, userKey("m"), keys.KeyMax, 4)) // a merge of r3 and r4: newer than both
	if d, err := ds.RangeForKey(ctx, userKey("u")); err != nil || d.RangeID != 3 {
		t.Errorf("u after the merge: r%d, %v; want r3", d.RangeID, err)
	}
}
