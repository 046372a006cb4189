package sql_test

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/meridiandb/meridian/sql/catalog"
)

// TestPsql runs the real psql against a real node and checks what its describe commands
// print: each works off the system catalogs (pg_class, pg_attribute, pg_index, ...) with
// the queries psql sends to a PostgreSQL server, so this checks that those queries run and
// answer as PostgreSQL's catalogs would. The expected output is what psql prints for the
// same schema on PostgreSQL 15 (whose \l would list template0 and template1 too, whose
// Collate and Ctype depend on initdb, and whose public schema is owned by the role
// pg_database_owner, which Meridian does not have: root owns it). The schema s holds what
// the catalogs must show beyond a table and its primary key: a SERIAL column and its
// sequence, a UNIQUE constraint, a CHECK, a foreign key with an action, and a secondary
// index with a DESC key column and an INCLUDE column. scripts/install-deps installs psql;
// without it the test is skipped.
func TestPsql(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Skip("psql is not installed")
	}
	n := startNode(t)
	ctx := context.Background()
	url := userURL(n, "root", "", catalog.DefaultDatabase)
	c, err := pgconn.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	for _, stmt := range []string{
		`CREATE TABLE t (id INT PRIMARY KEY, name TEXT NOT NULL DEFAULT 'x', v NUMERIC(10,2), s VARCHAR(20))`,
		`CREATE TABLE "Mixed" (a BIGINT, b TIMESTAMPTZ DEFAULT now(), c BOOL DEFAULT true, PRIMARY KEY (a, c))`,
		`CREATE TABLE nokey (x INT)`,
		`CREATE SCHEMA s`,
		`CREATE TABLE s.parent (id SERIAL PRIMARY KEY, code TEXT NOT NULL, CONSTRAINT parent_code_key UNIQUE (code))`,
		`CREATE TABLE s.child (id INT PRIMARY KEY, parent_id INT REFERENCES s.parent (id) ON DELETE CASCADE,
			qty INT CHECK (qty > 0), note TEXT)`,
		`CREATE INDEX child_parent_idx ON s.child (parent_id DESC) INCLUDE (note)`,
		`CREATE USER alice`,
		`CREATE ROLE readers`,
		`GRANT readers TO alice`,
		`CREATE VIEW tv AS SELECT id, name FROM t WHERE id > 0`,
	} {
		if _, err := c.Exec(ctx, stmt).ReadAll(); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	host, port, _ := net.SplitHostPort(n.SQLAddr())
	// run runs psql with one -c per command (a setting, then a describe command).
	run := func(t *testing.T, commands ...string) string {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		args := []string{"-X", "--no-psqlrc", "-P", "pager=off"}
		for _, c := range commands {
			args = append(args, "-c", c)
		}
		cmd := exec.CommandContext(cctx, psql, append(args, url)...)
		cmd.Env = []string{"PGCONNECT_TIMEOUT=10", "LANG=C.UTF-8"}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Logf("psql %q: %v", commands, err)
		}
		s := strings.ReplaceAll(string(out), `port "`+port+`"`, `port "<port>"`)
		return strings.ReplaceAll(s, `host "`+host+`"`, `host "<host>"`)
	}
	for _, tc := range []struct{ setup, command, want string }{
		{"", `\l`, `                                          List of databases
   Name    | Owner | Encoding | Collate |  Ctype  | ICU Locale | Locale Provider | Access privileges 
-----------+-------+----------+---------+---------+------------+-----------------+-------------------
 defaultdb | root  | UTF8     | C.UTF-8 | C.UTF-8 |            | libc            | 
 postgres  | root  | UTF8     | C.UTF-8 | C.UTF-8 |            | libc            | 
(2 rows)

`},
		{"", `\dn`, `List of schemas
  Name  | Owner 
--------+-------
 public | root
 s      | root
(2 rows)

`},
		{"", `\dt`, `       List of relations
 Schema | Name  | Type  | Owner 
--------+-------+-------+-------
 public | Mixed | table | root
 public | nokey | table | root
 public | t     | table | root
(3 rows)

`},
		{"", `\dt t`, `       List of relations
 Schema | Name | Type  | Owner 
--------+------+-------+-------
 public | t    | table | root
(1 row)

`},
		{"", `\d t`, `                         Table "public.t"
 Column |         Type          | Collation | Nullable |  Default  
--------+-----------------------+-----------+----------+-----------
 id     | integer               |           | not null | 
 name   | text                  |           | not null | 'x'::text
 v      | numeric(10,2)         |           |          | 
 s      | character varying(20) |           |          | 
Indexes:
    "t_pkey" PRIMARY KEY, btree (id)

`},
		{"", `\d "Mixed"`, `                        Table "public.Mixed"
 Column |           Type           | Collation | Nullable | Default 
--------+--------------------------+-----------+----------+---------
 a      | bigint                   |           | not null | 
 b      | timestamp with time zone |           |          | now()
 c      | boolean                  |           | not null | true
Indexes:
    "Mixed_pkey" PRIMARY KEY, btree (a, c)

`},
		{"", `\d nokey`, `               Table "public.nokey"
 Column |  Type   | Collation | Nullable | Default 
--------+---------+-----------+----------+---------
 x      | integer |           |          | 

`},
		{"", `\d nosuch`, "Did not find any relation named \"nosuch\".\n"},
		{"", `\di`, `              List of relations
 Schema |    Name    | Type  | Owner | Table 
--------+------------+-------+-------+-------
 public | Mixed_pkey | index | root  | Mixed
 public | t_pkey     | index | root  | t
(2 rows)

`},
		{"", `\dt s.*`, `        List of relations
 Schema |  Name  | Type  | Owner 
--------+--------+-------+-------
 s      | child  | table | root
 s      | parent | table | root
(2 rows)

`},
		{"", `\d s.parent`, `                                Table "s.parent"
 Column |  Type   | Collation | Nullable |               Default                
--------+---------+-----------+----------+--------------------------------------
 id     | integer |           | not null | nextval('s.parent_id_seq'::regclass)
 code   | text    |           | not null | 
Indexes:
    "parent_pkey" PRIMARY KEY, btree (id)
    "parent_code_key" UNIQUE CONSTRAINT, btree (code)
Referenced by:
    TABLE "s.child" CONSTRAINT "child_parent_id_fkey" FOREIGN KEY (parent_id) REFERENCES s.parent(id) ON DELETE CASCADE

`},
		{"", `\d s.child`, `                   Table "s.child"
  Column   |  Type   | Collation | Nullable | Default 
-----------+---------+-----------+----------+---------
 id        | integer |           | not null | 
 parent_id | integer |           |          | 
 qty       | integer |           |          | 
 note      | text    |           |          | 
Indexes:
    "child_pkey" PRIMARY KEY, btree (id)
    "child_parent_idx" btree (parent_id DESC) INCLUDE (note)
Check constraints:
    "child_qty_check" CHECK (qty > 0)
Foreign-key constraints:
    "child_parent_id_fkey" FOREIGN KEY (parent_id) REFERENCES s.parent(id) ON DELETE CASCADE

`},
		// With s on the search path its relations are visible: bare names find them, and
		// the foreign key names its table unqualified.
		{"SET search_path = s, public", `\d child`, `SET
                   Table "s.child"
  Column   |  Type   | Collation | Nullable | Default 
-----------+---------+-----------+----------+---------
 id        | integer |           | not null | 
 parent_id | integer |           |          | 
 qty       | integer |           |          | 
 note      | text    |           |          | 
Indexes:
    "child_pkey" PRIMARY KEY, btree (id)
    "child_parent_idx" btree (parent_id DESC) INCLUDE (note)
Check constraints:
    "child_qty_check" CHECK (qty > 0)
Foreign-key constraints:
    "child_parent_id_fkey" FOREIGN KEY (parent_id) REFERENCES parent(id) ON DELETE CASCADE

`},
		{"", `\di s.*`, `                 List of relations
 Schema |       Name       | Type  | Owner | Table  
--------+------------------+-------+-------+--------
 s      | child_parent_idx | index | root  | child
 s      | child_pkey       | index | root  | child
 s      | parent_code_key  | index | root  | parent
 s      | parent_pkey      | index | root  | parent
(4 rows)

`},
		{"", `\ds s.*`, `             List of relations
 Schema |     Name      |   Type   | Owner 
--------+---------------+----------+-------
 s      | parent_id_seq | sequence | root
(1 row)

`},
		// The sequence's owner column comes from pg_depend.
		{"", `\d s.parent_id_seq`, `                      Sequence "s.parent_id_seq"
  Type   | Start | Minimum |  Maximum   | Increment | Cycles? | Cache 
---------+-------+---------+------------+-----------+---------+-------
 integer |     1 |       1 | 2147483647 |         1 | no      |     1
Owned by: s.parent.id

`},
		{"", `\du`, `                                   List of roles
 Role name |                         Attributes                         | Member of 
-----------+------------------------------------------------------------+-----------
 alice     |                                                            | {readers}
 readers   | Cannot login                                               | {}
 root      | Superuser, Create role, Create DB, Replication, Bypass RLS | {}

`},
		{"", `\dt+ t`, `                                  List of relations
 Schema | Name | Type  | Owner | Persistence | Access method |  Size   | Description 
--------+------+-------+-------+-------------+---------------+---------+-------------
 public | t    | table | root  | permanent   | heap          | 0 bytes | 
(1 row)

`},
		{"", `\dv`, `      List of relations
 Schema | Name | Type | Owner 
--------+------+------+-------
 public | tv   | view | root
(1 row)

`},
		{"", `\d tv`, `                 View "public.tv"
 Column |  Type   | Collation | Nullable | Default 
--------+---------+-----------+----------+---------
 id     | integer |           |          | 
 name   | text    |           |          | 

`},
		{"", `\d+ tv`, `                              View "public.tv"
 Column |  Type   | Collation | Nullable | Default | Storage  | Description 
--------+---------+-----------+----------+---------+----------+-------------
 id     | integer |           |          |         | plain    | 
 name   | text    |           |          |         | extended | 
View definition:
 SELECT id, name FROM t WHERE id > 0;

`},
		{"", `\conninfo`, "You are connected to database \"defaultdb\" as user \"root\" on host \"<host>\" at port \"<port>\".\n"},
	} {
		name := tc.command
		if tc.setup != "" {
			name = tc.setup + "; " + tc.command
		}
		t.Run(name, func(t *testing.T) {
			commands := []string{tc.command}
			if tc.setup != "" {
				commands = []string{tc.setup, tc.command}
			}
			if got := run(t, commands...); got != tc.want {
				t.Errorf("psql %s printed\n%s\nwant\n%s", tc.command, got, tc.want)
			}
		})
	}
}
