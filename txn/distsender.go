package txn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc/connectivity"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/rpc"
)

// DistSenderConfig says how a DistSender reaches the stores of a cluster.
type DistSenderConfig struct {
	// NodeID is this node; Local is its store (nil if it has none), called directly.
	NodeID uint64
	Local  Sender
	// Dialer reaches other nodes.
	Dialer *rpc.Dialer
	// Nodes lists the nodes believed alive; the first range is looked for among them.
	Nodes func() []uint64
	// Clock is this node's clock, which every answer from another node moves forward (the
	// hybrid logical clock's receive rule).
	Clock *hlc.Clock
}

// DistSender sends each batch to the leaseholder of its range, wherever in the cluster it is.
// It finds ranges through the meta records in the first range and caches what it learns:
// descriptors and the node that last served each range. A stale guess costs one redirect.
// It implements Sender and RangeLookup.
type DistSender struct {
	cfg DistSenderConfig

	mu     sync.Mutex
	ranges []*cachedRange          // by end key
	byID   map[uint64]*cachedRange // by range ID
}

type cachedRange struct {
	desc        kvpb.RangeDescriptor
	leaseholder uint64 // 0 = unknown
}

// NewDistSender returns a DistSender.
func NewDistSender(cfg DistSenderConfig) *DistSender {
	return &DistSender{cfg: cfg, byID: map[uint64]*cachedRange{}}
}

// firstRangeID is the range that holds the meta records; it never moves or splits away
// from the start of the key space.
const firstRangeID = 1

// RangeForKey implements RangeLookup.
func (ds *DistSender) RangeForKey(ctx context.Context, key []byte) (kvpb.RangeDescriptor, error) {
	addr := keys.Addr(key)
	if d, ok := ds.cached(addr); ok {
		return d, nil
	}
	return ds.lookup(ctx, addr)
}

func (ds *DistSender) cached(addr []byte) (kvpb.RangeDescriptor, bool) {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	i := sort.Search(len(ds.ranges), func(i int) bool { return bytes.Compare(ds.ranges[i].desc.EndKey, addr) > 0 })
	if i < len(ds.ranges) && bytes.Compare(ds.ranges[i].desc.StartKey, addr) <= 0 {
		return ds.ranges[i].desc, true
	}
	return kvpb.RangeDescriptor{}, false
}

// lookup reads the meta record of the range holding addr: the first record after
// MetaKey(addr), since records are keyed by their range's end key. A split or merge updates
// the meta records after it changed the ranges, so for a moment a record can be older than
// a descriptor a range's leaseholder already gave us: then the record is read again until it
// catches up (or the cache learns the range some other way), rather than sending the batch
// to a range that has just said it no longer holds the key.
func (ds *DistSender) lookup(ctx context.Context, addr []byte) (kvpb.RangeDescriptor, error) {
	start := keys.MetaKey(append(append([]byte(nil), addr...), 0))
	backoff := 5 * time.Millisecond
	for {
		ba := &kvpb.BatchRequest{RangeID: firstRangeID, Requests: []kvpb.Request{
			&kvpb.ScanRequest{Span: kvpb.Span{Key: start, EndKey: keys.MetaMax}, MaxKeys: 1},
		}}
		br, err := ds.Send(ctx, ba)
		if err != nil {
			return kvpb.RangeDescriptor{}, fmt.Errorf("looking up the range of %q: %w", addr, err)
		}
		kvs := br.Responses[0].(*kvpb.ScanResponse).KVs
		if len(kvs) == 0 {
			return kvpb.RangeDescriptor{}, fmt.Errorf("looking up the range of %q: no meta record", addr)
		}
		var d kvpb.RangeDescriptor
		if err := d.UnmarshalBinary(kvs[0].Value); err != nil {
			return kvpb.RangeDescriptor{}, fmt.Errorf("looking up the range of %q: %w", addr, err)
		}
		if ds.insert(d) {
			return d, nil
		}
		if d, ok := ds.cached(addr); ok {
			return d, nil
		}
		select {
		case <-ctx.Done():
			return kvpb.RangeDescriptor{}, fmt.Errorf("looking up the range of %q: its meta record (%s, generation %d) is older than the ranges it overlaps: %w",
				addr, &d, d.Generation, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

// Learn caches descriptors the caller knows to be current (a split's result).
func (ds *DistSender) Learn(descs ...kvpb.RangeDescriptor) {
	for _, d := range descs {
		ds.insert(d)
	}
}

// RangesIn reads the meta records of the ranges holding keys in [start, end), in order.
func (ds *DistSender) RangesIn(ctx context.Context, start, end []byte) ([]kvpb.RangeDescriptor, error) {
	var out []kvpb.RangeDescriptor
	from := keys.MetaKey(append(append([]byte(nil), start...), 0))
	for {
		ba := &kvpb.BatchRequest{RangeID: firstRangeID, Requests: []kvpb.Request{
			&kvpb.ScanRequest{Span: kvpb.Span{Key: from, EndKey: keys.MetaMax}, MaxKeys: 100},
		}}
		br, err := ds.Send(ctx, ba)
		if err != nil {
			return nil, fmt.Errorf("reading meta records: %w", err)
		}
		kvs := br.Responses[0].(*kvpb.ScanResponse).KVs
		if len(kvs) == 0 {
			return out, nil
		}
		for _, kv := range kvs {
			var d kvpb.RangeDescriptor
			if err := d.UnmarshalBinary(kv.Value); err != nil {
				return nil, fmt.Errorf("meta record %q: %w", kv.Key, err)
			}
			ds.insert(d)
			out = append(out, d)
			if bytes.Compare(d.EndKey, end) >= 0 {
				return out, nil
			}
		}
		from = append(append([]byte(nil), kvs[len(kvs)-1].Key...), 0)
	}
}

// insert caches d, evicting cached ranges it overlaps, unless one of them is newer: it
// reports whether d was cached. Of two overlapping descriptors the one with the higher
// generation is the newer (a split's halves and a merge's result each have a generation
// above those of the ranges they came from), whatever their range IDs; so a stale answer
// (an old meta record, a replica that has not heard of a split) never replaces what a
// leaseholder told us since.
func (ds *DistSender) insert(d kvpb.RangeDescriptor) bool {
	if len(d.EndKey) == 0 {
		return false // not a range's: a replica that does not know its range yet
	}
	ds.mu.Lock()
	defer ds.mu.Unlock()
	// A range keeps its start key through splits and merges, so its own older descriptor is
	// among those d overlaps.
	for _, c := range ds.ranges {
		if c.desc.Overlaps(&d) && c.desc.Generation > d.Generation {
			return false
		}
	}
	var lh uint64
	if old := ds.byID[d.RangeID]; old != nil {
		lh = old.leaseholder
	}
	kept := ds.ranges[:0]
	for _, c := range ds.ranges {
		if c.desc.Overlaps(&d) {
			delete(ds.byID, c.desc.RangeID)
			continue
		}
		kept = append(kept, c)
	}
	c := &cachedRange{desc: d, leaseholder: lh}
	ds.ranges = append(kept, c)
	sort.Slice(ds.ranges, func(i, j int) bool { return bytes.Compare(ds.ranges[i].desc.EndKey, ds.ranges[j].desc.EndKey) < 0 })
	ds.byID[d.RangeID] = c
	return true
}

// Evict forgets range rangeID, whose cached descriptor the caller found stale: the next
// lookup reads its meta record again.
func (ds *DistSender) Evict(rangeID uint64) {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	c := ds.byID[rangeID]
	if c == nil {
		return
	}
	delete(ds.byID, rangeID)
	for i, r := range ds.ranges {
		if r == c {
			ds.ranges = append(ds.ranges[:i], ds.ranges[i+1:]...)
			break
		}
	}
}

// candidates lists the nodes to try for range rangeID, best guess first: the cached
// leaseholder, then this node, then the range's other replicas. widen reports whether every
// other known node (cfg.Nodes) is a candidate too, once those failed: the range has no
// descriptor here, or it is the first range, found without meta records, so a stale
// descriptor of it (cached when it had fewer replicas) is never corrected by a lookup. They
// are listed only then: listing the nodes costs more than most sends that succeed at once.
func (ds *DistSender) candidates(rangeID uint64) (nodes []uint64, widen bool) {
	ds.mu.Lock()
	var lh uint64
	var replicas []uint64
	if c := ds.byID[rangeID]; c != nil {
		lh = c.leaseholder
		for _, r := range c.desc.Replicas {
			replicas = append(replicas, r.NodeID)
		}
	}
	ds.mu.Unlock()
	if ds.cfg.Dialer == nil {
		replicas = nil // alone: only the local store can answer
	} else {
		widen = (replicas == nil || rangeID == firstRangeID) && ds.cfg.Nodes != nil
	}
	out := make([]uint64, 0, len(replicas)+2)
	add := func(id uint64) {
		if id != 0 && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	add(lh)
	if ds.cfg.Local != nil {
		add(ds.cfg.NodeID)
	}
	for _, id := range replicas {
		add(id)
	}
	return out, widen
}

func (ds *DistSender) setLeaseholder(rangeID, nodeID uint64) {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if c := ds.byID[rangeID]; c != nil {
		c.leaseholder = nodeID
	}
}

// Send implements Sender: ba.RangeID names the range (found through RangeForKey). It tries
// the range's replicas until the leaseholder answers, following NotLeaseHolderError hints,
// and keeps trying (with backoff) while the range has no leaseholder, until ctx ends.
func (ds *DistSender) Send(ctx context.Context, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error) {
	return ds.send(ctx, ba, 0)
}

// send is Send after redirects: a batch redirected more than a few times in a row (replicas
// disagreeing about ranges that are changing shape) waits a little between redirects.
func (ds *DistSender) send(ctx context.Context, ba *kvpb.BatchRequest, redirects int) (*kvpb.BatchResponse, error) {
	backoff := 10 * time.Millisecond
	var lastErr error
	for round := 0; ; round++ {
		tried := map[uint64]bool{}
		queue, widen := ds.candidates(ba.RangeID)
		for len(queue) > 0 || widen {
			if len(queue) == 0 {
				queue, widen = ds.cfg.Nodes(), false
				continue
			}
			node := queue[0]
			queue = queue[1:]
			if tried[node] {
				continue
			}
			tried[node] = true
			br, err := ds.sendTo(ctx, node, ba)
			if err == nil {
				ds.setLeaseholder(ba.RangeID, node)
				return br, nil
			}
			lastErr = err
			var nlhe *kvpb.NotLeaseHolderError
			var rnf *kvpb.RangeNotFoundError
			var unreachable *nodeUnreachableError
			var mismatch *kvpb.RangeKeyMismatchError
			var merging *kvpb.MergeInProgressError
			switch {
			case errors.As(err, &mismatch):
				// Our descriptor is stale (the range split). Learn the new shape; if the
				// whole batch now falls in one range, send it there.
				ds.Evict(ba.RangeID)
				for _, d := range mismatch.Ranges {
					ds.insert(d)
				}
				rangeID, ok, lerr := ds.rangeOfBatch(ctx, ba)
				if lerr != nil {
					return nil, lerr
				}
				if !ok {
					return nil, err
				}
				if redirects >= 3 {
					select {
					case <-ctx.Done():
						return nil, &RangeUnavailableError{RangeID: ba.RangeID, Last: err, Cause: ctx.Err()}
					case <-time.After(time.Duration(min(redirects, 25)) * 10 * time.Millisecond):
					}
				}
				rerouted := *ba
				rerouted.RangeID = rangeID
				return ds.send(ctx, &rerouted, redirects+1)
			case errors.As(err, &nlhe):
				if nlhe.LeaseHolder != 0 && !tried[nlhe.LeaseHolder] {
					queue = append([]uint64{nlhe.LeaseHolder}, queue...)
				}
			case errors.As(err, &rnf), errors.As(err, &unreachable), errors.As(err, &merging):
				// A range being merged away serves again once the merge ends (as part of
				// the merged range, found by looking it up again, or as itself).
			default:
				return nil, err
			}
		}
		// Nobody served the range: it may be electing a leaseholder, or our descriptor may
		// be stale. Look it up again (unless it is the first range) and retry.
		if ba.RangeID != firstRangeID && round%3 == 2 {
			ds.Evict(ba.RangeID)
		}
		select {
		case <-ctx.Done():
			return nil, &RangeUnavailableError{RangeID: ba.RangeID, Last: lastErr, Cause: ctx.Err()}
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 250*time.Millisecond) // stay prompt: a new leaseholder is usually seconds away
	}
}

// RangeUnavailableError says no replica of a range served a batch before the caller gave
// up: the range has lost its quorum, or is still electing a leaseholder.
type RangeUnavailableError struct {
	RangeID uint64
	Last    error // what the last replica tried answered
	Cause   error // why the caller stopped waiting
}

func (e *RangeUnavailableError) Error() string {
	return fmt.Sprintf("r%d is unavailable: no replica could serve it (last: %v)", e.RangeID, e.Last)
}

func (e *RangeUnavailableError) Unwrap() error { return e.Cause }

// rangeOfBatch finds the one range that holds every key of ba, or reports that none does.
func (ds *DistSender) rangeOfBatch(ctx context.Context, ba *kvpb.BatchRequest) (uint64, bool, error) {
	var rangeID uint64
	for _, req := range ba.Requests {
		h := req.Header()
		key := h.Key
		if len(key) == 0 && ba.Txn != nil {
			key = ba.Txn.Key
		}
		d, err := ds.RangeForKey(ctx, key)
		if err != nil {
			return 0, false, err
		}
		if len(h.EndKey) > 0 && bytes.Compare(keys.Addr(h.EndKey), d.EndKey) > 0 {
			return 0, false, nil
		}
		if rangeID != 0 && rangeID != d.RangeID {
			return 0, false, nil
		}
		rangeID = d.RangeID
	}
	return rangeID, rangeID != 0, nil
}

// nodeUnreachableError says a batch could not be delivered to a node: it is safe to try
// another.
type nodeUnreachableError struct {
	nodeID uint64
	err    error
}

func (e *nodeUnreachableError) Error() string {
	return fmt.Sprintf("n%d unreachable: %v", e.nodeID, e.err)
}
func (e *nodeUnreachableError) Unwrap() error { return e.err }

// connectTimeout bounds the wait for a connection to a node before trying another.
const connectTimeout = 2 * time.Second

func (ds *DistSender) sendTo(ctx context.Context, node uint64, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error) {
	br, err := ds.deliver(ctx, node, ba)
	ds.observe(br, err)
	return br, err
}

// observe moves the clock past the timestamps in an answer: the batch's evaluation time, a
// pushed write timestamp, or the timestamp a retry must start at.
func (ds *DistSender) observe(br *kvpb.BatchResponse, err error) {
	if ds.cfg.Clock == nil {
		return
	}
	update := func(ts hlc.Timestamp) {
		if !ts.IsEmpty() {
			_, _ = ds.cfg.Clock.Update(ts)
		}
	}
	if br != nil {
		update(br.Timestamp)
		if br.Txn != nil {
			update(br.Txn.WriteTimestamp)
		}
	}
	var re *kvpb.TransactionRetryError
	if errors.As(err, &re) {
		update(re.Timestamp)
	}
}

func (ds *DistSender) deliver(ctx context.Context, node uint64, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error) {
	if node == ds.cfg.NodeID && ds.cfg.Local != nil {
		return ds.cfg.Local.Send(ctx, ba)
	}
	if ds.cfg.Dialer == nil {
		return nil, &nodeUnreachableError{nodeID: node, err: errors.New("no network")}
	}
	conn, err := ds.cfg.Dialer.Conn(node)
	if err != nil {
		return nil, &nodeUnreachableError{nodeID: node, err: err}
	}
	// Make sure the connection is up before sending: a batch that never left is safe to
	// send elsewhere, while one lost in flight may have been applied.
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	for st := conn.GetState(); st != connectivity.Ready; st = conn.GetState() {
		conn.Connect()
		if !conn.WaitForStateChange(cctx, st) {
			cancel()
			return nil, &nodeUnreachableError{nodeID: node, err: fmt.Errorf("connection %s", conn.GetState())}
		}
	}
	cancel()
	br, err := rpc.SendBatch(ctx, conn, ba)
	if err == nil {
		return br, nil
	}
	if rpc.IsRemote(err) || ctx.Err() != nil {
		return nil, err
	}
	// The batch was sent and the node went away: it may have been applied. Only a batch
	// that can be replayed may simply be sent again.
	if !ba.Replayable() {
		return nil, &kvpb.AmbiguousResultError{Message: fmt.Sprintf("n%d: %v", node, err)}
	}
	return nil, &nodeUnreachableError{nodeID: node, err: err}
}
