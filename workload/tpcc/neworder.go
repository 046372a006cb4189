package tpcc

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// stockSQL locks and reads a supply warehouse's stock rows of some items, with the
// district's s_dist_xx column, per district.
var stockSQL = func() (q [numDist + 1]string) {
	for d := 1; d <= numDist; d++ {
		q[d] = fmt.Sprintf(`SELECT s_i_id, s_quantity, s_data, s_dist_%02d FROM stock WHERE s_w_id = $1 AND s_i_id = ANY($2) FOR UPDATE`, d)
	}
	return q
}()

// stockUpdateSQL updates n stock rows of one supply warehouse: $1 is the warehouse, $2 the
// items, and each row has five parameters from $3 on: the item, its new s_quantity, and what
// to add to s_ytd, s_order_cnt and s_remote_cnt.
func stockUpdateSQL(n int) string {
	var b strings.Builder
	b.WriteString("UPDATE stock SET ")
	for c, col := range []string{"s_quantity = ", "s_ytd = s_ytd + ", "s_order_cnt = s_order_cnt + ", "s_remote_cnt = s_remote_cnt + "} {
		if c > 0 {
			b.WriteString(", ")
		}
		b.WriteString(col + "CASE s_i_id")
		for i := range n {
			fmt.Fprintf(&b, " WHEN $%d::INT THEN $%d::INT", 3+5*i, 4+5*i+c)
		}
		b.WriteString(" END")
	}
	b.WriteString(" WHERE s_w_id = $1 AND s_i_id = ANY($2)")
	return b.String()
}

// orderLineInsertSQL inserts n order lines, nine parameters each.
func orderLineInsertSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO order_line (ol_o_id, ol_d_id, ol_w_id, ol_number, ol_i_id, ol_supply_w_id,
		ol_delivery_d, ol_quantity, ol_amount, ol_dist_info) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		p := 9 * i
		fmt.Fprintf(&b, "($%d, $%d, $%d, $%d, $%d, $%d, NULL, $%d, $%d, $%d)", p+1, p+2, p+3, p+4, p+5, p+6, p+7, p+8, p+9)
	}
	return b.String()
}

type stockKey struct{ w, item int }

// stockRow is a stock row as New-Order reads it and what the order's lines do to it.
type stockRow struct {
	qty                  int
	data, dist           string
	ytd, orders, remotes int
}

// orderLines does the per-item part of New-Order (2.4.2.2) for order oid and returns the
// order's total in cents, or errRollback if an item does not exist. Like any client that
// counts round trips, it uses one statement per kind of work rather than one per line: one
// reads the items, one per supply warehouse locks and reads the stock rows, one per supply
// warehouse updates them, and one inserts the lines. Stock rows are locked in key order (the
// supply warehouses in turn, each statement's rows in index order), so that concurrent
// New-Orders cannot deadlock. An item that appears on two lines is read and updated once,
// with the effect of both lines.
func (in newOrderIn) orderLines(ctx context.Context, tx pgx.Tx, oid int) (int64, error) {
	var itemIDs []int32
	supply := map[int][]int32{} // supply warehouse → its distinct items
	for _, l := range in.lines {
		if !slices.Contains(itemIDs, int32(l.item)) {
			itemIDs = append(itemIDs, int32(l.item))
		}
		if !slices.Contains(supply[l.supplyW], int32(l.item)) {
			supply[l.supplyW] = append(supply[l.supplyW], int32(l.item))
		}
	}
	type itemRow struct {
		price      int64
		name, data string
	}
	items := map[int]itemRow{}
	rows, err := tx.Query(ctx, `SELECT i_id, i_price, i_name, i_data FROM item WHERE i_id = ANY($1)`, itemIDs)
	if err != nil {
		return 0, fmt.Errorf("newOrder: items: %w", err)
	}
	var id int
	var price pgtype.Numeric
	var name, data string
	if _, err := pgx.ForEachRow(rows, []any{&id, &price, &name, &data}, func() error {
		items[id] = itemRow{price: cents(price), name: name, data: data}
		return nil
	}); err != nil {
		return 0, fmt.Errorf("newOrder: items: %w", err)
	}
	for _, l := range in.lines {
		if _, ok := items[l.item]; !ok {
			return 0, errRollback
		}
	}

	warehouses := make([]int, 0, len(supply))
	for w := range supply {
		warehouses = append(warehouses, w)
	}
	slices.Sort(warehouses)
	stock := map[stockKey]*stockRow{}
	b := &pgx.Batch{}
	for _, w := range warehouses {
		b.Queue(stockSQL[in.d], w, supply[w]).Query(func(rows pgx.Rows) error {
			var item, qty int
			var data, dist string
			_, err := pgx.ForEachRow(rows, []any{&item, &qty, &data, &dist}, func() error {
				stock[stockKey{w, item}] = &stockRow{qty: qty, data: data, dist: dist}
				return nil
			})
			return err
		})
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return 0, fmt.Errorf("newOrder: stock: %w", err)
	}

	// The lines in their order, each seeing the stock as the lines before it left it.
	var total int64
	lineArgs := make([]any, 0, 9*len(in.lines))
	for _, l := range in.lines {
		r := stock[stockKey{l.supplyW, l.item}]
		if r == nil {
			return 0, fmt.Errorf("newOrder: no stock row for item %d in warehouse %d", l.item, l.supplyW)
		}
		q := r.qty - l.qty
		if r.qty < l.qty+10 {
			q += 91
		}
		r.qty = q
		r.ytd += l.qty
		r.orders++
		if l.supplyW != in.w {
			r.remotes++
		}
		it := items[l.item]
		amount := int64(l.qty) * it.price
		total += amount
		// The brand-generic flag (2.4.2.2) is output only; it is computed, as the profile
		// says, but there is no terminal to show it on.
		_ = strings.Contains(it.data, "ORIGINAL") && strings.Contains(r.data, "ORIGINAL")
		lineArgs = append(lineArgs, oid, in.d, in.w, l.number, l.item, l.supplyW, l.qty, decimal(int(amount), 2), r.dist)
	}

	b = &pgx.Batch{}
	for _, w := range warehouses {
		args := []any{w, supply[w]}
		for _, item := range supply[w] {
			r := stock[stockKey{w, int(item)}]
			args = append(args, item, r.qty, r.ytd, r.orders, r.remotes)
		}
		b.Queue(stockUpdateSQL(len(supply[w])), args...)
	}
	b.Queue(orderLineInsertSQL(len(in.lines)), lineArgs...)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return 0, fmt.Errorf("newOrder: order lines: %w", err)
	}
	return total, nil
}
