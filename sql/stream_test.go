package sql_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestResultsStream shows that a query's rows go to the client as they are produced: with
// a statement memory budget far below the result's size, a query whose operators hold no
// rows still returns every row (in both protocols), while one that must hold them (a sort,
// a hash join's build side) fails with 53200 and leaves the session usable.
func TestResultsStream(t *testing.T) {
	n := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, n.SQLURL("root"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, stmt := range []string{
		"CREATE TABLE big (id INT PRIMARY KEY, pad TEXT)",
		"INSERT INTO big SELECT g, '" + strings.Repeat("x", 100) + "' FROM generate_series(1, 20000) AS g",
		"SET statement_memory_limit = '256kB'",
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
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
	for _, q := range []string{
		"SELECT id, pad FROM big ORDER BY pad, id",
		"SELECT count(*) FROM big a JOIN big b ON a.pad = b.pad || ''",
	} {
		_, err := conn.Exec(ctx, q)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "53200" {
			t.Fatalf("%s: got %v, want 53200", q, err)
		}
	}
	var count int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM big").Scan(&count); err != nil || count != 20000 {
		t.Fatalf("after the budget errors: count %d, %v", count, err)
	}
}
