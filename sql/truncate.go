package sql

import (
	"context"
	"fmt"

	"github.com/meridiandb/meridian/ranges/kvpb"
	"github.com/meridiandb/meridian/sql/catalog"
	"github.com/meridiandb/meridian/sql/pgdialect"
	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/privilege"
	"github.com/meridiandb/meridian/sql/rowenc"
	"github.com/meridiandb/meridian/txn"
)

// truncatePlan empties tables: one ranged delete of each table's key span (its rows and
// every index's entries), in the statement's transaction, so a TRUNCATE inside BEGIN ...
// ROLLBACK is undone like any write. Unlike DELETE it neither reads the rows nor runs the
// foreign keys' actions: as in PostgreSQL, a table referenced by another's foreign key can
// only be truncated together with it (listed, or added by CASCADE).
type truncatePlan struct {
	noSchemaChange
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

func (p *truncatePlan) columns() []resultColumn { return nil }

func (p *truncatePlan) run(ctx context.Context, x *execCtx) (*result, error) {
	b := &txn.Batch{}
	for _, tbl := range p.tables {
		start, end := rowenc.TableSpan(tbl.ID)
		b.DelRange(start, end)
	}
	if err := x.write(ctx, b); err != nil {
		return nil, err
	}
	s := x.session
	for _, seq := range p.restart {
		state := kvpb.CounterState{Value: seq.Start, Called: false}
		if err := s.srv.db.PutNonTxn(ctx, sequenceKey(seq.ID), state.Encode()); err != nil {
			return nil, err
		}
		delete(s.sequences.cached, seq.ID)
	}
	return &result{tag: "TRUNCATE TABLE"}, nil
}
