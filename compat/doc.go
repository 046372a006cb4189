// Package compat holds Meridian's client compatibility matrix: one test per PostgreSQL
// client (psql, pgx, database/sql with lib/pq, psycopg2, node-postgres, the PostgreSQL JDBC
// driver, GORM and pgbench), each running a real session against a real node started in the
// test. The clients that are not Go modules come from Debian's packages (scripts/install-deps
// installs them); a test whose client is missing skips and says which package to install.
//
// The tests and the scripts they run live in this directory's _test.go files and testdata/;
// docs/compatibility.md lists what each client exercised and the gaps found.
package compat
