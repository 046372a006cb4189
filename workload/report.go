package workload

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"
)

// A Result is what a run measured. Its JSON form is `workload run --json`'s output, and its
// field names are stable.
type Result struct {
	// Workload is the workload's name.
	Workload string `json:"workload"`
	// Workers is how many workers ran; Wait, whether they waited keying and think times.
	Workers int  `json:"workers"`
	Wait    bool `json:"wait"`
	// Elapsed is the measured time (after the ramp).
	Elapsed time.Duration `json:"-"`
	// ElapsedSeconds is Elapsed in seconds, for JSON.
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	// Ops are the per-op results, sorted by name.
	Ops []OpResult `json:"ops"`
	// Total sums the ops, without the periodic ones (bank's check): it is the workload's
	// throughput.
	Total OpResult `json:"total"`
	// RetryCauses counts the retried errors by op and cause, most frequent first.
	RetryCauses []RetryCause `json:"retry_causes,omitempty"`
	// Notes are the workload's own lines (Workload.Report).
	Notes []string `json:"notes,omitempty"`
	// Interrupted is set when the run was stopped early from outside (Ctrl-C).
	Interrupted bool `json:"interrupted"`
	// Error is the error that stopped the run, if one did.
	Error string `json:"error,omitempty"`
}

// An OpResult is one op type's counts and latencies over the measured time. Latencies are of
// successful ops, including their retries, in milliseconds.
type OpResult struct {
	Name      string  `json:"name"`
	Count     int64   `json:"count"`
	OpsPerSec float64 `json:"ops_per_sec"`
	Retries   int64   `json:"retries"`
	Errors    int64   `json:"errors"`
	// Periodic marks an op that runs on a schedule beside the workers (not in Total).
	Periodic bool    `json:"periodic,omitempty"`
	MeanMs   float64 `json:"mean_ms"`
	P50Ms    float64 `json:"p50_ms"`
	P90Ms    float64 `json:"p90_ms"`
	P95Ms    float64 `json:"p95_ms"`
	P99Ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
}

// A RetryCause is how often an op was retried for one cause: the SQLSTATE and the error
// message with transaction IDs and key values left out.
type RetryCause struct {
	Op    string `json:"op"`
	Cause string `json:"cause"`
	Count int64  `json:"count"`
}

// maxPrintedCauses is how many retry causes the text report lists.
const maxPrintedCauses = 8

// Op returns the result of the op named name, if any ran.
func (r *Result) Op(name string) (OpResult, bool) {
	for _, o := range r.Ops {
		if o.Name == name {
			return o, true
		}
	}
	return OpResult{}, false
}

// opResult summarizes h and the counts over elapsed.
func opResult(name string, h *Histogram, retries, errs int64, elapsed time.Duration) OpResult {
	o := OpResult{
		Name: name, Count: h.Count(), Retries: retries, Errors: errs,
		MeanMs: ms(h.Mean()), P50Ms: ms(h.Quantile(0.50)), P90Ms: ms(h.Quantile(0.90)),
		P95Ms: ms(h.Quantile(0.95)), P99Ms: ms(h.Quantile(0.99)), MaxMs: ms(h.Max()),
	}
	if elapsed > 0 {
		o.OpsPerSec = float64(h.Count()) / elapsed.Seconds()
	}
	return o
}

// result gathers the run's counts.
func (r *runner) result(w Workload, elapsed time.Duration) *Result {
	elapsed = max(elapsed, 0)
	res := &Result{
		Workload: w.Name(), Workers: r.opts.Workers, Wait: r.opts.Wait,
		Elapsed: elapsed, ElapsedSeconds: elapsed.Seconds(), Ops: []OpResult{},
	}
	var total Histogram
	var retries, errs int64
	for _, n := range r.names() {
		s := r.stats(n)
		s.mu.Lock()
		o := opResult(n, &s.cum, s.retries, s.errors, elapsed)
		o.Periodic = s.periodic
		for c, k := range s.causes {
			res.RetryCauses = append(res.RetryCauses, RetryCause{Op: n, Cause: c, Count: k})
		}
		if !s.periodic {
			total.Merge(&s.cum)
			retries += s.retries
			errs += s.errors
		}
		s.mu.Unlock()
		res.Ops = append(res.Ops, o)
	}
	res.Total = opResult("total", &total, retries, errs, elapsed)
	slices.SortFunc(res.RetryCauses, func(a, b RetryCause) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.Op, b.Op), cmp.Compare(a.Cause, b.Cause))
	})
	if r.fatal != nil {
		res.Error = r.fatal.Error()
	}
	res.Notes = w.Report(res)
	return res
}

// WriteText writes the final report as a table: one line per op, a total line, then the
// workload's notes.
func (r *Result) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "\n%s: %d workers, %.1fs measured", r.Workload, r.Workers, r.Elapsed.Seconds())
	if r.Wait {
		fmt.Fprintf(w, ", with keying and think times")
	}
	if r.Interrupted {
		fmt.Fprintf(w, " (interrupted)")
	}
	fmt.Fprintln(w)
	// Numbers align right; names, padded to one width, read left-aligned.
	width := len("total")
	for _, o := range r.Ops {
		width = max(width, len(o.Name))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\tcount\tops/s\tretries\terrors\tp50(ms)\tp90(ms)\tp95(ms)\tp99(ms)\tmax(ms)\t\n", width, "op")
	line := func(o OpResult) {
		fmt.Fprintf(tw, "%-*s\t%d\t%.1f\t%d\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n",
			width, o.Name, o.Count, o.OpsPerSec, o.Retries, o.Errors, o.P50Ms, o.P90Ms, o.P95Ms, o.P99Ms, o.MaxMs)
	}
	for _, o := range r.Ops {
		line(o)
	}
	line(r.Total)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.RetryCauses) > 0 {
		fmt.Fprintln(w, "retries by cause:")
		for i, c := range r.RetryCauses {
			if i == maxPrintedCauses {
				fmt.Fprintf(w, "  (%d more causes in --json)\n", len(r.RetryCauses)-i)
				break
			}
			fmt.Fprintf(w, "  %7d  %s: %s\n", c.Count, c.Op, c.Cause)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, n)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "stopped by an error: %s\n", r.Error)
	}
	return nil
}

// WriteJSON writes the result as one JSON object on one line.
func (r *Result) WriteJSON(w io.Writer) error {
	return json.NewEncoder(w).Encode(r)
}
