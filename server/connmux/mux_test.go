package connmux

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// testWait bounds every wait in these tests; reaching it is a failure, never an assertion.
const testWait = 10 * time.Second

// startMux serves a Mux on a loopback listener. setup, if non-nil, runs before Serve.
// Cleanup closes the Mux and checks that Serve returned nil.
func startMux(t *testing.T, opts Options, setup func(*Mux)) (*Mux, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := New(ln, opts)
	if setup != nil {
		setup(m)
	}
	errc := make(chan error, 1)
	go func() { errc <- m.Serve() }()
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(testWait):
			t.Errorf("Serve did not return after Close")
		}
	})
	return m, ln.Addr().String()
}

func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, testWait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

func write(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := c.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

// accept returns the next connection of l, failing the test if none comes within testWait.
func accept(t *testing.T, l net.Listener) net.Conn {
	t.Helper()
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := l.Accept()
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("Accept: %v", r.err)
		}
		t.Cleanup(func() { r.c.Close() })
		return r.c
	case <-time.After(testWait):
		t.Fatal("no connection accepted")
		return nil
	}
}

// receive returns the next connection passed to a Handle callback that sends on ch.
func receive(t *testing.T, ch <-chan net.Conn) net.Conn {
	t.Helper()
	select {
	case c := <-ch:
		t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(testWait):
		t.Fatal("Handle callback not called")
		return nil
	}
}

// readAll reads c to EOF under a deadline.
func readAll(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(testWait))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading: %v", err)
	}
	return string(b)
}

// expectClosed checks that the server closed the client conn c without sending anything.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(testWait))
	n, err := c.Read(make([]byte, 1))
	if n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read on client = (%d, %v); want the server to have closed the conn", n, err)
	}
}

// gossipHandler returns a Handle callback that passes its conns to the returned channel.
func gossipHandler() (func(net.Conn), <-chan net.Conn) {
	ch := make(chan net.Conn, 64)
	return func(c net.Conn) { ch <- c }, ch
}

// nodeRoutes registers the routes of a Meridian node's port and returns the HTTP/2 listener
// and the channel of gossip conns.
func nodeRoutes(m *Mux) (net.Listener, <-chan net.Conn) {
	h2 := m.Match([]byte(http2Prefix))
	h, ch := gossipHandler()
	m.Handle([]byte(gossipPreamble), h)
	return h2, ch
}

func pendingCount(m *Mux) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.pending)
}

func TestPgwireReachesDefaultWithoutWaiting(t *testing.T) {
	// An hour-long ReadTimeout: if the Mux waited for more than the 8 bytes psql sends before
	// its reply, the client would time out at testWait.
	m, addr := startMux(t, Options{ReadTimeout: time.Hour}, func(m *Mux) { nodeRoutes(m) })

	t.Run("SSLRequest", func(t *testing.T) {
		c := dial(t, addr)
		req := pgMessage(80877103)
		write(t, c, string(req))
		sc := accept(t, m.Default())
		got := make([]byte, len(req))
		sc.SetReadDeadline(time.Now().Add(testWait))
		if _, err := io.ReadFull(sc, got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, req) {
			t.Fatalf("server read %x, want %x", got, req)
		}
		write(t, sc, "N")
		reply := make([]byte, 1)
		c.SetReadDeadline(time.Now().Add(testWait))
		if _, err := io.ReadFull(c, reply); err != nil {
			t.Fatalf("reading SSLRequest reply: %v", err)
		}
		if reply[0] != 'N' {
			t.Fatalf("reply %q, want 'N'", reply)
		}
		if sc.RemoteAddr().String() != c.LocalAddr().String() {
			t.Fatalf("accepted %v, want %v", sc.RemoteAddr(), c.LocalAddr())
		}
	})

	t.Run("StartupMessage", func(t *testing.T) {
		c := dial(t, addr)
		msg := pgMessage(196608, []byte("user\x00root\x00database\x00defaultdb\x00\x00")...)
		write(t, c, string(msg))
		c.CloseWrite()
		if got := readAll(t, accept(t, m.Default())); got != string(msg) {
			t.Fatalf("server read %q, want %q", got, msg)
		}
	})

	t.Run("DivergesAfterPartialPrefix", func(t *testing.T) {
		// "PRI * HTTP/1.1" agrees with the HTTP/2 prefix for 11 bytes, then goes to Default.
		c := dial(t, addr)
		const req = "PRI * HTTP/1.1\r\n\r\n"
		write(t, c, req)
		c.CloseWrite()
		if got := readAll(t, accept(t, m.Default())); got != req {
			t.Fatalf("server read %q, want %q", got, req)
		}
	})
}

func TestHTTP2PrefaceReachesMatch(t *testing.T) {
	var h2 net.Listener
	m, addr := startMux(t, Options{}, func(m *Mux) { h2, _ = nodeRoutes(m) })
	if h2.Addr().String() != addr || m.Default().Addr().String() != addr {
		t.Fatalf("Addr() = %v, %v; want %v", h2.Addr(), m.Default().Addr(), addr)
	}

	c := dial(t, addr)
	// The preface, then an empty SETTINGS frame, as a gRPC client sends.
	sent := http2Preface + "\x00\x00\x00\x04\x00\x00\x00\x00\x00"
	write(t, c, sent)
	c.CloseWrite()
	if got := readAll(t, accept(t, h2)); got != sent {
		t.Fatalf("server read %q, want %q", got, sent)
	}
}

func TestHTTP2CleartextServer(t *testing.T) {
	var h2 net.Listener
	_, addr := startMux(t, Options{}, func(m *Mux) { h2, _ = nodeRoutes(m) })

	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Protocols: &protos,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s %s", r.Proto, r.URL.Path)
		}),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(h2) }()
	defer func() {
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("http.Server.Serve: %v", err)
		}
	}()

	tr := &http.Transport{Protocols: &protos}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: testWait}
	resp, err := client.Get("http://" + addr + "/status")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != "HTTP/2.0 /status" {
		t.Fatalf("body %q, want %q", body, "HTTP/2.0 /status")
	}
}

func TestGossipHandleConsumesPrefix(t *testing.T) {
	var gossip <-chan net.Conn
	_, addr := startMux(t, Options{}, func(m *Mux) { _, gossip = nodeRoutes(m) })

	c := dial(t, addr)
	// One write: the Mux may read up to len(http2Prefix) bytes, past the 8-byte preamble,
	// and must replay the payload bytes it read.
	const payload = "hello gossip, and more bytes than the longest prefix"
	write(t, c, gossipPreamble+payload)
	c.CloseWrite()
	gc := receive(t, gossip)
	if gc.RemoteAddr().String() != c.LocalAddr().String() {
		t.Fatalf("handled %v, want %v", gc.RemoteAddr(), c.LocalAddr())
	}
	if got := readAll(t, gc); got != payload {
		t.Fatalf("handler read %q, want %q", got, payload)
	}
}

func TestPrefixSplitAcrossReads(t *testing.T) {
	peeks := make(chan string, 128)
	var h2 net.Listener
	var gossip <-chan net.Conn
	_, addr := startMux(t, Options{}, func(m *Mux) {
		h2, gossip = nodeRoutes(m)
		m.testHookPeek = func(b []byte) {
			select {
			case peeks <- string(b):
			default:
			}
		}
	})
	waitPeek := func(t *testing.T, want string) {
		t.Helper()
		select {
		case got := <-peeks:
			if got != want {
				t.Fatalf("Mux has read %q, want %q", got, want)
			}
		case <-time.After(testWait):
			t.Fatalf("Mux did not read %q", want)
		}
	}

	// drainPeeks forgets earlier conns' reads; call it once their classification is done.
	drainPeeks := func() {
		for {
			select {
			case <-peeks:
			default:
				return
			}
		}
	}

	t.Run("gossip", func(t *testing.T) {
		drainPeeks()
		c := dial(t, addr)
		write(t, c, "MRD")
		waitPeek(t, "MRD") // the Mux has read the 3 bytes and is waiting for more
		const payload = "payload"
		write(t, c, gossipPreamble[3:]+payload)
		c.CloseWrite()
		if got := readAll(t, receive(t, gossip)); got != payload {
			t.Fatalf("handler read %q, want %q", got, payload)
		}
	})

	t.Run("http2 byte by byte", func(t *testing.T) {
		drainPeeks() // the gossip conn was handed off, so its reads are all in peeks
		c := dial(t, addr)
		for i := range len(http2Prefix) {
			write(t, c, http2Prefix[i:i+1])
			waitPeek(t, http2Prefix[:i+1])
		}
		write(t, c, http2Preface[len(http2Prefix):])
		c.CloseWrite()
		if got := readAll(t, accept(t, h2)); got != http2Preface {
			t.Fatalf("server read %q, want %q", got, http2Preface)
		}
	})
}

func TestSilentClientDoesNotBlockOthers(t *testing.T) {
	var gossip <-chan net.Conn
	m, addr := startMux(t, Options{ReadTimeout: time.Hour}, func(m *Mux) { _, gossip = nodeRoutes(m) })

	silent := dial(t, addr)
	c := dial(t, addr)
	write(t, c, gossipPreamble+"x")
	gc := receive(t, gossip) // would take an hour if the silent client blocked the Mux
	b := make([]byte, 1)
	gc.SetReadDeadline(time.Now().Add(testWait))
	if _, err := io.ReadFull(gc, b); err != nil || b[0] != 'x' {
		t.Fatalf("gossip conn read (%q, %v), want \"x\"", b, err)
	}
	// The silent client was accepted first and is still being classified.
	if n := pendingCount(m); n != 1 {
		t.Fatalf("%d conns being classified, want 1 (the silent one)", n)
	}
	// Close drops it.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, silent)
}

func TestSilentClientDroppedAfterReadTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	m, addr := startMux(t, Options{ReadTimeout: timeout}, func(m *Mux) { nodeRoutes(m) })

	for _, first := range []string{"", "MRD", "PRI * "} {
		t.Run(fmt.Sprintf("sent %q", first), func(t *testing.T) {
			start := time.Now()
			c := dial(t, addr)
			if first != "" {
				write(t, c, first)
			}
			expectClosed(t, c)
			if elapsed := time.Since(start); elapsed < timeout {
				t.Fatalf("dropped after %v, before the %v ReadTimeout", elapsed, timeout)
			}
			// The Mux stops tracking a conn before closing it.
			if n := pendingCount(m); n != 0 {
				t.Fatalf("%d conns still being classified", n)
			}
		})
	}
}

func TestFullBacklogDropsOnlyItsOwnConns(t *testing.T) {
	const timeout = 200 * time.Millisecond
	var h2 net.Listener
	var gossip <-chan net.Conn
	m, addr := startMux(t, Options{ReadTimeout: timeout}, func(m *Mux) { h2, gossip = nodeRoutes(m) })

	// Nobody accepts from h2 yet: acceptBacklog conns fill its backlog, one more waits
	// ReadTimeout and is closed.
	clients := make(map[string]net.Conn)
	closed := make(chan string, acceptBacklog+1)
	for range acceptBacklog + 1 {
		c := dial(t, addr)
		write(t, c, http2Preface)
		clients[c.LocalAddr().String()] = c
		go func() {
			c.SetReadDeadline(time.Now().Add(2 * testWait))
			c.Read(make([]byte, 1)) // returns when the server closes c (or the test does)
			closed <- c.LocalAddr().String()
		}()
	}

	// Other routes keep working meanwhile.
	g := dial(t, addr)
	write(t, g, gossipPreamble)
	receive(t, gossip)
	p := dial(t, addr)
	write(t, p, string(pgMessage(80877103)))
	accept(t, m.Default())

	var dropped string
	select {
	case dropped = <-closed:
	case <-time.After(testWait):
		t.Fatal("no conn dropped from the full backlog")
	}
	// A conn waits only while the backlog is full, so the backlog holds the other conns.
	for range acceptBacklog {
		sc := accept(t, h2)
		a := sc.RemoteAddr().String()
		if a == dropped {
			t.Fatalf("accepted the dropped conn %s", a)
		}
		if clients[a] == nil {
			t.Fatalf("accepted unknown conn %s", a)
		}
		delete(clients, a)
	}
	if len(clients) != 1 || clients[dropped] == nil {
		t.Fatalf("left over %v, want only the dropped conn %s", clients, dropped)
	}
}

func TestSubListenerClose(t *testing.T) {
	var h2 net.Listener
	m, addr := startMux(t, Options{}, func(m *Mux) { h2, _ = nodeRoutes(m) })

	queued := dial(t, addr)
	write(t, queued, http2Preface)
	l := h2.(*listener)
	waitFor(t, "conn queued for Accept", func() bool { return len(l.ch) == 1 })

	if err := h2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h2.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := h2.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close = %v, want net.ErrClosed", err)
	}
	expectClosed(t, queued) // the conn waiting for Accept
	later := dial(t, addr)
	write(t, later, http2Preface)
	expectClosed(t, later) // conns routed to it later

	// The Mux and its other listeners still work.
	c := dial(t, addr)
	write(t, c, string(pgMessage(80877103)))
	accept(t, m.Default())
}

func TestClose(t *testing.T) {
	before := runtime.NumGoroutine()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	m := New(ln, Options{ReadTimeout: time.Hour})
	h2 := m.Match([]byte(http2Prefix))
	m.Handle([]byte(gossipPreamble), func(c net.Conn) { c.Close() })
	served := make(chan error, 1)
	go func() { served <- m.Serve() }()

	// An Accept blocked on Default.
	accepted := make(chan error, 1)
	go func() {
		c, err := m.Default().Accept()
		if c != nil {
			c.Close()
		}
		accepted <- err
	}()
	// A conn waiting in h2's backlog, nobody accepting.
	queued := dial(t, addr)
	write(t, queued, http2Preface)
	waitFor(t, "conn queued for Accept", func() bool { return len(h2.(*listener).ch) == 1 })
	// A conn still being classified, and one mid-prefix.
	silent := dial(t, addr)
	partial := dial(t, addr)
	write(t, partial, "MRDN")
	waitFor(t, "conns being classified", func() bool { return pendingCount(m) == 2 })

	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve returned %v, want nil", err)
		}
	case <-time.After(testWait):
		t.Fatal("Serve did not return after Close")
	}
	select {
	case err := <-accepted:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("blocked Accept returned %v, want net.ErrClosed", err)
		}
	case <-time.After(testWait):
		t.Fatal("blocked Accept did not return after Close")
	}
	for _, l := range []net.Listener{m.Default(), h2, m.Match([]byte("late"))} {
		if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close = %v, want net.ErrClosed", err)
		}
	}
	for _, c := range []net.Conn{queued, silent, partial} {
		expectClosed(t, c)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := net.DialTimeout("tcp", addr, testWait); err == nil {
		t.Fatal("underlying listener still accepts")
	}

	waitFor(t, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= before })
}

func TestServeAfterClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := New(ln, Options{})
	m.Close()
	if err := m.Serve(); err != nil {
		t.Fatalf("Serve after Close = %v, want nil", err)
	}
}

func TestServeEndsWhenListenerClosedElsewhere(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := New(ln, Options{})
	served := make(chan error, 1)
	go func() { served <- m.Serve() }()
	ln.Close()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve = %v, want nil", err)
		}
	case <-time.After(testWait):
		t.Fatal("Serve did not return")
	}
	if _, err := m.Default().Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Serve ended = %v, want net.ErrClosed", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
}

type tempError struct{}

func (tempError) Error() string   { return "temporary accept failure" }
func (tempError) Timeout() bool   { return false }
func (tempError) Temporary() bool { return true }

// flakyListener fails its first Accepts with errs before accepting for real.
type flakyListener struct {
	net.Listener
	errs chan error
}

func (l *flakyListener) Accept() (net.Conn, error) {
	select {
	case err := <-l.errs:
		return nil, err
	default:
		return l.Listener.Accept()
	}
}

func TestServeRetriesTemporaryErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &flakyListener{Listener: ln, errs: make(chan error, 3)}
	for range 3 {
		fl.errs <- &net.OpError{Op: "accept", Net: "tcp", Err: tempError{}}
	}
	m := New(fl, Options{})
	served := make(chan error, 1)
	go func() { served <- m.Serve() }()
	defer func() {
		m.Close()
		if err := <-served; err != nil {
			t.Errorf("Serve = %v", err)
		}
	}()

	c := dial(t, ln.Addr().String())
	write(t, c, "hello")
	c.CloseWrite()
	if got := readAll(t, accept(t, m.Default())); got != "hello" {
		t.Fatalf("read %q", got)
	}
	if len(fl.errs) != 0 {
		t.Fatalf("%d temporary errors not returned", len(fl.errs))
	}
}

func TestServeReturnsPermanentError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	fl := &flakyListener{Listener: ln, errs: make(chan error, 1)}
	fl.errs <- boom
	m := New(fl, Options{})
	if err := m.Serve(); !errors.Is(err, boom) {
		t.Fatalf("Serve = %v, want %v", err, boom)
	}
	if _, err := m.Default().Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Serve failed = %v, want net.ErrClosed", err)
	}
}

func TestRegistrationPanics(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := New(ln, Options{})
	defer m.Close()
	nodeRoutes(m)
	noop := func(net.Conn) {}
	for name, f := range map[string]func(){
		"empty Match":     func() { m.Match(nil) },
		"empty Handle":    func() { m.Handle([]byte{}, noop) },
		"nil handler":     func() { m.Handle([]byte("X"), nil) },
		"duplicate":       func() { m.Match([]byte(gossipPreamble)) },
		"shorter overlap": func() { m.Handle([]byte("PRI"), noop) },
		"longer overlap":  func() { m.Match([]byte(gossipPreamble + "2")) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil || !strings.HasPrefix(fmt.Sprint(r), "connmux: ") {
					t.Fatalf("recovered %v, want a connmux panic", r)
				}
			}()
			f()
		})
	}
}

// waitFor polls cond until it holds, failing the test after testWait.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testWait)
	for !cond() {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("timed out waiting for %s; goroutines:\n%s", what, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}
