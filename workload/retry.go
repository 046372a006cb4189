package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

const (
	// maxRetries bounds the attempts of one op, so that a livelocked op ends as an error
	// instead of holding its worker until the run ends.
	maxRetries = 100
	// The backoff doubles from baseBackoff up to maxBackoff; each wait is drawn from its
	// upper half, so that workers that conflicted once do not retry in lockstep.
	baseBackoff = time.Millisecond
	maxBackoff  = 200 * time.Millisecond
)

// Retryable reports whether err is a failure that the same transaction, run again, can
// succeed at: a serialization failure (SQLSTATE 40001) or a deadlock (40P01), which both
// Meridian and PostgreSQL return after rolling the transaction back.
func Retryable(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	return pgErr.Code == "40001" || pgErr.Code == "40P01"
}

// backoff returns how long to wait before retry number n (from 0).
func backoff(n int, rng *rand.Rand) time.Duration {
	d := maxBackoff
	if n < 20 {
		d = min(baseBackoff<<n, maxBackoff)
	}
	return d/2 + time.Duration(rng.Int64N(int64(d/2)+1))
}

// execWithRetry runs exec until it succeeds, fails with an error that is not retryable, or has
// been retried maxRetries times; it returns the errors it retried and the last error.
func execWithRetry(ctx context.Context, pool *pgxpool.Pool, exec func(context.Context, *pgxpool.Pool) error, rng *rand.Rand) ([]error, error) {
	var retried []error
	for retries := 0; ; retries++ {
		err := exec(ctx, pool)
		if err == nil || !Retryable(err) {
			return retried, err
		}
		retried = append(retried, err)
		if retries == maxRetries {
			return retried, fmt.Errorf("gave up after %d retries: %w", retries, err)
		}
		if err := sleep(ctx, backoff(retries, rng)); err != nil {
			return retried, err
		}
	}
}

// sleep waits for d or until ctx is done, whichever comes first.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Parts of a retry message that differ between occurrences of one cause: Meridian's short
// transaction IDs and the values of a conflict's key.
var (
	txnIDInMessage = regexp.MustCompile(`\s*\([0-9a-f]{8}\)`)
	keyInMessage   = regexp.MustCompile(`key (\([^)]*\))=\([^)]*\)`)
)

// retryCause is what groups retried errors in the report: the SQLSTATE and the message with
// transaction IDs and key values taken out, so that "which rows conflict, and how" counts
// once per table and kind of conflict.
func retryCause(err error) string {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err.Error()
	}
	msg := txnIDInMessage.ReplaceAllString(pgErr.Message, "")
	msg = keyInMessage.ReplaceAllString(msg, "key $1=(…)")
	return pgErr.Code + " " + msg
}
