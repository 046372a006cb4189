package server

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/meridiandb/meridian/sql"
	"github.com/meridiandb/meridian/txn"
)

// settingsInterval is how often a node reads the cluster settings.
const settingsInterval = 2 * time.Second

// clusterSettings is a node's copy of the settings changed by SET CLUSTER SETTING.
type clusterSettings struct {
	mu  sync.Mutex
	set map[string]string
}

// settingsLoop keeps the node's copy of the cluster settings current.
func (n *Node) settingsLoop(ctx context.Context) error {
	t := time.NewTicker(settingsInterval)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		var set map[string]string
		err := n.db.RunTxn(rctx, func(ctx context.Context, t *txn.Txn) error {
			var err error
			set, err = sql.ReadClusterSettings(ctx, t)
			return err
		})
		cancel()
		if err == nil {
			n.settings.mu.Lock()
			n.settings.set = set
			n.settings.mu.Unlock()
			parallel, err := strconv.ParseBool(set["kv.transaction.parallel_commits_enabled"])
			n.db.SetParallelCommits(err != nil || parallel)
			pipelining, err := strconv.ParseBool(set["kv.transaction.write_pipelining_enabled"])
			n.db.SetWritePipelining(err != nil || pipelining)
			buffering, err := strconv.ParseBool(set["kv.transaction.write_buffering_enabled"])
			n.db.SetWriteBuffering(err != nil || buffering)
		} else if ctx.Err() == nil {
			n.log.Warn("reading cluster settings", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (n *Node) setting(name string) (string, bool) {
	n.settings.mu.Lock()
	defer n.settings.mu.Unlock()
	v, ok := n.settings.set[name]
	return v, ok
}

// rangeMaxBytes is kv.range_max_bytes if set, else the node's configuration.
func (n *Node) rangeMaxBytes() int64 {
	if v, ok := n.setting("kv.range_max_bytes"); ok {
		if b, err := strconv.ParseInt(v, 10, 64); err == nil {
			return b
		}
	}
	return n.cfg.RangeMaxBytes
}

// timeUntilStoreDead is server.time_until_store_dead if set, else the node's configuration.
func (n *Node) timeUntilStoreDead() time.Duration {
	if v, ok := n.setting("server.time_until_store_dead"); ok {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return n.cfg.TimeUntilStoreDead
}
