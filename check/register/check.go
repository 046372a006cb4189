package register

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// An Outcome is the verdict of a linearizability check.
type Outcome int

const (
	// Unknown means that the check stopped before reaching a verdict,
	// because its timeout expired.
	Unknown Outcome = iota
	Linearizable
	NotLinearizable
)

func (o Outcome) String() string {
	switch o {
	case Unknown:
		return "unknown"
	case Linearizable:
		return "linearizable"
	case NotLinearizable:
		return "not linearizable"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// CheckOptions adjusts what [CheckWithOptions] assumes and produces.
type CheckOptions struct {
	// Initial holds the values registers start with. A key missing from
	// it starts at 0.
	Initial map[string]int

	// VisualizePath, if not empty, names a file to which an HTML
	// visualization of the history and its longest partial
	// linearizations is written when the history is not linearizable.
	VisualizePath string
}

// A Result is the outcome of [Check], with enough detail to start debugging a
// violation.
type Result struct {
	Outcome Outcome

	// Keys lists, sorted, the keys whose histories are not
	// linearizable. It is empty unless Outcome is NotLinearizable.
	Keys []string

	// Explanation tells, for the first few keys in Keys, how far a
	// linearization gets and which operations it cannot get past; for
	// an Unknown outcome, why there is no verdict.
	Explanation string

	// Visualization is the path of the visualization written, if any.
	Visualization string
}

// Check reports whether ops, a history of operations on registers that start
// at 0, is linearizable. It gives up after timeout and reports [Unknown]; a
// timeout of 0 means none. A violation is searched a second time to explain
// it, which may take up to timeout again. The error is non-nil only if ops is
// malformed.
func Check(ops []Op, timeout time.Duration) (Result, error) {
	return CheckWithOptions(ops, timeout, CheckOptions{})
}

// CheckWithOptions is like [Check], with options. An error writing the
// visualization is returned along with the result.
func CheckWithOptions(ops []Op, timeout time.Duration, opts CheckOptions) (Result, error) {
	h, err := newHistory(ops, opts.Initial)
	if err != nil {
		return Result{}, err
	}
	model := h.newModel()
	switch porcupine.CheckOperationsTimeout(model, h.pops, timeout) {
	case porcupine.Ok:
		return Result{Outcome: Linearizable}, nil
	case porcupine.Unknown:
		return Result{Outcome: Unknown, Explanation: fmt.Sprintf("no verdict within %v", timeout)}, nil
	}

	// The quick check above stops at the first key that fails; a verbose
	// one collects the partial linearizations of every key, which is what
	// the explanation and the visualization are made of. It only runs
	// for violations, which are rare and worth the second pass.
	res := Result{Outcome: NotLinearizable}
	verdict, info := porcupine.CheckOperationsVerbose(model, h.pops, timeout)
	res.Keys, res.Explanation = h.explain(model, info)
	if verdict == porcupine.Unknown {
		res.Explanation = fmt.Sprintf("not linearizable, but gathering details timed out after %v, "+
			"so some keys listed may not have been checked to the end\n%s", timeout, res.Explanation)
	}
	if opts.VisualizePath != "" {
		if err := porcupine.VisualizePath(model, info, opts.VisualizePath); err != nil {
			return res, fmt.Errorf("register: writing visualization: %w", err)
		}
		res.Visualization = opts.VisualizePath
	}
	return res, nil
}

// A history is a validated history translated for porcupine.
type history struct {
	ops     []Op                  // operations to check
	pops    []porcupine.Operation // ops as porcupine sees them; Metadata is the index in ops
	base    time.Time             // earliest call, the origin of porcupine's time
	initial map[string]int
}

func newHistory(ops []Op, initial map[string]int) (*history, error) {
	h := &history{ops: make([]Op, 0, len(ops)), initial: initial}
	var errs []error
	bad := 0
	for i, op := range ops {
		if err := validate(op); err != nil {
			// A systematic mistake would otherwise make an error
			// as long as the history.
			if bad++; bad <= maxReportedErrors {
				errs = append(errs, fmt.Errorf("register: operation %d (%v): %w", i, op, err))
			}
			continue
		}
		if op.Unknown && op.Kind == Read {
			continue
		}
		h.ops = append(h.ops, op)
		if h.base.IsZero() || op.Call.Before(h.base) {
			h.base = op.Call
		}
	}
	if bad > maxReportedErrors {
		errs = append(errs, fmt.Errorf("register: %d more malformed operations", bad-maxReportedErrors))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	// Porcupine draws one row per client id, starting at 0.
	var clients []int
	for _, op := range h.ops {
		clients = append(clients, op.Client)
	}
	slices.Sort(clients)
	clients = slices.Compact(clients)

	h.pops = make([]porcupine.Operation, len(h.ops))
	for i, op := range h.ops {
		// An ambiguous operation never returns, so it can take effect at
		// any moment after its call, including after everything else.
		ret := int64(math.MaxInt64)
		if !op.Unknown {
			ret = int64(op.Return.Sub(h.base))
		}
		row, _ := slices.BinarySearch(clients, op.Client)
		h.pops[i] = porcupine.Operation{
			ClientId: row,
			Input:    input{key: op.Key, kind: op.Kind, value: op.Value, expect: op.Expect},
			Call:     int64(op.Call.Sub(h.base)),
			Output:   output{result: op.Result, ok: op.OK, unknown: op.Unknown},
			Return:   ret,
			Metadata: i,
		}
	}
	return h, nil
}

const maxReportedErrors = 10

func validate(op Op) error {
	switch {
	case op.Kind != Read && op.Kind != Write && op.Kind != CAS:
		return errors.New("invalid kind")
	case op.Call.IsZero():
		return errors.New("no call time")
	case op.Unknown:
		return nil
	case op.Return.IsZero():
		return errors.New("no return time")
	case op.Return.Before(op.Call):
		return errors.New("returned before it was called")
	case op.Kind != CAS && !op.OK:
		return errors.New("completed without OK; an operation that did not complete is either dropped or Unknown")
	}
	return nil
}

// The explanation stays short: the visualization is the place for detail.
const (
	maxExplainedKeys = 3
	maxShownPrefix   = 5
	maxShownNext     = 5
)

// explain lists the keys whose partitions porcupine could not linearize and
// describes where the longest partial linearization of each gets stuck.
func (h *history) explain(model porcupine.Model, info porcupine.LinearizationInfo) ([]string, string) {
	partials := info.PartialLinearizationsOperations()
	var keys []string
	var b strings.Builder
	for p, part := range partition(h.pops) {
		if p >= len(partials) {
			break
		}
		prefix := longest(partials[p])
		if len(prefix) == len(part) {
			continue
		}
		key := part[0].Input.(input).key
		keys = append(keys, key)
		if len(keys) <= maxExplainedKeys {
			h.explainKey(&b, model, key, part, prefix)
		}
	}
	switch n := len(keys) - maxExplainedKeys; {
	case n == 1:
		b.WriteString("and 1 more key\n")
	case n > 1:
		fmt.Fprintf(&b, "and %d more keys\n", n)
	}
	return keys, b.String()
}

// longest picks the longest partial linearization, breaking ties by the
// operations' indexes so that the explanation does not change from run to run.
func longest(partials [][]porcupine.Operation) []porcupine.Operation {
	var best []porcupine.Operation
	for _, l := range partials {
		if c := cmp.Compare(len(l), len(best)); c > 0 || c == 0 && slices.CompareFunc(l, best, compareIndex) < 0 {
			best = l
		}
	}
	return best
}

func compareIndex(a, b porcupine.Operation) int {
	return cmp.Compare(a.Metadata.(int), b.Metadata.(int))
}

func (h *history) explainKey(b *strings.Builder, model porcupine.Model, key string, part, prefix []porcupine.Operation) {
	done := make(map[int]bool, len(prefix))
	state := model.Init()
	for _, op := range prefix {
		done[op.Metadata.(int)] = true
		_, state = model.Step(state, op.Input, op.Output)
	}
	if len(prefix) == 0 {
		fmt.Fprintf(b, "key %q: none of its %d operations linearize; with the register at its initial value %d, none of these can go first:\n",
			key, len(part), h.initial[key])
	} else {
		fmt.Fprintf(b, "key %q: only %d of its %d operations linearize; after\n", key, len(prefix), len(part))
		skip := max(0, len(prefix)-maxShownPrefix)
		if skip > 0 {
			fmt.Fprintf(b, "\t... %d earlier operations\n", skip)
		}
		for _, op := range prefix[skip:] {
			fmt.Fprintf(b, "\t%s\n", h.line(op))
		}
		fmt.Fprintf(b, "the register holds %s, and no linearization goes on from there with any of:\n",
			model.DescribeState(state))
	}

	// Only an operation called before every remaining one has returned
	// could come next.
	var rest []porcupine.Operation
	end := int64(math.MaxInt64)
	for _, op := range part {
		if !done[op.Metadata.(int)] {
			rest = append(rest, op)
			end = min(end, op.Return)
		}
	}
	slices.SortFunc(rest, func(a, b porcupine.Operation) int {
		return cmp.Or(cmp.Compare(a.Call, b.Call), compareIndex(a, b))
	})
	shown := 0
	for _, op := range rest {
		if op.Call > end {
			break
		}
		if shown == maxShownNext {
			b.WriteString("\t...\n")
			break
		}
		fmt.Fprintf(b, "\t%s\n", h.line(op))
		shown++
	}
}

// line describes an operation with its interval, relative to the first call.
func (h *history) line(pop porcupine.Operation) string {
	op := h.ops[pop.Metadata.(int)]
	end := "∞)"
	if !op.Unknown {
		end = fmt.Sprintf("+%v]", op.Return.Sub(h.base))
	}
	return fmt.Sprintf("%v [+%v, %s", op, op.Call.Sub(h.base), end)
}
