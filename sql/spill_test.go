package sql

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/meridiandb/meridian/sql/pgerror"
	"github.com/meridiandb/meridian/sql/types"
)

// TestSpillDatumRoundTrip: every kind of value a row holds comes back from a sort's
// temporary file as it went in.
func TestSpillDatumRoundTrip(t *testing.T) {
	dec := func(s string) *apd.Decimal {
		d, _, err := apd.NewFromString(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	json, err := types.ParseJSON(`{"a": [1, 2.50, "x", null, true], "b": {}}`)
	if err != nil {
		t.Fatal(err)
	}
	row := []types.Datum{
		nil, true, false, int64(-1 << 62), 3.25, dec("1.50"), dec("-0"), dec("NaN"), dec("1E+5"),
		"text with \x00 inside", []byte{0, 1, 255},
		time.Date(2026, 11, 29, 1, 2, 3, 456789000, time.UTC),
		time.Date(1969, 7, 20, 20, 17, 0, 0, time.FixedZone("", -5*3600)),
		types.UUID{1, 2, 3, 15: 16}, types.TimeOfDay(86_399_999_999),
		types.Oid{ID: 1259, Name: "pg_class"}, types.Interval{Months: -14, Days: 3, Micros: -1},
		json, types.Array{Elems: []types.Datum{int64(1), nil, int64(3)}},
		types.Record{"a", int64(2), types.Array{Elems: []types.Datum{"b"}}},
	}
	f, err := newSpillFile(t.TempDir(), &diskBudget{limit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	if err := f.add(row); err != nil {
		t.Fatal(err)
	}
	if err := f.endRun(); err != nil {
		t.Fatal(err)
	}
	got, err := f.reader(f.runs[0], 0).next()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(row) {
		t.Fatalf("read back %d values, want %d", len(got), len(row))
	}
	for i := range row {
		same := reflect.DeepEqual(got[i], row[i])
		switch want := row[i].(type) {
		case *apd.Decimal:
			g := got[i].(*apd.Decimal)
			same = g.Form == want.Form && g.Negative == want.Negative && g.Exponent == want.Exponent && g.Coeff.Cmp(&want.Coeff) == 0
		case time.Time:
			g := got[i].(time.Time)
			_, gotOff := g.Zone()
			_, wantOff := want.Zone()
			same = g.Equal(want) && gotOff == wantOff
		case types.JSON:
			same = string(types.AppendJSON(nil, got[i].(types.JSON))) == string(types.AppendJSON(nil, want))
		}
		if !same {
			t.Errorf("value %d: wrote %#v, read %#v", i, row[i], got[i])
		}
	}

	if err := f.add([]types.Datum{struct{}{}}); !errors.Is(err, errCannotSpill) {
		t.Fatalf("spilling a value of an unknown type: %v, want errCannotSpill", err)
	}
}

// TestSpillMergeRuns merges more runs than are merged at once (so in passes), of random
// lengths with many equal keys, and checks that the rows come out in order, each once, and
// equal keys in the order they were written (the sort is stable).
func TestSpillMergeRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, runs := range []int{1, spillFanIn, spillFanIn*spillFanIn + 3} {
		t.Run(fmt.Sprintf("runs=%d", runs), func(t *testing.T) {
			f, err := newSpillFile(t.TempDir(), &diskBudget{limit: 1 << 30})
			if err != nil {
				t.Fatal(err)
			}
			defer f.close()
			byKey := func(a, b []types.Datum) int { return cmp.Compare(a[0].(int64), b[0].(int64)) }
			written := 0
			for range runs {
				var run [][]types.Datum
				for range rng.IntN(20) {
					run = append(run, []types.Datum{int64(rng.IntN(50)), int64(written)})
					written++
				}
				// A run is sorted and stable, as the sort writes it.
				slices.SortStableFunc(run, byKey)
				for _, row := range run {
					if err := f.add(row); err != nil {
						t.Fatal(err)
					}
				}
				if err := f.endRun(); err != nil {
					t.Fatal(err)
				}
			}
			var prev []types.Datum
			read := 0
			seen := make(map[int64]bool)
			err = f.mergeRuns(byKey, func(row []types.Datum) (bool, error) {
				if prev != nil {
					if c := byKey(prev, row); c > 0 || c == 0 && prev[1].(int64) > row[1].(int64) {
						return false, fmt.Errorf("row %v after %v", row, prev)
					}
				}
				if seen[row[1].(int64)] {
					return false, fmt.Errorf("row %v twice", row)
				}
				seen[row[1].(int64)] = true
				prev = row
				read++
				return true, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if read != written {
				t.Fatalf("merged %d rows, wrote %d", read, written)
			}
		})
	}
}

// TestSpillDiskFull: a sort whose disk fills up fails with 53100, as PostgreSQL's does.
func TestSpillDiskFull(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full here: %v", err)
	}
	f := &spillFile{disk: &diskBudget{limit: 1 << 30}, f: full, w: bufio.NewWriterSize(full, 16)}
	defer f.close()
	err = f.add([]types.Datum{"a row longer than the sixteen bytes of the buffer"})
	if err == nil {
		err = f.endRun()
	}
	var pe *pgerror.Error
	if !errors.As(err, &pe) || pe.Code != pgerror.CodeDiskFull {
		t.Fatalf("writing to a full disk: %v, want 53100", err)
	}
}

// TestSpillDiskBudget: temporary files stop at the node's limit with 53100, and give their
// bytes back when closed.
func TestSpillDiskBudget(t *testing.T) {
	disk := &diskBudget{limit: 4 << 10}
	sorted, err := newSpillFile(t.TempDir(), disk)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := newPartitionFile(t.TempDir(), disk, 4)
	if err != nil {
		t.Fatal(err)
	}
	row := []types.Datum{strings.Repeat("x", 100)}
	for range 20 { // 2 KB of the 4
		if err := sorted.add(row); err != nil {
			t.Fatal(err)
		}
	}
	var pe *pgerror.Error
	for i := 0; ; i++ {
		err := parts.add(0, row)
		if err == nil {
			err = parts.flush(0)
		}
		if errors.As(err, &pe) && pe.Code == pgerror.CodeDiskFull {
			break
		}
		if err != nil || i > 100 {
			t.Fatalf("after %d rows partitioned: %v, want 53100", i, err)
		}
	}
	if used := disk.used.Load(); used > disk.limit {
		t.Fatalf("%d bytes held, over the limit of %d", used, disk.limit)
	}
	if err := sorted.close(); err != nil {
		t.Fatal(err)
	}
	if err := parts.close(); err != nil {
		t.Fatal(err)
	}
	if used := disk.used.Load(); used != 0 {
		t.Fatalf("%d bytes still held after every file closed", used)
	}
}
