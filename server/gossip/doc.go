// Package gossip gives a Meridian node cluster membership, failure detection and locality
// tags. It runs hashicorp/serf (SWIM gossip over hashicorp/memberlist) on the node's single
// port: gossip packets travel over UDP on the node's port number, and gossip streams share
// the node's TCP listener, where they are told apart from SQL and RPC connections by the
// StreamPreamble that every gossip stream starts with. The node's connection multiplexer
// hands such connections to Transport.HandleStream. Each node is a serf member named after
// its node ID, and publishes its locality (e.g. region=us-east1,zone=a) and other addresses
// as serf tags, so every node learns every other node's liveness, address and placement.
package gossip
