// Package scram implements the server side of SCRAM-SHA-256 (RFC 5802 and RFC 7677) as
// PostgreSQL speaks it: password verifiers (salt, iteration count, StoredKey, ServerKey) in
// PostgreSQL's text form, and the three-message exchange that proves a client knows the
// password without sending it. Channel binding (SCRAM-SHA-256-PLUS) is not offered; a client
// that asks for it is refused, one that merely could use it ("y" flag) is accepted.
package scram
