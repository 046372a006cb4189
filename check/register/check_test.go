package register

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// at turns a millisecond offset into a time, so that histories read like
// timelines.
func at(ms int) time.Time { return epoch.Add(time.Duration(ms) * time.Millisecond) }

func read(client int, key string, result, call, ret int) Op {
	return Op{Client: client, Key: key, Kind: Read, Result: result, OK: true, Call: at(call), Return: at(ret)}
}

func write(client int, key string, value, call, ret int) Op {
	return Op{Client: client, Key: key, Kind: Write, Value: value, OK: true, Call: at(call), Return: at(ret)}
}

func cas(client int, key string, expect, value int, ok bool, call, ret int) Op {
	return Op{Client: client, Key: key, Kind: CAS, Expect: expect, Value: value, OK: ok, Call: at(call), Return: at(ret)}
}

// ambiguous turns op into one whose outcome is unknown. It clears Return to
// show that Check does not need it.
func ambiguous(op Op) Op {
	op.Unknown = true
	op.OK = false
	op.Return = time.Time{}
	return op
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		ops     []Op
		initial map[string]int
		want    Outcome
		keys    []string // keys reported as not linearizable
	}{
		{
			name: "empty history",
			want: Linearizable,
		},
		{
			name: "read of the initial value",
			ops:  []Op{read(0, "x", 0, 0, 10)},
			want: Linearizable,
		},
		{
			name: "read of a value never written",
			ops:  []Op{read(0, "x", 1, 0, 10)},
			want: NotLinearizable,
			keys: []string{"x"},
		},
		{
			name:    "read of a configured initial value",
			ops:     []Op{read(0, "x", 7, 0, 10), read(0, "y", 0, 0, 10)},
			initial: map[string]int{"x": 7},
			want:    Linearizable,
		},
		{
			name: "sequential write then read",
			ops:  []Op{write(0, "x", 1, 0, 10), read(1, "x", 1, 20, 30)},
			want: Linearizable,
		},
		{
			name: "stale read after a completed write",
			ops: []Op{
				write(0, "x", 1, 0, 10),
				write(0, "x", 2, 20, 30),
				read(1, "x", 1, 40, 50),
			},
			want: NotLinearizable,
			keys: []string{"x"},
		},
		{
			name: "old value read during a concurrent write",
			ops: []Op{
				write(0, "x", 1, 0, 10),
				write(0, "x", 2, 20, 60),
				read(1, "x", 1, 30, 40),
				read(1, "x", 2, 50, 70),
			},
			want: Linearizable,
		},
		{
			name: "value read going back in time",
			ops: []Op{
				write(0, "x", 1, 0, 10),
				write(0, "x", 2, 20, 60),
				read(1, "x", 2, 30, 40),
				read(2, "x", 1, 45, 55),
			},
			want: NotLinearizable,
			keys: []string{"x"},
		},
		{
			name: "concurrent writes observed in one order",
			ops: []Op{
				write(0, "x", 1, 0, 100),
				write(1, "x", 2, 0, 100),
				read(2, "x", 1, 10, 20),
				read(2, "x", 2, 30, 40),
				read(3, "x", 1, 10, 20),
				read(3, "x", 2, 30, 40),
			},
			want: Linearizable,
		},
		{
			name: "concurrent writes observed in both orders",
			ops: []Op{
				write(0, "x", 1, 0, 100),
				write(1, "x", 2, 0, 100),
				read(2, "x", 1, 10, 20),
				read(2, "x", 2, 30, 40),
				read(3, "x", 2, 10, 20),
				read(3, "x", 1, 30, 40),
			},
			want: NotLinearizable,
			keys: []string{"x"},
		},
		{
			name: "CAS against the current value",
			ops: []Op{
				write(0, "x", 1, 0, 10),
				cas(1, "x", 1, 3, true, 20, 30),
				read(2, "x", 3, 40, 50),
			},
			want: Linearizable,
		},
		{
			name: "CAS succeeding against an overwritten value",
			ops: []Op{
				write(0, "x", 1, 0, 10),
				write(0, "x", 2, 20, 30),
				cas(1, "x", 1, 3, true, 40, 50),
			},
			want: NotLinearizable,
			keys: []string{"x"},
		},
		{
			name: "CAS succeeding while the value is overwritten",
			ops: []Op{
				write(0, "x", 1, 0, 10),
				write(0, "x", 2, 20, 50),
				cas(1, "x", 1, 3, true, 30, 40),
				read(2, "x", 2, 60, 70),
			},
			want: Linearizable,
		},
		{
			name: "CAS failing against the current value",
			ops: []Op{
				write(0, "x", 1, 0, 10),
				cas(1, "x", 1, 3, false, 20, 30),
			},
			want: NotLinearizable,
			keys: []string{"x"},
		},
		{
			name: "CAS failing against another value",
			ops: []Op{
				write(0, "x", 1, 0, 10),
				cas(1, "x", 2, 3, false, 20, 30),
				read(1, "x", 1, 40, 50),
			},
			want: Linearizable,
		},
		{
			name: "ambiguous write later read",
			ops: []Op{
				ambiguous(write(0, "x", 1, 0, 0)),
				read(1, "x", 0, 20, 30),
				read(1, "x", 1, 40, 50),
				read(2, "x", 1, 60, 70),
			},
			want: Linearizable,
		},
		{
			name: "ambiguous write never read",
			ops: []Op{
				ambiguous(write(0, "x", 1, 0, 0)),
				read(1, "x", 0, 20, 30),
				read(2, "x", 0, 40, 50),
			},
			want: Linearizable,
		},
		{
			name: "ambiguous write read, then gone",
			ops: []Op{
				ambiguous(write(0, "x", 1, 0, 0)),
				read(1, "x", 1, 20, 30),
				read(2, "x", 0, 40, 50),
			},
			want: NotLinearizable,
			keys: []string{"x"},
		},
		{
			name: "ambiguous write read before its call",
			ops: []Op{
				read(1, "x", 1, 0, 10),
				ambiguous(write(0, "x", 1, 20, 0)),
			},
			want: NotLinearizable,
			keys: []string{"x"},
		},
		{
			name: "ambiguous write taking effect after later writes",
			ops: []Op{
				ambiguous(write(0, "x", 1, 0, 0)),
				write(1, "x", 2, 20, 30),
				read(1, "x", 2, 40, 50),
				read(2, "x", 1, 60, 70),
			},
			want: Linearizable,
		},
		{
			name: "ambiguous CAS that took effect",
			ops: []Op{
				write(0, "x", 1, 0, 10),
				ambiguous(cas(1, "x", 1, 2, false, 20, 0)),
				read(2, "x", 2, 30, 40),
			},
			want: Linearizable,
		},
		{
			name: "ambiguous CAS that did not take effect",
			ops: []Op{
				write(0, "x", 1, 0, 10),
				ambiguous(cas(1, "x", 1, 2, false, 20, 0)),
				read(2, "x", 1, 30, 40),
				read(2, "x", 1, 50, 60),
			},
			want: Linearizable,
		},
		{
			name: "ambiguous CAS that could not have swapped",
			ops: []Op{
				write(0, "x", 1, 0, 10),
				ambiguous(cas(1, "x", 5, 2, false, 20, 0)),
				read(2, "x", 2, 30, 40),
			},
			want: NotLinearizable,
			keys: []string{"x"},
		},
		{
			name: "ambiguous read is dropped",
			ops: []Op{
				write(0, "x", 1, 0, 10),
				ambiguous(read(1, "x", 99, 20, 0)),
				read(2, "x", 1, 30, 40),
			},
			want: Linearizable,
		},
		{
			name: "keys are independent",
			ops: []Op{
				write(0, "a", 1, 0, 10),
				write(1, "b", 2, 0, 10),
				read(0, "a", 1, 20, 30),
				read(1, "b", 2, 20, 30),
			},
			want: Linearizable,
		},
		{
			name: "only the broken keys are reported",
			ops: []Op{
				write(0, "a", 1, 0, 10),
				write(1, "b", 2, 0, 10),
				write(2, "c", 3, 0, 10),
				read(0, "a", 1, 20, 30),
				read(1, "b", 1, 20, 30),
				read(2, "c", 2, 20, 30),
			},
			want: NotLinearizable,
			keys: []string{"b", "c"},
		},
		{
			name: "equal timestamps are concurrent",
			ops: []Op{
				write(0, "x", 1, 0, 10),
				read(1, "x", 0, 10, 20),
			},
			want: Linearizable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := CheckWithOptions(tt.ops, 10*time.Second, CheckOptions{Initial: tt.initial})
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tt.want {
				t.Fatalf("outcome = %v, want %v\n%s", res.Outcome, tt.want, res.Explanation)
			}
			if !slices.Equal(res.Keys, tt.keys) {
				t.Errorf("keys = %q, want %q", res.Keys, tt.keys)
			}
			if (res.Explanation == "") != (tt.want == Linearizable) {
				t.Errorf("explanation = %q for outcome %v", res.Explanation, res.Outcome)
			}
		})
	}
}

func TestCheckExplanation(t *testing.T) {
	ops := []Op{
		write(0, "x", 1, 0, 10),
		write(0, "x", 2, 20, 30),
		read(1, "x", 1, 40, 50),
		read(1, "y", 0, 40, 50),
	}
	res, err := Check(ops, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("explanation:\n%s", res.Explanation)
	for _, want := range []string{
		`key "x": only 2 of its 3 operations linearize`,
		`client 0 write("x", 2) [+20ms, +30ms]`,
		"the register holds 2",
		`client 1 read("x") -> 1 [+40ms, +50ms]`,
	} {
		if !strings.Contains(res.Explanation, want) {
			t.Errorf("explanation lacks %q", want)
		}
	}
	if strings.Contains(res.Explanation, `"y"`) {
		t.Errorf("explanation mentions a linearizable key")
	}
}

func TestCheckVisualization(t *testing.T) {
	tests := []struct {
		name  string
		ops   []Op
		wrote bool
	}{
		{"linearizable", []Op{write(0, "x", 1, 0, 10), read(1, "x", 1, 20, 30)}, false},
		{"violation", []Op{write(0, "x", 1, 0, 10), read(1, "x", 0, 20, 30), ambiguous(write(7, "x", 5, 5, 0))}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "history.html")
			res, err := CheckWithOptions(tt.ops, 10*time.Second, CheckOptions{VisualizePath: path})
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if !tt.wrote {
				if err == nil || res.Visualization != "" {
					t.Fatalf("visualization written for a linearizable history")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Visualization != path {
				t.Errorf("Visualization = %q, want %q", res.Visualization, path)
			}
			for _, want := range []string{"<html", `write(\"x\", 5) -\u003e ?`, "client 7"} {
				if !strings.Contains(string(b), want) {
					t.Errorf("visualization lacks %q", want)
				}
			}
		})
	}
}

func TestCheckVisualizationError(t *testing.T) {
	ops := []Op{read(0, "x", 1, 0, 10)}
	path := filepath.Join(t.TempDir(), "missing", "history.html")
	res, err := CheckWithOptions(ops, 10*time.Second, CheckOptions{VisualizePath: path})
	if err == nil {
		t.Fatal("no error writing to a missing directory")
	}
	if res.Outcome != NotLinearizable {
		t.Errorf("outcome = %v, want %v along with the error", res.Outcome, NotLinearizable)
	}
}

func TestCheckTimeout(t *testing.T) {
	// Many concurrent writes followed by a read of a value none of them
	// wrote: refuting it means trying every subset of the writes, which
	// cannot finish in time.
	var ops []Op
	for i := range 40 {
		ops = append(ops, write(i, "x", i+1, 0, 10))
	}
	ops = append(ops, read(40, "x", -1, 20, 30))
	res, err := Check(ops, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != Unknown {
		t.Fatalf("outcome = %v, want %v", res.Outcome, Unknown)
	}
}

func TestCheckInvalid(t *testing.T) {
	tests := []struct {
		name string
		op   Op
		want string
	}{
		{"bad kind", Op{Kind: 7, OK: true, Call: at(0), Return: at(1)}, "invalid kind"},
		{"no call time", Op{Kind: Read, OK: true, Return: at(1)}, "no call time"},
		{"no return time", Op{Kind: Write, OK: true, Call: at(5)}, "no return time"},
		{"return before call", Op{Kind: Write, OK: true, Call: at(5), Return: at(1)}, "returned before"},
		{"read not OK", Op{Kind: Read, Call: at(0), Return: at(1)}, "without OK"},
		{"write not OK", Op{Kind: Write, Call: at(0), Return: at(1)}, "without OK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops := []Op{write(0, "x", 1, 0, 10), tt.op}
			_, err := Check(ops, time.Second)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "operation 1") {
				t.Fatalf("error = %v, want one about operation 1 containing %q", err, tt.want)
			}
		})
	}
	// The error stays short whatever the number of bad operations.
	_, err := Check(make([]Op, 1000), time.Second)
	if err == nil || strings.Count(err.Error(), "\n") > maxReportedErrors || !strings.Contains(err.Error(), "990 more") {
		t.Errorf("error for 1000 bad operations = %v, want the first %d and a count of the rest", err, maxReportedErrors)
	}
	// A failed CAS is an outcome, not a malformed operation.
	if _, err := Check([]Op{cas(0, "x", 1, 2, false, 0, 10)}, time.Second); err != nil {
		t.Errorf("failed CAS rejected: %v", err)
	}
}

func TestOpString(t *testing.T) {
	tests := []struct {
		op   Op
		want string
	}{
		{read(1, "k", 5, 0, 1), `client 1 read("k") -> 5`},
		{ambiguous(read(1, "k", 5, 0, 1)), `client 1 read("k") -> ?`},
		{write(2, "k", 5, 0, 1), `client 2 write("k", 5)`},
		{ambiguous(write(2, "k", 5, 0, 1)), `client 2 write("k", 5) -> ?`},
		{cas(3, "k", 1, 2, true, 0, 1), `client 3 cas("k", 1, 2) -> ok`},
		{cas(3, "k", 1, 2, false, 0, 1), `client 3 cas("k", 1, 2) -> fail`},
		{ambiguous(cas(3, "k", 1, 2, true, 0, 1)), `client 3 cas("k", 1, 2) -> ?`},
		{Op{Client: 4, Key: "k", Kind: 9}, `client 4 OpKind(9)("k") -> ?`},
	}
	for _, tt := range tests {
		if got := tt.op.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestCheckExplanationManyKeys(t *testing.T) {
	var ops []Op
	for _, k := range []string{"e", "d", "c", "b", "a"} {
		ops = append(ops, read(0, k, 1, 0, 10))
	}
	res, err := Check(ops, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "c", "d", "e"}; !slices.Equal(res.Keys, want) {
		t.Errorf("keys = %q, want %q", res.Keys, want)
	}
	if n := strings.Count(res.Explanation, "key "); n != maxExplainedKeys {
		t.Errorf("explanation covers %d keys, want %d:\n%s", n, maxExplainedKeys, res.Explanation)
	}
	if !strings.Contains(res.Explanation, "and 2 more keys") || strings.Contains(res.Explanation, `"d"`) {
		t.Errorf("explanation does not stop after %d keys:\n%s", maxExplainedKeys, res.Explanation)
	}
}
