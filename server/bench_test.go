package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// latencies collects per-operation durations and reports percentiles as benchmark metrics.
type latencies []time.Duration

func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	b.ReportMetric(float64(l.percentile(0.50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(l.percentile(0.99).Microseconds()), "p99-µs")
}

// percentile sorts l and returns its p-th percentile (0 for none).
func (l latencies) percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	return l[int(p*float64(len(l)-1))]
}

// runClients runs op from clients goroutines, op(c) for client c, until b.N operations have
// been done in all, and reports the operations' latency percentiles.
func runClients(b *testing.B, clients int, op func(c int) error) {
	var ops atomic.Int64
	lats := make([]latencies, clients)
	b.ResetTimer()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ops.Add(1) <= int64(b.N) {
				start := time.Now()
				if err := op(c); err != nil {
					b.Error(err)
					return
				}
				lats[c] = append(lats[c], time.Since(start))
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	var all latencies
	for _, l := range lats {
		all = append(all, l...)
	}
	all.report(b)
}

// BenchmarkPointSelect reads one row by primary key over pgwire (pgx, extended protocol with a
// cached prepared statement, loopback TCP, server in process).
func BenchmarkPointSelect(b *testing.B) {
	n := startTestNode(b, Config{})
	conn := connect(b, n)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "CREATE TABLE kv (k INT PRIMARY KEY, v TEXT)"); err != nil {
		b.Fatal(err)
	}
	const rows = 1000
	for i := 0; i < rows; i += 100 {
		q := "INSERT INTO kv VALUES "
		for j := i; j < i+100; j++ {
			if j > i {
				q += ", "
			}
			q += fmt.Sprintf("(%d, 'value-%d')", j, j)
		}
		if _, err := conn.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	lat := make(latencies, 0, b.N)
	var v string
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := conn.QueryRow(ctx, "SELECT v FROM kv WHERE k = $1", i%rows).Scan(&v); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	lat.report(b)
}

// BenchmarkInsert commits one single-row INSERT per operation: one Raft proposal, whose log
// append is fsync'd.
func BenchmarkInsert(b *testing.B) {
	n := startTestNode(b, Config{})
	conn := connect(b, n)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "CREATE TABLE kv (k INT PRIMARY KEY, v TEXT)"); err != nil {
		b.Fatal(err)
	}
	lat := make(latencies, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := conn.Exec(ctx, "INSERT INTO kv VALUES ($1, 'v')", i); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	lat.report(b)
}

// BenchmarkFsync measures the disk under the test's temporary directory: append 512 bytes to a
// file and fsync it, as a log append does. It is the yardstick for BenchmarkInsert.
func BenchmarkFsync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "fsync"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 512)
	lat := make(latencies, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	lat.report(b)
}

// BenchmarkInsertParallel commits single-row INSERTs from 16 connections at once: concurrent
// commits share Raft log appends (and so fsyncs), which this measures as throughput.
func BenchmarkInsertParallel(b *testing.B) {
	n := startTestNode(b, Config{})
	setup := connect(b, n)
	ctx := context.Background()
	if _, err := setup.Exec(ctx, "CREATE TABLE kv (k INT8 PRIMARY KEY, v TEXT)"); err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	b.SetParallelism(8) // 16 connections on 2 CPUs
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		conn := connect(b, n)
		for pb.Next() {
			if _, err := conn.Exec(ctx, "INSERT INTO kv VALUES ($1, 'v')", next.Add(1)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkClusterInsert measures single-row INSERTs on a three-node cluster in this process
// (separate stores, real loopback sockets, default Raft timing), with 1, 16 and 64 clients
// spread over the three nodes as gateways. Each INSERT commits in one Raft round of the
// first range, replicated to three nodes.
func BenchmarkClusterInsert(b *testing.B) {
	nodes := startClusterWith(b, 3, func(cfg *Config) { cfg.RaftHeartbeatTimeout = 0; cfg.SimulatedLatency = sameLatency(benchLatency) })
	waitFirstRangeEverywhere(b, nodes)
	ctx := context.Background()
	setup := connect(b, nodes[0])
	if _, err := setup.Exec(ctx, "CREATE TABLE kv (k INT PRIMARY KEY, v TEXT)"); err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	for _, clients := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			conns := make([]*pgx.Conn, clients)
			for i := range conns {
				conns[i] = connect(b, nodes[i%len(nodes)])
			}
			runClients(b, clients, func(c int) error {
				_, err := conns[c].Exec(ctx, "INSERT INTO kv VALUES ($1, 'v')", next.Add(1))
				return err
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inserts/s")
		})
	}
}

// BenchmarkMultiRangeCommit measures the latency of transactions that write one row to each
// of 2 and of 5 ranges on a three-node cluster in this process, with parallel commits on and
// off (kv.transaction.parallel_commits_enabled): implicit ones (one INSERT of all the rows)
// and explicit ones (BEGIN, one INSERT per row, COMMIT). On, the writes (or, explicit, the
// proofs of the pipelined writes) and the staged commit record go out together and the
// client is answered after one round of consensus; off, the commit record is written after
// the writes, a second round. On and off alternate in blocks within each sub-benchmark,
// which reports both, and their ratio; for explicit transactions also the COMMIT
// statement's own latency. MERIDIAN_BENCH_LATENCY places the nodes apart (benchLatency).
func BenchmarkMultiRangeCommit(b *testing.B) {
	nodes, setup := fiveRangeCluster(b)
	ctx := context.Background()
	conn := connect(b, nodes[0])
	var next int64
	setParallel := func(on bool) {
		if _, err := setup.Exec(ctx, fmt.Sprintf("SET CLUSTER SETTING kv.transaction.parallel_commits_enabled = %v", on)); err != nil {
			b.Fatal(err)
		}
		time.Sleep(settingsInterval + 500*time.Millisecond) // every node has read it
	}
	for _, explicit := range []bool{false, true} {
		for _, ranges := range []int{2, 5} {
			form := "implicit"
			if explicit {
				form = "explicit"
			}
			// On and off alternate in blocks, so that drift over the run (leases, background
			// work, the disk) falls on both alike.
			b.Run(fmt.Sprintf("%s/ranges=%d", form, ranges), func(b *testing.B) {
				lat, commitLat := map[bool]latencies{}, map[bool]latencies{}
				for done, on := 0, false; done < b.N; on = !on {
					setParallel(on)
					for k := 0; k < multiRangeBlock && done < b.N; k, done = k+1, done+1 {
						next++
						start := time.Now()
						var err error
						if explicit {
							var commit time.Duration
							commit, err = insertEach(ctx, conn, ranges, next)
							commitLat[on] = append(commitLat[on], commit)
						} else {
							// One prepared statement, as an application would use: the
							// client's cache saves a round trip to prepare each time.
							q := "INSERT INTO kv VALUES "
							args := make([]any, ranges)
							for r := 0; r < ranges; r++ {
								if r > 0 {
									q += ", "
								}
								q += fmt.Sprintf("($%d, 'v')", r+1)
								args[r] = int64(r)*1000000 + next
							}
							_, err = conn.Exec(ctx, q, args...)
						}
						if err != nil {
							b.Fatal(err)
						}
						lat[on] = append(lat[on], time.Since(start))
						time.Sleep(multiRangeGap)
					}
				}
				on, off := lat[true].percentile(0.5), lat[false].percentile(0.5)
				b.ReportMetric(float64(off.Microseconds()), "off-p50-µs")
				b.ReportMetric(float64(lat[false].percentile(0.99).Microseconds()), "off-p99-µs")
				b.ReportMetric(float64(on.Microseconds()), "on-p50-µs")
				b.ReportMetric(float64(lat[true].percentile(0.99).Microseconds()), "on-p99-µs")
				if off > 0 {
					b.ReportMetric(float64(on)/float64(off), "on/off-p50")
				}
				if explicit {
					// The COMMIT statement alone: all that parallel commits can change.
					on, off := commitLat[true].percentile(0.5), commitLat[false].percentile(0.5)
					b.ReportMetric(float64(off.Microseconds()), "commit-off-p50-µs")
					b.ReportMetric(float64(on.Microseconds()), "commit-on-p50-µs")
					if off > 0 {
						b.ReportMetric(float64(on)/float64(off), "commit-on/off-p50")
					}
				}
			})
		}
	}
}

// fiveRangeCluster starts three nodes in this process and creates table kv (k INT PRIMARY
// KEY, v TEXT) split into five ranges at k = 1,000,000, 2,000,000, …; it returns the nodes
// and a connection to the first.
func fiveRangeCluster(b *testing.B) ([]*Node, *pgx.Conn) {
	nodes := startClusterWith(b, 3, func(cfg *Config) { cfg.RaftHeartbeatTimeout = 0; cfg.SimulatedLatency = sameLatency(benchLatency) })
	waitFirstRangeEverywhere(b, nodes)
	ctx := context.Background()
	setup := connect(b, nodes[0])
	for _, stmt := range []string{
		"CREATE TABLE kv (k INT PRIMARY KEY, v TEXT)",
		"ALTER TABLE kv SPLIT AT VALUES (1000000), (2000000), (3000000), (4000000)",
	} {
		if _, err := setup.Exec(ctx, stmt); err != nil {
			b.Fatal(err)
		}
	}
	// Let the new ranges' leases settle: a lease that moves starts with writes pushed a
	// little into the future, whose commits then wait for the clock.
	time.Sleep(10 * time.Second)
	return nodes, setup
}

// BenchmarkPointStatements measures the latency of single-row statements (a point SELECT,
// a one-row INSERT, each its own transaction) through one gateway of a three-node cluster
// in this process, by whether the row's range has its lease on the gateway or on another
// node. Pauses between statements: MERIDIAN_BENCH_PAUSE (see multiRangeGap).
func BenchmarkPointStatements(b *testing.B) {
	nodes, setup := fiveRangeCluster(b)
	ctx := context.Background()
	// The first key of each range, by where its lease is.
	bases := map[bool][]int64{}
	rows, err := setup.Query(ctx, "SHOW RANGES FROM TABLE kv")
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; rows.Next(); i++ {
		v, err := rows.Values()
		if err != nil {
			b.Fatal(err)
		}
		holder, _ := v[4].(int64) // lease_holder
		local := uint64(holder) == nodes[0].NodeID()
		bases[local] = append(bases[local], int64(i)*1000000)
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	conn := connect(b, nodes[0])
	var next int64
	for _, local := range []bool{true, false} {
		where := map[bool]string{true: "local-lease", false: "remote-lease"}[local]
		for _, stmt := range []string{"insert", "get"} {
			b.Run(stmt+"/"+where, func(b *testing.B) {
				if len(bases[local]) == 0 {
					b.Skip("no range has its lease there")
				}
				var lat latencies
				for i := 0; i < b.N; i++ {
					next++
					k := bases[local][i%len(bases[local])] + next
					start := time.Now()
					var err error
					if stmt == "insert" {
						_, err = conn.Exec(ctx, "INSERT INTO kv VALUES ($1, 'v')", k)
					} else {
						_, err = conn.Exec(ctx, "SELECT v FROM kv WHERE k = $1", k-1)
					}
					if err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(start))
					time.Sleep(multiRangeGap)
				}
				lat.report(b)
			})
		}
	}
}

// multiRangeBlock is how many transactions BenchmarkMultiRangeCommit runs with parallel
// commits on, or off, before it switches.
const multiRangeBlock = 100

// insertEach runs an explicit transaction that inserts one row into each of the first
// ranges of BenchmarkMultiRangeCommit's table, one statement per row: with write pipelining
// the statements do not wait for consensus, and the COMMIT proves their writes.
func insertEach(ctx context.Context, conn *pgx.Conn, ranges int, next int64) (commit time.Duration, err error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	for r := 0; r < ranges; r++ {
		if _, err := tx.Exec(ctx, "INSERT INTO kv VALUES ($1, 'v')", int64(r)*1000000+next); err != nil {
			return 0, err
		}
	}
	start := time.Now()
	err = tx.Commit(ctx)
	return time.Since(start), err
}

// multiRangeGap is a pause between the transactions of BenchmarkMultiRangeCommit
// (MERIDIAN_BENCH_PAUSE, a duration): with it, each commit is measured alone, without the
// previous one's background work (marking its record committed, resolving its intents)
// competing for the same two cores and disk.
var multiRangeGap time.Duration

// benchLatency is the one-way delay between the nodes of fiveRangeCluster
// (MERIDIAN_BENCH_LATENCY, a duration; Config.SimulatedLatency): "1ms" puts them a 2 ms
// round trip apart, like nodes in different zones of one region. The client is beside
// its gateway.
var benchLatency time.Duration

// sameLatency puts every pair of nodes oneWay apart.
func sameLatency(oneWay time.Duration) func(_, _ map[string]string) time.Duration {
	return func(_, _ map[string]string) time.Duration { return oneWay }
}

func init() {
	if d, err := time.ParseDuration(os.Getenv("MERIDIAN_BENCH_PAUSE")); err == nil {
		multiRangeGap = d
	}
	if d, err := time.ParseDuration(os.Getenv("MERIDIAN_BENCH_LATENCY")); err == nil {
		benchLatency = d
	}
}

// BenchmarkBankContention runs the bank workload under contention on a three-node cluster in
// this process: 8 clients, one per gateway in turn, transfer between 100 accounts spread over
// four ranges (BEGIN; two reads; two writes; COMMIT), retrying serialization failures and
// deadlock victims. It reports committed transfers per second and restarts per transfer,
// and checks that the total never changed.
func BenchmarkBankContention(b *testing.B) {
	nodes := startClusterWith(b, 3, func(cfg *Config) { cfg.RaftHeartbeatTimeout = 0; cfg.SimulatedLatency = sameLatency(benchLatency) })
	waitFirstRangeEverywhere(b, nodes)
	ctx := context.Background()
	setup := connect(b, nodes[0])
	for _, stmt := range []string{
		"CREATE TABLE accounts (id INT PRIMARY KEY, balance INT NOT NULL)",
		"ALTER TABLE accounts SPLIT AT VALUES (25), (50), (75)",
	} {
		if _, err := setup.Exec(ctx, stmt); err != nil {
			b.Fatal(err)
		}
	}
	q := "INSERT INTO accounts VALUES "
	for i := 0; i < 100; i++ {
		if i > 0 {
			q += ", "
		}
		q += fmt.Sprintf("(%d, 1000)", i)
	}
	if _, err := setup.Exec(ctx, q); err != nil {
		b.Fatal(err)
	}
	// Let the new ranges' leases settle (see BenchmarkMultiRangeCommit).
	time.Sleep(10 * time.Second)
	const clients = 8
	conns := make([]*pgx.Conn, clients)
	for i := range conns {
		conns[i] = connect(b, nodes[i%len(nodes)])
	}
	rngs := make([]*rand.Rand, clients)
	for c := range rngs {
		rngs[c] = rand.New(rand.NewPCG(uint64(c), 7))
	}
	var restarts atomic.Int64
	runClients(b, clients, func(c int) error {
		rng := rngs[c]
		from, to := rng.IntN(100), rng.IntN(100)
		for from == to {
			to = rng.IntN(100)
		}
		for {
			err := transfer(ctx, conns[c], from, to, 1+rng.IntN(10))
			if err == nil || !isRestart(pgCode(err)) {
				return err
			}
			restarts.Add(1)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "transfers/s")
	b.ReportMetric(float64(restarts.Load())/float64(b.N), "restarts/transfer")
	var total int
	if err := setup.QueryRow(ctx, "SELECT sum(balance) FROM accounts").Scan(&total); err != nil || total != 100000 {
		b.Fatalf("total %d, %v; want 100000", total, err)
	}
}

// transfer moves amount from one account to another in an explicit transaction.
func transfer(ctx context.Context, conn *pgx.Conn, from, to, amount int) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		var a, c int
		if err := tx.QueryRow(ctx, "SELECT balance FROM accounts WHERE id = $1", from).Scan(&a); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, "SELECT balance FROM accounts WHERE id = $1", to).Scan(&c); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE accounts SET balance = $1 WHERE id = $2", a-amount, from); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "UPDATE accounts SET balance = $1 WHERE id = $2", c+amount, to)
		return err
	})
}
