package bank

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/pflag"

	"github.com/meridiandb/meridian/workload"
	"github.com/meridiandb/meridian/workload/internal/loader"
)

// loadChunk is how many accounts one statement of the initial load inserts.
const loadChunk = 1000

// bank is the bank workload, configured by its flags.
type bank struct {
	flags         *pflag.FlagSet
	accounts      int64
	initial       int64
	maxTransfer   int64
	checkInterval time.Duration
}

// New returns the bank workload with its default options.
func New() workload.Workload {
	w := &bank{flags: pflag.NewFlagSet("bank", pflag.ContinueOnError)}
	f := w.flags
	f.Int64Var(&w.accounts, "accounts", 1000, "number of accounts")
	f.Int64Var(&w.initial, "initial-balance", 1000, "balance of every account after init")
	f.Int64Var(&w.maxTransfer, "max-transfer", 100, "largest amount one transfer moves (never more than the payer has)")
	f.DurationVar(&w.checkInterval, "check-interval", time.Second, "how often a run checks that the balances add up (0: never)")
	return w
}

// Name implements workload.Workload.
func (w *bank) Name() string { return "bank" }

// Description implements workload.Workload.
func (w *bank) Description() string {
	return "transfers between accounts, with a continuous check that the total balance never changes"
}

// Flags implements workload.Workload.
func (w *bank) Flags() *pflag.FlagSet { return w.flags }

// Validate implements workload.Workload.
func (w *bank) Validate() error {
	switch {
	case w.accounts < 2:
		return fmt.Errorf("--accounts must be at least 2, not %d", w.accounts)
	case w.initial < 0:
		return fmt.Errorf("--initial-balance must not be negative")
	case w.maxTransfer < 1:
		return fmt.Errorf("--max-transfer must be at least 1")
	}
	return nil
}

// Workers implements workload.Workload.
func (w *bank) Workers(bool) int { return 8 }

// Init implements workload.Workload.
func (w *bank) Init(ctx context.Context, pool *pgxpool.Pool, opts workload.InitOptions, progress func(done, total int64)) error {
	if opts.Drop {
		if _, err := pool.Exec(ctx, "DROP TABLE IF EXISTS bank"); err != nil {
			return fmt.Errorf("dropping bank: %w", err)
		}
	}
	if _, err := pool.Exec(ctx, "CREATE TABLE IF NOT EXISTS bank (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL)"); err != nil {
		return fmt.Errorf("creating bank: %w", err)
	}
	return loader.Load(ctx, pool, loader.Table{
		Name: "bank", Key: "id", Rows: w.accounts, Chunk: loadChunk,
		Insert: func(ctx context.Context, pool *pgxpool.Pool, lo, hi int64) error {
			// generate_series would do it in one short statement, but the rows as
			// parameters keep to SQL that any PostgreSQL-compatible database runs.
			ids := make([]int64, 0, hi-lo)
			for id := lo; id < hi; id++ {
				ids = append(ids, id)
			}
			_, err := pool.Exec(ctx, "INSERT INTO bank (id, balance) SELECT id, $2::BIGINT FROM unnest($1::BIGINT[]) AS t(id) ON CONFLICT (id) DO NOTHING", ids, w.initial)
			return err
		},
	}, opts.Concurrency, progress)
}

// Check implements workload.Workload: the accounts are all there, and their balances add up
// to what init gave them, none negative.
func (w *bank) Check(ctx context.Context, pool *pgxpool.Pool) error {
	// One statement, so one snapshot, on PostgreSQL at any isolation level too.
	var n, sum, minBalance int64
	err := pool.QueryRow(ctx, "SELECT count(*), COALESCE(sum(balance), 0)::BIGINT, COALESCE(min(balance), 0) FROM bank").Scan(&n, &sum, &minBalance)
	if err != nil {
		return fmt.Errorf("summing balances: %w", err)
	}
	if want := w.accounts * w.initial; n != w.accounts || sum != want {
		return fmt.Errorf("%d accounts hold %d in total, want %d accounts holding %d (were init's --accounts and --initial-balance the same?): %w",
			n, sum, w.accounts, want, workload.ErrInvariant)
	}
	if minBalance < 0 {
		return fmt.Errorf("an account holds %d: %w", minBalance, workload.ErrInvariant)
	}
	return nil
}

// Monitors implements workload.Monitor: the continuous check.
func (w *bank) Monitors() []workload.Periodic {
	if w.checkInterval <= 0 {
		return nil
	}
	return []workload.Periodic{{Name: "check", Every: w.checkInterval, Exec: w.Check}}
}

// Report implements workload.Workload.
func (w *bank) Report(r *workload.Result) []string {
	c, ok := r.Op("check")
	if !ok || c.Count == 0 {
		return nil
	}
	return []string{fmt.Sprintf("balance check: the total was %d in all %d checks", w.accounts*w.initial, c.Count)}
}

// Worker implements workload.Workload.
func (w *bank) Worker(_ int, seed int64) workload.Worker {
	return &worker{bank: w, rng: rand.New(rand.NewPCG(uint64(seed), 0))}
}

type worker struct {
	bank *bank
	rng  *rand.Rand
}

// Next implements workload.Worker: a transfer between two distinct accounts.
func (wk *worker) Next() workload.Op {
	n := wk.bank.accounts
	from := wk.rng.Int64N(n)
	to := (from + 1 + wk.rng.Int64N(n-1)) % n
	amount := 1 + wk.rng.Int64N(wk.bank.maxTransfer)
	return workload.Op{Name: "transfer", Exec: func(ctx context.Context, pool *pgxpool.Pool) error {
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return transfer(ctx, tx, from, to, amount) })
	}}
}

// transfer moves amount from one account to another, or what the payer has if less. It reads
// both balances and writes back values computed from them, the form that loses money unless
// the database serializes it; FOR UPDATE makes it correct under PostgreSQL's read committed
// too.
func transfer(ctx context.Context, tx pgx.Tx, from, to, amount int64) error {
	rows, err := tx.Query(ctx, "SELECT id, balance FROM bank WHERE id IN ($1, $2) ORDER BY id FOR UPDATE", from, to)
	if err != nil {
		return err
	}
	balances := map[int64]int64{}
	for rows.Next() {
		var id, b int64
		if err := rows.Scan(&id, &b); err != nil {
			rows.Close()
			return err
		}
		balances[id] = b
	}
	if err := rows.Err(); err != nil {
		return err
	}
	fromBal, ok1 := balances[from]
	toBal, ok2 := balances[to]
	if !ok1 || !ok2 {
		return fmt.Errorf("accounts %d and %d: only %d found (was init run with these --accounts?)", from, to, len(balances))
	}
	amount = min(amount, fromBal)
	if amount <= 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, "UPDATE bank SET balance = $1 WHERE id = $2", fromBal-amount, from); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, "UPDATE bank SET balance = $1 WHERE id = $2", toBal+amount, to)
	return err
}
