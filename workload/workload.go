package workload

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/pflag"
)

// A Workload is one benchmark: its options, how to create and load its data, what its workers
// do, how to check its data, and what it adds to the final report. The methods other than
// Flags are called after the flags are parsed.
type Workload interface {
	// Name is the workload's name on the command line: kv, bank, tpcc.
	Name() string
	// Description is one line for the command's help.
	Description() string
	// Flags returns the workload's options. It returns the same set on every call, bound to
	// the workload, so parsing it configures the workload.
	Flags() *pflag.FlagSet
	// Validate checks the options once they are parsed, before any other method runs.
	Validate() error
	// Workers returns how many workers run when --workers is not given; wait is whether the
	// ops' keying and think times apply (--wait), so a workload of terminals can run one per
	// terminal when it waits.
	Workers(wait bool) int
	// Init creates the schema and loads the initial data, reporting progress in rows as it
	// goes (it may call progress from several goroutines). It resumes a load that was cut
	// short, and starts from nothing when opts.Drop is set.
	Init(ctx context.Context, pool *pgxpool.Pool, opts InitOptions, progress func(done, total int64)) error
	// Worker returns the state of worker id (0 ≤ id < workers), whose random choices derive
	// from seed. Each worker is used by one goroutine only.
	Worker(id int, seed int64) Worker
	// Check verifies the data's consistency once: nil if it holds, else an error saying what
	// does not (wrapping ErrInvariant).
	Check(ctx context.Context, pool *pgxpool.Pool) error
	// Report returns the workload's own lines for the final report, e.g. TPC-C's tpmC; nil
	// for none.
	Report(r *Result) []string
}

// A Worker yields the operations of one worker, one after another.
type Worker interface {
	Next() Op
}

// An Op is one operation of a workload, named for the report.
type Op struct {
	// Name groups the op's latencies and counts: "read", "write", "newOrder".
	Name string
	// Keying and Think are waited before and after the op when waits apply (--wait); they are
	// not part of its latency.
	Keying, Think time.Duration
	// Exec runs one attempt of the op on a connection of pool. The runner retries it when it
	// fails with a serialization failure or a deadlock (see Retryable), so it must be safe to
	// run again: a whole transaction, rolled back on error.
	Exec func(ctx context.Context, pool *pgxpool.Pool) error
}

// InitOptions are the options of `workload init` common to every workload.
type InitOptions struct {
	// Drop makes Init drop the workload's tables first, for a clean start.
	Drop bool
	// Concurrency is how many connections Init may use at once.
	Concurrency int
}

// A Monitor is a workload that also runs ops of its own on a fixed schedule, beside its
// workers: bank's continuous invariant check. The runner reports them as ops of their own.
type Monitor interface {
	Monitors() []Periodic
}

// A Periodic op runs every Every (its latency excluded) on its own connection for as long
// as the workers run.
type Periodic struct {
	Name  string
	Every time.Duration
	Exec  func(ctx context.Context, pool *pgxpool.Pool) error
}

// ErrInvariant is wrapped by the errors of ops and checks that found the data inconsistent. It
// stops a run even with --tolerate-errors: numbers from a database that lost money are not
// numbers.
var ErrInvariant = errors.New("consistency violation")

// A Waiter is a workload whose keying and think times apply unless --wait=false, as TPC-C's
// do; other workloads run flat out unless --wait is given.
type Waiter interface {
	WaitByDefault() bool
}
