package connmux

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"
)

const (
	defaultReadTimeout = 10 * time.Second
	// acceptBacklog is how many classified connections a sub-listener holds for Accept.
	acceptBacklog = 32
	// Backoff bounds for temporary accept errors (as net/http's Server uses).
	minAcceptDelay = 5 * time.Millisecond
	maxAcceptDelay = time.Second
)

// Options configures a Mux.
type Options struct {
	// ReadTimeout is how long a new connection has to send the bytes that classify it before
	// it is dropped. It also bounds backpressure: a classified connection that finds its
	// sub-listener's backlog full for this long is closed. Zero or negative means 10s.
	ReadTimeout time.Duration
	// Logger receives records about dropped connections and accept errors; nil discards them.
	Logger *slog.Logger
}

// route sends connections starting with prefix to a sub-listener l (Match) or to a
// callback h with the prefix consumed (Handle).
type route struct {
	prefix []byte
	l      *listener
	h      func(net.Conn)
}

// Mux routes the connections accepted on one net.Listener by their first bytes. Register
// routes with Match and Handle (before Serve, or concurrently with it: a connection is routed
// by the routes registered when it was accepted), then run Serve. Prefixes must be non-empty
// and none may be a prefix of another, so at most one route matches any connection.
type Mux struct {
	ln      net.Listener
	timeout time.Duration
	log     *slog.Logger
	def     *listener
	done    chan struct{} // closed by Close

	closeOnce sync.Once
	closeErr  error
	wg        sync.WaitGroup // one per connection until it is handed off or dropped

	mu      sync.Mutex
	closed  bool
	routes  []route     // copy-on-write: Serve hands each connection a snapshot
	lns     []*listener // every sub-listener, Default included
	pending map[net.Conn]struct{}

	// testHookPeek, if set before Serve, is called with the bytes read so far after each
	// read of a connection's first bytes.
	testHookPeek func(buf []byte)
}

// New returns a Mux that routes the connections accepted on ln. The Mux owns ln: Close and
// the end of Serve close it.
func New(ln net.Listener, opts Options) *Mux {
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = defaultReadTimeout
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Mux{
		ln:      ln,
		timeout: opts.ReadTimeout,
		log:     logger,
		done:    make(chan struct{}),
		pending: make(map[net.Conn]struct{}),
	}
	m.def = newListener(m)
	m.lns = []*listener{m.def}
	return m
}

// Match returns a net.Listener that yields the connections whose first bytes start with
// prefix. The connections replay the bytes the Mux read, so their consumer sees each stream
// from its first byte. Match panics if prefix is empty or overlaps a registered prefix.
func (m *Mux) Match(prefix []byte) net.Listener {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := newListener(m)
	m.addRouteLocked(route{prefix: bytes.Clone(prefix), l: l})
	m.lns = append(m.lns, l)
	if m.closed {
		l.Close()
	}
	return l
}

// Handle registers h for the connections whose first bytes start with prefix. The prefix is
// consumed: the connection h gets reads from the byte right after it. h runs in the
// goroutine that classified the connection and owns the connection from then on; the Mux
// does not wait for it. Handle panics if h is nil, or if prefix is empty or overlaps a
// registered prefix.
func (m *Mux) Handle(prefix []byte, h func(net.Conn)) {
	if h == nil {
		panic("connmux: Handle with nil handler")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.addRouteLocked(route{prefix: bytes.Clone(prefix), h: h})
}

func (m *Mux) addRouteLocked(r route) {
	if len(r.prefix) == 0 {
		panic("connmux: empty prefix")
	}
	for _, o := range m.routes {
		if bytes.HasPrefix(r.prefix, o.prefix) || bytes.HasPrefix(o.prefix, r.prefix) {
			panic(fmt.Sprintf("connmux: prefix %q overlaps registered prefix %q", r.prefix, o.prefix))
		}
	}
	m.routes = append(slices.Clip(m.routes), r)
}

// Default returns the listener for the connections that match no registered prefix. Like
// Match's listeners, its connections replay the bytes the Mux read.
func (m *Mux) Default() net.Listener { return m.def }

// Serve accepts connections on the underlying listener until it is closed, and classifies
// each in a goroutine of its own. Temporary accept errors are retried after a short backoff.
// Serve returns nil once the listener is closed (by Close or otherwise), or the first
// permanent accept error; either way the Mux is closed when Serve returns.
func (m *Mux) Serve() error {
	defer m.Close()
	var delay time.Duration
	for {
		c, err := m.ln.Accept()
		if err != nil {
			if m.isClosed() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			if !isTemporary(err) {
				return err
			}
			delay = min(max(2*delay, minAcceptDelay), maxAcceptDelay)
			m.log.Warn("connmux: accept error; retrying", "err", err, "delay", delay)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-m.done:
				t.Stop()
				return nil
			}
			continue
		}
		delay = 0
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			c.Close()
			return nil
		}
		routes := m.routes
		m.pending[c] = struct{}{}
		m.wg.Add(1)
		m.mu.Unlock()
		go m.serveConn(c, routes)
	}
}

// Close closes the underlying listener and every sub-listener (their Accept returns an error
// wrapping net.ErrClosed), closes the connections still being classified or waiting for
// Accept, and waits for the goroutines the Mux started, except Handle callbacks already
// called. Close is idempotent; every call returns the result of the first.
func (m *Mux) Close() error {
	m.closeOnce.Do(func() {
		m.mu.Lock()
		m.closed = true
		close(m.done)
		for c := range m.pending {
			c.Close() // its classifying goroutine's read fails now
		}
		lns := m.lns
		m.mu.Unlock()

		if err := m.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			m.closeErr = err
		}
		for _, l := range lns {
			l.Close()
		}
		m.wg.Wait()
		for _, l := range lns {
			l.drain() // nothing sends any more
		}
	})
	return m.closeErr
}

func (m *Mux) isClosed() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// serveConn classifies c and hands it on, or drops it.
func (m *Mux) serveConn(c net.Conn, routes []route) {
	r, out, err := m.classifyConn(c, routes)
	if !m.release(c) {
		c.Close() // Close already closed it; it may even have classified meanwhile
		m.wg.Done()
		return
	}
	if err != nil {
		m.log.Debug("connmux: dropping unclassified connection", "remote", c.RemoteAddr(), "err", err)
		c.Close()
		m.wg.Done()
		return
	}
	if r.h != nil {
		m.wg.Done()
		r.h(out)
		return
	}
	m.deliver(r.l, out)
	m.wg.Done()
}

// classifyConn reads c's first bytes, incrementally, until they match a route's prefix or
// rule out every prefix, and returns the route (Default's for the latter) with the
// connection to hand it. It reads no more bytes than the longest prefix still possible.
func (m *Mux) classifyConn(c net.Conn, routes []route) (route, net.Conn, error) {
	if err := c.SetReadDeadline(time.Now().Add(m.timeout)); err != nil {
		return route{}, nil, err
	}
	prefixes := make([][]byte, len(routes))
	maxLen := 0
	for i, r := range routes {
		prefixes[i] = r.prefix
		maxLen = max(maxLen, len(r.prefix))
	}
	buf := make([]byte, 0, maxLen)
	var readErr error
	for {
		idx, need := classify(prefixes, buf)
		if need == 0 {
			if err := c.SetReadDeadline(time.Time{}); err != nil {
				return route{}, nil, err
			}
			if idx < 0 {
				return route{l: m.def}, replay(c, buf), nil
			}
			r := routes[idx]
			if r.h != nil {
				return r, replay(c, buf[len(r.prefix):]), nil
			}
			return r, replay(c, buf), nil
		}
		if readErr != nil {
			return route{}, nil, fmt.Errorf("reading first bytes (got %q): %w", buf, readErr)
		}
		var n int
		n, readErr = c.Read(buf[len(buf) : len(buf)+need])
		buf = buf[:len(buf)+n]
		if n > 0 && m.testHookPeek != nil {
			m.testHookPeek(slices.Clone(buf))
		}
	}
}

// release ends c's classification; it reports false if the Mux was closed meanwhile.
func (m *Mux) release(c net.Conn) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pending, c)
	return !m.closed
}

// deliver queues c for l's Accept. If l's backlog stays full for the read timeout, or l is
// closed, c is closed instead.
func (m *Mux) deliver(l *listener, c net.Conn) {
	select {
	case l.ch <- c:
	default:
		t := time.NewTimer(m.timeout)
		defer t.Stop()
		select {
		case l.ch <- c:
		case <-l.done:
			c.Close()
			return
		case <-t.C:
			m.log.Warn("connmux: accept backlog full; dropping connection",
				"remote", c.RemoteAddr(), "waited", m.timeout)
			c.Close()
			return
		}
	}
	if l.isClosed() {
		// l was closed around the send; its Close may have drained before c arrived.
		l.drain()
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}
