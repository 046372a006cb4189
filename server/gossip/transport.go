package gossip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// StreamPreamble is the first bytes of every gossip stream on the node's shared TCP port.
// A dialing node writes it before anything else; the accepting node's multiplexer reads it
// off the connection and passes the rest of the connection to Transport.HandleStream.
const StreamPreamble = "MRDNGSP1"

// ErrClosed is returned by operations on a Gossip or Transport that has been closed.
var ErrClosed = errors.New("gossip: closed")

const (
	// maxPacketSize is the largest UDP payload that can arrive.
	maxPacketSize = 65536
	// udpRecvBufSize is the socket receive buffer asked for, so bursts of gossip are not
	// dropped by the kernel; smaller sizes are tried if the system refuses it.
	udpRecvBufSize = 2 << 20
)

// Transport carries memberlist's traffic over the node's shared port: packets over a UDP
// socket of its own, bound to the node's port number, and streams over TCP connections to
// peers' advertised addresses that start with StreamPreamble. It has no TCP listener: the
// node's multiplexer owns the port and passes inbound gossip streams to HandleStream.
type Transport struct {
	udp       *net.UDPConn
	advertise netip.AddrPort
	logger    *slog.Logger

	packetCh chan *memberlist.Packet
	streamCh chan net.Conn

	// dialCtx is canceled on shutdown, aborting dials in flight.
	dialCtx    context.Context
	cancelDial context.CancelFunc

	shutdownCh   chan struct{}
	shutdownOnce sync.Once
	readerDone   chan struct{}

	mu     sync.Mutex
	closed bool
	conns  map[*trackedConn]struct{} // streams handed to memberlist, closed on shutdown
}

// newTransport binds the UDP socket on bindAddr and starts reading packets from it.
// advertise is the address peers send packets and dial streams to.
func newTransport(ctx context.Context, bindAddr string, advertise netip.AddrPort, logger *slog.Logger) (*Transport, error) {
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp", bindAddr)
	if err != nil {
		return nil, fmt.Errorf("gossip: binding UDP on %s: %w", bindAddr, err)
	}
	udp := pc.(*net.UDPConn)
	for size := udpRecvBufSize; size > 0; size /= 2 {
		if udp.SetReadBuffer(size) == nil {
			break
		}
	}
	dialCtx, cancel := context.WithCancel(context.Background())
	t := &Transport{
		udp:        udp,
		advertise:  advertise,
		logger:     logger,
		packetCh:   make(chan *memberlist.Packet),
		streamCh:   make(chan net.Conn),
		dialCtx:    dialCtx,
		cancelDial: cancel,
		shutdownCh: make(chan struct{}),
		readerDone: make(chan struct{}),
		conns:      make(map[*trackedConn]struct{}),
	}
	go t.readPackets()
	return t, nil
}

// HandleStream delivers an inbound gossip stream, whose StreamPreamble the caller has
// already read, to memberlist. It takes ownership of conn: conn is either handed over, to be
// closed by memberlist, or closed here. It blocks until memberlist takes the stream and
// returns ErrClosed, having closed conn, if the transport is or gets shut down first.
func (t *Transport) HandleStream(conn net.Conn) error {
	tc, ok := t.track(conn)
	if !ok {
		_ = conn.Close()
		return ErrClosed
	}
	select {
	case <-t.shutdownCh:
		_ = tc.Close()
		return ErrClosed
	default:
	}
	select {
	case t.streamCh <- tc:
		return nil
	case <-t.shutdownCh:
		_ = tc.Close()
		return ErrClosed
	}
}

// abortDials makes stream dials in flight, and any later ones, fail at once.
func (t *Transport) abortDials() { t.cancelDial() }

// shutdown closes the UDP socket and every stream handed to memberlist, and waits for the
// packet reader to stop. It is safe to call more than once.
func (t *Transport) shutdown() {
	t.shutdownOnce.Do(func() {
		t.mu.Lock()
		t.closed = true
		conns := t.conns
		t.conns = nil
		t.mu.Unlock()

		close(t.shutdownCh)
		t.cancelDial()
		_ = t.udp.Close()
		for c := range conns {
			_ = c.Conn.Close()
		}
		<-t.readerDone
	})
}

// readPackets reads UDP packets and passes them to memberlist until shutdown.
func (t *Transport) readPackets() {
	defer close(t.readerDone)
	buf := make([]byte, maxPacketSize)
	for {
		n, from, err := t.udp.ReadFromUDPAddrPort(buf)
		ts := time.Now()
		if err != nil {
			select {
			case <-t.shutdownCh:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			t.logger.Warn("gossip: reading UDP packet", "err", err)
			continue
		}
		if n == 0 {
			continue
		}
		p := &memberlist.Packet{
			Buf:       append([]byte(nil), buf[:n]...),
			From:      net.UDPAddrFromAddrPort(from),
			Timestamp: ts,
		}
		select {
		case t.packetCh <- p:
		case <-t.shutdownCh:
			return
		}
	}
}

// track registers conn to be closed on shutdown, wrapping it so that closing it
// unregisters it. It reports false if the transport is shut down.
func (t *Transport) track(conn net.Conn) (*trackedConn, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, false
	}
	tc := &trackedConn{Conn: conn, t: t}
	t.conns[tc] = struct{}{}
	return tc, true
}

func (t *Transport) untrack(tc *trackedConn) {
	t.mu.Lock()
	delete(t.conns, tc)
	t.mu.Unlock()
}

// trackedConn is a stream memberlist owns; shutdown closes those still open.
type trackedConn struct {
	net.Conn
	t    *Transport
	once sync.Once
	err  error
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.t.untrack(c)
		c.err = c.Conn.Close()
	})
	return c.err
}

// mlTransport is Transport as memberlist sees it. Keeping memberlist's methods on a
// separate type keeps them out of Transport's exported API.
type mlTransport Transport

var _ memberlist.NodeAwareTransport = (*mlTransport)(nil)

// FinalAdvertiseAddr returns the configured advertise address, unless memberlist was given
// one of its own (the package never does that).
func (m *mlTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	if ip != "" {
		addr, err := netip.ParseAddr(ip)
		if err != nil {
			return nil, 0, fmt.Errorf("gossip: parsing advertise IP %q: %w", ip, err)
		}
		return net.IP(addr.Unmap().AsSlice()), port, nil
	}
	a := m.advertise
	return net.IP(a.Addr().Unmap().AsSlice()), int(a.Port()), nil
}

func (m *mlTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return m.WriteToAddress(b, memberlist.Address{Addr: addr})
}

func (m *mlTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	to, err := netip.ParseAddrPort(a.Addr)
	if err != nil {
		// Not an IP literal: memberlist only sends to IPs, but be lenient.
		ua, rerr := net.ResolveUDPAddr("udp", a.Addr)
		if rerr != nil {
			return time.Time{}, rerr
		}
		to = ua.AddrPort()
	}
	_, err = m.udp.WriteToUDPAddrPort(b, to)
	return time.Now(), err
}

func (m *mlTransport) PacketCh() <-chan *memberlist.Packet { return m.packetCh }

func (m *mlTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return m.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout dials a peer's shared port and writes StreamPreamble, so that the
// peer's multiplexer routes the connection to its gossip transport.
func (m *mlTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	t := (*Transport)(m)
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(t.dialCtx, "tcp", a.Addr)
	if err != nil {
		return nil, err
	}
	if timeout > 0 {
		_ = conn.SetWriteDeadline(time.Now().Add(timeout))
	}
	if _, err := conn.Write([]byte(StreamPreamble)); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("gossip: writing stream preamble to %s: %w", a.Addr, err)
	}
	_ = conn.SetWriteDeadline(time.Time{})
	tc, ok := t.track(conn)
	if !ok {
		_ = conn.Close()
		return nil, ErrClosed
	}
	return tc, nil
}

func (m *mlTransport) StreamCh() <-chan net.Conn { return m.streamCh }

// Shutdown is called by memberlist as it shuts down.
func (m *mlTransport) Shutdown() error {
	(*Transport)(m).shutdown()
	return nil
}
