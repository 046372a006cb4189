// Package loader loads a table whose rows are numbered by an integer key, in chunks of
// consecutive keys loaded by several connections at once, skipping the chunks a previous,
// interrupted load finished, so that `workload init` resumes where it stopped.
package loader

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/meridiandb/meridian/workload"
)

// A Table says how to load a table of Rows rows keyed 0..Rows-1 by the integer column Key.
type Table struct {
	Name, Key   string
	Rows, Chunk int64
	// Insert inserts the rows of keys [lo, hi) in one statement that skips keys already
	// there (ON CONFLICT DO NOTHING), so a chunk is loaded entirely or not at all.
	Insert func(ctx context.Context, pool *pgxpool.Pool, lo, hi int64) error
}

// Load loads t with up to concurrency chunks at once, calling progress with the rows loaded
// so far. It first finds the chunks that are already complete, in one query, and reports
// them as done before it loads anything, so that a resumed load's rate counts only new rows.
func Load(ctx context.Context, pool *pgxpool.Pool, t Table, concurrency int, progress func(done, total int64)) error {
	full, err := fullChunks(ctx, pool, t)
	if err != nil {
		return err
	}
	var done atomic.Int64
	for lo := range full {
		done.Add(min(lo+t.Chunk, t.Rows) - lo)
	}
	progress(done.Load(), t.Rows)

	chunks := make(chan [2]int64)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for range max(concurrency, 1) {
		wg.Go(func() {
			for c := range chunks {
				if err := loadChunk(ctx, pool, t, c[0], c[1]); err != nil {
					cancel(err)
					return
				}
				progress(done.Add(c[1]-c[0]), t.Rows)
			}
		})
	}
feed:
	for lo := int64(0); lo < t.Rows; lo += t.Chunk {
		if full[lo] {
			continue
		}
		select {
		case chunks <- [2]int64{lo, min(lo+t.Chunk, t.Rows)}:
		case <-ctx.Done():
			break feed
		}
	}
	close(chunks)
	wg.Wait()
	return context.Cause(ctx)
}

// fullChunks returns the first keys of the chunks whose rows are all there.
func fullChunks(ctx context.Context, pool *pgxpool.Pool, t Table) (map[int64]bool, error) {
	// k - k % chunk is the chunk's first key: integer arithmetic in PostgreSQL and Meridian
	// alike, where k / chunk may not be.
	q := fmt.Sprintf("SELECT %[1]s - %[1]s %% %[3]d, count(*) FROM %[2]s WHERE %[1]s >= 0 AND %[1]s < %[4]d GROUP BY %[1]s - %[1]s %% %[3]d",
		t.Key, t.Name, t.Chunk, t.Rows)
	rows, err := pool.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("counting %s's rows: %w", t.Name, err)
	}
	defer rows.Close()
	full := map[int64]bool{}
	for rows.Next() {
		var lo, n int64
		if err := rows.Scan(&lo, &n); err != nil {
			return nil, fmt.Errorf("counting %s's rows: %w", t.Name, err)
		}
		if n == min(lo+t.Chunk, t.Rows)-lo {
			full[lo] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting %s's rows: %w", t.Name, err)
	}
	return full, nil
}

// loadChunk loads keys [lo, hi), retrying it when the database aborts it for a conflict: the
// chunks of a load do not overlap, but a database may still abort one (Meridian with a range
// split under way, say).
func loadChunk(ctx context.Context, pool *pgxpool.Pool, t Table, lo, hi int64) error {
	var err error
	for try := 0; try < 10; try++ {
		if err = t.Insert(ctx, pool, lo, hi); err == nil || !workload.Retryable(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("loading %s rows %d-%d: %w", t.Name, lo, hi-1, err)
	}
	return nil
}
