package server

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/meridiandb/meridian/internal/testaddr"
	"github.com/meridiandb/meridian/ranges"
	"github.com/meridiandb/meridian/server/gossip"
)

// freePorts reserves n loopback addresses for a test cluster (see testaddr).
func freePorts(t testing.TB, n int) []string {
	t.Helper()
	return testaddr.Loopback(n)
}

// testClusterConfig is a node configuration with failure detection shortened for tests.
func testClusterConfig(t testing.TB, addr string, join []string) Config {
	return Config{
		StoreDir: t.TempDir(), ListenAddr: addr, Join: join,
		RaftHeartbeatTimeout: 300 * time.Millisecond, ReplicateInterval: 200 * time.Millisecond,
		TimeUntilStoreDead: 2 * time.Second, LivenessTTL: 2 * time.Second,
		// A gossiped update reaches each peer in a few UDP packets, and one whose packets were
		// all lost (a starved reader's socket buffer overflows under the race detector) is
		// repaired only by the next full state exchange: tests that wait on gossiped load
		// (the lease balancer's counts) must not wait out the default 30s for it.
		GossipTiming: gossip.Timing{ProbeInterval: 200 * time.Millisecond, ProbeTimeout: 100 * time.Millisecond,
			SuspicionMult: 2, GossipInterval: 50 * time.Millisecond, ReapInterval: time.Second,
			PushPullInterval: 2 * time.Second},
	}
}

// startCluster starts n nodes that join each other, initializes the cluster through the
// first, and waits until every node is ready.
func startCluster(t testing.TB, n int) []*Node {
	t.Helper()
	return startClusterWith(t, n, nil)
}

// startClusterWith is startCluster with each node's configuration adjusted by adjust.
func startClusterWith(t testing.TB, n int, adjust func(*Config)) []*Node {
	t.Helper()
	addrs := freePorts(t, n)
	nodes := make([]*Node, n)
	for i := range nodes {
		cfg := testClusterConfig(t, addrs[i], addrs)
		if adjust != nil {
			adjust(&cfg)
		}
		nodes[i] = startTestNode(t, cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, id, err := InitCluster(ctx, addrs[0]); err != nil || id != 1 {
		t.Fatalf("init: node %d, %v", id, err)
	}
	for _, nd := range nodes {
		select {
		case <-nd.Ready():
		case <-ctx.Done():
			t.Fatal("a node never became ready")
		}
	}
	return nodes
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// leaseholderOf returns the node holding range rangeID's lease and its replica there, or
// nils when none of nodes does.
func leaseholderOf(nodes []*Node, rangeID uint64) (*Node, *ranges.Replica) {
	for _, nd := range nodes {
		if r := nd.store.Replica(rangeID); r != nil && r.IsLeaseholder() {
			return nd, r
		}
	}
	return nil, nil
}

// waitFirstRangeEverywhere waits until every node's copy of range 1 lists three replicas.
func waitFirstRangeEverywhere(t testing.TB, nodes []*Node) {
	t.Helper()
	waitFor(t, 30*time.Second, "three replicas of r1 on every node", func() bool {
		for _, nd := range nodes {
			if replicasOfFirstRange(nd) != 3 {
				return false
			}
		}
		return true
	})
}

// waitFirstRangeReplicated waits until range 1's leaseholder lists three replicas.
func waitFirstRangeReplicated(t testing.TB, nodes []*Node) {
	t.Helper()
	waitFor(t, 30*time.Second, "three replicas of r1", func() bool {
		_, r := leaseholderOf(nodes, 1)
		return r != nil && len(r.Desc().Replicas) == 3
	})
}

// countRows returns how many rows query returns.
func countRows(t testing.TB, ctx context.Context, conn *pgx.Conn, query string) int {
	t.Helper()
	rows, err := conn.Query(ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// replicasOfFirstRange is how many replicas node nd's copy of range 1 lists (0 if none).
func replicasOfFirstRange(nd *Node) int {
	if r := nd.store.Replica(1); r != nil {
		return len(r.Desc().Replicas)
	}
	return 0
}

// TestClusterReplicatesAndSurvivesLeaseholderLoss forms a three-node cluster, which
// replicates the first range to all three, writes through a node that is not the
// leaseholder, stops the leaseholder, and checks that writes resume through the survivors
// and that every acknowledged write is still there.
func TestClusterReplicatesAndSurvivesLeaseholderLoss(t *testing.T) {
	nodes := startCluster(t, 3)
	ids := map[uint64]bool{}
	for _, nd := range nodes {
		ids[nd.NodeID()] = true
	}
	if len(ids) != 3 {
		t.Fatalf("node IDs %v are not distinct", ids)
	}
	waitFirstRangeEverywhere(t, nodes)
	lh, _ := leaseholderOf(nodes, 1)
	if lh == nil {
		t.Fatal("no leaseholder")
	}
	var gateways []*Node
	for _, nd := range nodes {
		if nd != lh {
			gateways = append(gateways, nd)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn := connect(t, gateways[0])
	if _, err := conn.Exec(ctx, "CREATE TABLE kv (k INT PRIMARY KEY, v TEXT)"); err != nil {
		t.Fatal(err)
	}

	// Writers on both gateways keep inserting while the leaseholder goes away.
	var mu sync.Mutex
	acked := map[int]bool{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w, gw := range gateways {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := pgx.Connect(ctx, gw.SQLURL("root"))
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close(context.Background())
			for i := w; ; i += len(gateways) {
				select {
				case <-stop:
					return
				default:
				}
				wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
				_, err := c.Exec(wctx, "INSERT INTO kv VALUES ($1, $2)", i, fmt.Sprint("v", i))
				wcancel()
				if err == nil {
					mu.Lock()
					acked[i] = true
					mu.Unlock()
				}
			}
		}()
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	waitFor(t, 30*time.Second, "writes before the leaseholder stops", func() bool { return count() >= 50 })
	lh.Stop()
	stoppedAt, before := time.Now(), count()
	waitFor(t, 20*time.Second, "writes to resume after the leaseholder stopped", func() bool { return count() >= before+50 })
	t.Logf("writes resumed %s after the leaseholder stopped", time.Since(stoppedAt).Round(time.Millisecond))
	close(stop)
	wg.Wait()

	rows, err := conn.Query(ctx, "SELECT k, v FROM kv ORDER BY k")
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]bool{}
	for rows.Next() {
		var k int
		var v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		if v != fmt.Sprint("v", k) {
			t.Fatalf("row %d has value %q", k, v)
		}
		got[k] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var missing []string
	for k := range acked {
		if !got[k] {
			missing = append(missing, fmt.Sprint(k))
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%d acknowledged rows are missing: %s", len(missing), strings.Join(missing, ","))
	}
	t.Logf("%d rows acknowledged, all present", len(acked))
}

// TestSchemaChangesReachEveryNode: a node that has a table's descriptor cached sees another
// node's DROP and CREATE of that table at once, and prepared statements are re-planned.
func TestSchemaChangesReachEveryNode(t *testing.T) {
	nodes := startCluster(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, b := connect(t, nodes[0]), connect(t, nodes[1])

	if _, err := a.Exec(ctx, "CREATE TABLE t (k INT PRIMARY KEY, v TEXT)"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Exec(ctx, "INSERT INTO t VALUES (1, 'one')"); err != nil {
		t.Fatal(err)
	}
	var v string
	if err := b.QueryRow(ctx, "SELECT v FROM t WHERE k = 1").Scan(&v); err != nil || v != "one" {
		t.Fatalf("before: %q, %v", v, err)
	}
	if _, err := a.Exec(ctx, "DROP TABLE t"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Exec(ctx, "SELECT v FROM t WHERE k = 1"); pgCode(err) != "42P01" {
		t.Fatalf("node b after the drop on node a: %v, want 42P01", err)
	}
	if _, err := a.Exec(ctx, "CREATE TABLE t (k INT PRIMARY KEY, n INT)"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Exec(ctx, "INSERT INTO t VALUES (2, 20)"); err != nil {
		t.Fatalf("node b inserting into the new table: %v", err)
	}
	var n int
	if err := b.QueryRow(ctx, "SELECT n FROM t WHERE k = 2").Scan(&n); err != nil || n != 20 {
		t.Fatalf("after: %d, %v", n, err)
	}
}

// TestSchemaChangesReachLeasedNodes checks schema leases: a node busy with transactions
// takes the schema version from its lease rather than reading it, yet a schema change
// acknowledged on another node is seen by its very next statement.
func TestSchemaChangesReachLeasedNodes(t *testing.T) {
	nodes := startCluster(t, 3)
	waitFirstRangeEverywhere(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, b := connect(t, nodes[0]), connect(t, nodes[1])
	if _, err := a.Exec(ctx, "CREATE TABLE hot (k INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	// Keep node b's lease in use.
	busy := connect(t, nodes[1])
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if _, err := busy.Exec(ctx, "SELECT k FROM hot WHERE k = 1"); err != nil {
				done <- err
				return
			}
		}
	}()
	defer func() {
		close(stop)
		if err := <-done; err != nil {
			t.Errorf("busy reader: %v", err)
		}
	}()
	for i := 0; i < 5; i++ {
		before := nodes[1].cat.LeasedTransactions()
		time.Sleep(300 * time.Millisecond)
		if nodes[1].cat.LeasedTransactions() == before {
			t.Fatalf("round %d: node b took no transaction's schema version from its lease", i)
		}
		start := time.Now()
		if _, err := a.Exec(ctx, fmt.Sprintf("CREATE TABLE t%d (k INT PRIMARY KEY)", i)); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: CREATE TABLE on node a took %s", i, time.Since(start))
		if _, err := b.Exec(ctx, fmt.Sprintf("INSERT INTO t%d VALUES (1)", i)); err != nil {
			t.Fatalf("round %d: node b inserting into the table node a just created: %v", i, err)
		}
		if _, err := a.Exec(ctx, fmt.Sprintf("ALTER TABLE t%d ADD COLUMN c INT", i)); err != nil {
			t.Fatal(err)
		}
		var c *int64
		if err := b.QueryRow(ctx, fmt.Sprintf("SELECT c FROM t%d WHERE k = 1", i)).Scan(&c); err != nil {
			t.Fatalf("round %d: node b reading the column node a just added: %v", i, err)
		}
		if _, err := a.Exec(ctx, fmt.Sprintf("DROP TABLE t%d", i)); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Exec(ctx, fmt.Sprintf("SELECT k FROM t%d", i)); pgCode(err) != "42P01" {
			t.Fatalf("round %d: node b after the drop on node a: %v, want 42P01", i, err)
		}
	}
}

// TestSplitsUnderLoad writes rows from several clients while ranges split and leases move
// between nodes; afterwards a full scan holds every acknowledged row and nothing that was
// never written, and SHOW RANGES lists the splits.
func TestSplitsUnderLoad(t *testing.T) {
	nodes := startCluster(t, 3)
	waitFirstRangeEverywhere(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn := connect(t, nodes[0])
	if _, err := conn.Exec(ctx, "CREATE TABLE kv (k INT PRIMARY KEY, v INT)"); err != nil {
		t.Fatal(err)
	}

	const writers, perWriter = 4, 300
	gateways := make([]*Node, writers)
	for w := range gateways {
		gateways[w] = nodes[w%len(nodes)]
	}
	load := startWriteLoad(t, ctx, gateways, perWriter)
	// Meanwhile: split at ten points, and move the lease of every range around.
	chaos := make(chan struct{})
	go func() {
		defer close(chaos)
		c, err := pgx.Connect(ctx, nodes[1].SQLURL("root"))
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close(context.Background())
		for i := 1; i <= 10; i++ {
			if _, err := c.Exec(ctx, fmt.Sprintf("ALTER TABLE kv SPLIT AT VALUES (%d)", i*writers*perWriter/11)); err != nil {
				t.Errorf("split %d: %v", i, err)
				return
			}
			for _, nd := range nodes {
				for _, d := range nd.store.Descriptors() {
					if r := nd.store.Replica(d.RangeID); r != nil && r.IsLeaseholder() && len(d.Replicas) > 1 {
						target := d.Replicas[i%len(d.Replicas)].NodeID
						_ = r.TransferLease(ctx, target) // may race with a replica change; best effort
					}
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	<-chaos
	load.verify(t, ctx, conn)
	checkRangeCount(t, ctx, conn, "kv", 11)
}

// checkRangeCount checks that SHOW RANGES lists want ranges for table. A meta update that a
// split or merge could not make at once is made by the periodic meta repair (every
// metaPassInterval): the count gets three of those to come right.
func checkRangeCount(t *testing.T, ctx context.Context, conn *pgx.Conn, table string, want int) {
	t.Helper()
	deadline := time.Now().Add(3 * metaPassInterval)
	got := countRows(t, ctx, conn, "SHOW RANGES FROM TABLE "+table)
	for got != want && time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		got = countRows(t, ctx, conn, "SHOW RANGES FROM TABLE "+table)
	}
	if got != want {
		t.Errorf("SHOW RANGES lists %d ranges, want %d", got, want)
	}
}

// TestRangesSplitBySize: with a small range size (a cluster setting), a growing table splits
// on its own into ranges under the limit, and every row stays readable.
func TestRangesSplitBySize(t *testing.T) {
	nodes := startClusterWith(t, 3, func(cfg *Config) { cfg.ReplicateInterval = 100 * time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn := connect(t, nodes[0])
	if _, err := conn.Exec(ctx, "CREATE TABLE blobs (k INT PRIMARY KEY, v TEXT)"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SET CLUSTER SETTING kv.range_max_bytes = 65536"); err != nil {
		t.Fatal(err)
	}
	const rows = 400 // about 400 KiB
	countRanges := fillBlobs(t, ctx, conn, rows)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM blobs").Scan(&n); err != nil || n != rows {
		t.Fatalf("count = %d, %v; want %d", n, err, rows)
	}
	t.Logf("%d rows in %d ranges", n, countRanges())
}

// TestDecommission drains a node of four: its leases and replicas move to the others, and
// the first range keeps three replicas.
func TestDecommission(t *testing.T) {
	nodes := startCluster(t, 4)
	waitFirstRangeReplicated(t, nodes)
	// Drain the leaseholder itself: the hardest case, as it must hand its lease over first.
	victim, _ := leaseholderOf(nodes, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	via := nodes[0]
	if via == victim {
		via = nodes[1]
	}
	var st *DecommissionResponse
	var err error
	waitFor(t, 45*time.Second, "the node to drain", func() bool {
		st, err = Decommission(ctx, via.SQLAddr(), victim.NodeID())
		if err != nil {
			t.Fatal(err)
		}
		return st.Replicas == 0
	})
	for _, nd := range nodes {
		if nd == victim {
			continue
		}
		if r := nd.store.Replica(1); r != nil && r.IsLeaseholder() {
			d := r.Desc()
			if _, ok := d.Replica(victim.NodeID()); ok || len(d.Replicas) != 3 {
				t.Fatalf("r1 after draining n%d: %+v", victim.NodeID(), d.Replicas)
			}
		}
	}
	conn := connect(t, via)
	if _, err := conn.Exec(ctx, "CREATE TABLE after_drain (k INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
}

// TestSplitsWithNodeLoss: writers keep inserting while the table splits and one of four
// nodes dies (its replicas are then replaced): no acknowledged row is lost, none appears
// twice, and nothing appears that was never written.
func TestSplitsWithNodeLoss(t *testing.T) {
	nodes := startClusterWith(t, 4, func(cfg *Config) { cfg.TimeUntilStoreDead = 2 * time.Second })
	waitFirstRangeReplicated(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The node to lose: one holding a replica of r1 but not its lease.
	var victim *Node
	for _, nd := range nodes {
		if r := nd.store.Replica(1); r != nil && !r.IsLeaseholder() && victim == nil {
			victim = nd
		}
	}
	var survivors []*Node
	for _, nd := range nodes {
		if nd != victim {
			survivors = append(survivors, nd)
		}
	}
	conn := connect(t, survivors[0])
	if _, err := conn.Exec(ctx, "CREATE TABLE kv (k INT PRIMARY KEY, v INT)"); err != nil {
		t.Fatal(err)
	}
	const writers, perWriter = 3, 300
	load := startWriteLoad(t, ctx, survivors, perWriter)
	chaos := make(chan struct{})
	go func() {
		defer close(chaos)
		c, err := pgx.Connect(ctx, survivors[1].SQLURL("root"))
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close(context.Background())
		for i := 1; i <= 8; i++ {
			if i == 4 {
				victim.Stop()
			}
			sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
			_, err := c.Exec(sctx, fmt.Sprintf("ALTER TABLE kv SPLIT AT VALUES (%d)", i*writers*perWriter/9))
			scancel()
			if err != nil {
				t.Logf("split %d: %v", i, err) // a split may fail while the node's loss is noticed
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	<-chaos
	load.verify(t, ctx, conn)
	// The dead node's replicas are replaced: every range ends up with three live replicas.
	waitFor(t, 60*time.Second, "every range to have three live replicas", func() bool {
		for _, nd := range survivors {
			for _, d := range nd.store.Descriptors() {
				r := nd.store.Replica(d.RangeID)
				if r == nil || !r.IsLeaseholder() {
					continue
				}
				if _, ok := d.Replica(victim.NodeID()); ok || len(d.Replicas) != 3 {
					return false
				}
			}
		}
		return true
	})
}

// writeLoad inserts rows (k, k) into table kv from several clients, remembering which it
// sent and which were acknowledged, so that a test can check the table afterwards.
type writeLoad struct {
	mu        sync.Mutex
	attempted map[int]bool
	acked     map[int]bool
	failures  map[string]int
	wg        sync.WaitGroup
}

// startWriteLoad starts one writer per gateway, each inserting perWriter rows with keys
// that do not collide.
func startWriteLoad(t *testing.T, ctx context.Context, gateways []*Node, perWriter int) *writeLoad {
	l := &writeLoad{attempted: map[int]bool{}, acked: map[int]bool{}, failures: map[string]int{}}
	writers := len(gateways)
	for w, gw := range gateways {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			c, err := pgx.Connect(ctx, gw.SQLURL("root"))
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close(context.Background())
			for i := 0; i < perWriter; i++ {
				k := i*writers + w
				l.mu.Lock()
				l.attempted[k] = true
				l.mu.Unlock()
				wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
				_, err := c.Exec(wctx, "INSERT INTO kv VALUES ($1, $1)", k)
				wcancel()
				l.mu.Lock()
				if err == nil {
					l.acked[k] = true
				} else {
					l.failures[err.Error()]++
				}
				l.mu.Unlock()
			}
		}()
	}
	return l
}

// verify waits for the writers and checks kv: every acknowledged row is there once, with
// its value, and nothing is there that was never sent.
func (l *writeLoad) verify(t *testing.T, ctx context.Context, conn *pgx.Conn) {
	t.Helper()
	l.wg.Wait()
	got := map[int]bool{}
	rows, err := conn.Query(ctx, "SELECT k, v FROM kv")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k, v int
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		if k != v || got[k] {
			t.Fatalf("row %d: value %d, seen before %v", k, v, got[k])
		}
		got[k] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for k := range l.acked {
		if !got[k] {
			t.Errorf("acknowledged row %d is missing", k)
		}
	}
	for k := range got {
		if !l.attempted[k] {
			t.Errorf("row %d was never written", k)
		}
	}
	t.Logf("%d rows acknowledged of %d attempted, %d present", len(l.acked), len(l.attempted), len(got))
	for msg, n := range l.failures {
		t.Logf("%d inserts failed: %s", n, msg)
	}
}

// TestLivenessEpochs: a stopped node's liveness record expires and, once its replicas are
// acted on, its epoch is incremented; restarted on its store, the node is live again under
// the new epoch.
func TestLivenessEpochs(t *testing.T) {
	nodes := startCluster(t, 3)
	status := func(of uint64) NodeStatus {
		for _, st := range nodes[0].nodeStatuses() {
			if st.NodeID == of {
				return st
			}
		}
		return NodeStatus{}
	}
	victim := nodes[2]
	id, dir, cfg := victim.NodeID(), victim.cfg.StoreDir, victim.cfg
	waitFor(t, 30*time.Second, "n3 live with epoch 1", func() bool {
		st := status(id)
		return st.Liveness == "live" && st.Epoch == 1
	})
	// Stopping a node is only survivable once r1 has all three voters.
	waitFor(t, 30*time.Second, "r1 to have three voters, n3 among them", func() bool {
		_, r := leaseholderOf(nodes, 1)
		if r == nil {
			return false
		}
		_, ok := r.Desc().Replica(id)
		return ok && len(r.Desc().Replicas) == 3
	})
	victim.Stop()
	waitFor(t, 30*time.Second, "n3's record to expire", func() bool { return status(id).Liveness == "dead" })
	waitFor(t, 30*time.Second, "n3's epoch to be incremented as its replica is removed", func() bool { return status(id).Epoch == 2 })

	cfg.StoreDir = dir
	restarted := startTestNode(t, cfg)
	select {
	case <-restarted.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("the restarted node never became ready")
	}
	if restarted.NodeID() != id {
		t.Fatalf("restarted as n%d, want n%d", restarted.NodeID(), id)
	}
	waitFor(t, 30*time.Second, "n3 live again under epoch 2", func() bool {
		st := status(id)
		return st.Liveness == "live" && st.Epoch == 2
	})
}

// TestLeasesBalance piles every lease onto one node and waits for the leaseholders to
// spread them over the three.
func TestLeasesBalance(t *testing.T) {
	nodes := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn := connect(t, nodes[0])
	if _, err := conn.Exec(ctx, "CREATE TABLE t (k INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "ALTER TABLE t SPLIT AT VALUES (10), (20), (30), (40), (50), (60), (70), (80)"); err != nil {
		t.Fatal(err)
	}
	leases := func(nd *Node) int {
		_, n := nd.replicaCounts()
		return n
	}
	waitFor(t, 30*time.Second, "every range to have three replicas", func() bool {
		full := map[uint64]bool{}
		for _, nd := range nodes {
			for _, d := range nd.store.Descriptors() {
				if r := nd.store.Replica(d.RangeID); r != nil && r.IsLeaseholder() && len(d.Replicas) == 3 {
					full[d.RangeID] = true
				}
			}
		}
		return len(full) == 9
	})
	for _, nd := range nodes[1:] {
		for _, d := range nd.store.Descriptors() {
			if r := nd.store.Replica(d.RangeID); r != nil && r.IsLeaseholder() {
				_ = r.TransferLease(ctx, nodes[0].NodeID())
			}
		}
	}
	t.Logf("leases after piling them up: %d %d %d", leases(nodes[0]), leases(nodes[1]), leases(nodes[2]))
	defer func() {
		if t.Failed() {
			// What each node believed of the others: the balancer acts on gossip.
			for _, nd := range nodes {
				t.Logf("n%d sees %+v", nd.NodeID(), nd.placementNodes())
			}
		}
	}()
	waitFor(t, 45*time.Second, "leases to spread", func() bool {
		for _, nd := range nodes {
			if leases(nd) < 2 {
				return false
			}
		}
		return true
	})
	t.Logf("leases after balancing: %d %d %d", leases(nodes[0]), leases(nodes[1]), leases(nodes[2]))
}

// TestLeaseMoveWaitsForLocks: the move of a lease to even out leases waits while the range
// holds unreplicated locks (a transfer would lose them), up to leaseMoveDeferral, and goes
// once they are released.
func TestLeaseMoveWaitsForLocks(t *testing.T) {
	nd := startTestNode(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn := connect(t, nd)
	for _, stmt := range []string{"CREATE TABLE t (k INT PRIMARY KEY, v INT)", "INSERT INTO t VALUES (1, 1)"} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT v FROM t WHERE k = 1 FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	var locked *ranges.Replica
	var lockedID uint64
	for _, d := range nd.store.Descriptors() {
		if r := nd.store.Replica(d.RangeID); r != nil && r.HoldsUnreplicatedLocks() {
			locked, lockedID = r, d.RangeID
		}
	}
	if locked == nil {
		t.Fatal("no range holds the FOR UPDATE lock")
	}
	if !nd.deferLeaseMove(locked, lockedID, 1) || !nd.deferLeaseMove(locked, lockedID, 2) {
		t.Fatal("the lease move of a range holding a lock was not put off")
	}
	m := nd.leaseMoveDeferred[lockedID]
	m.since = time.Now().Add(-leaseMoveDeferral)
	nd.leaseMoveDeferred[lockedID] = m
	if nd.deferLeaseMove(locked, lockedID, 3) {
		t.Fatalf("the lease move was still put off after %s", leaseMoveDeferral)
	}
	if !nd.deferLeaseMove(locked, lockedID, 4) {
		t.Fatal("a new wait did not start while the lock is still held")
	}
	// A wait that the passes stopped asking about (the move was no longer wanted) starts
	// afresh: it does not count the time in between.
	m = nd.leaseMoveDeferred[lockedID]
	m.since = time.Now().Add(-leaseMoveDeferral)
	nd.leaseMoveDeferred[lockedID] = m
	if !nd.deferLeaseMove(locked, lockedID, 9) {
		t.Fatal("a move wanted again after passes that did not want it was not put off")
	}
	// A wait no pass asks about any more is forgotten.
	nd.forgetDeferredMoves(11)
	if _, ok := nd.leaseMoveDeferred[lockedID]; ok {
		t.Fatal("a wait the last passes did not want is still remembered")
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the lock to be released", func() bool { return !locked.HoldsUnreplicatedLocks() })
	if nd.deferLeaseMove(locked, lockedID, 10) {
		t.Fatal("the lease move was put off with no lock held")
	}
}

// fillBlobs inserts rows rows of about 1 KiB into table blobs (k INT PRIMARY KEY, v TEXT),
// which splits by size (with a small kv.range_max_bytes) into at least four ranges, and
// returns a function counting the table's ranges.
func fillBlobs(t *testing.T, ctx context.Context, conn *pgx.Conn, rows int) (countRanges func() int) {
	t.Helper()
	pad := strings.Repeat("x", 1000)
	for i := 0; i < rows; i++ {
		if _, err := conn.Exec(ctx, "INSERT INTO blobs VALUES ($1, $2)", i, pad); err != nil {
			t.Fatal(err)
		}
	}
	countRanges = func() int { return countRows(t, ctx, conn, "SHOW RANGES FROM TABLE blobs") }
	waitFor(t, 30*time.Second, "the table to split by size", func() bool { return countRanges() >= 4 })
	return countRanges
}

// TestLargeWritesReplicate: a write whose Raft entries are larger than gRPC's default message
// limit (4 MiB) still replicates. With the default, followers refused every append of it, so
// the range could never commit again: its proposals, liveness heartbeats included, hung.
func TestLargeWritesReplicate(t *testing.T) {
	// Production Raft timing: the tests' 300ms heartbeat timeout gives a leader 150ms of
	// lease, less than shipping a big append (and the follower's heartbeats queue behind it
	// on the stream) can take under the race detector.
	nodes := startClusterWith(t, 3, func(cfg *Config) { cfg.RaftHeartbeatTimeout = ranges.DefaultRaftHeartbeatTimeout })
	waitFirstRangeReplicated(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn := connect(t, nodes[0])
	if _, err := conn.Exec(ctx, "CREATE TABLE blobs (id INT PRIMARY KEY, pad TEXT)"); err != nil {
		t.Fatal(err)
	}
	// 6 MiB in one statement: one batch, one Raft entry.
	if _, err := conn.Exec(ctx, "INSERT INTO blobs SELECT g, repeat('x', 3 << 20) FROM generate_series(1, 2) AS g"); err != nil {
		t.Fatal(err)
	}
	var n, size int64
	if err := conn.QueryRow(ctx, "SELECT count(*), sum(length(pad)) FROM blobs").Scan(&n, &size); err != nil {
		t.Fatal(err)
	}
	if n != 2 || size != 6<<20 {
		t.Fatalf("read back %d rows of %d bytes in all, want 2 of %d", n, size, 6<<20)
	}
	// Every replica applied it: the range still commits writes through all three.
	if _, err := conn.Exec(ctx, "INSERT INTO blobs VALUES (3, 'small')"); err != nil {
		t.Fatal(err)
	}
}
