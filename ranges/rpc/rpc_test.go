package rpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/kvpb"
)

// echoKV answers a Get with the key as the value, fails a Put with a typed error, and
// panics on a Delete.
type echoKV struct{}

func (echoKV) Batch(ctx context.Context, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error) {
	switch r := ba.Requests[0].(type) {
	case *kvpb.GetRequest:
		return &kvpb.BatchResponse{Responses: []kvpb.Response{&kvpb.GetResponse{}}, Timestamp: hlc.Timestamp{WallTime: int64(len(r.Key))}}, nil
	case *kvpb.PutRequest:
		return nil, fmt.Errorf("evaluating: %w", &kvpb.TxnPushedError{PushedTo: hlc.Timestamp{WallTime: 42}})
	case *kvpb.DeleteRequest:
		panic("delete went wrong")
	}
	return nil, errors.New("unexpected request")
}

// serve starts a node-to-node server on a fresh loopback port and returns its address.
func serve(t *testing.T) (string, *grpc.Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(nil)
	RegisterKVServer(s, echoKV{})
	go s.Serve(ln)
	t.Cleanup(s.Stop)
	return ln.Addr().String(), s
}

type addrBook struct {
	mu    sync.Mutex
	addrs map[uint64]string
}

func (b *addrBook) set(id uint64, addr string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.addrs[id] = addr
}

func (b *addrBook) resolve(id uint64) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if a, ok := b.addrs[id]; ok {
		return a, nil
	}
	return "", fmt.Errorf("n%d is unknown", id)
}

func send(ctx context.Context, d *Dialer, node uint64, r kvpb.Request) (*kvpb.BatchResponse, error) {
	conn, err := d.Conn(node)
	if err != nil {
		return nil, err
	}
	return SendBatch(ctx, conn, &kvpb.BatchRequest{Requests: []kvpb.Request{r}})
}

func TestKVBatch(t *testing.T) {
	addr, _ := serve(t)
	book := &addrBook{addrs: map[uint64]string{1: addr}}
	d := NewDialer(book.resolve)
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	br, err := send(ctx, d, 1, &kvpb.GetRequest{Key: []byte("four")})
	if err != nil || br.Timestamp.WallTime != 4 {
		t.Fatalf("Get: %+v, %v", br, err)
	}
	_, err = send(ctx, d, 1, &kvpb.PutRequest{Key: []byte("k")})
	var pushed *kvpb.TxnPushedError
	if !errors.As(err, &pushed) || pushed.PushedTo.WallTime != 42 || !strings.Contains(err.Error(), "evaluating") {
		t.Fatalf("Put: %v, want the server's TxnPushedError", err)
	}
	_, err = send(ctx, d, 1, &kvpb.DeleteRequest{Key: []byte("k")})
	if err == nil || !strings.Contains(err.Error(), "delete went wrong") {
		t.Fatalf("panicking handler: %v", err)
	}
	if _, err := send(ctx, d, 1, &kvpb.GetRequest{Key: []byte("ok")}); err != nil {
		t.Fatalf("server unusable after a handler panic: %v", err)
	}
	c1, _ := d.Conn(1)
	c2, _ := d.Conn(1)
	if c1 != c2 {
		t.Fatal("two connections to one node")
	}
}

// TestPeerMovesAndUnknownPeers: a call to an unknown or stopped node fails with an error
// naming it; once the node is back (here on a new address), calls work again without a new
// Dialer.
func TestPeerMovesAndUnknownPeers(t *testing.T) {
	book := &addrBook{addrs: map[uint64]string{}}
	d := NewDialer(book.resolve)
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	short, c := context.WithTimeout(ctx, 500*time.Millisecond)
	_, err := send(short, d, 9, &kvpb.GetRequest{Key: []byte("k")})
	c()
	if err == nil || !strings.Contains(err.Error(), "n9") {
		t.Fatalf("unknown node: %v", err)
	}

	addr, srv := serve(t)
	book.set(2, addr)
	if _, err := send(ctx, d, 2, &kvpb.GetRequest{Key: []byte("k")}); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	short, c = context.WithTimeout(ctx, 500*time.Millisecond)
	_, err = send(short, d, 2, &kvpb.GetRequest{Key: []byte("k")})
	c()
	if err == nil {
		t.Fatal("call to a stopped node succeeded")
	}
	addr, _ = serve(t)
	book.set(2, addr)
	for {
		_, err := send(ctx, d, 2, &kvpb.GetRequest{Key: []byte("k")})
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("node never reachable at its new address: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDialerClosed(t *testing.T) {
	d := NewDialer(func(uint64) (string, error) { return "", errors.New("none") })
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Conn(1); !errors.Is(err, ErrDialerClosed) {
		t.Fatalf("Conn after Close: %v", err)
	}
}
