package tpcc

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// LoadOptions configures Load.
type LoadOptions struct {
	Warehouses  int  // N, the number of warehouses
	Concurrency int  // parallel loader connections (default 4 if 0)
	BatchRows   int  // rows per loader transaction (default 500 if 0)
	Drop        bool // drop the TPC-C tables first, for a clean start
	// InsertRows loads with multi-row INSERTs instead of COPY FROM STDIN, for servers
	// without COPY; COPY loads about a quarter faster on Meridian.
	InsertRows bool
}

// Sizes of the load's units: item and stock are cut into parts so that several loaders can
// share one warehouse's 100,000 stock rows.
const (
	partItems = 10000
	numParts  = numItems / partItems
)

// RowsToLoad is the total number of rows Load writes for n warehouses (for progress/ETA).
// It is exact: the only random row count, each order's number of lines, is a pure function
// of the order's key (olCount).
func RowsToLoad(warehouses int) int64 {
	var lines int64
	for w := 1; w <= warehouses; w++ {
		for d := 1; d <= numDist; d++ {
			for o := 1; o <= numOrders; o++ {
				lines += int64(olCount(w, d, o))
			}
		}
	}
	perWarehouse := int64(1 + numDist + numItems + numDist*(numCust+numCust+numOrders+newOrders))
	return numItems + int64(warehouses)*perWarehouse + lines
}

// Load creates the schema (if missing) and loads the spec's initial population (4.3.3.1)
// in parallel batches. It is resumable: every batch commits together with a row of
// tpcc_load_state naming the range of the unit's items it holds, so a rerun after an
// interruption regenerates each unit from its fixed seed, skips the recorded ranges and
// finishes the rest. progress, if not nil, is called after each committed batch with the
// rows committed so far (counting rows skipped as already loaded) and the total; it may be
// called from several goroutines at once.
func Load(ctx context.Context, pool *pgxpool.Pool, opts LoadOptions, progress func(done, total int64)) error {
	if opts.Warehouses < 1 {
		return fmt.Errorf("tpcc load: %d warehouses, need at least 1", opts.Warehouses)
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.BatchRows <= 0 {
		opts.BatchRows = 500
	}
	if progress == nil {
		progress = func(int64, int64) {}
	}
	if err := createSchema(ctx, pool, opts.Drop); err != nil {
		return fmt.Errorf("tpcc load: %w", err)
	}
	done, err := loadedRanges(ctx, pool)
	if err != nil {
		return fmt.Errorf("tpcc load: %w", err)
	}
	l := &loader{
		pool:     pool,
		opts:     opts,
		done:     done,
		total:    RowsToLoad(opts.Warehouses),
		progress: progress,
		now:      time.Now().UTC().Truncate(time.Microsecond),
	}

	units := loadUnits(opts.Warehouses)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *unit)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for range opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				if err := l.loadUnit(ctx, u); err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		}()
	}
feed:
	for _, u := range units {
		select {
		case work <- u:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return fmt.Errorf("tpcc load: %w", firstErr)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("tpcc load: %w", err)
	}
	return nil
}

// span is a range [lo, hi) of a unit's items committed in one batch, holding nrows rows.
type span struct{ lo, hi, nrows int }

// loadedRanges reads tpcc_load_state: the committed spans of each unit, sorted.
func loadedRanges(ctx context.Context, pool *pgxpool.Pool) (map[string][]span, error) {
	rows, err := pool.Query(ctx, `SELECT unit, lo, hi, nrows FROM tpcc_load_state`)
	if err != nil {
		return nil, fmt.Errorf("read load state: %w", err)
	}
	done := map[string][]span{}
	var key string
	var s span
	_, err = pgx.ForEachRow(rows, []any{&key, &s.lo, &s.hi, &s.nrows}, func() error {
		done[key] = append(done[key], s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read load state: %w", err)
	}
	for _, spans := range done {
		sort.Slice(spans, func(i, j int) bool { return spans[i].lo < spans[j].lo })
	}
	return done, nil
}

// A unit is a piece of the initial population that one loader generates from its own seed:
// n items (an item, a stock row, a customer with its history row, an order with its lines,
// ...), generated in order and committed in batches of whole items.
type unit struct {
	key string
	n   int
	// start returns the generator of the unit's items, called for i = 0..n-1 in order.
	start func(g *gen, now time.Time) func(i int, b *batch)
}

// batch holds the rows of one loader transaction, per table.
type batch struct {
	tables []*tableRows
	rows   int
}

type tableRows struct {
	name string
	cols []string
	rows [][]any
}

// add appends a row to table name, whose columns are cols.
func (b *batch) add(name string, cols []string, row ...any) {
	for _, t := range b.tables {
		if t.name == name {
			t.rows = append(t.rows, row)
			b.rows++
			return
		}
	}
	b.tables = append(b.tables, &tableRows{name: name, cols: cols, rows: [][]any{row}})
	b.rows++
}

func (b *batch) reset() {
	b.tables = b.tables[:0]
	b.rows = 0
}

type loader struct {
	pool     *pgxpool.Pool
	opts     LoadOptions
	done     map[string][]span
	total    int64
	loaded   atomic.Int64
	progress func(done, total int64)
	now      time.Time
}

func (l *loader) advance(rows int) {
	l.progress(l.loaded.Add(int64(rows)), l.total)
}

// seedOf derives a unit's seed from its key, so a rerun regenerates the same rows.
func seedOf(key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	return mix64(h.Sum64())
}

// loadUnit generates unit u and commits the items not yet recorded in tpcc_load_state.
func (l *loader) loadUnit(ctx context.Context, u *unit) error {
	spans := l.done[u.key]
	covered := 0
	for _, s := range spans {
		covered += s.hi - s.lo
	}
	if covered == u.n {
		rows := 0
		for _, s := range spans {
			rows += s.nrows
		}
		l.advance(rows)
		return nil
	}
	next := u.start(newGen(seedOf(u.key)), l.now)
	var b, skipped batch
	lo := -1
	flush := func(hi int) error {
		if lo < 0 {
			return nil
		}
		if err := l.commit(ctx, u.key, lo, hi, &b); err != nil {
			return err
		}
		l.advance(b.rows)
		b.reset()
		lo = -1
		return nil
	}
	si := 0
	for i := 0; i < u.n; i++ {
		for si < len(spans) && spans[si].hi <= i {
			si++
		}
		if si < len(spans) && spans[si].lo <= i {
			// Already committed: generate it anyway, to keep the generator in step.
			if err := flush(i); err != nil {
				return err
			}
			next(i, &skipped)
			l.advance(skipped.rows)
			skipped.reset()
			continue
		}
		if lo < 0 {
			lo = i
		}
		next(i, &b)
		if b.rows >= l.opts.BatchRows {
			if err := flush(i + 1); err != nil {
				return err
			}
		}
	}
	return flush(u.n)
}

// errLoaded stops a batch whose state row is already there: it was committed before.
var errLoaded = errors.New("batch already loaded")

// maxParams is the most bind parameters one PostgreSQL statement may carry.
const maxParams = 65535

// commit writes batch b, items [lo, hi) of unit key, in one transaction, retrying
// serialization failures and deadlocks.
func (l *loader) commit(ctx context.Context, key string, lo, hi int, b *batch) error {
	write := func(tx pgx.Tx) error {
		// The state row goes first: if an earlier attempt did commit (its COMMIT's answer was
		// lost), the primary key stops this one at once.
		if _, err := tx.Exec(ctx, `INSERT INTO tpcc_load_state (unit, lo, hi, nrows) VALUES ($1, $2, $3, $4)`,
			key, lo, hi, b.rows); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "23505" {
				return errLoaded
			}
			return err
		}
		for _, t := range b.tables {
			if !l.opts.InsertRows {
				if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, t.cols, pgx.CopyFromRows(t.rows)); err != nil {
					return fmt.Errorf("copy %s: %w", t.name, err)
				}
				continue
			}
			per := maxParams / len(t.cols)
			for start := 0; start < len(t.rows); start += per {
				rows := t.rows[start:min(start+per, len(t.rows))]
				sql, args := insertSQL(t.name, t.cols, rows)
				if _, err := tx.Exec(ctx, sql, args...); err != nil {
					return fmt.Errorf("insert %s: %w", t.name, err)
				}
			}
		}
		return nil
	}
	err := retry(ctx, func() error { return pgx.BeginFunc(ctx, l.pool, write) })
	if errors.Is(err, errLoaded) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load %s [%d, %d): %w", key, lo, hi, err)
	}
	return nil
}

// insertSQL builds a multi-row INSERT of rows into table with parameters for every value.
func insertSQL(table string, cols []string, rows [][]any) (string, []any) {
	var sb strings.Builder
	args := make([]any, 0, len(rows)*len(cols))
	sb.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
	for i, row := range rows {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteByte('(')
		for j, v := range row {
			if j > 0 {
				sb.WriteString(", ")
			}
			args = append(args, v)
			sb.WriteByte('$')
			sb.WriteString(strconv.Itoa(len(args)))
		}
		sb.WriteByte(')')
	}
	return sb.String(), args
}

// retryable reports whether err is a serialization failure or a deadlock, after which the
// same transaction may simply be run again.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

// retry runs f until it succeeds, fails with an error that is not retryable, or has failed
// 50 times, backing off between attempts.
func retry(ctx context.Context, f func() error) error {
	backoff := 5 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil || !retryable(err) || attempt == 50 {
			return err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}
