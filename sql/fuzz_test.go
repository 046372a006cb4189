package sql_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// FuzzSQL sends arbitrary query strings through a real node's SQL entry point (the simple
// protocol, so statements are split, normalized, parsed, planned and run). Every input must
// end in a result or a classified error: never a panic (XX000 and a closed session), never a
// broken connection.
func FuzzSQL(f *testing.F) {
	for _, s := range []string{
		"SELECT 1", "CREATE TABLE t (k INT PRIMARY KEY, v TEXT)", "INSERT INTO t VALUES (1, 'a') ON CONFLICT (k) DO UPDATE SET v = excluded.v RETURNING *",
		"SELECT k, count(*) FROM t WHERE k > $1 GROUP BY k", "UPDATE t SET v = v || 'x' WHERE k IN (1, 2)", "DELETE FROM t WHERE k BETWEEN 1 AND 3",
		"BEGIN; SELECT * FROM t; COMMIT", "SELECT '1'::numeric / 0", "SELECT CASE WHEN true THEN 1 ELSE 'x' END", "DROP TABLE t",
		"SELECT * FROM t ORDER BY 1 DESC LIMIT 1 OFFSET 1", "SHOW TABLES", "SET application_name = 'f'", "EXPLAIN SELECT * FROM t WHERE k = 1",
		"BEGIN PRIORITY HIGH; SELECT * FROM t WHERE k = 1 FOR UPDATE NOWAIT; COMMIT", "SELECT * FROM t AS OF SYSTEM TIME '-1h'",
		"BEGIN AS OF SYSTEM TIME cluster_logical_timestamp(); SET TRANSACTION READ WRITE", "SET statement_timeout = '1s'; SET lock_timeout = 100",
		"CREATE TABLE n (k INT PRIMARY KEY, j JSONB, a INT[], i INTERVAL, t TIME)",
		"INSERT INTO n VALUES (1, '{\"a\": [1, 2]}', ARRAY[1, NULL], '1 day', '10:00')",
		"SELECT j->'a'->>1, a[1], a[1:2] || 3, i * 2, t + i, extract(hour FROM t) FROM n WHERE j @> '{}' AND 1 = ANY(a)",
		"SELECT jsonb_build_object('k', a), array_to_string(a, ','), date_trunc('day', now() - i) FROM n ORDER BY j, a, i",
		"SELECT a.k, b.v FROM t a LEFT JOIN t b ON a.k = b.k + 1 FULL JOIN n ON n.k = a.k WHERE a.v IS NOT NULL",
		"SELECT k FROM t WHERE EXISTS (SELECT 1 FROM n WHERE n.k = t.k) AND k IN (SELECT k FROM n) AND k > ALL (SELECT 0)",
		"WITH RECURSIVE r(x) AS (SELECT 1 UNION SELECT x + 1 FROM r WHERE x < 3) SELECT x, (SELECT count(*) FROM t WHERE k = x) FROM r",
		"SELECT k, sum(k) OVER (PARTITION BY v ORDER BY k ROWS BETWEEN 1 PRECEDING AND CURRENT ROW), rank() OVER w FROM t WINDOW w AS (ORDER BY v DESC NULLS LAST)",
		"SELECT v FROM t UNION SELECT 'x' INTERSECT SELECT v FROM t EXCEPT ALL SELECT NULL ORDER BY 1 LIMIT 2",
		"SELECT DISTINCT ON (v) v, k FROM t ORDER BY v, k DESC",
		"SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS x(p, q) JOIN generate_series(1, 2) g ON g = p",
		"EXPLAIN ANALYZE SELECT count(*) FROM t a, t b WHERE a.k = b.k GROUP BY a.v HAVING count(*) > 0",
		"ANALYZE t",
	} {
		f.Add(s)
	}
	n := startNode(f)
	ctx := context.Background()
	var conn *pgconn.PgConn
	f.Cleanup(func() {
		if conn != nil {
			conn.Close(ctx)
		}
	})
	f.Fuzz(func(t *testing.T, sql string) {
		if strings.IndexByte(sql, 0) >= 0 {
			t.Skip("a query string cannot hold NUL in the protocol")
		}
		// Each input gets a healthy session: a failure is charged to the input that caused it.
		if conn == nil || conn.IsClosed() {
			var err error
			if conn, err = pgconn.Connect(ctx, n.SQLURL("root")); err != nil {
				t.Fatal(err)
			}
		}
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err := conn.Exec(qctx, sql).ReadAll()
		var pe *pgconn.PgError
		switch {
		case err == nil:
		case errors.As(err, &pe):
			if pe.Code == "XX000" || pe.Severity == "FATAL" {
				t.Fatalf("%q: %s %s: %s", sql, pe.Severity, pe.Code, pe.Message)
			}
		default:
			t.Fatalf("%q: connection broke: %v", sql, err)
		}
		// Leave no transaction open for the next input.
		if conn.TxStatus() != 'I' {
			_, _ = conn.Exec(ctx, "ROLLBACK").ReadAll()
		}
	})
}
