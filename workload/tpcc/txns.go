package tpcc

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// errRollback ends a New-Order whose last item number is unused (2.4.2.3).
var errRollback = errors.New("unused item number")

// inTx runs f in one transaction: committed if f returns nil, rolled back otherwise.
func inTx(ctx context.Context, pool *pgxpool.Pool, f func(tx pgx.Tx) error) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := f(tx); err != nil {
		// The rollback's own error says nothing the caller needs: the connection is reset
		// either way.
		_ = tx.Rollback(ctx)
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// cents converts a numeric with at most two digits after the point to hundredths; NULL,
// the sum of no rows, is 0.
func cents(n pgtype.Numeric) int64 {
	if !n.Valid || n.Int == nil {
		return 0
	}
	v := new(big.Int).Set(n.Int)
	ten := big.NewInt(10)
	for e := n.Exp + 2; e > 0; e-- {
		v.Mul(v, ten)
	}
	for e := n.Exp + 2; e < 0; e++ {
		v.Quo(v, ten)
	}
	return v.Int64()
}

type orderLineIn struct {
	number, item, supplyW, qty int
}

type newOrderIn struct {
	w, d, c int
	lines   []orderLineIn
}

// exec runs the New-Order transaction (2.4.2).
func (in newOrderIn) exec(ctx context.Context, pool *pgxpool.Pool) error {
	err := inTx(ctx, pool, func(tx pgx.Tx) error {
		var wTax, dTax, discount pgtype.Numeric
		var last, credit string
		var oid int
		// The district's row is the transaction's point of contention (every New-Order of
		// the district takes the next number from it): it is locked first, so that the wait
		// for it comes before anything else is read. The warehouse row, which every Payment
		// updates, is read last, after the stock rows are locked (w_tax only goes into the
		// total): read earlier, it would often be stale by the time a wait for a stock row
		// another New-Order holds ends, and a serializable database would have to restart
		// the transaction. (CockroachDB's TPC-C avoids the same conflict by storing w_ytd in
		// a column family of its own.)
		if err := tx.QueryRow(ctx, `UPDATE district SET d_next_o_id = d_next_o_id + 1 WHERE d_w_id = $1 AND d_id = $2
			RETURNING d_tax, d_next_o_id - 1`, in.w, in.d).Scan(&dTax, &oid); err != nil {
			return fmt.Errorf("newOrder: district: %w", err)
		}
		if err := tx.QueryRow(ctx, `SELECT c_discount, c_last, c_credit FROM customer WHERE c_w_id = $1 AND c_d_id = $2 AND c_id = $3`,
			in.w, in.d, in.c).Scan(&discount, &last, &credit); err != nil {
			return fmt.Errorf("newOrder: customer: %w", err)
		}
		allLocal := 1
		for _, l := range in.lines {
			if l.supplyW != in.w {
				allLocal = 0
			}
		}
		now := time.Now().UTC()
		if _, err := tx.Exec(ctx, `INSERT INTO orders (o_id, o_d_id, o_w_id, o_c_id, o_entry_d, o_carrier_id, o_ol_cnt, o_all_local)
			VALUES ($1, $2, $3, $4, $5, NULL, $6, $7)`, oid, in.d, in.w, in.c, now, len(in.lines), allLocal); err != nil {
			return fmt.Errorf("newOrder: insert orders: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO new_order (no_o_id, no_d_id, no_w_id) VALUES ($1, $2, $3)`,
			oid, in.d, in.w); err != nil {
			return fmt.Errorf("newOrder: insert new_order: %w", err)
		}

		total, err := in.orderLines(ctx, tx, oid)
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT w_tax FROM warehouse WHERE w_id = $1`, in.w).Scan(&wTax); err != nil {
			return fmt.Errorf("newOrder: warehouse: %w", err)
		}
		// The total (2.4.2.2) is output only, like the brand-generic flag.
		_ = float64(total) / 100 * (1 - floatOf(discount)) * (1 + floatOf(wTax) + floatOf(dTax))
		return nil
	})
	if errors.Is(err, errRollback) {
		return nil
	}
	return err
}

func floatOf(n pgtype.Numeric) float64 {
	f, _ := n.Float64Value()
	return f.Float64
}

type paymentIn struct {
	w, d   int
	cust   customerKey
	amount string // h_amount, a decimal in [1.00..5,000.00]
}

// id returns the number of the customer of the key: given, or the one at
// position n/2 rounded up of the n customers with that last name sorted by first name
// (2.5.2.2).
func (k customerKey) id(ctx context.Context, tx pgx.Tx) (int, error) {
	if k.last == "" {
		return k.c, nil
	}
	rows, err := tx.Query(ctx, `SELECT c_id FROM customer WHERE c_w_id = $1 AND c_d_id = $2 AND c_last = $3 ORDER BY c_first`,
		k.w, k.d, k.last)
	if err != nil {
		return 0, fmt.Errorf("customer by name: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return 0, fmt.Errorf("customer by name: %w", err)
	}
	if len(ids) == 0 {
		return 0, fmt.Errorf("customer by name: no customer %q in district %d of warehouse %d", k.last, k.d, k.w)
	}
	return ids[(len(ids)-1)/2], nil
}

// exec runs the Payment transaction (2.5.2). It updates the customer first and the hot
// warehouse row last, so the warehouse is held for the shortest time.
func (in paymentIn) exec(ctx context.Context, pool *pgxpool.Pool) error {
	return inTx(ctx, pool, func(tx pgx.Tx) error {
		c, err := in.cust.id(ctx, tx)
		if err != nil {
			return fmt.Errorf("payment: %w", err)
		}
		// The customer is read and updated in one statement. A bad-credit customer's c_data
		// gets the payment's details in front, cut to 500 characters (2.5.2.2).
		var (
			first, middle, last, street1, street2, city, state, zip, phone, credit, data string
			since                                                                        time.Time
			creditLim, discount, balance                                                 pgtype.Numeric
		)
		prefix := fmt.Sprintf("%d %d %d %d %d %s | ", c, in.cust.d, in.cust.w, in.d, in.w, in.amount)
		if err := tx.QueryRow(ctx, `UPDATE customer SET c_balance = c_balance - $4, c_ytd_payment = c_ytd_payment + $4,
			c_payment_cnt = c_payment_cnt + 1,
			c_data = CASE c_credit WHEN 'BC' THEN substr($5 || c_data, 1, 500) ELSE c_data END
			WHERE c_w_id = $1 AND c_d_id = $2 AND c_id = $3
			RETURNING c_first, c_middle, c_last, c_street_1, c_street_2, c_city, c_state, c_zip,
			c_phone, c_since, c_credit, c_credit_lim, c_discount, c_balance, c_data`,
			in.cust.w, in.cust.d, c, in.amount, prefix).Scan(
			&first, &middle, &last, &street1, &street2, &city, &state, &zip, &phone, &since, &credit,
			&creditLim, &discount, &balance, &data); err != nil {
			return fmt.Errorf("payment: customer: %w", err)
		}
		// The district and the warehouse in one round trip.
		var dName, wName, s1, s2, ci, st, z string
		b := &pgx.Batch{}
		b.Queue(`UPDATE district SET d_ytd = d_ytd + $3 WHERE d_w_id = $1 AND d_id = $2
			RETURNING d_name, d_street_1, d_street_2, d_city, d_state, d_zip`, in.w, in.d, in.amount).QueryRow(func(r pgx.Row) error {
			return r.Scan(&dName, &s1, &s2, &ci, &st, &z)
		})
		b.Queue(`UPDATE warehouse SET w_ytd = w_ytd + $2 WHERE w_id = $1
			RETURNING w_name, w_street_1, w_street_2, w_city, w_state, w_zip`, in.w, in.amount).QueryRow(func(r pgx.Row) error {
			return r.Scan(&wName, &s1, &s2, &ci, &st, &z)
		})
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("payment: district and warehouse: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO history (h_c_id, h_c_d_id, h_c_w_id, h_d_id, h_w_id, h_date, h_amount, h_data)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, c, in.cust.d, in.cust.w, in.d, in.w, time.Now().UTC(), in.amount,
			wName+"    "+dName); err != nil {
			return fmt.Errorf("payment: insert history: %w", err)
		}
		return nil
	})
}

type orderStatusIn struct {
	cust customerKey
}

// exec runs the Order-Status transaction (2.6.2).
func (in orderStatusIn) exec(ctx context.Context, pool *pgxpool.Pool) error {
	return inTx(ctx, pool, func(tx pgx.Tx) error {
		c, err := in.cust.id(ctx, tx)
		if err != nil {
			return fmt.Errorf("orderStatus: %w", err)
		}
		var first, middle, last string
		var balance pgtype.Numeric
		if err := tx.QueryRow(ctx, `SELECT c_balance, c_first, c_middle, c_last FROM customer
			WHERE c_w_id = $1 AND c_d_id = $2 AND c_id = $3`, in.cust.w, in.cust.d, c).Scan(
			&balance, &first, &middle, &last); err != nil {
			return fmt.Errorf("orderStatus: customer: %w", err)
		}
		var oid int
		var entry time.Time
		var carrier *int
		err = tx.QueryRow(ctx, `SELECT o_id, o_entry_d, o_carrier_id FROM orders
			WHERE o_w_id = $1 AND o_d_id = $2 AND o_c_id = $3 ORDER BY o_id DESC LIMIT 1`, in.cust.w, in.cust.d, c).Scan(
			&oid, &entry, &carrier)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // a customer without orders has nothing more to show
		}
		if err != nil {
			return fmt.Errorf("orderStatus: orders: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT ol_i_id, ol_supply_w_id, ol_quantity, ol_amount, ol_delivery_d FROM order_line
			WHERE ol_w_id = $1 AND ol_d_id = $2 AND ol_o_id = $3`, in.cust.w, in.cust.d, oid)
		if err != nil {
			return fmt.Errorf("orderStatus: order lines: %w", err)
		}
		var item, supplyW, qty int
		var amount pgtype.Numeric
		var delivered *time.Time
		if _, err := pgx.ForEachRow(rows, []any{&item, &supplyW, &qty, &amount, &delivered}, func() error { return nil }); err != nil {
			return fmt.Errorf("orderStatus: order lines: %w", err)
		}
		return nil
	})
}

type deliveryIn struct {
	w, carrier int
	// delivered is the terminal's record of the newest order it delivered per district.
	delivered *[numDist + 1]atomic.Int64
}

// deliveryWindow is how many order numbers past the last one it delivered a Delivery looks
// at first for a district's oldest undelivered order.
const deliveryWindow = 100

// exec runs the Delivery transaction (2.7.4) for all ten districts in one database
// transaction. A district with no undelivered order, or whose oldest one another Delivery
// took first, is skipped (2.7.4.2).
//
// A district's undelivered orders are always one run of consecutive numbers (3.3.2.3): New-
// Order adds at the top, Delivery removes at the bottom. So the oldest is past any order
// this terminal delivered before, and a Delivery first looks only at the next
// deliveryWindow numbers: that keeps it from scanning the tombstones of delivered orders
// and, on a serializable server, from reading the top of the district where New-Orders
// insert. It looks further only if that window is empty.
func (in deliveryIn) exec(ctx context.Context, pool *pgxpool.Pool) error {
	var done [numDist + 1]int
	err := inTx(ctx, pool, func(tx pgx.Tx) error {
		now := time.Now().UTC()
		for d := 1; d <= numDist; d++ {
			done[d] = 0
			// The oldest new order is read locked: a concurrent Delivery that took it first
			// is waited for, and then the next one is the oldest (or, on PostgreSQL, none is
			// returned, and the district is skipped).
			lo := int(in.delivered[d].Load()) + 1
			var oldest *int
			for _, hi := range []int{lo + deliveryWindow, math.MaxInt32} {
				err := tx.QueryRow(ctx, `SELECT no_o_id FROM new_order
					WHERE no_w_id = $1 AND no_d_id = $2 AND no_o_id >= $3 AND no_o_id < $4
					ORDER BY no_o_id LIMIT 1 FOR UPDATE`, in.w, d, lo, hi).Scan(&oldest)
				if err != nil && !errors.Is(err, pgx.ErrNoRows) {
					return fmt.Errorf("delivery: new_order: %w", err)
				}
				if oldest != nil {
					break
				}
			}
			if oldest == nil {
				continue
			}
			oid := *oldest
			tag, err := tx.Exec(ctx, `DELETE FROM new_order WHERE no_w_id = $1 AND no_d_id = $2 AND no_o_id = $3`, in.w, d, oid)
			if err != nil {
				return fmt.Errorf("delivery: delete new_order: %w", err)
			}
			if tag.RowsAffected() == 0 {
				continue
			}
			var cid int
			if err := tx.QueryRow(ctx, `UPDATE orders SET o_carrier_id = $4 WHERE o_w_id = $1 AND o_d_id = $2 AND o_id = $3
				RETURNING o_c_id`, in.w, d, oid, in.carrier).Scan(&cid); err != nil {
				return fmt.Errorf("delivery: orders: %w", err)
			}
			// The lines are stamped and their amounts summed in one statement.
			var sum int64
			rows, err := tx.Query(ctx, `UPDATE order_line SET ol_delivery_d = $4 WHERE ol_w_id = $1 AND ol_d_id = $2 AND ol_o_id = $3
				RETURNING ol_amount`, in.w, d, oid, now)
			if err != nil {
				return fmt.Errorf("delivery: order_line: %w", err)
			}
			var amount pgtype.Numeric
			if _, err := pgx.ForEachRow(rows, []any{&amount}, func() error {
				sum += cents(amount)
				return nil
			}); err != nil {
				return fmt.Errorf("delivery: order_line: %w", err)
			}
			if _, err := tx.Exec(ctx, `UPDATE customer SET c_balance = c_balance + $4, c_delivery_cnt = c_delivery_cnt + 1
				WHERE c_w_id = $1 AND c_d_id = $2 AND c_id = $3`, in.w, d, cid, decimal(int(sum), 2)); err != nil {
				return fmt.Errorf("delivery: customer: %w", err)
			}
			done[d] = oid
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Only a committed delivery moves the window: an aborted one may have left its order
	// undelivered.
	for d := 1; d <= numDist; d++ {
		if done[d] > 0 {
			in.delivered[d].Store(int64(done[d]))
		}
	}
	return nil
}

type stockLevelIn struct {
	w, d, threshold int
}

// exec runs the Stock-Level transaction (2.8.2): how many distinct items of the district's
// last 20 orders have less than threshold in stock.
func (in stockLevelIn) exec(ctx context.Context, pool *pgxpool.Pool) error {
	return inTx(ctx, pool, func(tx pgx.Tx) error {
		var next int
		if err := tx.QueryRow(ctx, `SELECT d_next_o_id FROM district WHERE d_w_id = $1 AND d_id = $2`, in.w, in.d).Scan(&next); err != nil {
			return fmt.Errorf("stockLevel: district: %w", err)
		}
		// Two statements rather than one join: the items of 20 orders are a short list, and
		// s_i_id = ANY($3) reads just those stock rows on both Meridian and PostgreSQL.
		rows, err := tx.Query(ctx, `SELECT DISTINCT ol_i_id FROM order_line
			WHERE ol_w_id = $1 AND ol_d_id = $2 AND ol_o_id < $3 AND ol_o_id >= $4`, in.w, in.d, next, next-20)
		if err != nil {
			return fmt.Errorf("stockLevel: order lines: %w", err)
		}
		items, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("stockLevel: order lines: %w", err)
		}
		if len(items) == 0 {
			return nil
		}
		var low int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM stock WHERE s_w_id = $1 AND s_quantity < $2 AND s_i_id = ANY($3)`,
			in.w, in.threshold, items).Scan(&low); err != nil {
			return fmt.Errorf("stockLevel: count: %w", err)
		}
		return nil
	})
}
