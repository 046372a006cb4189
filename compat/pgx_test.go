package compat_test

import (
	"bytes"
	"context"
	"errors"
	"math/big"
	"net/url"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/meridiandb/meridian/internal/certs"
	"github.com/meridiandb/meridian/internal/certs/certstest"
	"github.com/meridiandb/meridian/server"
)

// schema is the session's tables, which the Go clients create; the scripted clients create
// the same ones.
var schema = []string{
	`CREATE TABLE accounts (
		id INT PRIMARY KEY,
		owner TEXT NOT NULL UNIQUE,
		balance NUMERIC(12,2) NOT NULL DEFAULT 0
	)`,
	`CREATE TABLE transfers (
		id BIGSERIAL PRIMARY KEY,
		src INT NOT NULL REFERENCES accounts (id),
		dst INT NOT NULL REFERENCES accounts (id),
		amount NUMERIC(12,2) NOT NULL,
		made_at TIMESTAMPTZ NOT NULL DEFAULT now()
	)`,
	`CREATE TABLE kinds (
		id INT PRIMARY KEY,
		i INT, b BIGINT, n NUMERIC(12,2), t TEXT, ok BOOL, ts TIMESTAMPTZ, d DATE,
		u UUID, j JSONB, bin BYTEA, ia INT[], ta TEXT[]
	)`,
}

// pgCode is the SQLSTATE of a pgx error, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// TestPgx runs a session through pgx's own interface (github.com/jackc/pgx/v5): SCRAM over
// plain text and over TLS, the extended protocol with binary values for every common type,
// explicit prepared statements, a batch, transactions, a retry on 40001 and the driver's
// PgError.
func TestPgx(t *testing.T) {
	n := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, rootURL(n))
	must(t, err, "connect with SCRAM-SHA-256")
	defer conn.Close(ctx)
	for _, stmt := range schema {
		_, err := conn.Exec(ctx, stmt)
		must(t, err, "%s", stmt)
	}

	t.Run("types", func(t *testing.T) {
		ts := time.Date(2024, 3, 10, 12, 34, 56, 789000000, time.UTC)
		d := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
		u := [16]byte{0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11}
		j := map[string]any{"a": 1.0, "b": []any{true, nil, "x"}}
		bin := []byte{0, 0xff, 0x10, 'a', 'b', 'c'}
		n := pgtype.Numeric{Int: big.NewInt(1234567), Exp: -2, Valid: true}
		_, err := conn.Exec(ctx, `INSERT INTO kinds VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			1, int32(42), int64(9007199254740993), n, "héllo, wörld", true, ts, d, u, j, bin,
			[]int32{1, 2, 3}, []string{"a", "b c", `d"e`})
		must(t, err, "insert with parameters")
		_, err = conn.Exec(ctx, `INSERT INTO kinds (id) VALUES ($1)`, 2)
		must(t, err, "insert NULLs")

		var (
			gi   int32
			gb   int64
			gn   pgtype.Numeric
			gt   string
			gok  bool
			gts  time.Time
			gd   time.Time
			gu   [16]byte
			gj   map[string]any
			gbin []byte
			gia  []int32
			gta  []string
		)
		err = conn.QueryRow(ctx, `SELECT i, b, n, t, ok, ts, d, u, j, bin, ia, ta FROM kinds WHERE id = $1`, 1).
			Scan(&gi, &gb, &gn, &gt, &gok, &gts, &gd, &gu, &gj, &gbin, &gia, &gta)
		must(t, err, "select the row back")
		if gi != 42 || gb != 9007199254740993 || gt != "héllo, wörld" || !gok || gu != u {
			t.Errorf("scalars: %v %v %q %v %x", gi, gb, gt, gok, gu)
		}
		if f, _ := gn.Float64Value(); f.Float64 != 12345.67 {
			t.Errorf("numeric: %+v", gn)
		}
		if !gts.Equal(ts) || !gd.Equal(d) {
			t.Errorf("times: %v %v", gts, gd)
		}
		if gj["a"] != 1.0 || len(gj["b"].([]any)) != 3 || !bytes.Equal(gbin, bin) {
			t.Errorf("jsonb %v, bytea %x", gj, gbin)
		}
		if !slices.Equal(gia, []int32{1, 2, 3}) || !slices.Equal(gta, []string{"a", "b c", `d"e`}) {
			t.Errorf("arrays: %v %v", gia, gta)
		}

		// NULLs, into pointers and pgtype's nullable types.
		var (
			ni  *int32
			nt  *string
			nts pgtype.Timestamptz
			nj  []byte
			nia []int32
		)
		err = conn.QueryRow(ctx, `SELECT i, t, ts, j, ia FROM kinds WHERE id = 2`).Scan(&ni, &nt, &nts, &nj, &nia)
		must(t, err, "select NULLs")
		if ni != nil || nt != nil || nts.Valid || nj != nil || nia != nil {
			t.Errorf("NULLs read as %v %v %v %v %v", ni, nt, nts, nj, nia)
		}
		var isNull bool
		err = conn.QueryRow(ctx, `SELECT $1::TEXT IS NULL`, nil).Scan(&isNull)
		must(t, err, "a NULL parameter")
		if !isNull {
			t.Error("a NULL parameter arrived as not NULL")
		}
	})

	t.Run("dml and transactions", func(t *testing.T) {
		// A batch of inserts in one round trip.
		b := &pgx.Batch{}
		for i, owner := range []string{"ada", "grace", "edsger"} {
			b.Queue(`INSERT INTO accounts (id, owner, balance) VALUES ($1, $2, $3)`, i+1, owner, 100)
		}
		must(t, conn.SendBatch(ctx, b).Close(), "batch insert")

		tag, err := conn.Exec(ctx, `UPDATE accounts SET balance = balance + $1 WHERE owner = $2`, 25, "grace")
		must(t, err, "update")
		if tag.RowsAffected() != 1 || !tag.Update() {
			t.Errorf("update tag %q", tag)
		}

		// Commit.
		tx, err := conn.Begin(ctx)
		must(t, err, "begin")
		_, err = tx.Exec(ctx, `INSERT INTO transfers (src, dst, amount) VALUES ($1, $2, $3)`, 1, 2, 10)
		must(t, err, "insert in a transaction")
		_, err = tx.Exec(ctx, `UPDATE accounts SET balance = balance - 10 WHERE id = 1`)
		must(t, err, "update in a transaction")
		must(t, tx.Commit(ctx), "commit")

		// Rollback.
		tx, err = conn.Begin(ctx)
		must(t, err, "begin")
		_, err = tx.Exec(ctx, `DELETE FROM accounts WHERE id = 3`)
		must(t, err, "delete in a transaction")
		must(t, tx.Rollback(ctx), "rollback")
		var count int
		must(t, conn.QueryRow(ctx, `SELECT count(*) FROM accounts`).Scan(&count), "count")
		if count != 3 {
			t.Errorf("after the rollback %d accounts, want 3", count)
		}

		// An error inside a transaction aborts it (25P02) until ROLLBACK.
		tx, err = conn.Begin(ctx)
		must(t, err, "begin")
		_, err = tx.Exec(ctx, `SELECT 1/0`)
		if pgCode(err) != "22012" {
			t.Errorf("division by zero: %v", err)
		}
		_, err = tx.Exec(ctx, `SELECT 1`)
		if pgCode(err) != "25P02" {
			t.Errorf("a statement in an aborted transaction: %v", err)
		}
		must(t, tx.Rollback(ctx), "rollback after an error")

		// Delete, with RETURNING.
		var gone string
		must(t, conn.QueryRow(ctx, `DELETE FROM accounts WHERE id = $1 RETURNING owner`, 3).Scan(&gone), "delete")
		if gone != "edsger" {
			t.Errorf("deleted %q", gone)
		}

		// The unique violation, through PgError.
		_, err = conn.Exec(ctx, `INSERT INTO accounts (id, owner) VALUES ($1, $2)`, 9, "ada")
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "23505" || pe.Detail == "" || pe.ConstraintName != "accounts_owner_key" ||
			pe.TableName != "accounts" || pe.SchemaName != "public" {
			t.Errorf("duplicate owner: %#v", err)
		}
	})

	t.Run("prepared", func(t *testing.T) {
		sd, err := conn.Prepare(ctx, "balance_of", `SELECT balance::TEXT, owner FROM accounts WHERE id = $1`)
		must(t, err, "prepare")
		if len(sd.ParamOIDs) != 1 || sd.ParamOIDs[0] != pgtype.Int4OID || len(sd.Fields) != 2 {
			t.Errorf("statement description: params %v, fields %v", sd.ParamOIDs, sd.Fields)
		}
		for id, want := range map[int]string{1: "90.00", 2: "125.00"} {
			var bal, owner string
			must(t, conn.QueryRow(ctx, "balance_of", id).Scan(&bal, &owner), "execute the prepared statement")
			if bal != want {
				t.Errorf("account %d: balance %s, want %s", id, bal, want)
			}
		}
		must(t, conn.Deallocate(ctx, "balance_of"), "deallocate")
	})

	t.Run("join and aggregate", func(t *testing.T) {
		rows, err := conn.Query(ctx, `
			SELECT a.owner, count(t.id), coalesce(sum(t.amount), 0)::TEXT
			FROM accounts a LEFT JOIN transfers t ON t.src = a.id
			GROUP BY a.owner ORDER BY a.owner`)
		must(t, err, "join")
		type row struct {
			Owner string
			N     int64
			Sum   string
		}
		got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
		must(t, err, "collect")
		want := []row{{"ada", 1, "10.00"}, {"grace", 0, "0"}}
		if !slices.Equal(got, want) {
			t.Errorf("join: %v, want %v", got, want)
		}
	})

	t.Run("retry on 40001", func(t *testing.T) {
		other, err := pgx.Connect(ctx, rootURL(n))
		must(t, err, "second connection")
		defer other.Close(ctx)
		attempts := 0
		for {
			attempts++
			err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				var bal pgtype.Numeric
				if err := tx.QueryRow(ctx, `SELECT balance FROM accounts WHERE id = 1`).Scan(&bal); err != nil {
					return err
				}
				if attempts == 1 {
					// Another transaction writes what this one read: this one cannot commit
					// at a serializable position and must restart.
					if _, err := other.Exec(ctx, `UPDATE accounts SET balance = balance + 1 WHERE id = 1`); err != nil {
						return err
					}
				}
				_, err := tx.Exec(ctx, `UPDATE accounts SET balance = balance - 5 WHERE id = 1`)
				return err
			})
			if pgCode(err) == "40001" && attempts < 5 {
				continue
			}
			must(t, err, "transaction")
			break
		}
		if attempts != 2 {
			t.Errorf("committed after %d attempts, want 2 (one 40001)", attempts)
		}
		var bal string
		must(t, conn.QueryRow(ctx, `SELECT balance::TEXT FROM accounts WHERE id = 1`).Scan(&bal), "balance")
		if bal != "86.00" {
			t.Errorf("balance %s after the retried transaction, want 86.00", bal)
		}
	})

	t.Run("scram over tls", func(t *testing.T) {
		dir := certstest.Make(t, "root")
		sn := startNodeWith(t, server.Config{CertsDir: dir})
		root, err := pgx.Connect(ctx, sn.SQLURL("root"))
		must(t, err, "root with its client certificate")
		defer root.Close(ctx)
		_, err = root.Exec(ctx, `CREATE USER app WITH PASSWORD 'app secret'`)
		must(t, err, "create user")
		u := url.URL{Scheme: "postgresql", User: url.UserPassword("app", "app secret"), Host: sn.SQLAddr(), Path: "/defaultdb"}
		u.RawQuery = url.Values{"sslmode": {"verify-full"}, "sslrootcert": {filepath.Join(dir, certs.CACert)}}.Encode()
		app, err := pgx.Connect(ctx, u.String())
		must(t, err, "app with SCRAM over TLS")
		defer app.Close(ctx)
		var user string
		must(t, app.QueryRow(ctx, `SELECT current_user`).Scan(&user), "current_user")
		if user != "app" {
			t.Errorf("current_user %q", user)
		}
		u.User = url.UserPassword("app", "wrong")
		if c, err := pgx.Connect(ctx, u.String()); pgCode(err) != "28P01" {
			if err == nil {
				c.Close(ctx)
			}
			t.Errorf("a wrong password: %v, want 28P01", err)
		}
	})
}
