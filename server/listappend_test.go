package server

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/meridiandb/meridian/check/listappend"
)

// TestListAppendSerializable runs list-append transactions from several clients, each
// through its own node of three, over keys spread across ranges, and checks the history
// for every anomaly a serializable database must not show: a cycle of write-write,
// write-read and read-write dependencies (or real-time order: the check is of strict
// serializability), reads of aborted or intermediate state, and reads that disagree on the
// order of appends.
//
// It is one of the acceptance checks of the distributed-transaction work; the multi-process
// version with node kills is cmd/meridian's TestListAppendWithNodeKill. Set
// MERIDIAN_TXN_CHECKS=long for a run ten times as long.
func TestListAppendSerializable(t *testing.T) {
	clients, perClient := 6, 30
	if os.Getenv("MERIDIAN_TXN_CHECKS") == "long" {
		perClient = 300
	}
	nodes := startCluster(t, 3)
	waitFirstRangeEverywhere(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(perClient)*6*time.Second)
	defer cancel()
	conn := connect(t, nodes[0])
	const keys = 8
	for _, stmt := range []string{
		"CREATE TABLE lists (k INT PRIMARY KEY, v TEXT NOT NULL)",
		"ALTER TABLE lists SPLIT AT VALUES (2), (4), (6)",
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu       sync.Mutex
		history  []listappend.Txn
		nextVal  = map[int]int{}
		failures = map[string]int{}
		wg       sync.WaitGroup
	)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), uint64(time.Now().UnixNano())))
			cc, err := pgx.Connect(ctx, nodes[c%len(nodes)].SQLURL("root"))
			if err != nil {
				t.Error(err)
				return
			}
			defer cc.Close(context.Background())
			for i := 0; i < perClient; i++ {
				type plan struct {
					key    int
					append bool
				}
				plans := make([]plan, 1+rng.IntN(4))
				for j := range plans {
					plans[j] = plan{key: rng.IntN(keys), append: rng.IntN(2) == 0}
				}
				// Like any client, retry a transaction that had to restart (40001); each
				// attempt is a transaction of the history, with values of its own.
				for attempt := 0; attempt < 20; attempt++ {
					ops := make([]listappend.Op, len(plans))
					mu.Lock()
					for j, p := range plans {
						ops[j] = listappend.Op{Kind: listappend.Read, Key: strconv.Itoa(p.key)}
						if p.append {
							nextVal[p.key]++
							ops[j] = listappend.Op{Kind: listappend.Append, Key: strconv.Itoa(p.key), Value: nextVal[p.key]}
						}
					}
					id := len(history)
					history = append(history, listappend.Txn{}) // reserve the ID
					mu.Unlock()
					txn, err := runListAppend(ctx, cc, id, ops)
					mu.Lock()
					history[id] = txn
					if err != nil {
						code := pgCode(err)
						if failures[code] == 0 {
							t.Logf("first failure with SQLSTATE %q: %v", code, err)
						}
						failures[code]++
					}
					mu.Unlock()
					if txn.Status != listappend.Aborted {
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	statuses := map[listappend.Status]int{}
	for _, txn := range history {
		statuses[txn.Status]++
	}
	t.Logf("%d transactions: %d committed, %d aborted (SQLSTATEs %v), %d unknown", len(history),
		statuses[listappend.Committed], statuses[listappend.Aborted], failures, statuses[listappend.Unknown])
	if want := clients * perClient * 9 / 10; statuses[listappend.Committed] < want {
		t.Errorf("only %d of %d transactions committed, retries included", statuses[listappend.Committed], clients*perClient)
	}
	res := listappend.CheckWith(history, listappend.CheckOptions{RealTime: true})
	for _, a := range res.Anomalies {
		t.Errorf("%s", a)
	}
}

// runListAppend runs one transaction of ops on conn and reports it as the checker needs:
// committed (with what its reads returned), aborted, or of unknown outcome.
func runListAppend(ctx context.Context, conn *pgx.Conn, id int, ops []listappend.Op) (listappend.Txn, error) {
	txn := listappend.Txn{ID: id, Ops: append([]listappend.Op(nil), ops...), Start: time.Now()}
	fail := func(err error, atCommit bool) (listappend.Txn, error) {
		txn.End = time.Now()
		txn.Status = listappend.Aborted
		var pe *pgconn.PgError
		if atCommit && !(errors.As(err, &pe) && isRestart(pe.Code)) {
			txn.Status = listappend.Unknown // the commit may have happened
		}
		for i := range txn.Ops {
			if txn.Ops[i].Kind == listappend.Read {
				txn.Ops[i].List = nil
			}
		}
		_, _ = conn.Exec(context.Background(), "ROLLBACK")
		return txn, err
	}
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := conn.Exec(tctx, "BEGIN"); err != nil {
		return fail(err, false)
	}
	for i, op := range ops {
		k, _ := strconv.Atoi(op.Key)
		switch op.Kind {
		case listappend.Append:
			_, err := conn.Exec(tctx, "INSERT INTO lists VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = lists.v || ',' || excluded.v",
				k, strconv.Itoa(op.Value))
			if err != nil {
				return fail(err, false)
			}
		case listappend.Read:
			var v string
			err := conn.QueryRow(tctx, "SELECT v FROM lists WHERE k = $1", k).Scan(&v)
			if errors.Is(err, pgx.ErrNoRows) {
				err, v = nil, ""
			}
			if err != nil {
				return fail(err, false)
			}
			list := []int{}
			for _, s := range strings.Split(v, ",") {
				if s == "" {
					continue
				}
				n, err := strconv.Atoi(s)
				if err != nil {
					return fail(fmt.Errorf("key %d holds %q", k, v), false)
				}
				list = append(list, n)
			}
			txn.Ops[i].List = list
		}
	}
	if _, err := conn.Exec(tctx, "COMMIT"); err != nil {
		return fail(err, true)
	}
	txn.End = time.Now()
	txn.Status = listappend.Committed
	return txn, nil
}
