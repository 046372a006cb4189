// Package testaddr hands tests loopback addresses for the servers they start. The ports are
// drawn at random below the kernel's ephemeral range (32768 and up on Linux), where the
// outgoing connections of every process on the machine take their local ports: a port
// reserved there by listening on :0 and then released is often taken by such a connection
// before the test's server binds it, which made cluster tests fail with "address already in
// use" when packages ran side by side.
package testaddr

import (
	"fmt"
	"math/rand/v2"
	"net"
)

// Loopback returns n distinct 127.0.0.1 addresses whose port was free on TCP and UDP (gossip
// uses the node's port on both) when it was chosen.
func Loopback(n int) []string {
	seen := map[int]bool{}
	var out []string
	for len(out) < n {
		port := 10000 + rand.IntN(20000)
		if seen[port] {
			continue
		}
		seen[port] = true
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		pc, err := net.ListenPacket("udp", addr)
		ln.Close()
		if err != nil {
			continue
		}
		pc.Close()
		out = append(out, addr)
	}
	return out
}
