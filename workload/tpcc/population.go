package tpcc

import (
	"fmt"
	"time"
)

var (
	itemCols      = []string{"i_id", "i_im_id", "i_name", "i_price", "i_data"}
	warehouseCols = []string{"w_id", "w_name", "w_street_1", "w_street_2", "w_city", "w_state", "w_zip", "w_tax", "w_ytd"}
	districtCols  = []string{"d_id", "d_w_id", "d_name", "d_street_1", "d_street_2", "d_city", "d_state", "d_zip", "d_tax", "d_ytd", "d_next_o_id"}
	stockCols     = []string{"s_i_id", "s_w_id", "s_quantity", "s_dist_01", "s_dist_02", "s_dist_03", "s_dist_04", "s_dist_05",
		"s_dist_06", "s_dist_07", "s_dist_08", "s_dist_09", "s_dist_10", "s_ytd", "s_order_cnt", "s_remote_cnt", "s_data"}
	customerCols = []string{"c_id", "c_d_id", "c_w_id", "c_first", "c_middle", "c_last", "c_street_1", "c_street_2",
		"c_city", "c_state", "c_zip", "c_phone", "c_since", "c_credit", "c_credit_lim", "c_discount", "c_balance",
		"c_ytd_payment", "c_payment_cnt", "c_delivery_cnt", "c_data"}
	historyCols   = []string{"h_c_id", "h_c_d_id", "h_c_w_id", "h_d_id", "h_w_id", "h_date", "h_amount", "h_data"}
	ordersCols    = []string{"o_id", "o_d_id", "o_w_id", "o_c_id", "o_entry_d", "o_carrier_id", "o_ol_cnt", "o_all_local"}
	newOrderCols  = []string{"no_o_id", "no_d_id", "no_w_id"}
	orderLineCols = []string{"ol_o_id", "ol_d_id", "ol_w_id", "ol_number", "ol_i_id", "ol_supply_w_id", "ol_delivery_d",
		"ol_quantity", "ol_amount", "ol_dist_info"}
)

// loadUnits lists the units of the initial population of n warehouses (4.3.3.1), largest
// first so that the loaders finish together.
func loadUnits(n int) []*unit {
	var orders, parts, customers, warehouses []*unit
	for p := range numParts {
		parts = append(parts, itemUnit(p))
	}
	for w := 1; w <= n; w++ {
		warehouses = append(warehouses, warehouseUnit(w))
		for p := range numParts {
			parts = append(parts, stockUnit(w, p))
		}
		for d := 1; d <= numDist; d++ {
			orders = append(orders, ordersUnit(w, d))
			customers = append(customers, customerUnit(w, d))
		}
	}
	units := append(orders, parts...)
	units = append(units, customers...)
	return append(units, warehouses...)
}

func itemUnit(p int) *unit {
	return &unit{key: fmt.Sprintf("item/%d", p), n: partItems, start: func(g *gen, _ time.Time) func(int, *batch) {
		return func(i int, b *batch) {
			b.add("item", itemCols, p*partItems+i+1, g.uniform(1, 10000), g.astring(14, 24), g.fixed(100, 10000, 2), g.data())
		}
	}}
}

// address returns street 1 and 2, city, state and zip.
func (g *gen) address() []any {
	return []any{g.astring(10, 20), g.astring(10, 20), g.astring(10, 20), g.state(), g.zip()}
}

func warehouseUnit(w int) *unit {
	return &unit{key: fmt.Sprintf("warehouse/%d", w), n: 1, start: func(g *gen, _ time.Time) func(int, *batch) {
		return func(_ int, b *batch) {
			row := append([]any{w, g.astring(6, 10)}, g.address()...)
			b.add("warehouse", warehouseCols, append(row, g.fixed(0, 2000, 4), "300000.00")...)
			for d := 1; d <= numDist; d++ {
				row := append([]any{d, w, g.astring(6, 10)}, g.address()...)
				b.add("district", districtCols, append(row, g.fixed(0, 2000, 4), "30000.00", numOrders+1)...)
			}
		}
	}}
}

func stockUnit(w, p int) *unit {
	return &unit{key: fmt.Sprintf("stock/%d/%d", w, p), n: partItems, start: func(g *gen, _ time.Time) func(int, *batch) {
		return func(i int, b *batch) {
			row := make([]any, 0, len(stockCols))
			row = append(row, p*partItems+i+1, w, g.uniform(10, 100))
			for range numDist {
				row = append(row, g.astring(24, 24))
			}
			b.add("stock", stockCols, append(row, 0, 0, 0, g.data())...)
		}
	}}
}

func customerUnit(w, d int) *unit {
	return &unit{key: fmt.Sprintf("customer/%d/%d", w, d), n: numCust, start: func(g *gen, now time.Time) func(int, *batch) {
		return func(i int, b *batch) {
			c := i + 1
			last := c - 1
			if c > 1000 {
				last = g.nurand(255, cLastLoad, 0, 999)
			}
			credit := "GC"
			if g.r.IntN(10) == 0 {
				credit = "BC"
			}
			row := make([]any, 0, len(customerCols))
			row = append(row, c, d, w, g.astring(8, 16), "OE", lastName(last))
			row = append(row, g.address()...)
			row = append(row, g.nstring(16, 16), now, credit, "50000.00", g.fixed(0, 5000, 4), "-10.00", "10.00", 1, 0,
				g.astring(300, 500))
			b.add("customer", customerCols, row...)
			b.add("history", historyCols, c, d, w, d, w, now, "10.00", g.astring(12, 24))
		}
	}}
}

func ordersUnit(w, d int) *unit {
	return &unit{key: fmt.Sprintf("orders/%d/%d", w, d), n: numOrders, start: func(g *gen, now time.Time) func(int, *batch) {
		custs := g.perm(numCust)
		return func(i int, b *batch) {
			o := i + 1
			cnt := olCount(w, d, o)
			delivered := o < firstNewOD
			var carrier, deliveryD any // NULL while undelivered
			if delivered {
				carrier, deliveryD = g.uniform(1, 10), now
			}
			b.add("orders", ordersCols, o, d, w, custs[i], now, carrier, cnt, 1)
			if !delivered {
				b.add("new_order", newOrderCols, o, d, w)
			}
			for n := 1; n <= cnt; n++ {
				amount := "0.00"
				if !delivered {
					amount = g.fixed(1, 999999, 2)
				}
				b.add("order_line", orderLineCols, o, d, w, n, g.uniform(1, numItems), w, deliveryD, 5, amount, g.astring(24, 24))
			}
		}
	}}
}
