package sql

import (
	"context"
	"fmt"

	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/wire"
)

// rowSink receives a query's rows as they are produced.
type rowSink interface {
	start(cols []resultColumn)
	add(row []types.Datum) error
}

// run streams the query's rows to the execution's sink when it has one (the client), else
// collects them into the result.
func (p *selectPlan) run(ctx context.Context, x *execCtx) (*result, error) {
	if p.lock != nil && p.lock.nowait {
		// A lock NOWAIT could not take fails like one waited for too long: the 55P03
		// names the relation and the row (lockNotAvailableError).
		x.txn.SetLockTimeout(nowaitLockTimeout)
		defer x.txn.SetLockTimeout(x.session.durationVar("lock_timeout"))
	}
	res := &result{cols: p.cols}
	var n int64
	var err error
	if x.sink != nil {
		x.sink.start(p.cols)
		res.streamed = true
		err = runNode(ctx, x, p.node, func(row []types.Datum) (bool, error) {
			n++
			return true, x.sink.add(row)
		})
	} else {
		res.rows, err = p.rows(ctx, x)
		n = int64(len(res.rows))
	}
	if err != nil {
		return nil, err
	}
	if err := x.finishRead(ctx); err != nil {
		return nil, err
	}
	res.tag = fmt.Sprintf("SELECT %d", n)
	return res, nil
}

// rows runs the query to the end and returns its rows, held within the memory budget.
func (p *selectPlan) rows(ctx context.Context, x *execCtx) ([][]types.Datum, error) {
	var rows [][]types.Datum
	err := runNode(ctx, x, p.node, func(row []types.Datum) (bool, error) {
		if err := x.mem.grow(rowSize(row)); err != nil {
			return false, err
		}
		rows = append(rows, row)
		return true, nil
	})
	return rows, err
}

// resultBufferBytes is how much of a query's output is held back before the first rows go
// to the client: until then an implicit transaction that must restart can still be retried
// on the server, invisibly. Larger than CockroachDB's 16 KiB, so that the results of
// ordinary queries (a few thousand rows) never see a 40001 that a retry could hide.
const resultBufferBytes = 256 << 10

// rowWriter streams a statement's rows to the client, encoding each as it comes.
type rowWriter struct {
	w        wire.ResultWriter
	formats  []int16
	describe bool // send RowDescription first (simple protocol)
	settings *types.Settings

	cols      []resultColumn
	held      [][]types.Datum
	heldBytes int64
	sent      bool // rows (or their description) reached the client: no retry now
}

func (rw *rowWriter) start(cols []resultColumn) { rw.cols = cols }

func (rw *rowWriter) add(row []types.Datum) error {
	if rw.sent {
		return rw.write(row)
	}
	rw.held = append(rw.held, row)
	rw.heldBytes += rowSize(row)
	if rw.heldBytes >= resultBufferBytes {
		return rw.flush()
	}
	return nil
}

// flush sends the description (if due) and the rows held back.
func (rw *rowWriter) flush() error {
	if !rw.sent && rw.describe {
		if err := rw.w.Describe(wireColumns(rw.cols, rw.formats)); err != nil {
			return err
		}
	}
	rw.sent = true
	for _, row := range rw.held {
		if err := rw.write(row); err != nil {
			return err
		}
	}
	rw.held, rw.heldBytes = nil, 0
	return nil
}

func (rw *rowWriter) write(row []types.Datum) error {
	vals, err := encodeRow(row, rw.cols, rw.formats, rw.settings)
	if err != nil {
		return err
	}
	return rw.w.Row(vals)
}

// retryable reports whether nothing has reached the client yet, and forgets the rows held
// back for a retry.
func (rw *rowWriter) retryable() bool {
	if rw == nil {
		return true
	}
	if rw.sent {
		return false
	}
	rw.held, rw.heldBytes = nil, 0
	return true
}

// finish completes a statement whose rows streamed through rw.
func (rw *rowWriter) finish(res *result) error {
	if err := rw.flush(); err != nil {
		return err
	}
	for _, n := range res.notices {
		if err := rw.w.Notice("WARNING", n.Code, n.Message); err != nil {
			return err
		}
	}
	return rw.w.Complete(res.tag)
}

// discardRows counts a query's rows and drops them, for EXPLAIN ANALYZE.
type discardRows struct{ n int64 }

func (d *discardRows) start([]resultColumn)        {}
func (d *discardRows) add(row []types.Datum) error { d.n++; return nil }
