// Package raftnet carries the Raft traffic of every range on a node over the node's one gRPC
// connection to each peer node. Each range's Raft group gets a Group, its hashicorp/raft
// Transport; all groups share one bidirectional stream per peer, on which messages of many
// groups (most of them heartbeats) are coalesced into batches, and responses are matched to
// requests by ID, so a slow group never holds up another. Snapshots stream on their own
// call. Raft addresses are node IDs, resolved to network addresses by the rpc package at dial
// time, so a node keeps its identity when its address changes.
package raftnet
