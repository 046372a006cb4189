// Package kv is the key-value workload: a table kv (k BIGINT PRIMARY KEY, v BYTEA) loaded
// with every key of a fixed key space, read and upserted in batches of keys drawn uniformly
// or from a zipfian distribution, in a mix set by the read percentage. It measures a
// database's point operations with as little SQL around them as possible.
package kv
