package kv

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/pflag"

	"github.com/meridiandb/meridian/workload"
	"github.com/meridiandb/meridian/workload/internal/loader"
)

// loadChunk is how many rows one statement of the initial load inserts.
const loadChunk = 1000

// kvWorkload is the kv workload, configured by its flags.
type kvWorkload struct {
	flags        *pflag.FlagSet
	readPercent  int
	distribution string
	skew         float64
	batch        int
	sequential   bool
	keys         int64
	valueBytes   int

	zipf *zipf
	// next is the next key of sequential writes, shared by the workers so that writes go to
	// increasing keys across all of them.
	next atomic.Int64
}

// New returns the kv workload with its default options.
func New() workload.Workload {
	w := &kvWorkload{flags: pflag.NewFlagSet("kv", pflag.ContinueOnError)}
	f := w.flags
	f.IntVar(&w.readPercent, "read-percent", 95, "percentage of ops that read (0-100); the others write")
	f.StringVar(&w.distribution, "distribution", "uniform", "how keys are drawn: uniform or zipfian")
	f.Float64Var(&w.skew, "skew", 0.99, "skew of the zipfian distribution, in (0, 1): higher is more skewed")
	f.IntVar(&w.batch, "batch", 1, "keys per statement: reads use k IN ($1, ...), writes a multi-row upsert")
	f.BoolVar(&w.sequential, "sequential", false, "write to increasing keys (wrapping around the key space) instead of drawn ones")
	f.Int64Var(&w.keys, "keys", 100_000, "size of the key space, all loaded by init")
	f.IntVar(&w.valueBytes, "value-bytes", 64, "size of each value in bytes")
	return w
}

// Name implements workload.Workload.
func (w *kvWorkload) Name() string { return "kv" }

// Description implements workload.Workload.
func (w *kvWorkload) Description() string {
	return "point reads and upserts of a key-value table, uniform or zipfian keys"
}

// Flags implements workload.Workload.
func (w *kvWorkload) Flags() *pflag.FlagSet { return w.flags }

// Workers implements workload.Workload.
func (w *kvWorkload) Workers(bool) int { return 8 }

// Validate implements workload.Workload.
func (w *kvWorkload) Validate() error {
	switch {
	case w.readPercent < 0 || w.readPercent > 100:
		return fmt.Errorf("--read-percent must be 0-100, not %d", w.readPercent)
	case w.batch < 1:
		return fmt.Errorf("--batch must be at least 1, not %d", w.batch)
	case w.keys < 1:
		return fmt.Errorf("--keys must be at least 1, not %d", w.keys)
	case w.valueBytes < 0:
		return fmt.Errorf("--value-bytes must not be negative")
	}
	switch w.distribution {
	case "uniform":
	case "zipfian":
		z, err := newZipf(w.keys, w.skew)
		if err != nil {
			return err
		}
		w.zipf = z
	default:
		return fmt.Errorf("--distribution must be uniform or zipfian, not %q", w.distribution)
	}
	return nil
}

// Init implements workload.Workload: it creates the table and loads every key of the key
// space with a random value.
func (w *kvWorkload) Init(ctx context.Context, pool *pgxpool.Pool, opts workload.InitOptions, progress func(done, total int64)) error {
	if opts.Drop {
		if _, err := pool.Exec(ctx, "DROP TABLE IF EXISTS kv"); err != nil {
			return fmt.Errorf("dropping kv: %w", err)
		}
	}
	if _, err := pool.Exec(ctx, "CREATE TABLE IF NOT EXISTS kv (k BIGINT PRIMARY KEY, v BYTEA NOT NULL)"); err != nil {
		return fmt.Errorf("creating kv: %w", err)
	}
	return loader.Load(ctx, pool, loader.Table{
		Name: "kv", Key: "k", Rows: w.keys, Chunk: loadChunk,
		Insert: func(ctx context.Context, pool *pgxpool.Pool, lo, hi int64) error {
			rng := rand.New(rand.NewPCG(uint64(lo), 0))
			keys := make([]int64, 0, hi-lo)
			for k := lo; k < hi; k++ {
				keys = append(keys, k)
			}
			_, err := pool.Exec(ctx, insertSQL(len(keys), "DO NOTHING"), w.args(keys, rng)...)
			return err
		},
	}, opts.Concurrency, progress)
}

// Check implements workload.Workload: the table holds exactly the key space's keys, as init
// loads them and writes only overwrite them.
func (w *kvWorkload) Check(ctx context.Context, pool *pgxpool.Pool) error {
	var n, lo, hi int64
	err := pool.QueryRow(ctx, "SELECT count(*), COALESCE(min(k), 0), COALESCE(max(k), 0) FROM kv").Scan(&n, &lo, &hi)
	if err != nil {
		return fmt.Errorf("counting kv: %w", err)
	}
	if n != w.keys || lo != 0 || hi != w.keys-1 {
		return fmt.Errorf("kv holds %d keys from %d to %d, want %d from 0 to %d (was init run with these --keys?): %w",
			n, lo, hi, w.keys, w.keys-1, workload.ErrInvariant)
	}
	return nil
}

// Report implements workload.Workload.
func (w *kvWorkload) Report(*workload.Result) []string { return nil }

// Worker implements workload.Workload.
func (w *kvWorkload) Worker(_ int, seed int64) workload.Worker {
	return &worker{kv: w, rng: rand.New(rand.NewPCG(uint64(seed), 0)), upserts: map[int]string{}}
}

// worker is one worker's state.
type worker struct {
	kv  *kvWorkload
	rng *rand.Rand
	// read is the read statement; upserts caches the upsert statement by its number of rows.
	read    string
	upserts map[int]string
}

// readSQL returns the statement that reads a batch of keys. It lists them, k IN ($1, $2, ...),
// rather than passing an array, k = ANY($1): Meridian plans a point lookup for a list but scans
// the table for an array parameter.
func (wk *worker) readSQL() string {
	if wk.read == "" {
		var b strings.Builder
		b.WriteString("SELECT k, v FROM kv WHERE k IN (")
		for i := range wk.kv.batch {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "$%d", i+1)
		}
		b.WriteString(")")
		wk.read = b.String()
	}
	return wk.read
}

// Next implements workload.Worker.
func (wk *worker) Next() workload.Op {
	w := wk.kv
	if wk.rng.IntN(100) < w.readPercent {
		args := make([]any, w.batch)
		for i := range args {
			args[i] = wk.key()
		}
		stmt := wk.readSQL()
		return workload.Op{Name: "read", Exec: func(ctx context.Context, pool *pgxpool.Pool) error {
			rows, err := pool.Query(ctx, stmt, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
			}
			return rows.Err()
		}}
	}
	keys := make([]int64, w.batch)
	for i := range keys {
		if w.sequential {
			keys[i] = (w.next.Add(1) - 1) % w.keys
		} else {
			keys[i] = wk.key()
		}
	}
	// One statement may not upsert a key twice (PostgreSQL refuses), and writers that lock
	// keys in one order cannot deadlock each other.
	slices.Sort(keys)
	keys = slices.Compact(keys)
	stmt, ok := wk.upserts[len(keys)]
	if !ok {
		stmt = insertSQL(len(keys), "DO UPDATE SET v = excluded.v")
		wk.upserts[len(keys)] = stmt
	}
	args := w.args(keys, wk.rng)
	return workload.Op{Name: "write", Exec: func(ctx context.Context, pool *pgxpool.Pool) error {
		_, err := pool.Exec(ctx, stmt, args...)
		return err
	}}
}

// key draws a key from the workload's distribution.
func (wk *worker) key() int64 {
	if wk.kv.zipf != nil {
		return wk.kv.zipf.key(wk.rng)
	}
	return wk.rng.Int64N(wk.kv.keys)
}

// args returns the arguments of an insert of keys with random values.
func (w *kvWorkload) args(keys []int64, rng *rand.Rand) []any {
	args := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		v := make([]byte, w.valueBytes)
		for i := range v {
			v[i] = byte(rng.Uint32())
		}
		args = append(args, k, v)
	}
	return args
}

// insertSQL is an insert of n rows of kv that, on a key already there, does onConflict.
func insertSQL(n int, onConflict string) string {
	var b strings.Builder
	b.WriteString("INSERT INTO kv (k, v) VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "($%d, $%d)", 2*i+1, 2*i+2)
	}
	b.WriteString(" ON CONFLICT (k) ")
	b.WriteString(onConflict)
	return b.String()
}
