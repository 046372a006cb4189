package server

import (
	"context"
	"time"

	"github.com/meridiandb/meridian/placement"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/server/gossip"
)

// replicateLoop is the replicate queue: every interval, for each range this node holds the
// lease of, it asks placement what to change and makes that one change.
func (n *Node) replicateLoop(ctx context.Context) error {
	t := time.NewTicker(n.cfg.ReplicateInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		nodes := n.placementNodes()
		for _, d := range n.store.Descriptors() {
			r := n.store.Replica(d.RangeID)
			if r == nil || !r.IsLeaseholder() {
				continue
			}
			var replicas []uint64
			for _, rd := range d.Replicas {
				replicas = append(replicas, rd.NodeID)
			}
			a := placement.Plan(replicas, n.NodeID(), nodes, placement.Config{
				Replicas: n.cfg.ReplicationFactor, TimeUntilDead: n.cfg.TimeUntilStoreDead,
			})
			if a.Kind == placement.None {
				continue
			}
			n.log.Info("changing replicas", "range", d.RangeID, "change", a.String())
			actx, cancel := context.WithTimeout(ctx, time.Minute)
			var err error
			switch a.Kind {
			case placement.Add:
				err = r.AddReplica(actx, kvpb.ReplicaDescriptor{NodeID: a.Node, StoreID: a.Node})
			case placement.Remove:
				err = r.RemoveReplica(actx, a.Node)
			}
			cancel()
			if err != nil && ctx.Err() == nil {
				n.log.Warn("replica change failed", "range", d.RangeID, "change", a.String(), "err", err)
			}
		}
	}
}

// placementNodes describes the cluster's nodes for placement, from gossip.
func (n *Node) placementNodes() []placement.Node {
	g := n.gossipIfStarted()
	if g == nil {
		return nil
	}
	now := time.Now()
	n.deadMu.Lock()
	defer n.deadMu.Unlock()
	var out []placement.Node
	for _, m := range g.Members() {
		pn := placement.Node{ID: m.NodeID, Locality: m.Locality, Live: m.Status == gossip.StatusAlive}
		if !pn.Live {
			if since, ok := n.deadSince[m.NodeID]; ok {
				pn.DeadFor = now.Sub(since)
			}
		}
		out = append(out, pn)
	}
	return out
}

// splitLoop is the split queue: every interval, each range this node holds the lease of
// splits if it has grown past RangeMaxBytes or serves more than LoadSplitQPS requests/s.
func (n *Node) splitLoop(ctx context.Context) error {
	t := time.NewTicker(n.cfg.ReplicateInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		for _, d := range n.store.Descriptors() {
			r := n.store.Replica(d.RangeID)
			if r == nil || !r.IsLeaseholder() {
				continue
			}
			key, ok := r.SizeSplitKey(n.cfg.RangeMaxBytes)
			reason := "size"
			if !ok {
				key, ok = r.LoadSplitKey(n.cfg.LoadSplitQPS)
				reason = "load"
			}
			if !ok {
				continue
			}
			sctx, cancel := context.WithTimeout(ctx, time.Minute)
			left, right, err := n.split(sctx, key)
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					n.log.Warn("automatic split failed", "range", d.RangeID, "reason", reason, "err", err)
				}
				continue
			}
			n.log.Info("split range", "reason", reason, "left", left.String(), "right", right.String())
		}
	}
}
