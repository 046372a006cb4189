package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
)

// Flow-control windows are fixed: gRPC's automatic window sizing sends a window update and
// a ping for most data frames on a quiet connection, which doubles the writes of the
// heartbeat traffic of idle ranges (measured in ranges/raftnet's idle benchmark).
const (
	streamWindow = 1 << 20
	connWindow   = 16 << 20
)

// maxMessage bounds one gRPC message either way. gRPC's default of 4 MiB for received
// messages is less than one Raft append of a bulk write can carry (64 entries, each a whole
// batch), or than a batch of intent resolutions after a large COPY; a follower refusing the
// append stalls the range for good, as it fails the same way on every retry.
const maxMessage = 1 << 30

// Keepalive settings: a peer that stops answering is noticed within about keepaliveTime +
// keepaliveTimeout even when no call is in flight, which fails its Raft streams promptly.
const (
	keepaliveTime    = 2 * time.Second
	keepaliveTimeout = 2 * time.Second
)

// streamWorkers is how many goroutines serve calls and are kept for the next call (beyond
// them, a call gets a goroutine of its own). A new goroutine's stack grows, copied at each
// doubling, to the depth of a request's evaluation in Pebble: under TPC-C that copying took
// about a tenth of a node's CPU. Long-lived streams (Raft) hold a worker each.
const streamWorkers = 64

// Resolver maps a node ID to the address its RPC port listens on.
type Resolver func(nodeID uint64) (string, error)

// NewServer returns a gRPC server for node-to-node services. A panic in a handler fails that
// call with an Internal error; it never takes the node down.
func NewServer(log *slog.Logger) *grpc.Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	recoverPanic := func(method string, err *error) {
		if r := recover(); r != nil {
			log.Error("panic in RPC handler", "method", method, "panic", r, "stack", string(debug.Stack()))
			*err = status.Errorf(codes.Internal, "%s: internal error: %v", method, r)
		}
	}
	return grpc.NewServer(
		grpc.ForceServerCodecV2(codec{}),
		grpc.NumStreamWorkers(streamWorkers),
		grpc.MaxRecvMsgSize(maxMessage),
		grpc.MaxSendMsgSize(maxMessage),
		grpc.InitialWindowSize(streamWindow),
		grpc.InitialConnWindowSize(connWindow),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: keepaliveTime, Timeout: keepaliveTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: keepaliveTime / 2, PermitWithoutStream: true}),
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
			defer recoverPanic(info.FullMethod, &err)
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
			defer recoverPanic(info.FullMethod, &err)
			return h(srv, ss)
		}),
	)
}

// Dialer keeps one client connection per peer node.
type Dialer struct {
	resolve Resolver
	dial    func(ctx context.Context, peer uint64, addr string) (net.Conn, error)

	mu     sync.Mutex
	conns  map[uint64]*grpc.ClientConn
	closed bool
}

// NewDialer returns a Dialer that finds nodes through resolve.
func NewDialer(resolve Resolver) *Dialer {
	var d net.Dialer
	return &Dialer{
		resolve: resolve,
		dial: func(ctx context.Context, _ uint64, addr string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", addr)
		},
		conns: map[uint64]*grpc.ClientConn{},
	}
}

// SimulateLatency makes the connections dialed from now on hold every message for
// oneWay(peer) in each direction, so that nodes on one machine see one another as nodes in
// different zones or regions would (a round trip to peer costs twice that). oneWay is asked
// at every message, and should be quick. For tests, benchmarks and demos; call it before
// the first Conn.
func (d *Dialer) SimulateLatency(oneWay func(peer uint64) time.Duration) {
	dial := d.dial
	d.dial = func(ctx context.Context, peer uint64, addr string) (net.Conn, error) {
		c, err := dial(ctx, peer, addr)
		if err != nil {
			return nil, err
		}
		return newDelayedConn(c, func() time.Duration { return oneWay(peer) }), nil
	}
}

// ErrDialerClosed is returned once the Dialer is closed.
var ErrDialerClosed = errors.New("rpc: dialer closed")

// Conn returns the connection to node nodeID. It connects lazily: a node that is down makes
// the calls on the connection fail, not Conn.
func (d *Dialer) Conn(nodeID uint64) (*grpc.ClientConn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrDialerClosed
	}
	if c, ok := d.conns[nodeID]; ok {
		return c, nil
	}
	c, err := grpc.NewClient("passthrough:///n"+strconv.FormatUint(nodeID, 10), append(dialOptions(),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			// Resolve at every dial, so that a node that restarts elsewhere is found.
			addr, err := d.resolve(nodeID)
			if err != nil {
				return nil, fmt.Errorf("resolving n%d: %w", nodeID, err)
			}
			return d.dial(ctx, nodeID, addr)
		}),
	)...)
	if err != nil {
		return nil, fmt.Errorf("rpc: connection to n%d: %w", nodeID, err)
	}
	d.conns[nodeID] = c
	return c, nil
}

// DialAddr returns a new connection to the node at addr, for talking to a node whose ID is
// not known (joining a cluster, initializing one). The caller closes it.
func DialAddr(addr string) (*grpc.ClientConn, error) {
	c, err := grpc.NewClient("passthrough:///"+addr, dialOptions()...)
	if err != nil {
		return nil, fmt.Errorf("rpc: connection to %s: %w", addr, err)
	}
	return c, nil
}

func dialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(codec{}), grpc.MaxCallRecvMsgSize(maxMessage), grpc.MaxCallSendMsgSize(maxMessage)),
		grpc.WithInitialWindowSize(streamWindow),
		grpc.WithInitialConnWindowSize(connWindow),
		// gRPC's default reconnect backoff grows to two minutes; a database wants a restarted
		// peer back within a second or so.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: 2 * time.Second,
		}),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: keepaliveTime, Timeout: keepaliveTimeout, PermitWithoutStream: true}),
	}
}

// Close closes every connection.
func (d *Dialer) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	var errs []error
	for id, c := range d.conns {
		errs = append(errs, c.Close())
		delete(d.conns, id)
	}
	return errors.Join(errs...)
}
