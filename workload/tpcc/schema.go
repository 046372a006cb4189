package tpcc

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// tables lists the TPC-C tables in the order they are created (1.3), with the load state
// table last. Dropping goes the same way: there are no foreign keys between them.
var tables = []struct{ name, ddl string }{
	{"warehouse", `CREATE TABLE IF NOT EXISTS warehouse (
	w_id integer NOT NULL,
	w_name varchar(10), w_street_1 varchar(20), w_street_2 varchar(20), w_city varchar(20),
	w_state char(2), w_zip char(9), w_tax numeric(4,4), w_ytd numeric(12,2),
	PRIMARY KEY (w_id))`},
	{"district", `CREATE TABLE IF NOT EXISTS district (
	d_id integer NOT NULL, d_w_id integer NOT NULL,
	d_name varchar(10), d_street_1 varchar(20), d_street_2 varchar(20), d_city varchar(20),
	d_state char(2), d_zip char(9), d_tax numeric(4,4), d_ytd numeric(12,2),
	d_next_o_id integer,
	PRIMARY KEY (d_w_id, d_id))`},
	{"customer", `CREATE TABLE IF NOT EXISTS customer (
	c_id integer NOT NULL, c_d_id integer NOT NULL, c_w_id integer NOT NULL,
	c_first varchar(16), c_middle char(2), c_last varchar(16),
	c_street_1 varchar(20), c_street_2 varchar(20), c_city varchar(20), c_state char(2),
	c_zip char(9), c_phone char(16), c_since timestamp, c_credit char(2),
	c_credit_lim numeric(12,2), c_discount numeric(4,4), c_balance numeric(12,2),
	c_ytd_payment numeric(12,2), c_payment_cnt integer, c_delivery_cnt integer,
	c_data varchar(500),
	PRIMARY KEY (c_w_id, c_d_id, c_id))`},
	// The spec gives HISTORY no primary key (1.3.1): rows need not be unique.
	{"history", `CREATE TABLE IF NOT EXISTS history (
	h_c_id integer, h_c_d_id integer, h_c_w_id integer, h_d_id integer, h_w_id integer,
	h_date timestamp, h_amount numeric(6,2), h_data varchar(24))`},
	{"new_order", `CREATE TABLE IF NOT EXISTS new_order (
	no_o_id integer NOT NULL, no_d_id integer NOT NULL, no_w_id integer NOT NULL,
	PRIMARY KEY (no_w_id, no_d_id, no_o_id))`},
	{"orders", `CREATE TABLE IF NOT EXISTS orders (
	o_id integer NOT NULL, o_d_id integer NOT NULL, o_w_id integer NOT NULL,
	o_c_id integer, o_entry_d timestamp, o_carrier_id integer, o_ol_cnt integer,
	o_all_local integer,
	PRIMARY KEY (o_w_id, o_d_id, o_id))`},
	{"order_line", `CREATE TABLE IF NOT EXISTS order_line (
	ol_o_id integer NOT NULL, ol_d_id integer NOT NULL, ol_w_id integer NOT NULL,
	ol_number integer NOT NULL, ol_i_id integer, ol_supply_w_id integer,
	ol_delivery_d timestamp, ol_quantity integer, ol_amount numeric(6,2),
	ol_dist_info char(24),
	PRIMARY KEY (ol_w_id, ol_d_id, ol_o_id, ol_number))`},
	{"item", `CREATE TABLE IF NOT EXISTS item (
	i_id integer NOT NULL, i_im_id integer, i_name varchar(24), i_price numeric(5,2),
	i_data varchar(50),
	PRIMARY KEY (i_id))`},
	{"stock", `CREATE TABLE IF NOT EXISTS stock (
	s_i_id integer NOT NULL, s_w_id integer NOT NULL, s_quantity integer,
	s_dist_01 char(24), s_dist_02 char(24), s_dist_03 char(24), s_dist_04 char(24),
	s_dist_05 char(24), s_dist_06 char(24), s_dist_07 char(24), s_dist_08 char(24),
	s_dist_09 char(24), s_dist_10 char(24),
	s_ytd numeric(8,0), s_order_cnt integer, s_remote_cnt integer, s_data varchar(50),
	PRIMARY KEY (s_w_id, s_i_id))`},
	// tpcc_load_state records each committed load batch as the range [lo, hi) of one unit's
	// items, written in the batch's own transaction, so a rerun knows exactly what is done.
	{"tpcc_load_state", `CREATE TABLE IF NOT EXISTS tpcc_load_state (
	unit varchar(40) NOT NULL, lo integer NOT NULL, hi integer NOT NULL, nrows integer NOT NULL,
	PRIMARY KEY (unit, lo))`},
}

// indexes are the secondary indexes: customers by name for Payment and Order-Status (2.5.2.2,
// 2.6.2.2), and a customer's orders for Order-Status's latest order (2.6.2.2).
var indexes = []string{
	`CREATE INDEX IF NOT EXISTS customer_name ON customer (c_w_id, c_d_id, c_last, c_first)`,
	`CREATE INDEX IF NOT EXISTS orders_customer ON orders (o_w_id, o_d_id, o_c_id, o_id)`,
}

// createSchema creates whatever tables and indexes are missing, dropping them all first if
// drop is set.
func createSchema(ctx context.Context, pool *pgxpool.Pool, drop bool) error {
	if drop {
		for _, t := range tables {
			if _, err := pool.Exec(ctx, "DROP TABLE IF EXISTS "+t.name); err != nil {
				return fmt.Errorf("drop table %s: %w", t.name, err)
			}
		}
	}
	for _, t := range tables {
		if _, err := pool.Exec(ctx, t.ddl); err != nil {
			return fmt.Errorf("create table %s: %w", t.name, err)
		}
	}
	for _, ix := range indexes {
		if _, err := pool.Exec(ctx, ix); err != nil {
			return fmt.Errorf("create index: %w", err)
		}
	}
	return nil
}
