package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/meridiandb/meridian/ranges"
)

// This file holds the harness of the multi-process transaction checks (bank_test.go,
// register_test.go, listappend_test.go): a cluster whose nodes can be killed with SIGKILL
// and restarted on the same store, a nemesis that does so during a run, and clients that
// fail over to another node when theirs is down.

// chaosDuration is how long a check puts load on the cluster: def, or
// $MERIDIAN_CHAOS_DURATION (a Go duration such as 5m) for a longer soak.
func chaosDuration(t *testing.T, def time.Duration) time.Duration {
	t.Helper()
	s := os.Getenv("MERIDIAN_CHAOS_DURATION")
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		t.Fatalf("MERIDIAN_CHAOS_DURATION=%q: want a positive duration such as 5m", s)
	}
	return d
}

// chaosNode is one `meridian start` process of a chaos cluster, restartable on its store.
type chaosNode struct {
	id             int // node index + 1, as the nodes are numbered n1, n2, ...
	args           []string
	addr, httpAddr string
	url            string // SQL connection URL; it does not change across restarts
	logPath        string // stdout and stderr of every incarnation, appended

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when the current incarnation exited
	exitErr error
	killed  bool // the current incarnation was killed on purpose
	starts  int
}

// chaosCluster is a cluster of node processes with logs in files, kept when the test fails.
type chaosCluster struct {
	t      *testing.T
	nodes  []*chaosNode
	logDir string
	start  time.Time

	mu     sync.Mutex
	events []string // what the nemesis did, for the failure report
}

// startChaosCluster starts n nodes, initializes the cluster and waits until the first range
// has min(n, 3) replicas and every node serves SQL.
func startChaosCluster(t *testing.T, n int, extra ...string) *chaosCluster {
	t.Helper()
	logDir, err := os.MkdirTemp("", "meridian-"+t.Name()+"-")
	if err != nil {
		t.Fatal(err)
	}
	c := &chaosCluster{t: t, logDir: logDir, start: time.Now()}
	// Registered first, so it runs after every process has been stopped.
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("MERIDIAN_KEEP_LOGS") != "" {
			t.Logf("node logs kept in %s", logDir)
			return
		}
		os.RemoveAll(logDir)
	})
	addrs, https := freeAddrs(t, n), freeAddrs(t, n)
	join := strings.Join(addrs, ",")
	for i := 0; i < n; i++ {
		nd := &chaosNode{
			id:       i + 1,
			addr:     addrs[i],
			httpAddr: https[i],
			url:      fmt.Sprintf("postgresql://root@%s/defaultdb?sslmode=disable", addrs[i]),
			logPath:  filepath.Join(logDir, fmt.Sprintf("n%d.log", i+1)),
			args: append([]string{"start", "--store", t.TempDir(), "--listen-addr", addrs[i], "--http-addr", https[i],
				"--join", join, "--locality", fmt.Sprintf("region=r%d,zone=z", i%3)}, extra...),
		}
		c.nodes = append(c.nodes, nd)
		if err := c.startNode(nd); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(c.stopAll)
	out, err := exec.Command(binary, "init", "--host", addrs[0]).CombinedOutput()
	if err != nil {
		t.Fatalf("meridian init: %v: %s", err, out)
	}
	want := min(n, 3)
	var cn []*clusterNode
	for _, nd := range c.nodes {
		cn = append(cn, &clusterNode{addr: nd.addr, httpAddr: nd.httpAddr})
	}
	waitUntil(t, 60*time.Second, fmt.Sprintf("r1 to have %d replicas", want), func() bool {
		d, _ := firstRange(cn)
		return d != nil && len(d.Replicas) == want
	})
	for _, nd := range c.nodes {
		if err := c.waitServing(context.Background(), nd, 60*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// urls returns the SQL URLs of the nodes, in node order.
func (c *chaosCluster) urls() []string {
	var out []string
	for _, nd := range c.nodes {
		out = append(out, nd.url)
	}
	return out
}

// logf logs an event of the run with its time since the cluster started, and keeps it for
// the failure report.
func (c *chaosCluster) logf(format string, args ...any) {
	msg := fmt.Sprintf("+%6.2fs ", time.Since(c.start).Seconds()) + fmt.Sprintf(format, args...)
	c.mu.Lock()
	c.events = append(c.events, msg)
	c.mu.Unlock()
	c.t.Log(msg)
}

// startNode starts an incarnation of nd on its store and waits until it prints its SQL URL.
func (c *chaosCluster) startNode(nd *chaosNode) error {
	f, err := os.OpenFile(nd.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	nd.mu.Lock()
	nd.starts++
	fmt.Fprintf(f, "=== test harness: start #%d of n%d at +%.2fs: %s %s\n", nd.starts, nd.id,
		time.Since(c.start).Seconds(), binary, strings.Join(nd.args, " "))
	nd.mu.Unlock()
	ready := make(chan struct{})
	cmd := exec.Command(binary, nd.args...)
	cmd.Stdout = &urlWatcher{w: f, ready: ready}
	cmd.Stderr = f
	if err := cmd.Start(); err != nil {
		f.Close()
		return err
	}
	done := make(chan struct{})
	nd.mu.Lock()
	nd.cmd, nd.done, nd.exitErr, nd.killed = cmd, done, nil, false
	nd.mu.Unlock()
	go func() {
		err := cmd.Wait()
		f.Close()
		nd.mu.Lock()
		nd.exitErr = err
		nd.mu.Unlock()
		close(done)
	}()
	select {
	case <-ready:
		return nil
	case <-done:
		return fmt.Errorf("n%d exited before printing its URL: %v; log %s:\n%s", nd.id, nd.exitErr, nd.logPath, tail(nd.logPath, 30))
	case <-time.After(60 * time.Second):
		return fmt.Errorf("n%d did not print its URL within 60s; log %s", nd.id, nd.logPath)
	}
}

// urlWatcher passes a process's stdout to w and closes ready once it printed its SQL URL.
type urlWatcher struct {
	w     *os.File
	ready chan struct{}
	buf   []byte
	seen  bool
}

func (u *urlWatcher) Write(p []byte) (int, error) {
	if !u.seen {
		u.buf = append(u.buf, p...)
		for {
			i := bytes.IndexByte(u.buf, '\n')
			if i < 0 {
				break
			}
			line := string(u.buf[:i])
			u.buf = u.buf[i+1:]
			if sqlLine.MatchString(line) {
				u.seen = true
				close(u.ready)
				u.buf = nil
				break
			}
		}
	}
	return u.w.Write(p)
}

// kill stops nd with SIGKILL, no clean shutdown, and waits until it is gone.
func (c *chaosCluster) kill(nd *chaosNode) {
	if err := nd.exitedUnexpectedly(); err != nil {
		c.t.Errorf("%v; last lines:\n%s", err, tail(nd.logPath, 40))
	}
	nd.mu.Lock()
	cmd, done := nd.cmd, nd.done
	nd.killed = true
	nd.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// exitedUnexpectedly reports an incarnation of nd that ended without being killed.
func (nd *chaosNode) exitedUnexpectedly() error {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	select {
	case <-nd.done:
		if !nd.killed {
			return fmt.Errorf("n%d exited on its own: %v; log %s", nd.id, nd.exitErr, nd.logPath)
		}
	default:
	}
	return nil
}

// checkLogs fails the test for every line of a node's log that reports a broken invariant.
func (c *chaosCluster) checkLogs() {
	for _, nd := range c.nodes {
		b, err := os.ReadFile(nd.logPath)
		if err != nil {
			c.t.Errorf("n%d: %v", nd.id, err)
			continue
		}
		n := 0
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, ranges.InvariantViolated) {
				if n++; n <= 5 {
					c.t.Errorf("n%d logged: %s", nd.id, line)
				}
			}
		}
		if n > 5 {
			c.t.Errorf("n%d logged %d such lines", nd.id, n)
		}
	}
}

// checkProcesses reports, with the tail of its log, every node that exited on its own.
func (c *chaosCluster) checkProcesses() {
	for _, nd := range c.nodes {
		if err := nd.exitedUnexpectedly(); err != nil {
			c.t.Errorf("%v; last lines:\n%s", err, tail(nd.logPath, 40))
		}
	}
}

// stopAll stops every running node with SIGTERM (SIGKILL after 10 seconds).
func (c *chaosCluster) stopAll() {
	var wg sync.WaitGroup
	for _, nd := range c.nodes {
		nd.mu.Lock()
		cmd, done := nd.cmd, nd.done
		nd.killed = true
		nd.mu.Unlock()
		if cmd == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-done:
				return
			default:
			}
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Signal(syscall.SIGKILL)
				<-done
			}
		}()
	}
	wg.Wait()
}

// waitServing waits until nd answers a query, for at most timeout.
func (c *chaosCluster) waitServing(ctx context.Context, nd *chaosNode, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn, err := pgx.Connect(qctx, nd.url)
		if err == nil {
			var one int
			err = conn.QueryRow(qctx, "SELECT 1").Scan(&one)
			conn.Close(context.Background())
		}
		cancel()
		if err == nil {
			return nil
		}
		last = err
		if e := nd.exitedUnexpectedly(); e != nil {
			return e
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("n%d did not answer SELECT 1 within %s: %v", nd.id, timeout, last)
}

// closed reports whether ch is closed: whether the clients should stop.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// runLoad lets the clients started by the caller run for load while the nemesis kills and
// restarts nodes, then stops them (closing stop), waits for them (wg) and for the nemesis,
// and checks that no node died on its own. It returns how many kills there were.
func (c *chaosCluster) runLoad(load time.Duration, seed uint64, stop chan struct{}, wg *sync.WaitGroup) int {
	nemesisDone := make(chan int)
	go func() {
		nemesisDone <- c.runNemesis(stop, rand.New(rand.NewPCG(seed, uint64(time.Now().UnixNano()))))
	}()
	time.Sleep(load)
	close(stop)
	kills := <-nemesisDone
	c.logf("load stopped; waiting for the clients")
	wg.Wait()
	c.logf("clients done")
	c.checkProcesses()
	c.checkLogs()
	return kills
}

// runNemesis kills a random node with SIGKILL every few seconds, keeps it down for a while,
// restarts it on its store and waits until it serves SQL again, until stop is closed. A
// node that is down when stop is closed is restarted before runNemesis returns. It returns
// the number of kills.
func (c *chaosCluster) runNemesis(stop <-chan struct{}, rng *rand.Rand) int {
	kills := 0
	wait := func(d time.Duration) bool {
		select {
		case <-stop:
			return false
		case <-time.After(d):
			return true
		}
	}
	if !wait(3 * time.Second) {
		return 0
	}
	last := -1
	for {
		// A random node, not the last one killed, so that kills move around.
		i := rng.IntN(len(c.nodes))
		if i == last {
			i = (i + 1 + rng.IntN(len(c.nodes)-1)) % len(c.nodes)
		}
		last = i
		nd := c.nodes[i]
		c.logf("nemesis: kill -9 n%d", nd.id)
		c.kill(nd)
		kills++
		down := time.Duration(2000+rng.IntN(3000)) * time.Millisecond
		time.Sleep(down)
		c.logf("nemesis: restart n%d after %s down", nd.id, down)
		if err := c.startNode(nd); err != nil {
			c.t.Errorf("restarting n%d: %v", nd.id, err)
			return kills
		}
		if err := c.waitServing(context.Background(), nd, 60*time.Second); err != nil {
			c.t.Errorf("after its restart: %v; last lines of its log:\n%s", err, tail(nd.logPath, 30))
			return kills
		}
		c.logf("nemesis: n%d serves SQL again", nd.id)
		if !wait(time.Duration(4000+rng.IntN(3000)) * time.Millisecond) {
			return kills
		}
	}
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "\t" + strings.Join(lines, "\n\t")
}

// failoverConn is a client's connection: to its preferred node when that node is up, else
// to the next one that accepts connections.
type failoverConn struct {
	urls     []string
	pref     int
	conn     *pgx.Conn
	at       int // index of the node conn is connected to
	since    time.Time
	connects int
}

// get returns an open connection, connecting if needed. A connection to a node other than
// the preferred one is given up after a few seconds, to return to the preferred node once it
// is back.
func (f *failoverConn) get(ctx context.Context) (*pgx.Conn, error) {
	if f.conn != nil && (f.conn.IsClosed() || f.at != f.pref && time.Since(f.since) > 3*time.Second) {
		f.drop()
	}
	if f.conn != nil {
		return f.conn, nil
	}
	var last error
	for i := range f.urls {
		j := (f.pref + i) % len(f.urls)
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		c, err := pgx.Connect(cctx, f.urls[j])
		cancel()
		if err == nil {
			f.conn, f.at, f.since = c, j, time.Now()
			f.connects++
			return c, nil
		}
		last = err
	}
	return nil, last
}

// drop closes the connection; the next get opens a new one.
func (f *failoverConn) drop() {
	if f.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		f.conn.Close(ctx)
		cancel()
		f.conn = nil
	}
}

// afterError drops the connection unless err is a server's answer on a connection that is
// still usable.
func (f *failoverConn) afterError(err error) {
	if f.conn == nil {
		return
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || f.conn.IsClosed() {
		f.drop()
	}
}

// sqlState returns the SQLSTATE of err, or "" if the server did not answer with an error
// (the connection failed, or the client gave up waiting).
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// restartable reports a serialization failure or a deadlock: the transaction did not take
// effect and is to be retried.
func restartable(err error) bool {
	switch sqlState(err) {
	case "40001", "40P01":
		return true
	}
	return false
}

// errorClass names an error for counts: its SQLSTATE, "timeout" when the client gave up
// waiting, or "conn" when the connection failed.
func errorClass(err error) string {
	if s := sqlState(err); s != "" {
		return s
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	return "conn"
}

// counters counts events by name, safely from several goroutines.
type counters struct {
	mu sync.Mutex
	m  map[string]int
	// first holds the first error message seen for each name.
	first map[string]string
}

func (c *counters) add(name string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m, c.first = map[string]int{}, map[string]string{}
	}
	c.m[name]++
	if err != nil && c.first[name] == "" {
		c.first[name] = err.Error()
	}
}

func (c *counters) get(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[name]
}

func (c *counters) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprint(c.m)
}

// firstErrors lists the first error of each name, one a line.
func (c *counters) firstErrors() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(c.first)) {
		fmt.Fprintf(&b, "\t%s (%d): %s\n", name, c.m[name], c.first[name])
	}
	return b.String()
}

// latencies summarizes durations, safely from several goroutines.
type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.all = append(l.all, d)
	l.mu.Unlock()
}

// String gives the count, median, 99th percentile and maximum.
func (l *latencies) String() string {
	l.mu.Lock()
	all := slices.Clone(l.all)
	l.mu.Unlock()
	if len(all) == 0 {
		return "none"
	}
	slices.Sort(all)
	q := func(f float64) time.Duration {
		return all[min(len(all)-1, int(f*float64(len(all))))].Round(time.Millisecond)
	}
	return fmt.Sprintf("%d, median %s, p99 %s, max %s", len(all), q(0.5), q(0.99), all[len(all)-1].Round(time.Millisecond))
}
