package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/meridiandb/meridian/check/listappend"
)

// TestListAppendWithNodeKill runs list-append transactions from several clients, each
// connected to its own node of three (or another when that one is down), over keys spread
// across four ranges, while a nemesis kills a random node with SIGKILL and restarts it on
// the same store, a few times. The history must show none of the anomalies a strictly
// serializable database rules out (check/listappend, with real-time order): dependency
// cycles, reads of aborted or intermediate state, reads that disagree on the order of
// appends. A transaction whose COMMIT was sent but not answered is of unknown outcome; one
// that failed before COMMIT, or whose COMMIT failed with 40001 or 40P01, did not commit.
//
// It runs for 20 seconds, or $MERIDIAN_CHAOS_DURATION.
func TestListAppendWithNodeKill(t *testing.T) {
	load := chaosDuration(t, 20*time.Second)
	c := startChaosCluster(t, 3)
	ctx := context.Background()
	const keys = 8
	setup, err := pgx.Connect(ctx, c.nodes[0].url)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		"CREATE TABLE lists (k INT PRIMARY KEY, v TEXT NOT NULL)",
		"ALTER TABLE lists SPLIT AT VALUES (2), (4), (6)",
	} {
		if _, err := setup.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	setup.Close(ctx)

	var (
		mu      sync.Mutex
		history []listappend.Txn
		nextVal = map[int]int{}
		errs    counters // by where the transaction failed and SQLSTATE
		// failed holds each failed transaction's error and gateway, for the report of an
		// anomaly that names it (an aborted writer whose value was read, say).
		failed = map[int]string{}
		took   latencies
		stop   = make(chan struct{})
		wg     sync.WaitGroup
	)
	const clients = 6
	for cl := 0; cl < clients; cl++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(cl), uint64(time.Now().UnixNano())))
			fc := &failoverConn{urls: c.urls(), pref: cl % len(c.nodes)}
			defer fc.drop()
			for !closed(stop) {
				conn, err := fc.get(ctx)
				if err != nil {
					errs.add("connect", err)
					time.Sleep(100 * time.Millisecond)
					continue
				}
				// Each attempt is a transaction of the history, with values of its own; a
				// client retries nothing, it just runs the next one.
				ops := make([]listappend.Op, 1+rng.IntN(4))
				mu.Lock()
				for j := range ops {
					k := rng.IntN(keys)
					ops[j] = listappend.Op{Kind: listappend.Read, Key: strconv.Itoa(k)}
					if rng.IntN(2) == 0 {
						nextVal[k]++
						ops[j] = listappend.Op{Kind: listappend.Append, Key: strconv.Itoa(k), Value: nextVal[k]}
					}
				}
				id := len(history)
				history = append(history, listappend.Txn{}) // reserves the ID
				mu.Unlock()
				txn, err := runListAppendTxn(ctx, conn, id, ops)
				took.add(txn.End.Sub(txn.Start))
				mu.Lock()
				history[id] = txn
				mu.Unlock()
				if errors.Is(err, errBadList) {
					t.Errorf("T%d: %v", id, err)
				}
				if errorClass(err) == "timeout" {
					c.logf("T%d through n%d timed out after %s: %v", id, fc.at+1, txn.End.Sub(txn.Start).Round(time.Millisecond), err)
				}
				if err != nil {
					errs.add(txn.Status.String()+" "+errorClass(err), err)
					mu.Lock()
					failed[id] = fmt.Sprintf("%s through n%d, %s to %s after the start: %v", txn.Status, fc.at+1,
						txn.Start.Sub(c.start).Round(time.Millisecond), txn.End.Sub(c.start).Round(time.Millisecond), err)
					mu.Unlock()
					fc.afterError(err)
				}
			}
		}()
	}
	kills := c.runLoad(load, 3, stop, &wg)

	statuses := map[listappend.Status]int{}
	for _, txn := range history {
		statuses[txn.Status]++
	}
	t.Logf("%s of load, %d kills: %d transactions: %d committed, %d aborted, %d unknown", load, kills, len(history),
		statuses[listappend.Committed], statuses[listappend.Aborted], statuses[listappend.Unknown])
	t.Logf("latency of a transaction: %s", &took)
	t.Logf("failures by outcome and SQLSTATE: %s", &errs)
	if s := errs.firstErrors(); s != "" {
		t.Logf("first error of each kind:\n%s", s)
	}
	if statuses[listappend.Committed] == 0 {
		t.Errorf("no transaction committed")
	}
	for _, opts := range []listappend.CheckOptions{{}, {RealTime: true}} {
		what := "serializable"
		if opts.RealTime {
			what = "strictly serializable"
		}
		res := listappend.CheckWith(history, opts)
		if res.OK {
			t.Logf("the history is %s", what)
			continue
		}
		t.Errorf("the history is not %s: %d anomalies", what, len(res.Anomalies))
		named := map[int]bool{}
		for i, a := range res.Anomalies {
			if i == 20 {
				t.Errorf("... and %d more", len(res.Anomalies)-i)
				break
			}
			t.Errorf("%s", a)
			for _, id := range a.Txns {
				if f, ok := failed[id]; ok && !named[id] {
					named[id] = true
					t.Logf("T%d failed: %s", id, f)
				}
			}
		}
	}
}

// errBadList reports a value in the lists table that is not a list of integers.
var errBadList = errors.New("not a list")

// runListAppendTxn runs one transaction of ops on conn and reports it as the checker needs:
// committed (with what its reads returned), aborted, or of unknown outcome.
func runListAppendTxn(ctx context.Context, conn *pgx.Conn, id int, ops []listappend.Op) (listappend.Txn, error) {
	txn := listappend.Txn{ID: id, Ops: append([]listappend.Op(nil), ops...), Start: time.Now()}
	fail := func(err error, status listappend.Status) (listappend.Txn, error) {
		txn.End = time.Now()
		txn.Status = status
		for i := range txn.Ops {
			if txn.Ops[i].Kind == listappend.Read {
				txn.Ops[i].List = nil
			}
		}
		if !conn.IsClosed() {
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, _ = conn.Exec(rctx, "ROLLBACK")
			cancel()
		}
		return txn, err
	}
	tctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	// Until COMMIT is sent, the transaction cannot commit, whatever happens to the
	// connection.
	if _, err := conn.Exec(tctx, "BEGIN"); err != nil {
		return fail(fmt.Errorf("BEGIN: %w", err), listappend.Aborted)
	}
	for i, op := range ops {
		k, _ := strconv.Atoi(op.Key)
		switch op.Kind {
		case listappend.Append:
			_, err := conn.Exec(tctx, "INSERT INTO lists VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = lists.v || ',' || excluded.v",
				k, strconv.Itoa(op.Value))
			if err != nil {
				return fail(fmt.Errorf("append %d to %d: %w", op.Value, k, err), listappend.Aborted)
			}
		case listappend.Read:
			var v string
			err := conn.QueryRow(tctx, "SELECT v FROM lists WHERE k = $1", k).Scan(&v)
			if errors.Is(err, pgx.ErrNoRows) {
				err, v = nil, ""
			}
			if err != nil {
				return fail(fmt.Errorf("read %d: %w", k, err), listappend.Aborted)
			}
			list := []int{}
			for _, s := range strings.Split(v, ",") {
				if s == "" {
					continue
				}
				n, err := strconv.Atoi(s)
				if err != nil {
					return fail(fmt.Errorf("%w: key %d holds %q", errBadList, k, v), listappend.Aborted)
				}
				list = append(list, n)
			}
			txn.Ops[i].List = list
		}
	}
	tag, err := conn.Exec(tctx, "COMMIT")
	switch {
	case err == nil && tag.String() == "COMMIT":
		txn.End = time.Now()
		txn.Status = listappend.Committed
		return txn, nil
	case err == nil:
		return fail(fmt.Errorf("COMMIT answered %q", tag), listappend.Aborted)
	case restartable(err):
		return fail(fmt.Errorf("COMMIT: %w", err), listappend.Aborted)
	}
	return fail(fmt.Errorf("COMMIT: %w", err), listappend.Unknown)
}
