package server

import (
	"net/http"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metricsHandler serves /metrics: the node's counters in Prometheus's text format (what its
// SQL sessions, transactions, replicas and storage engine did since it started) and the Go
// process's own (memory, GC, goroutines, CPU, open files). Each node has a registry of its
// own, so nodes sharing a process (tests) report their own counts.
func (n *Node) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		nodeCollector{n},
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// nodeCollector reads a node's counters when scraped. It describes no metrics up front (an
// unchecked collector): the SQLSTATE labels of its error counts are known only as errors
// happen.
type nodeCollector struct{ n *Node }

func (nodeCollector) Describe(chan<- *prometheus.Desc) {}

// metricFamily is a metric's name, help and type; with labels, one desc per family.
type metricFamily struct {
	name, help string
	kind       prometheus.ValueType
	labels     []string
}

func (f metricFamily) desc() *prometheus.Desc {
	return prometheus.NewDesc("meridian_"+f.name, f.help, f.labels, nil)
}

var (
	mSQLConnections = metricFamily{"sql_connections", "Live SQL client connections.", prometheus.GaugeValue, nil}
	mSQLStatements  = metricFamily{"sql_statements_total", "Statements clients ran (Query messages and portal Executes).", prometheus.CounterValue, nil}
	mSQLErrors      = metricFamily{"sql_errors_total", "Errors sent to SQL clients, by SQLSTATE.", prometheus.CounterValue, []string{"sqlstate"}}

	mTxnCommits    = metricFamily{"txn_commits_total", "Transactions committed through this node.", prometheus.CounterValue, nil}
	mTxnRollbacks  = metricFamily{"txn_rollbacks_total", "Transactions rolled back through this node after they wrote (their writes undone).", prometheus.CounterValue, nil}
	mTxnRestarts   = metricFamily{"txn_restarts_total", "Transaction attempts that failed with a retryable error (40001).", prometheus.CounterValue, nil}
	mResolveBatch  = metricFamily{"txn_intent_resolution_batches_total", "Batches of finished transactions' intent resolutions sent to ranges.", prometheus.CounterValue, nil}
	mResolveCalls  = metricFamily{"txn_intent_resolutions_total", "Transactions' intent resolutions on a range (one per transaction and range), carried by those batches.", prometheus.CounterValue, nil}
	mReplicas      = metricFamily{"ranges_replicas", "Ranges this node holds a replica of.", prometheus.GaugeValue, nil}
	mLeaseholders  = metricFamily{"ranges_leaseholders", "Ranges this node holds the lease of.", prometheus.GaugeValue, nil}
	mProposals     = metricFamily{"raft_proposals_total", "Commands this node's leaseholders proposed to Raft.", prometheus.CounterValue, nil}
	mApplied       = metricFamily{"raft_applied_commands_total", "Raft commands this node's replicas applied.", prometheus.CounterValue, nil}
	mAppliedBytes  = metricFamily{"raft_applied_bytes_total", "Bytes of the Raft commands this node's replicas applied.", prometheus.CounterValue, nil}
	mSnapshotsSent = metricFamily{"raft_snapshots_sent_total", "Copies of a range's state made to send to a replica too far behind for the log.", prometheus.CounterValue, nil}
	mLockPushes    = metricFamily{"kv_lock_pushes_total", "Pushes of a lock's holder by requests waiting for it.", prometheus.CounterValue, nil}

	mCompactions     = metricFamily{"storage_compactions_total", "Pebble compactions.", prometheus.CounterValue, nil}
	mCompactedBytes  = metricFamily{"storage_compacted_bytes_total", "Bytes Pebble's compactions wrote.", prometheus.CounterValue, nil}
	mFlushes         = metricFamily{"storage_flushes_total", "Pebble memtable flushes.", prometheus.CounterValue, nil}
	mFlushedBytes    = metricFamily{"storage_flushed_bytes_total", "Bytes Pebble's flushes wrote.", prometheus.CounterValue, nil}
	mWALBytes        = metricFamily{"storage_wal_bytes_written_total", "Bytes written to Pebble's write-ahead log.", prometheus.CounterValue, nil}
	mCacheHits       = metricFamily{"storage_block_cache_hits_total", "Block cache hits.", prometheus.CounterValue, nil}
	mCacheMisses     = metricFamily{"storage_block_cache_misses_total", "Block cache misses.", prometheus.CounterValue, nil}
	mCacheBytes      = metricFamily{"storage_block_cache_bytes", "Bytes held by the block cache.", prometheus.GaugeValue, nil}
	mMemtableBytes   = metricFamily{"storage_memtable_bytes", "Bytes allocated by memtables.", prometheus.GaugeValue, nil}
	mL0Files         = metricFamily{"storage_l0_files", "Sstables in level 0 (many mean compactions are behind).", prometheus.GaugeValue, nil}
	mReadAmp         = metricFamily{"storage_read_amplification", "Sublevels of L0 plus non-empty lower levels: the files a point read may consult.", prometheus.GaugeValue, nil}
	mDiskUsage       = metricFamily{"storage_disk_usage_bytes", "Bytes of disk the store uses.", prometheus.GaugeValue, nil}
	mCompactionDebtB = metricFamily{"storage_compaction_debt_bytes", "Estimated bytes to compact for the LSM to be in shape.", prometheus.GaugeValue, nil}
)

func (c nodeCollector) Collect(ch chan<- prometheus.Metric) {
	emit := func(f metricFamily, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(f.desc(), f.kind, v, labels...)
	}
	n := c.n
	ws := n.wire.Stats()
	emit(mSQLConnections, float64(ws.Connections))
	emit(mSQLStatements, float64(ws.Statements))
	codes := make([]string, 0, len(ws.Errors))
	for code := range ws.Errors {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	for _, code := range codes {
		emit(mSQLErrors, float64(ws.Errors[code]), code)
	}
	if !n.isReady() {
		return // no store or transactions yet
	}

	ts := n.db.Stats()
	emit(mTxnCommits, float64(ts.Commits))
	emit(mTxnRollbacks, float64(ts.Rollbacks))
	emit(mTxnRestarts, float64(ts.Restarts))
	emit(mResolveBatch, float64(ts.ResolveBatches))
	emit(mResolveCalls, float64(ts.ResolveCalls))

	ss := n.store.Stats()
	emit(mReplicas, float64(ss.Replicas))
	emit(mLeaseholders, float64(ss.Leaseholders))
	emit(mProposals, float64(ss.Proposals))
	emit(mApplied, float64(ss.Applied))
	emit(mAppliedBytes, float64(ss.AppliedBytes))
	emit(mSnapshotsSent, float64(ss.SnapshotsSent))
	emit(mLockPushes, float64(ss.LockPushes))

	em := n.store.EngineMetrics()
	var compacted, flushed uint64
	for _, l := range em.Levels {
		compacted += l.BytesCompacted
		flushed += l.BytesFlushed
	}
	emit(mCompactions, float64(em.Compact.Count))
	emit(mCompactedBytes, float64(compacted))
	emit(mFlushes, float64(em.Flush.Count))
	emit(mFlushedBytes, float64(flushed))
	emit(mWALBytes, float64(em.WAL.BytesWritten))
	emit(mCacheHits, float64(em.BlockCache.Hits))
	emit(mCacheMisses, float64(em.BlockCache.Misses))
	emit(mCacheBytes, float64(em.BlockCache.Size))
	emit(mMemtableBytes, float64(em.MemTable.Size))
	emit(mL0Files, float64(em.Levels[0].NumFiles))
	emit(mReadAmp, float64(em.ReadAmp()))
	emit(mDiskUsage, float64(em.DiskSpaceUsage()))
	emit(mCompactionDebtB, float64(em.Compact.EstimatedDebt))
}
