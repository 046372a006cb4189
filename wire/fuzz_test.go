package wire

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// FuzzServerMessages feeds arbitrary bytes to a session after a valid startup. Whatever the
// bytes, the session must end (with an error or cleanly) once the client hangs up, release its
// backend, and never panic: neither unrecovered (which would crash the test) nor recovered by
// the session's safety net, except for the fake engine's deliberate "panic" statement.
func FuzzServerMessages(f *testing.F) {
	startup, err := (&pgproto3.StartupMessage{
		ProtocolVersion: pgproto3.ProtocolVersion30,
		Parameters:      map[string]string{"user": "fuzz"},
	}).Encode(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		env := newFakeEnv()
		env.noBlock, env.maxRows = true, 1000
		panics := &panicRecorder{}
		srv := NewServer(Config{NewBackend: env.newBackend, Logger: slog.New(panics), MaxMessageSize: 1 << 16})

		client, server := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			srv.ServeConn(context.Background(), server)
		}()
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			io.Copy(io.Discard, client)
		}()
		// net.Pipe is unbuffered: each Write returns once the server has read it all, or
		// fails once the server has closed. Errors are expected and ignored.
		client.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := client.Write(startup); err == nil {
			client.Write(data)
		}
		client.Close()

		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("session did not end after the client hung up")
		}
		<-drained
		if n := srv.NumConnections(); n != 0 {
			t.Fatalf("NumConnections = %d after the session ended", n)
		}
		if o, c := env.opened.Load(), env.closed.Load(); o != c {
			t.Fatalf("%d backends opened, %d closed", o, c)
		}
		if p := panics.unexpected(); p != "" {
			t.Fatalf("session recovered from a panic:\n%s", p)
		}
		srv.Close()
	})
}

// panicRecorder is a slog.Handler that remembers panics the server logged.
type panicRecorder struct {
	mu     sync.Mutex
	panics []string
}

func (r *panicRecorder) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (r *panicRecorder) WithAttrs([]slog.Attr) slog.Handler           { return r }
func (r *panicRecorder) WithGroup(string) slog.Handler                { return r }

func (r *panicRecorder) Handle(_ context.Context, rec slog.Record) error {
	var value, stack string
	rec.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "panic":
			value = a.Value.String()
		case "stack":
			stack = a.Value.String()
		}
		return true
	})
	if value != "boom" { // the fake engine's deliberate panic
		r.mu.Lock()
		r.panics = append(r.panics, fmt.Sprintf("%s: %s\n%s", rec.Message, value, stack))
		r.mu.Unlock()
	}
	return nil
}

func (r *panicRecorder) unexpected() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.panics) == 0 {
		return ""
	}
	return r.panics[0]
}
