package sql

import (
	"context"
	"fmt"

	"github.com/meridiandb/meridian/hlc"
	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/pgdialect"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/privilege"
	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/txn"
)

// truncatePlan empties tables. Each table gets a fresh, empty key space (a new
// catalog.Table.DataID) in the statement's transaction, and its old key space is recorded as
// dropped, to be cleared in one stroke once it is past the GC TTL (Server.ClearDroppedData).
// Nothing is written per row, so a TRUNCATE costs the same whatever the table holds, and it
// is as transactional as the descriptor write: a TRUNCATE inside BEGIN ... ROLLBACK leaves
// the rows where they were, and readers at earlier timestamps still see them. Unlike DELETE
// it neither reads the rows nor runs the foreign keys' actions: as in PostgreSQL, a table
// referenced by another's foreign key can only be truncated together with it (listed, or
// added by CASCADE).
type truncatePlan struct {
	schemaChange
	tables []*catalog.Table
	// restart lists the sequences of the tables' SERIAL and identity columns, when RESTART
	// IDENTITY asks for them to start over.
	restart []*catalog.Sequence
}

func (s *Session) planTruncate(ctx context.Context, t *txn.Txn, tr *pgdialect.Truncate) (plan, error) {
	p := &truncatePlan{}
	seen := map[uint32]bool{}
	for _, name := range tr.Tables {
		tbl, err := s.resolveTable(ctx, t, tableNameOf(name))
		if err != nil {
			return nil, err
		}
		if !seen[tbl.ID] {
			seen[tbl.ID] = true
			p.tables = append(p.tables, tbl)
		}
	}
	// The tables whose foreign keys reference a truncated one: CASCADE truncates them too
	// (and those referencing them); otherwise each must be truncated in the same statement.
	for i := 0; i < len(p.tables); i++ {
		tbl := p.tables[i]
		for _, ref := range tbl.ReferencedBy {
			if seen[ref.Table] {
				continue
			}
			other, err := s.srv.cat.TableByID(ctx, t, ref.Table)
			if err != nil {
				return nil, err
			}
			if other == nil {
				return nil, fmt.Errorf("table %d of foreign key %q referencing %q does not exist", ref.Table, ref.Name, tbl.Name)
			}
			if !tr.Cascade {
				return nil, pgerror.New(pgerror.CodeFeatureNotSupported, "cannot truncate a table referenced in a foreign key constraint").
					WithDetail(fmt.Sprintf("Table %q references %q.", other.Name, tbl.Name)).
					WithHint(fmt.Sprintf("Truncate table %q at the same time, or use TRUNCATE ... CASCADE.", other.Name))
			}
			seen[other.ID] = true
			p.tables = append(p.tables, other)
		}
	}
	for _, tbl := range p.tables {
		// PostgreSQL's TRUNCATE privilege is not one Meridian grants: DELETE stands for it.
		if err := s.checkTable(ctx, t, tbl, privilege.Delete); err != nil {
			return nil, err
		}
	}
	if tr.RestartIdentity {
		if s.txn != nil {
			// A sequence's counter moves outside transactions (as setval does): restarting it
			// could not be rolled back with the truncation.
			return nil, pgerror.Unsupported("TRUNCATE ... RESTART IDENTITY inside a transaction block")
		}
		for _, tbl := range p.tables {
			for _, o := range tbl.OwnedSequences {
				seq, err := s.srv.cat.SequenceByID(ctx, t, o.SequenceID)
				if err != nil {
					return nil, err
				}
				if seq != nil {
					p.restart = append(p.restart, seq)
				}
			}
		}
	}
	return p, nil
}

func (p *truncatePlan) run(ctx context.Context, x *execCtx) (*result, error) {
	s := x.session
	for _, planned := range p.tables {
		// Read the descriptor transactionally: the plan's copy may be stale.
		tbl, err := s.tableForChange(ctx, x.txn, planned.ID)
		if err != nil {
			return nil, err
		}
		for _, idx := range tbl.Indexes {
			if idx.State != catalog.IndexPublic {
				// An online index build or drop works in the table's key space over many
				// transactions; moving the table to another under it would lose entries.
				return nil, pgerror.New(pgerror.CodeObjectInUse, "cannot truncate table %q while its index %q is being built or dropped", tbl.Name, idx.Name).
					WithHint("Retry once the CREATE INDEX or DROP INDEX has finished.")
			}
		}
		if _, err := s.srv.cat.TruncateTable(ctx, x.txn, tbl); err != nil {
			return nil, fmt.Errorf("truncating table %q: %w", tbl.Name, err)
		}
	}
	if err := x.finishRead(ctx); err != nil {
		return nil, err
	}
	for _, seq := range p.restart {
		state := kvpb.CounterState{Value: seq.Start, Called: false}
		if err := s.srv.db.PutNonTxn(ctx, sequenceKey(seq.ID), state.Encode()); err != nil {
			return nil, err
		}
		delete(s.sequences.cached, seq.ID)
	}
	return &result{tag: "TRUNCATE TABLE"}, nil
}

// ClearDroppedData removes the data of the tables dropped, and the former data of the
// tables truncated, at or before horizon: each key space goes in one ClearRange per range,
// without reading or writing a key of it, and then its record. horizon must be a timestamp
// no read is served at any more once ranges' GC thresholds reach it (the GC horizon:
// the GC TTL ago, or just below the oldest open transaction's reads), so that clearing
// below MVCC hides nothing a reader could still ask for. It reports how many key spaces
// it cleared.
func (s *Server) ClearDroppedData(ctx context.Context, horizon hlc.Timestamp) (int, error) {
	dropped, err := s.cat.DroppedKeySpaces(ctx, s.db)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range dropped {
		if horizon.Less(d.DroppedAt) {
			continue // readers may still look before the drop
		}
		start, end := rowenc.TableSpan(d.ID)
		if err := s.db.ClearRange(ctx, start, end, horizon); err != nil {
			return n, fmt.Errorf("clearing the data of dropped key space %d: %w", d.ID, err)
		}
		if err := s.cat.ForgetDroppedKeySpace(ctx, s.db, d.ID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
