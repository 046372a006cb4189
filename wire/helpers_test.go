package wire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

const testTimeout = 10 * time.Second

// testServer is a Server listening on 127.0.0.1 with fake backends.
type testServer struct {
	*Server
	env  *fakeEnv
	addr string
	logs *syncBuffer
	done chan error // Serve's result
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServer serves cfg (with fake backends unless cfg sets NewBackend) until the test ends,
// then closes the server and checks that no session goroutine is left.
func startServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	ts := &testServer{env: newFakeEnv(), logs: &syncBuffer{}, done: make(chan error, 1)}
	if cfg.NewBackend == nil {
		cfg.NewBackend = ts.env.newBackend
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ts.Server = NewServer(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	go func() { ts.done <- ts.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		if err := ts.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		select {
		case err := <-ts.done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(testTimeout):
			t.Error("Serve did not return after Close")
		}
		if n := ts.NumConnections(); n != 0 {
			t.Errorf("NumConnections after Close = %d", n)
		}
		checkNoSessionGoroutines(t)
	})
	return ts
}

func (ts *testServer) connString(extra string) string {
	host, port, _ := net.SplitHostPort(ts.addr)
	return fmt.Sprintf("host=%s port=%s user=tester sslmode=disable connect_timeout=5 %s", host, port, extra)
}

func (ts *testServer) connect(t *testing.T, extra string) *pgconn.PgConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := pgconn.Connect(ctx, ts.connString(extra))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// checkNoSessionGoroutines fails if a goroutine is still running the server's code.
func checkNoSessionGoroutines(t *testing.T) {
	t.Helper()
	var stacks string
	for deadline := time.Now().Add(testTimeout); ; {
		buf := make([]byte, 1<<20)
		stacks = string(buf[:runtime.Stack(buf, true)])
		leaked := false
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "wire.(*session)") || strings.Contains(g, "wire.(*Server)") {
				leaked = true
			}
		}
		if !leaked {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("session goroutines left behind:\n%s", stacks)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitFor polls cond until it holds or the test times out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(testTimeout); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rawClient speaks the protocol by hand, for what a driver will not send.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	fe   *pgproto3.Frontend
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(testTimeout))
	return &rawClient{t: t, conn: conn, fe: pgproto3.NewFrontend(conn, conn)}
}

// connectRaw dials and completes a trusted startup.
func connectRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	c := dialRaw(t, addr)
	c.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "tester"}})
	for {
		msg := c.recv()
		if rfq, ok := msg.(*pgproto3.ReadyForQuery); ok {
			if rfq.TxStatus != 'I' {
				t.Fatalf("initial ReadyForQuery status %q", rfq.TxStatus)
			}
			return c
		}
		if e, ok := msg.(*pgproto3.ErrorResponse); ok {
			t.Fatalf("startup failed: %s %s", e.Code, e.Message)
		}
	}
}

func (c *rawClient) send(msgs ...pgproto3.FrontendMessage) {
	c.t.Helper()
	for _, m := range msgs {
		c.fe.Send(m)
	}
	if err := c.fe.Flush(); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

func (c *rawClient) write(b []byte) {
	c.t.Helper()
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *rawClient) recv() pgproto3.BackendMessage {
	c.t.Helper()
	msg, err := c.fe.Receive()
	if err != nil {
		c.t.Fatalf("receive: %v", err)
	}
	return msg
}

// expect receives messages and checks their types, in order; it returns them described.
func (c *rawClient) expect(want ...string) []string {
	c.t.Helper()
	var got []string
	for range want {
		got = append(got, describeMsg(c.recv()))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			c.t.Fatalf("messages:\n got  %q\n want %q", got, want)
		}
	}
	return got
}

// expectFatal checks that the server sends a FATAL error with code and then closes.
func (c *rawClient) expectFatal(code, msgPart string) {
	c.t.Helper()
	for {
		msg, err := c.fe.Receive()
		if err != nil {
			c.t.Fatalf("connection ended before the FATAL %s: %v", code, err)
		}
		e, ok := msg.(*pgproto3.ErrorResponse)
		if !ok {
			continue
		}
		if e.Severity != "FATAL" || e.Code != code || !strings.Contains(e.Message, msgPart) {
			c.t.Fatalf("got %s %s %q, want FATAL %s containing %q", e.Severity, e.Code, e.Message, code, msgPart)
		}
		break
	}
	c.expectClosed()
}

func (c *rawClient) expectClosed() {
	c.t.Helper()
	var b [1]byte
	n, err := c.conn.Read(b[:])
	if err == nil {
		c.t.Fatalf("connection still open: read %q", b[:n])
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		c.t.Fatalf("expected the connection closed, got %v", err)
	}
}

// describeMsg renders a message as its type plus the content tests check.
func describeMsg(msg pgproto3.BackendMessage) string {
	switch m := msg.(type) {
	case *pgproto3.DataRow:
		vals := make([]string, len(m.Values))
		for i, v := range m.Values {
			if v == nil {
				vals[i] = "NULL"
			} else {
				vals[i] = fmt.Sprintf("%q", v)
			}
		}
		return "DataRow " + strings.Join(vals, ",")
	case *pgproto3.CommandComplete:
		return "CommandComplete " + string(m.CommandTag)
	case *pgproto3.ErrorResponse:
		return fmt.Sprintf("ErrorResponse %s %s %s", m.Severity, m.Code, m.Message)
	case *pgproto3.ReadyForQuery:
		return "ReadyForQuery " + string(m.TxStatus)
	case *pgproto3.RowDescription:
		var cols []string
		for _, f := range m.Fields {
			cols = append(cols, fmt.Sprintf("%s:%d/%d", f.Name, f.DataTypeOID, f.Format))
		}
		return "RowDescription " + strings.Join(cols, ",")
	case *pgproto3.ParameterDescription:
		return fmt.Sprintf("ParameterDescription %v", m.ParameterOIDs)
	case *pgproto3.NoticeResponse:
		return fmt.Sprintf("NoticeResponse %s %s %s", m.Severity, m.Code, m.Message)
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", msg), "*pgproto3.")
}

// pgErr extracts a *pgconn.PgError or fails.
func pgErr(t *testing.T, err error) *pgconn.PgError {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Fatalf("expected a PgError, got %v", err)
	}
	return pe
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
