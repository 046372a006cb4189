package sql_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	// Zone names must work on machines without system time zone data, as the binary's do.
	_ "time/tzdata"
)

// TestTimeZoneParameterStatus: SET TimeZone is reported to the client (ParameterStatus), a
// SET LOCAL's value is reported and then its revert at the end of the transaction, and
// timestamptz values read and print in the session zone in the text format while the binary
// format, an instant, is unaffected.
func TestTimeZoneParameterStatus(t *testing.T) {
	n := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn := connectPgx(t, n)
	pc := conn.PgConn()
	if got := pc.ParameterStatus("TimeZone"); got != "UTC" {
		t.Fatalf("TimeZone at startup = %q", got)
	}
	if _, err := conn.Exec(ctx, "SET TIME ZONE 'america/new_york'"); err != nil {
		t.Fatal(err)
	}
	if got := pc.ParameterStatus("TimeZone"); got != "America/New_York" {
		t.Fatalf("TimeZone after SET = %q", got)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE ev (id INT PRIMARY KEY, at TIMESTAMPTZ)"); err != nil {
		t.Fatal(err)
	}
	// A zoneless literal, and a zoneless text parameter, are New York times.
	if _, err := conn.Exec(ctx, "INSERT INTO ev VALUES (1, '2024-07-01 08:00')"); err != nil {
		t.Fatal(err)
	}
	if res := pc.ExecParams(ctx, "INSERT INTO ev VALUES (2, $1)", [][]byte{[]byte("2024-01-15 07:00")}, []uint32{1184}, nil, nil).Read(); res.Err != nil {
		t.Fatal(res.Err)
	}
	want := map[int]time.Time{
		1: time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC),
		2: time.Date(2024, 1, 15, 12, 0, 0, 0, time.UTC),
	}
	wantText := map[int]string{1: "2024-07-01 08:00:00-04", 2: "2024-01-15 07:00:00-05"}
	for id := 1; id <= 2; id++ {
		var bin time.Time
		if err := conn.QueryRow(ctx, "SELECT at FROM ev WHERE id = $1", id).Scan(&bin); err != nil {
			t.Fatal(err)
		}
		if !bin.Equal(want[id]) {
			t.Errorf("row %d in binary: %s, want %s", id, bin, want[id])
		}
		var text string
		if err := conn.QueryRow(ctx, "SELECT at FROM ev WHERE id = $1", pgx.QueryResultFormats{pgx.TextFormatCode}, id).Scan(&text); err != nil {
			t.Fatal(err)
		}
		if text != wantText[id] {
			t.Errorf("row %d in text: %q, want %q", id, text, wantText[id])
		}
	}
	// A binary timestamptz parameter is an instant, whatever the zone.
	var id int
	if err := conn.QueryRow(ctx, "SELECT id FROM ev WHERE at = $1", want[2]).Scan(&id); err != nil || id != 2 {
		t.Fatalf("lookup by instant: %d, %v", id, err)
	}

	// SET LOCAL is reported, and so is its end.
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SET LOCAL TimeZone = 'Asia/Tokyo'"); err != nil {
		t.Fatal(err)
	}
	if got := pc.ParameterStatus("TimeZone"); got != "Asia/Tokyo" {
		t.Fatalf("TimeZone in the transaction = %q", got)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := pc.ParameterStatus("TimeZone"); got != "America/New_York" {
		t.Fatalf("TimeZone after the transaction = %q", got)
	}
	// An unknown zone is refused with the parameter named.
	_, err = conn.Exec(ctx, "SET TimeZone = 'Atlantis/Capital'")
	if pe := pgErr(err); pe.Code != "22023" || pe.Message != `invalid value for parameter "TimeZone": "Atlantis/Capital"` {
		t.Fatalf("got %v", err)
	}
	// application_name is reported too.
	if _, err := conn.Exec(ctx, "SET application_name = 'reporter'"); err != nil {
		t.Fatal(err)
	}
	if got := pc.ParameterStatus("application_name"); got != "reporter" {
		t.Fatalf("application_name = %q", got)
	}
}

// TestStartupParameters: settings in the startup packet (JDBC sends TimeZone and DateStyle
// there) apply to the session, are reported back, and are what RESET returns to.
func TestStartupParameters(t *testing.T) {
	n := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := pgconn.ParseConfig(n.SQLURL("root"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["TimeZone"] = "Europe/Berlin"
	cfg.RuntimeParams["extra_float_digits"] = "3"
	cfg.RuntimeParams["application_name"] = "startup"
	c, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if got := c.ParameterStatus("TimeZone"); got != "Europe/Berlin" {
		t.Fatalf("TimeZone = %q", got)
	}
	if got := c.ParameterStatus("application_name"); got != "startup" {
		t.Fatalf("application_name = %q", got)
	}
	rows, err := query(ctx, c, "SET TimeZone = 'UTC'; RESET TimeZone; SELECT current_setting('TimeZone'), current_setting('extra_float_digits'), '2024-07-01 12:00Z'::timestamptz")
	if err != nil {
		t.Fatal(err)
	}
	if got := rows[0]; got[0] != "Europe/Berlin" || got[1] != "3" || got[2] != "2024-07-01 14:00:00+02" {
		t.Fatalf("got %q", got)
	}

	// A bad value in the startup packet refuses the connection, as in PostgreSQL.
	cfg.RuntimeParams["TimeZone"] = "Atlantis/Capital"
	_, err = pgconn.ConnectConfig(ctx, cfg)
	if pe := pgErr(err); pe.Code != "22023" || pe.Severity != "FATAL" {
		t.Fatalf("got %v", err)
	}
}
