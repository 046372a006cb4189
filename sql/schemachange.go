package sql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/meridiandb/meridian/ranges/encoding"
	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/sql/types"
	"github.com/meridiandb/meridian/txn"
)

// Online index changes. Adding an index to a table that may have rows, outside an explicit
// transaction, is a sequence of transactions, each committed before the next begins:
//
//  1. add the index, DeleteOnly (a schema change: the schema version is bumped);
//  2. make it WriteOnly (another): from here on every write maintains it;
//  3. backfill: read the table in chunks of backfillChunkSize rows, each chunk in its own
//     transaction that writes the chunk's entries (checking uniqueness);
//  4. validate: in one transaction, count the rows and the entries;
//  5. make it Public (a schema change).
//
// Writes are never blocked: each step is short, and concurrent statements only restart
// (transparently, in implicit transactions) when a step's new schema version reaches them.
// Dropping an index goes the other way (Public → WriteOnly → DeleteOnly → removed from the
// descriptor) and then deletes its entries in chunks. A failed or cancelled build drops the
// index again. Why this is correct, and what a node that dies midway leaves behind, is in
// docs/decisions.md, "Secondary indexes and their online backfill".

// backfillChunkSize is how many rows one backfill transaction indexes.
const backfillChunkSize = 1000

// cleanupTimeout bounds the removal of an index whose build failed, which runs even when the
// statement was cancelled.
const cleanupTimeout = time.Minute

// indexBuildStage names the points of an online build at which testingIndexBuildHook runs.
type indexBuildStage int

const (
	stageWriteOnly    indexBuildStage = iota + 1 // the index just became WriteOnly
	stageChunkDone                               // a backfill chunk committed
	stageBackfillDone                            // the backfill finished, before validation
)

// indexBuildHook runs at a stage of an online build; an error stops the build there.
type indexBuildHook func(stage indexBuildStage, tableID, indexID uint32) error

// testingIndexBuildHook holds the hook tests install (export_test.go); nil otherwise.
// errAbandonBuild from it stops the build as a node that died would: without dropping the
// half-built index.
var testingIndexBuildHook atomic.Pointer[indexBuildHook]

var errAbandonBuild = errors.New("index build abandoned (testing)")

func runIndexBuildHook(stage indexBuildStage, tableID, indexID uint32) error {
	if h := testingIndexBuildHook.Load(); h != nil {
		return (*h)(stage, tableID, indexID)
	}
	return nil
}

// errIndexGone reports an index that another statement dropped (or replaced) while this one
// was building or dropping it.
func errIndexGone(id uint32) error {
	return pgerror.New(pgerror.CodeObjectInUse, "index %d was dropped or replaced by a concurrent schema change", id)
}

// schemaStep runs f in a transaction of its own, retried until it commits, and then drops
// this node's cached descriptors, so that the next statements see the change at once.
func (s *Session) schemaStep(ctx context.Context, f func(ctx context.Context, t *txn.Txn) error) error {
	err := s.srv.db.RunTxn(ctx, f)
	s.srv.cat.Invalidate()
	return err
}

// tableForChange reads the descriptor of table id in t, for changing it.
func (s *Session) tableForChange(ctx context.Context, t *txn.Txn, id uint32) (*catalog.Table, error) {
	tbl, err := s.srv.cat.TableByID(ctx, t, id)
	if err != nil {
		return nil, err
	}
	if tbl == nil {
		return nil, pgerror.New(pgerror.CodeUndefinedTable, "the table was dropped by a concurrent schema change")
	}
	return tbl, nil
}

// indexInState reads table tableID and its index indexID in t, which must be in state want.
func (s *Session) indexInState(ctx context.Context, t *txn.Txn, tableID, indexID uint32, want catalog.IndexState) (*catalog.Table, *catalog.Index, error) {
	tbl, err := s.tableForChange(ctx, t, tableID)
	if err != nil {
		return nil, nil, err
	}
	idx := tbl.IndexByID(indexID)
	if idx == nil || idx.State != want {
		return nil, nil, errIndexGone(indexID)
	}
	return tbl, idx, nil
}

// setIndexState moves an index from one state to the next, as a schema change.
func (s *Session) setIndexState(ctx context.Context, tableID, indexID uint32, from, to catalog.IndexState) error {
	return s.schemaStep(ctx, func(ctx context.Context, t *txn.Txn) error {
		tbl, idx, err := s.indexInState(ctx, t, tableID, indexID, from)
		if err != nil {
			return err
		}
		idx.State = to
		return s.srv.cat.WriteIndexChange(ctx, t, tbl, nil, nil)
	})
}

// addIndexOnline adds the index def declares to table tableID without blocking writes, and
// returns once it is public.
func (s *Session) addIndexOnline(ctx context.Context, tableID uint32, def indexDef, ifNotExists bool) ([]notice, error) {
	var idx catalog.Index
	for {
		var stale *catalog.Index
		err := s.schemaStep(ctx, func(ctx context.Context, t *txn.Txn) error {
			stale = nil
			tbl, err := s.tableForChange(ctx, t, tableID)
			if err != nil {
				return err
			}
			name, st, err := s.newIndexName(ctx, t, tbl, def, nil)
			if err != nil || st != nil {
				stale = st
				return err
			}
			if idx, err = buildIndex(tbl, def, name); err != nil {
				return err
			}
			idx.ID, idx.State = tbl.AllocateIndexID(), catalog.IndexDeleteOnly
			tbl.Indexes = append(tbl.Indexes, idx)
			return s.srv.cat.WriteIndexChange(ctx, t, tbl, []string{name}, nil)
		})
		if err != nil {
			if ifNotExists && pgerror.Code(err) == pgerror.CodeDuplicateTable {
				return []notice{{Code: pgerror.CodeDuplicateTable, Message: fmt.Sprintf("relation %q already exists, skipping", def.name)}}, nil
			}
			return nil, err
		}
		if stale == nil {
			break
		}
		// An earlier build of this index did not finish: its entries may be incomplete,
		// so it goes, and the build starts afresh.
		if err := s.dropIndexOnline(ctx, tableID, stale.ID); err != nil {
			return nil, err
		}
	}
	err := s.buildIndex(ctx, tableID, idx)
	if err == nil {
		return nil, nil
	}
	if errors.Is(err, errAbandonBuild) {
		return nil, err
	}
	// Drop the half-built index, even when the statement was cancelled.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if derr := s.dropIndexOnline(cctx, tableID, idx.ID); derr != nil {
		s.srv.log.Warn("could not drop the index of a failed build; DROP INDEX removes it", "index", idx.Name, "error", derr)
	}
	return nil, err
}

// buildIndex takes an index added DeleteOnly to public: steps 2 to 5 above.
func (s *Session) buildIndex(ctx context.Context, tableID uint32, idx catalog.Index) error {
	if err := s.setIndexState(ctx, tableID, idx.ID, catalog.IndexDeleteOnly, catalog.IndexWriteOnly); err != nil {
		return err
	}
	if err := runIndexBuildHook(stageWriteOnly, tableID, idx.ID); err != nil {
		return err
	}
	// TRUNCATE refuses a table with an index on its way in, so the table's key space stays
	// the one read here until the build ends.
	keyID, err := s.tableKeyID(ctx, tableID)
	if err != nil {
		return err
	}
	start, end := rowenc.IndexPrefix(keyID), encoding.PrefixEnd(rowenc.IndexPrefix(keyID))
	for start != nil {
		var next []byte
		err := s.srv.db.RunTxn(ctx, func(ctx context.Context, t *txn.Txn) error {
			// Reading the descriptor puts it in the chunk's read set: a concurrent drop of
			// the index or the table makes the chunk retry, and then stop.
			tbl, idx, err := s.indexInState(ctx, t, tableID, idx.ID, catalog.IndexWriteOnly)
			if err != nil {
				return err
			}
			next, err = backfillChunk(ctx, t, tbl, idx, start, end, backfillChunkSize)
			return err
		})
		if err != nil {
			return err
		}
		start = next
		if err := runIndexBuildHook(stageChunkDone, tableID, idx.ID); err != nil {
			return err
		}
	}
	if err := runIndexBuildHook(stageBackfillDone, tableID, idx.ID); err != nil {
		return err
	}
	if err := s.srv.db.RunTxn(ctx, func(ctx context.Context, t *txn.Txn) error {
		tbl, idx, err := s.indexInState(ctx, t, tableID, idx.ID, catalog.IndexWriteOnly)
		if err != nil {
			return err
		}
		return validateIndex(ctx, t, tbl, idx)
	}); err != nil {
		return err
	}
	return s.setIndexState(ctx, tableID, idx.ID, catalog.IndexWriteOnly, catalog.IndexPublic)
}

// backfillChunk writes, in t, the entries in idx of up to limit rows of tbl (0: all) from
// the primary index span [start, end), and returns where the next chunk starts (nil when the
// span is done). For a unique index it first reads the entries at the rows' keys: one there
// for another row (written by a concurrent statement or an earlier chunk) is a duplicate.
func backfillChunk(ctx context.Context, t *txn.Txn, tbl *catalog.Table, idx *catalog.Index, start, end []byte, limit int64) ([]byte, error) {
	b := &txn.Batch{}
	b.Scan(start, end, limit, false)
	if err := t.Run(ctx, b); err != nil {
		return nil, err
	}
	res := b.Results[0]
	rows := make([][]types.Datum, len(res.Rows))
	entries := make([]indexEntry, len(res.Rows))
	for i, kv := range res.Rows {
		rows[i] = make([]types.Datum, len(tbl.Columns))
		if err := rowenc.DecodeRow(tbl, kv.Key, kv.Value, rows[i]); err != nil {
			return nil, err
		}
		e, err := rowIndexEntry(tbl, idx, rows[i])
		if err != nil {
			return nil, err
		}
		entries[i] = e
	}
	skip := make([]bool, len(entries))
	if idx.Unique {
		gb := &txn.Batch{}
		var asked []int
		inChunk := map[string]int{}
		for i, e := range entries {
			if !e.conflicts {
				continue
			}
			if j, dup := inChunk[string(e.key)]; dup {
				return nil, duplicateIndexValue(tbl, idx, rows[j])
			}
			inChunk[string(e.key)] = i
			gb.Get(e.key)
			asked = append(asked, i)
		}
		if gb.Len() > 0 {
			if err := t.Run(ctx, gb); err != nil {
				return nil, err
			}
			scratch := make([]types.Datum, len(tbl.Columns))
			for k, r := range gb.Results {
				for _, kv := range r.Rows {
					i := asked[k]
					pk, err := entryPrimaryKey(tbl, idx, kv.Key, kv.Value, scratch)
					if err != nil {
						return nil, err
					}
					if string(pk) != string(res.Rows[i].Key) {
						return nil, duplicateIndexValue(tbl, idx, rows[i])
					}
					skip[i] = true // the row's writer put its entry already
				}
			}
		}
	}
	wb := &txn.Batch{}
	for i, e := range entries {
		if !skip[i] {
			wb.Put(e.key, e.value)
		}
	}
	if wb.Len() > 0 {
		if err := t.Run(ctx, wb); err != nil {
			return nil, err
		}
	}
	return res.ResumeKey, nil
}

// duplicateIndexValue is PostgreSQL's error for a unique index that cannot be built.
func duplicateIndexValue(tbl *catalog.Table, idx *catalog.Index, row []types.Datum) error {
	vals := make([]types.Datum, len(idx.ColumnIDs))
	for i, id := range idx.ColumnIDs {
		vals[i] = row[tbl.ColumnOrdinal(id)]
	}
	cols, texts := describeValues(tbl, idx.ColumnIDs, vals)
	return pgerror.New(pgerror.CodeUniqueViolation, "could not create unique index %q", idx.Name).
		WithDetail(fmt.Sprintf("Key (%s)=(%s) is duplicated.", strings.Join(cols, ", "), strings.Join(texts, ", ")))
}

// validateIndex checks, in t, that idx has exactly one entry per row of tbl. After the
// backfill every row has one; the count catches anything that went wrong, before the index
// can answer queries.
func validateIndex(ctx context.Context, t *txn.Txn, tbl *catalog.Table, idx *catalog.Index) error {
	rowStart := rowenc.IndexPrefix(tbl.KeyID())
	rows, err := countKeys(ctx, t, rowStart, encoding.PrefixEnd(rowStart))
	if err != nil {
		return err
	}
	indexStart, indexEnd := rowenc.IndexSpan(tbl.KeyID(), idx.ID)
	entries, err := countKeys(ctx, t, indexStart, indexEnd)
	if err != nil {
		return err
	}
	if rows != entries {
		return pgerror.New(pgerror.CodeInternalError, "validation of index %q failed: %d entries for %d rows", idx.Name, entries, rows)
	}
	return nil
}

// countKeys counts the keys of [start, end) in t.
func countKeys(ctx context.Context, t *txn.Txn, start, end []byte) (int, error) {
	const page = 10000
	n := 0
	for start != nil {
		b := &txn.Batch{}
		b.Scan(start, end, page, false)
		if err := t.Run(ctx, b); err != nil {
			return 0, err
		}
		n += len(b.Results[0].Rows)
		start = b.Results[0].ResumeKey
	}
	return n, nil
}

// dropIndexOnline takes an index out of its table step by step, down to DeleteOnly and out
// of the descriptor, and then deletes its entries. An index already gone is no error: its
// entries are deleted all the same (a drop that stopped midway left them).
func (s *Session) dropIndexOnline(ctx context.Context, tableID, indexID uint32) error {
	for {
		removed, tableGone := false, false
		var keyID uint32
		err := s.schemaStep(ctx, func(ctx context.Context, t *txn.Txn) error {
			removed, tableGone = false, false
			tbl, err := s.srv.cat.TableByID(ctx, t, tableID)
			if err != nil {
				return err
			}
			if tbl == nil {
				tableGone = true // DROP TABLE dropped the entries with the rows
				return nil
			}
			keyID = tbl.KeyID()
			idx := tbl.IndexByID(indexID)
			if idx == nil {
				removed = true
				return nil
			}
			switch idx.State {
			case catalog.IndexPublic:
				idx.State = catalog.IndexWriteOnly
			case catalog.IndexWriteOnly:
				idx.State = catalog.IndexDeleteOnly
			default:
				name := idx.Name
				tbl.RemoveIndex(indexID)
				removed = true
				return s.srv.cat.WriteIndexChange(ctx, t, tbl, nil, []string{name})
			}
			return s.srv.cat.WriteIndexChange(ctx, t, tbl, nil, nil)
		})
		switch {
		case err != nil:
			return err
		case tableGone:
			return nil
		case removed:
			return s.deleteIndexData(ctx, keyID, indexID)
		}
	}
}

// deleteIndexData deletes the entries of an index no descriptor names any more, in chunks,
// from the key space keyID of its table (catalog.Table.KeyID).
func (s *Session) deleteIndexData(ctx context.Context, keyID, indexID uint32) error {
	start, end := rowenc.IndexSpan(keyID, indexID)
	for {
		done := false
		err := s.srv.db.RunTxn(ctx, func(ctx context.Context, t *txn.Txn) error {
			b := &txn.Batch{}
			b.Scan(start, end, backfillChunkSize, false)
			if err := t.Run(ctx, b); err != nil {
				return err
			}
			rows := b.Results[0].Rows
			done = len(rows) == 0
			d := &txn.Batch{}
			for _, kv := range rows {
				d.Del(kv.Key)
			}
			if d.Len() == 0 {
				return nil
			}
			return t.Run(ctx, d)
		})
		if err != nil || done {
			return err
		}
	}
}

// addIndexInTxn adds the index def declares to table tableID within the explicit
// transaction t: public at once, with every row's entry written in t. Nothing else sees the
// index before t commits, and t conflicts with any concurrent write to the table's rows it
// read, so no state machine is needed; the price is that t holds the whole backfill.
func (s *Session) addIndexInTxn(ctx context.Context, t *txn.Txn, tableID uint32, def indexDef, ifNotExists bool) ([]notice, error) {
	tbl, err := s.tableForChange(ctx, t, tableID)
	if err != nil {
		return nil, err
	}
	name, stale, err := s.newIndexName(ctx, t, tbl, def, nil)
	if err != nil {
		if ifNotExists && pgerror.Code(err) == pgerror.CodeDuplicateTable {
			return []notice{{Code: pgerror.CodeDuplicateTable, Message: fmt.Sprintf("relation %q already exists, skipping", def.name)}}, nil
		}
		return nil, err
	}
	if stale != nil {
		if err := s.dropIndexInTxn(ctx, t, tableID, stale.ID); err != nil {
			return nil, err
		}
		if tbl, err = s.tableForChange(ctx, t, tableID); err != nil {
			return nil, err
		}
	}
	idx, err := buildIndex(tbl, def, name)
	if err != nil {
		return nil, err
	}
	idx.ID, idx.State = tbl.AllocateIndexID(), catalog.IndexPublic
	tbl.Indexes = append(tbl.Indexes, idx)
	if err := s.srv.cat.WriteIndexChange(ctx, t, tbl, []string{name}, nil); err != nil {
		return nil, err
	}
	start, end := rowenc.IndexPrefix(tbl.KeyID()), encoding.PrefixEnd(rowenc.IndexPrefix(tbl.KeyID()))
	for start != nil {
		if start, err = backfillChunk(ctx, t, tbl, tbl.IndexByID(idx.ID), start, end, backfillChunkSize); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// dropIndexInTxn removes an index and its entries within the explicit transaction t.
func (s *Session) dropIndexInTxn(ctx context.Context, t *txn.Txn, tableID, indexID uint32) error {
	tbl, err := s.tableForChange(ctx, t, tableID)
	if err != nil {
		return err
	}
	idx := tbl.IndexByID(indexID)
	if idx == nil {
		return errIndexGone(indexID)
	}
	name := idx.Name
	tbl.RemoveIndex(indexID)
	if err := s.srv.cat.WriteIndexChange(ctx, t, tbl, nil, []string{name}); err != nil {
		return err
	}
	b := &txn.Batch{}
	b.DelRange(rowenc.IndexSpan(tbl.KeyID(), indexID))
	return t.Run(ctx, b)
}

// tableKeyID reads the ID of the key space holding table tableID's data.
func (s *Session) tableKeyID(ctx context.Context, tableID uint32) (uint32, error) {
	var keyID uint32
	err := s.srv.db.RunTxn(ctx, func(ctx context.Context, t *txn.Txn) error {
		tbl, err := s.srv.cat.TableByID(ctx, t, tableID)
		if err != nil {
			return err
		}
		if tbl == nil {
			return pgerror.New(pgerror.CodeUndefinedTable, "table %d does not exist", tableID)
		}
		keyID = tbl.KeyID()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("reading the key space of table %d: %w", tableID, err)
	}
	return keyID, nil
}
