// Package server runs a Meridian node: it opens the node's store, starts the transaction
// layer and SQL engine over it, and serves the PostgreSQL wire protocol and the HTTP status
// endpoints. A Node owns every goroutine it starts and stops them all in Stop.
package server
