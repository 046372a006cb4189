// Package sql is Meridian's SQL engine: sessions that speak to the wire layer, a PostgreSQL
// dialect front end over the tidb grammar, name resolution through the catalog, planning
// (including primary-key span selection) and execution over serializable transactions.
package sql
