package connmux

import (
	"net"
	"sync"
)

// replay returns c reading buf before anything still unread on c, or c itself if buf is empty.
func replay(c net.Conn, buf []byte) net.Conn {
	if len(buf) == 0 {
		return c
	}
	return &peekedConn{Conn: c, buf: buf}
}

// peekedConn is a connection whose first bytes were already read off the socket; its Read
// returns them before reading on.
type peekedConn struct {
	net.Conn

	mu  sync.Mutex // guards buf: a net.Conn's methods may be called concurrently
	buf []byte
}

func (c *peekedConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if len(c.buf) > 0 {
		n := copy(p, c.buf)
		c.buf = c.buf[n:]
		if len(c.buf) == 0 {
			c.buf = nil
		}
		c.mu.Unlock()
		return n, nil
	}
	c.mu.Unlock()
	return c.Conn.Read(p)
}
