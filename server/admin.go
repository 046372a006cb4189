package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/ranges/mvcc"
	"github.com/meridiandb/meridian/server/gossip"
	"github.com/meridiandb/meridian/sql"
	"github.com/meridiandb/meridian/txn"
)

// admin carries out SQL's range administration (sql.Admin) on the cluster.
type admin struct{ n *Node }

var _ sql.Admin = admin{}

// SplitAt splits the range holding key at key, unless a range already starts there. The
// split is sticky: the merge queue leaves it be.
func (a admin) SplitAt(ctx context.Context, key []byte) error {
	_, _, err := a.n.split(ctx, key, true)
	return err
}

// UnsplitAt merges the range starting at key into the range on its left.
func (a admin) UnsplitAt(ctx context.Context, key []byte) error {
	_, err := a.n.mergeAt(ctx, key)
	return err
}

// split splits the range holding key at key and returns the two halves. A sticky split is
// one a user asked for, which the merge queue keeps.
func (n *Node) split(ctx context.Context, key []byte, sticky bool) (left, right kvpb.RangeDescriptor, err error) {
	d, err := n.ds.RangeForKey(ctx, key)
	if err != nil {
		return left, right, err
	}
	var id uint64
	switch {
	case bytes.Equal(d.StartKey, key) && (d.Sticky || !sticky):
		return left, d, nil // already split here
	case bytes.Equal(d.StartKey, key):
		// Split here by the split queue: the range marks the boundary as the user's.
	default:
		if id, err = n.allocate(ctx, keys.RangeIDGeneratorKey); err != nil {
			return left, right, fmt.Errorf("allocating a range ID: %w", err)
		}
	}
	br, err := n.ds.Send(ctx, &kvpb.BatchRequest{RangeID: d.RangeID, Requests: []kvpb.Request{
		&kvpb.AdminSplitRequest{SplitKey: key, NewRangeID: id, Sticky: sticky},
	}})
	var mismatch *kvpb.RangeKeyMismatchError
	if errors.As(err, &mismatch) {
		return n.split(ctx, key, sticky) // the range changed shape under us: look again
	}
	var intent *mvcc.WriteIntentError
	if errors.As(err, &intent) {
		// A transaction is updating a meta record the split rewrites; it finishes soon.
		select {
		case <-ctx.Done():
			return left, right, err
		case <-time.After(50 * time.Millisecond):
		}
		return n.split(ctx, key, sticky)
	}
	if err != nil {
		// A retried split whose first try did apply finds the key already a boundary.
		n.ds.Evict(d.RangeID)
		if now, lerr := n.ds.RangeForKey(ctx, key); lerr == nil && bytes.Equal(now.StartKey, key) && (now.Sticky || !sticky) {
			return left, now, nil
		}
		return left, right, err
	}
	resp := br.Responses[0].(*kvpb.AdminSplitResponse)
	left, right = resp.Left, resp.Right
	changed := []kvpb.RangeDescriptor{left, right}
	if id == 0 {
		changed = changed[1:] // only the right one changed: it is sticky now
	}
	n.ds.Learn(changed...)
	// The split wrote the meta records if the split range held them (the first range
	// holds all of them); otherwise they are written here.
	whole := kvpb.RangeDescriptor{StartKey: changed[0].StartKey, EndKey: right.EndKey}
	if !whole.ContainsKey(keys.MetaKey(changed[0].EndKey)) {
		if err := n.writeMeta(ctx, changed...); err != nil {
			// The split stands; the meta pass repairs the records, and until then the left
			// range redirects senders of the right half's keys (and a merge planned from a
			// record without the sticky mark fails on the range's newer generation).
			n.log.Warn("updating meta records after a split", "left", left.String(), "right", right.String(), "err", err)
		}
	}
	return left, right, nil
}

// writeMeta writes the meta records of descs, keeping any record that is already newer.
func (n *Node) writeMeta(ctx context.Context, descs ...kvpb.RangeDescriptor) error {
	return n.updateMeta(ctx, descs, nil)
}

// updateMeta writes the meta records of put, keeping any record that is already newer, and
// deletes those of del (records of ranges that no longer end where they did: the left side
// of a merge) unless they changed since. Records are compared by generation alone: the
// record at a key and a descriptor ending there overlap, and of two overlapping descriptors
// the one with the higher generation is the newer, whatever their range IDs. A range that
// holds its own meta record (the first range) writes it with every descriptor change
// itself, so it is skipped here: a transaction's intent on that record would only get in
// the way of the range's next split.
func (n *Node) updateMeta(ctx context.Context, put, del []kvpb.RangeDescriptor) error {
	return n.db.RunTxn(ctx, func(ctx context.Context, t *txn.Txn) error {
		current := func(d kvpb.RangeDescriptor) (*kvpb.RangeDescriptor, error) {
			var b txn.Batch
			b.Get(keys.MetaKey(d.EndKey))
			if err := t.Run(ctx, &b); err != nil {
				return nil, err
			}
			rows := b.Results[0].Rows
			if len(rows) == 0 {
				return nil, nil
			}
			var cur kvpb.RangeDescriptor
			if err := cur.UnmarshalBinary(rows[0].Value); err != nil {
				return nil, err
			}
			return &cur, nil
		}
		var w txn.Batch
		for _, d := range del {
			cur, err := current(d)
			if err != nil {
				return err
			}
			if cur != nil && (cur.Generation < d.Generation || cur.RangeID == d.RangeID && cur.Generation == d.Generation) {
				w.Del(keys.MetaKey(d.EndKey))
			}
		}
		for _, d := range put {
			if d.ContainsKey(keys.MetaKey(d.EndKey)) {
				continue
			}
			cur, err := current(d)
			if err != nil {
				return err
			}
			if cur != nil && cur.Generation > d.Generation {
				continue
			}
			enc, err := d.MarshalBinary()
			if err != nil {
				return err
			}
			w.Put(keys.MetaKey(d.EndKey), enc)
		}
		if w.Len() == 0 {
			return nil
		}
		return t.Run(ctx, &w)
	})
}

// allocate increments the counter at key and returns its new value.
func (n *Node) allocate(ctx context.Context, key []byte) (uint64, error) {
	var id uint64
	err := n.db.RunTxn(ctx, func(ctx context.Context, t *txn.Txn) error {
		var b txn.Batch
		b.Get(key)
		if err := t.Run(ctx, &b); err != nil {
			return err
		}
		id = 1
		if rows := b.Results[0].Rows; len(rows) > 0 {
			id = binary.BigEndian.Uint64(rows[0].Value)
		}
		id++
		var w txn.Batch
		w.Put(key, binary.BigEndian.AppendUint64(nil, id))
		return t.Run(ctx, &w)
	})
	return id, err
}

// RangesIn describes the ranges holding [start, end), asking each range's leaseholder for
// its size.
func (a admin) RangesIn(ctx context.Context, start, end []byte) ([]sql.RangeInfo, error) {
	n := a.n
	descs, err := n.ds.RangesIn(ctx, start, end)
	if err != nil {
		return nil, err
	}
	localities := map[uint64]string{}
	if g := n.gossipIfStarted(); g != nil {
		for _, m := range g.Members() {
			localities[m.NodeID] = gossip.FormatLocality(m.Locality)
		}
	} else {
		localities[n.NodeID()] = gossip.FormatLocality(n.cfg.Locality)
	}
	out := make([]sql.RangeInfo, 0, len(descs))
	for _, d := range descs {
		ri := sql.RangeInfo{RangeID: d.RangeID, StartKey: d.StartKey, EndKey: d.EndKey}
		for _, r := range d.Replicas {
			ri.Replicas = append(ri.Replicas, r.NodeID)
			ri.Localities = append(ri.Localities, strings.ReplaceAll(localities[r.NodeID], ",", " "))
		}
		st, err := n.rangeStats(ctx, d, 0)
		if err != nil {
			return nil, fmt.Errorf("r%d: %w", d.RangeID, err)
		}
		ri.Leaseholder, ri.ApproximateBytes = st.NodeID, st.ApproximateBytes
		out = append(out, ri)
	}
	return out, nil
}
