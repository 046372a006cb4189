package sql

import (
	"context"

	"github.com/meridiandb/meridian/sql/types"
)

// virtualTable is a table whose rows are computed when it is read, from the catalog and the
// session: the tables of pg_catalog and information_schema.
type virtualTable struct {
	name    string
	columns []scopeColumn
	// rows computes the table's rows for the statement.
	rows func(ctx context.Context, x *execCtx) ([][]types.Datum, error)
}

// vtableNode reads a virtual table.
type vtableNode struct {
	vt    *virtualTable
	scope []scopeColumn
}

func (n *vtableNode) cols() []scopeColumn { return n.scope }

func (n *vtableNode) run(ctx context.Context, x *execCtx, emit emitFn) error {
	rows, err := n.vt.rows(ctx, x)
	if err != nil {
		return err
	}
	for _, row := range rows {
		if more, err := emit(row); err != nil || !more {
			return err
		}
	}
	return nil
}

func (n *vtableNode) describe() nodeDesc { return nodeDesc{name: "virtual table " + n.vt.name} }
