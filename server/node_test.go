package server

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

func startTestNode(t testing.TB, cfg Config) *Node {
	t.Helper()
	if cfg.StoreDir == "" {
		cfg.StoreDir = t.TempDir()
	}
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = "127.0.0.1:0"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	return n
}

func connect(t testing.TB, n *Node) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), n.SQLURL("root"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func TestHealth(t *testing.T) {
	n := startTestNode(t, Config{HTTPAddr: "127.0.0.1:0"})
	resp, err := http.Get("http://" + n.HTTPAddr() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/health: %s", resp.Status)
	}
}

// TestTypesRoundTrip stores a value of every supported type and reads it back through pgx,
// which uses the binary format for results of prepared statements.
func TestTypesRoundTrip(t *testing.T) {
	n := startTestNode(t, Config{})
	conn := connect(t, n)
	ctx := context.Background()
	_, err := conn.Exec(ctx, `CREATE TABLE ty (id INT8 PRIMARY KEY, s INT2, i INT4, f4 FLOAT4, f8 FLOAT8,
		n NUMERIC(10,3), t TEXT, vc VARCHAR(10), b BOOL, by BYTEA, d DATE, ts TIMESTAMP, tz TIMESTAMPTZ, u UUID)`)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC)
	u := [16]byte{0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11}
	num := pgtype.Numeric{Int: big.NewInt(-123456), Exp: -3, Valid: true}
	_, err = conn.Exec(ctx, `INSERT INTO ty VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		int64(1), int16(-7), int32(1<<30), float32(1.5), 2.25, num, "héllo", "abc", true, []byte{0, 1, 255},
		pgtype.Date{Time: time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), Valid: true}, ts, ts, u)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		var (
			id          int64
			s           int16
			i           int32
			f4          float32
			f8          float64
			gotNum      pgtype.Numeric
			txt, vc     string
			b           bool
			by          []byte
			d, gts, gtz time.Time
			gu          [16]byte
		)
		err := conn.QueryRow(ctx, "SELECT * FROM ty WHERE id = $1", mode, int64(1)).Scan(&id, &s, &i, &f4, &f8, &gotNum, &txt, &vc, &b, &by, &d, &gts, &gtz, &gu)
		if err != nil {
			t.Fatalf("mode %v: %v", mode, err)
		}
		f, _ := gotNum.Float64Value()
		if id != 1 || s != -7 || i != 1<<30 || f4 != 1.5 || f8 != 2.25 || f.Float64 != -123.456 || txt != "héllo" || vc != "abc" || !b ||
			string(by) != "\x00\x01\xff" || !d.Equal(time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)) || !gts.Equal(ts) || !gtz.Equal(ts) || gu != u {
			t.Fatalf("mode %v: read back %v %v %v %v %v %v %q %q %v %x %v %v %v %x", mode, id, s, i, f4, f8, f, txt, vc, b, by, d, gts, gtz, gu)
		}
	}
}

func TestErrorsCarrySQLSTATE(t *testing.T) {
	n := startTestNode(t, Config{})
	conn := connect(t, n)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "CREATE TABLE t (k INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ sql, code string }{
		{"SELEC 1", "42601"},
		{"SELECT * FROM nosuch", "42P01"},
		{"INSERT INTO t VALUES (1)", "23505"},
		{"SELECT * FROM t, t", "42712"},
		{"SELECT * FROM t, LATERAL (SELECT 1) s", "0A000"},
		{"SELECT (SELECT k FROM t UNION ALL SELECT 2)", "21000"},
		{"SELECT nosuch FROM t", "42703"},
		{"SELECT 1/0", "22012"},
	} {
		for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec} {
			_, err := conn.Exec(ctx, tc.sql, mode)
			if got := pgCode(err); got != tc.code {
				t.Errorf("%q (mode %v): SQLSTATE %q (%v), want %s", tc.sql, mode, got, err, tc.code)
			}
		}
	}
	// The connection is still usable after errors.
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("after errors: %v", err)
	}
}

// TestWriteSkewPrevented runs the classic write-skew interleaving in two explicit transactions:
// serializable isolation must fail one of them with 40001.
func TestWriteSkewPrevented(t *testing.T) {
	n := startTestNode(t, Config{})
	ctx := context.Background()
	a, b := connect(t, n), connect(t, n)
	if _, err := a.Exec(ctx, "CREATE TABLE oncall (doctor TEXT PRIMARY KEY, on_call BOOL NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Exec(ctx, "INSERT INTO oncall VALUES ('alice', true), ('bob', true)"); err != nil {
		t.Fatal(err)
	}
	txA, err := a.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	txB, err := b.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	count := func(tx pgx.Tx) int {
		var c int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM oncall WHERE on_call").Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	if count(txA) != 2 || count(txB) != 2 {
		t.Fatal("both should see two doctors on call")
	}
	var errs []error
	_, err = txA.Exec(ctx, "UPDATE oncall SET on_call = false WHERE doctor = 'alice'")
	errs = append(errs, err)
	_, err = txB.Exec(ctx, "UPDATE oncall SET on_call = false WHERE doctor = 'bob'")
	errs = append(errs, err)
	errs = append(errs, txA.Commit(ctx), txB.Commit(ctx))
	// A transaction that restarted at its UPDATE (its reads could not move up past the
	// other's write) is rolled back by its COMMIT, as in PostgreSQL.
	failed := 0
	for i, err := range errs {
		switch {
		case err == nil:
		case i >= 2 && errors.Is(err, pgx.ErrTxCommitRollback) && errs[i-2] != nil:
		case isRestart(pgCode(err)):
			failed++
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	var onCall int
	if err := a.QueryRow(ctx, "SELECT count(*) FROM oncall WHERE on_call").Scan(&onCall); err != nil {
		t.Fatal(err)
	}
	if failed == 0 || onCall == 0 {
		t.Fatalf("write skew: %d failures, %d doctors left on call", failed, onCall)
	}
}

// TestConcurrentIncrements has clients increment one counter in implicit transactions, which
// the server retries itself: no increment may be lost.
func TestConcurrentIncrements(t *testing.T) {
	n := startTestNode(t, Config{})
	ctx := context.Background()
	setup := connect(t, n)
	if _, err := setup.Exec(ctx, "CREATE TABLE c (id INT PRIMARY KEY, v INT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := setup.Exec(ctx, "INSERT INTO c VALUES (1, 0)"); err != nil {
		t.Fatal(err)
	}
	const clients, each = 4, 25
	var wg sync.WaitGroup
	errc := make(chan error, clients)
	for i := 0; i < clients; i++ {
		conn := connect(t, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < each; j++ {
				if _, err := conn.Exec(ctx, "UPDATE c SET v = v + 1 WHERE id = 1"); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	var v int
	if err := setup.QueryRow(ctx, "SELECT v FROM c WHERE id = 1").Scan(&v); err != nil || v != clients*each {
		t.Fatalf("counter = %d, %v; want %d", v, err, clients*each)
	}
}

// TestBankInvariant moves money between accounts with explicit transactions from several
// clients, retrying on 40001, while a reader checks that the total never changes.
func TestBankInvariant(t *testing.T) {
	n := startTestNode(t, Config{})
	ctx := context.Background()
	setup := connect(t, n)
	if _, err := setup.Exec(ctx, "CREATE TABLE acct (id INT PRIMARY KEY, bal INT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	const accounts, total = 10, 1000
	for i := 0; i < accounts; i++ {
		if _, err := setup.Exec(ctx, "INSERT INTO acct VALUES ($1, $2)", i, total/accounts); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errc := make(chan error, 8)
	for w := 0; w < 3; w++ {
		conn := connect(t, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 30; i++ {
				from, to := (w+i)%accounts, (w*3+i*7+1)%accounts
				if from == to {
					continue
				}
				err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
					if _, err := tx.Exec(ctx, "UPDATE acct SET bal = bal - 7 WHERE id = $1", from); err != nil {
						return err
					}
					_, err := tx.Exec(ctx, "UPDATE acct SET bal = bal + 7 WHERE id = $1", to)
					return err
				})
				if err != nil && !isRestart(pgCode(err)) {
					errc <- err
					return
				}
			}
		}()
	}
	reader := connect(t, n)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			var sum int
			if err := reader.QueryRow(ctx, "SELECT sum(bal) FROM acct").Scan(&sum); err != nil {
				errc <- err
				return
			}
			if sum != total {
				errc <- fmt.Errorf("snapshot total %d, want %d", sum, total)
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-readerDone
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}

func TestPasswordAuthentication(t *testing.T) {
	n := startTestNode(t, Config{Password: "s3cret"})
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, n.SQLURL("root"))
	if err != nil {
		t.Fatalf("right password: %v", err)
	}
	conn.Close(ctx)
	_, err = pgx.Connect(ctx, fmt.Sprintf("postgresql://root:wrong@%s/defaultdb?sslmode=disable", n.SQLAddr()))
	if pgCode(err) != "28P01" {
		t.Fatalf("wrong password: %v, want 28P01", err)
	}
}

func TestUnknownDatabase(t *testing.T) {
	n := startTestNode(t, Config{})
	_, err := pgx.Connect(context.Background(), fmt.Sprintf("postgresql://root@%s/nosuch?sslmode=disable", n.SQLAddr()))
	if pgCode(err) != "3D000" {
		t.Fatalf("connecting to a missing database: %v, want 3D000", err)
	}
}

// TestCancelRequest cancels a long statement from the client: the server must stop it with
// 57014 and keep the connection usable.
func TestCancelRequest(t *testing.T) {
	n := startTestNode(t, Config{})
	conn := connect(t, n)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "CREATE TABLE big (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO big SELECT 1"); err != nil {
		t.Fatal(err)
	}
	qctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err := conn.Exec(qctx, "SELECT pg_sleep(10)")
	if err == nil {
		t.Fatal("statement was not cancelled")
	}
	// pgx closes the connection when its context expires mid-query after sending the cancel;
	// a fresh connection must work and the node must not be wedged.
	conn2 := connect(t, n)
	var one int
	if err := conn2.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
}

// TestPanicIsolated makes one session panic: it gets an error and is closed, and other
// sessions carry on.
func TestPanicIsolated(t *testing.T) {
	n := startTestNode(t, Config{})
	ctx := context.Background()
	victim, bystander := connect(t, n), connect(t, n)
	_, err := victim.Exec(ctx, "SELECT meridian_force_panic()")
	if pgCode(err) != "XX000" {
		t.Fatalf("panicking statement: %v, want XX000", err)
	}
	var one int
	if err := bystander.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatalf("other session after a panic: %v", err)
	}
	conn := connect(t, n)
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatalf("new session after a panic: %v", err)
	}
}

// TestReadersDoNotWaitForWriters reads rows an open transaction has written: the reader sees
// the last committed values at once (it pushes the writer above its read), and the writer
// still commits, after which its values are visible.
func TestReadersDoNotWaitForWriters(t *testing.T) {
	n := startTestNode(t, Config{})
	ctx := context.Background()
	writer, reader := connect(t, n), connect(t, n)
	if _, err := writer.Exec(ctx, "CREATE TABLE kv (k INT PRIMARY KEY, v TEXT)"); err != nil {
		t.Fatal(err)
	}
	if _, err := writer.Exec(ctx, "INSERT INTO kv VALUES (1, 'old'), (2, 'old')"); err != nil {
		t.Fatal(err)
	}
	tx, err := writer.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var seen string
	if err := tx.QueryRow(ctx, "SELECT v FROM kv WHERE k = 2").Scan(&seen); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "UPDATE kv SET v = 'new' WHERE k = 1"); err != nil {
		t.Fatal(err)
	}
	var v string
	readCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := reader.QueryRow(readCtx, "SELECT v FROM kv WHERE k = 1").Scan(&v); err != nil || v != "old" {
		t.Fatalf("reader during the write: %q, %v", v, err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("pushed writer failed to commit: %v", err)
	}
	if err := reader.QueryRow(ctx, "SELECT v FROM kv WHERE k = 1").Scan(&v); err != nil || v != "new" {
		t.Fatalf("reader after the commit: %q, %v", v, err)
	}
}

// TestInsertAfterConcurrentInsert: a transaction inserting a key that a concurrent
// transaction inserted after its snapshot gets a serialization failure (40001, retry), as
// in PostgreSQL, not a unique violation; a key that was there before the snapshot is a
// unique violation (23505).
func TestInsertAfterConcurrentInsert(t *testing.T) {
	n := startTestNode(t, Config{})
	ctx := context.Background()
	c1, c2 := connect(t, n), connect(t, n)
	for _, stmt := range []string{"CREATE TABLE u (k INT PRIMARY KEY)", "INSERT INTO u VALUES (0)", "BEGIN"} {
		if _, err := c1.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	if got := countRows(t, ctx, c1, "SELECT k FROM u"); got != 1 { // takes the snapshot
		t.Fatalf("%d rows", got)
	}
	if _, err := c2.Exec(ctx, "INSERT INTO u VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	_, err := c1.Exec(ctx, "INSERT INTO u VALUES (1)")
	if code := pgCode(err); code != "40001" {
		t.Fatalf("insert of a key inserted concurrently: %v (SQLSTATE %q), want 40001", err, code)
	}
	if _, err := c1.Exec(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	_, err = c1.Exec(ctx, "INSERT INTO u VALUES (1)")
	if code := pgCode(err); code != "23505" {
		t.Fatalf("insert of an existing key: %v (SQLSTATE %q), want 23505", err, code)
	}
}

// isRestart reports whether a SQLSTATE asks the client to run its transaction again: a
// serialization failure, or a deadlock's victim.
func isRestart(code string) bool { return code == "40001" || code == "40P01" }
