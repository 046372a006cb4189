package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/meridiandb/meridian/sql/pgerror"
)

func TestStartupParameters(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.connect(t, "application_name=myapp")
	for name, want := range map[string]string{
		"server_version":              "16.0 (Meridian)",
		"server_encoding":             "UTF8",
		"client_encoding":             "UTF8",
		"DateStyle":                   "ISO, MDY",
		"TimeZone":                    "UTC",
		"integer_datetimes":           "on",
		"standard_conforming_strings": "on",
		"IntervalStyle":               "postgres",
		"is_superuser":                "on",
		"session_authorization":       "tester",
		"application_name":            "myapp",
	} {
		if got := c.ParameterStatus(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if c.PID() == 0 || len(c.SecretKey()) != 4 {
		t.Errorf("BackendKeyData pid=%d secret=%x", c.PID(), c.SecretKey())
	}
	if c.TxStatus() != 'I' {
		t.Errorf("TxStatus = %q", c.TxStatus())
	}
	if got := ts.env.lastApp.Load(); got != "myapp" {
		t.Errorf("backend saw application_name %v", got)
	}
	if n := ts.NumConnections(); n != 1 {
		t.Errorf("NumConnections = %d", n)
	}
}

func TestDefaultDatabase(t *testing.T) {
	ts := startServer(t, Config{})
	connectRaw(t, ts.addr) // no database parameter
	if got := ts.env.lastDB.Load(); got != "defaultdb" {
		t.Errorf("database = %v, want defaultdb", got)
	}
	ts.connect(t, "dbname=shop")
	if got := ts.env.lastDB.Load(); got != "shop" {
		t.Errorf("database = %v, want shop", got)
	}
}

func TestPgxDriver(t *testing.T) {
	ts := startServer(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, ts.connString(""))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// The default mode prepares, describes and executes with binary results.
	var n int32
	if err := conn.QueryRow(ctx, "select 1").Scan(&n); err != nil || n != 1 {
		t.Fatalf("select 1 = %d, %v", n, err)
	}
	var a, b string
	if err := conn.QueryRow(ctx, "echo $1 $2", "42", "hi").Scan(&a, &b); err != nil || a != "42" || b != "hi" {
		t.Fatalf("echo = %q %q, %v", a, b, err)
	}
	rows, _ := conn.Query(ctx, "rows 5", pgx.QueryExecModeSimpleProtocol)
	got, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil || len(got) != 5 || got[4] != 5 {
		t.Fatalf("rows 5 = %v, %v", got, err)
	}
	_, err = conn.Exec(ctx, "fail")
	if pe := pgErr(t, err); pe.Code != pgerror.CodeSyntaxError {
		t.Fatalf("fail: %v", err)
	}
}

func TestSSLRequestRefused(t *testing.T) {
	ts := startServer(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	host, port, _ := net.SplitHostPort(ts.addr)
	base := "host=" + host + " port=" + port + " user=tester connect_timeout=5 "

	c, err := pgconn.Connect(ctx, base+"sslmode=prefer")
	if err != nil {
		t.Fatalf("sslmode=prefer must fall back to plain text: %v", err)
	}
	if _, err := c.Exec(ctx, "select 1").ReadAll(); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)

	if c, err := pgconn.Connect(ctx, base+"sslmode=require"); err == nil {
		c.Close(ctx)
		t.Fatal("sslmode=require connected without TLS")
	}

	// Encryption requests are answered 'N' and the same connection goes on to start up.
	raw := dialRaw(t, ts.addr)
	raw.send(&pgproto3.GSSEncRequest{})
	var b [1]byte
	if _, err := raw.conn.Read(b[:]); err != nil || b[0] != 'N' {
		t.Fatalf("GSSENCRequest answer %q, %v", b[:], err)
	}
	raw.send(&pgproto3.SSLRequest{})
	if _, err := raw.conn.Read(b[:]); err != nil || b[0] != 'N' {
		t.Fatalf("SSLRequest answer %q, %v", b[:], err)
	}
	raw.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "tester"}})
	for {
		if _, ok := raw.recv().(*pgproto3.ReadyForQuery); ok {
			break
		}
	}
}

type fakeAuth struct{}

func (fakeAuth) PasswordRequired(_ context.Context, user string) (bool, error) {
	if user == "broken" {
		return false, errors.New("user store unavailable")
	}
	return user != "trusted", nil
}

func (fakeAuth) CheckPassword(_ context.Context, user, password string) error {
	if password != "secret-"+user {
		return errors.New("wrong password")
	}
	return nil
}

func TestCleartextPassword(t *testing.T) {
	ts := startServer(t, Config{Auth: fakeAuth{}})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	host, port, _ := net.SplitHostPort(ts.addr)
	base := "host=" + host + " port=" + port + " sslmode=disable connect_timeout=5 "

	c, err := pgconn.Connect(ctx, base+"user=alice password=secret-alice")
	if err != nil {
		t.Fatalf("right password: %v", err)
	}
	c.Close(ctx)

	_, err = pgconn.Connect(ctx, base+"user=alice password=guess")
	pe := pgErr(t, err)
	if pe.Code != pgerror.CodeInvalidPassword || pe.Severity != "FATAL" || pe.Message != `password authentication failed for user "alice"` {
		t.Fatalf("wrong password: %s %s %q", pe.Severity, pe.Code, pe.Message)
	}

	c, err = pgconn.Connect(ctx, base+"user=trusted")
	if err != nil {
		t.Fatalf("trusted user: %v", err)
	}
	c.Close(ctx)

	_, err = pgconn.Connect(ctx, base+"user=broken")
	if pe := pgErr(t, err); pe.Code != pgerror.CodeInvalidAuthorization {
		t.Fatalf("failing authenticator: %v", err)
	}

	// Anything but a password message in the password phase is a protocol violation.
	raw := dialRaw(t, ts.addr)
	raw.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "alice"}})
	raw.expect("AuthenticationCleartextPassword")
	raw.send(&pgproto3.Query{String: "select 1"})
	raw.expectFatal(pgerror.CodeProtocolViolation, "expected password response")
}

func TestStartupFailures(t *testing.T) {
	ts := startServer(t, Config{})

	t.Run("no user", func(t *testing.T) {
		raw := dialRaw(t, ts.addr)
		raw.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"database": "x"}})
		raw.expectFatal(pgerror.CodeInvalidAuthorization, "no PostgreSQL user name")
	})
	t.Run("backend refuses", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		_, err := pgconn.Connect(ctx, ts.connString("dbname=missing"))
		if pe := pgErr(t, err); pe.Code != pgerror.CodeInvalidCatalogName || pe.Severity != "FATAL" {
			t.Fatalf("got %s %s", pe.Severity, pe.Code)
		}
	})
	t.Run("protocol 2.0", func(t *testing.T) {
		raw := dialRaw(t, ts.addr)
		raw.write([]byte{0, 0, 0, 9, 0, 2, 0, 0, 0})
		raw.expectFatal(pgerror.CodeProtocolViolation, "unsupported frontend protocol 2.0")
	})
	t.Run("protocol 3.2 negotiated down", func(t *testing.T) {
		c := ts.connect(t, "max_protocol_version=3.2")
		if _, err := c.Exec(context.Background(), "select 1").ReadAll(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("bad startup length", func(t *testing.T) {
		raw := dialRaw(t, ts.addr)
		raw.write([]byte{0, 0, 0, 3})
		raw.expectFatal(pgerror.CodeProtocolViolation, "invalid length of startup packet")
	})
	t.Run("huge startup length", func(t *testing.T) {
		raw := dialRaw(t, ts.addr)
		raw.write([]byte{0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0})
		raw.expectFatal(pgerror.CodeProtocolViolation, "invalid length of startup packet")
	})
	t.Run("unterminated startup", func(t *testing.T) {
		raw := dialRaw(t, ts.addr)
		raw.write([]byte{0, 0, 0, 13, 0, 3, 0, 0, 'u', 's', 'e', 'r', 0})
		raw.expectFatal(pgerror.CodeProtocolViolation, "invalid startup packet layout")
	})
	t.Run("eof during startup", func(t *testing.T) {
		raw := dialRaw(t, ts.addr)
		raw.write([]byte{0, 0, 0, 40, 0, 3})
		raw.conn.(*net.TCPConn).CloseWrite()
		raw.expectClosed()
	})
	waitFor(t, "connections to end", func() bool { return ts.NumConnections() == 0 })
}

func TestSimpleQuery(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.connect(t, "")
	ctx := context.Background()

	res, err := c.Exec(ctx, "select 1").ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].CommandTag.String() != "SELECT 1" || len(res[0].Rows) != 1 || string(res[0].Rows[0][0]) != "1" {
		t.Fatalf("select 1: %+v", res)
	}
	if f := res[0].FieldDescriptions; len(f) != 1 || f[0].Name != "?column?" || f[0].DataTypeOID != oidInt4 {
		t.Fatalf("fields: %+v", f)
	}

	_, err = c.Exec(ctx, "fail").ReadAll()
	pe := pgErr(t, err)
	if pe.Severity != "ERROR" || pe.Code != pgerror.CodeSyntaxError || pe.Detail == "" || pe.Hint == "" || pe.Position != 1 {
		t.Fatalf("error fields: %+v", pe)
	}

	// Several statements give several results; an error stops the rest.
	res, err = c.Exec(ctx, "insert; rows 2; select 1").ReadAll()
	if err != nil || len(res) != 3 || res[0].CommandTag.String() != "INSERT 0 1" || len(res[1].Rows) != 2 || len(res[2].Rows) != 1 {
		t.Fatalf("multi-statement: %+v, %v", res, err)
	}
	res, err = c.Exec(ctx, "insert; fail; insert").ReadAll()
	if pe := pgErr(t, err); pe.Code != pgerror.CodeSyntaxError || len(res) == 0 || res[0].CommandTag.String() != "INSERT 0 1" {
		t.Fatalf("multi-statement with error: %+v, %v", res, err)
	}

	// The connection is still usable after the errors.
	if _, err := c.Exec(ctx, "select 1").ReadAll(); err != nil {
		t.Fatal(err)
	}
}

func TestSimpleQueryMessages(t *testing.T) {
	ts := startServer(t, Config{})
	raw := connectRaw(t, ts.addr)

	raw.send(&pgproto3.Query{String: ""})
	raw.expect("EmptyQueryResponse", "ReadyForQuery I")
	raw.send(&pgproto3.Query{String: " ; "})
	raw.expect("EmptyQueryResponse", "ReadyForQuery I")
	raw.send(&pgproto3.Query{String: "notice"})
	raw.expect("NoticeResponse WARNING 01000 careful", "CommandComplete SELECT 0", "ReadyForQuery I")
	raw.send(&pgproto3.Query{String: "rows 2; insert"})
	raw.expect("RowDescription n:23/0", `DataRow "1"`, `DataRow "2"`, "CommandComplete SELECT 2",
		"CommandComplete INSERT 0 1", "ReadyForQuery I")
	raw.send(&pgproto3.Query{String: "insert; fail"})
	raw.expect("CommandComplete INSERT 0 1", "ErrorResponse ERROR 42601", "ReadyForQuery I")
}

func TestTxnStatus(t *testing.T) {
	ts := startServer(t, Config{})
	raw := connectRaw(t, ts.addr)
	for _, step := range []struct{ query, status string }{
		{"begin", "T"}, {"insert", "T"}, {"fail", "E"}, {"insert", "E"}, {"rollback", "I"},
	} {
		raw.send(&pgproto3.Query{String: step.query})
		for {
			msg := raw.recv()
			if rfq, ok := msg.(*pgproto3.ReadyForQuery); ok {
				if string(rfq.TxStatus) != step.status {
					t.Fatalf("after %q: status %q, want %q", step.query, rfq.TxStatus, step.status)
				}
				break
			}
		}
	}
	c := ts.connect(t, "")
	c.Exec(context.Background(), "begin").ReadAll()
	if c.TxStatus() != 'T' {
		t.Fatalf("pgconn TxStatus = %q", c.TxStatus())
	}
}

func TestExtendedProtocol(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.connect(t, "")
	ctx := context.Background()

	sd, err := c.Prepare(ctx, "s1", "echo $1 $2", []uint32{oidInt4, 0})
	if err != nil {
		t.Fatal(err)
	}
	if len(sd.ParamOIDs) != 2 || sd.ParamOIDs[0] != oidInt4 || sd.ParamOIDs[1] != oidText {
		t.Fatalf("param OIDs %v", sd.ParamOIDs)
	}
	if len(sd.Fields) != 2 || sd.Fields[0].Name != "p1" || sd.Fields[1].DataTypeOID != oidText {
		t.Fatalf("fields %+v", sd.Fields)
	}

	// Text in, text out.
	res := c.ExecPrepared(ctx, "s1", [][]byte{[]byte("7"), []byte("seven")}, nil, nil).Read()
	if res.Err != nil || len(res.Rows) != 1 || string(res.Rows[0][0]) != "7" || string(res.Rows[0][1]) != "seven" {
		t.Fatalf("text: %+v", res)
	}
	// Binary int4 in, binary out; NULL stays NULL.
	bin := binary.BigEndian.AppendUint32(nil, 1234)
	res = c.ExecPrepared(ctx, "s1", [][]byte{bin, nil}, []int16{1, 0}, []int16{1}).Read()
	if res.Err != nil || len(res.Rows) != 1 || string(res.Rows[0][0]) != string(bin) || res.Rows[0][1] != nil {
		t.Fatalf("binary: %+v", res)
	}
	if res.FieldDescriptions[0].Format != 1 || res.FieldDescriptions[1].Format != 1 {
		t.Fatalf("result formats %+v", res.FieldDescriptions)
	}
	// Binary in, text out.
	res = c.ExecPrepared(ctx, "s1", [][]byte{bin, []byte("x")}, []int16{1, 0}, []int16{0, 0}).Read()
	if res.Err != nil || string(res.Rows[0][0]) != "1234" {
		t.Fatalf("binary to text: %+v", res)
	}

	// ExecParams uses the unnamed statement and portal.
	res = c.ExecParams(ctx, "echo $1", [][]byte{[]byte("hello")}, nil, nil, nil).Read()
	if res.Err != nil || string(res.Rows[0][0]) != "hello" || res.CommandTag.String() != "SELECT 1" {
		t.Fatalf("ExecParams: %+v", res)
	}
	res = c.ExecParams(ctx, "insert", nil, nil, nil, nil).Read()
	if res.Err != nil || res.CommandTag.String() != "INSERT 0 1" {
		t.Fatalf("ExecParams insert: %+v", res)
	}
	res = c.ExecParams(ctx, "rows 3", nil, nil, nil, []int16{1}).Read()
	if res.Err != nil || len(res.Rows) != 3 || binary.BigEndian.Uint32(res.Rows[2][0]) != 3 {
		t.Fatalf("ExecParams rows: %+v", res)
	}

	// Errors.
	_, err = c.Prepare(ctx, "s1", "insert", nil)
	if pe := pgErr(t, err); pe.Code != "42P05" {
		t.Fatalf("duplicate statement: %v", err)
	}
	res = c.ExecPrepared(ctx, "nope", nil, nil, nil).Read()
	if pe := pgErr(t, res.Err); pe.Code != "26000" || pe.Message != `prepared statement "nope" does not exist` {
		t.Fatalf("unknown statement: %+v", pe)
	}
	res = c.ExecPrepared(ctx, "s1", [][]byte{[]byte("1")}, nil, nil).Read()
	if pe := pgErr(t, res.Err); pe.Code != pgerror.CodeProtocolViolation || pe.Severity != "ERROR" {
		t.Fatalf("parameter count: %+v", pe)
	}
	_, err = c.Prepare(ctx, "bad", "fail", nil)
	if pe := pgErr(t, err); pe.Code != pgerror.CodeSyntaxError {
		t.Fatalf("prepare error: %v", err)
	}
	res = c.ExecParams(ctx, "echo $1", [][]byte{[]byte("x")}, []uint32{oidInt4}, nil, []int16{1}).Read()
	if pe := pgErr(t, res.Err); pe.Code != pgerror.CodeInvalidTextRepresent {
		t.Fatalf("execute error: %+v", pe)
	}

	// Deallocate closes the statement; its name is free again.
	if err := c.Deallocate(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Prepare(ctx, "s1", "insert", nil); err != nil {
		t.Fatalf("re-prepare after close: %v", err)
	}
}

func TestPortalSuspension(t *testing.T) {
	ts := startServer(t, Config{})
	raw := connectRaw(t, ts.addr)

	raw.send(
		&pgproto3.Parse{Query: "rows 5"},
		&pgproto3.Bind{ResultFormatCodes: []int16{1}},
		&pgproto3.Describe{ObjectType: 'P'},
		&pgproto3.Execute{MaxRows: 2},
		&pgproto3.Execute{MaxRows: 2},
		&pgproto3.Execute{},
		&pgproto3.Sync{},
	)
	raw.expect("ParseComplete", "BindComplete", "RowDescription n:23/1",
		`DataRow "\x00\x00\x00\x01"`, `DataRow "\x00\x00\x00\x02"`, "PortalSuspended",
		`DataRow "\x00\x00\x00\x03"`, `DataRow "\x00\x00\x00\x04"`, "PortalSuspended",
		`DataRow "\x00\x00\x00\x05"`, "CommandComplete SELECT 5", "ReadyForQuery I")

	// A suspended batch reaches the client without Sync or Flush; so does a Flush.
	raw.send(&pgproto3.Parse{Name: "s", Query: "rows 3"}, &pgproto3.Bind{DestinationPortal: "p", PreparedStatement: "s"},
		&pgproto3.Execute{Portal: "p", MaxRows: 1})
	raw.expect("ParseComplete", "BindComplete", `DataRow "1"`, "PortalSuspended")
	raw.send(&pgproto3.Describe{ObjectType: 'S', Name: "s"}, &pgproto3.Flush{})
	raw.expect("ParameterDescription []", "RowDescription n:23/0")
	raw.send(&pgproto3.Execute{Portal: "p"}, &pgproto3.Sync{})
	raw.expect(`DataRow "2"`, `DataRow "3"`, "CommandComplete SELECT 3", "ReadyForQuery I")

	// Outside a transaction the portal is gone after Sync; the statement stays.
	raw.send(&pgproto3.Execute{Portal: "p"}, &pgproto3.Sync{})
	raw.expect(`ErrorResponse ERROR 34000 portal "p" does not exist`, "ReadyForQuery I")
	raw.send(&pgproto3.Describe{ObjectType: 'S', Name: "s"}, &pgproto3.Describe{ObjectType: 'S', Name: ""}, &pgproto3.Sync{})
	raw.expect("ParameterDescription", "RowDescription", "ParameterDescription", "RowDescription n:23/0", "ReadyForQuery I")

	// Inside a transaction portals survive Sync.
	raw.send(&pgproto3.Query{String: "begin"})
	raw.expect("CommandComplete BEGIN", "ReadyForQuery T")
	raw.send(&pgproto3.Bind{DestinationPortal: "q", PreparedStatement: "s"}, &pgproto3.Execute{Portal: "q", MaxRows: 2}, &pgproto3.Sync{})
	raw.expect("BindComplete", `DataRow "1"`, `DataRow "2"`, "PortalSuspended", "ReadyForQuery T")
	raw.send(&pgproto3.Execute{Portal: "q"}, &pgproto3.Sync{})
	raw.expect(`DataRow "3"`, "CommandComplete SELECT 3", "ReadyForQuery T")
	// Closing the statement closes its portals; closing what does not exist is fine.
	raw.send(&pgproto3.Bind{DestinationPortal: "r", PreparedStatement: "s"}, &pgproto3.Close{ObjectType: 'S', Name: "s"},
		&pgproto3.Close{ObjectType: 'P', Name: "never"}, &pgproto3.Close{ObjectType: 'S', Name: "never"},
		&pgproto3.Execute{Portal: "r"}, &pgproto3.Sync{})
	raw.expect("BindComplete", "CloseComplete", "CloseComplete", "CloseComplete", "ErrorResponse ERROR 34000", "ReadyForQuery T")
}

func TestExtendedErrorSkipsToSync(t *testing.T) {
	ts := startServer(t, Config{})
	raw := connectRaw(t, ts.addr)
	syncs := ts.env.syncs.Load()

	raw.send(
		&pgproto3.Parse{Query: "fail"},
		&pgproto3.Bind{},
		&pgproto3.Describe{ObjectType: 'P'},
		&pgproto3.Execute{},
		&pgproto3.Query{String: "insert"}, // also skipped, as PostgreSQL does
		&pgproto3.Sync{},
		&pgproto3.Parse{Query: "insert"},
		&pgproto3.Bind{},
		&pgproto3.Execute{},
		&pgproto3.Sync{},
	)
	raw.expect("ErrorResponse ERROR 42601", "ReadyForQuery I",
		"ParseComplete", "BindComplete", "CommandComplete INSERT 0 1", "ReadyForQuery I")
	if got := ts.env.syncs.Load() - syncs; got != 2 {
		t.Errorf("Backend.Sync called %d times, want 2", got)
	}

	// Sync's own error is reported when the batch had none, and only then.
	ts.env.setSyncErr(pgerror.New(pgerror.CodeSerializationFailure, "could not serialize"))
	raw.send(&pgproto3.Parse{Query: "insert"}, &pgproto3.Sync{})
	raw.expect("ParseComplete", "ErrorResponse ERROR 40001", "ReadyForQuery I")
	ts.env.setSyncErr(pgerror.New(pgerror.CodeSerializationFailure, "could not serialize"))
	raw.send(&pgproto3.Bind{PreparedStatement: "nope"}, &pgproto3.Sync{})
	raw.expect("ErrorResponse ERROR 26000", "ReadyForQuery I")
	raw.send(&pgproto3.Query{String: "select 1"})
	raw.expect("RowDescription", "DataRow", "CommandComplete", "ReadyForQuery I")

	// Bind format validation.
	raw.send(&pgproto3.Parse{Query: "echo $1"}, &pgproto3.Bind{Parameters: [][]byte{[]byte("a")}, ParameterFormatCodes: []int16{0, 0}}, &pgproto3.Sync{})
	raw.expect("ParseComplete", "ErrorResponse ERROR 08P01 bind message has 2 parameter formats but 1 parameters", "ReadyForQuery I")
	raw.send(&pgproto3.Bind{Parameters: [][]byte{[]byte("a")}, ResultFormatCodes: []int16{2}}, &pgproto3.Sync{})
	raw.expect("ErrorResponse ERROR 22023 unsupported format code: 2", "ReadyForQuery I")
	raw.send(&pgproto3.Bind{Parameters: [][]byte{[]byte("a")}, ResultFormatCodes: []int16{0, 0}}, &pgproto3.Sync{})
	raw.expect("ErrorResponse ERROR 08P01 bind message has 2 result formats but query has 1 columns", "ReadyForQuery I")

	// An error inside a transaction leaves it failed until rollback.
	raw.send(&pgproto3.Query{String: "begin"})
	raw.expect("CommandComplete BEGIN", "ReadyForQuery T")
	raw.send(&pgproto3.Parse{Name: "ins", Query: "insert"}, &pgproto3.Bind{PreparedStatement: "ins"}, &pgproto3.Execute{}, &pgproto3.Sync{})
	raw.expect("ParseComplete", "BindComplete", "CommandComplete", "ReadyForQuery T")
	raw.send(&pgproto3.Query{String: "fail"})
	raw.expect("ErrorResponse", "ReadyForQuery E")
	// (The simple query dropped the unnamed statement, as in PostgreSQL.)
	raw.send(&pgproto3.Bind{}, &pgproto3.Sync{})
	raw.expect("ErrorResponse ERROR 26000", "ReadyForQuery E")
	raw.send(&pgproto3.Bind{PreparedStatement: "ins"}, &pgproto3.Execute{}, &pgproto3.Sync{})
	raw.expect("BindComplete", "ErrorResponse ERROR 25P02", "ReadyForQuery E")
}

func TestTerminate(t *testing.T) {
	ts := startServer(t, Config{})
	raw := connectRaw(t, ts.addr)
	raw.send(&pgproto3.Terminate{})
	raw.expectClosed()
	waitFor(t, "Backend.Close", func() bool { return ts.env.closed.Load() == 1 })

	// A client that just goes away is cleaned up too.
	raw = connectRaw(t, ts.addr)
	raw.conn.Close()
	waitFor(t, "Backend.Close", func() bool { return ts.env.closed.Load() == 2 })
	waitFor(t, "no connections", func() bool { return ts.NumConnections() == 0 })
	if !strings.Contains(ts.logs.String(), "connection ended") {
		t.Errorf("missing debug log of the disconnect:\n%s", ts.logs.String())
	}
}

func TestCancelRequest(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.connect(t, "")
	ctx := context.Background()

	// A wrong key cancels nothing.
	raw := dialRaw(t, ts.addr)
	raw.send(&pgproto3.CancelRequest{ProcessID: c.PID(), SecretKey: []byte{1, 2, 3, 4}})
	raw.expectClosed()

	errc := make(chan error, 1)
	go func() {
		_, err := c.Exec(ctx, "block").ReadAll()
		errc <- err
	}()
	<-ts.env.started
	if err := c.CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		pe := pgErr(t, err)
		if pe.Code != pgerror.CodeQueryCanceled || pe.Message != "canceling statement due to user request" || pe.Severity != "ERROR" {
			t.Fatalf("got %s %s %q", pe.Severity, pe.Code, pe.Message)
		}
	case <-time.After(testTimeout):
		t.Fatal("query not cancelled")
	}
	if _, err := c.Exec(ctx, "select 1").ReadAll(); err != nil {
		t.Fatalf("connection unusable after cancel: %v", err)
	}

	// Extended protocol: pgx with a cancel-request context watcher, cancelled by a deadline.
	cfg, err := pgx.ParseConfig(ts.connString(""))
	if err != nil {
		t.Fatal(err)
	}
	cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, CancelRequestDelay: 0, DeadlineDelay: 5 * time.Second}
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	qctx, cancel := context.WithCancel(ctx)
	go func() {
		<-ts.env.started
		cancel()
	}()
	_, err = conn.Exec(qctx, "block")
	if pe := pgErr(t, err); pe.Code != pgerror.CodeQueryCanceled {
		t.Fatalf("got %v", err)
	}
	var n int32
	if err := conn.QueryRow(ctx, "select 1").Scan(&n); err != nil || n != 1 {
		t.Fatalf("after cancel: %d, %v", n, err)
	}
}

func TestBackendPanic(t *testing.T) {
	ts := startServer(t, Config{})
	ctx := context.Background()
	other := ts.connect(t, "")
	victim := ts.connect(t, "")

	// The other session is mid-query when the victim's backend panics.
	errc := make(chan error, 1)
	go func() {
		_, err := other.Exec(ctx, "block").ReadAll()
		errc <- err
	}()
	<-ts.env.started

	_, err := victim.Exec(ctx, "panic").ReadAll()
	pe := pgErr(t, err)
	if pe.Code != pgerror.CodeInternalError || pe.Severity != "FATAL" || pe.Message != "internal error: boom" {
		t.Fatalf("got %s %s %q", pe.Severity, pe.Code, pe.Message)
	}
	select {
	case <-victim.CleanupDone():
	case <-time.After(testTimeout):
		t.Fatal("victim connection not closed")
	}
	waitFor(t, "victim's Backend.Close", func() bool { return ts.env.closed.Load() == 1 })
	if logs := ts.logs.String(); !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "panic in session") || !strings.Contains(logs, "fakePortal") {
		t.Errorf("panic not logged with its stack:\n%s", logs)
	}

	if err := other.CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	<-errc
	if _, err := other.Exec(ctx, "select 1").ReadAll(); err != nil {
		t.Fatalf("other session broken: %v", err)
	}
	// The server still accepts sessions, and an extended-protocol panic is handled alike.
	c := ts.connect(t, "")
	res := c.ExecParams(ctx, "panic", nil, nil, nil, nil).Read()
	if pe := pgErr(t, res.Err); pe.Code != pgerror.CodeInternalError {
		t.Fatalf("got %v", res.Err)
	}
}

func TestMalformedMessages(t *testing.T) {
	ts := startServer(t, Config{MaxMessageSize: 1024})
	for _, tc := range []struct {
		name, msg string
		data      []byte
	}{
		{"garbage", "message of 1701604459 bytes exceeds", []byte("hello, server")},
		{"unknown type", "unknown message type", []byte{'h', 0, 0, 0, 4}},
		{"short length", "invalid message length", []byte{'Q', 0, 0, 0, 2}},
		{"negative length", "invalid message length", []byte{'Q', 0xff, 0xff, 0xff, 0xff}},
		{"oversize", "exceeds the maximum message size of 1024", []byte{'Q', 0, 1, 0, 0}},
		{"unterminated query", "invalid frontend message", []byte{'Q', 0, 0, 0, 7, 'a', 'b', 'c'}},
		{"truncated execute", "invalid frontend message", []byte{'E', 0, 0, 0, 6, 0, 1}},
		{"password after startup", "unexpected PasswordMessage message", []byte{'p', 0, 0, 0, 7, 'p', 'w', 0}},
		{"bad describe", "invalid DESCRIBE message subtype", []byte{'D', 0, 0, 0, 6, 'X', 0}},
		{"bad close", "invalid CLOSE message subtype", []byte{'C', 0, 0, 0, 6, 'X', 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := connectRaw(t, ts.addr)
			raw.write(tc.data)
			raw.expectFatal(pgerror.CodeProtocolViolation, tc.msg)
		})
	}
	// A startup-phase packet after startup is garbage too.
	raw := connectRaw(t, ts.addr)
	raw.send(&pgproto3.SSLRequest{})
	raw.expectFatal(pgerror.CodeProtocolViolation, "")
	waitFor(t, "connections to end", func() bool { return ts.NumConnections() == 0 })
	if got, want := ts.env.closed.Load(), ts.env.opened.Load(); got != want {
		t.Errorf("%d backends opened, %d closed", want, got)
	}
}

func TestFunctionCallUnsupported(t *testing.T) {
	ts := startServer(t, Config{})
	raw := connectRaw(t, ts.addr)
	raw.send(&pgproto3.FunctionCall{Function: 1})
	raw.expect("ErrorResponse ERROR 0A000", "ReadyForQuery I")
}

func TestLargeResultStreams(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.connect(t, "")
	res, err := c.Exec(context.Background(), "big 4000").ReadAll()
	if err != nil || len(res) != 1 || len(res[0].Rows) != 4000 {
		t.Fatalf("big result: %d results, %v", len(res), err)
	}
	// A client that leaves mid-result stops the backend: Row reports the write failure.
	raw := connectRaw(t, ts.addr)
	raw.send(&pgproto3.Query{String: "big 10000000"})
	raw.recv()
	raw.conn.Close()
	waitFor(t, "the abandoned session to end", func() bool { return ts.NumConnections() == 1 })
}

func TestServerClose(t *testing.T) {
	env := newFakeEnv()
	srv := NewServer(Config{NewBackend: env.newBackend, Logger: discardLogger()})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), ln) }()
	ts := &testServer{Server: srv, env: env, addr: ln.Addr().String()}
	ctx := context.Background()

	idle := connectRaw(t, ts.addr)
	busy := ts.connect(t, "")
	var wg sync.WaitGroup
	wg.Add(1)
	var busyErr error
	go func() {
		defer wg.Done()
		_, busyErr = busy.Exec(ctx, "block").ReadAll()
	}()
	<-env.started
	handshaking := dialRaw(t, ts.addr)
	handshaking.write([]byte{0, 0, 0, 8})
	waitFor(t, "3 connections", func() bool { return srv.NumConnections() == 3 })

	closed := make(chan struct{})
	go func() {
		srv.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(testTimeout):
		t.Fatal("Close did not return")
	}
	idle.expectFatal(pgerror.CodeAdminShutdown, "terminating connection due to administrator command")
	wg.Wait()
	if pe := pgErr(t, busyErr); pe.Code != pgerror.CodeAdminShutdown || pe.Severity != "FATAL" {
		t.Fatalf("busy session got %s %s", pe.Severity, pe.Code)
	}
	handshaking.expectClosed()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if n := srv.NumConnections(); n != 0 {
		t.Fatalf("NumConnections = %d", n)
	}
	if env.closed.Load() != env.opened.Load() {
		t.Fatalf("%d backends opened, %d closed", env.opened.Load(), env.closed.Load())
	}
	checkNoSessionGoroutines(t)

	if err := srv.Serve(ctx, ln); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Serve after Close: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestServeContextCancel(t *testing.T) {
	env := newFakeEnv()
	srv := NewServer(Config{NewBackend: env.newBackend, Logger: discardLogger()})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	raw := connectRaw(t, ln.Addr().String())
	// The session must have begun: a connection still in the listener's backlog when the
	// server stops is closed without one, so there is nobody to say FATAL.
	for deadline := time.Now().Add(10 * time.Second); srv.NumConnections() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the connection was never accepted")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	raw.expectFatal(pgerror.CodeAdminShutdown, "administrator command")
	srv.Close()
	checkNoSessionGoroutines(t)
}

func TestCloseCutsStalledClient(t *testing.T) {
	env := newFakeEnv()
	srv := NewServer(Config{NewBackend: env.newBackend, Logger: discardLogger()})
	srv.grace = 100 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(context.Background(), ln)
	// The client asks for gigabytes and never reads: the session blocks writing.
	raw := connectRaw(t, ln.Addr().String())
	raw.send(&pgproto3.Query{String: "big 10000000"})
	time.Sleep(100 * time.Millisecond)

	closed := make(chan struct{})
	go func() {
		srv.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(testTimeout):
		t.Fatal("Close hung on a session blocked writing")
	}
	if env.closed.Load() != 1 {
		t.Fatalf("backend not closed")
	}
	checkNoSessionGoroutines(t)
}
