package tpcc

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// A Violation is one breach of a consistency condition.
type Violation struct {
	Condition string // the clause of the condition, e.g. "3.3.2.1"
	Detail    string // the offending keys and values
}

// condition is a consistency condition of 3.3.2 as a query that returns its violations in
// the warehouse $1 (at most maxViolations are reported in all).
type condition struct {
	clause, what, query string
}

const maxViolations = 20

// conditions are the consistency conditions that hold at any quiescent point (3.3.2.1 to
// 3.3.2.10 and 3.3.2.12). Each query lists the violating rows of one warehouse.
var conditions = []condition{
	{"3.3.2.1", "W_YTD = sum(D_YTD)", `
SELECT w_id, w_ytd, d.s AS sum_d_ytd
FROM warehouse JOIN (SELECT d_w_id, sum(d_ytd) AS s FROM district WHERE d_w_id = $1 GROUP BY d_w_id) d ON d.d_w_id = w_id
WHERE w_id = $1 AND w_ytd <> d.s`},
	{"3.3.2.2", "D_NEXT_O_ID - 1 = max(O_ID) = max(NO_O_ID)", `
SELECT d_w_id, d_id, d_next_o_id, o.m AS max_o_id, n.m AS max_no_o_id
FROM district
LEFT JOIN (SELECT o_w_id, o_d_id, max(o_id) AS m FROM orders WHERE o_w_id = $1 GROUP BY o_w_id, o_d_id) o
  ON o.o_w_id = d_w_id AND o.o_d_id = d_id
LEFT JOIN (SELECT no_w_id, no_d_id, max(no_o_id) AS m FROM new_order WHERE no_w_id = $1 GROUP BY no_w_id, no_d_id) n
  ON n.no_w_id = d_w_id AND n.no_d_id = d_id
WHERE d_w_id = $1 AND (o.m IS NULL OR o.m <> d_next_o_id - 1 OR n.m <> d_next_o_id - 1)
ORDER BY d_id`},
	{"3.3.2.3", "max(NO_O_ID) - min(NO_O_ID) + 1 = count(NEW-ORDER)", `
SELECT no_w_id, no_d_id, max(no_o_id) AS max_no_o_id, min(no_o_id) AS min_no_o_id, count(*) AS new_orders
FROM new_order WHERE no_w_id = $1 GROUP BY no_w_id, no_d_id
HAVING max(no_o_id) - min(no_o_id) + 1 <> count(*)
ORDER BY no_d_id`},
	{"3.3.2.4", "sum(O_OL_CNT) = count(ORDER-LINE)", `
SELECT o.w, o.d, o.s AS sum_o_ol_cnt, l.c AS order_lines
FROM (SELECT o_w_id AS w, o_d_id AS d, sum(o_ol_cnt) AS s FROM orders WHERE o_w_id = $1 GROUP BY o_w_id, o_d_id) o
LEFT JOIN (SELECT ol_w_id, ol_d_id, count(*) AS c FROM order_line WHERE ol_w_id = $1 GROUP BY ol_w_id, ol_d_id) l
  ON l.ol_w_id = o.w AND l.ol_d_id = o.d
WHERE l.c IS NULL OR l.c <> o.s
ORDER BY o.d`},
	{"3.3.2.5", "O_CARRIER_ID is null exactly when the order is in NEW-ORDER", `
SELECT o_w_id, o_d_id, o_id, o_carrier_id, no_o_id
FROM orders LEFT JOIN new_order ON no_w_id = o_w_id AND no_d_id = o_d_id AND no_o_id = o_id AND no_w_id = $1
WHERE o_w_id = $1 AND ((o_carrier_id IS NULL AND no_o_id IS NULL) OR (o_carrier_id IS NOT NULL AND no_o_id IS NOT NULL))
ORDER BY o_d_id, o_id LIMIT 20`},
	{"3.3.2.6", "O_OL_CNT = the order's count(ORDER-LINE)", `
SELECT o_w_id, o_d_id, o_id, o_ol_cnt, l.c AS order_lines
FROM orders
LEFT JOIN (SELECT ol_w_id, ol_d_id, ol_o_id, count(*) AS c FROM order_line WHERE ol_w_id = $1 GROUP BY ol_w_id, ol_d_id, ol_o_id) l
  ON l.ol_w_id = o_w_id AND l.ol_d_id = o_d_id AND l.ol_o_id = o_id
WHERE o_w_id = $1 AND (l.c IS NULL OR l.c <> o_ol_cnt)
ORDER BY o_d_id, o_id LIMIT 20`},
	{"3.3.2.7", "OL_DELIVERY_D is null exactly when O_CARRIER_ID is", `
SELECT ol_w_id, ol_d_id, ol_o_id, ol_number, ol_delivery_d, o_carrier_id
FROM order_line JOIN orders ON o_w_id = ol_w_id AND o_d_id = ol_d_id AND o_id = ol_o_id AND o_w_id = $1
WHERE ol_w_id = $1 AND ((ol_delivery_d IS NULL AND o_carrier_id IS NOT NULL) OR (ol_delivery_d IS NOT NULL AND o_carrier_id IS NULL))
ORDER BY ol_d_id, ol_o_id, ol_number LIMIT 20`},
	{"3.3.2.8", "W_YTD = sum(H_AMOUNT)", `
SELECT w_id, w_ytd, h.s AS sum_h_amount
FROM warehouse LEFT JOIN (SELECT h_w_id, sum(h_amount) AS s FROM history WHERE h_w_id = $1 GROUP BY h_w_id) h ON h.h_w_id = w_id
WHERE w_id = $1 AND (h.s IS NULL OR w_ytd <> h.s)`},
	{"3.3.2.9", "D_YTD = sum(H_AMOUNT)", `
SELECT d_w_id, d_id, d_ytd, h.s AS sum_h_amount
FROM district
LEFT JOIN (SELECT h_w_id, h_d_id, sum(h_amount) AS s FROM history WHERE h_w_id = $1 GROUP BY h_w_id, h_d_id) h
  ON h.h_w_id = d_w_id AND h.h_d_id = d_id
WHERE d_w_id = $1 AND (h.s IS NULL OR d_ytd <> h.s) ORDER BY d_id`},
	{"3.3.2.10", "C_BALANCE = sum(delivered OL_AMOUNT) - sum(H_AMOUNT)", `
SELECT c_w_id, c_d_id, c_id, c_balance, coalesce(ol.s, 0) AS delivered, coalesce(h.s, 0) AS paid
FROM customer
LEFT JOIN (SELECT o_w_id, o_d_id, o_c_id, sum(ol_amount) AS s
  FROM orders JOIN order_line ON ol_w_id = o_w_id AND ol_d_id = o_d_id AND ol_o_id = o_id AND ol_w_id = $1
  WHERE o_w_id = $1 AND ol_delivery_d IS NOT NULL GROUP BY o_w_id, o_d_id, o_c_id) ol
  ON ol.o_w_id = c_w_id AND ol.o_d_id = c_d_id AND ol.o_c_id = c_id
LEFT JOIN (SELECT h_c_w_id, h_c_d_id, h_c_id, sum(h_amount) AS s FROM history WHERE h_c_w_id = $1 GROUP BY h_c_w_id, h_c_d_id, h_c_id) h
  ON h.h_c_w_id = c_w_id AND h.h_c_d_id = c_d_id AND h.h_c_id = c_id
WHERE c_w_id = $1 AND c_balance <> coalesce(ol.s, 0) - coalesce(h.s, 0)
ORDER BY c_d_id, c_id LIMIT 20`},
	{"3.3.2.12", "C_BALANCE + C_YTD_PAYMENT = sum(delivered OL_AMOUNT)", `
SELECT c_w_id, c_d_id, c_id, c_balance, c_ytd_payment, coalesce(ol.s, 0) AS delivered
FROM customer
LEFT JOIN (SELECT o_w_id, o_d_id, o_c_id, sum(ol_amount) AS s
  FROM orders JOIN order_line ON ol_w_id = o_w_id AND ol_d_id = o_d_id AND ol_o_id = o_id AND ol_w_id = $1
  WHERE o_w_id = $1 AND ol_delivery_d IS NOT NULL GROUP BY o_w_id, o_d_id, o_c_id) ol
  ON ol.o_w_id = c_w_id AND ol.o_d_id = c_d_id AND ol.o_c_id = c_id
WHERE c_w_id = $1 AND c_balance + c_ytd_payment <> coalesce(ol.s, 0)
ORDER BY c_d_id, c_id LIMIT 20`},
}

// initialConditions hold only in the initial population: 3.3.2.11 counts the orders that
// Delivery has not yet delivered, 900 per district, so a run breaks it as soon as New-Order
// and Delivery run at different rates.
var initialConditions = []condition{
	{"3.3.2.11", "count(ORDER) - count(NEW-ORDER) = 2100", `
SELECT o.w, o.d, o.c AS orders, n.c AS new_orders
FROM (SELECT o_w_id AS w, o_d_id AS d, count(*) AS c FROM orders WHERE o_w_id = $1 GROUP BY o_w_id, o_d_id) o
LEFT JOIN (SELECT no_w_id, no_d_id, count(*) AS c FROM new_order WHERE no_w_id = $1 GROUP BY no_w_id, no_d_id) n
  ON n.no_w_id = o.w AND n.no_d_id = o.d
WHERE n.c IS NULL OR o.c - n.c <> 2100
ORDER BY o.d`},
}

// Check runs the consistency conditions 3.3.2.1 to 3.3.2.10 and 3.3.2.12, which hold
// whenever no transaction is in flight, and returns every violation found (at most 20 per
// condition): a nil error and no violations mean the database is consistent.
func Check(ctx context.Context, pool *pgxpool.Pool) ([]Violation, error) {
	return check(ctx, pool, conditions)
}

// check runs conds and gathers their violations. Each condition runs once per warehouse,
// so that no query holds more than one warehouse's rows, however many there are.
func check(ctx context.Context, pool *pgxpool.Pool, conds []condition) ([]Violation, error) {
	warehouses, err := warehouseIDs(ctx, pool)
	if err != nil {
		return nil, err
	}
	var out []Violation
	for _, c := range conds {
		found := 0
		for _, w := range warehouses {
			if found >= maxViolations {
				break
			}
			vs, err := violations(ctx, pool, c, w, maxViolations-found)
			if err != nil {
				return out, fmt.Errorf("check %s (warehouse %d): %w", c.clause, w, err)
			}
			found += len(vs)
			out = append(out, vs...)
		}
	}
	return out, nil
}

func warehouseIDs(ctx context.Context, pool *pgxpool.Pool) ([]int64, error) {
	rows, err := pool.Query(ctx, "SELECT w_id FROM warehouse ORDER BY w_id")
	if err != nil {
		return nil, fmt.Errorf("check: listing warehouses: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("check: listing warehouses: %w", err)
	}
	return ids, nil
}

// violations runs c for warehouse w and returns up to limit of its rows.
func violations(ctx context.Context, pool *pgxpool.Pool, c condition, w int64, limit int) ([]Violation, error) {
	rows, err := pool.Query(ctx, c.query, w)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Violation
	for rows.Next() && len(out) < limit {
		vals, err := rows.Values()
		if err != nil {
			return nil, err
		}
		var sb strings.Builder
		sb.WriteString(c.what + ":")
		for i, f := range rows.FieldDescriptions() {
			fmt.Fprintf(&sb, " %s=%s", f.Name, show(vals[i]))
		}
		out = append(out, Violation{Condition: c.clause, Detail: sb.String()})
	}
	return out, rows.Err()
}

// show formats a value read by pgx; numerics print as their decimal text.
func show(v any) string {
	if v == nil {
		return "NULL"
	}
	if dv, ok := v.(driver.Valuer); ok {
		if x, err := dv.Value(); err == nil && x != nil {
			return fmt.Sprint(x)
		}
	}
	return fmt.Sprint(v)
}
