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
// same schema on PostgreSQL (whose \l would list template0 and template1 too, and whose
// Collate and Ctype depend on initdb). scripts/install-deps installs psql; without it the
// test is skipped.
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
		`CREATE USER alice`,
		`CREATE ROLE readers`,
		`GRANT readers TO alice`,
	} {
		if _, err := c.Exec(ctx, stmt).ReadAll(); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	host, port, _ := net.SplitHostPort(n.SQLAddr())
	run := func(t *testing.T, command string) string {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(cctx, psql, "-X", "--no-psqlrc", "-P", "pager=off", "-c", command, url)
		cmd.Env = []string{"PGCONNECT_TIMEOUT=10", "LANG=C.UTF-8"}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Logf("psql %q: %v", command, err)
		}
		s := strings.ReplaceAll(string(out), `port "`+port+`"`, `port "<port>"`)
		return strings.ReplaceAll(s, `host "`+host+`"`, `host "<host>"`)
	}
	for _, tc := range []struct{ command, want string }{
		{`\l`, `                                          List of databases
   Name    | Owner | Encoding | Collate |  Ctype  | ICU Locale | Locale Provider | Access privileges 
-----------+-------+----------+---------+---------+------------+-----------------+-------------------
 defaultdb | root  | UTF8     | C.UTF-8 | C.UTF-8 |            | libc            | 
 postgres  | root  | UTF8     | C.UTF-8 | C.UTF-8 |            | libc            | 
(2 rows)

`},
		{`\dn`, `List of schemas
  Name  | Owner 
--------+-------
 public | root
(1 row)

`},
		{`\dt`, `       List of relations
 Schema | Name  | Type  | Owner 
--------+-------+-------+-------
 public | Mixed | table | root
 public | nokey | table | root
 public | t     | table | root
(3 rows)

`},
		{`\dt t`, `       List of relations
 Schema | Name | Type  | Owner 
--------+------+-------+-------
 public | t    | table | root
(1 row)

`},
		{`\d t`, `                         Table "public.t"
 Column |         Type          | Collation | Nullable |  Default  
--------+-----------------------+-----------+----------+-----------
 id     | integer               |           | not null | 
 name   | text                  |           | not null | 'x'::text
 v      | numeric(10,2)         |           |          | 
 s      | character varying(20) |           |          | 
Indexes:
    "t_pkey" PRIMARY KEY, btree (id)

`},
		{`\d "Mixed"`, `                        Table "public.Mixed"
 Column |           Type           | Collation | Nullable | Default 
--------+--------------------------+-----------+----------+---------
 a      | bigint                   |           | not null | 
 b      | timestamp with time zone |           |          | now()
 c      | boolean                  |           | not null | true
Indexes:
    "Mixed_pkey" PRIMARY KEY, btree (a, c)

`},
		{`\d nokey`, `               Table "public.nokey"
 Column |  Type   | Collation | Nullable | Default 
--------+---------+-----------+----------+---------
 x      | integer |           |          | 

`},
		{`\d nosuch`, "Did not find any relation named \"nosuch\".\n"},
		{`\di`, `              List of relations
 Schema |    Name    | Type  | Owner | Table 
--------+------------+-------+-------+-------
 public | Mixed_pkey | index | root  | Mixed
 public | t_pkey     | index | root  | t
(2 rows)

`},
		{`\du`, `                                   List of roles
 Role name |                         Attributes                         | Member of 
-----------+------------------------------------------------------------+-----------
 alice     |                                                            | {readers}
 readers   | Cannot login                                               | {}
 root      | Superuser, Create role, Create DB, Replication, Bypass RLS | {}

`},
		{`\dt+ t`, `                                  List of relations
 Schema | Name | Type  | Owner | Persistence | Access method |  Size   | Description 
--------+------+-------+-------+-------------+---------------+---------+-------------
 public | t    | table | root  | permanent   | heap          | 0 bytes | 
(1 row)

`},
		{`\conninfo`, "You are connected to database \"defaultdb\" as user \"root\" on host \"<host>\" at port \"<port>\".\n"},
	} {
		t.Run(tc.command, func(t *testing.T) {
			if got := run(t, tc.command); got != tc.want {
				t.Errorf("psql %s printed\n%s\nwant\n%s", tc.command, got, tc.want)
			}
		})
	}
}
