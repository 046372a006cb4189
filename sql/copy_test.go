package sql_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/meridiandb/meridian/server"
)

// connectPgx opens a pgx connection to n as root.
func connectPgx(t *testing.T, n *server.Node) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, n.SQLURL("root"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// TestCopyFromBinary loads rows with pgx's CopyFrom, which uses the binary format, and reads
// them back.
func TestCopyFromBinary(t *testing.T) {
	n := startNode(t)
	conn := connectPgx(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := conn.Exec(ctx, `CREATE TABLE kinds (
		id INT8 PRIMARY KEY, i2 INT2, i4 INT4, f FLOAT8, r REAL, num NUMERIC(10,2), b BOOL,
		s TEXT, vc VARCHAR(5), by BYTEA, d DATE, ts TIMESTAMP, tz TIMESTAMPTZ, u UUID, j JSONB,
		arr INT4[], filled TEXT DEFAULT 'dflt')`); err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC)
	num := pgtype.Numeric{}
	if err := num.Scan("1234.5"); err != nil {
		t.Fatal(err)
	}
	uuid := [16]byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8}
	cols := []string{"id", "i2", "i4", "f", "r", "num", "b", "s", "vc", "by", "d", "ts", "tz", "u", "j", "arr"}
	rows := [][]any{
		{int64(1), int16(-2), int32(3), 1.5, float32(0.25), num, true, "héllo\ttab", "abc", []byte{0, 1, 0xff}, ts, ts, ts, uuid, map[string]any{"k": []any{1.0, "x"}}, []int32{1, 2}},
		{int64(2), nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
	}
	for i := int64(3); i <= 2500; i++ {
		rows = append(rows, []any{i, int16(i % 100), int32(i), float64(i) / 4, nil, nil, i%2 == 0, fmt.Sprint("row ", i), nil, nil, nil, nil, nil, nil, nil, nil})
	}
	copied, err := conn.CopyFrom(ctx, pgx.Identifier{"kinds"}, cols, pgx.CopyFromRows(rows))
	if err != nil {
		t.Fatal(err)
	}
	if copied != int64(len(rows)) {
		t.Fatalf("copied %d rows, want %d", copied, len(rows))
	}
	var count, sum int64
	if err := conn.QueryRow(ctx, "SELECT count(*), sum(i4) FROM kinds").Scan(&count, &sum); err != nil {
		t.Fatal(err)
	}
	if count != 2500 || sum != 3+(3+2500)*2498/2 {
		t.Fatalf("count %d sum %d", count, sum)
	}
	var got []string
	r, err := conn.Query(ctx, "SELECT i2, i4, f, r, num, b, s, vc, by, d, ts, tz, u, j, arr, filled FROM kinds WHERE id = 1", pgx.QueryResultFormats{pgx.TextFormatCode})
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		for _, v := range r.RawValues() {
			got = append(got, string(v))
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{"-2", "3", "1.5", "0.25", "1234.50", "t", "héllo\ttab", "abc", `\x0001ff`, "2024-02-29",
		"2024-02-29 13:14:15.123456", "2024-02-29 13:14:15.123456+00", "12345678-9abc-def0-0102-030405060708",
		`{"k": [1, "x"]}`, "{1,2}", "dflt"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("row 1:\n got %q\nwant %q", got, want)
	}
	var allNull bool
	if err := conn.QueryRow(ctx, "SELECT i2 IS NULL AND s IS NULL AND tz IS NULL AND arr IS NULL AND filled = 'dflt' FROM kinds WHERE id = 2").Scan(&allNull); err != nil || !allNull {
		t.Fatalf("row 2: %v %v", allNull, err)
	}

	// A value too long for its column fails the COPY with the row and column named.
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"kinds"}, []string{"id", "vc"}, pgx.CopyFromRows([][]any{{int64(10000), "ok"}, {int64(10001), "too long"}}))
	if pe := pgErr(err); pe.Code != "22001" || pe.Where != "COPY kinds, line 2, column vc" {
		t.Fatalf("got %v (%+v)", err, pe)
	}
	// A duplicate key.
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"kinds"}, []string{"id"}, pgx.CopyFromRows([][]any{{int64(10000)}, {int64(1)}}))
	if pe := pgErr(err); pe.Code != "23505" {
		t.Fatalf("got %v", err)
	}
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM kinds").Scan(&count); err != nil || count != 2500 {
		t.Fatalf("after failed copies: %d rows, %v", count, err)
	}
}

// TestCopyFromReaders feeds COPY FROM STDIN text and CSV through pgconn, including line
// ends other than \n and data in many small CopyData messages.
func TestCopyFromReaders(t *testing.T) {
	n := startNode(t)
	c := connect(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mustQuery(t, c, "CREATE TABLE r (id INT PRIMARY KEY, v TEXT, n INT)")

	for _, tc := range []struct {
		name, stmt, data string
	}{
		{"text crlf", "COPY r FROM STDIN", "1\ta\\r\\nb\t10\r\n2\t\\N\t20\r\n"},
		{"text cr", "COPY r FROM STDIN", "3\tx\t30\r4\ty\t40\r"},
		{"text no final newline", "COPY r FROM STDIN", "5\tlast\t50"},
		{"text escaped newline", "COPY r FROM STDIN", "6\tline\\\nbreak\t60\n"},
		{"csv crlf", "COPY r FROM STDIN WITH (FORMAT csv)", "7,\"multi\r\nline\",70\r\n8,,80\r\n"},
		{"csv header old syntax", "COPY r (n, id, v) FROM STDIN WITH CSV HEADER", "n,id,v\n90,9,\"q\"\"uote\"\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// iotest.OneByteReader would send a CopyData message per byte: pgconn sends each
			// Read as one message.
			tag, err := c.CopyFrom(ctx, &oneByteReader{strings.NewReader(tc.data)}, tc.stmt)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(tag.String(), "COPY ") {
				t.Fatalf("tag %q", tag)
			}
		})
	}
	var out bytes.Buffer
	if _, err := c.CopyTo(ctx, &out, "COPY r TO STDOUT"); err != nil {
		t.Fatal(err)
	}
	want := "1\ta\\r\\nb\t10\n2\t\\N\t20\n3\tx\t30\n4\ty\t40\n5\tlast\t50\n6\tline\\nbreak\t60\n7\tmulti\\r\\nline\t70\n8\t\\N\t80\n9\tq\"uote\t90\n"
	if out.String() != want {
		t.Fatalf("COPY TO:\n%q\nwant\n%q", out.String(), want)
	}
	out.Reset()
	if _, err := c.CopyTo(ctx, &out, "COPY r (id, v) TO STDOUT (FORMAT csv, HEADER)"); err != nil {
		t.Fatal(err)
	}
	want = "id,v\n1,\"a\r\nb\"\n2,\n3,x\n4,y\n5,last\n6,\"line\nbreak\"\n7,\"multi\r\nline\"\n8,\n9,\"q\"\"uote\"\n"
	if out.String() != want {
		t.Fatalf("COPY TO csv:\n%q\nwant\n%q", out.String(), want)
	}

	// Line ends must stay in the style of the first line.
	_, err := c.CopyFrom(ctx, strings.NewReader("20\ta\t1\n21\tb\t2\r\n"), "COPY r FROM STDIN")
	if pe := pgErr(err); pe.Code != "22P04" || pe.Message != "literal carriage return found in data" ||
		pe.Hint != `Use "\r" to represent carriage return.` || pe.Where != "COPY r, line 2" {
		t.Fatalf("got %v %+v", err, pe)
	}
}

// oneByteReader reads one byte at a time.
type oneByteReader struct{ r io.Reader }

func (o *oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

// TestCopyFromLarge loads 100,000 rows in one implicit transaction, then shows the COPY is
// one transaction: a COPY that fails at its last row leaves nothing behind.
func TestCopyFromLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 100,000 rows")
	}
	n := startNode(t)
	c := connect(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	mustQuery(t, c, "CREATE TABLE big (id INT PRIMARY KEY, payload TEXT NOT NULL, created TIMESTAMPTZ DEFAULT now())")
	rows := 100_000
	if raceEnabled {
		rows = 10_000 // the race detector's slowdown would make 100,000 rows take minutes
	}
	data := func(last string) io.Reader {
		pr, pw := io.Pipe()
		go func() {
			var b bytes.Buffer
			for i := 1; i <= rows; i++ {
				if i == rows && last != "" {
					b.WriteString(last)
				} else {
					fmt.Fprintf(&b, "%d,payload number %d\n", i, i)
				}
				if b.Len() > 32<<10 {
					pw.Write(b.Bytes())
					b.Reset()
				}
			}
			pw.Write(b.Bytes())
			pw.Close()
		}()
		return pr
	}
	start := time.Now()
	tag, err := c.CopyFrom(ctx, data(""), "COPY big (id, payload) FROM STDIN WITH (FORMAT csv)")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("COPY of %d rows took %s", rows, time.Since(start))
	if tag.String() != fmt.Sprintf("COPY %d", rows) {
		t.Fatalf("tag %q", tag)
	}
	start = time.Now()
	if got, err := query(ctx, c, "SELECT count(*) FROM big"); err != nil || got[0][0] != fmt.Sprint(rows) {
		t.Fatalf("count %v %v", got, err)
	}
	t.Logf("count took %s", time.Since(start))
	// Every row got the same now(): one transaction.
	if got := one(t, c, "SELECT count(DISTINCT created) FROM big"); got != "1" {
		t.Fatalf("%s distinct creation times", got)
	}

	mustQuery(t, c, "CREATE TABLE big2 (id INT PRIMARY KEY, payload TEXT NOT NULL)")
	// The last line's payload is the NULL string.
	_, err = c.CopyFrom(ctx, data(fmt.Sprintf("%d,\n", rows)), "COPY big2 (id, payload) FROM STDIN WITH (FORMAT csv)")
	if pe := pgErr(err); pe.Code != "23502" || pe.Where != fmt.Sprintf(`COPY big2, line %d: "%d,"`, rows, rows) {
		t.Fatalf("got %v %+v", err, pe)
	}
	if got := one(t, c, "SELECT count(*) FROM big2"); got != "0" {
		t.Fatalf("after the failed COPY: %s rows", got)
	}
}

// TestCopyErrorsKeepSessionUsable: a COPY that fails mid-stream is reported at once (the
// client stops sending), a CopyFail aborts it, and the session carries on either way.
func TestCopyErrorsKeepSessionUsable(t *testing.T) {
	n := startNode(t)
	c := connect(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mustQuery(t, c, "CREATE TABLE e (a INT PRIMARY KEY, b INT)")

	// The bad value is on line 3 of an endless stream: the error must come back without the
	// stream ending.
	endless := io.MultiReader(strings.NewReader("1\t1\n2\t2\nx\t3\n"), &repeatReader{line: []byte("4\t4\n")})
	_, err := c.CopyFrom(ctx, endless, "COPY e FROM STDIN")
	pe := pgErr(err)
	if pe.Code != "22P02" || pe.Message != `invalid input syntax for type integer: "x"` || pe.Where != `COPY e, line 3, column a: "x"` {
		t.Fatalf("got %v %+v", err, pe)
	}
	if got := one(t, c, "SELECT count(*) FROM e"); got != "0" {
		t.Fatalf("count %s", got)
	}

	// pgconn turns a failing reader into CopyFail.
	failing := io.MultiReader(strings.NewReader("1\t1\n"), &errReader{errors.New("disk on fire")})
	_, err = c.CopyFrom(ctx, failing, "COPY e FROM STDIN")
	if pe := pgErr(err); pe.Code != "57014" || pe.Message != "COPY from stdin failed: disk on fire" {
		t.Fatalf("got %v", err)
	}

	// In a transaction, the failure fails the transaction, which must be rolled back.
	mustQuery(t, c, "BEGIN")
	if _, err := c.CopyFrom(ctx, strings.NewReader("5\t5\n"), "COPY e FROM STDIN"); err != nil {
		t.Fatal(err)
	}
	_, err = c.CopyFrom(ctx, strings.NewReader("6\tsix\n"), "COPY e FROM STDIN")
	if pe := pgErr(err); pe.Code != "22P02" {
		t.Fatalf("got %v", err)
	}
	if _, err := query(ctx, c, "SELECT 1"); pgErr(err).Code != "25P02" {
		t.Fatalf("got %v", err)
	}
	mustQuery(t, c, "ROLLBACK")
	mustQuery(t, c, "INSERT INTO e VALUES (7, 7)")
	if got := one(t, c, "SELECT count(*) FROM e"); got != "1" {
		t.Fatalf("count %s", got)
	}

	// COPY TO in text, CSV and binary.
	var out bytes.Buffer
	if tag, err := c.CopyTo(ctx, &out, "COPY e TO STDOUT (FORMAT binary)"); err != nil || tag.String() != "COPY 1" {
		t.Fatal(tag, err)
	}
	wantBinary := "PGCOPY\n\xff\r\n\x00" + "\x00\x00\x00\x00\x00\x00\x00\x00" +
		"\x00\x02" + "\x00\x00\x00\x04\x00\x00\x00\x07" + "\x00\x00\x00\x04\x00\x00\x00\x07" + "\xff\xff"
	if out.String() != wantBinary {
		t.Fatalf("binary COPY TO: %q", out.String())
	}
	// And binary COPY FROM reads it back.
	mustQuery(t, c, "DELETE FROM e WHERE a = 7")
	if tag, err := c.CopyFrom(ctx, strings.NewReader(wantBinary), "COPY e FROM STDIN WITH BINARY"); err != nil || tag.String() != "COPY 1" {
		t.Fatal(tag, err)
	}
	for _, tc := range []struct{ data, msg string }{
		{"PGCOPY\n", "COPY file signature not recognized"},
		{wantBinary[:19] + "\x00\x03", "row field count is 3, expected 2"},
		{wantBinary[:19] + "\x00\x02\x00\x00", "unexpected EOF in COPY data"},
		{wantBinary + "x", "received copy data after EOF marker"},
	} {
		_, err := c.CopyFrom(ctx, strings.NewReader(tc.data), "COPY e FROM STDIN (FORMAT binary)")
		if pe := pgErr(err); pe.Code != "22P04" || pe.Message != tc.msg {
			t.Errorf("%q: got %v", tc.data, err)
		}
	}
	if got := one(t, c, "SELECT a || ',' || b FROM e"); got != "7,7" {
		t.Fatalf("got %s", got)
	}
}

// repeatReader repeats a line forever.
type repeatReader struct{ line []byte }

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n+len(r.line) <= len(p) {
		n += copy(p[n:], r.line)
	}
	return n, nil
}

type errReader struct{ err error }

func (r *errReader) Read([]byte) (int, error) { return 0, r.err }

// TestCopyPsql drives \copy, which sends COPY FROM STDIN and COPY TO STDOUT, from psql.
func TestCopyPsql(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Skip("psql is not installed (scripts/install-deps installs it)")
	}
	n := startNode(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(in, []byte("id,name\n1,ann\n2,\"b, c\"\n3,\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.txt")
	script := fmt.Sprintf(`CREATE TABLE people (id INT PRIMARY KEY, name TEXT);
\copy people FROM '%s' WITH CSV HEADER
\copy people TO '%s'
\copy (SELECT name FROM people WHERE id = 2) TO STDOUT WITH CSV
`, in, out)
	cmd := exec.Command(psql, "-X", "-v", "ON_ERROR_STOP=1", "-q", n.SQLURL("root"))
	cmd.Stdin = strings.NewReader(script)
	res, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, res)
	}
	if string(res) != "\"b, c\"\n" {
		t.Fatalf("psql output %q", res)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := "1\tann\n2\tb, c\n3\t\\N\n"; string(got) != want {
		t.Fatalf("\\copy TO wrote %q, want %q", got, want)
	}
	// An error in the data: psql reports it with its context and goes on with the session.
	bad := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(bad, []byte("10\tok\nnot a number\tx\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(psql, "-X", "-q", n.SQLURL("root"))
	cmd.Stdin = strings.NewReader(fmt.Sprintf("\\copy people FROM '%s'\nSELECT count(*) FROM people;\n", bad))
	res, _ = cmd.CombinedOutput()
	for _, want := range []string{
		`ERROR:  invalid input syntax for type integer: "not a number"`,
		`CONTEXT:  COPY people, line 2, column id: "not a number"`,
		"     3\n",
	} {
		if !strings.Contains(string(res), want) {
			t.Errorf("psql output lacks %q:\n%s", want, res)
		}
	}
}

// TestCopyExtendedProtocol runs COPY through Parse/Bind/Execute, as PostgreSQL allows: the
// statement describes as NoData, Execute starts the copy, and Sync follows CopyDone.
func TestCopyExtendedProtocol(t *testing.T) {
	n := startNode(t)
	c := connect(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mustQuery(t, c, "CREATE TABLE x (a INT PRIMARY KEY, b TEXT)")
	fe := c.Frontend()
	expect := func(want ...string) {
		t.Helper()
		for _, w := range want {
			msg, err := c.ReceiveMessage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got := fmt.Sprintf("%T", msg)
			if cc, ok := msg.(*pgproto3.CommandComplete); ok {
				got += " " + string(cc.CommandTag)
			}
			if e, ok := msg.(*pgproto3.ErrorResponse); ok {
				got += " " + e.Code
			}
			if got != w {
				t.Fatalf("got %s, want %s", got, w)
			}
		}
	}
	fe.Send(&pgproto3.Parse{Query: "COPY x FROM STDIN WITH (FORMAT csv)"})
	fe.Send(&pgproto3.Bind{})
	fe.Send(&pgproto3.Describe{ObjectType: 'P'})
	fe.Send(&pgproto3.Execute{})
	fe.Send(&pgproto3.Flush{})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	expect("*pgproto3.ParseComplete", "*pgproto3.BindComplete", "*pgproto3.NoData", "*pgproto3.CopyInResponse")
	fe.Send(&pgproto3.CopyData{Data: []byte("1,one\n2,two\n")})
	fe.Send(&pgproto3.CopyDone{})
	fe.Send(&pgproto3.Sync{})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	expect("*pgproto3.CommandComplete COPY 2", "*pgproto3.ReadyForQuery")

	// COPY TO through Execute.
	fe.Send(&pgproto3.Parse{Query: "COPY x TO STDOUT"})
	fe.Send(&pgproto3.Bind{})
	fe.Send(&pgproto3.Execute{})
	fe.Send(&pgproto3.Sync{})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	expect("*pgproto3.ParseComplete", "*pgproto3.BindComplete", "*pgproto3.CopyOutResponse",
		"*pgproto3.CopyData", "*pgproto3.CopyData", "*pgproto3.CopyDone", "*pgproto3.CommandComplete COPY 2", "*pgproto3.ReadyForQuery")

	// An error during an extended-protocol COPY skips to the Sync.
	fe.Send(&pgproto3.Parse{Query: "COPY x FROM STDIN"})
	fe.Send(&pgproto3.Bind{})
	fe.Send(&pgproto3.Execute{})
	fe.Send(&pgproto3.Flush{})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	expect("*pgproto3.ParseComplete", "*pgproto3.BindComplete", "*pgproto3.CopyInResponse")
	fe.Send(&pgproto3.CopyData{Data: []byte("3\tthree\nfour\t4\n")})
	fe.Send(&pgproto3.CopyDone{})
	fe.Send(&pgproto3.Sync{})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	expect("*pgproto3.ErrorResponse 22P02", "*pgproto3.ReadyForQuery")
	if got := one(t, c, "SELECT count(*) FROM x"); got != "2" {
		t.Fatalf("count %s", got)
	}
}
