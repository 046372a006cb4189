package server

import (
	"bytes"
	"context"
	"maps"
	"strconv"
	"time"

	"github.com/meridiandb/meridian/placement"
	"github.com/meridiandb/meridian/ranges"
	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/server/gossip"
)

// replicateLoop is the replicate queue: every interval, for each range this node holds the
// lease of, it asks placement what to change and makes that one change.
func (n *Node) replicateLoop(ctx context.Context) error {
	t := time.NewTicker(n.cfg.ReplicateInterval)
	defer t.Stop()
	pass := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		n.publishLoad()
		pass++
		n.forgetDeferredMoves(pass)
		if pass%5 == 0 {
			// Repairs, rarely needed: not worth a look at every range every pass.
			n.collectRemovedReplicas(ctx)
			n.reconcileDescriptors(ctx)
		}
		nodes := n.placementNodes()
		rebalanced, leaseMoves := false, 0
		for _, d := range n.store.Descriptors() {
			r := n.store.Replica(d.RangeID)
			if r == nil || !r.IsLeaseholder() {
				continue
			}
			if n.draining.Load() {
				n.shedLease(ctx, r, d, nodes)
				continue
			}
			if bytes.Compare(d.StartKey, keys.SystemMax) >= 0 && n.leaseGate() != nil && time.Since(n.startedAt) > n.livenessTTL() {
				// Not live: hand over the leases it may not serve (all but the first range's).
				n.shedLease(ctx, r, d, nodes)
				continue
			}
			var replicas []uint64
			for _, rd := range d.Replicas {
				replicas = append(replicas, rd.NodeID)
			}
			a := placement.Plan(replicas, n.NodeID(), nodes, placement.Config{
				Replicas: n.cfg.ReplicationFactor, TimeUntilDead: n.timeUntilStoreDead(),
			})
			if a.Kind == placement.None && !rebalanced && leaseMoves < maxLeaseMovesPerPass {
				if target, ok := placement.LeaseTarget(replicas, n.NodeID(), nodes); ok {
					if n.deferLeaseMove(r, d.RangeID, pass) {
						continue
					}
					tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
					err := r.TransferLease(tctx, target)
					cancel()
					switch {
					case err == nil:
						n.log.Info("moved a lease to even out leases", "range", d.RangeID, "to", target)
						leaseMoves++
						// Later moves of this pass see the counts as they now are.
						for i := range nodes {
							switch nodes[i].ID {
							case n.NodeID():
								nodes[i].Leases--
							case target:
								nodes[i].Leases++
							}
						}
					case ctx.Err() == nil:
						n.log.Warn("moving a lease to even out leases", "range", d.RangeID, "to", target, "err", err)
					}
				}
				continue
			}
			if a.Kind == placement.None || a.Rebalance && rebalanced {
				continue // one rebalancing move per pass: the counts it relies on are stale after it
			}
			rebalanced = rebalanced || a.Rebalance
			n.log.Info("changing replicas", "range", d.RangeID, "change", a.String())
			actx, cancel := context.WithTimeout(ctx, time.Minute)
			var err error
			switch a.Kind {
			case placement.Add:
				err = r.AddReplica(actx, kvpb.ReplicaDescriptor{NodeID: a.Node, StoreID: a.Node})
			case placement.Remove:
				if rec, ok := n.livenessOf(a.Node); ok && !rec.liveAt(n.clock.Now()) {
					// Fence the dead node before acting on its death.
					if derr := n.declareDead(actx, a.Node, rec.Epoch); derr != nil {
						n.log.Warn("declaring a node dead", "node", a.Node, "err", derr)
					}
				}
				err = r.RemoveReplica(actx, a.Node)
			}
			if err == nil {
				// Ranges other than the first do not hold their own meta record.
				err = n.writeMeta(actx, *r.Desc())
			}
			cancel()
			if err != nil && ctx.Err() == nil {
				n.log.Warn("replica change failed", "range", d.RangeID, "change", a.String(), "err", err)
			}
		}
	}
}

// collectRemovedReplicas destroys this node's replicas that their ranges removed: the meta
// record does not list this node, and is either newer than what the replica knows or agrees
// with it that the node is gone. A learner still catching up is not listed yet and is left
// alone, and so is a replica seen removed only once: the meta record must say so on two
// checks a few seconds apart, which outlasts the moment between a replica's promotion and
// its recording (leaseholders also repair that gap: see ReconcileDescriptor).
func (n *Node) collectRemovedReplicas(ctx context.Context) {
	now := time.Now()
	seen := map[uint64]time.Time{}
	for _, d := range n.store.Descriptors() {
		r := n.store.Replica(d.RangeID)
		// A replica that hears its leader is a member: only the others are worth a meta
		// lookup (which costs a round trip per replica).
		if r == nil || r.IsLeaseholder() || r.IsLearner() || r.HearsLeader() {
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		metas, err := n.ds.RangesIn(lctx, d.StartKey, append(append([]byte(nil), d.StartKey...), 0))
		cancel()
		if err != nil || len(metas) == 0 {
			continue
		}
		m := metas[0]
		_, inMeta := m.Replica(n.NodeID())
		_, inLocal := d.Replica(n.NodeID())
		if inMeta {
			continue
		}
		if m.RangeID != d.RangeID {
			// Another range holds the start of ours. If ours is frozen by a merge, or the
			// other covers all of ours and is newer, ours was merged away and this node, not
			// among the other's replicas, missed the merge. Otherwise (a split whose meta
			// records lag, say) it is not for us to judge.
			merged := r.Frozen() || m.Generation > d.Generation && bytes.Compare(m.StartKey, d.StartKey) <= 0 && bytes.Compare(d.EndKey, m.EndKey) <= 0
			if !merged {
				continue
			}
		} else if m.Generation <= d.Generation && inLocal {
			continue
		}
		first, ok := n.removedSince[d.RangeID]
		if !ok {
			first = now
		}
		seen[d.RangeID] = first
		if now.Sub(first) < removalGrace {
			continue
		}
		if err := n.store.DestroyReplica(d.RangeID); err != nil {
			n.log.Warn("destroying a removed replica", "range", d.RangeID, "err", err)
		}
		delete(seen, d.RangeID)
	}
	n.removedSince = seen
}

// leaseMoveDeferral bounds how long a lease move that would even out leases waits for the
// range's unreplicated locks to go.
const leaseMoveDeferral = 30 * time.Second

// deferLeaseMove reports whether the move of r's lease to even out leases should wait: a
// transfer loses the locks that live only on the leaseholder, so their transactions could be
// overtaken by a writer they had queued ahead of (and one of them then restart). Locks last
// as long as their transactions, so the move waits for a pass that finds none, up to
// leaseMoveDeferral of passes in a row that wanted it, after which a range always busy with
// locks is moved anyway. pass numbers the replicate loop's passes.
func (n *Node) deferLeaseMove(r *ranges.Replica, rangeID uint64, pass int) bool {
	if !r.HoldsUnreplicatedLocks() {
		delete(n.leaseMoveDeferred, rangeID)
		return false
	}
	if n.leaseMoveDeferred == nil {
		n.leaseMoveDeferred = make(map[uint64]deferredMove)
	}
	m, ok := n.leaseMoveDeferred[rangeID]
	if !ok || m.pass < pass-1 {
		m.since = time.Now() // a new wait, or one the last pass did not want: afresh
	}
	if time.Since(m.since) >= leaseMoveDeferral {
		delete(n.leaseMoveDeferred, rangeID)
		return false
	}
	m.pass = pass
	n.leaseMoveDeferred[rangeID] = m
	return true
}

// forgetDeferredMoves drops the waits that no pass since the one before pass wanted (the move
// was no longer wanted, or the lease went), so that they do not pile up.
func (n *Node) forgetDeferredMoves(pass int) {
	for id, m := range n.leaseMoveDeferred {
		if m.pass < pass-1 {
			delete(n.leaseMoveDeferred, id)
		}
	}
}

// deferredMove is a lease move put off for a range's locks: since when, and the last pass
// that put it off.
type deferredMove struct {
	since time.Time
	pass  int
}

// maxLeaseMovesPerPass bounds the leases a node hands over per pass to even out leases
// (a lease move is cheap; replica moves go one per pass).
const maxLeaseMovesPerPass = 10

// removalGrace is how long a replica must look removed before it is destroyed.
const removalGrace = 3 * time.Second

// reconcileDescriptors repairs descriptors (and their meta records) left behind the Raft
// configuration of ranges this node holds the lease of.
func (n *Node) reconcileDescriptors(ctx context.Context) {
	for _, d := range n.store.Descriptors() {
		r := n.store.Replica(d.RangeID)
		if r == nil || !r.IsLeaseholder() {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		changed, err := r.ReconcileDescriptor(rctx)
		if changed && err == nil {
			err = n.writeMeta(rctx, *r.Desc())
		}
		cancel()
		if err != nil && ctx.Err() == nil {
			n.log.Warn("reconciling a range descriptor", "range", d.RangeID, "err", err)
		}
	}
}

// publishLoad tells the cluster, through gossip, how many replicas this node holds and
// whether it is draining.
func (n *Node) publishLoad() {
	g := n.gossipIfStarted()
	if g == nil {
		return
	}
	replicas, leases := n.replicaCounts()
	tags := map[string]string{
		"replicas": strconv.Itoa(replicas),
		"leases":   strconv.Itoa(leases),
		"draining": strconv.FormatBool(n.draining.Load()),
	}
	n.tagsMu.Lock()
	defer n.tagsMu.Unlock()
	if maps.Equal(tags, n.lastTags) {
		return
	}
	if err := g.SetTags(tags); err != nil {
		n.log.Warn("publishing load", "err", err)
		return
	}
	n.lastTags = tags
}

// shedLease hands the lease of a range to another live replica: this node is draining (the
// new leaseholder then moves this node's replica away), or may not serve leases.
func (n *Node) shedLease(ctx context.Context, r *ranges.Replica, d kvpb.RangeDescriptor, nodes []placement.Node) {
	live := map[uint64]bool{}
	for _, pn := range nodes {
		live[pn.ID] = pn.Live && !pn.Draining && !pn.NoLeases
	}
	for _, rd := range d.Replicas {
		if rd.NodeID != n.NodeID() && live[rd.NodeID] {
			tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := r.TransferLease(tctx, rd.NodeID)
			cancel()
			if err != nil && ctx.Err() == nil {
				n.log.Warn("handing a lease to another replica", "range", d.RangeID, "to", rd.NodeID, "err", err)
			}
			return
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
		pn := placement.Node{ID: m.NodeID, Locality: m.Locality, Live: m.Status == gossip.StatusAlive,
			Draining: m.Tags["draining"] == "true"}
		pn.Replicas, _ = strconv.Atoi(m.Tags["replicas"])
		pn.Leases, _ = strconv.Atoi(m.Tags["leases"])
		if pn.Live {
			delete(n.deadSince, m.NodeID)
		} else {
			// Gossip events are hints (a slow reader loses some): a member seen down here
			// counts as down from now if no event said so.
			since, ok := n.deadSince[m.NodeID]
			if !ok {
				since = now
				n.deadSince[m.NodeID] = since
			}
			pn.DeadFor = now.Sub(since)
		}
		// A node is dead only when gossip and its liveness record agree: gossip stopped
		// hearing from it and its record expired, for as long as both have held. (Either
		// alone gives false alarms: a slow heartbeat, a lost probe.)
		if rec, ok := n.livenessOf(m.NodeID); ok {
			now := n.clock.Now()
			recLive := rec.liveAt(now)
			pn.NoLeases = !recLive
			if !pn.Live {
				if recLive {
					pn.Live, pn.DeadFor = true, 0
				} else {
					pn.DeadFor = min(pn.DeadFor, time.Duration(now.WallTime-rec.Expiration))
				}
			}
		}
		out = append(out, pn)
	}
	return out
}

// metaPassInterval is how often a node repairs stale meta records (see metaPass).
const metaPassInterval = 10 * time.Second

// splitLoop runs the split and merge queues: every interval, each range this node holds the
// lease of splits if it has grown past RangeMaxBytes or serves more than LoadSplitQPS
// requests/s, and small cold neighbours merge (see mergePass). Every few passes, meta
// records left stale by failed changes are repaired.
func (n *Node) splitLoop(ctx context.Context) error {
	t := time.NewTicker(n.cfg.ReplicateInterval)
	defer t.Stop()
	lastMetaPass := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		n.mergePass(ctx)
		if time.Since(lastMetaPass) > metaPassInterval {
			mctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			n.metaPass(mctx)
			cancel()
			lastMetaPass = time.Now()
		}
		for _, d := range n.store.Descriptors() {
			r := n.store.Replica(d.RangeID)
			if r == nil || !r.IsLeaseholder() {
				continue
			}
			key, ok := r.SizeSplitKey(n.rangeMaxBytes())
			reason := "size"
			if !ok {
				key, ok = r.LoadSplitKey(n.cfg.LoadSplitQPS)
				reason = "load"
			}
			if !ok {
				continue
			}
			sctx, cancel := context.WithTimeout(ctx, time.Minute)
			left, right, err := n.split(sctx, key, false)
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
