// Package listappend checks histories of list-append transactions for serializability.
// Clients run transactions that append values, unique per key, to lists stored at keys and
// read whole lists back. Because a read returns every value appended so far, the reads reveal
// the order in which appends took effect at each key; from that order the checker derives
// write-write, write-read and read-write (anti-)dependencies between transactions. It reports
// reads that no serial execution could produce (of aborted or intermediate state, or in
// contradictory orders) and every cycle in the dependency graph, classified after Adya's
// isolation anomalies as G0, G1c, G-single or G2. CheckWith can also order transactions by
// wall-clock time, which turns the check into one of strict serializability.
package listappend
