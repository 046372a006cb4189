package wire

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/meridiandb/meridian/internal/certs"
	"github.com/meridiandb/meridian/internal/certs/certstest"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/wire/scram"
)

// scramAuth keeps verifiers of "secret-<user>" for alice and bob, trusts "trusted", accepts
// client certificates whose common name is the user, and knows nobody else.
type scramAuth struct {
	verifiers map[string]scram.Verifier
}

func newSCRAMAuth(t *testing.T) *scramAuth {
	a := &scramAuth{verifiers: map[string]scram.Verifier{}}
	for _, u := range []string{"alice", "bob"} {
		v, err := scram.NewVerifier("secret-" + u)
		if err != nil {
			t.Fatal(err)
		}
		a.verifiers[u] = v
	}
	return a
}

func (a *scramAuth) PasswordRequired(_ context.Context, user string) (bool, error) {
	return user != "trusted", nil
}

func (a *scramAuth) CheckPassword(context.Context, string, string) error {
	return errors.New("a SCRAM authenticator is never asked for a cleartext check")
}

func (a *scramAuth) SCRAMVerifier(_ context.Context, user string) (scram.Verifier, bool, error) {
	if v, ok := a.verifiers[user]; ok {
		return v, true, nil
	}
	return scram.Mock([]byte("test secret"), user), false, nil
}

func (a *scramAuth) CertificateLogin(_ context.Context, user string, cert *x509.Certificate) (bool, error) {
	return cert.Subject.CommonName == user, nil
}

func authConnString(ts *testServer, extra string) string {
	host, port, _ := net.SplitHostPort(ts.addr)
	return "host=" + host + " port=" + port + " connect_timeout=5 " + extra
}

func TestSCRAMAuthentication(t *testing.T) {
	ts := startServer(t, Config{Auth: newSCRAMAuth(t)})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	c, err := pgconn.Connect(ctx, authConnString(ts, "sslmode=disable user=alice password=secret-alice"))
	if err != nil {
		t.Fatalf("right password: %v", err)
	}
	if _, err := c.Exec(ctx, "select 1").ReadAll(); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)

	// A wrong password and a user that does not exist fail alike.
	for _, creds := range []string{"user=alice password=secret-bob", "user=ghost password=secret-ghost", "user=bob password="} {
		_, err := pgconn.Connect(ctx, authConnString(ts, "sslmode=disable "+creds))
		pe := pgErr(t, err)
		user := strings.Fields(creds)[0][len("user="):]
		if pe.Code != pgerror.CodeInvalidPassword || pe.Severity != "FATAL" || pe.Message != `password authentication failed for user "`+user+`"` {
			t.Fatalf("%s: %s %s %q", creds, pe.Severity, pe.Code, pe.Message)
		}
	}
	if strings.Contains(ts.logs.String(), "secret-") {
		t.Fatal("a password reached the log")
	}

	c, err = pgconn.Connect(ctx, authConnString(ts, "sslmode=disable user=trusted"))
	if err != nil {
		t.Fatalf("trusted user: %v", err)
	}
	c.Close(ctx)
}

// scramClient is the client side of the exchange, by hand.
type scramClient struct {
	password, gs2, first string
	serverFirst          string
}

func (c *scramClient) initial() []byte {
	c.first = "n=,r=fyko+d2lbbFgONRv9qkxdawL"
	return []byte(c.gs2 + c.first)
}

func (c *scramClient) final(t *testing.T, serverFirst []byte) []byte {
	t.Helper()
	c.serverFirst = string(serverFirst)
	attrs := map[string]string{}
	for _, a := range strings.Split(c.serverFirst, ",") {
		attrs[a[:1]] = a[2:]
	}
	salt, err := base64.StdEncoding.DecodeString(attrs["s"])
	if err != nil {
		t.Fatalf("server-first %q: %v", serverFirst, err)
	}
	iters, _ := strconv.Atoi(attrs["i"])
	if !strings.HasPrefix(attrs["r"], "fyko+d2lbbFgONRv9qkxdawL") || iters != 4096 || len(salt) != 16 {
		t.Fatalf("server-first %q", serverFirst)
	}
	salted, err := pbkdf2.Key(sha256.New, c.password, salt, iters, 32)
	if err != nil {
		t.Fatal(err)
	}
	h := hmac.New(sha256.New, salted)
	h.Write([]byte("Client Key"))
	clientKey := h.Sum(nil)
	stored := sha256.Sum256(clientKey)
	withoutProof := "c=" + base64.StdEncoding.EncodeToString([]byte(c.gs2)) + ",r=" + attrs["r"]
	h = hmac.New(sha256.New, stored[:])
	h.Write([]byte(c.first + "," + c.serverFirst + "," + withoutProof))
	for i, b := range h.Sum(nil) {
		clientKey[i] ^= b
	}
	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(clientKey))
}

// startSASL sends a StartupMessage for user and checks the server offers SCRAM-SHA-256.
func startSASL(t *testing.T, ts *testServer, user string) *rawClient {
	t.Helper()
	raw := dialRaw(t, ts.addr)
	raw.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": user}})
	msg := raw.recv()
	sasl, ok := msg.(*pgproto3.AuthenticationSASL)
	if !ok || len(sasl.AuthMechanisms) != 1 || sasl.AuthMechanisms[0] != "SCRAM-SHA-256" {
		t.Fatalf("expected AuthenticationSASL offering SCRAM-SHA-256, got %#v", msg)
	}
	return raw
}

// TestSASLMessageFlow walks the exchange message by message.
func TestSASLMessageFlow(t *testing.T) {
	ts := startServer(t, Config{Auth: newSCRAMAuth(t)})

	t.Run("right password", func(t *testing.T) {
		raw := startSASL(t, ts, "alice")
		cl := &scramClient{password: "secret-alice", gs2: "n,,"}
		raw.send(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: cl.initial()})
		cont, ok := raw.recv().(*pgproto3.AuthenticationSASLContinue)
		if !ok {
			t.Fatal("expected AuthenticationSASLContinue")
		}
		raw.send(&pgproto3.SASLResponse{Data: cl.final(t, cont.Data)})
		final, ok := raw.recv().(*pgproto3.AuthenticationSASLFinal)
		if !ok || !strings.HasPrefix(string(final.Data), "v=") {
			t.Fatalf("expected AuthenticationSASLFinal with the server signature, got %#v", final)
		}
		raw.expect("AuthenticationOk", "ParameterStatus")
		for {
			if _, ok := raw.recv().(*pgproto3.ReadyForQuery); ok {
				break
			}
		}
		// A 'p' message after authentication is no SASL response.
		raw.send(&pgproto3.PasswordMessage{Password: "late"})
		raw.expectFatal(pgerror.CodeProtocolViolation, "unexpected PasswordMessage")
	})
	t.Run("wrong password", func(t *testing.T) {
		raw := startSASL(t, ts, "alice")
		cl := &scramClient{password: "guess", gs2: "n,,"}
		raw.send(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: cl.initial()})
		cont := raw.recv().(*pgproto3.AuthenticationSASLContinue)
		raw.send(&pgproto3.SASLResponse{Data: cl.final(t, cont.Data)})
		raw.expectFatal(pgerror.CodeInvalidPassword, `password authentication failed for user "alice"`)
	})
	t.Run("unknown user looks like a wrong password", func(t *testing.T) {
		salts := map[string]bool{}
		for range 2 {
			raw := startSASL(t, ts, "ghost")
			cl := &scramClient{password: "secret-ghost", gs2: "n,,"}
			raw.send(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: cl.initial()})
			cont := raw.recv().(*pgproto3.AuthenticationSASLContinue)
			salts[strings.Split(string(cont.Data), ",")[1]] = true
			raw.send(&pgproto3.SASLResponse{Data: cl.final(t, cont.Data)})
			raw.expectFatal(pgerror.CodeInvalidPassword, `password authentication failed for user "ghost"`)
		}
		if len(salts) != 1 {
			t.Fatalf("an unknown user's salt changes between attempts: %v", salts)
		}
	})
	t.Run("client closes mid-exchange", func(t *testing.T) {
		before := ts.NumConnections()
		raw := startSASL(t, ts, "alice")
		cl := &scramClient{password: "secret-alice", gs2: "n,,"}
		raw.send(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: cl.initial()})
		raw.expect("AuthenticationSASLContinue")
		raw.conn.Close()
		waitFor(t, "the aborted session to end", func() bool { return ts.NumConnections() == before })
	})
	t.Run("client terminates mid-exchange", func(t *testing.T) {
		raw := startSASL(t, ts, "alice")
		raw.send(&pgproto3.Terminate{})
		raw.expectClosed()
	})
	t.Run("unknown mechanism", func(t *testing.T) {
		raw := startSASL(t, ts, "alice")
		raw.send(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-1", Data: []byte("n,,n=,r=abc")})
		raw.expectFatal(pgerror.CodeProtocolViolation, "invalid SASL authentication mechanism")
	})
	t.Run("channel binding asked for", func(t *testing.T) {
		raw := startSASL(t, ts, "alice")
		raw.send(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte("p=tls-server-end-point,,n=,r=abc")})
		raw.expectFatal(pgerror.CodeProtocolViolation, "malformed SCRAM message")
	})
	t.Run("tampered nonce", func(t *testing.T) {
		raw := startSASL(t, ts, "alice")
		cl := &scramClient{password: "secret-alice", gs2: "n,,"}
		raw.send(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: cl.initial()})
		raw.expect("AuthenticationSASLContinue")
		raw.send(&pgproto3.SASLResponse{Data: []byte("c=biws,r=other,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")})
		raw.expectFatal(pgerror.CodeProtocolViolation, "malformed SCRAM message")
	})
	t.Run("query instead of a response", func(t *testing.T) {
		raw := startSASL(t, ts, "alice")
		raw.send(&pgproto3.Query{String: "select 1"})
		raw.expectFatal(pgerror.CodeProtocolViolation, "expected SASL response")
	})
}

func TestTLS(t *testing.T) {
	dir := certstest.Make(t, "alice", "mallory")
	tlsCfg, err := certs.ServerTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, Config{Auth: newSCRAMAuth(t), TLS: tlsCfg, RequireTLS: true})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	ca := filepath.Join(dir, certs.CACert)

	for _, mode := range []string{"require", "verify-ca", "verify-full"} {
		c, err := pgconn.Connect(ctx, authConnString(ts, "sslmode="+mode+" sslrootcert="+ca+" user=alice password=secret-alice"))
		if err != nil {
			t.Fatalf("sslmode=%s: %v", mode, err)
		}
		if _, ok := c.Conn().(*tls.Conn); !ok {
			t.Fatalf("sslmode=%s: connection is %T, not TLS", mode, c.Conn())
		}
		if _, err := c.Exec(ctx, "select 1").ReadAll(); err != nil {
			t.Fatal(err)
		}
		c.Close(ctx)
	}
	_, err = pgconn.Connect(ctx, authConnString(ts, "sslmode=verify-full sslrootcert="+ca+" user=alice password=wrong"))
	if pe := pgErr(t, err); pe.Code != pgerror.CodeInvalidPassword {
		t.Fatalf("wrong password over TLS: %v", err)
	}

	// Plain text is refused when TLS is required.
	_, err = pgconn.Connect(ctx, authConnString(ts, "sslmode=disable user=alice password=secret-alice"))
	if pe := pgErr(t, err); pe.Code != pgerror.CodeInvalidAuthorization || !strings.Contains(pe.Message, "encrypted") {
		t.Fatalf("plain text with TLS required: %v", err)
	}

	// A client certificate proves its user: no password is asked for.
	crt, key := certs.ClientFiles(dir, "alice")
	c, err := pgconn.Connect(ctx, authConnString(ts, "sslmode=verify-full sslrootcert="+ca+" sslcert="+crt+" sslkey="+key+" user=alice"))
	if err != nil {
		t.Fatalf("client certificate: %v", err)
	}
	c.Close(ctx)
	// Someone else's certificate does not: the password is asked for and must be right.
	crt, key = certs.ClientFiles(dir, "mallory")
	_, err = pgconn.Connect(ctx, authConnString(ts, "sslmode=verify-full sslrootcert="+ca+" sslcert="+crt+" sslkey="+key+" user=alice password=guess"))
	if pe := pgErr(t, err); pe.Code != pgerror.CodeInvalidPassword {
		t.Fatalf("another user's certificate: %v", err)
	}

	// After the upgrade, a second SSLRequest is a protocol violation.
	raw := dialRaw(t, ts.addr)
	raw.send(&pgproto3.SSLRequest{})
	var b [1]byte
	if _, err := raw.conn.Read(b[:]); err != nil || b[0] != 'S' {
		t.Fatalf("SSLRequest answer %q, %v", b[:], err)
	}
	pool, _ := certs.CAPool(dir)
	tc := tls.Client(raw.conn, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	raw.conn, raw.fe = tc, pgproto3.NewFrontend(tc, tc)
	raw.send(&pgproto3.SSLRequest{})
	raw.expectFatal(pgerror.CodeProtocolViolation, "encryption request on an encrypted connection")
}
