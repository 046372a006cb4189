package sql

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/meridiandb/meridian/ranges/keys"
	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/pgdialect"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/privilege"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// tableStats are what ANALYZE learned about a table: the planner's cost model estimates row
// counts from them.
type tableStats struct {
	RowCount int64
	// Columns are by column ordinal at the time of collection, matched by ID.
	Columns     []columnStats
	CollectedAt time.Time
}

type columnStats struct {
	ID       uint32
	Distinct int64
	Nulls    int64
}

// column returns the statistics of the column with id, nil if none were collected.
func (ts *tableStats) column(id uint32) *columnStats {
	if ts == nil {
		return nil
	}
	for i := range ts.Columns {
		if ts.Columns[i].ID == id {
			return &ts.Columns[i]
		}
	}
	return nil
}

// statsCache keeps each table's statistics on a node for statsTTL: statistics are advisory,
// so reading them on every plan is not worth a request.
type statsCache struct {
	mu      sync.Mutex
	entries map[uint32]statsEntry
}

type statsEntry struct {
	stats   *tableStats // nil: the table has none
	fetched time.Time
}

const statsTTL = 30 * time.Second

// tableStats returns tbl's statistics, nil if it was never analyzed. They are read outside
// the statement's transaction, so that planning never conflicts with an ANALYZE.
func (s *Session) tableStats(ctx context.Context, tbl *catalog.Table) *tableStats {
	c := &s.srv.stats
	c.mu.Lock()
	e, ok := c.entries[tbl.ID]
	c.mu.Unlock()
	if ok && time.Since(e.fetched) < statsTTL {
		return e.stats
	}
	var st *tableStats
	t := s.srv.db.NewTxn()
	var b txn.Batch
	b.Get(keys.TableStatsKey(tbl.ID))
	if err := t.Run(ctx, &b); err == nil {
		if rows := b.Results[0].Rows; len(rows) == 1 {
			st = &tableStats{}
			if json.Unmarshal(rows[0].Value, st) != nil {
				st = nil
			}
		}
	}
	_ = t.Commit(ctx)
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[uint32]statsEntry{}
	}
	c.entries[tbl.ID] = statsEntry{stats: st, fetched: time.Now()}
	c.mu.Unlock()
	return st
}

// forgetAll drops the cached statistics after ANALYZE replaced some.
func (c *statsCache) forgetAll() {
	c.mu.Lock()
	c.entries = nil
	c.mu.Unlock()
}

// maintenancePlan runs VACUUM (nothing to do) and ANALYZE.
type maintenancePlan struct {
	noSchemaChange
	m *pgdialect.Maintenance
}

func (s *Session) planMaintenance(ctx context.Context, t *txn.Txn, m *pgdialect.Maintenance) (plan, error) {
	if m.Verb == "VACUUM" && s.txn != nil {
		return nil, pgerror.New(pgerror.CodeActiveSQLTransaction, "VACUUM cannot run inside a transaction block")
	}
	return &maintenancePlan{m: m}, nil
}

func (p *maintenancePlan) columns() []resultColumn { return nil }

func (p *maintenancePlan) run(ctx context.Context, x *execCtx) (*result, error) {
	s := x.session
	if p.m.Analyze {
		var tables []*catalog.Table
		if len(p.m.Tables) == 0 {
			db, err := s.currentDatabase(ctx, x.txn)
			if err != nil {
				return nil, err
			}
			names, err := s.srv.cat.ListTables(ctx, x.txn, db.ID)
			if err != nil {
				return nil, err
			}
			for _, name := range names {
				tbl, err := s.srv.cat.LookupTable(ctx, x.txn, db.ID, name, s.cacheVersion())
				if err != nil {
					return nil, err
				}
				tables = append(tables, tbl)
			}
		} else {
			for _, name := range p.m.Tables {
				tbl, err := s.resolveTable(ctx, x.txn, tableNameOf(name))
				if err != nil {
					return nil, err
				}
				if err := s.checkTable(ctx, x.txn, tbl, privilege.Select); err != nil {
					return nil, err
				}
				tables = append(tables, tbl)
			}
		}
		for _, tbl := range tables {
			if err := analyzeTable(ctx, x, tbl); err != nil {
				return nil, fmt.Errorf("analyzing %s: %w", tbl.Name, err)
			}
		}
	}
	if err := x.finishRead(ctx); err != nil {
		return nil, err
	}
	if p.m.Analyze {
		// The new statistics are committed: plans on this node use them at once.
		s.srv.stats.forgetAll()
	}
	return &result{tag: p.m.Verb}, nil
}

// analyzeTable reads every row of tbl and stores its row count and, per column, the number
// of NULLs and an estimate of the number of distinct values.
func analyzeTable(ctx context.Context, x *execCtx, tbl *catalog.Table) error {
	sketches := make([]*distinctSketch, len(tbl.Columns))
	nulls := make([]int64, len(tbl.Columns))
	for i := range sketches {
		sketches[i] = newDistinctSketch()
	}
	var count int64
	var key []byte
	scan := &tableScan{table: tbl}
	err := scan.run(ctx, x.txn, x.ec, 0, func(row []types.Datum) (bool, error) {
		count++
		for i, v := range row {
			if v == nil {
				nulls[i]++
				continue
			}
			key = types.AppendGroupKey(key[:0], tbl.Columns[i].Type, v)
			sketches[i].add(key)
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	st := tableStats{RowCount: count, CollectedAt: time.Now().UTC()}
	for i, col := range tbl.Columns {
		st.Columns = append(st.Columns, columnStats{ID: col.ID, Distinct: sketches[i].estimate(), Nulls: nulls[i]})
	}
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	var b txn.Batch
	b.Put(keys.TableStatsKey(tbl.ID), data)
	return x.txn.Run(ctx, &b)
}

// distinctSketch estimates how many distinct values it was given in bounded memory: it keeps
// the k smallest distinct hashes, and with hashes spread evenly over [0, 2^64) the k-th
// smallest lands near k/n of the way (the "k minimum values" estimator). Below k distinct
// values the count is exact.
type distinctSketch struct {
	seed   maphash.Seed
	hashes []uint64 // sorted, distinct, at most sketchSize
}

const sketchSize = 1024

func newDistinctSketch() *distinctSketch { return &distinctSketch{seed: sketchSeed} }

// sketchSeed is shared so that sketches are comparable within a process.
var sketchSeed = maphash.MakeSeed()

func (d *distinctSketch) add(v []byte) {
	h := maphash.Bytes(d.seed, v)
	if len(d.hashes) == sketchSize && h >= d.hashes[len(d.hashes)-1] {
		return
	}
	i, found := slices.BinarySearch(d.hashes, h)
	if found {
		return
	}
	d.hashes = slices.Insert(d.hashes, i, h)
	if len(d.hashes) > sketchSize {
		d.hashes = d.hashes[:sketchSize]
	}
}

func (d *distinctSketch) estimate() int64 {
	if len(d.hashes) < sketchSize {
		return int64(len(d.hashes))
	}
	kth := float64(d.hashes[sketchSize-1]) / math.Pow(2, 64)
	return int64(float64(sketchSize-1) / kth)
}

// tableNameOf makes a parser table name from the front end's [schema,] name.
func tableNameOf(name []string) *ast.TableName {
	if len(name) == 2 {
		return &ast.TableName{Schema: ast.NewCIStr(name[0]), Name: ast.NewCIStr(name[1])}
	}
	return &ast.TableName{Name: ast.NewCIStr(name[0])}
}
