package sql_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestForeignKeyParentDeleteRacesChildInsert runs, for many keys at once, a session that
// deletes a parent row against one that inserts a child of it. Under serializable isolation
// exactly one of the two succeeds for each key, and no child is ever left without its
// parent.
func TestForeignKeyParentDeleteRacesChildInsert(t *testing.T) {
	n := startNode(t)
	setup := connect(t, n)
	const keys = 40
	mustQuery(t, setup, `CREATE TABLE p (id INT PRIMARY KEY);
		CREATE TABLE c (id INT PRIMARY KEY, p_id INT REFERENCES p)`)
	var values []string
	for i := 1; i <= keys; i++ {
		values = append(values, fmt.Sprintf("(%d)", i))
	}
	mustQuery(t, setup, "INSERT INTO p VALUES "+strings.Join(values, ", "))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	deleter, inserter := connect(t, n), connect(t, n)
	deleted := make([]bool, keys+1)
	inserted := make([]bool, keys+1)
	run := func(c *pgconn.PgConn, won []bool, stmt func(i int) string) error {
		for i := 1; i <= keys; i++ {
			_, err := query(ctx, c, stmt(i))
			switch {
			case err == nil:
				won[i] = true
			case sqlState(err) == "23503":
				// Lost to the other session: the parent was gone, or had a child.
			default:
				return fmt.Errorf("%s: %v", stmt(i), err)
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		errs[0] = run(deleter, deleted, func(i int) string { return fmt.Sprintf("DELETE FROM p WHERE id = %d", i) })
	}()
	go func() {
		defer wg.Done()
		errs[1] = run(inserter, inserted, func(i int) string { return fmt.Sprintf("INSERT INTO c VALUES (%d, %d)", i, i) })
	}()
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	won := 0
	for i := 1; i <= keys; i++ {
		if deleted[i] {
			won++
		}
		if deleted[i] == inserted[i] {
			t.Errorf("key %d: parent deleted %v, child inserted %v; want exactly one", i, deleted[i], inserted[i])
		}
	}
	t.Logf("%d parents deleted, %d children inserted", won, keys-won)
	if o := orphans(t, setup); len(o) > 0 {
		t.Fatalf("children without a parent: %v", o)
	}
}

// orphans lists the children of c (id, p_id) whose parent is not in p, read in one
// transaction.
func orphans(t *testing.T, conn *pgconn.PgConn) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := conn.Exec(ctx, "BEGIN; SELECT id FROM p; SELECT id, p_id FROM c; COMMIT").ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	parents := map[string]bool{}
	for _, r := range res[1].Rows {
		parents[string(r[0])] = true
	}
	var out []string
	for _, r := range res[2].Rows {
		if r[1] != nil && !parents[string(r[1])] {
			out = append(out, string(r[0]))
		}
	}
	return out
}

// TestForeignKeyConflictInExplicitTransactions interleaves the two sides by hand: both
// transactions run their statement before either commits. The serializable transactions
// cannot both commit; the one that loses gets 40001 (or 23503), and the invariant holds.
func TestForeignKeyConflictInExplicitTransactions(t *testing.T) {
	n := startNode(t)
	setup := connect(t, n)
	mustQuery(t, setup, `CREATE TABLE p (id INT PRIMARY KEY);
		CREATE TABLE c (id INT PRIMARY KEY, p_id INT REFERENCES p)`)
	for round, deleteCommitsFirst := range []bool{true, false, true, false} {
		id := round + 1
		mustQuery(t, setup, fmt.Sprintf("INSERT INTO p VALUES (%d)", id))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		deleter, inserter := connect(t, n), connect(t, n)
		mustQuery(t, deleter, "BEGIN")
		mustQuery(t, inserter, "BEGIN")
		// The statements themselves may wait for each other's locks; each runs on its own
		// and what matters is which commits.
		stmtErrs := make(chan error, 2)
		go func() {
			_, err := query(ctx, deleter, fmt.Sprintf("DELETE FROM p WHERE id = %d", id))
			stmtErrs <- err
		}()
		_, insErr := query(ctx, inserter, fmt.Sprintf("INSERT INTO c VALUES (%d, %d)", id, id))
		commit := func(c *pgconn.PgConn, stmtErr error) error {
			if stmtErr != nil {
				_, _ = query(ctx, c, "ROLLBACK")
				return stmtErr
			}
			_, err := query(ctx, c, "COMMIT")
			return err
		}
		var delErr, delCommit, insCommit error
		if deleteCommitsFirst {
			delErr = <-stmtErrs
			delCommit = commit(deleter, delErr)
			insCommit = commit(inserter, insErr)
		} else {
			insCommit = commit(inserter, insErr)
			delErr = <-stmtErrs
			delCommit = commit(deleter, delErr)
		}
		cancel()
		for _, err := range []error{delCommit, insCommit} {
			if err != nil && sqlState(err) != "40001" && sqlState(err) != "23503" {
				t.Fatalf("round %d: unexpected error %v", round, err)
			}
		}
		t.Logf("round %d: delete: %v, insert: %v", round, delCommit, insCommit)
		if (delCommit == nil) == (insCommit == nil) {
			t.Fatalf("round %d: delete committed: %v (%v), insert committed: %v (%v); want exactly one", round, delCommit == nil, delCommit, insCommit == nil, insCommit)
		}
		if o := orphans(t, setup); len(o) > 0 {
			t.Fatalf("round %d: children without a parent: %v", round, o)
		}
	}
}

// TestAlterTableIsAtomicForReaders adds columns with defaults (and drops one) while another
// session reads the table in a loop: every read sees the table wholly before or wholly
// after each change, never rows without the value of a column it shows.
func TestAlterTableIsAtomicForReaders(t *testing.T) {
	n := startNode(t)
	writer := connect(t, n)
	const rows = 300
	mustQuery(t, writer, "CREATE TABLE t (id INT PRIMARY KEY)")
	var values []string
	for i := 0; i < rows; i++ {
		values = append(values, fmt.Sprintf("(%d)", i))
	}
	mustQuery(t, writer, "INSERT INTO t VALUES "+strings.Join(values, ", "))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reader := connect(t, n)
	done := make(chan struct{})
	readErr := make(chan error, 1)
	reads := 0
	go func() {
		readErr <- func() error {
			for {
				select {
				case <-done:
					return nil
				default:
				}
				res, err := reader.Exec(ctx, "SELECT * FROM t").ReadAll()
				if err != nil {
					return err
				}
				reads++
				r := res[0]
				if len(r.Rows) != rows {
					return fmt.Errorf("read %d rows, want %d", len(r.Rows), rows)
				}
				for col, f := range r.FieldDescriptions {
					// Column cK is added with DEFAULT K: every row shows K.
					k, ok := strings.CutPrefix(f.Name, "c")
					if !ok {
						continue
					}
					for _, row := range r.Rows {
						if string(row[col]) != k {
							return fmt.Errorf("column %s reads %q in a row; want %s everywhere", f.Name, row[col], k)
						}
					}
				}
			}
		}()
	}()
	for k := 1; k <= 6; k++ {
		mustQuery(t, writer, fmt.Sprintf("ALTER TABLE t ADD COLUMN c%d INT NOT NULL DEFAULT %d", k, k))
		if k%2 == 0 {
			mustQuery(t, writer, fmt.Sprintf("ALTER TABLE t DROP COLUMN c%d", k-1))
		}
	}
	close(done)
	if err := <-readErr; err != nil {
		t.Fatal(err)
	}
	if reads == 0 {
		t.Fatal("the reader never read")
	}
	if got := one(t, writer, "SELECT count(*) FROM t WHERE c2 = 2 AND c4 = 4 AND c6 = 6"); got != strconv.Itoa(rows) {
		t.Fatalf("%s rows have every column's default, want %d", got, rows)
	}
}

// TestPreparedStatementFollowsSearchPath checks that a prepared statement resolves its
// unqualified names again once search_path changes, as PostgreSQL re-plans it.
func TestPreparedStatementFollowsSearchPath(t *testing.T) {
	n := startNode(t)
	c := connect(t, n)
	mustQuery(t, c, `CREATE SCHEMA app;
		CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('public');
		CREATE TABLE app.t (v TEXT); INSERT INTO app.t VALUES ('app')`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Prepare(ctx, "q", "SELECT v FROM t", nil); err != nil {
		t.Fatal(err)
	}
	read := func() string {
		res := c.ExecPrepared(ctx, "q", nil, nil, nil).Read()
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		return string(res.Rows[0][0])
	}
	if got := read(); got != "public" {
		t.Fatalf("before SET search_path: %q", got)
	}
	mustQuery(t, c, "SET search_path = app, public")
	if got := read(); got != "app" {
		t.Fatalf("after SET search_path: %q, want app", got)
	}
}

// TestNextvalConcurrentSessions draws from one sequence in several sessions at once, some
// in transactions that roll back: every value is handed out once, and none is lost to a
// rollback's undoing (the counter is not transactional).
func TestNextvalConcurrentSessions(t *testing.T) {
	n := startNode(t)
	setup := connect(t, n)
	mustQuery(t, setup, "CREATE SEQUENCE s; CREATE SEQUENCE cached CACHE 7")
	const sessions, draws = 3, 30
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, seq := range []string{"s", "cached"} {
		got := make([][]int, sessions)
		var wg sync.WaitGroup
		errs := make(chan error, sessions)
		for i := 0; i < sessions; i++ {
			c := connect(t, n)
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				for k := 0; k < draws; k++ {
					stmt := fmt.Sprintf("SELECT nextval('%s')", seq)
					if k%3 == 0 {
						stmt = fmt.Sprintf("BEGIN; SELECT nextval('%s'); ROLLBACK", seq)
					}
					res, err := c.Exec(ctx, stmt).ReadAll()
					if err != nil {
						errs <- err
						return
					}
					for _, r := range res {
						if len(r.Rows) == 1 {
							v, err := strconv.Atoi(string(r.Rows[0][0]))
							if err != nil {
								errs <- err
								return
							}
							got[i] = append(got[i], v)
						}
					}
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		seen := map[int]bool{}
		for _, vals := range got {
			for _, v := range vals {
				if seen[v] {
					t.Fatalf("%s: value %d handed out twice", seq, v)
				}
				seen[v] = true
			}
		}
		if len(seen) != sessions*draws {
			t.Fatalf("%s: %d distinct values, want %d", seq, len(seen), sessions*draws)
		}
		if seq == "s" {
			// Without a cache the values are exactly 1..N: rollbacks gave none back.
			for v := 1; v <= sessions*draws; v++ {
				if !seen[v] {
					t.Fatalf("value %d was never handed out", v)
				}
			}
			if next := one(t, setup, "SELECT nextval('s')"); next != strconv.Itoa(sessions*draws+1) {
				t.Fatalf("next value %s, want %d", next, sessions*draws+1)
			}
		}
	}
}
