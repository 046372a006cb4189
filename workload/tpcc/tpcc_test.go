package tpcc

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

func TestNURandRangeAndSkew(t *testing.T) {
	g := newGen(1)
	for _, tc := range []struct{ a, x, y int }{{255, 0, 999}, {1023, 1, 3000}, {8191, 1, 100000}} {
		n := tc.y - tc.x + 1
		counts := make([]int, n)
		draws := 200 * n
		if draws > 2000000 {
			draws = 2000000
		}
		for range draws {
			v := g.nurand(tc.a, 123%(tc.a+1), tc.x, tc.y)
			if v < tc.x || v > tc.y {
				t.Fatalf("NURand(%d, %d, %d) = %d, out of range", tc.a, tc.x, tc.y, v)
			}
			counts[v-tc.x]++
		}
		// A uniform draw's counts have a coefficient of variation of about
		// 1/sqrt(draws/n); NURand's OR of two uniform values makes some values several
		// times likelier than others, so its counts spread far more.
		mean := float64(draws) / float64(n)
		var ss float64
		for _, c := range counts {
			ss += (float64(c) - mean) * (float64(c) - mean)
		}
		cv := math.Sqrt(ss/float64(n)) / mean
		uniformCV := 1 / math.Sqrt(mean)
		if cv < 5*uniformCV {
			t.Errorf("NURand(%d, %d, %d): coefficient of variation %.3f, a uniform draw's is %.3f: not skewed", tc.a, tc.x, tc.y, cv, uniformCV)
		}
	}
}

func TestNURandFormula(t *testing.T) {
	// With A = 0 the OR contributes only the uniform draw, so NURand is a rotation by C of
	// a uniform value: every result must still be in range, and C = 0 gives the identity.
	g := newGen(2)
	for range 1000 {
		if v := g.nurand(0, 0, 1, 10); v < 1 || v > 10 {
			t.Fatalf("NURand(0, 1, 10) = %d", v)
		}
	}
}

func TestCLastRun(t *testing.T) {
	g := newGen(3)
	for load := 0; load <= 255; load++ {
		for range 20 {
			run := cLastRun(load, g.r.IntN)
			d := run - load
			if d < 0 {
				d = -d
			}
			if run < 0 || run > 255 || d < 65 || d > 119 || d == 96 || d == 112 {
				t.Fatalf("C_LAST load %d, run %d: delta %d breaks 2.1.6.1", load, run, d)
			}
		}
	}
	c := theRunConstants()
	if c.cID < 0 || c.cID > 1023 || c.olIID < 0 || c.olIID > 8191 {
		t.Errorf("run constants out of range: %+v", c)
	}
}

func TestLastName(t *testing.T) {
	for n, want := range map[int]string{0: "BARBARBAR", 999: "EINGEINGEING", 371: "PRICALLYOUGHT", 40: "BARPRESBAR", 568: "ESEANTIATION"} {
		if got := lastName(n); got != want {
			t.Errorf("lastName(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestStrings(t *testing.T) {
	g := newGen(4)
	original := 0
	const n = 20000
	for range n {
		if s := g.astring(8, 16); len(s) < 8 || len(s) > 16 {
			t.Fatalf("a-string [8..16] of length %d", len(s))
		}
		s := g.nstring(16, 16)
		if len(s) != 16 || strings.Trim(s, "0123456789") != "" {
			t.Fatalf("n-string 16: %q", s)
		}
		if z := g.zip(); len(z) != 9 || !strings.HasSuffix(z, "11111") || strings.Trim(z, "0123456789") != "" {
			t.Fatalf("zip %q", z)
		}
		d := g.data()
		if len(d) < 26 || len(d) > 50 {
			t.Fatalf("data of length %d", len(d))
		}
		if strings.Contains(d, "ORIGINAL") {
			original++
		}
	}
	if frac := float64(original) / n; frac < 0.09 || frac > 0.11 {
		t.Errorf("%.3f of data strings hold ORIGINAL, want 0.10", frac)
	}
}

func TestDecimalAndCents(t *testing.T) {
	for _, tc := range []struct {
		v, scale int
		want     string
	}{{-1000, 2, "-10.00"}, {5, 4, "0.0005"}, {2000, 4, "0.2000"}, {30000000, 2, "300000.00"}, {7, 0, "7"}, {-5, 2, "-0.05"}} {
		if got := decimal(tc.v, tc.scale); got != tc.want {
			t.Errorf("decimal(%d, %d) = %q, want %q", tc.v, tc.scale, got, tc.want)
		}
	}
	for _, tc := range []struct {
		s    string
		want int64
	}{{"12.34", 1234}, {"-10.00", -1000}, {"5", 500}, {"0.5", 50}, {"31738.49", 3173849}} {
		var n pgtype.Numeric
		if err := n.Scan(tc.s); err != nil {
			t.Fatal(err)
		}
		if got := cents(n); got != tc.want {
			t.Errorf("cents(%s) = %d, want %d", tc.s, got, tc.want)
		}
	}
	if cents(pgtype.Numeric{}) != 0 {
		t.Error("cents(NULL) != 0")
	}
}

func TestDeckMix(t *testing.T) {
	term := NewTerminal(1, 1, 1, 5)
	for deck := range 3 {
		counts := map[TxType]int{}
		for range 100 {
			counts[term.Next().Type]++
		}
		want := map[TxType]int{NewOrder: 45, Payment: 43, OrderStatus: 4, Delivery: 4, StockLevel: 4}
		for _, typ := range TxTypes {
			if counts[typ] != want[typ] {
				t.Errorf("deck %d: %d %v, want %d", deck, counts[typ], typ, want[typ])
			}
		}
	}
	if got := []string{NewOrder.String(), Payment.String(), OrderStatus.String(), Delivery.String(), StockLevel.String()}; strings.Join(got, ",") != "newOrder,payment,orderStatus,delivery,stockLevel" {
		t.Errorf("names %v", got)
	}
}

func TestKeyingAndThink(t *testing.T) {
	term := NewTerminal(1, 1, 1, 6)
	sum := map[TxType]time.Duration{}
	n := map[TxType]int{}
	for range 100000 {
		tx := term.Next()
		if tx.Keying != keying[tx.Type] {
			t.Fatalf("%v keying %v", tx.Type, tx.Keying)
		}
		if tx.Think < 0 || tx.Think > 10*thinkMean[tx.Type] {
			t.Fatalf("%v think %v, mean %v", tx.Type, tx.Think, thinkMean[tx.Type])
		}
		sum[tx.Type] += tx.Think
		n[tx.Type]++
	}
	for _, typ := range TxTypes {
		mean := sum[typ] / time.Duration(n[typ])
		if d := math.Abs(float64(mean-thinkMean[typ])) / float64(thinkMean[typ]); d > 0.05 {
			t.Errorf("%v mean think %v, want about %v", typ, mean, thinkMean[typ])
		}
	}
}

func TestInputs(t *testing.T) {
	for _, warehouses := range []int{1, 5} {
		term := NewTerminal(warehouses, 2%warehouses+1, 3, 7)
		var orders, rollbacks, lines, remoteLines, payments, remotePayments, byName int
		for range 20000 {
			no := term.newOrder()
			orders++
			if len(no.lines) < 5 || len(no.lines) > 15 {
				t.Fatalf("%d order lines", len(no.lines))
			}
			if no.d < 1 || no.d > 10 || no.c < 1 || no.c > 3000 {
				t.Fatalf("new order %+v", no)
			}
			for i, l := range no.lines {
				lines++
				if l.item == unusedItem {
					if i != len(no.lines)-1 {
						t.Fatal("unused item number not on the last line")
					}
					rollbacks++
				} else if l.item < 1 || l.item > numItems {
					t.Fatalf("item %d", l.item)
				}
				if l.qty < 1 || l.qty > 10 {
					t.Fatalf("quantity %d", l.qty)
				}
				if l.supplyW != term.w {
					remoteLines++
					if l.supplyW < 1 || l.supplyW > warehouses {
						t.Fatalf("supply warehouse %d", l.supplyW)
					}
				}
			}
			p := term.payment()
			payments++
			if p.cust.w != p.w {
				remotePayments++
			}
			if p.cust.last != "" {
				byName++
			}
		}
		if f := float64(rollbacks) / float64(orders); f < 0.005 || f > 0.015 {
			t.Errorf("%d warehouses: %.4f of New-Orders roll back, want 0.01", warehouses, f)
		}
		if f := float64(byName) / float64(payments); f < 0.57 || f > 0.63 {
			t.Errorf("%d warehouses: %.3f of Payments by name, want 0.60", warehouses, f)
		}
		fl, fp := float64(remoteLines)/float64(lines), float64(remotePayments)/float64(payments)
		if warehouses == 1 && (remoteLines > 0 || remotePayments > 0) {
			t.Errorf("1 warehouse: %d remote lines, %d remote payments", remoteLines, remotePayments)
		}
		if warehouses > 1 && (fl < 0.007 || fl > 0.013 || fp < 0.13 || fp > 0.17) {
			t.Errorf("%d warehouses: remote lines %.4f (want 0.01), remote payments %.3f (want 0.15)", warehouses, fl, fp)
		}
	}
}

// TestRowsToLoad generates a warehouse's population (without a database) and checks the
// per-table counts of 4.3.3.1 and that RowsToLoad is their sum.
func TestRowsToLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 600,000 rows")
	}
	counts := map[string]int64{}
	now := time.Now()
	var total int64
	var ordersOf [numDist + 1]int64
	for _, u := range loadUnits(1) {
		next := u.start(newGen(seedOf(u.key)), now)
		var b batch
		for i := range u.n {
			next(i, &b)
			for _, tr := range b.tables {
				counts[tr.name] += int64(len(tr.rows))
				if tr.name == "orders" {
					for _, r := range tr.rows {
						ordersOf[r[1].(int)] += int64(r[6].(int))
					}
				}
			}
			total += int64(b.rows)
			b.reset()
		}
	}
	want := map[string]int64{"item": 100000, "warehouse": 1, "district": 10, "stock": 100000, "customer": 30000,
		"history": 30000, "orders": 30000, "new_order": 9000}
	for name, n := range want {
		if counts[name] != n {
			t.Errorf("%s: %d rows, want %d", name, counts[name], n)
		}
	}
	var lines int64
	for _, n := range ordersOf {
		lines += n
	}
	if counts["order_line"] != lines || lines < 5*30000 || lines > 15*30000 {
		t.Errorf("order_line: %d rows, sum of o_ol_cnt %d", counts["order_line"], lines)
	}
	if got := RowsToLoad(1); got != total {
		t.Errorf("RowsToLoad(1) = %d, generated %d", got, total)
	}
	if d := RowsToLoad(3) - RowsToLoad(2); d < 199011+5*30000 || d > 199011+15*30000 {
		t.Errorf("a warehouse adds %d rows", d)
	}
}

func TestInsertSQL(t *testing.T) {
	sql, args := insertSQL("t", []string{"a", "b"}, [][]any{{1, "x"}, {2, nil}})
	if sql != "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)" || len(args) != 4 {
		t.Errorf("%s %v", sql, args)
	}
}
