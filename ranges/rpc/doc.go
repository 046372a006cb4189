// Package rpc carries node-to-node traffic. Each node keeps one gRPC connection to each peer
// node, dialed by node ID and resolved to an address at dial time, and every service
// multiplexes over it: KV batches, the Raft messages of all ranges, and snapshots. Messages
// encode themselves (encoding.BinaryMarshaler); the codec only hands gRPC their bytes.
package rpc
