package sql_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/meridiandb/meridian/server"
)

// TestResultsStream shows that a query's rows go to the client as they are produced: with
// a statement memory budget far below the result's size, a query whose operators hold no
// rows still returns every row (in both protocols), a sort continues on disk, and a hash
// join whose one key's rows alone exceed the budget fails with 53200 and leaves the session
// usable.
func TestResultsStream(t *testing.T) {
	ctx, conn := bigTableSession(t)
	// About 3 MB of table rows and 40 MB of generated ones, against a 256 kB budget.
	for _, tc := range []struct {
		query string
		rows  int64
	}{
		{"SELECT id, pad FROM big", 20000},
		{"SELECT g, g * 2 FROM generate_series(1, 1000000) AS g", 1000000},
		{"SELECT b.id FROM big b WHERE b.id % 2 = 0", 10000},
	} {
		for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
			rows, err := conn.Query(ctx, tc.query, mode)
			if err != nil {
				t.Fatalf("%s: %v", tc.query, err)
			}
			var got int64
			for rows.Next() {
				got++
			}
			if err := rows.Err(); err != nil {
				t.Fatalf("%s (mode %v): %v", tc.query, mode, err)
			}
			if got != tc.rows {
				t.Fatalf("%s (mode %v): %d rows, want %d", tc.query, mode, got, tc.rows)
			}
		}
	}
	// A sort spills to disk past the budget: every row comes back, in order.
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		rows, err := conn.Query(ctx, "SELECT id, pad FROM big ORDER BY pad, id DESC", mode)
		if err != nil {
			t.Fatal(err)
		}
		want := int64(20000)
		for rows.Next() {
			var id int64
			var pad string
			if err := rows.Scan(&id, &pad); err != nil {
				t.Fatal(err)
			}
			if id != want {
				t.Fatalf("sorted on disk (mode %v): id %d where %d was due", mode, id, want)
			}
			want--
		}
		if err := rows.Err(); err != nil || want != 0 {
			t.Fatalf("sorted on disk (mode %v): %v, %d rows missing", mode, err, want)
		}
	}
	// A hash join goes to disk in partitions by key, but every row here has the same key:
	// one partition holds them all, and does not fit.
	_, err := conn.Exec(ctx, "SELECT count(*) FROM big a JOIN big b ON a.pad = b.pad || ''")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "53200" || !strings.Contains(pe.Detail, "partitions") {
		t.Fatalf("hash join of one key over budget: got %v, want 53200 with a detail on partitions", err)
	}
	var count int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM big").Scan(&count); err != nil || count != 20000 {
		t.Fatalf("after the budget errors: count %d, %v", count, err)
	}
}

// TestPulledResultsStream shows that the ways a client takes a result a batch at a time
// hold no more of it than a batch: a portal executed with a row limit, a cursor's FETCH,
// and COPY (query) TO each return 20,000 rows (3 MB) under a 256 kB statement budget,
// where holding the result whole fails with 53200. Portals interleave in one transaction,
// and a portal left suspended does not outlive it.
func TestPulledResultsStream(t *testing.T) {
	ctx, conn := bigTableSession(t)
	// A protocol exchange that goes wrong fails instead of waiting for a message forever.
	if err := conn.PgConn().Conn().SetDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	exec := func(sql string) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	const query = "SELECT id, pad FROM big"

	t.Run("portal", func(t *testing.T) {
		p := rawConn{t: t, ctx: ctx, fe: conn.PgConn().Frontend()}
		p.send(&pgproto3.Parse{Name: "s", Query: query}, &pgproto3.Bind{DestinationPortal: "p", PreparedStatement: "s"})
		var ids []string
		for {
			p.send(&pgproto3.Execute{Portal: "p", MaxRows: 1500}, &pgproto3.Flush{})
			rows, end := p.rows()
			if len(rows) > 1500 {
				t.Fatalf("an Execute for 1500 rows sent %d", len(rows))
			}
			ids = append(ids, rows...)
			if end != "PortalSuspended" {
				if end != "CommandComplete SELECT 20000" {
					t.Fatalf("portal ended with %s after %d rows", end, len(ids))
				}
				break
			}
		}
		if len(ids) != 20000 || ids[0] != "1" || ids[19999] != "20000" {
			t.Fatalf("portal returned %d rows (%v ... %v)", len(ids), ids[:1], ids[len(ids)-1:])
		}
		p.send(&pgproto3.Sync{})
		p.expect("ReadyForQuery I")
	})

	t.Run("interleaved portals", func(t *testing.T) {
		p := rawConn{t: t, ctx: ctx, fe: conn.PgConn().Frontend()}
		p.send(&pgproto3.Query{String: "BEGIN"})
		p.expect("CommandComplete BEGIN", "ReadyForQuery T")
		p.send(&pgproto3.Parse{Name: "a", Query: query + " WHERE id <= 10"}, &pgproto3.Bind{DestinationPortal: "a", PreparedStatement: "a"},
			&pgproto3.Parse{Name: "b", Query: query + " WHERE id > 19990"}, &pgproto3.Bind{DestinationPortal: "b", PreparedStatement: "b"},
			&pgproto3.Sync{})
		p.expect("ParseComplete", "BindComplete", "ParseComplete", "BindComplete", "ReadyForQuery T")
		var got []string
		for i := 0; i < 5; i++ {
			for _, portal := range []string{"a", "b"} {
				p.send(&pgproto3.Execute{Portal: portal, MaxRows: 2}, &pgproto3.Sync{})
				rows, end := p.rows()
				got = append(got, rows...)
				// The last Execute sees the end of the rows: it completes the portal.
				if want := map[bool]string{false: "PortalSuspended", true: "CommandComplete SELECT 10"}[i == 4]; end != want {
					t.Fatalf("portal %s's Execute %d ended with %s, want %s", portal, i+1, end, want)
				}
				p.expect("ReadyForQuery T")
			}
		}
		if want := "1 2 19991 19992 3 4 19993 19994 5 6 19995 19996 7 8 19997 19998 9 10 19999 20000"; strings.Join(got, " ") != want {
			t.Fatalf("interleaved rows %v, want %s", got, want)
		}
		// A failed statement fails the transaction, and the suspended portals with it.
		p.send(&pgproto3.Query{String: "SELECT 1/0"})
		p.expect("ErrorResponse 22012", "ReadyForQuery E")
		p.send(&pgproto3.Execute{Portal: "a"}, &pgproto3.Sync{})
		p.expect("ErrorResponse 25P02", "ReadyForQuery E")
		p.send(&pgproto3.Query{String: "ROLLBACK"})
		p.expect("CommandComplete ROLLBACK", "ReadyForQuery I")
		// The portals ended with their transaction.
		p.send(&pgproto3.Execute{Portal: "b"}, &pgproto3.Sync{})
		p.expect("ErrorResponse 34000", "ReadyForQuery I")
	})

	t.Run("statement_timeout per Execute", func(t *testing.T) {
		// PostgreSQL times each Execute, not the portal's whole life: a client that takes
		// longer than the timeout between batches still gets the rest.
		p := rawConn{t: t, ctx: ctx, fe: conn.PgConn().Frontend()}
		p.send(&pgproto3.Query{String: "SET statement_timeout = '1s'"})
		p.expect("CommandComplete SET", "ReadyForQuery I")
		p.send(&pgproto3.Parse{Query: query}, &pgproto3.Bind{})
		// The second batch goes past the rows held back at the start (256 kB): the scan
		// resumes after the pause.
		var got []string
		for _, limit := range []uint32{2, 5000} {
			p.send(&pgproto3.Execute{MaxRows: limit}, &pgproto3.Flush{})
			rows, end := p.rows()
			if end != "PortalSuspended" {
				t.Fatalf("Execute ended with %s after %d rows", end, len(got)+len(rows))
			}
			got = append(got, rows...)
			time.Sleep(1500 * time.Millisecond)
		}
		p.send(&pgproto3.Sync{}, &pgproto3.Query{String: "RESET statement_timeout"})
		p.expect("ReadyForQuery I", "CommandComplete RESET", "ReadyForQuery I")
		if len(got) != 5002 || got[5001] != "5002" {
			t.Fatalf("%d rows, want 5002", len(got))
		}
	})

	t.Run("cursor", func(t *testing.T) {
		exec("BEGIN")
		exec("DECLARE c CURSOR FOR " + query)
		var got, last int64
		for {
			rows, err := conn.Query(ctx, "FETCH 1500 FROM c", pgx.QueryExecModeSimpleProtocol)
			if err != nil {
				t.Fatal(err)
			}
			var batch int64
			for rows.Next() {
				if err := rows.Scan(&last, new(string)); err != nil {
					t.Fatal(err)
				}
				batch++
			}
			if err := rows.Err(); err != nil {
				t.Fatalf("FETCH after %d rows: %v", got, err)
			}
			if batch == 0 {
				break
			}
			got += batch
		}
		if got != 20000 || last != 20000 {
			t.Fatalf("cursor returned %d rows, the last %d", got, last)
		}
		// A cursor closed while its query is parked mid-scan (past the rows held back at
		// the start) ends the query without failing the transaction.
		exec("DECLARE d CURSOR FOR " + query)
		exec("MOVE 5000 IN d")
		exec("CLOSE d")
		exec("SELECT 1")
		exec("COMMIT")
	})

	t.Run("copy", func(t *testing.T) {
		var out countingWriter
		tag, err := conn.PgConn().CopyTo(ctx, &out, "COPY ("+query+") TO STDOUT")
		if err != nil {
			t.Fatal(err)
		}
		if tag.String() != "COPY 20000" || out.lines != 20000 {
			t.Fatalf("COPY gave %q and %d lines", tag, out.lines)
		}
	})

	var count int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM big").Scan(&count); err != nil || count != 20000 {
		t.Fatalf("afterwards: count %d, %v", count, err)
	}
}

// bigTableSession connects to a new node holding table big (20,000 rows of about 150 bytes)
// and sets the session's statement budget to 256 kB, far below the table's size.
func bigTableSession(t *testing.T) (context.Context, *pgx.Conn) {
	n := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	conn, err := pgx.Connect(ctx, n.SQLURL("root"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	for _, stmt := range []string{
		"CREATE TABLE big (id INT PRIMARY KEY, pad TEXT)",
		"INSERT INTO big SELECT g, '" + strings.Repeat("x", 100) + "' FROM generate_series(1, 20000) AS g",
		"SET statement_memory_limit = '256kB'",
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	return ctx, conn
}

type countingWriter struct{ lines int }

func (w *countingWriter) Write(b []byte) (int, error) {
	w.lines += bytes.Count(b, []byte("\n"))
	return len(b), nil
}

// rawConn speaks the protocol message by message over a pgx connection.
type rawConn struct {
	t   *testing.T
	ctx context.Context
	fe  *pgproto3.Frontend
}

func (c *rawConn) send(msgs ...pgproto3.FrontendMessage) {
	c.t.Helper()
	for _, m := range msgs {
		c.fe.Send(m)
	}
	if err := c.fe.Flush(); err != nil {
		c.t.Fatal(err)
	}
}

// next describes the next message: its type, and a command tag, SQLSTATE or status.
func (c *rawConn) next() (string, *pgproto3.DataRow) {
	c.t.Helper()
	m, err := c.fe.Receive()
	if err != nil {
		c.t.Fatal(err)
	}
	switch m := m.(type) {
	case *pgproto3.DataRow:
		return "DataRow", m
	case *pgproto3.CommandComplete:
		return "CommandComplete " + string(m.CommandTag), nil
	case *pgproto3.ErrorResponse:
		return "ErrorResponse " + m.Code, nil
	case *pgproto3.ReadyForQuery:
		return "ReadyForQuery " + string(m.TxStatus), nil
	default:
		return strings.TrimPrefix(fmt.Sprintf("%T", m), "*pgproto3."), nil
	}
}

// rows reads data rows (their first column) up to the message that ends them, skipping
// ParseComplete and BindComplete.
func (c *rawConn) rows() (firsts []string, end string) {
	c.t.Helper()
	for {
		kind, row := c.next()
		if kind == "ParseComplete" || kind == "BindComplete" {
			continue
		}
		if row == nil {
			return firsts, kind
		}
		firsts = append(firsts, string(row.Values[0]))
	}
}

func (c *rawConn) expect(want ...string) {
	c.t.Helper()
	for _, w := range want {
		if got, _ := c.next(); got != w {
			c.t.Fatalf("got %s, want %s", got, w)
		}
	}
}

// TestOperatorsSpill runs queries twice, within the default budget and within one far
// smaller than what their hash joins and aggregations hold, where those go to disk in
// partitions, and checks that both give the same rows: joins of every kind (NULL keys,
// unmatched rows on either side and a residual condition included), groupings, DISTINCT, set
// operations and window functions.
func TestOperatorsSpill(t *testing.T) {
	n := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, n.SQLURL("root"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, stmt := range []string{
		"CREATE TABLE l (id INT PRIMARY KEY, k INT, s TEXT)",
		"CREATE TABLE r (id INT PRIMARY KEY, k INT, s TEXT)",
		"INSERT INTO l SELECT g, CASE WHEN g % 13 = 0 THEN NULL ELSE g % 700 END, 's' || (g % 500) FROM generate_series(1, 3000) AS g",
		"INSERT INTO r SELECT g, CASE WHEN g % 11 = 0 THEN NULL ELSE g % 900 END, 's' || (g % 800) FROM generate_series(1, 2500) AS g",
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	run := func(q string) []string {
		rows, err := conn.Query(ctx, q, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var out []string
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprint(vals...))
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		slices.Sort(out)
		return out
	}
	for _, tc := range []struct{ query, operator string }{
		{"SELECT l.id, r.id FROM l JOIN r ON l.k = r.k", "hash join"},
		{"SELECT l.id, r.id FROM l LEFT JOIN r ON l.k = r.k", "hash join"},
		{"SELECT l.id, r.id FROM l RIGHT JOIN r ON l.k = r.k", "hash join"},
		{"SELECT l.id, r.id FROM l FULL JOIN r ON l.k = r.k AND l.id < r.id", "hash join"},
		{"SELECT l.id, r.id FROM l JOIN r ON l.s = r.s AND l.id % 7 <> r.id % 5", "hash join"},
		{"SELECT k, count(*), sum(id), min(s), max(id) FROM l GROUP BY k", "group"},
		{"SELECT s, k % 3, count(*), avg(id), bool_and(id > 100), min(s || id::text) FROM l GROUP BY s, k % 3", "group"},
		{"SELECT l.s, count(*) FROM l JOIN r ON l.k = r.k GROUP BY l.s HAVING count(*) > 1", "group"},
		{"SELECT DISTINCT k % 300, s FROM l", "distinct"},
		{"SELECT DISTINCT l.s, r.k FROM l JOIN r ON l.k = r.k", "distinct"},
		{"SELECT k, s FROM l UNION SELECT k, s FROM r", "union"},
		{"SELECT k % 400, s FROM l INTERSECT SELECT k % 400, s FROM r", "intersect"},
		{"SELECT k % 400 FROM l INTERSECT ALL SELECT k % 400 FROM r", "intersect all"},
		{"SELECT k, s FROM l EXCEPT SELECT k, s FROM r", "except"},
		{"SELECT k % 600 FROM l EXCEPT ALL SELECT k % 600 FROM r", "except all"},
		// A small right side, and many left keys to pass once each.
		{"SELECT id, s FROM l EXCEPT SELECT id, s FROM r WHERE id < 10", "except"},
		{"SELECT id % 2000, s FROM l INTERSECT SELECT id % 2000, s FROM l WHERE id > 5", "intersect"},
		{"SELECT id, rank() OVER (PARTITION BY k ORDER BY id DESC), sum(id) OVER (PARTITION BY k, s), count(*) OVER (PARTITION BY s, k ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM l", "window"},
		{"SELECT id, lag(id) OVER (PARTITION BY s ORDER BY id), row_number() OVER (PARTITION BY s) > 0 FROM l", "window"},
		// Windows over groups: the rows the window sees start with the aggregates.
		{"SELECT s, k, count(*), sum(count(*)) OVER (PARTITION BY s) FROM l GROUP BY s, k", "window"},
		{"SELECT k, s, count(*), count(*) OVER (PARTITION BY k) FROM l GROUP BY k, s", "window"},
		// Aggregates that collect values, over groups that go to disk and come back.
		{"SELECT id % 1000, string_agg(s, ',') FROM l GROUP BY 1", "group"},
		// A right side of mostly NULL keys: they match nothing, and an inner join drops them.
		{"SELECT l.id, r.id FROM l JOIN (SELECT id, CASE WHEN id % 50 = 0 THEN id % 700 END AS k FROM r) r ON l.k = r.k", "hash join"},
		{"SELECT l.id, r.id FROM l RIGHT JOIN (SELECT id, CASE WHEN id % 50 = 0 THEN id % 700 END AS k FROM r) r ON l.k = r.k", "hash join"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			if _, err := conn.Exec(ctx, "RESET statement_memory_limit"); err != nil {
				t.Fatal(err)
			}
			want := run(tc.query)
			if _, err := conn.Exec(ctx, "SET statement_memory_limit = '64kB'"); err != nil {
				t.Fatal(err)
			}
			got := run(tc.query)
			if !slices.Equal(got, want) {
				t.Fatalf("within 64kB: %d rows, within the default budget: %d rows, and they differ", len(got), len(want))
			}
			plan := strings.Join(run("EXPLAIN ANALYZE "+tc.query), "\n")
			if !strings.Contains(plan, tc.operator) || !strings.Contains(plan, "spilled to disk") {
				t.Fatalf("no %s spilled to disk in\n%s", tc.operator, plan)
			}
			t.Logf("%d rows", len(want))
		})
	}

	// What an aggregate collects for a group in memory cannot go to disk: past the budget,
	// 53200, saying so.
	_, err = conn.Exec(ctx, "SELECT s, string_agg(id::text, ',' ORDER BY id) FROM l GROUP BY s")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "53200" || !strings.Contains(pe.Detail, "stays in memory") {
		t.Fatalf("collecting aggregates over the budget: %v, want 53200 with a detail on collected values", err)
	}
}

// BenchmarkSortSpill sorts 200,000 generated rows (a number and 100 bytes of text) over
// pgwire, within the default budget (in memory) and within 1 MB (on disk: more than 32 runs
// of a few thousand rows, so merged in two passes).
func BenchmarkSortSpill(b *testing.B) {
	benchmarkBudgets(b, []string{"256MB", "1MB"},
		"SELECT g, repeat('x', 100) FROM generate_series(1, 200000) AS g ORDER BY g % 1000, g DESC", 200000)
}

// BenchmarkHashJoinSpill joins 100,000 generated rows (a key and 100 bytes of text) with
// 100,000 others on the key, within the default budget (the build side in memory) and
// within 2 MB (both sides partitioned to disk), and counts the result.
func BenchmarkHashJoinSpill(b *testing.B) {
	benchmarkBudgets(b, []string{"256MB", "2MB"}, `SELECT count(*) FROM
		(SELECT g AS k, repeat('x', 100) AS s FROM generate_series(1, 100000) AS g) a JOIN
		(SELECT g AS k, repeat('y', 100) AS s FROM generate_series(1, 100000) AS g) b ON a.k = b.k + 0`, 1)
}

// BenchmarkAggregationSpill groups 200,000 generated rows into 50,000 groups, within the
// default budget (every group in memory) and within 1 MB (most groups' rows partitioned to
// disk and grouped a partition at a time).
func BenchmarkAggregationSpill(b *testing.B) {
	benchmarkBudgets(b, []string{"256MB", "1MB"},
		"SELECT g % 50000, count(*), sum(g) FROM generate_series(1, 200000) AS g GROUP BY 1", 50000)
}

// benchmarkBudgets runs query over pgwire on a node of its own within each budget
// (statement_memory_limit), reading every row, and fails unless it gives rows rows.
func benchmarkBudgets(b *testing.B, budgets []string, query string, rows int) {
	n := startNode(b)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, n.SQLURL("root"))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, budget := range budgets {
		b.Run("budget="+budget, func(b *testing.B) {
			if _, err := conn.Exec(ctx, "SET statement_memory_limit = '"+budget+"'"); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				res, err := conn.Query(ctx, query)
				if err != nil {
					b.Fatal(err)
				}
				got := 0
				for res.Next() {
					got++
				}
				if err := res.Err(); err != nil || got != rows {
					b.Fatalf("%d rows, %v", got, err)
				}
			}
		})
	}
}

// TestTempStorageLimit: a node's temporary files stop at --max-disk-temp-storage with
// 53100, the session stays usable, and what the statement wrote is given back.
func TestTempStorageLimit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := server.Start(ctx, server.Config{StoreDir: t.TempDir(), ListenAddr: "127.0.0.1:0", MaxTempStorage: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	conn, err := pgx.Connect(ctx, n.SQLURL("root"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SET statement_memory_limit = '256kB'"); err != nil {
		t.Fatal(err)
	}
	sort := "SELECT g, repeat('x', 100) FROM generate_series(1, 20000) AS g ORDER BY g DESC"
	for range 2 { // the second time, the first's files were given back
		_, err = conn.Exec(ctx, sort)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "53100" {
			t.Fatalf("a sort spilling 2 MB past a 256 kB limit: %v, want 53100", err)
		}
	}
	var got int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM (SELECT g, repeat('x', 20) FROM generate_series(1, 5000) AS g ORDER BY g DESC) s").Scan(&got); err != nil || got != 5000 {
		t.Fatalf("a sort within the limit afterwards: %d rows, %v", got, err)
	}
}
