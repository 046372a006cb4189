package compat_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/lib/pq"
)

// TestLibPQ runs a session through database/sql with github.com/lib/pq: SCRAM, text-format
// parameters whose types the server infers, pq.Array, named prepared statements (db.Prepare),
// sql.Tx commit and rollback, sql.Null* types, *pq.Error and ColumnTypes metadata.
func TestLibPQ(t *testing.T) {
	n := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db, err := sql.Open("postgres", rootURL(n))
	must(t, err, "open")
	defer db.Close()
	must(t, db.PingContext(ctx), "connect with SCRAM-SHA-256")
	for _, stmt := range schema {
		_, err := db.ExecContext(ctx, stmt)
		must(t, err, "%s", stmt)
	}

	t.Run("types", func(t *testing.T) {
		ts := time.Date(2024, 3, 10, 12, 34, 56, 789000000, time.UTC)
		bin := []byte{0, 0xff, 0x10, 'a', 'b', 'c'}
		_, err := db.ExecContext(ctx, `INSERT INTO kinds VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			1, 42, int64(9007199254740993), "12345.67", "héllo, wörld", true, ts, "2024-02-29",
			"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", `{"a": 1, "b": [true, null, "x"]}`, bin,
			pq.Array([]int64{1, 2, 3}), pq.Array([]string{"a", "b c", `d"e`}))
		must(t, err, "insert with parameters")
		_, err = db.ExecContext(ctx, `INSERT INTO kinds (id, t) VALUES ($1, $2)`, 2, nil)
		must(t, err, "insert NULLs")

		var (
			i, b      int64
			num, text string
			ok        bool
			gts, d    time.Time
			u         string
			j, gbin   []byte
			ia        []int64
			ta        []string
		)
		err = db.QueryRowContext(ctx, `SELECT i, b, n, t, ok, ts, d, u, j, bin, ia, ta FROM kinds WHERE id = $1`, 1).
			Scan(&i, &b, &num, &text, &ok, &gts, &d, &u, &j, &gbin, pq.Array(&ia), pq.Array(&ta))
		must(t, err, "select the row back")
		if i != 42 || b != 9007199254740993 || num != "12345.67" || text != "héllo, wörld" || !ok {
			t.Errorf("scalars: %v %v %v %q %v", i, b, num, text, ok)
		}
		if !gts.Equal(ts) || d.Format(time.DateOnly) != "2024-02-29" || u != "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" {
			t.Errorf("timestamptz %v, date %v, uuid %s", gts, d, u)
		}
		var jv map[string]any
		if err := json.Unmarshal(j, &jv); err != nil || jv["a"] != 1.0 {
			t.Errorf("jsonb %s: %v", j, err)
		}
		if !bytes.Equal(gbin, bin) || !slices.Equal(ia, []int64{1, 2, 3}) || !slices.Equal(ta, []string{"a", "b c", `d"e`}) {
			t.Errorf("bytea %x, arrays %v %v", gbin, ia, ta)
		}

		var (
			ni  sql.NullInt64
			nt  sql.NullString
			nts sql.NullTime
			nb  sql.NullBool
		)
		err = db.QueryRowContext(ctx, `SELECT i, t, ts, ok FROM kinds WHERE id = 2`).Scan(&ni, &nt, &nts, &nb)
		must(t, err, "select NULLs")
		if ni.Valid || nt.Valid || nts.Valid || nb.Valid {
			t.Errorf("NULLs read as %v %v %v %v", ni, nt, nts, nb)
		}

		// Metadata of a result: column names and database types.
		rows, err := db.QueryContext(ctx, `SELECT id, n, ts, u, j, ia FROM kinds LIMIT 1`)
		must(t, err, "query")
		cts, err := rows.ColumnTypes()
		must(t, err, "column types")
		rows.Close()
		var names []string
		for _, ct := range cts {
			names = append(names, ct.Name()+":"+ct.DatabaseTypeName())
		}
		want := []string{"id:INT4", "n:NUMERIC", "ts:TIMESTAMPTZ", "u:UUID", "j:JSONB", "ia:_INT4"}
		if !slices.Equal(names, want) {
			t.Errorf("column types %v, want %v", names, want)
		}
		if p, s, ok := cts[1].DecimalSize(); !ok || p != 12 || s != 2 {
			t.Errorf("numeric(12,2)'s size: %d, %d, %v", p, s, ok)
		}
	})

	t.Run("dml and transactions", func(t *testing.T) {
		for i, owner := range []string{"ada", "grace", "edsger"} {
			_, err := db.ExecContext(ctx, `INSERT INTO accounts (id, owner, balance) VALUES ($1, $2, $3)`, i+1, owner, 100)
			must(t, err, "insert")
		}
		res, err := db.ExecContext(ctx, `UPDATE accounts SET balance = balance + $1 WHERE owner = $2`, 25, "grace")
		must(t, err, "update")
		if n, _ := res.RowsAffected(); n != 1 {
			t.Errorf("update affected %d rows", n)
		}

		tx, err := db.BeginTx(ctx, nil)
		must(t, err, "begin")
		_, err = tx.ExecContext(ctx, `INSERT INTO transfers (src, dst, amount) VALUES ($1, $2, $3)`, 1, 2, "10.00")
		must(t, err, "insert in a transaction")
		_, err = tx.ExecContext(ctx, `UPDATE accounts SET balance = balance - $1 WHERE id = $2`, 10, 1)
		must(t, err, "update in a transaction")
		must(t, tx.Commit(), "commit")

		tx, err = db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
		must(t, err, "begin serializable")
		res, err = tx.ExecContext(ctx, `DELETE FROM accounts WHERE id = $1`, 3)
		must(t, err, "delete in a transaction")
		if n, _ := res.RowsAffected(); n != 1 {
			t.Errorf("delete affected %d rows", n)
		}
		must(t, tx.Rollback(), "rollback")

		tx, err = db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		must(t, err, "begin read only")
		_, err = tx.ExecContext(ctx, `DELETE FROM accounts`)
		if pqCode(err) != "25006" {
			t.Errorf("a write in a read-only transaction: %v", err)
		}
		must(t, tx.Rollback(), "rollback")

		var count int
		must(t, db.QueryRowContext(ctx, `SELECT count(*) FROM accounts`).Scan(&count), "count")
		if count != 3 {
			t.Errorf("%d accounts after the rollback, want 3", count)
		}
		res, err = db.ExecContext(ctx, `DELETE FROM accounts WHERE id = $1`, 3)
		must(t, err, "delete")
		if n, _ := res.RowsAffected(); n != 1 {
			t.Errorf("delete affected %d rows", n)
		}

		_, err = db.ExecContext(ctx, `INSERT INTO accounts (id, owner) VALUES ($1, $2)`, 9, "ada")
		var pe *pq.Error
		if !errors.As(err, &pe) || pe.Code != "23505" || pe.Code.Name() != "unique_violation" {
			t.Errorf("duplicate owner: %#v", err)
		}
	})

	t.Run("prepared", func(t *testing.T) {
		stmt, err := db.PrepareContext(ctx, `SELECT balance, owner FROM accounts WHERE id = $1`)
		must(t, err, "prepare")
		defer stmt.Close()
		for id, want := range map[int]string{1: "90.00", 2: "125.00"} {
			var bal, owner string
			must(t, stmt.QueryRowContext(ctx, id).Scan(&bal, &owner), "execute the prepared statement")
			if bal != want {
				t.Errorf("account %d: balance %s, want %s", id, bal, want)
			}
		}
	})

	t.Run("join and aggregate", func(t *testing.T) {
		rows, err := db.QueryContext(ctx, `
			SELECT a.owner, count(t.id), coalesce(sum(t.amount), 0)
			FROM accounts a LEFT JOIN transfers t ON t.src = a.id
			GROUP BY a.owner ORDER BY a.owner`)
		must(t, err, "join")
		defer rows.Close()
		var got []string
		for rows.Next() {
			var owner, sum string
			var n int
			must(t, rows.Scan(&owner, &n, &sum), "scan")
			got = append(got, owner+" "+sum)
		}
		must(t, rows.Err(), "rows")
		if want := []string{"ada 10.00", "grace 0"}; !slices.Equal(got, want) {
			t.Errorf("join: %v, want %v", got, want)
		}
	})

	t.Run("retry on 40001", func(t *testing.T) {
		attempts := 0
		for {
			attempts++
			err := transferOnce(ctx, db, attempts == 1)
			if pqCode(err) == "40001" && attempts < 5 {
				continue
			}
			must(t, err, "transaction")
			break
		}
		if attempts != 2 {
			t.Errorf("committed after %d attempts, want 2 (one 40001)", attempts)
		}
		var bal string
		must(t, db.QueryRowContext(ctx, `SELECT balance FROM accounts WHERE id = 1`).Scan(&bal), "balance")
		if bal != "86.00" {
			t.Errorf("balance %s after the retried transaction, want 86.00", bal)
		}
	})
}

// transferOnce takes 5 from account 1 in a transaction; with interfere, another connection
// of the pool writes the row between the transaction's read and its write.
func transferOnce(ctx context.Context, db *sql.DB, interfere bool) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var bal string
	if err := tx.QueryRowContext(ctx, `SELECT balance FROM accounts WHERE id = 1`).Scan(&bal); err != nil {
		return err
	}
	if interfere {
		if _, err := db.ExecContext(ctx, `UPDATE accounts SET balance = balance + 1 WHERE id = 1`); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET balance = balance - 5 WHERE id = 1`); err != nil {
		return err
	}
	return tx.Commit()
}

func pqCode(err error) pq.ErrorCode {
	var pe *pq.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}
