package server

import (
	"context"
	"encoding/json"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/meridiandb/meridian/ranges/rpc"
)

// The Node service answers the calls that come before a node has a place in a cluster:
// Init makes a waiting node the first node of a new cluster; Join asks a member of a cluster
// for a node ID. Its messages are small and rare, so they are JSON.

type initRequest struct{}

type initResponse struct {
	ClusterID string `json:"cluster_id"`
	NodeID    uint64 `json:"node_id"`
}

type statusRequest struct{}

// StatusResponse is one node's account of itself and of the cluster members it knows.
type StatusResponse struct {
	NodeID    uint64       `json:"node_id"`
	ClusterID string       `json:"cluster_id"`
	Ready     bool         `json:"ready"`
	Ranges    int          `json:"ranges"`
	Leases    int          `json:"leases"`
	Members   []NodeStatus `json:"members"`
}

type decommissionRequest struct {
	NodeID uint64 `json:"node_id"`
}

// DecommissionResponse is a draining node's progress.
type DecommissionResponse struct {
	NodeID   uint64 `json:"node_id"`
	Replicas int    `json:"replicas"` // replicas still on the node
	Leases   int    `json:"leases"`
}

type joinRequest struct {
	Addr string `json:"addr"` // the joining node's advertised address
}

type joinResponse struct {
	ClusterID string `json:"cluster_id"`
	NodeID    uint64 `json:"node_id"` // the ID given to the joining node
	// Responder is the node that answered, so the joiner can reach it by ID at once.
	Responder     uint64 `json:"responder"`
	ResponderAddr string `json:"responder_addr"`
}

func (m *initRequest) MarshalBinary() ([]byte, error)          { return json.Marshal(m) }
func (m *initRequest) UnmarshalBinary(b []byte) error          { return json.Unmarshal(b, m) }
func (m *initResponse) MarshalBinary() ([]byte, error)         { return json.Marshal(m) }
func (m *initResponse) UnmarshalBinary(b []byte) error         { return json.Unmarshal(b, m) }
func (m *statusRequest) MarshalBinary() ([]byte, error)        { return json.Marshal(m) }
func (m *statusRequest) UnmarshalBinary(b []byte) error        { return json.Unmarshal(b, m) }
func (m *StatusResponse) MarshalBinary() ([]byte, error)       { return json.Marshal(m) }
func (m *StatusResponse) UnmarshalBinary(b []byte) error       { return json.Unmarshal(b, m) }
func (m *decommissionRequest) MarshalBinary() ([]byte, error)  { return json.Marshal(m) }
func (m *decommissionRequest) UnmarshalBinary(b []byte) error  { return json.Unmarshal(b, m) }
func (m *DecommissionResponse) MarshalBinary() ([]byte, error) { return json.Marshal(m) }
func (m *DecommissionResponse) UnmarshalBinary(b []byte) error { return json.Unmarshal(b, m) }
func (m *joinRequest) MarshalBinary() ([]byte, error)          { return json.Marshal(m) }
func (m *joinRequest) UnmarshalBinary(b []byte) error          { return json.Unmarshal(b, m) }
func (m *joinResponse) MarshalBinary() ([]byte, error)         { return json.Marshal(m) }
func (m *joinResponse) UnmarshalBinary(b []byte) error         { return json.Unmarshal(b, m) }

var (
	_ rpc.Message = (*initRequest)(nil)
	_ rpc.Message = (*joinResponse)(nil)
)

const (
	initMethod         = "/meridian.Node/Init"
	joinMethod         = "/meridian.Node/Join"
	statusMethod       = "/meridian.Node/Status"
	decommissionMethod = "/meridian.Node/Decommission"
)

// nodeService is what the Node service calls into.
type nodeService interface {
	initCluster(ctx context.Context) (*initResponse, error)
	admit(ctx context.Context, req *joinRequest) (*joinResponse, error)
	status(ctx context.Context) (*StatusResponse, error)
	decommission(ctx context.Context, req *decommissionRequest) (*DecommissionResponse, error)
}

func unaryHandler[Req any, PReq interface {
	*Req
	rpc.Message
}](method string, call func(nodeService, context.Context, PReq) (any, error)) func(any, context.Context, func(any) error, grpc.UnaryServerInterceptor) (any, error) {
	return func(srv any, ctx context.Context, dec func(any) error, intercept grpc.UnaryServerInterceptor) (any, error) {
		req := PReq(new(Req))
		if err := dec(req); err != nil {
			return nil, err
		}
		handle := func(ctx context.Context, r any) (any, error) { return call(srv.(nodeService), ctx, r.(PReq)) }
		if intercept == nil {
			return handle(ctx, req)
		}
		return intercept(ctx, req, &grpc.UnaryServerInfo{Server: srv, FullMethod: method}, handle)
	}
}

var nodeServiceDesc = grpc.ServiceDesc{
	ServiceName: "meridian.Node",
	HandlerType: (*nodeService)(nil),
	Methods: []grpc.MethodDesc{
		{MethodName: "Init", Handler: unaryHandler(initMethod, func(s nodeService, ctx context.Context, _ *initRequest) (any, error) {
			return s.initCluster(ctx)
		})},
		{MethodName: "Join", Handler: unaryHandler(joinMethod, func(s nodeService, ctx context.Context, r *joinRequest) (any, error) {
			return s.admit(ctx, r)
		})},
		{MethodName: "Status", Handler: unaryHandler(statusMethod, func(s nodeService, ctx context.Context, _ *statusRequest) (any, error) {
			return s.status(ctx)
		})},
		{MethodName: "Decommission", Handler: unaryHandler(decommissionMethod, func(s nodeService, ctx context.Context, r *decommissionRequest) (any, error) {
			return s.decommission(ctx, r)
		})},
	},
}

// InitCluster asks the node at addr, started with --join and waiting, to initialize a new
// cluster with itself as its first node. It is what `meridian init` does.
func InitCluster(ctx context.Context, addr string) (clusterID string, nodeID uint64, err error) {
	conn, err := rpc.DialAddr(addr)
	if err != nil {
		return "", 0, err
	}
	defer conn.Close()
	var resp initResponse
	if err := conn.Invoke(ctx, initMethod, &initRequest{}, &resp); err != nil {
		if status.Code(err) == codes.AlreadyExists {
			return "", 0, fmt.Errorf("%s: %s", addr, status.Convert(err).Message())
		}
		return "", 0, fmt.Errorf("initializing the cluster through %s: %w", addr, err)
	}
	return resp.ClusterID, resp.NodeID, nil
}

// askToJoin asks the node at addr for a place in its cluster.
func askToJoin(ctx context.Context, addr, self string) (*joinResponse, error) {
	conn, err := rpc.DialAddr(addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var resp joinResponse
	if err := conn.Invoke(ctx, joinMethod, &joinRequest{Addr: self}, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// NodeStatusAt asks the node at addr about itself and the members it knows.
func NodeStatusAt(ctx context.Context, addr string) (*StatusResponse, error) {
	conn, err := rpc.DialAddr(addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var resp StatusResponse
	if err := conn.Invoke(ctx, statusMethod, &statusRequest{}, &resp); err != nil {
		return nil, fmt.Errorf("asking %s for its status: %w", addr, err)
	}
	return &resp, nil
}

// Decommission asks the cluster, through the node at addr, to drain node nodeID: its leases
// and replicas move to other nodes. It returns the node's progress; calling it again is how
// to follow it.
func Decommission(ctx context.Context, addr string, nodeID uint64) (*DecommissionResponse, error) {
	conn, err := rpc.DialAddr(addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var resp DecommissionResponse
	if err := conn.Invoke(ctx, decommissionMethod, &decommissionRequest{NodeID: nodeID}, &resp); err != nil {
		return nil, fmt.Errorf("decommissioning n%d through %s: %w", nodeID, addr, err)
	}
	return &resp, nil
}
