package gossip

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/serf"
)

// Config configures a node's gossip.
type Config struct {
	// NodeID is the Meridian node ID; it must be non-zero. The node's serf member name is
	// "n<NodeID>", so IDs must be unique in the cluster.
	NodeID uint64
	// BindAddr is the host:port to bind gossip's UDP socket on: the same port number as the
	// node's TCP listener, whose multiplexer hands gossip streams to Transport.HandleStream.
	BindAddr string
	// AdvertiseAddr is the host:port peers send to and dial; it defaults to BindAddr. A host
	// name is resolved once, at Start. If it is empty and BindAddr's host is unspecified
	// (e.g. ":26257" or "0.0.0.0:26257"), the first private IPv4 address of the machine's
	// interfaces is advertised.
	AdvertiseAddr string
	// Locality is the node's placement, e.g. {"region": "us-east1", "zone": "a"}; see
	// ParseLocality for what keys and values may hold.
	Locality map[string]string
	// Tags are the node's other published attributes, e.g. {"sql": "10.0.0.1:26257"}. Keys
	// may not start with "loc.", which carries Locality.
	Tags map[string]string
	// Logger receives serf's and memberlist's log lines at their levels; nil discards them.
	Logger *slog.Logger
	// Timing tunes failure detection; the zero value is memberlist's and serf's LAN defaults.
	Timing Timing
}

// Timing tunes failure detection and dissemination. A zero field takes the default shown,
// which is that of memberlist's DefaultLANConfig or serf's DefaultConfig. Tests shorten them
// so that a dead node is detected in a second or two; production keeps the defaults.
type Timing struct {
	// ProbeInterval is how often a random member is probed (1s).
	ProbeInterval time.Duration
	// ProbeTimeout is how long a direct probe waits for its ack before probing indirectly
	// (500ms); it should exceed the 99th percentile round trip time.
	ProbeTimeout time.Duration
	// SuspicionMult scales how long a suspect member has to refute the suspicion before it
	// is declared failed: SuspicionMult * log10(max(N, 1)) * ProbeInterval at least (4).
	SuspicionMult int
	// GossipInterval is how often queued messages are gossiped to a few members (200ms).
	GossipInterval time.Duration
	// PushPullInterval is how often full state is exchanged with a random member (30s).
	PushPullInterval time.Duration
	// TCPTimeout bounds dialing and using a gossip stream (10s).
	TCPTimeout time.Duration
	// BroadcastTimeout is how long SetTags and Leave wait for their update to go out (5s).
	BroadcastTimeout time.Duration
	// LeavePropagateDelay is how long Leave keeps answering probes after announcing the
	// leave, so that it spreads (1s).
	LeavePropagateDelay time.Duration
	// ReapInterval is how often Failed and Left members are checked for reaping (15s).
	ReapInterval time.Duration
	// ReconnectInterval is how often a Failed member is tried again (30s).
	ReconnectInterval time.Duration
	// ReconnectTimeout is how long a Failed member is kept, and retried, before it is
	// reaped (24h).
	ReconnectTimeout time.Duration
	// TombstoneTimeout is how long a Left member is kept before it is reaped (24h).
	TombstoneTimeout time.Duration
}

// Status is a member's state as this node sees it.
type Status int

const (
	// StatusUnknown is the zero Status.
	StatusUnknown Status = iota
	// StatusAlive is a member that answers probes (or is suspected but not yet declared
	// failed: serf does not expose suspicion).
	StatusAlive
	// StatusLeaving is a member that announced it is leaving.
	StatusLeaving
	// StatusLeft is a member that left gracefully.
	StatusLeft
	// StatusFailed is a member that stopped answering probes without leaving.
	StatusFailed
)

func (s Status) String() string {
	switch s {
	case StatusAlive:
		return "alive"
	case StatusLeaving:
		return "leaving"
	case StatusLeft:
		return "left"
	case StatusFailed:
		return "failed"
	default:
		return "unknown"
	}
}

// Member is a node of the cluster as this node sees it.
type Member struct {
	NodeID   uint64
	Addr     string            // advertised host:port
	Locality map[string]string // never nil
	Tags     map[string]string // other tags; never nil
	Status   Status
}

// EventKind is what happened to a member.
type EventKind int

const (
	// MemberJoined: a member became alive, including the local node as it starts and a
	// member that comes back after failing.
	MemberJoined EventKind = iota + 1
	// MemberUpdated: a member's tags changed.
	MemberUpdated
	// MemberFailed: a member stopped answering probes without leaving.
	MemberFailed
	// MemberLeft: a member left gracefully.
	MemberLeft
	// MemberReaped: a Failed or Left member was forgotten (see Timing.ReconnectTimeout and
	// Timing.TombstoneTimeout).
	MemberReaped
)

func (k EventKind) String() string {
	switch k {
	case MemberJoined:
		return "joined"
	case MemberUpdated:
		return "updated"
	case MemberFailed:
		return "failed"
	case MemberLeft:
		return "left"
	case MemberReaped:
		return "reaped"
	default:
		return "unknown"
	}
}

// Event is a change to one member, with the member as it was after the change.
type Event struct {
	Kind   EventKind
	Member Member
}

// EventBufferSize is the capacity of the Events channel.
const EventBufferSize = 1024

// serfEventBuffer is the capacity of the channel serf sends events on. serf's internal
// forwarder blocks on it, so it must be drained until serf has shut down, and large enough
// to hold what serf still forwards after that.
const serfEventBuffer = 2048

// Gossip is a running gossip member. Its methods are safe for concurrent use.
type Gossip struct {
	name      string
	locality  map[string]string
	logger    *slog.Logger
	transport *Transport
	serf      *serf.Serf

	serfEvents chan serf.Event
	events     chan Event
	stopPump   chan struct{}
	pumpDone   chan struct{}
	dropped    uint64 // events dropped; owned by pump

	mu     sync.Mutex
	closed bool
	ops    sync.WaitGroup // Join attempts, SetTags and Leave in flight; Close waits for them

	tagsMu sync.Mutex // serializes SetTags

	closeCh   chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Start binds gossip's UDP socket and starts a serf member for the node; the member is
// alone until Join. ctx bounds resolving the advertise address and binding; it is not kept.
func Start(ctx context.Context, cfg Config) (*Gossip, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.NodeID == 0 {
		return nil, errors.New("gossip: Config.NodeID must be non-zero")
	}
	if err := validateLocality(cfg.Locality); err != nil {
		return nil, fmt.Errorf("gossip: Config.Locality: %w", err)
	}
	if err := validateTags(cfg.Tags); err != nil {
		return nil, fmt.Errorf("gossip: Config.Tags: %w", err)
	}
	if _, _, err := splitHostPort("BindAddr", cfg.BindAddr); err != nil {
		return nil, err
	}
	advertise, err := resolveAdvertise(ctx, cfg.AdvertiseAddr, cfg.BindAddr)
	if err != nil {
		return nil, err
	}

	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t, err := newTransport(ctx, cfg.BindAddr, advertise, logger)
	if err != nil {
		return nil, err
	}

	g := &Gossip{
		name:       nodeName(cfg.NodeID),
		locality:   maps.Clone(cfg.Locality),
		logger:     logger,
		transport:  t,
		serfEvents: make(chan serf.Event, serfEventBuffer),
		events:     make(chan Event, EventBufferSize),
		stopPump:   make(chan struct{}),
		pumpDone:   make(chan struct{}),
		closeCh:    make(chan struct{}),
	}
	go g.pump()

	s, err := serf.Create(g.serfConfig(cfg, advertise))
	if err != nil {
		t.shutdown()
		close(g.stopPump)
		<-g.pumpDone
		return nil, fmt.Errorf("gossip: starting serf: %w", err)
	}
	g.serf = s
	logger.Debug("gossip: started", "node", g.name, "bind", cfg.BindAddr, "advertise", advertise.String())
	return g, nil
}

func (g *Gossip) serfConfig(cfg Config, advertise netip.AddrPort) *serf.Config {
	tm := cfg.Timing
	stdLog := log.New(logWriter{g.logger}, "", 0)

	ml := memberlist.DefaultLANConfig()
	ml.Transport = (*mlTransport)(g.transport)
	ml.BindAddr = advertise.Addr().String()
	ml.BindPort = int(advertise.Port()) // default port of join addresses given without one
	ml.AdvertiseAddr = ""               // the transport advertises
	ml.AdvertisePort = int(advertise.Port())
	ml.Logger = stdLog
	ml.LogOutput = nil
	setIf(&ml.ProbeInterval, tm.ProbeInterval)
	setIf(&ml.ProbeTimeout, tm.ProbeTimeout)
	setIf(&ml.SuspicionMult, tm.SuspicionMult)
	setIf(&ml.GossipInterval, tm.GossipInterval)
	setIf(&ml.PushPullInterval, tm.PushPullInterval)
	setIf(&ml.TCPTimeout, tm.TCPTimeout)

	sc := serf.DefaultConfig()
	sc.NodeName = g.name
	sc.Tags = encodeTags(cfg.Locality, cfg.Tags)
	sc.EventCh = g.serfEvents
	sc.MemberlistConfig = ml
	sc.Logger = stdLog
	sc.LogOutput = nil
	setIf(&sc.BroadcastTimeout, tm.BroadcastTimeout)
	setIf(&sc.LeavePropagateDelay, tm.LeavePropagateDelay)
	setIf(&sc.ReapInterval, tm.ReapInterval)
	setIf(&sc.ReconnectInterval, tm.ReconnectInterval)
	setIf(&sc.ReconnectTimeout, tm.ReconnectTimeout)
	setIf(&sc.TombstoneTimeout, tm.TombstoneTimeout)
	return sc
}

func setIf[T comparable](dst *T, v T) {
	var zero T
	if v != zero {
		*dst = v
	}
}

// Transport returns the transport whose HandleStream the node's multiplexer calls with
// inbound connections that start with StreamPreamble.
func (g *Gossip) Transport() *Transport { return g.transport }

// Join contacts the given peers' advertised host:port addresses (a missing port means this
// node's advertised port) and merges their view of the cluster. It tries again, backing off, until at
// least one peer answers, ctx ends or g is closed, and returns the number of peers that
// answered. Joining this node's own address counts as an answer.
func (g *Gossip) Join(ctx context.Context, addrs []string) (int, error) {
	if len(addrs) == 0 {
		return 0, errors.New("gossip: Join needs at least one address")
	}
	addrs = slices.Clone(addrs)
	backoff := 50 * time.Millisecond
	var lastErr error
	for attempt := 1; ; attempt++ {
		if !g.startOp() {
			return 0, ErrClosed
		}
		if st := g.serf.State(); st != serf.SerfAlive {
			g.ops.Done()
			return 0, fmt.Errorf("gossip: cannot join: member is %s", st)
		}
		type result struct {
			n   int
			err error
		}
		done := make(chan result, 1)
		go func() {
			defer g.ops.Done()
			n, err := g.serf.Join(addrs, true)
			done <- result{n, err}
		}()
		select {
		case r := <-done:
			if r.n > 0 {
				return r.n, nil
			}
			lastErr = r.err
		case <-ctx.Done():
			return 0, joinErr(ctx.Err(), lastErr)
		case <-g.closeCh:
			return 0, ErrClosed
		}
		g.logger.Info("gossip: join failed; retrying", "attempt", attempt, "addrs", addrs, "err", lastErr)

		wait := backoff/2 + rand.N(backoff/2+1)
		backoff = min(2*backoff, 2*time.Second)
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return 0, joinErr(ctx.Err(), lastErr)
		case <-g.closeCh:
			timer.Stop()
			return 0, ErrClosed
		}
	}
}

func joinErr(ctxErr, lastErr error) error {
	if lastErr == nil {
		return fmt.Errorf("gossip: join: %w", ctxErr)
	}
	return fmt.Errorf("gossip: join: %w (last attempt: %v)", ctxErr, lastErr)
}

// Members returns every member this node knows of, itself included, sorted by NodeID.
// Failed and Left members are kept until they are reaped.
func (g *Gossip) Members() []Member {
	sms := g.serf.Members()
	out := make([]Member, 0, len(sms))
	for _, sm := range sms {
		if m, ok := g.convert(sm); ok {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b Member) int {
		switch {
		case a.NodeID < b.NodeID:
			return -1
		case a.NodeID > b.NodeID:
			return 1
		}
		return 0
	})
	return out
}

// Events returns the channel of membership changes, including the local node's own join.
// It is buffered (EventBufferSize) and never blocks gossip: when the reader falls behind and
// the buffer is full, the oldest event is dropped to make room for the newest. A reader that
// must not miss a change should treat events as hints and re-read Members. The channel is
// closed by Close.
func (g *Gossip) Events() <-chan Event { return g.events }

// SetTags replaces the node's published tags (its locality stays as configured) and waits
// until the update has gone out to the cluster or Timing.BroadcastTimeout passes. Keys may
// not start with "loc.".
func (g *Gossip) SetTags(tags map[string]string) error {
	if err := validateTags(tags); err != nil {
		return fmt.Errorf("gossip: SetTags: %w", err)
	}
	if !g.startOp() {
		return ErrClosed
	}
	defer g.ops.Done()
	g.tagsMu.Lock()
	defer g.tagsMu.Unlock()
	if err := g.serf.SetTags(encodeTags(g.locality, tags)); err != nil {
		return fmt.Errorf("gossip: SetTags: %w", err)
	}
	return nil
}

// Leave announces that the node is leaving, so that the others see it as Left rather than
// Failed, and keeps answering probes for Timing.LeavePropagateDelay so that the news
// spreads. It returns when that is done or ctx ends; the leave goes on in the background in
// the latter case, and Close waits for it. A node that has left cannot join again; call
// Close to stop it.
func (g *Gossip) Leave(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("gossip: leave: %w", err)
	}
	if !g.startOp() {
		return ErrClosed
	}
	done := make(chan error, 1)
	go func() {
		defer g.ops.Done()
		done <- g.serf.Leave()
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("gossip: leave: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("gossip: leave: %w", ctx.Err())
	}
}

// Close stops gossip without leaving: the other nodes see this node fail. It waits for a
// Leave in flight to finish, aborts Join attempts, closes the Events channel, and returns
// once every goroutine the package started for g has stopped. It is safe to call more than
// once.
func (g *Gossip) Close() error {
	g.closeOnce.Do(func() {
		g.mu.Lock()
		g.closed = true
		g.mu.Unlock()
		close(g.closeCh)

		// Make Join attempts in flight fail fast, then wait for operations in flight: serf
		// must not shut down under a Leave (memberlist panics on a leave after shutdown).
		g.transport.abortDials()
		g.ops.Wait()

		if err := g.serf.Shutdown(); err != nil {
			g.closeErr = fmt.Errorf("gossip: shutting down serf: %w", err)
		}
		g.transport.shutdown() // serf already did; this makes sure
		close(g.stopPump)
		<-g.pumpDone
	})
	return g.closeErr
}

// startOp registers an operation that Close must wait for; it reports false once Close
// has begun.
func (g *Gossip) startOp() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.ops.Add(1)
	return true
}

// pump turns serf's events into Events until Close, never blocking serf.
func (g *Gossip) pump() {
	defer close(g.pumpDone)
	defer close(g.events)
	for {
		select {
		case ev := <-g.serfEvents:
			me, ok := ev.(serf.MemberEvent)
			if !ok {
				continue // user events and queries are not used
			}
			kind := eventKind(me.Type)
			if kind == 0 {
				continue
			}
			for _, sm := range me.Members {
				if m, ok := g.convert(sm); ok {
					g.emit(Event{Kind: kind, Member: m})
				}
			}
		case <-g.stopPump:
			return
		}
	}
}

// emit queues ev, dropping the oldest queued event if the buffer is full. pump is the only
// sender, so the loop ends as soon as a slot is free.
func (g *Gossip) emit(ev Event) {
	for {
		select {
		case g.events <- ev:
			return
		default:
		}
		select {
		case <-g.events:
			// Warn on the first drop, and then now and then: a node that never reads
			// events drops one for every change.
			if g.dropped++; g.dropped == 1 || g.dropped%1000 == 0 {
				g.logger.Warn("gossip: Events reader is behind; dropping the oldest events", "dropped", g.dropped)
			}
		default:
		}
	}
}

func eventKind(t serf.EventType) EventKind {
	switch t {
	case serf.EventMemberJoin:
		return MemberJoined
	case serf.EventMemberUpdate:
		return MemberUpdated
	case serf.EventMemberFailed:
		return MemberFailed
	case serf.EventMemberLeave:
		return MemberLeft
	case serf.EventMemberReap:
		return MemberReaped
	default:
		return 0
	}
}

// convert turns a serf member into a Member; members whose names are not "n<ID>" (not
// Meridian nodes) are skipped.
func (g *Gossip) convert(sm serf.Member) (Member, bool) {
	id, ok := parseNodeName(sm.Name)
	if !ok {
		g.logger.Debug("gossip: ignoring member with a foreign name", "name", sm.Name)
		return Member{}, false
	}
	loc, tags := decodeTags(sm.Tags)
	addr := ""
	if ip, ok := netip.AddrFromSlice(sm.Addr); ok {
		addr = netip.AddrPortFrom(ip.Unmap(), sm.Port).String()
	}
	return Member{NodeID: id, Addr: addr, Locality: loc, Tags: tags, Status: status(sm.Status)}, true
}

func status(s serf.MemberStatus) Status {
	switch s {
	case serf.StatusAlive:
		return StatusAlive
	case serf.StatusLeaving:
		return StatusLeaving
	case serf.StatusLeft:
		return StatusLeft
	case serf.StatusFailed:
		return StatusFailed
	default:
		return StatusUnknown
	}
}

func nodeName(id uint64) string { return "n" + strconv.FormatUint(id, 10) }

func parseNodeName(name string) (uint64, bool) {
	digits, ok := strings.CutPrefix(name, "n")
	if !ok || digits == "" || digits[0] == '0' || digits[0] == '+' {
		return 0, false
	}
	id, err := strconv.ParseUint(digits, 10, 64)
	return id, err == nil
}

// splitHostPort splits a host:port address and checks that the port is a non-zero number.
func splitHostPort(what, addr string) (host string, port uint16, err error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("gossip: %s %q: %w", what, addr, err)
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return "", 0, fmt.Errorf("gossip: %s %q: port must be a number from 1 to 65535 (the node's port)", what, addr)
	}
	return host, uint16(n), nil
}

// resolveAdvertise works out the IP and port peers should use to reach this node.
func resolveAdvertise(ctx context.Context, advertiseAddr, bindAddr string) (netip.AddrPort, error) {
	what, addr := "AdvertiseAddr", advertiseAddr
	if addr == "" {
		what, addr = "BindAddr", bindAddr
	}
	host, port, err := splitHostPort(what, addr)
	if err != nil {
		return netip.AddrPort{}, err
	}
	ip, err := netip.ParseAddr(host)
	switch {
	case host == "" || err == nil && ip.IsUnspecified():
		if advertiseAddr != "" {
			return netip.AddrPort{}, fmt.Errorf("gossip: AdvertiseAddr %q: peers cannot reach an unspecified address", advertiseAddr)
		}
		priv, err := privateIP()
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("gossip: BindAddr %q binds every interface and AdvertiseAddr is not set: %w", bindAddr, err)
		}
		return netip.AddrPortFrom(priv, port), nil
	case err == nil && ip.Zone() != "":
		return netip.AddrPort{}, fmt.Errorf("gossip: %s %q: zoned IPv6 addresses are not supported", what, addr)
	case err == nil:
		return netip.AddrPortFrom(ip.Unmap(), port), nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("gossip: resolving %s %q: %w", what, addr, err)
	}
	if len(ips) == 0 {
		return netip.AddrPort{}, fmt.Errorf("gossip: resolving %s %q: no addresses", what, addr)
	}
	best := ips[0].Unmap()
	for _, ip := range ips {
		if ip.Unmap().Is4() {
			best = ip.Unmap()
			break
		}
	}
	return netip.AddrPortFrom(best, port), nil
}

// privateIP returns the first private IPv4 address of the machine's interfaces.
func privateIP() (netip.Addr, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("listing interface addresses: %w", err)
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if ip = ip.Unmap(); ok && ip.Is4() && ip.IsPrivate() {
			return ip, nil
		}
	}
	return netip.Addr{}, errors.New("no private IPv4 address found; set AdvertiseAddr")
}

// logWriter passes serf's and memberlist's log lines, which start with a level such as
// "[WARN]", to a slog.Logger at that level.
type logWriter struct{ l *slog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	level := slog.LevelInfo
	if rest, ok := strings.CutPrefix(msg, "["); ok {
		if tag, after, ok := strings.Cut(rest, "]"); ok {
			switch tag {
			case "TRACE", "DEBUG":
				level = slog.LevelDebug
			case "INFO":
				level = slog.LevelInfo
			case "WARN":
				level = slog.LevelWarn
			case "ERR", "ERROR":
				level = slog.LevelError
			}
			msg = strings.TrimSpace(after)
		}
	}
	w.l.Log(context.Background(), level, msg)
	return len(p), nil
}
