// Package workload runs benchmark workloads against any PostgreSQL-protocol database, Meridian
// or PostgreSQL itself, and reports honest numbers: a workload (kv, bank, TPC-C) supplies its
// schema, its loader, its consistency check and a stream of operations per worker, and this
// package runs K workers each on its own connection, retries serialization failures (SQLSTATE
// 40001 and 40P01) with backoff while counting them, and measures every operation as its user
// sees it, retries included, in log-linear histograms from which it prints live per-second
// lines and a final report (text or JSON) of throughput and latency percentiles per operation.
package workload
