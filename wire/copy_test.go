package wire

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

// endlessReader repeats a line forever: a COPY fed by it ends only through an error.
type endlessReader struct{ line string }

func (r endlessReader) Read(p []byte) (int, error) {
	n := 0
	for n+len(r.line) <= len(p) {
		n += copy(p[n:], r.line)
	}
	return n, nil
}

func TestCopyInAndOut(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.connect(t, "")
	ctx := context.Background()

	tag, err := c.CopyFrom(ctx, strings.NewReader("1\tone\n2\ttwo\n"), "copyin")
	if err != nil || tag.String() != "COPY 12" {
		t.Fatalf("CopyFrom: %q %v", tag, err)
	}
	var out bytes.Buffer
	tag, err = c.CopyTo(ctx, &out, "copyout 3")
	if err != nil || tag.String() != "COPY 3" || out.String() != "1\n2\n3\n" {
		t.Fatalf("CopyTo: %q %q %v", tag, out.String(), err)
	}

	// An error in the data is reported while the client is still sending (pgconn stops
	// then): the stream here never ends on its own.
	_, err = c.CopyFrom(ctx, io.MultiReader(strings.NewReader("good\nbad\n"), endlessReader{"more\n"}), "copyin")
	if pe := pgErr(t, err); pe.Code != "22P02" {
		t.Fatalf("got %v", err)
	}
	// The client aborts with CopyFail.
	_, err = c.CopyFrom(ctx, io.MultiReader(strings.NewReader("data"), errReader{}), "copyin")
	if pe := pgErr(t, err); pe.Code != "57014" || pe.Message != "COPY from stdin failed: reader broke" {
		t.Fatalf("got %v", err)
	}
	// The session is fine after both.
	if res := c.Exec(ctx, "select 1"); res.Close() != nil {
		t.Fatal("select after failed copies failed")
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("reader broke") }

// TestCopyInProtocol drives COPY FROM STDIN message by message: Flush and Sync are ignored
// during the copy, another message aborts it, and copy messages after a failed copy are
// dropped.
func TestCopyInProtocol(t *testing.T) {
	ts := startServer(t, Config{})
	c := connectRaw(t, ts.addr)

	c.send(&pgproto3.Query{String: "copyin"})
	c.expect("CopyInResponse")
	c.send(&pgproto3.CopyData{Data: []byte("ab")}, &pgproto3.Flush{}, &pgproto3.Sync{}, &pgproto3.CopyData{Data: []byte("cd")}, &pgproto3.CopyDone{})
	c.expect("CommandComplete COPY 4", "ReadyForQuery I")

	c.send(&pgproto3.Query{String: "copyin"})
	c.expect("CopyInResponse")
	c.send(&pgproto3.Query{String: "select 1"})
	c.expect("ErrorResponse ERROR 08P01 unexpected message type 0x51 during COPY from stdin", "ReadyForQuery I")

	c.send(&pgproto3.Query{String: "copyin"})
	c.expect("CopyInResponse")
	c.send(&pgproto3.CopyData{Data: []byte("bad")})
	c.expect("ErrorResponse ERROR 22P02 bad data", "ReadyForQuery I")
	// What the client sent before it saw the error is dropped without a reply.
	c.send(&pgproto3.CopyData{Data: []byte("late")}, &pgproto3.CopyDone{}, &pgproto3.Query{String: "select 1"})
	c.expect("RowDescription", "DataRow", "CommandComplete SELECT 1", "ReadyForQuery I")

	c.send(&pgproto3.Query{String: "copyout 2"})
	c.expect("CopyOutResponse", "CopyData", "CopyData", "CopyDone", "CommandComplete COPY 2", "ReadyForQuery I")

	// A connection that drops during a copy ends the session.
	c.send(&pgproto3.Query{String: "copyin"})
	c.expect("CopyInResponse")
	c.conn.Close()
	waitFor(t, "the session to end", func() bool { return ts.NumConnections() == 0 })
}

// reportingBackend is a fake backend whose "setparam" changes a reported parameter.
type reportingBackend struct {
	*fakeBackend
	app      string
	reported string
}

func (b *reportingBackend) SimpleQuery(ctx context.Context, query string, w ResultWriter) error {
	if name, ok := strings.CutPrefix(query, "setparam "); ok {
		b.app = name
		return w.Complete("SET")
	}
	return b.fakeBackend.SimpleQuery(ctx, query, w)
}

func (b *reportingBackend) StartupParameters() []Parameter {
	b.reported = b.app
	return []Parameter{{"application_name", b.app}, {"TimeZone", "Europe/Berlin"}, {"server_version", "99.0"}}
}

func (b *reportingBackend) ChangedParameters() []Parameter {
	if b.app == b.reported {
		return nil
	}
	b.reported = b.app
	return []Parameter{{"application_name", b.app}}
}

func TestParameterReporter(t *testing.T) {
	env := newFakeEnv()
	ts := startServer(t, Config{NewBackend: func(ctx context.Context, user, database string, params map[string]string) (Backend, error) {
		b, err := env.newBackend(ctx, user, database, params)
		if err != nil {
			return nil, err
		}
		return &reportingBackend{fakeBackend: b.(*fakeBackend), app: "start"}, nil
	}})
	c := ts.connect(t, "")
	ctx := context.Background()
	for name, want := range map[string]string{"application_name": "start", "TimeZone": "Europe/Berlin", "server_version": "99.0", "server_encoding": "UTF8"} {
		if got := c.ParameterStatus(name); got != want {
			t.Errorf("startup %s = %q, want %q", name, got, want)
		}
	}
	if err := c.Exec(ctx, "setparam changed").Close(); err != nil {
		t.Fatal(err)
	}
	if got := c.ParameterStatus("application_name"); got != "changed" {
		t.Fatalf("application_name after the change = %q", got)
	}
}
