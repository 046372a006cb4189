package workload

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// RunOptions are the options of `workload run` common to every workload.
type RunOptions struct {
	// Workers is how many workers run at once, each on a connection of its own.
	Workers int
	// Wait makes workers wait the keying and think times of their ops.
	Wait bool
	// Duration is how long the run measures, after Ramp; zero runs until MaxOps or until ctx
	// is done.
	Duration time.Duration
	// MaxOps, if positive, stops the run after that many ops were started.
	MaxOps int64
	// Ramp starts the workers one by one over this long before the measured Duration begins;
	// ops that start during it are not counted.
	Ramp time.Duration
	// Seed seeds every worker's random choices (worker i gets a seed derived from Seed and i).
	Seed int64
	// TolerateErrors keeps the run going after an op fails with an error that is not
	// retryable; otherwise the first such error stops it and Run returns it.
	TolerateErrors bool
	// Live receives one line per op type every second; nil for none.
	Live io.Writer
	// Errors receives the first few errors of ops; nil for none.
	Errors io.Writer
	// Histograms receives every measured op as a CSV line
	// (op,start_unix_nanos,latency_micros,retries,error); nil for none.
	Histograms io.Writer
}

// maxPrintedErrors is how many op errors Run prints before it only counts them.
const maxPrintedErrors = 10

// opStats are one op type's counts, shared by the workers.
type opStats struct {
	periodic bool

	mu sync.Mutex
	// cum holds the whole run's latencies, tick those since the last live line.
	cum, tick Histogram
	errors    int64
	retries   int64
	// causes counts the retried errors by retryCause.
	causes map[string]int64
}

// runner is the state of one Run.
type runner struct {
	opts        RunOptions
	measureFrom time.Time
	fail        context.CancelCauseFunc
	issued      atomic.Int64

	mu  sync.Mutex
	ops map[string]*opStats

	errMu   sync.Mutex
	printed int
	fatal   error

	rawMu sync.Mutex
	raw   *csv.Writer
}

// Run runs w's workers on pools (worker i uses pools[i%len(pools)], which must hold a
// connection for each of its workers, and pools[0] one more for each of w's Periodic ops) until
// opts.Duration has passed, opts.MaxOps ops were started, an op failed (unless
// opts.TolerateErrors), or ctx is done. It returns the run's result in every case; the error is
// the op error that stopped the run, if one did. A run stopped by ctx (Ctrl-C) returns its
// result, marked Interrupted, and no error.
func Run(ctx context.Context, w Workload, pools []*pgxpool.Pool, opts RunOptions) (*Result, error) {
	if opts.Workers <= 0 {
		return nil, fmt.Errorf("workers must be positive, not %d", opts.Workers)
	}
	if len(pools) == 0 {
		return nil, errors.New("no connection pool")
	}
	start := time.Now()
	r := &runner{opts: opts, measureFrom: start.Add(opts.Ramp), ops: map[string]*opStats{}}
	if opts.Histograms != nil {
		r.raw = csv.NewWriter(opts.Histograms)
		r.raw.Write([]string{"op", "start_unix_nanos", "latency_micros", "retries", "error"})
	}

	runCtx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	r.fail = fail
	if opts.Duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(runCtx, opts.Ramp+opts.Duration)
		defer cancel()
	}

	// Workers stop on their own (duration, max ops, error); the live output and the periodic
	// ops run until the last worker has stopped.
	auxCtx, stopAux := context.WithCancel(runCtx)
	defer stopAux()
	var workers, aux sync.WaitGroup
	for i := range opts.Workers {
		wk := w.Worker(i, workerSeed(opts.Seed, i))
		pool := pools[i%len(pools)]
		delay := time.Duration(0)
		if opts.Ramp > 0 {
			delay = opts.Ramp * time.Duration(i) / time.Duration(opts.Workers)
		}
		rng := rand.New(rand.NewPCG(uint64(workerSeed(opts.Seed, i)), 1))
		workers.Go(func() { r.work(runCtx, wk, pool, delay, rng) })
	}
	if m, ok := w.(Monitor); ok {
		for i, p := range m.Monitors() {
			r.stats(p.Name).periodic = true
			rng := rand.New(rand.NewPCG(uint64(opts.Seed), uint64(i)+2))
			aux.Go(func() { r.periodic(auxCtx, p, pools[0], rng) })
		}
	}
	if opts.Live != nil {
		aux.Go(func() { r.live(auxCtx, start) })
	}
	workers.Wait()
	stopAux()
	aux.Wait()

	res := r.result(w, time.Since(r.measureFrom))
	if r.raw != nil {
		r.raw.Flush()
		if err := r.raw.Error(); err != nil {
			return res, fmt.Errorf("writing histograms: %w", err)
		}
	}
	if r.fatal != nil {
		return res, r.fatal
	}
	res.Interrupted = ctx.Err() != nil
	return res, nil
}

// workerSeed derives worker i's seed from the run's, so that workers draw different keys.
func workerSeed(seed int64, i int) int64 {
	x := uint64(seed) + uint64(i+1)*0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return int64(x ^ x>>31)
}

// stats returns the counts of the op named name, creating them on first use.
func (r *runner) stats(name string) *opStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.ops[name]
	if !ok {
		s = &opStats{}
		r.ops[name] = s
	}
	return s
}

// work is one worker's loop.
func (r *runner) work(ctx context.Context, wk Worker, pool *pgxpool.Pool, delay time.Duration, rng *rand.Rand) {
	if sleep(ctx, delay) != nil {
		return
	}
	for ctx.Err() == nil {
		if r.opts.MaxOps > 0 && r.issued.Add(1) > r.opts.MaxOps {
			return
		}
		op := wk.Next()
		if r.opts.Wait && sleep(ctx, op.Keying) != nil {
			return
		}
		if !r.do(ctx, op.Name, op.Exec, pool, rng) {
			return
		}
		if r.opts.Wait && sleep(ctx, op.Think) != nil {
			return
		}
	}
}

// periodic runs p every p.Every until ctx is done.
func (r *runner) periodic(ctx context.Context, p Periodic, pool *pgxpool.Pool, rng *rand.Rand) {
	for sleep(ctx, p.Every) == nil {
		if !r.do(ctx, p.Name, p.Exec, pool, rng) {
			return
		}
	}
}

// do runs one op with retries and records it; it returns false when the caller should stop:
// the run is over, or the op failed and ends the run.
func (r *runner) do(ctx context.Context, name string, exec func(context.Context, *pgxpool.Pool) error, pool *pgxpool.Pool, rng *rand.Rand) bool {
	start := time.Now()
	retried, err := execWithRetry(ctx, pool, exec, rng)
	latency := time.Since(start)
	if err != nil && ctx.Err() != nil {
		// Cut short by the end of the run: neither a success nor a failure.
		return false
	}
	if !start.Before(r.measureFrom) {
		r.record(name, start, latency, retried, err)
	}
	if err == nil {
		return true
	}
	err = fmt.Errorf("%s: %w", name, err)
	fatal := !r.opts.TolerateErrors || errors.Is(err, ErrInvariant)
	r.errMu.Lock()
	defer r.errMu.Unlock()
	if r.printed < maxPrintedErrors && r.opts.Errors != nil {
		r.printed++
		fmt.Fprintf(r.opts.Errors, "error: %v\n", err)
		if r.printed == maxPrintedErrors {
			fmt.Fprintf(r.opts.Errors, "(further errors are only counted)\n")
		}
	}
	if fatal {
		if r.fatal == nil {
			r.fatal = err
		}
		r.fail(err)
		return false
	}
	return true
}

// record counts one finished op.
func (r *runner) record(name string, start time.Time, latency time.Duration, retried []error, err error) {
	s := r.stats(name)
	s.mu.Lock()
	if err == nil {
		s.cum.Record(latency)
		s.tick.Record(latency)
	} else {
		s.errors++
	}
	s.retries += int64(len(retried))
	for _, e := range retried {
		if s.causes == nil {
			s.causes = map[string]int64{}
		}
		s.causes[retryCause(e)]++
	}
	s.mu.Unlock()
	if r.raw == nil {
		return
	}
	msg := ""
	if err != nil {
		msg = errorSummary(err)
	}
	r.rawMu.Lock()
	r.raw.Write([]string{name, strconv.FormatInt(start.UnixNano(), 10), strconv.FormatInt(latency.Microseconds(), 10), strconv.Itoa(len(retried)), msg})
	r.rawMu.Unlock()
}

// errorSummary is an error's SQLSTATE when it has one, else its first line.
func errorSummary(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}

// names returns the op names seen so far, sorted.
func (r *runner) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.ops))
	for n := range r.ops {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// live prints each op's last second every second until ctx is done.
func (r *runner) live(ctx context.Context, start time.Time) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for tick := 0; ; tick++ {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			r.printLive(now, start, tick)
		}
	}
}

func (r *runner) printLive(now, start time.Time, tick int) {
	names := r.names()
	width := 10
	for _, n := range names {
		width = max(width, len(n))
	}
	w := r.opts.Live
	if tick%20 == 0 {
		fmt.Fprintf(w, "%8s  %-*s %7s %10s %10s %8s %8s %8s %8s\n", "elapsed", width, "op", "errors", "ops/s", "ops/s(cum)", "p50(ms)", "p95(ms)", "p99(ms)", "max(ms)")
	}
	measured := now.Sub(r.measureFrom).Seconds()
	for _, n := range names {
		s := r.stats(n)
		s.mu.Lock()
		count, errs := s.tick.Count(), s.errors
		p50, p95, p99, pmax := s.tick.Quantile(0.50), s.tick.Quantile(0.95), s.tick.Quantile(0.99), s.tick.Max()
		cum := s.cum.Count()
		s.tick.Reset()
		s.mu.Unlock()
		cumRate := 0.0
		if measured > 0 {
			cumRate = float64(cum) / measured
		}
		fmt.Fprintf(w, "%7.1fs  %-*s %7d %10.1f %10.1f %8.2f %8.2f %8.2f %8.2f\n",
			now.Sub(start).Seconds(), width, n, errs, float64(count), cumRate, ms(p50), ms(p95), ms(p99), ms(pmax))
	}
}

// ms converts a duration to float milliseconds for printing.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
