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

// metricFamily is a metric's description and type.
type metricFamily struct {
	desc *prometheus.Desc
	kind prometheus.ValueType
}

func family(name, help string, kind prometheus.ValueType, labels ...string) metricFamily {
	return metricFamily{prometheus.NewDesc("meridian_"+name, help, labels, nil), kind}
}

var (
	mSQLConnections = family("sql_connections", "Live SQL client connections.", prometheus.GaugeValue)
	mSQLStatements  = family("sql_statements_total", "Statements clients ran (Query messages and portal Executes).", prometheus.CounterValue)
	mSQLErrors      = family("sql_errors_total", "Errors sent to SQL clients, by SQLSTATE.", prometheus.CounterValue, "sqlstate")

	mTxnCommits    = family("txn_commits_total", "Transactions committed through this node.", prometheus.CounterValue)
	mTxnRollbacks  = family("txn_rollbacks_total", "Transactions rolled back through this node after they wrote (their writes undone).", prometheus.CounterValue)
	mTxnRestarts   = family("txn_restarts_total", "Transaction attempts that failed with a retryable error (40001).", prometheus.CounterValue)
	mResolveBatch  = family("txn_intent_resolution_batches_total", "Batches of finished transactions' intent resolutions sent to ranges.", prometheus.CounterValue)
	mResolveCalls  = family("txn_intent_resolutions_total", "Transactions' intent resolutions on a range (one per transaction and range), carried by those batches.", prometheus.CounterValue)
	mReplicas      = family("ranges_replicas", "Ranges this node holds a replica of.", prometheus.GaugeValue)
	mLeaseholders  = family("ranges_leaseholders", "Ranges this node holds the lease of.", prometheus.GaugeValue)
	mProposals     = family("raft_proposals_total", "Commands this node's leaseholders proposed to Raft.", prometheus.CounterValue)
	mApplied       = family("raft_applied_commands_total", "Raft commands this node's replicas applied.", prometheus.CounterValue)
	mAppliedBytes  = family("raft_applied_bytes_total", "Bytes of the Raft commands this node's replicas applied.", prometheus.CounterValue)
	mSnapshotsSent = family("raft_snapshots_sent_total", "Copies of a range's state made to send to a replica too far behind for the log.", prometheus.CounterValue)
	mLockPushes    = family("kv_lock_pushes_total", "Pushes of a lock's holder by requests waiting for it.", prometheus.CounterValue)

	mCompactions     = family("storage_compactions_total", "Pebble compactions.", prometheus.CounterValue)
	mCompactedBytes  = family("storage_compacted_bytes_total", "Bytes Pebble's compactions wrote.", prometheus.CounterValue)
	mFlushes         = family("storage_flushes_total", "Pebble memtable flushes.", prometheus.CounterValue)
	mFlushedBytes    = family("storage_flushed_bytes_total", "Bytes Pebble's flushes wrote.", prometheus.CounterValue)
	mWALBytes        = family("storage_wal_bytes_written_total", "Bytes written to Pebble's write-ahead log.", prometheus.CounterValue)
	mCacheHits       = family("storage_block_cache_hits_total", "Block cache hits.", prometheus.CounterValue)
	mCacheMisses     = family("storage_block_cache_misses_total", "Block cache misses.", prometheus.CounterValue)
	mCacheBytes      = family("storage_block_cache_bytes", "Bytes held by the block cache.", prometheus.GaugeValue)
	mMemtableBytes   = family("storage_memtable_bytes", "Bytes allocated by memtables.", prometheus.GaugeValue)
	mL0Files         = family("storage_l0_files", "Sstables in level 0 (many mean compactions are behind).", prometheus.GaugeValue)
	mReadAmp         = family("storage_read_amplification", "Sublevels of L0 plus non-empty lower levels: the files a point read may consult.", prometheus.GaugeValue)
	mDiskUsage       = family("storage_disk_usage_bytes", "Bytes of disk the store uses.", prometheus.GaugeValue)
	mCompactionDebtB = family("storage_compaction_debt_bytes", "Estimated bytes to compact for the LSM to be in shape.", prometheus.GaugeValue)
)

func (c nodeCollector) Collect(ch chan<- prometheus.Metric) {
	emit := func(f metricFamily, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(f.desc, f.kind, v, labels...)
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

	replicas, leases := n.replicaCounts()
	emit(mReplicas, float64(replicas))
	emit(mLeaseholders, float64(leases))
	ss := n.store.Stats()
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
