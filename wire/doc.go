// Package wire serves the PostgreSQL v3 frontend/backend protocol. A Server accepts
// connections, runs the startup and authentication handshake, and then turns each session's
// simple- and extended-protocol messages into calls on a Backend (the SQL engine's session),
// writing back the results, errors with their SQLSTATEs, and the transaction status. Every
// session runs on its own goroutine owned by the Server; a malformed message or a panic ends
// that session with an error and never affects the others.
package wire
