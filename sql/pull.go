package sql

import (
	"context"
	"errors"
	"iter"
	"sync/atomic"
	"time"

	"github.com/meridiandb/meridian/sql/types"
)

// errQueryClosed ends a pulled query that its owner closed before its last row.
var errQueryClosed = errors.New("query closed before its end")

// pulledQuery is a statement run as a coroutine that hands out its rows on demand: a portal
// executed with a row limit, a cursor and COPY (query) TO take rows a batch at a time, and
// between batches the statement waits mid-plan, holding only the rows in flight (and at
// most resultBufferBytes held back for a retry) instead of the whole result.
//
// The statement runs in its transaction as any other does; because a coroutine runs only
// while its owner waits in take, the session's other statements never run beside it.
// statement_timeout applies to each take, as PostgreSQL applies it to each Execute.
type pulledQuery struct {
	next    func() ([]types.Datum, bool)
	stop    func()
	cancel  context.CancelFunc
	timeout time.Duration

	sink       *heldRows
	pending    []types.Datum // a row pulled to learn that the statement had not ended
	hasPending bool
	timedOut   atomic.Bool

	// res and err are the statement's outcome once next has reported its end.
	res *result
	err error
}

// pull starts p as a pulledQuery. Nothing runs until the first take. The statement does
// not depend on ctx staying open: it lives until it ends or is closed, and each take
// passes its own context's cancellation on.
func (s *Session) pull(ctx context.Context, p *prepared, params []types.Datum) *pulledQuery {
	qctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	q := &pulledQuery{cancel: cancel, timeout: s.durationVar("statement_timeout")}
	var yield func([]types.Datum) bool
	q.sink = &heldRows{pass: func(row []types.Datum) error {
		if !yield(row) {
			return errQueryClosed
		}
		return nil
	}}
	q.next, q.stop = iter.Pull(func(y func([]types.Datum) bool) {
		yield = y
		res, err := s.executeStmt(qctx, p, params, q.sink)
		if err == nil {
			err = q.sink.flush()
		}
		if err == nil && !res.streamed {
			// A statement that is not a plain query (a mutation's RETURNING, SHOW)
			// produced its rows whole; they are handed out the same way.
			q.sink.cols = res.cols
			for _, row := range res.rows {
				if err = q.sink.pass(row); err != nil {
					break
				}
			}
			res.rows = nil
		}
		q.res, q.err = res, err
	})
	return q
}

// take hands up to n rows (all when n < 0) to f, then pulls one more to learn whether the
// statement has ended; done reports that it has, with q.res its result. An error ends the
// statement (a retryable one has been retried where nothing had yet left).
func (q *pulledQuery) take(ctx context.Context, n int, f func(row []types.Datum) error) (done bool, err error) {
	stopWatching := context.AfterFunc(ctx, q.cancel)
	defer stopWatching()
	if q.timeout > 0 {
		timer := time.AfterFunc(q.timeout, func() {
			q.timedOut.Store(true)
			q.cancel()
		})
		defer timer.Stop()
	}
	for i := 0; ; i++ {
		row, ok := q.pending, q.hasPending
		q.pending, q.hasPending = nil, false
		if !ok {
			if row, ok = q.next(); !ok {
				return true, q.outcome()
			}
		}
		if n >= 0 && i == n {
			q.pending, q.hasPending = row, true
			return false, nil
		}
		if err := f(row); err != nil {
			return false, err
		}
	}
}

// outcome is the error the statement ended with, nil when it succeeded.
func (q *pulledQuery) outcome() error {
	if q.err != nil && q.timedOut.Load() {
		return errStatementTimeout
	}
	return q.err
}

// columns are the statement's result columns, known once the first take has returned.
func (q *pulledQuery) columns() []resultColumn { return q.sink.cols }

// close ends the statement where it stands (an implicit transaction rolls back) and
// releases it.
func (q *pulledQuery) close() {
	q.stop()
	q.cancel()
}
