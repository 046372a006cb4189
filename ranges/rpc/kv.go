package rpc

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"

	"github.com/meridiandb/meridian/ranges/kvpb"
)

// KVServer evaluates batches sent by other nodes.
type KVServer interface {
	Batch(ctx context.Context, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error)
}

const kvBatchMethod = "/meridian.KV/Batch"

var kvServiceDesc = grpc.ServiceDesc{
	ServiceName: "meridian.KV",
	HandlerType: (*KVServer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Batch",
		Handler: func(srv any, ctx context.Context, dec func(any) error, intercept grpc.UnaryServerInterceptor) (any, error) {
			ba := new(kvpb.BatchRequest)
			if err := dec(ba); err != nil {
				return nil, err
			}
			handle := func(ctx context.Context, req any) (any, error) {
				br, err := srv.(KVServer).Batch(ctx, req.(*kvpb.BatchRequest))
				return &kvpb.BatchReply{Response: br, Err: kvpb.NewError(err)}, nil
			}
			if intercept == nil {
				return handle(ctx, ba)
			}
			return intercept(ctx, ba, &grpc.UnaryServerInfo{Server: srv, FullMethod: kvBatchMethod}, handle)
		},
	}},
}

// RegisterKVServer serves srv's batches on s.
func RegisterKVServer(s *grpc.Server, srv KVServer) { s.RegisterService(&kvServiceDesc, srv) }

// SendBatch sends ba to the node at the other end of conn. An error the node returned keeps
// its type (see kvpb.Error); an error reaching the node is a gRPC status error.
func SendBatch(ctx context.Context, conn *grpc.ClientConn, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error) {
	reply := new(kvpb.BatchReply)
	if err := conn.Invoke(ctx, kvBatchMethod, ba, reply); err != nil {
		return nil, fmt.Errorf("sending batch: %w", err)
	}
	if reply.Err != nil {
		return nil, &remoteError{reply.Err.GoError()}
	}
	return reply.Response, nil
}

// remoteError marks an error that the other node returned, as opposed to one in reaching it.
type remoteError struct{ err error }

func (e *remoteError) Error() string { return e.err.Error() }
func (e *remoteError) Unwrap() error { return e.err }

// IsRemote reports whether err, from SendBatch, is the remote node's answer: the batch was
// delivered and evaluated (or refused) there.
func IsRemote(err error) bool {
	var re *remoteError
	return errors.As(err, &re)
}
