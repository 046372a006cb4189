package connmux

import (
	"net"
	"sync"
)

// listener is a sub-listener: the connections the Mux routed to one Match prefix, or to
// Default. Classified connections wait in a buffered channel for Accept.
type listener struct {
	m    *Mux
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newListener(m *Mux) *listener {
	return &listener{m: m, ch: make(chan net.Conn, acceptBacklog), done: make(chan struct{})}
}

// Accept waits for the next connection routed to this listener. After the listener or its
// Mux is closed it returns an error wrapping net.ErrClosed.
func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		if l.isClosed() {
			c.Close()
			return nil, l.errClosed()
		}
		return c, nil
	case <-l.done:
		return nil, l.errClosed()
	}
}

// Close closes this sub-listener only: its Accept returns net.ErrClosed, connections waiting
// for Accept are closed, and so are connections routed to it later. The Mux and its other
// listeners keep running. Close is idempotent and returns nil.
func (l *listener) Close() error {
	l.once.Do(func() { close(l.done) })
	l.drain()
	return nil
}

// Addr returns the address of the Mux's underlying listener.
func (l *listener) Addr() net.Addr { return l.m.ln.Addr() }

func (l *listener) isClosed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// drain closes every connection waiting for Accept.
func (l *listener) drain() {
	for {
		select {
		case c := <-l.ch:
			c.Close()
		default:
			return
		}
	}
}

func (l *listener) errClosed() error {
	a := l.Addr()
	return &net.OpError{Op: "accept", Net: a.Network(), Addr: a, Err: net.ErrClosed}
}
