package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	bankAccounts = 100
	bankInitial  = 1000
	bankTotal    = bankAccounts * bankInitial
)

// TestBankInvariant moves money between 100 accounts, spread over four ranges of a
// three-node cluster, from 8 clients at once, each connected to its own node (or another
// when that one is down), while other clients sum all balances in one statement and a
// nemesis kills a random node with SIGKILL and restarts it on the same store, a few times.
// A transfer reads both balances and writes back the new ones, so a lost update or a write
// skew changes the total; every successful read, and the final state on every node, must
// show the initial total and number of accounts, and no negative balance.
//
// It runs for 30 seconds, or $MERIDIAN_CHAOS_DURATION.
func TestBankInvariant(t *testing.T) {
	load := chaosDuration(t, 30*time.Second)
	c := startChaosCluster(t, 3)
	ctx := context.Background()
	setup, err := pgx.Connect(ctx, c.nodes[0].url)
	if err != nil {
		t.Fatal(err)
	}
	var values []string
	for id := 0; id < bankAccounts; id++ {
		values = append(values, fmt.Sprintf("(%d, %d)", id, bankInitial))
	}
	for _, stmt := range []string{
		"CREATE TABLE accounts (id INT PRIMARY KEY, balance INT NOT NULL)",
		"INSERT INTO accounts VALUES " + strings.Join(values, ", "),
		"ALTER TABLE accounts SPLIT AT VALUES (25), (50), (75)",
	} {
		if _, err := setup.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	setup.Close(ctx)

	var (
		committed, retried, unknown, reads atomic.Int64
		transferErrs, readErrs             counters
		violations                         atomic.Int64
		readTime, transferTime             latencies
		stop                               = make(chan struct{})
		wg                                 sync.WaitGroup
	)
	const transferClients, readClients = 8, 3
	for w := 0; w < transferClients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			fc := &failoverConn{urls: c.urls(), pref: w % len(c.nodes)}
			defer fc.drop()
			for !closed(stop) {
				a := rng.IntN(bankAccounts)
				b := (a + 1 + rng.IntN(bankAccounts-1)) % bankAccounts
				amount := 1 + rng.IntN(100)
				// Retry a transfer that was rolled back (40001, 40P01) or never reached
				// COMMIT; give up on it when its outcome is unknown.
				for attempt := 0; attempt < 100 && !closed(stop); attempt++ {
					conn, err := fc.get(ctx)
					if err != nil {
						transferErrs.add("connect", err)
						time.Sleep(100 * time.Millisecond)
						continue
					}
					began := time.Now()
					res, err := transfer(ctx, conn, a, b, amount)
					transferTime.add(time.Since(began))
					if errorClass(err) == "timeout" {
						c.logf("a transfer through n%d timed out after %s: %v", fc.at+1, time.Since(began).Round(time.Millisecond), err)
					}
					if err != nil {
						fc.afterError(err)
					}
					switch res {
					case transferCommitted:
						committed.Add(1)
					case transferUnknown:
						unknown.Add(1)
						transferErrs.add("commit "+errorClass(err), err)
					case transferAborted:
						if restartable(err) {
							retried.Add(1)
						}
						transferErrs.add(errorClass(err), err)
						if !restartable(err) {
							time.Sleep(50 * time.Millisecond)
						}
						continue
					}
					break
				}
			}
		}()
	}
	for r := 0; r < readClients; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fc := &failoverConn{urls: c.urls(), pref: r % len(c.nodes)}
			defer fc.drop()
			for !closed(stop) {
				conn, err := fc.get(ctx)
				if err != nil {
					readErrs.add("connect", err)
					time.Sleep(100 * time.Millisecond)
					continue
				}
				node := fc.at + 1
				qctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				var sum, count int64
				began := time.Now()
				err = conn.QueryRow(qctx, "SELECT sum(balance), count(*) FROM accounts").Scan(&sum, &count)
				took := time.Since(began)
				cancel()
				readTime.add(took)
				if err != nil {
					if errorClass(err) == "timeout" {
						c.logf("a read of the total through n%d timed out after %s", node, took.Round(time.Millisecond))
					}
					fc.afterError(err)
					readErrs.add(errorClass(err), err)
					continue
				}
				reads.Add(1)
				if sum != bankTotal || count != bankAccounts {
					if violations.Add(1) <= 10 {
						c.logf("VIOLATION: a read through n%d returned sum %d and count %d, want %d and %d", node, sum, count, bankTotal, bankAccounts)
					}
				}
			}
		}()
	}
	kills := c.runLoad(load, 99, stop, &wg)

	t.Logf("%s of load, %d kills: %d transfers committed, %d of unknown outcome, %d retries (40001/40P01); %d reads checked",
		load, kills, committed.Load(), unknown.Load(), retried.Load(), reads.Load())
	t.Logf("latency of a transfer attempt: %s; of a read of the total: %s", &transferTime, &readTime)
	t.Logf("transfer errors by SQLSTATE: %s; read errors: %s", &transferErrs, &readErrs)
	if s := transferErrs.firstErrors(); s != "" {
		t.Logf("first transfer error of each kind:\n%s", s)
	}
	if s := readErrs.firstErrors(); s != "" {
		t.Logf("first read error of each kind:\n%s", s)
	}
	if n := violations.Load(); n > 0 {
		t.Errorf("%d of %d reads saw a total other than %d or a count other than %d", n, reads.Load(), bankTotal, bankAccounts)
	}
	if committed.Load() == 0 {
		t.Errorf("no transfer committed")
	}
	if reads.Load() == 0 {
		t.Errorf("no read of the total succeeded")
	}

	// Every node answers, with the same total.
	for _, nd := range c.nodes {
		var sum, count, negative int64
		var took time.Duration
		err := retryFor(60*time.Second, func() error {
			conn, err := pgx.Connect(ctx, nd.url)
			if err != nil {
				return err
			}
			defer conn.Close(ctx)
			qctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			defer cancel()
			began := time.Now()
			if err := conn.QueryRow(qctx, "SELECT sum(balance), count(*) FROM accounts").Scan(&sum, &count); err != nil {
				return err
			}
			took = time.Since(began)
			return conn.QueryRow(qctx, "SELECT count(*) FROM accounts WHERE balance < 0").Scan(&negative)
		})
		switch {
		case err != nil:
			t.Errorf("n%d does not answer after the run: %v", nd.id, err)
		case sum != bankTotal || count != bankAccounts:
			t.Errorf("after the run, n%d reads a total of %d in %d accounts, want %d in %d", nd.id, sum, count, bankTotal, bankAccounts)
		case negative != 0:
			t.Errorf("after the run, n%d reads %d accounts with a negative balance", nd.id, negative)
		default:
			t.Logf("after the run, n%d reads a total of %d in %d accounts (in %s)", nd.id, sum, count, took.Round(time.Millisecond))
		}
	}
}

type transferResult int

const (
	transferAborted   transferResult = iota // it did not take effect
	transferCommitted                       // it took effect
	transferUnknown                         // COMMIT was sent but its answer not received
)

// transfer moves amount from account a to account b (less if a holds less) in one
// transaction that reads both balances and writes back the new ones.
func transfer(ctx context.Context, conn *pgx.Conn, a, b, amount int) (transferResult, error) {
	tctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	fail := func(err error) (transferResult, error) {
		if !conn.IsClosed() {
			rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
			_, _ = conn.Exec(rctx, "ROLLBACK")
			rcancel()
		}
		return transferAborted, err
	}
	if _, err := conn.Exec(tctx, "BEGIN"); err != nil {
		return fail(fmt.Errorf("BEGIN: %w", err))
	}
	var balA, balB int
	if err := conn.QueryRow(tctx, "SELECT balance FROM accounts WHERE id = $1", a).Scan(&balA); err != nil {
		return fail(fmt.Errorf("read %d: %w", a, err))
	}
	if err := conn.QueryRow(tctx, "SELECT balance FROM accounts WHERE id = $1", b).Scan(&balB); err != nil {
		return fail(fmt.Errorf("read %d: %w", b, err))
	}
	amount = min(amount, balA)
	for _, u := range []struct{ id, balance int }{{a, balA - amount}, {b, balB + amount}} {
		tag, err := conn.Exec(tctx, "UPDATE accounts SET balance = $1 WHERE id = $2", u.balance, u.id)
		if err == nil && tag.RowsAffected() != 1 {
			err = fmt.Errorf("UPDATE of account %d changed %d rows", u.id, tag.RowsAffected())
		}
		if err != nil {
			return fail(fmt.Errorf("update %d: %w", u.id, err))
		}
	}
	tag, err := conn.Exec(tctx, "COMMIT")
	switch {
	case err == nil && tag.String() == "COMMIT":
		return transferCommitted, nil
	case err == nil:
		return transferAborted, fmt.Errorf("COMMIT answered %q", tag)
	case restartable(err):
		return transferAborted, fmt.Errorf("COMMIT: %w", err)
	}
	return transferUnknown, fmt.Errorf("COMMIT: %w", err)
}

// retryFor calls f until it succeeds or timeout has passed, and returns its last error.
func retryFor(timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(500 * time.Millisecond)
	}
}
