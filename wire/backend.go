package wire

import (
	"context"
	"crypto/x509"
	"io"

	"github.com/meridiandb/meridian/wire/scram"
)

// Column describes one result column as RowDescription carries it.
type Column struct {
	Name         string
	TableOID     uint32
	TableAttrNum uint16
	TypeOID      uint32
	TypeSize     int16
	TypeModifier int32
	Format       int16 // 0 text, 1 binary
}

// ResultWriter receives the results of statements as the backend produces them.
type ResultWriter interface {
	// Describe announces the columns of a row-returning statement (RowDescription). The simple
	// protocol calls it before the first row; Portal.Execute never calls it (Describe does).
	Describe(cols []Column) error
	// Row sends one row; a nil element is NULL. Values are already encoded in the column's format.
	Row(values [][]byte) error
	// Complete ends one statement with its command tag, e.g. "INSERT 0 1" or "SELECT 3".
	Complete(tag string) error
	// Empty reports an empty statement (EmptyQueryResponse).
	Empty() error
	// Notice sends a NoticeResponse (e.g. a warning) without ending the statement.
	Notice(severity, code, message string) error
	// CopyIn starts COPY FROM STDIN: it sends CopyInResponse with the overall format (0 text,
	// 1 binary) and one format per column, and returns the data of the client's CopyData
	// messages as one stream. The stream ends with io.EOF at CopyDone; a CopyFail ends it with
	// 57014 "COPY from stdin failed: <message>". The statement should read it to the end
	// before it completes. If it fails first, its error is reported at once, as PostgreSQL
	// does, and the copy messages the client still sends are dropped.
	CopyIn(format int16, columnFormats []int16) (io.Reader, error)
	// CopyOut starts COPY TO STDOUT: it sends CopyOutResponse and returns a writer whose every
	// Write is sent as one CopyData message (PostgreSQL sends one per row). Complete sends
	// CopyDone before the command tag; after an error the copy just ends with the error.
	CopyOut(format int16, columnFormats []int16) (io.Writer, error)
}

// Backend is one client session of the SQL engine as the wire protocol sees it. The wire server
// creates one per connection and calls it from one goroutine at a time.
type Backend interface {
	// SimpleQuery runs every statement of a simple-protocol query string in order, writing each
	// statement's results to w, and stops at the first error, which it returns (errors carry a
	// SQLSTATE via sql/pgerror). An empty query string calls w.Empty.
	SimpleQuery(ctx context.Context, query string, w ResultWriter) error
	// Prepare parses and plans one statement for the extended protocol. paramOIDs are the types
	// the client specified (0 = unspecified); the statement reports the types it settled on.
	Prepare(ctx context.Context, query string, paramOIDs []uint32) (PreparedStatement, error)
	// TxnStatus is the ReadyForQuery status byte: 'I' idle, 'T' in a transaction, 'E' in a failed
	// transaction.
	TxnStatus() byte
	// Sync marks the end of an extended-protocol message batch: an implicit transaction that
	// the batch opened is committed (or rolled back after an error).
	Sync(ctx context.Context) error
	// Close releases the session, rolling back any open transaction.
	Close()
}

// PreparedStatement is a parsed statement awaiting parameter values.
type PreparedStatement interface {
	// ParamOIDs are the parameter types, one per $n.
	ParamOIDs() []uint32
	// Columns are the result columns (with text format), or nil for a statement without rows.
	Columns() []Column
	// Bind supplies parameter values (nil = NULL) in the given formats (as in the Bind message:
	// zero codes means all text, one code applies to all) and the result formats, giving a portal.
	Bind(ctx context.Context, params [][]byte, paramFormats []int16, resultFormats []int16) (Portal, error)
	// Close releases the statement. Portals already bound from it may outlive it (the wire
	// server closes them separately), so they must not depend on it staying open.
	Close()
}

// Portal is a bound statement ready to execute.
type Portal interface {
	// Columns are the result columns with their result formats, or nil for a statement without rows.
	Columns() []Column
	// Execute runs the portal or resumes it, sending at most maxRows rows (0 = no limit) to w.
	// When rows remain it returns suspended = true (PortalSuspended) and may be called again;
	// otherwise it has called w.Complete.
	Execute(ctx context.Context, maxRows int, w ResultWriter) (suspended bool, err error)
	// Close releases the portal.
	Close()
}

// Authenticator decides how a user proves who they are. An error it returns ends the
// connection with a FATAL error (28000 unless the error carries a SQLSTATE).
type Authenticator interface {
	// PasswordRequired reports whether user must send a password (false: trust).
	PasswordRequired(ctx context.Context, user string) (bool, error)
	// CheckPassword verifies a cleartext password; an error means authentication failed.
	// An Authenticator that is also a SCRAMAuthenticator is never asked.
	CheckPassword(ctx context.Context, user, password string) error
}

// SCRAMAuthenticator is an Authenticator that keeps passwords as SCRAM-SHA-256 verifiers: a
// user who must send a password proves it with a SCRAM exchange (AuthenticationSASL)
// instead, so the password itself never crosses the connection.
type SCRAMAuthenticator interface {
	Authenticator
	// SCRAMVerifier returns the verifier user's proof is checked against. ok is false when
	// the user does not exist or has no password: v must then be a mock verifier
	// (scram.Mock), against which the exchange is played out to the same failure as a wrong
	// password, so that a client cannot tell which users exist.
	SCRAMVerifier(ctx context.Context, user string) (v scram.Verifier, ok bool, err error)
}

// CertAuthenticator is an Authenticator that accepts a TLS client certificate, which the TLS
// handshake verified against Config.TLS's ClientCAs, as proof of identity.
type CertAuthenticator interface {
	Authenticator
	// CertificateLogin reports whether cert proves that the client is user. false goes on to
	// PasswordRequired, as if there were no certificate.
	CertificateLogin(ctx context.Context, user string, cert *x509.Certificate) (bool, error)
}

// Parameter is a session parameter the server reports to the client (ParameterStatus).
type Parameter struct {
	Name, Value string
}

// ParameterReporter may be implemented by a Backend whose reported session parameters
// (TimeZone, application_name, ...) can change during the session. Drivers track them:
// pgx and libpq read client_encoding and standard_conforming_strings to quote values, JDBC
// reads TimeZone and DateStyle to parse timestamps.
type ParameterReporter interface {
	// StartupParameters are the values to report after authentication, besides those the
	// server reports itself (server_version, server_encoding); a name in both is reported
	// once, with the backend's value.
	StartupParameters() []Parameter
	// ChangedParameters lists the reported parameters whose values changed since they were
	// last reported. The server sends them just before ReadyForQuery, as PostgreSQL 14 and
	// later do, so a value SET and reverted within one query cycle is not reported at all.
	ChangedParameters() []Parameter
}

// SuperuserReporter may be implemented by a Backend whose user may or may not be a
// superuser; the server reports it as the is_superuser parameter (psql's prompt shows it).
// A Backend without it is reported as a superuser's.
type SuperuserReporter interface {
	Superuser() bool
}

// AnswerListener may be implemented by a Backend that holds work back until the client has
// its answer: AnswerSent is called each time the session has written its buffered output to
// the connection (at Sync, after a simple query, at Flush), and once more when the session
// ends.
type AnswerListener interface {
	AnswerSent()
}
