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
// so far (those of finished chunks included).
func Load(ctx context.Context, pool *pgxpool.Pool, t Table, concurrency int, progress func(done, total int64)) error {
	chunks := make(chan [2]int64)
	var done atomic.Int64
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
	progress(0, t.Rows)
feed:
	for lo := int64(0); lo < t.Rows; lo += t.Chunk {
		select {
		case chunks <- [2]int64{lo, min(lo+t.Chunk, t.Rows)}:
		case <-ctx.Done():
			break feed
		}
	}
	close(chunks)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// loadChunk loads keys [lo, hi) unless they are all there.
func loadChunk(ctx context.Context, pool *pgxpool.Pool, t Table, lo, hi int64) error {
	var n int64
	q := fmt.Sprintf("SELECT count(*) FROM %s WHERE %s >= $1 AND %s < $2", t.Name, t.Key, t.Key)
	if err := pool.QueryRow(ctx, q, lo, hi).Scan(&n); err != nil {
		return fmt.Errorf("counting %s rows %d-%d: %w", t.Name, lo, hi-1, err)
	}
	if n == hi-lo {
		return nil
	}
	// A load's chunks do not overlap, but a database may still abort one for a conflict
	// (Meridian with a range split under way, say): try again a few times.
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
