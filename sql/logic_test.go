package sql_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/meridiandb/meridian/server"
	"github.com/meridiandb/meridian/sql/catalog"
)

// startNode runs a single-node Meridian on a temporary store for one test.
func startNode(t testing.TB) *server.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := server.Start(ctx, server.Config{StoreDir: t.TempDir(), ListenAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	return n
}

// userURL is the connection URL of user (with password, if not empty) on n's database.
func userURL(n *server.Node, user, password, database string) string {
	u := url.URL{Scheme: "postgresql", Host: n.SQLAddr(), Path: "/" + database, RawQuery: "sslmode=disable"}
	u.User = url.User(user)
	if password != "" {
		u.User = url.UserPassword(user, password)
	}
	return u.String()
}

// TestLogic runs the SQL logic tests in testdata/logic: each file is a session of statements
// against a fresh node, with the exact output a PostgreSQL client would see.
//
//	sql
//	SELECT 1
//	----
//	?column?
//	1
//	SELECT 1
//
// Errors print as "ERROR <SQLSTATE>: <message>", followed, with the argument details, by their
// DETAIL and HINT as psql shows them. Run with -rewrite to regenerate, then review.
//
// Statements run as root unless a session is opened with user= (and password=); the connect
// command tries a connection alone (user=, password=, database=) and prints "ok" or its error.
func TestLogic(t *testing.T) {
	datadriven.Walk(t, "testdata/logic", func(t *testing.T, path string) {
		n := startNode(t)
		ctx := context.Background()
		conns := map[string]*pgconn.PgConn{}
		conn := func(name, user, password string) *pgconn.PgConn {
			if c, ok := conns[name]; ok {
				return c
			}
			c, err := pgconn.Connect(ctx, userURL(n, user, password, catalog.DefaultDatabase))
			if err != nil {
				t.Fatalf("%s: connect: %v", filepath.Base(path), err)
			}
			conns[name] = c
			t.Cleanup(func() { c.Close(context.Background()) })
			return c
		}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			session, user, password, database := "default", "root", "", catalog.DefaultDatabase
			for _, a := range []struct {
				key string
				dst *string
			}{{"session", &session}, {"user", &user}, {"password", &password}, {"database", &database}} {
				if d.HasArg(a.key) {
					d.ScanArgs(t, a.key, a.dst)
				}
			}
			if d.Cmd == "connect" {
				// A connection attempt on its own: "ok", or the error that refused it.
				c, err := pgconn.Connect(ctx, userURL(n, user, password, database))
				if err != nil {
					// The driver wraps the server's error with the address, which changes.
					var pe *pgconn.PgError
					if errors.As(err, &pe) {
						err = pe
					}
					var sb strings.Builder
					writeErr(&sb, err)
					return sb.String()
				}
				c.Close(ctx)
				return "ok\n"
			}
			c := conn(session, user, password)
			switch d.Cmd {
			case "sql":
				return runSimple(ctx, c, d.Input, d.HasArg("details"))
			case "prepared":
				return runExtended(ctx, c, d)
			case "copy":
				return runCopy(ctx, c, d.Input)
			case "status":
				return fmt.Sprintf("%c\n", c.TxStatus())
			}
			d.Fatalf(t, "unknown command %q", d.Cmd)
			return ""
		})
	})
}

// copyToStdout tells COPY ... TO STDOUT from COPY ... FROM STDIN.
var copyToStdout = regexp.MustCompile(`(?i)\bto\s+stdout\b`)

// runCopy runs a COPY: the input's first line is the statement, the rest the data it reads
// (each line ending with a newline); the output is the data it writes, then its tag or error.
func runCopy(ctx context.Context, c *pgconn.PgConn, input string) string {
	stmt, data, _ := strings.Cut(input, "\n")
	var sb strings.Builder
	var tag pgconn.CommandTag
	var err error
	if copyToStdout.MatchString(stmt) {
		var out bytes.Buffer
		tag, err = c.CopyTo(ctx, &out, stmt)
		sb.Write(out.Bytes())
	} else {
		if data != "" {
			data += "\n"
		}
		tag, err = c.CopyFrom(ctx, strings.NewReader(data), stmt)
	}
	if err != nil {
		writeErr(&sb, err)
		if pe, ok := err.(*pgconn.PgError); ok && pe.Hint != "" {
			fmt.Fprintf(&sb, "HINT: %s\n", pe.Hint)
		}
		return sb.String()
	}
	return sb.String() + tag.String() + "\n"
}

func runSimple(ctx context.Context, c *pgconn.PgConn, sql string, details bool) string {
	var sb strings.Builder
	mrr := c.Exec(ctx, sql)
	for mrr.NextResult() {
		writeResult(&sb, mrr.ResultReader())
	}
	if err := mrr.Close(); err != nil {
		writeErr(&sb, err)
		if pe, ok := err.(*pgconn.PgError); ok && details {
			writeDetails(&sb, pe)
		}
	}
	return sb.String()
}

// runExtended runs one statement through Parse/Bind/Execute with the arguments given as
// args=(a,b,...), all in text format.
func runExtended(ctx context.Context, c *pgconn.PgConn, d *datadriven.TestData) string {
	var args [][]byte
	for _, a := range d.CmdArgs {
		if a.Key != "args" {
			continue
		}
		for _, v := range a.Vals {
			if v == "NULL" {
				args = append(args, nil)
			} else {
				args = append(args, []byte(v))
			}
		}
	}
	var sb strings.Builder
	rr := c.ExecParams(ctx, d.Input, args, nil, nil, nil)
	writeResult(&sb, rr)
	return sb.String()
}

func writeResult(sb *strings.Builder, rr *pgconn.ResultReader) {
	fields := rr.FieldDescriptions()
	if len(fields) > 0 {
		names := make([]string, len(fields))
		for i, f := range fields {
			names[i] = f.Name
		}
		sb.WriteString(strings.Join(names, " | ") + "\n")
	}
	for rr.NextRow() {
		vals := rr.Values()
		parts := make([]string, len(vals))
		for i, v := range vals {
			if v == nil {
				parts[i] = "NULL"
			} else {
				parts[i] = executionTime.ReplaceAllString(string(v), "${1}<time>")
			}
		}
		sb.WriteString(strings.Join(parts, " | ") + "\n")
	}
	tag, err := rr.Close()
	if err != nil {
		writeErr(sb, err)
		return
	}
	sb.WriteString(tag.String() + "\n")
}

// txnIDs are redacted from messages: they differ from run to run.
var txnIDs = regexp.MustCompile(`\(([0-9a-f]{8})\)`)

// Details name transactions without parentheses too, and timestamps: they are redacted as well.
var (
	detailTxnIDs = regexp.MustCompile(`(transaction:? )[0-9a-f]{8}\b`)
	timestamps   = regexp.MustCompile(`\b\d{10,}\.\d{9},\d+\b`)
	// executionTime is EXPLAIN ANALYZE's timing, which differs from run to run.
	executionTime = regexp.MustCompile(`^(execution time: ).*$`)
)

func redact(s string) string {
	s = txnIDs.ReplaceAllString(s, "(<txn>)")
	s = detailTxnIDs.ReplaceAllString(s, "${1}<txn>")
	return timestamps.ReplaceAllString(s, "<ts>")
}

func writeDetails(sb *strings.Builder, pe *pgconn.PgError) {
	if pe.Detail != "" {
		fmt.Fprintf(sb, "DETAIL: %s\n", redact(pe.Detail))
	}
	if pe.Hint != "" {
		fmt.Fprintf(sb, "HINT: %s\n", redact(pe.Hint))
	}
}

func writeErr(sb *strings.Builder, err error) {
	if pe, ok := err.(*pgconn.PgError); ok {
		fmt.Fprintf(sb, "ERROR %s: %s\n", pe.Code, txnIDs.ReplaceAllString(pe.Message, "(<txn>)"))
		if pe.Where != "" {
			fmt.Fprintf(sb, "CONTEXT: %s\n", pe.Where)
		}
		return
	}
	fmt.Fprintf(sb, "ERROR: %v\n", err)
}
