// Package tpcc implements the TPC-C benchmark (TPC-C standard specification, revision
// 5.11) against any server that speaks PostgreSQL's dialect and wire protocol, Meridian and
// PostgreSQL alike: Load creates the nine tables and the initial population of clause 4.3
// in resumable parallel batches, a Terminal emulates one terminal of clause 5.2 and hands
// out the five transaction profiles of clauses 2.4 to 2.8 with their keying and think
// times, and Check verifies the consistency conditions of clause 3.3.2. Pacing, retries of
// serialization failures and reporting belong to the caller. The transactions use few
// statements, as kits that count round trips do (one statement reads all of a New-Order's
// items, one per supply warehouse locks and one updates its stock rows, one inserts its
// lines), and the same SQL on every server.
package tpcc
