// Package rpc carries node-to-node traffic. Each node keeps one gRPC connection to each peer
// node, dialed by node ID and resolved to an address at dial time, and every service
// multiplexes over it: KV batches, the Raft messages of all ranges, and snapshots. Messages
// encode themselves (encoding.BinaryMarshaler); the codec only hands gRPC their bytes. For
// tests, benchmarks and demos, a Dialer can hold every message between two nodes for a
// delay of their choosing, so that nodes on one machine behave as if zones or regions apart.
package rpc
