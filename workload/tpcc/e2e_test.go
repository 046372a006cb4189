//go:build !race

package tpcc

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/meridiandb/meridian/server"
)

// TestTPCCEndToEnd loads one warehouse into a single in-process Meridian node, interrupting
// the first load and resuming it, runs the transaction mix from four terminals and checks
// the consistency conditions before and after.
func TestTPCCEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()
	cfg := server.Config{
		StoreDir:   t.TempDir(),
		ListenAddr: "127.0.0.1:0",
		Logger:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	n, err := server.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	select {
	case <-n.Ready():
	case <-ctx.Done():
		t.Fatal("node not ready")
	}
	exercise(ctx, t, n.SQLURL("root"), 1, 20*time.Second)
}

// exercise runs the end-to-end scenario against the server at url: an interrupted load of
// warehouses warehouses, its resumption, a no-op rerun, the consistency checks, a mix of
// runFor from four terminals and the checks again.
func exercise(ctx context.Context, t *testing.T, url string, warehouses int, runFor time.Duration) {
	t.Helper()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	total := RowsToLoad(warehouses)

	// A load cancelled a quarter of the way through, then resumed, must end with exactly
	// the spec's rows.
	lctx, stop := context.WithCancel(ctx)
	err = Load(lctx, pool, LoadOptions{Warehouses: warehouses, Drop: true}, func(done, _ int64) {
		if done > total/4 {
			stop()
		}
	})
	stop()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted load: %v, want context.Canceled", err)
	}
	var batches int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM tpcc_load_state`).Scan(&batches); err != nil {
		t.Fatal(err)
	}
	if batches == 0 {
		t.Fatal("the interrupted load committed nothing")
	}
	start := time.Now()
	var mu sync.Mutex
	var last int64
	err = Load(ctx, pool, LoadOptions{Warehouses: warehouses}, func(done, tot int64) {
		mu.Lock()
		defer mu.Unlock()
		if tot != total {
			t.Errorf("progress total %d, want %d", tot, total)
		}
		last = max(last, done)
	})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("load resumed after %d batches took %v (%.0f rows/s of the whole load)", batches, took, float64(total)/took.Seconds())
	if last != total {
		t.Errorf("progress ended at %d of %d", last, total)
	}
	counts := tableCounts(ctx, t, pool)
	want := map[string]int64{"warehouse": 1, "district": 10, "stock": 100000, "customer": 30000,
		"history": 30000, "orders": 30000, "new_order": 9000}
	fixed := int64(numItems)
	for name, n := range want {
		want[name] = n * int64(warehouses)
		fixed += want[name]
	}
	want["item"] = numItems
	want["order_line"] = total - fixed
	for name, n := range want {
		if counts[name] != n {
			t.Errorf("%s: %d rows, want %d", name, counts[name], n)
		}
	}

	// Rerunning a finished load writes nothing.
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM tpcc_load_state`).Scan(&batches); err != nil {
		t.Fatal(err)
	}
	last = 0
	if err := Load(ctx, pool, LoadOptions{Warehouses: warehouses}, func(done, _ int64) { mu.Lock(); last = max(last, done); mu.Unlock() }); err != nil {
		t.Fatal(err)
	}
	var after int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM tpcc_load_state`).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after != batches || last != total {
		t.Errorf("rerun of a finished load: %d batches recorded before, %d after; progress %d of %d", batches, after, last, total)
	}
	if again := tableCounts(ctx, t, pool); again["order_line"] != counts["order_line"] || again["history"] != counts["history"] {
		t.Errorf("rerun of a finished load changed counts: %v, then %v", counts, again)
	}

	start = time.Now()
	if v, err := check(ctx, pool, append(conditions, initialConditions...)); err != nil || len(v) > 0 {
		t.Fatalf("initial population: %v %v", v, err)
	}
	t.Logf("consistency checks: %v", time.Since(start))

	runMix(ctx, t, pool, warehouses, runFor)

	if v, err := Check(ctx, pool); err != nil || len(v) > 0 {
		t.Fatalf("after the run: %v %v", v, err)
	}
	// Check must see a violation: a warehouse's YTD that its districts and history do not
	// add up to.
	if _, err := pool.Exec(ctx, `UPDATE warehouse SET w_ytd = w_ytd + 1 WHERE w_id = $1`, warehouses); err != nil {
		t.Fatal(err)
	}
	v, err := Check(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != 2 || v[0].Condition != "3.3.2.1" || v[1].Condition != "3.3.2.8" {
		t.Errorf("with w_ytd off by one: %v, want 3.3.2.1 and 3.3.2.8", v)
	}
}

func tableCounts(ctx context.Context, t *testing.T, pool *pgxpool.Pool) map[string]int64 {
	t.Helper()
	counts := map[string]int64{}
	for _, tb := range tables[:9] {
		var n int64
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+tb.name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		counts[tb.name] = n
	}
	return counts
}

// runMix runs four terminals, spread over the warehouses, without keying or think times for
// d, retrying serialization failures and deadlocks.
func runMix(ctx context.Context, t *testing.T, pool *pgxpool.Pool, warehouses int, d time.Duration) {
	t.Helper()
	var (
		mu      sync.Mutex
		done    = map[TxType]int{}
		retries = map[TxType]int{}
		spent   = map[TxType]time.Duration{}
		wg      sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	for term := 1; term <= 4; term++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tm := NewTerminal(warehouses, 1+(term-1)%warehouses, term, int64(term))
			for time.Now().Before(deadline) && ctx.Err() == nil {
				tx := tm.Next()
				start := time.Now()
				n := 0
				err := retry(ctx, func() error {
					err := tx.Exec(ctx, pool)
					if err != nil {
						n++
					}
					return err
				})
				mu.Lock()
				if err == nil {
					done[tx.Type]++
					retries[tx.Type] += n
					spent[tx.Type] += time.Since(start)
				}
				mu.Unlock()
				if err != nil {
					t.Errorf("terminal %d: %v: %v", term, tx.Type, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	sum := 0
	for _, typ := range TxTypes {
		sum += done[typ]
		if done[typ] == 0 {
			t.Errorf("no %v completed", typ)
			continue
		}
		t.Logf("%-12v %5d done, %4d retries, mean %v", typ, done[typ], retries[typ], spent[typ]/time.Duration(done[typ]))
	}
	t.Logf("%d transactions in %v", sum, d)
}
