package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/pprof"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/meridiandb/meridian/server/gossip"
)

func (n *Node) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		body := map[string]any{
			"status": "ok", "node_id": n.NodeID(), "sql_addr": n.SQLAddr(),
			"sql_connections": n.wire.NumConnections(), "ready": n.isReady(),
		}
		if n.isReady() {
			body["ranges"] = len(n.store.Descriptors())
			body["cluster_id"] = n.cluster
		} else {
			body["status"] = "waiting for init or join"
		}
		writeJSON(w, body)
	})
	mux.HandleFunc("/_status/nodes", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, n.nodeStatuses())
	})
	mux.HandleFunc("/_status/ranges", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, n.rangeStatuses())
	})
	mux.Handle("/metrics", n.metricsHandler())
	if n.cfg.CertsDir == "" && n.cfg.Password == "" {
		// Go's profiler, for finding where a workload's time goes (go tool pprof
		// http://HOST/debug/pprof/profile). Only on an insecure node: the HTTP port has no
		// authentication, and profiles show the node's internals.
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// NodeStatus is one node as this node sees it.
type NodeStatus struct {
	NodeID   uint64            `json:"node_id"`
	Addr     string            `json:"address"`
	Locality map[string]string `json:"locality"`
	// Liveness is "live" or "dead" by the node's liveness record (gossip's view when there
	// is no record yet), or "left", or "draining".
	Liveness string `json:"liveness"`
	Epoch    uint64 `json:"epoch,omitempty"`
}

func (n *Node) nodeStatuses() []NodeStatus {
	if g := n.gossipIfStarted(); g != nil {
		var out []NodeStatus
		for _, m := range g.Members() {
			st := NodeStatus{NodeID: m.NodeID, Addr: m.Addr, Locality: m.Locality, Liveness: gossipLiveness(m.Status)}
			if rec, ok := n.livenessOf(m.NodeID); ok && st.Liveness != "left" {
				st.Epoch, st.Liveness = rec.Epoch, "dead"
				if rec.liveAt(n.clock.Now()) {
					st.Liveness = "live"
				}
				if rec.Draining {
					st.Liveness = "draining"
				}
			}
			out = append(out, st)
		}
		return out
	}
	return []NodeStatus{{NodeID: n.NodeID(), Addr: n.advertise, Locality: n.cfg.Locality, Liveness: "live"}}
}

func gossipLiveness(s gossip.Status) string {
	switch s {
	case gossip.StatusAlive:
		return "live"
	case gossip.StatusFailed:
		return "dead"
	case gossip.StatusLeft, gossip.StatusLeaving:
		return "left"
	}
	return "unknown"
}

// status serves the Node service's Status call.
func (n *Node) status(context.Context) (*StatusResponse, error) {
	resp := &StatusResponse{NodeID: n.NodeID(), ClusterID: n.cluster, Ready: n.isReady(), Members: n.nodeStatuses()}
	if n.isReady() {
		resp.Ranges, resp.Leases = n.replicaCounts()
	}
	return resp, nil
}

// replicaCounts is how many replicas, and how many leases, this node holds.
func (n *Node) replicaCounts() (replicas, leases int) {
	descs := n.store.Descriptors()
	for _, d := range descs {
		if r := n.store.Replica(d.RangeID); r != nil && r.IsLeaseholder() {
			leases++
		}
	}
	return len(descs), leases
}

// decommission serves the Node service's Decommission call: this node starts draining, or
// the call goes on to the node being decommissioned.
func (n *Node) decommission(ctx context.Context, req *decommissionRequest) (*DecommissionResponse, error) {
	if !n.isReady() {
		return nil, status.Error(codes.Unavailable, "this node has not joined a cluster yet")
	}
	if req.NodeID != n.NodeID() {
		addr, err := n.resolve(req.NodeID)
		if err != nil {
			return nil, status.Errorf(codes.NotFound, "n%d: %v", req.NodeID, err)
		}
		return Decommission(ctx, addr, req.NodeID)
	}
	if !n.draining.Swap(true) {
		n.log.Info("decommissioning: moving leases and replicas away")
	}
	n.publishLoad()
	st, err := n.status(ctx)
	if err != nil {
		return nil, err
	}
	return &DecommissionResponse{NodeID: st.NodeID, Replicas: st.Ranges, Leases: st.Leases}, nil
}

// RangeStatus is one of this node's replicas.
type RangeStatus struct {
	RangeID     uint64   `json:"range_id"`
	StartKey    string   `json:"start_key"`
	EndKey      string   `json:"end_key"`
	Replicas    []uint64 `json:"replicas"`
	Leaseholder bool     `json:"leaseholder"`
	// AppliedIndex is the last Raft log entry this replica applied: its growth is the
	// range's rate of replicated commands.
	AppliedIndex uint64 `json:"applied_index"`
}

func (n *Node) rangeStatuses() []RangeStatus {
	if !n.isReady() {
		return nil
	}
	var out []RangeStatus
	for _, d := range n.store.Descriptors() {
		rs := RangeStatus{RangeID: d.RangeID, StartKey: string(d.StartKey), EndKey: string(d.EndKey)}
		for _, r := range d.Replicas {
			rs.Replicas = append(rs.Replicas, r.NodeID)
		}
		if r := n.store.Replica(d.RangeID); r != nil {
			rs.Leaseholder, rs.AppliedIndex = r.IsLeaseholder(), r.AppliedIndex()
		}
		out = append(out, rs)
	}
	return out
}
