package workload

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Connect opens one pool per URL with a connection for each of the workers it serves (pool
// i%len(urls) serves worker i, as in Run) and, in the first pool, extra more (for periodic
// ops), and opens every connection now, so that no op's latency includes a connection's
// set-up. The caller closes the pools.
func Connect(ctx context.Context, urls []string, workers, extra int) ([]*pgxpool.Pool, error) {
	if len(urls) == 0 {
		return nil, fmt.Errorf("no database URL")
	}
	var pools []*pgxpool.Pool
	closeAll := func() {
		for _, p := range pools {
			p.Close()
		}
	}
	for i, u := range urls {
		cfg, err := pgxpool.ParseConfig(u)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("parsing %q: %w", u, err)
		}
		n := workers / len(urls)
		if i < workers%len(urls) {
			n++
		}
		if i == 0 {
			n += extra
		}
		n = max(n, 1)
		cfg.MaxConns = int32(n)
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("connecting to %s: %w", cfg.ConnConfig.Host, err)
		}
		pools = append(pools, pool)
		if err := warm(ctx, pool, n); err != nil {
			closeAll()
			return nil, fmt.Errorf("connecting to %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
		}
	}
	return pools, nil
}

// warm opens n connections of pool at once and returns them to it.
func warm(ctx context.Context, pool *pgxpool.Pool, n int) error {
	var held []*pgxpool.Conn
	defer func() {
		for _, c := range held {
			c.Release()
		}
	}()
	for range n {
		c, err := pool.Acquire(ctx)
		if err != nil {
			return err
		}
		held = append(held, c)
	}
	return nil
}
