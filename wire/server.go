package wire

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config configures a Server.
type Config struct {
	// NewBackend starts the SQL session of an authenticated connection. database is "defaultdb"
	// when the client named none (PostgreSQL would use the user name, which makes no sense for a
	// database whose users do not own databases). params are all startup parameters. Its error
	// is sent to the client as a FATAL ErrorResponse and the connection is closed.
	NewBackend func(ctx context.Context, user, database string, params map[string]string) (Backend, error)
	// Auth decides whether users must send a password; nil trusts everyone. It may also be a
	// SCRAMAuthenticator or a CertAuthenticator.
	Auth Authenticator
	// TLS, when set, is the server side of the TLS a client asks for with SSLRequest; nil
	// answers SSLRequest with 'N' and the client goes on in plain text or gives up. Client
	// certificates it verifies (ClientAuth VerifyClientCertIfGiven, ClientCAs) are offered to
	// a CertAuthenticator.
	TLS *tls.Config
	// RequireTLS refuses sessions that did not upgrade to TLS (28000).
	RequireTLS bool
	// Logger receives session failures; nil means slog.Default().
	Logger *slog.Logger
	// ServerVersion is reported as the server_version parameter. Drivers parse its leading
	// number to decide which features to use, so it should start with a PostgreSQL version.
	// Default "16.0 (Meridian)".
	ServerVersion string
	// MaxMessageSize bounds the body of one frontend message; a larger message ends the session
	// with a protocol violation before its body is read. Default 64 MiB.
	MaxMessageSize int
}

const (
	defaultServerVersion  = "16.0 (Meridian)"
	defaultMaxMessageSize = 64 << 20
	defaultDatabase       = "defaultdb"
	// tlsHandshakeTimeout bounds the TLS handshake, so that a client that asks for TLS and
	// then stalls does not hold a session forever.
	tlsHandshakeTimeout = 10 * time.Second
	// defaultShutdownGrace is how long Close lets sessions whose running query it cancelled
	// report the cancellation themselves before their connections are cut.
	defaultShutdownGrace = 5 * time.Second
)

// Server serves the PostgreSQL v3 protocol. Its methods are safe for concurrent use.
type Server struct {
	cfg   Config
	log   *slog.Logger
	grace time.Duration

	mu       sync.Mutex
	closed   bool
	lns      map[net.Listener]struct{}
	sessions map[*session]struct{} // every live connection, handshake included
	byPID    map[uint32]*session   // sessions that have sent BackendKeyData, for cancel requests
	wg       sync.WaitGroup        // one count per live session goroutine

	stats serverStats
}

// Stats are counts of what a Server's sessions did since it started.
type Stats struct {
	// Connections is the number of live client connections.
	Connections int
	// Statements counts the statements clients ran: each Query message (which may hold
	// several) and each Execute of a portal.
	Statements int64
	// Errors counts the errors sent to clients, by SQLSTATE.
	Errors map[string]int64
}

type serverStats struct {
	statements atomic.Int64
	mu         sync.Mutex
	errors     map[string]int64
}

func (st *serverStats) countError(code string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.errors == nil {
		st.errors = map[string]int64{}
	}
	st.errors[code]++
}

// Stats returns the server's counts so far.
func (s *Server) Stats() Stats {
	st := Stats{Connections: s.NumConnections(), Statements: s.stats.statements.Load(), Errors: map[string]int64{}}
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	for code, n := range s.stats.errors {
		st.Errors[code] = n
	}
	return st
}

// NewServer returns a Server with cfg's defaults filled in. cfg.NewBackend is required.
func NewServer(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ServerVersion == "" {
		cfg.ServerVersion = defaultServerVersion
	}
	if cfg.MaxMessageSize <= 0 {
		cfg.MaxMessageSize = defaultMaxMessageSize
	}
	if cfg.TLS != nil {
		cfg.TLS = cfg.TLS.Clone()
		if len(cfg.TLS.NextProtos) == 0 {
			// libpq 17 and newer offer ALPN "postgresql" and expect it back.
			cfg.TLS.NextProtos = []string{"postgresql"}
		}
	}
	return &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		grace:    defaultShutdownGrace,
		lns:      map[net.Listener]struct{}{},
		sessions: map[*session]struct{}{},
		byPID:    map[uint32]*session{},
	}
}

// Serve accepts connections on ln and serves each on its own goroutine until ctx is done or
// the server is closed; either way it closes ln and returns nil. Sessions started under ctx end
// when ctx is done. It returns net.ErrClosed if the server was already closed, and any other
// accept error that retrying cannot fix.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.lns[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.lns, ln)
		s.mu.Unlock()
	}()
	// Accept does not take a context; closing the listener is the only way to interrupt it.
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()

	var backoff time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if s.isClosed() || ctx.Err() != nil {
				return nil
			}
			if !retryableAccept(err) {
				return err
			}
			// Running out of file descriptors passes once sessions end; spinning would not help.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("wire: accept failed, retrying", "err", err, "delay", backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil
			}
			continue
		}
		backoff = 0
		ss, ok := s.track(conn)
		if !ok {
			conn.Close()
			return nil
		}
		go func() {
			defer s.wg.Done()
			s.run(ctx, ss)
		}()
	}
}

func retryableAccept(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENOBUFS)
}

// ServeConn runs one client connection to completion and closes it. A server that is already
// closed just closes conn. The session ends early when ctx is done, as on Close.
func (s *Server) ServeConn(ctx context.Context, conn net.Conn) {
	ss, ok := s.track(conn)
	if !ok {
		conn.Close()
		return
	}
	defer s.wg.Done()
	s.run(ctx, ss)
}

// track registers a new connection and counts its goroutine in wg. Doing both under mu, and
// refusing once closed is set, guarantees Close's wg.Wait sees every session.
func (s *Server) track(conn net.Conn) (*session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false
	}
	ss := newSession(s, conn)
	s.sessions[ss] = struct{}{}
	s.wg.Add(1)
	return ss, true
}

func (s *Server) run(ctx context.Context, ss *session) {
	defer func() {
		ss.conn.Close()
		s.mu.Lock()
		delete(s.sessions, ss)
		if s.byPID[ss.pid] == ss {
			delete(s.byPID, ss.pid)
		}
		s.mu.Unlock()
	}()
	stop := context.AfterFunc(ctx, func() {
		if ss.shutdown() {
			ss.conn.Close()
		}
	})
	defer stop()
	ss.serve(ctx)
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// NumConnections is the number of client connections being served, handshakes included.
func (s *Server) NumConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Close stops accepting, tells idle sessions the server is going away (FATAL 57P01), cancels
// running queries (whose sessions then end with 57P01), closes every connection and waits for
// the session goroutines. A backend call that ignores its context delays Close until it returns.
// Close is idempotent and always returns nil; the error is there for io.Closer.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	lns := make([]net.Listener, 0, len(s.lns))
	for ln := range s.lns {
		lns = append(lns, ln)
	}
	sessions := s.liveSessions()
	s.mu.Unlock()

	for _, ln := range lns {
		ln.Close()
	}
	for _, ss := range sessions {
		if ss.shutdown() {
			ss.conn.Close()
		}
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	timer := time.NewTimer(s.grace)
	defer timer.Stop()
	select {
	case <-done:
		return nil
	case <-timer.C:
	}
	// Cut whatever is still running: its client may have stopped reading, leaving the
	// session blocked in a write.
	s.mu.Lock()
	sessions = s.liveSessions()
	s.mu.Unlock()
	for _, ss := range sessions {
		ss.conn.Close()
	}
	<-done
	return nil
}

// liveSessions lists the sessions; mu must be held.
func (s *Server) liveSessions() []*session {
	out := make([]*session, 0, len(s.sessions))
	for ss := range s.sessions {
		out = append(out, ss)
	}
	return out
}

// ProcessIDSetter is implemented by a Backend that wants to know the process ID its client
// was given in BackendKeyData.
type ProcessIDSetter interface {
	SetProcessID(pid uint32)
}

// register gives ss a random process ID and secret key for BackendKeyData. They are random,
// not sequential, because the pair is the only credential a CancelRequest carries.
func (s *Server) register(ss *session) {
	var b [8]byte
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		rand.Read(b[:]) // crypto/rand.Read never fails (it crashes the program instead)
		// Keep the pid positive: drivers often hold it in an int32.
		pid := binary.BigEndian.Uint32(b[:4]) & 0x7fffffff
		if pid == 0 || s.byPID[pid] != nil {
			continue
		}
		ss.pid = pid
		copy(ss.secret[:], b[4:])
		s.byPID[pid] = ss
		return
	}
}

// cancelRequest cancels the running query of the session with that key; a wrong key is ignored
// silently, as in PostgreSQL, so that probing for keys learns nothing.
func (s *Server) cancelRequest(pid uint32, secret []byte) {
	s.mu.Lock()
	ss := s.byPID[pid]
	s.mu.Unlock()
	if ss == nil || subtle.ConstantTimeCompare(secret, ss.secret[:]) != 1 {
		return
	}
	ss.cancelQuery(errCanceled)
}
