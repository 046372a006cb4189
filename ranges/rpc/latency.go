package rpc

import (
	"net"
	"sync"
	"time"
)

// delayedConn holds what passes through a connection for a time each way, as the link
// between nodes in different zones or regions would: a write reaches the peer oneWay()
// later, and what the peer sent is read oneWay() after it arrived. oneWay is asked at each
// message, since what decides it (the peer's locality) may become known only after the
// dial. Order is kept and bandwidth is not limited; a write returns at once, as one into a
// socket buffer does. Nodes on one machine use it to show what a deployment's distances do
// to latency (see Dialer.SimulateLatency).
type delayedConn struct {
	net.Conn
	oneWay func() time.Duration

	out     chan delayedChunk // written, not yet sent
	in      chan delayedChunk // arrived, not yet read
	unread  []byte            // the rest of the chunk Read is handing out
	done    chan struct{}     // closed by Close
	closing sync.Once

	mu     sync.Mutex
	outErr error // the first failure to send
	inErr  error // what ended reading, after the chunks before it
}

type delayedChunk struct {
	data []byte
	due  time.Time
}

// delayedQueue is how many chunks may wait in each direction before a write (or the
// reading from the network) waits for room.
const delayedQueue = 4096

func newDelayedConn(c net.Conn, oneWay func() time.Duration) *delayedConn {
	dc := &delayedConn{Conn: c, oneWay: oneWay,
		out: make(chan delayedChunk, delayedQueue), in: make(chan delayedChunk, delayedQueue), done: make(chan struct{})}
	go dc.send()
	go dc.receive()
	return dc
}

func (dc *delayedConn) Write(p []byte) (int, error) {
	dc.mu.Lock()
	err := dc.outErr
	dc.mu.Unlock()
	if err != nil {
		return 0, err
	}
	select {
	case <-dc.done:
		return 0, net.ErrClosed
	default:
	}
	chunk := delayedChunk{data: append([]byte(nil), p...), due: time.Now().Add(dc.oneWay())}
	select {
	case dc.out <- chunk:
		return len(p), nil
	case <-dc.done:
		return 0, net.ErrClosed
	}
}

// send writes the chunks to the network when they are due. It ends with the connection.
func (dc *delayedConn) send() {
	for {
		select {
		case <-dc.done:
			return
		case c := <-dc.out:
			if !wait(c.due, dc.done) {
				return
			}
			if _, err := dc.Conn.Write(c.data); err != nil {
				dc.mu.Lock()
				dc.outErr = err
				dc.mu.Unlock()
				return
			}
		}
	}
}

// receive reads from the network and queues what arrives. It ends when reading fails,
// which closing the connection makes happen.
func (dc *delayedConn) receive() {
	defer close(dc.in)
	buf := make([]byte, 32<<10)
	for {
		n, err := dc.Conn.Read(buf)
		if n > 0 {
			select {
			case dc.in <- delayedChunk{data: append([]byte(nil), buf[:n]...), due: time.Now().Add(dc.oneWay())}:
			case <-dc.done:
				err = net.ErrClosed
			}
		}
		if err != nil {
			dc.mu.Lock()
			dc.inErr = err
			dc.mu.Unlock()
			return
		}
	}
}

func (dc *delayedConn) Read(p []byte) (int, error) {
	if len(dc.unread) == 0 {
		c, ok := <-dc.in
		if !ok {
			dc.mu.Lock()
			defer dc.mu.Unlock()
			return 0, dc.inErr
		}
		if !wait(c.due, dc.done) {
			return 0, net.ErrClosed
		}
		dc.unread = c.data
	}
	n := copy(p, dc.unread)
	dc.unread = dc.unread[n:]
	return n, nil
}

func (dc *delayedConn) Close() error {
	dc.closing.Do(func() { close(dc.done) })
	return dc.Conn.Close()
}

// wait sleeps until due, or reports false if done is closed first.
func wait(due time.Time, done <-chan struct{}) bool {
	d := time.Until(due)
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}
