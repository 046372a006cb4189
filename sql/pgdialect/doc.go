// Package pgdialect is Meridian's PostgreSQL front door: it tokenizes PostgreSQL SQL by
// PostgreSQL's lexical rules (standard, E'...' and dollar-quoted strings, quoted identifiers,
// nested comments, $n parameters) and rewrites it into text the tidb grammar reads, in
// ANSI_QUOTES | PIPES_AS_CONCAT | NO_BACKSLASH_ESCAPES mode, without losing PostgreSQL
// meaning. Unquoted names fold to lower case and tidb-reserved names are quoted; comments are
// dropped so tidb never sees /*! */ or #; $n become ? with their order recorded; expr::type
// and CAST become meridian_cast(expr, 'type') and column types travel as enum('type'), since
// tidb knows only MySQL's types; ON CONFLICT, UPSERT, RETURNING, transaction, SET and SHOW
// forms, ILIKE, IS DISTINCT FROM, ^, AT TIME ZONE and FETCH/OFFSET are mapped onto tidb
// syntax or cut out for the engine. Query structure tidb lacks travels as marker calls the
// planner recognizes (FULL JOIN as a LEFT JOIN on meridian_full_join(cond), DISTINCT ON as
// a first field meridian_distinct_on(...), a function in FROM as a derived table of
// meridian_table_function(f(...))), VALUES queries become UNION ALL selects, and FROM
// column alias lists move to Statement.ColumnAliases (see queries.go). What it recognizes
// but cannot express is refused with SQLSTATE 0A000 rather than passed on to be misread.
package pgdialect
