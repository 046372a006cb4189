package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/pflag"

	"github.com/meridiandb/meridian/workload"
	"github.com/meridiandb/meridian/workload/tpcc"
)

// tpccWorkload adapts package tpcc to the runner: one worker per terminal (ten per
// warehouse, each bound to a home district), the spec's keying and think times with --wait,
// tpmC and efficiency in the report, and the consistency conditions as the check.
type tpccWorkload struct {
	flags                 *pflag.FlagSet
	warehouses, batchRows int
}

func newTPCC() workload.Workload {
	w := &tpccWorkload{flags: pflag.NewFlagSet("tpcc", pflag.ContinueOnError)}
	w.flags.IntVar(&w.warehouses, "warehouses", 1, "number of warehouses")
	w.flags.IntVar(&w.batchRows, "batch-rows", 0, "rows per batch of the load (0: the loader's default)")
	return w
}

func (w *tpccWorkload) Name() string { return "tpcc" }
func (w *tpccWorkload) Description() string {
	return "TPC-C: new orders, payments, order status, deliveries and stock levels over warehouses"
}
func (w *tpccWorkload) Flags() *pflag.FlagSet { return w.flags }

func (w *tpccWorkload) Validate() error {
	if w.warehouses < 1 {
		return fmt.Errorf("--warehouses must be at least 1")
	}
	return nil
}

// WaitByDefault makes --wait default to true: TPC-C's terminals keep the spec's keying and
// think times unless told not to.
func (w *tpccWorkload) WaitByDefault() bool { return true }

// Workers is one per terminal, ten per warehouse, with or without waits.
func (w *tpccWorkload) Workers(bool) int { return 10 * w.warehouses }

func (w *tpccWorkload) Init(ctx context.Context, pool *pgxpool.Pool, opts workload.InitOptions, progress func(done, total int64)) error {
	return tpcc.Load(ctx, pool, tpcc.LoadOptions{Warehouses: w.warehouses, Concurrency: opts.Concurrency, BatchRows: w.batchRows, Drop: opts.Drop}, progress)
}

func (w *tpccWorkload) Worker(id int, seed int64) workload.Worker {
	t := id % (10 * w.warehouses) // workers beyond the terminals double up on them
	return tpccTerminal{tpcc.NewTerminal(w.warehouses, t/10+1, t%10+1, seed)}
}

type tpccTerminal struct{ t *tpcc.Terminal }

func (k tpccTerminal) Next() workload.Op {
	tx := k.t.Next()
	return workload.Op{Name: tx.Type.String(), Keying: tx.Keying, Think: tx.Think, Exec: tx.Exec}
}

func (w *tpccWorkload) Check(ctx context.Context, pool *pgxpool.Pool) error {
	vs, err := tpcc.Check(ctx, pool)
	if err != nil || len(vs) == 0 {
		return err
	}
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "\n  %s: %s", v.Condition, v.Detail)
	}
	return fmt.Errorf("%d violations:%s\n%w", len(vs), b.String(), workload.ErrInvariant)
}

// Report adds tpmC (New-Order transactions per minute) and, with waits, the efficiency the
// spec measures against: 12.86 tpmC per warehouse is the most its think times allow.
func (w *tpccWorkload) Report(r *workload.Result) []string {
	no, ok := r.Op("newOrder")
	if !ok || r.Elapsed <= 0 {
		return nil
	}
	tpmC := float64(no.Count) / r.Elapsed.Minutes()
	efficiency := fmt.Sprintf("efficiency: %.1f%% (tpmC / (12.86 × %d warehouses))", 100*tpmC/(12.86*float64(w.warehouses)), w.warehouses)
	if !r.Wait {
		efficiency += ", which only a run with waits is bound by"
	}
	return []string{fmt.Sprintf("tpmC: %.1f", tpmC), efficiency}
}
