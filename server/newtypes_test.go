package server

import (
	"context"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// TestNewTypesThroughPgx sends and receives time, interval, jsonb, json and arrays through
// pgx, which sends parameters and reads results in the binary format for all of them
// (json aside, which pgx reads as text), decoding by the OIDs the server describes.
func TestNewTypesThroughPgx(t *testing.T) {
	n := startTestNode(t, Config{})
	conn := connect(t, n)
	ctx := context.Background()
	_, err := conn.Exec(ctx, `CREATE TABLE nt (id INT8 PRIMARY KEY, tm TIME, iv INTERVAL, jb JSONB, js JSON,
		i4 INT4[], i8 INT8[], tx TEXT[], f8 FLOAT8[], bl BOOL[], ts TIMESTAMPTZ[], dt DATE[], by BYTEA[], nu NUMERIC[], u UUID[])`)
	if err != nil {
		t.Fatal(err)
	}
	tm := pgtype.Time{Microseconds: (13*3600+14*60+15)*1e6 + 500, Valid: true}
	iv := pgtype.Interval{Months: 14, Days: -3, Microseconds: 3_600_000_001, Valid: true}
	jb := map[string]any{"name": "ann", "tags": []any{"a", "b"}, "n": 1.5}
	stamp := time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC)
	day := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
	u := [16]byte{0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11}
	one := int32(1)
	_, err = conn.Exec(ctx, `INSERT INTO nt VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		int64(1), tm, iv, jb, `{"raw":  true}`,
		[]*int32{&one, nil, &one}, []int64{-1, 1 << 40}, []string{"a b", "NULL", `q"uote`, ""}, []float64{1.5, -0.25},
		[]bool{true, false}, []time.Time{stamp}, pgtype.FlatArray[pgtype.Date]{{Time: day, Valid: true}},
		[][]byte{{1, 2}, {}}, []pgtype.Numeric{{Int: big.NewInt(12345), Exp: -2, Valid: true}}, [][16]byte{u})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO nt (id) VALUES (2)`); err != nil {
		t.Fatal(err)
	}

	rows, err := conn.Query(ctx, `SELECT tm, iv, jb, js, i4, i8, tx, f8, bl, ts, dt, by, nu, u FROM nt WHERE id = $1`, int64(1))
	if err != nil {
		t.Fatal(err)
	}
	wantOIDs := []uint32{1083, 1186, 3802, 114, 1007, 1016, 1009, 1022, 1000, 1185, 1182, 1001, 1231, 2951}
	var gotOIDs []uint32
	for _, fd := range rows.FieldDescriptions() {
		gotOIDs = append(gotOIDs, fd.DataTypeOID)
	}
	if !reflect.DeepEqual(gotOIDs, wantOIDs) {
		t.Errorf("RowDescription OIDs %v, want %v", gotOIDs, wantOIDs)
	}
	var (
		gtm  pgtype.Time
		giv  pgtype.Interval
		gjb  map[string]any
		gjs  string
		gi4  []*int32
		gi8  []int64
		gtx  []string
		gf8  []float64
		gbl  []bool
		gts  []time.Time
		gdt  []pgtype.Date
		gby  [][]byte
		gnu  []pgtype.Numeric
		guid [][16]byte
	)
	if !rows.Next() {
		t.Fatalf("no row: %v", rows.Err())
	}
	if err := rows.Scan(&gtm, &giv, &gjb, &gjs, &gi4, &gi8, &gtx, &gf8, &gbl, &gts, &gdt, &gby, &gnu, &guid); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	check := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %#v, want %#v", what, got, want)
		}
	}
	check("time", gtm, tm)
	check("interval", giv, iv)
	check("jsonb", gjb, jb)
	check("json", gjs, `{"raw":  true}`)
	if len(gi4) != 3 || *gi4[0] != 1 || gi4[1] != nil || *gi4[2] != 1 {
		t.Errorf("int4[]: %v", gi4)
	}
	check("int8[]", gi8, []int64{-1, 1 << 40})
	check("text[]", gtx, []string{"a b", "NULL", `q"uote`, ""})
	check("float8[]", gf8, []float64{1.5, -0.25})
	check("bool[]", gbl, []bool{true, false})
	if len(gts) != 1 || !gts[0].Equal(stamp) {
		t.Errorf("timestamptz[]: %v", gts)
	}
	if len(gdt) != 1 || !gdt[0].Time.Equal(day) {
		t.Errorf("date[]: %v", gdt)
	}
	check("bytea[]", gby, [][]byte{{1, 2}, {}})
	if len(gnu) != 1 || gnu[0].Int.Int64() != 12345 || gnu[0].Exp != -2 {
		t.Errorf("numeric[]: %+v", gnu)
	}
	check("uuid[]", guid, [][16]byte{u})

	// NULLs of every new type come back as NULL.
	var nullTime pgtype.Time
	var nullIv pgtype.Interval
	var nullArr []int32
	var nullJSON map[string]any
	if err := conn.QueryRow(ctx, `SELECT tm, iv, i4, jb FROM nt WHERE id = 2`).Scan(&nullTime, &nullIv, &nullArr, &nullJSON); err != nil {
		t.Fatal(err)
	}
	if nullTime.Valid || nullIv.Valid || nullArr != nil || nullJSON != nil {
		t.Errorf("NULLs: %v %v %v %v", nullTime, nullIv, nullArr, nullJSON)
	}

	// = ANY($1) with a slice, as applications write IN lists with pgx.
	var ids []int64
	rows, err = conn.Query(ctx, `SELECT id FROM nt WHERE id = ANY($1) ORDER BY id`, []int64{2, 3, 1})
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if rows.Err() != nil || !reflect.DeepEqual(ids, []int64{1, 2}) {
		t.Fatalf("= ANY($1): %v %v", ids, rows.Err())
	}

	// Parameters typed from context, results of expressions, and operators.
	var (
		name     string
		contains bool
		later    time.Time
		diff     time.Duration
		arr      []string
	)
	err = conn.QueryRow(ctx, `SELECT jb ->> 'name', jb @> $1, now() - interval '1 hour' + $2::interval, $3::timestamptz - $4::timestamptz, tx || $5::text
		FROM nt WHERE id = 1`, map[string]any{"tags": []string{"b"}}, time.Hour, stamp, stamp.Add(-90*time.Minute), "z").
		Scan(&name, &contains, &later, &diff, &arr)
	if err != nil {
		t.Fatal(err)
	}
	if name != "ann" || !contains || time.Since(later) > time.Minute || diff != 90*time.Minute || len(arr) != 5 || arr[4] != "z" {
		t.Errorf("expressions: %q %v %v %v %v", name, contains, later, diff, arr)
	}

	// Parameter descriptions carry the new OIDs.
	sd, err := conn.Prepare(ctx, "params", `SELECT $1::time, $2::interval, $3::jsonb, $4::json, $5::text[], $6::uuid[]`)
	if err != nil {
		t.Fatal(err)
	}
	check("parameter OIDs", sd.ParamOIDs, []uint32{1083, 1186, 3802, 114, 1009, 2951})

	// Errors keep their SQLSTATEs through the driver.
	for _, c := range []struct {
		sql  string
		args []any
		code string
	}{
		{`SELECT $1::int4[]`, []any{[][]int32{{1, 2}, {3, 4}}}, "0A000"},
		{`SELECT '{"a":'::jsonb`, nil, "22P02"},
		{`SELECT '{1,'::int[]`, nil, "22P02"},
		{`SELECT interval 'soon'`, nil, "22007"},
		{`CREATE TABLE k (j JSONB PRIMARY KEY)`, nil, "0A000"},
		{`SELECT jb = js FROM nt`, nil, "42883"},
	} {
		_, err := conn.Exec(ctx, c.sql, c.args...)
		if pgCode(err) != c.code {
			t.Errorf("%s: error %v, want %s", c.sql, err, c.code)
		}
	}

	// The same values in the text format, as psql and the simple protocol see them.
	res := conn.PgConn().ExecParams(ctx, `SELECT tm, iv, jb, i4, tx FROM nt WHERE id = 1`, nil, nil, nil, []int16{pgx.TextFormatCode}).Read()
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	var texts []string
	for _, v := range res.Rows[0] {
		texts = append(texts, string(v))
	}
	check("text format", texts, []string{"13:14:15.0005", "1 year 2 mons -3 days +01:00:00.000001",
		`{"n": 1.5, "name": "ann", "tags": ["a", "b"]}`, "{1,NULL,1}", `{"a b","NULL","q\"uote",""}`})
}
