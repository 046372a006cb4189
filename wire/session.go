package wire

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/wire/scram"
)

// Startup-phase request codes, sent where a StartupMessage carries its protocol version.
const (
	sslRequestCode       = 80877103
	gssEncRequestCode    = 80877104
	cancelRequestCode    = 80877102
	maxStartupPacketSize = 10000 // PostgreSQL's MAX_STARTUP_PACKET_LENGTH
)

// SQLSTATEs the wire layer raises itself that sql/pgerror has no constant for.
const (
	codeDuplicatePreparedStatement = "42P05"
	codeInvalidSQLStatementName    = "26000"
	codeConnectionFailure          = "08006"
)

var (
	// Causes of a query context's cancellation, telling the error report which one happened.
	errCanceled = errors.New("query canceled by a cancel request")
	errShutdown = errors.New("server shutting down")

	errAdminShutdown = pgerror.New(pgerror.CodeAdminShutdown, "terminating connection due to administrator command")
	errQueryCanceled = pgerror.New(pgerror.CodeQueryCanceled, "canceling statement due to user request")
)

// sessionState tells Close what it may do to a session without racing the session's goroutine.
type sessionState int

const (
	stateStartup sessionState = iota // handshake: nothing to tell the client, just cut it
	stateIdle                        // waiting for a message with nothing unsent: Close writes the FATAL itself
	stateBusy                        // handling messages: Close cancels the query, the session reports
)

// session is one client connection. Everything except the fields under mu belongs to the
// session's goroutine.
type session struct {
	srv  *Server
	conn net.Conn // the client's connection, which closing ends the session
	rd   *connReader
	be   *pgproto3.Backend
	// tls is the state of the TLS the session upgraded to, nil in plain text.
	tls *tls.ConnectionState

	pid    uint32
	secret [4]byte

	mu sync.Mutex
	// stream carries the protocol: conn, or the TLS connection over it. Close writes to it
	// (shutdown), so it changes only under mu.
	stream   net.Conn
	state    sessionState
	shutting bool
	cancel   context.CancelCauseFunc // cancels the running query; nil between queries

	backend Backend
	stmts   map[string]PreparedStatement
	portals map[string]boundPortal
	// skipping: an extended-protocol message failed, so messages are discarded until Sync.
	skipping bool
	// done: the session must end once the current message is handled.
	done bool
	// werr is the first failure writing to the client; after it nothing more is sent.
	werr error
	// pending counts bytes sent since the last flush, to bound the output buffer.
	pending int
}

// boundPortal remembers which statement a portal came from, because closing a statement
// closes its portals.
type boundPortal struct {
	Portal
	stmt string
}

func newSession(s *Server, conn net.Conn) *session {
	rd := &connReader{r: conn}
	be := pgproto3.NewBackend(rd, conn)
	be.SetMaxBodyLen(s.cfg.MaxMessageSize)
	return &session{
		srv: s, conn: conn, stream: conn, rd: rd, be: be,
		stmts: map[string]PreparedStatement{}, portals: map[string]boundPortal{},
	}
}

// connReader remembers the connection's read error, because pgproto3 reports a connection
// that went away and a message that does not decode with similar errors (both can be EOFs),
// and only the second deserves a protocol-violation reply.
type connReader struct {
	r   io.Reader
	err error
}

func (c *connReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

// serve runs the session: handshake, then messages until the client leaves or fails. A panic
// anywhere below, most likely in the Backend, ends only this session.
func (ss *session) serve(ctx context.Context) {
	defer ss.release()
	defer func() {
		if p := recover(); p != nil {
			ss.srv.log.Error("wire: panic in session", "panic", p, "remote", ss.remoteAddr(), "stack", string(debug.Stack()))
			ss.sendFatal(pgerror.New(pgerror.CodeInternalError, "internal error: %v", p))
		}
	}()
	params, ok := ss.handshake()
	if !ok {
		return
	}
	if !ss.begin(ctx, params) {
		return
	}
	ss.loop(ctx)
}

func (ss *session) remoteAddr() string {
	if a := ss.conn.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}

// release closes the session's portals, statements and backend. Each Close is guarded on its
// own: after a panic the backend may well panic again, and the rest must still be released.
func (ss *session) release() {
	if ss.backend == nil {
		return
	}
	for _, p := range ss.portals {
		ss.guard("Portal.Close", p.Close)
	}
	for _, st := range ss.stmts {
		ss.guard("PreparedStatement.Close", st.Close)
	}
	clear(ss.portals)
	clear(ss.stmts)
	ss.guard("AnswerSent", ss.answerSent)
	ss.guard("Backend.Close", ss.backend.Close)
}

func (ss *session) guard(what string, fn func()) {
	defer func() {
		if p := recover(); p != nil {
			ss.srv.log.Error("wire: panic in "+what, "panic", p, "remote", ss.remoteAddr(), "stack", string(debug.Stack()))
		}
	}()
	fn()
}

// handshake reads startup-phase packets until a StartupMessage, answering encryption requests
// and serving a cancel request. It reports false when the connection is done.
func (ss *session) handshake() (map[string]string, bool) {
	for {
		body, err := ss.readStartupPacket()
		if err != nil {
			ss.readFailed(err)
			return nil, false
		}
		code := binary.BigEndian.Uint32(body)
		switch {
		case code == sslRequestCode || code == gssEncRequestCode:
			if len(body) != 4 {
				ss.sendFatal(protocolViolation("invalid length of encryption request packet"))
				return nil, false
			}
			if ss.tls != nil {
				ss.sendFatal(protocolViolation("encryption request on an encrypted connection"))
				return nil, false
			}
			if code == sslRequestCode && ss.srv.cfg.TLS != nil {
				if !ss.upgradeTLS() {
					return nil, false
				}
				continue
			}
			// No TLS configured, and no GSS encryption ever: refuse, and the client may go on
			// in plain text on this same connection (or give up, if it requires encryption).
			if _, err := ss.conn.Write([]byte{'N'}); err != nil {
				return nil, false
			}
		case code == cancelRequestCode:
			var req pgproto3.CancelRequest
			if err := req.Decode(body); err == nil {
				ss.srv.cancelRequest(req.ProcessID, req.SecretKey)
			}
			// A cancel connection gets no reply either way.
			return nil, false
		case code>>16 == 3:
			if ss.srv.cfg.RequireTLS && ss.tls == nil {
				ss.sendFatal(pgerror.New(pgerror.CodeInvalidAuthorization, "this server accepts only encrypted connections").
					WithHint("Connect with TLS (sslmode=require, verify-ca or verify-full)."))
				return nil, false
			}
			return ss.startupParams(code, body[4:])
		default:
			ss.sendFatal(protocolViolation("unsupported frontend protocol %d.%d: server supports 3.0 to 3.0", code>>16, code&0xffff))
			return nil, false
		}
	}
}

// upgradeTLS accepts an SSLRequest and runs the TLS handshake; the rest of the session
// speaks through TLS. It reports false when the connection is done.
func (ss *session) upgradeTLS() bool {
	if _, err := ss.conn.Write([]byte{'S'}); err != nil {
		return false
	}
	// Nothing the client sent after the SSLRequest has been read: readStartupPacket reads
	// exactly one packet, so plain-text bytes injected ahead of the handshake cannot be
	// taken for encrypted ones; they fail the handshake instead.
	tc := tls.Server(ss.conn, ss.srv.cfg.TLS)
	ss.conn.SetDeadline(time.Now().Add(tlsHandshakeTimeout))
	if err := tc.Handshake(); err != nil {
		ss.srv.log.Info("wire: TLS handshake failed", "remote", ss.remoteAddr(), "err", err)
		return false
	}
	ss.conn.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	ss.tls = &st
	ss.rd = &connReader{r: tc}
	ss.be = pgproto3.NewBackend(ss.rd, tc)
	ss.be.SetMaxBodyLen(ss.srv.cfg.MaxMessageSize)
	ss.mu.Lock()
	ss.stream = tc
	ss.mu.Unlock()
	return true
}

// readStartupPacket reads one length-prefixed, untyped startup-phase packet and returns its
// body, which starts with the request code.
func (ss *session) readStartupPacket() ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(ss.rd, hdr[:]); err != nil {
		return nil, err
	}
	n := int64(int32(binary.BigEndian.Uint32(hdr[:]))) - 4
	if n < 4 || n > maxStartupPacketSize {
		return nil, protocolViolation("invalid length of startup packet: %d", n+4)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(ss.rd, body); err != nil {
		return nil, err
	}
	return body, nil
}

// startupParams decodes a v3 StartupMessage's parameters. A newer 3.x minor version or
// protocol options (_pq_.*) are answered, as PostgreSQL does, with NegotiateProtocolVersion:
// the client then carries on with 3.0 or disconnects.
func (ss *session) startupParams(version uint32, b []byte) (map[string]string, bool) {
	params := map[string]string{}
	var unknownOpts []string
	for {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			ss.sendFatal(protocolViolation("invalid startup packet layout: expected terminator as last byte"))
			return nil, false
		}
		if i == 0 {
			if len(b) != 1 {
				ss.sendFatal(protocolViolation("invalid startup packet layout: data after terminator"))
				return nil, false
			}
			break
		}
		name := string(b[:i])
		b = b[i+1:]
		j := bytes.IndexByte(b, 0)
		if j < 0 {
			ss.sendFatal(protocolViolation("invalid startup packet layout: missing value for parameter %q", name))
			return nil, false
		}
		if strings.HasPrefix(name, "_pq_.") {
			unknownOpts = append(unknownOpts, name)
		} else {
			params[name] = string(b[:j])
		}
		b = b[j+1:]
	}
	if version != pgproto3.ProtocolVersion30 || len(unknownOpts) > 0 {
		ss.be.Send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0, UnrecognizedOptions: unknownOpts})
	}
	return params, true
}

// begin authenticates the user, starts the backend and sends the session's parameters. It
// reports false when the session is over.
func (ss *session) begin(ctx context.Context, params map[string]string) bool {
	user := params["user"]
	if user == "" {
		ss.sendFatal(pgerror.New(pgerror.CodeInvalidAuthorization, "no PostgreSQL user name specified in startup packet"))
		return false
	}
	if !ss.authenticate(ctx, user) {
		return false
	}
	database := params["database"]
	if database == "" {
		database = defaultDatabase
	}
	backend, err := ss.srv.cfg.NewBackend(ctx, user, database, maps.Clone(params))
	if err != nil {
		ss.sendFatal(err)
		return false
	}
	if backend == nil {
		ss.sendFatal(pgerror.New(pgerror.CodeInternalError, "internal error: no backend for the session"))
		return false
	}
	ss.backend = backend
	ss.srv.register(ss)
	if p, ok := backend.(ProcessIDSetter); ok {
		p.SetProcessID(ss.pid) // for pg_backend_pid(), which must match BackendKeyData
	}

	// Once the client may have read ReadyForQuery it expects to be told why it is dropped:
	// a busy session is left to report the shutdown itself rather than being cut.
	if !ss.setState(stateBusy) {
		return false // Close came first and has cut the connection
	}
	ss.be.Send(&pgproto3.AuthenticationOk{})
	for _, p := range ss.startupParameters(backend, user, params) {
		ss.be.Send(&pgproto3.ParameterStatus{Name: p.Name, Value: p.Value})
	}
	ss.be.Send(&pgproto3.BackendKeyData{ProcessID: ss.pid, SecretKey: ss.secret[:]})
	return !ss.ready()
}

// startupParameters are the parameters reported after authentication: the server's own
// (server_version, server_encoding), then the backend's when it is a ParameterReporter, or
// else the fixed values of a session that cannot change them.
func (ss *session) startupParameters(b Backend, user string, params map[string]string) []Parameter {
	own := []Parameter{{"server_version", ss.srv.cfg.ServerVersion}, {"server_encoding", "UTF8"}}
	var rest []Parameter
	if r, ok := b.(ParameterReporter); ok {
		rest = r.StartupParameters()
	} else {
		rest = []Parameter{
			{"client_encoding", "UTF8"},
			{"DateStyle", "ISO, MDY"},
			{"TimeZone", "UTC"},
			{"integer_datetimes", "on"},
			{"standard_conforming_strings", "on"},
			{"IntervalStyle", "postgres"},
			{"is_superuser", superuser(b)},
			{"session_authorization", user},
			{"application_name", params["application_name"]},
		}
	}
	out := make([]Parameter, 0, len(own)+len(rest))
	for _, p := range own {
		if !slices.ContainsFunc(rest, func(q Parameter) bool { return q.Name == p.Name }) {
			out = append(out, p)
		}
	}
	return append(out, rest...)
}

// superuser is the is_superuser parameter of a session.
func superuser(b Backend) string {
	if r, ok := b.(SuperuserReporter); ok && !r.Superuser() {
		return "off"
	}
	return "on"
}

// authenticate establishes who the client is: by its TLS client certificate, by trust, or by a
// password exchange (SCRAM-SHA-256 when the Authenticator keeps verifiers, else cleartext).
func (ss *session) authenticate(ctx context.Context, user string) bool {
	auth := ss.srv.cfg.Auth
	if auth == nil {
		return true
	}
	if ca, ok := auth.(CertAuthenticator); ok && ss.tls != nil && len(ss.tls.VerifiedChains) > 0 {
		accepted, err := ca.CertificateLogin(ctx, user, ss.tls.VerifiedChains[0][0])
		if err != nil {
			ss.authError(err)
			return false
		}
		if accepted {
			return true
		}
	}
	required, err := auth.PasswordRequired(ctx, user)
	if err != nil {
		ss.authError(err)
		return false
	}
	if !required {
		return true
	}
	if sa, ok := auth.(SCRAMAuthenticator); ok {
		return ss.scram(ctx, sa, user)
	}
	ss.be.Send(&pgproto3.AuthenticationCleartextPassword{})
	if ss.flush() != nil {
		return false
	}
	// 'p' messages are decoded according to the authentication method in progress.
	ss.setAuthType(pgproto3.AuthTypeCleartextPassword)
	msg, ok := ss.receiveAuth("password")
	if !ok {
		return false
	}
	pw, ok := msg.(*pgproto3.PasswordMessage)
	if !ok {
		ss.sendFatal(protocolViolation("expected password response, got %s message", messageName(msg)))
		return false
	}
	if err := auth.CheckPassword(ctx, user, pw.Password); err != nil {
		ss.passwordFailed(user, err)
		return false
	}
	return true
}

// scram runs a SCRAM-SHA-256 exchange: AuthenticationSASL offers the mechanism, the
// client's SASLInitialResponse and SASLResponse carry its two messages, and
// AuthenticationSASLContinue and AuthenticationSASLFinal the server's.
func (ss *session) scram(ctx context.Context, sa SCRAMAuthenticator, user string) bool {
	v, real, err := sa.SCRAMVerifier(ctx, user)
	if err != nil {
		ss.authError(err)
		return false
	}
	ss.be.Send(&pgproto3.AuthenticationSASL{AuthMechanisms: []string{scram.Mechanism}})
	if ss.flush() != nil {
		return false
	}
	ss.setAuthType(pgproto3.AuthTypeSASL)
	msg, ok := ss.receiveAuth("SASL")
	if !ok {
		return false
	}
	initial, ok := msg.(*pgproto3.SASLInitialResponse)
	if !ok {
		ss.sendFatal(protocolViolation("expected SASL response, got %s message", messageName(msg)))
		return false
	}
	if initial.AuthMechanism != scram.Mechanism {
		ss.sendFatal(protocolViolation("client selected an invalid SASL authentication mechanism"))
		return false
	}
	ex := scram.NewExchange(v, real)
	serverFirst, err := ex.First(initial.Data)
	if err != nil {
		ss.scramFailed(user, err)
		return false
	}
	ss.be.Send(&pgproto3.AuthenticationSASLContinue{Data: serverFirst})
	if ss.flush() != nil {
		return false
	}
	ss.setAuthType(pgproto3.AuthTypeSASLContinue)
	if msg, ok = ss.receiveAuth("SASL"); !ok {
		return false
	}
	resp, ok := msg.(*pgproto3.SASLResponse)
	if !ok {
		ss.sendFatal(protocolViolation("expected SASL response, got %s message", messageName(msg)))
		return false
	}
	serverFinal, err := ex.Final(resp.Data)
	if err != nil {
		ss.scramFailed(user, err)
		return false
	}
	ss.be.Send(&pgproto3.AuthenticationSASLFinal{Data: serverFinal})
	// From here on a 'p' message is no authentication response.
	ss.setAuthType(pgproto3.AuthTypeOk)
	return true
}

func (ss *session) setAuthType(t uint32) {
	if err := ss.be.SetAuthType(t); err != nil {
		panic(err) // a constant pgproto3 knows; failing here is a programming error
	}
}

// receiveAuth reads the client's answer to an authentication request. A client that gives up
// (Terminate, or closing the connection) ends the session quietly.
func (ss *session) receiveAuth(what string) (pgproto3.FrontendMessage, bool) {
	msg, err := ss.be.Receive()
	if err != nil {
		ss.readFailed(err)
		return nil, false
	}
	if _, ok := msg.(*pgproto3.Terminate); ok {
		ss.srv.log.Debug("wire: client gave up during "+what+" authentication", "remote", ss.remoteAddr())
		return nil, false
	}
	return msg, true
}

// scramFailed ends the session after a failed SCRAM exchange: a malformed message is a
// protocol violation, a wrong proof (or a user without a verifier) a failed password.
func (ss *session) scramFailed(user string, err error) {
	var me *scram.MalformedError
	if errors.As(err, &me) {
		ss.srv.log.Info("wire: malformed SCRAM message", "user", user, "remote", ss.remoteAddr(), "err", err)
		ss.sendFatal(protocolViolation("malformed SCRAM message").WithDetail(me.Detail))
		return
	}
	ss.passwordFailed(user, err)
}

// passwordFailed ends the session with PostgreSQL's 28P01, which says nothing about why; the
// log does.
func (ss *session) passwordFailed(user string, err error) {
	ss.srv.log.Info("wire: password authentication failed", "user", user, "remote", ss.remoteAddr(), "err", err)
	ss.sendFatal(pgerror.New(pgerror.CodeInvalidPassword, "password authentication failed for user %q", user))
}

// authError ends the session after the Authenticator itself failed.
func (ss *session) authError(err error) {
	var pe *pgerror.Error
	if !errors.As(err, &pe) {
		err = pgerror.New(pgerror.CodeInvalidAuthorization, "%v", err)
	}
	ss.sendFatal(err)
}

// loop handles frontend messages until the session ends.
func (ss *session) loop(ctx context.Context) {
	for !ss.done {
		if !ss.setState(stateIdle) {
			ss.sendFatal(errAdminShutdown)
			return
		}
		msg, err := ss.be.Receive()
		if !ss.setState(stateBusy) {
			return // Close found the session idle and has told the client already
		}
		if err != nil {
			ss.readFailed(err)
			return
		}
		if ss.skipping {
			// After an error, PostgreSQL ignores the rest of the batch up to its Sync.
			switch msg.(type) {
			case *pgproto3.Sync, *pgproto3.Terminate:
			default:
				continue
			}
		}
		ss.handle(ctx, msg)
	}
}

// setState moves between idle and busy. It reports false if the server is shutting down.
func (ss *session) setState(st sessionState) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.state = st
	return !ss.shutting
}

// shutdown tells the session the server is going away and reports whether its connection may
// be closed at once. An idle session is sent the FATAL here, as its goroutine is blocked
// reading; a busy one has its query cancelled and reports itself.
func (ss *session) shutdown() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	first := !ss.shutting
	ss.shutting = true
	switch ss.state {
	case stateStartup:
		return true
	case stateIdle:
		if first {
			// The session goroutine writes nothing while idle, so this cannot interleave with
			// its output; the deadline keeps a client that does not read from stalling Close.
			buf, err := errorResponse(errAdminShutdown, "FATAL").Encode(nil)
			if err == nil {
				ss.stream.SetWriteDeadline(time.Now().Add(time.Second))
				ss.stream.Write(buf)
			}
		}
		return true
	default:
		if ss.cancel != nil {
			ss.cancel(errShutdown)
		}
		return false
	}
}

// cancelQuery cancels the running query, if any, with cause.
func (ss *session) cancelQuery(cause error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.cancel != nil {
		ss.cancel(cause)
	}
}

// query runs one backend call with a context that a cancel request or a shutdown cancels, and
// turns the error of a call so cancelled into the error PostgreSQL reports for it.
func (ss *session) query(ctx context.Context, fn func(context.Context) error) error {
	qctx, cancel := context.WithCancelCause(ctx)
	ss.mu.Lock()
	ss.cancel = cancel
	if ss.shutting {
		cancel(errShutdown)
	}
	ss.mu.Unlock()
	defer func() {
		ss.mu.Lock()
		ss.cancel = nil
		ss.mu.Unlock()
		cancel(nil)
	}()
	err := fn(qctx)
	if err == nil {
		return nil
	}
	switch cause := context.Cause(qctx); {
	case errors.Is(cause, errCanceled):
		return errQueryCanceled
	case errors.Is(cause, errShutdown) || ctx.Err() != nil:
		return errAdminShutdown
	}
	return err
}

// handle answers one message.
func (ss *session) handle(ctx context.Context, msg pgproto3.FrontendMessage) {
	switch m := msg.(type) {
	case *pgproto3.Query:
		ss.srv.stats.statements.Add(1)
		ss.simpleQuery(ctx, m.String)
	case *pgproto3.Parse:
		ss.parse(ctx, m)
	case *pgproto3.Bind:
		ss.bind(ctx, m)
	case *pgproto3.Describe:
		ss.describe(m)
	case *pgproto3.Execute:
		ss.srv.stats.statements.Add(1)
		ss.execute(ctx, m)
	case *pgproto3.Close:
		ss.closeObject(m)
	case *pgproto3.Sync:
		ss.sync(ctx)
	case *pgproto3.Flush:
		ss.flush()
	case *pgproto3.Terminate:
		ss.done = true
	case *pgproto3.CopyData, *pgproto3.CopyDone, *pgproto3.CopyFail:
		// The rest of a COPY FROM STDIN that failed: the error has been reported, and the
		// protocol says to drop what the client sent before it noticed.
	case *pgproto3.FunctionCall:
		// A valid message of the protocol that Meridian has no functions for; it is its own
		// query cycle, so it ends with ReadyForQuery.
		ss.reportError(pgerror.New(pgerror.CodeFeatureNotSupported, "function call protocol is not supported"))
		ss.ready()
	default:
		ss.sendFatal(protocolViolation("unexpected %s message", messageName(msg)))
	}
}

func (ss *session) simpleQuery(ctx context.Context, sql string) {
	// As in PostgreSQL, a simple query replaces the unnamed statement and portal.
	ss.dropStatement("")
	ss.dropPortal("")
	w := &resultWriter{ss: ss}
	err := ss.query(ctx, func(qctx context.Context) error { return ss.backend.SimpleQuery(qctx, sql, w) })
	if w.copyInFailed() {
		return
	}
	if err != nil {
		ss.reportError(err)
	}
	ss.endOfTransaction()
	ss.ready()
}

// copyInFailed reports whether the connection failed during a COPY FROM STDIN of the
// statement w wrote the results of, in which case the session is over.
func (w *resultWriter) copyInFailed() bool {
	if w.copyIn == nil || w.copyIn.readErr == nil {
		return false
	}
	w.ss.readFailed(w.copyIn.readErr)
	w.ss.done = true
	return true
}

func (ss *session) parse(ctx context.Context, m *pgproto3.Parse) {
	if _, exists := ss.stmts[m.Name]; exists && m.Name != "" {
		ss.extendedError(pgerror.New(codeDuplicatePreparedStatement, "prepared statement %q already exists", m.Name))
		return
	}
	sql, oids := m.Query, slices.Clone(m.ParameterOIDs)
	var st PreparedStatement
	err := ss.query(ctx, func(qctx context.Context) error {
		var err error
		st, err = ss.backend.Prepare(qctx, sql, oids)
		return err
	})
	if err == nil && st == nil {
		err = pgerror.New(pgerror.CodeInternalError, "internal error: no prepared statement")
	}
	if err != nil {
		ss.extendedError(err)
		return
	}
	// The unnamed statement's portals stay usable, as in PostgreSQL: a driver may still be
	// fetching from a portal while it runs other statements.
	ss.dropStatement(m.Name)
	ss.stmts[m.Name] = st
	ss.be.Send(&pgproto3.ParseComplete{})
}

func (ss *session) bind(ctx context.Context, m *pgproto3.Bind) {
	st, ok := ss.stmts[m.PreparedStatement]
	if !ok {
		ss.extendedError(pgerror.New(codeInvalidSQLStatementName, "prepared statement %q does not exist", m.PreparedStatement))
		return
	}
	// Check the counts here so a backend can index parameters and formats without checking.
	n := len(m.Parameters)
	if f := len(m.ParameterFormatCodes); f > 1 && f != n {
		ss.extendedError(protocolViolation("bind message has %d parameter formats but %d parameters", f, n))
		return
	}
	if want := len(st.ParamOIDs()); n != want {
		ss.extendedError(protocolViolation("bind message supplies %d parameters, but prepared statement %q requires %d", n, m.PreparedStatement, want))
		return
	}
	if f, cols := len(m.ResultFormatCodes), len(st.Columns()); f > 1 && f != cols {
		ss.extendedError(protocolViolation("bind message has %d result formats but query has %d columns", f, cols))
		return
	}
	for _, codes := range [][]int16{m.ParameterFormatCodes, m.ResultFormatCodes} {
		for _, c := range codes {
			if c != 0 && c != 1 {
				ss.extendedError(pgerror.New(pgerror.CodeInvalidParameterValue, "unsupported format code: %d", c))
				return
			}
		}
	}
	// The values alias pgproto3's read buffer, which the next Receive overwrites.
	params := make([][]byte, n)
	for i, p := range m.Parameters {
		if p != nil {
			params[i] = bytes.Clone(p)
		}
	}
	paramFormats, resultFormats := slices.Clone(m.ParameterFormatCodes), slices.Clone(m.ResultFormatCodes)
	var portal Portal
	err := ss.query(ctx, func(qctx context.Context) error {
		var err error
		portal, err = st.Bind(qctx, params, paramFormats, resultFormats)
		return err
	})
	if err == nil && portal == nil {
		err = pgerror.New(pgerror.CodeInternalError, "internal error: no portal")
	}
	if err != nil {
		ss.extendedError(err)
		return
	}
	ss.dropPortal(m.DestinationPortal)
	ss.portals[m.DestinationPortal] = boundPortal{Portal: portal, stmt: m.PreparedStatement}
	ss.be.Send(&pgproto3.BindComplete{})
}

func (ss *session) describe(m *pgproto3.Describe) {
	var cols []Column
	switch m.ObjectType {
	case 'S':
		st, ok := ss.stmts[m.Name]
		if !ok {
			ss.extendedError(pgerror.New(codeInvalidSQLStatementName, "prepared statement %q does not exist", m.Name))
			return
		}
		ss.be.Send(&pgproto3.ParameterDescription{ParameterOIDs: st.ParamOIDs()})
		cols = st.Columns()
	case 'P':
		p, ok := ss.portals[m.Name]
		if !ok {
			ss.extendedError(pgerror.New(pgerror.CodeInvalidCursorName, "portal %q does not exist", m.Name))
			return
		}
		cols = p.Columns()
	default:
		ss.sendFatal(protocolViolation("invalid DESCRIBE message subtype %d", m.ObjectType))
		return
	}
	if cols == nil {
		ss.be.Send(&pgproto3.NoData{})
	} else {
		ss.be.Send(rowDescription(cols))
	}
}

func (ss *session) execute(ctx context.Context, m *pgproto3.Execute) {
	p, ok := ss.portals[m.Portal]
	if !ok {
		ss.extendedError(pgerror.New(pgerror.CodeInvalidCursorName, "portal %q does not exist", m.Portal))
		return
	}
	// Clamped so a 32-bit int cannot turn a huge limit negative; 2^31-1 rows is "no limit".
	maxRows := int(min(m.MaxRows, math.MaxInt32))
	w := &resultWriter{ss: ss}
	var suspended bool
	err := ss.query(ctx, func(qctx context.Context) error {
		var err error
		suspended, err = p.Execute(qctx, maxRows, w)
		return err
	})
	if w.copyInFailed() {
		return
	}
	if err != nil {
		ss.extendedError(err)
		return
	}
	if suspended {
		// The client usually waits for this batch before asking for more: send it now.
		ss.be.Send(&pgproto3.PortalSuspended{})
		ss.flush()
	}
}

func (ss *session) closeObject(m *pgproto3.Close) {
	switch m.ObjectType {
	case 'S':
		// Closing a statement closes the portals made from it (PostgreSQL does the same).
		for name, p := range ss.portals {
			if p.stmt == m.Name {
				ss.dropPortal(name)
			}
		}
		ss.dropStatement(m.Name)
	case 'P':
		ss.dropPortal(m.Name)
	default:
		ss.sendFatal(protocolViolation("invalid CLOSE message subtype %d", m.ObjectType))
		return
	}
	ss.be.Send(&pgproto3.CloseComplete{})
}

func (ss *session) sync(ctx context.Context) {
	failed := ss.skipping
	ss.skipping = false
	err := ss.query(ctx, ss.backend.Sync)
	// The batch's own error has been reported; a second one about the same failure would
	// only confuse the client. A shutdown still has to be reported.
	if err != nil && (!failed || err == errAdminShutdown) {
		ss.reportError(err)
	}
	ss.endOfTransaction()
	ss.ready()
}

// endOfTransaction drops the portals once no transaction is open: portals live no longer than
// their transaction (PostgreSQL's WITH HOLD cursors are not supported). A failed transaction
// keeps them until it ends, as PostgreSQL does: executing one fails with 25P02 meanwhile.
func (ss *session) endOfTransaction() {
	if ss.done || ss.backend.TxnStatus() != 'I' {
		return
	}
	for name := range ss.portals {
		ss.dropPortal(name)
	}
}

func (ss *session) dropStatement(name string) {
	if st, ok := ss.stmts[name]; ok {
		delete(ss.stmts, name)
		st.Close()
	}
}

func (ss *session) dropPortal(name string) {
	if p, ok := ss.portals[name]; ok {
		delete(ss.portals, name)
		p.Close()
	}
}

// extendedError reports an error in an extended-protocol batch and skips the rest of it.
func (ss *session) extendedError(err error) {
	ss.reportError(err)
	ss.skipping = true
}

// reportError sends a statement's error. A shutdown is fatal to the session.
func (ss *session) reportError(err error) {
	if err == errAdminShutdown {
		ss.sendFatal(err)
		return
	}
	ss.sendError(errorResponse(err, "ERROR"))
}

// sendError sends an error to the client, counted by its SQLSTATE.
func (ss *session) sendError(e *pgproto3.ErrorResponse) {
	ss.srv.stats.countError(e.Code)
	ss.be.Send(e)
}

// sendFatal sends a FATAL error and ends the session.
func (ss *session) sendFatal(err error) {
	ss.done = true
	ss.sendError(errorResponse(err, "FATAL"))
	ss.flush()
}

// ready sends ReadyForQuery with the backend's transaction status and flushes. It reports
// whether the session is over.
func (ss *session) ready() bool {
	if !ss.done {
		if r, ok := ss.backend.(ParameterReporter); ok {
			for _, p := range r.ChangedParameters() {
				ss.be.Send(&pgproto3.ParameterStatus{Name: p.Name, Value: p.Value})
			}
		}
		ss.be.Send(&pgproto3.ReadyForQuery{TxStatus: ss.backend.TxnStatus()})
	}
	ss.flush()
	return ss.done
}

// flush writes the buffered output. After a write failure the session is over: the client is
// gone or the stream is broken.
func (ss *session) flush() error {
	ss.pending = 0
	if ss.werr == nil {
		if err := ss.be.Flush(); err != nil {
			ss.werr = err
			ss.done = true
		}
	}
	ss.answerSent()
	return ss.werr
}

// answerSent tells a backend that holds work back until the client has its answer that it
// has it (or never will).
func (ss *session) answerSent() {
	if l, ok := ss.backend.(AnswerListener); ok {
		l.AnswerSent()
	}
}

// readFailed ends the session after a failed read: quietly when the connection failed or was
// closed, with a FATAL protocol violation when the client sent something that is not a valid
// message.
func (ss *session) readFailed(err error) {
	if ss.rd.err != nil {
		ss.srv.log.Debug("wire: connection ended", "remote", ss.remoteAddr(), "err", ss.rd.err)
		return
	}
	var tooBig *pgproto3.ExceededMaxBodyLenErr
	var pe *pgerror.Error
	switch {
	case errors.As(err, &tooBig):
		err = protocolViolation("message of %d bytes exceeds the maximum message size of %d bytes", tooBig.ActualBodyLen, tooBig.MaxExpectedBodyLen)
	case errors.As(err, &pe):
	default:
		err = protocolViolation("invalid frontend message: %v", err)
	}
	ss.srv.log.Debug("wire: protocol violation", "remote", ss.remoteAddr(), "err", err)
	ss.sendFatal(err)
}

func protocolViolation(format string, args ...any) *pgerror.Error {
	return pgerror.New(pgerror.CodeProtocolViolation, format, args...)
}

// messageName names a frontend message type for error messages, e.g. "CopyData".
func messageName(msg pgproto3.FrontendMessage) string {
	return strings.TrimPrefix(fmt.Sprintf("%T", msg), "*pgproto3.")
}
