package workload

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/pflag"
)

// fake is a workload whose op "op" fails with SQLSTATE 40001 conflicts times before it
// succeeds, after sleeping work; its op number failAt (from 1, 0 for none) fails for good with
// failErr.
type fake struct {
	conflicts int
	work      time.Duration
	failAt    int64
	failErr   error
	monitor   func() error

	calls atomic.Int64
}

func (f *fake) Name() string          { return "fake" }
func (f *fake) Description() string   { return "a test workload" }
func (f *fake) Flags() *pflag.FlagSet { return pflag.NewFlagSet("fake", pflag.ContinueOnError) }
func (f *fake) Validate() error       { return nil }
func (f *fake) Workers(bool) int      { return 2 }
func (f *fake) Init(context.Context, *pgxpool.Pool, InitOptions, func(int64, int64)) error {
	return nil
}
func (f *fake) Check(context.Context, *pgxpool.Pool) error { return nil }
func (f *fake) Report(r *Result) []string {
	return []string{fmt.Sprintf("fake ran %d ops", r.Total.Count)}
}

func (f *fake) Worker(int, int64) Worker { return fakeWorker{f} }

type fakeWorker struct{ f *fake }

func (w fakeWorker) Next() Op {
	attempts := 0
	n := w.f.calls.Add(1)
	return Op{Name: "op", Exec: func(ctx context.Context, _ *pgxpool.Pool) error {
		if attempts++; attempts <= w.f.conflicts {
			// Each conflict names another transaction and key, as Meridian's do.
			msg := fmt.Sprintf(`restart transaction: serialization conflict: another transaction (%08x) wrote to table "t", key (k)=(%d) after this transaction read it`, n, attempts)
			return fmt.Errorf("commit: %w", &pgconn.PgError{Code: "40001", Message: msg})
		}
		if n == w.f.failAt {
			return w.f.failErr
		}
		return sleep(ctx, w.f.work)
	}}
}

// withMonitor adds a periodic op to a fake.
type withMonitor struct{ *fake }

func (m withMonitor) Monitors() []Periodic {
	return []Periodic{{Name: "check", Every: 10 * time.Millisecond, Exec: func(context.Context, *pgxpool.Pool) error { return m.monitor() }}}
}

// noPools stands for connections the fake never uses.
var noPools = []*pgxpool.Pool{nil}

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "40001"}, true},
		{fmt.Errorf("transfer: %w", &pgconn.PgError{Code: "40001"}), true},
		{&pgconn.PgError{Code: "40P01"}, true},
		{&pgconn.PgError{Code: "23505"}, false},
		{&pgconn.PgError{Code: "57014"}, false},
		{errors.New("connection reset"), false},
		{nil, false},
	} {
		if got := Retryable(tc.err); got != tc.want {
			t.Errorf("Retryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestRunRetriesAndRecords(t *testing.T) {
	f := &fake{conflicts: 3, work: time.Millisecond}
	var raw bytes.Buffer
	res, err := Run(context.Background(), f, noPools, RunOptions{Workers: 2, MaxOps: 20, Histograms: &raw})
	if err != nil {
		t.Fatal(err)
	}
	op, ok := res.Op("op")
	if !ok {
		t.Fatalf("no result for op: %+v", res)
	}
	if op.Count != 20 || op.Retries != 60 || op.Errors != 0 {
		t.Fatalf("count %d retries %d errors %d, want 20, 60, 0", op.Count, op.Retries, op.Errors)
	}
	// The latency is the whole op as its user sees it: the work and the backoffs too.
	if op.P50Ms < 1 || op.MaxMs < op.P99Ms || op.P99Ms < op.P50Ms {
		t.Fatalf("latencies p50 %.3f p99 %.3f max %.3f: want p50 ≥ 1ms (the work) and ordered", op.P50Ms, op.P99Ms, op.MaxMs)
	}
	if res.Total.Count != 20 || res.Total.Retries != 60 {
		t.Fatalf("total %+v", res.Total)
	}
	// Sixty conflicts with different transactions on different keys are one cause.
	wantCause := RetryCause{Op: "op", Count: 60,
		Cause: `40001 restart transaction: serialization conflict: another transaction wrote to table "t", key (k)=(…) after this transaction read it`}
	if len(res.RetryCauses) != 1 || res.RetryCauses[0] != wantCause {
		t.Fatalf("retry causes %+v, want [%+v]", res.RetryCauses, wantCause)
	}
	if len(res.Notes) != 1 || res.Notes[0] != "fake ran 20 ops" {
		t.Fatalf("notes %q", res.Notes)
	}
	rows, err := csv.NewReader(&raw).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 21 || strings.Join(rows[0], ",") != "op,start_unix_nanos,latency_micros,retries,error" {
		t.Fatalf("histograms file has %d rows, header %q", len(rows), rows[0])
	}
	for _, row := range rows[1:] {
		if row[0] != "op" || row[3] != "3" || row[4] != "" {
			t.Fatalf("raw row %q", row)
		}
	}
}

func TestRunDuration(t *testing.T) {
	f := &fake{work: time.Millisecond}
	var live bytes.Buffer
	start := time.Now()
	res, err := Run(context.Background(), f, noPools, RunOptions{Workers: 3, Duration: 1500 * time.Millisecond, Live: &live})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if took < 1500*time.Millisecond {
		t.Fatalf("run of 1.5s ended after %v", took)
	}
	if res.ElapsedSeconds < 1.5 || res.Total.Count == 0 || res.Total.OpsPerSec <= 0 || res.Interrupted {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(live.String(), "ops/s(cum)") || !strings.Contains(live.String(), " op ") {
		t.Fatalf("live output lacks the header or the op's line:\n%s", live.String())
	}
}

func TestRunStopsAtFirstError(t *testing.T) {
	f := &fake{failAt: 5, failErr: &pgconn.PgError{Code: "23505", Message: "duplicate key"}}
	var errs bytes.Buffer
	res, err := Run(context.Background(), f, noPools, RunOptions{Workers: 2, MaxOps: 1000, Errors: &errs})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		t.Fatalf("Run returned %v, want the op's error", err)
	}
	if res.Total.Errors != 1 || res.Total.Count >= 1000 || res.Error == "" {
		t.Fatalf("result %+v", res.Total)
	}
	if !strings.Contains(errs.String(), "duplicate key") {
		t.Fatalf("error not printed: %q", errs.String())
	}
}

func TestRunToleratesErrors(t *testing.T) {
	f := &fake{failAt: 5, failErr: errors.New("boom")}
	res, err := Run(context.Background(), f, noPools, RunOptions{Workers: 2, MaxOps: 50, TolerateErrors: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total.Errors != 1 || res.Total.Count != 49 {
		t.Fatalf("count %d errors %d, want 49 and 1", res.Total.Count, res.Total.Errors)
	}
}

func TestRunInvariantViolationStops(t *testing.T) {
	var checks atomic.Int64
	f := withMonitor{&fake{work: time.Millisecond, monitor: func() error {
		if checks.Add(1) == 3 {
			return fmt.Errorf("sum is 99, want 100: %w", ErrInvariant)
		}
		return nil
	}}}
	res, err := Run(context.Background(), f, noPools, RunOptions{Workers: 2, Duration: time.Minute, TolerateErrors: true})
	if !errors.Is(err, ErrInvariant) {
		t.Fatalf("Run returned %v, want the violation", err)
	}
	check, ok := res.Op("check")
	if !ok || !check.Periodic || check.Errors != 1 || check.Count != 2 {
		t.Fatalf("check op %+v", check)
	}
	if res.Total.Count == 0 || res.Total.Errors != 0 {
		t.Fatalf("total %+v should count the workers' ops only", res.Total)
	}
}

func TestRunInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := &fake{work: time.Millisecond}
	time.AfterFunc(200*time.Millisecond, cancel)
	res, err := Run(ctx, f, noPools, RunOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || res.Total.Count == 0 || res.Total.Errors != 0 {
		t.Fatalf("result %+v", res)
	}
}

func TestRunRamp(t *testing.T) {
	f := &fake{work: time.Millisecond}
	res, err := Run(context.Background(), f, noPools, RunOptions{Workers: 2, Ramp: 300 * time.Millisecond, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// Ops started during the ramp are run but not counted.
	if n := f.calls.Load(); res.Total.Count == 0 || res.Total.Count >= n-1 {
		t.Fatalf("counted %d of %d ops", res.Total.Count, n)
	}
}

func TestResultJSON(t *testing.T) {
	res, err := Run(context.Background(), &fake{conflicts: 1}, noPools, RunOptions{Workers: 1, MaxOps: 5})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := res.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if strings.Count(buf.String(), "\n") != 1 {
		t.Fatalf("JSON is not one line: %q", buf.String())
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"workload", "workers", "wait", "elapsed_seconds", "ops", "total", "interrupted", "notes"} {
		if _, ok := got[k]; !ok {
			t.Errorf("no %q in %s", k, buf.String())
		}
	}
	total := got["total"].(map[string]any)
	for _, k := range []string{"name", "count", "ops_per_sec", "retries", "errors", "mean_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms"} {
		if _, ok := total[k]; !ok {
			t.Errorf("no %q in total: %v", k, total)
		}
	}
	if total["count"].(float64) != 5 || total["retries"].(float64) != 5 || got["workload"] != "fake" {
		t.Errorf("unexpected values: %s", buf.String())
	}
	var text bytes.Buffer
	if err := res.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"p99(ms)", "total", "fake ran 5 ops"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
}

func TestProgressLine(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf, false)
	p.Update(100, 1000)
	p.mu.Lock()
	p.start = p.start.Add(-10 * time.Second)
	p.mu.Unlock()
	p.Update(500, 1000)
	p.Finish()
	out := buf.String()
	for _, want := range []string{"50.0%", "500/1000 rows", "40 rows/s", "ETA 12s"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress %q lacks %q", out, want)
		}
	}
	if strings.Contains(out, "\r") {
		t.Errorf("progress to a file redraws with \\r: %q", out)
	}
}
