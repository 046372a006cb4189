// Package connmux shares one TCP listener among the protocols a Meridian node serves on its
// port: it accepts every connection, reads just enough of its first bytes to tell which
// protocol it speaks, and hands it on. Match gives a net.Listener for connections that start
// with a prefix (gRPC's HTTP/2 client preface "PRI * HTTP/2.0"), replaying the bytes it read;
// Handle passes connections that start with a prefix (the gossip preamble "MRDNGSP1") to a
// callback with the prefix consumed; Default gives the listener for everything else (pgwire,
// whose first 8 bytes are a length and a protocol code). Each connection is classified in a
// goroutine of its own under a read deadline, and is dispatched as soon as its bytes match a
// prefix or rule out every prefix, so a client that sends 8 bytes and waits for a reply is
// never kept waiting for more. Close stops every goroutine the Mux started and closes the
// connections it still holds.
package connmux
