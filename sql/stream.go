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

// heldRows is the sink of a statement whose rows leave as they are produced: the first
// ones are held back (up to resultBufferBytes) so that an implicit transaction that must
// restart can still be retried invisibly, then every row is passed on as it comes.
type heldRows struct {
	// pass sends one row on; first, when set, runs before the first row leaves (the simple
	// protocol's RowDescription).
	pass  func(row []types.Datum) error
	first func() error

	cols      []resultColumn
	held      [][]types.Datum
	heldBytes int64
	sent      bool // rows (or their description) left: no retry now
}

func (h *heldRows) start(cols []resultColumn) { h.cols = cols }

func (h *heldRows) add(row []types.Datum) error {
	if h.sent {
		return h.pass(row)
	}
	h.held = append(h.held, row)
	h.heldBytes += rowSize(row)
	if h.heldBytes >= resultBufferBytes {
		return h.flush()
	}
	return nil
}

// flush sends the description (if due) and the rows held back.
func (h *heldRows) flush() error {
	if !h.sent && h.first != nil {
		if err := h.first(); err != nil {
			return err
		}
	}
	h.sent = true
	for _, row := range h.held {
		if err := h.pass(row); err != nil {
			return err
		}
	}
	h.held, h.heldBytes = nil, 0
	return nil
}

// retryable reports whether nothing has left yet, and forgets the rows held back for a
// retry.
func (h *heldRows) retryable() bool {
	if h == nil {
		return true
	}
	if h.sent {
		return false
	}
	h.held, h.heldBytes = nil, 0
	return true
}

// rowWriter streams a statement's rows to the client, encoding each as it comes.
type rowWriter struct {
	heldRows
	w wire.ResultWriter
}

// newRowWriter streams to w in formats; describe sends RowDescription first (simple protocol).
func newRowWriter(w wire.ResultWriter, formats []int16, describe bool, st *types.Settings) *rowWriter {
	rw := &rowWriter{w: w}
	rw.pass = func(row []types.Datum) error { return writeRow(w, row, rw.cols, formats, st) }
	if describe {
		rw.first = func() error { return w.Describe(wireColumns(rw.cols, formats)) }
	}
	return rw
}

// finish completes a statement whose rows streamed through rw.
func (rw *rowWriter) finish(res *result) error {
	if err := rw.flush(); err != nil {
		return err
	}
	return complete(rw.w, res)
}

// complete sends a finished statement's notices and its command tag.
func complete(w wire.ResultWriter, res *result) error {
	for _, n := range res.notices {
		if err := w.Notice("WARNING", n.Code, n.Message); err != nil {
			return err
		}
	}
	return w.Complete(res.tag)
}

// discardRows counts a query's rows and drops them, for EXPLAIN ANALYZE.
type discardRows struct{ n int64 }

func (d *discardRows) start([]resultColumn)        {}
func (d *discardRows) add(row []types.Datum) error { d.n++; return nil }
