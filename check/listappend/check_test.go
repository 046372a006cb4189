package listappend_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meridiandb/meridian/check/listappend"
)

func ap(key string, v int) listappend.Op {
	return listappend.Op{Kind: listappend.Append, Key: key, Value: v}
}

// rd is a read that returned vs; with no values it returned the empty list.
func rd(key string, vs ...int) listappend.Op {
	return listappend.Op{Kind: listappend.Read, Key: key, List: append([]int{}, vs...)}
}

// rdUnknown is a read whose result the client never learned.
func rdUnknown(key string) listappend.Op {
	return listappend.Op{Kind: listappend.Read, Key: key}
}

func txn(id int, ops ...listappend.Op) listappend.Txn {
	return listappend.Txn{ID: id, Ops: ops}
}

func aborted(id int, ops ...listappend.Op) listappend.Txn {
	t := txn(id, ops...)
	t.Status = listappend.Aborted
	return t
}

func unknown(id int, ops ...listappend.Op) listappend.Txn {
	t := txn(id, ops...)
	t.Status = listappend.Unknown
	return t
}

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// at gives t a start and end, in seconds after epoch.
func at(start, end int, t listappend.Txn) listappend.Txn {
	t.Start = epoch.Add(time.Duration(start) * time.Second)
	t.End = epoch.Add(time.Duration(end) * time.Second)
	return t
}

// anomaly is an expected anomaly: its kind and the IDs of the transactions involved, in
// any order.
type anomaly struct {
	kind string
	txns []int
}

func (a anomaly) String() string {
	txns := slices.Sorted(slices.Values(a.txns))
	return fmt.Sprintf("%s%v", a.kind, txns)
}

func summarize(as []listappend.Anomaly) []string {
	var s []string
	for _, a := range as {
		s = append(s, anomaly{a.Kind, a.Txns}.String())
	}
	slices.Sort(s)
	return s
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		history  []listappend.Txn
		realtime bool
		want     []anomaly
		// explain holds text that must appear in the explanations.
		explain []string
	}{
		{
			name: "empty history",
		},
		{
			name: "serial appends and reads",
			history: []listappend.Txn{
				txn(1, ap("x", 1)),
				txn(2, rd("x", 1), ap("x", 2), ap("y", 1)),
				txn(3, rd("x", 1, 2), rd("y", 1), rd("z")),
			},
		},
		{
			name: "reads of own appends",
			history: []listappend.Txn{
				txn(1, ap("x", 1), rd("x", 1), ap("x", 2), rd("x", 1, 2)),
				txn(2, rd("x", 1, 2), ap("x", 3), rd("x", 1, 2, 3)),
				txn(3, rd("x", 1, 2, 3)),
			},
		},
		{
			name: "concurrent but serializable",
			history: []listappend.Txn{
				txn(1, rd("x"), ap("y", 1)),
				txn(2, rd("y", 1), ap("x", 1)),
				txn(3, rd("x", 1), rd("y", 1)),
			},
		},
		{
			name: "read with unknown result is ignored",
			history: []listappend.Txn{
				txn(1, ap("x", 1)),
				txn(2, rdUnknown("x"), rd("x", 1)),
			},
		},
		{
			name: "unobserved unknown append is not ordered",
			history: []listappend.Txn{
				unknown(1, ap("x", 1)),
				txn(2, rd("x")),
			},
		},
		{
			name: "observed unknown append",
			history: []listappend.Txn{
				unknown(1, ap("x", 1)),
				txn(2, rd("x", 1)),
			},
		},
		{
			name: "unobserved aborted append",
			history: []listappend.Txn{
				aborted(1, ap("x", 1)),
				txn(2, rd("x")),
			},
		},
		{
			name: "reads of aborted and unknown transactions are not trusted",
			history: []listappend.Txn{
				aborted(1, rd("x", 9)),
				unknown(2, rd("x", 8)),
			},
		},
		{
			name: "invalid op",
			history: []listappend.Txn{
				txn(1, listappend.Op{Kind: 7, Key: "x"}),
			},
			want:    []anomaly{{"invalid-op", []int{1}}},
			explain: []string{"T1 operation 0 has unknown kind 7"},
		},
		{
			name: "duplicate append across transactions",
			history: []listappend.Txn{
				txn(1, ap("x", 1)),
				txn(2, ap("x", 1)),
			},
			want:    []anomaly{{"duplicate-append", []int{1, 2}}},
			explain: []string{"T1 and T2 both appended 1 to key x"},
		},
		{
			name: "duplicate append within a transaction",
			history: []listappend.Txn{
				txn(1, ap("x", 1), ap("x", 1)),
			},
			want:    []anomaly{{"duplicate-append", []int{1}}},
			explain: []string{"T1 appended 1 to key x more than once"},
		},
		{
			name: "garbage read",
			history: []listappend.Txn{
				txn(1, ap("x", 1)),
				txn(2, rd("x", 1, 7)),
			},
			want:    []anomaly{{"garbage-read", []int{2}}},
			explain: []string{"T2 read [1 7] at key x, but no transaction appended 7"},
		},
		{
			name: "duplicate elements",
			history: []listappend.Txn{
				txn(1, ap("x", 1)),
				txn(2, rd("x", 1, 1)),
			},
			want:    []anomaly{{"duplicate-elements", []int{2}}},
			explain: []string{"T2 read [1 1] at key x, which contains 1 more than once"},
		},
		{
			name: "internal: read misses own append",
			history: []listappend.Txn{
				txn(1, ap("x", 1), rd("x")),
			},
			want:    []anomaly{{"internal", []int{1}}},
			explain: []string{"T1 read [] at key x, which does not end with its own earlier appends [1]"},
		},
		{
			name: "internal: read sees own later append",
			history: []listappend.Txn{
				txn(1, rd("x", 1), ap("x", 1)),
			},
			want:    []anomaly{{"internal", []int{1}}},
			explain: []string{"T1 read [1] at key x, which includes 1 before T1 appended it"},
		},
		{
			name: "internal: non-repeatable read",
			history: []listappend.Txn{
				txn(1, ap("x", 1)),
				txn(2, rd("x", 1), rd("x", 1, 2)),
				txn(3, ap("x", 2)),
			},
			want: []anomaly{
				{"internal", []int{2}},
				{"G-single", []int{2, 3}},
			},
			explain: []string{
				"T2 read [1 2] at key x, but its own earlier operations imply [1]",
				"T2 -rw(x)-> T3 -wr(x)-> T2",
			},
		},
		{
			name: "incompatible order",
			history: []listappend.Txn{
				txn(1, ap("x", 1)),
				txn(2, ap("x", 2)),
				txn(3, rd("x", 1, 2)),
				txn(4, rd("x", 2, 1)),
				txn(5, rd("x", 2, 1)),
			},
			want:    []anomaly{{"incompatible-order", []int{3, 4}}},
			explain: []string{"T4 read [2 1] at key x and T3 read [1 2]: neither is a prefix of the other"},
		},
		{
			name: "incompatible read implies no anti-dependency",
			history: []listappend.Txn{
				txn(1, ap("x", 1)),
				txn(2, ap("x", 2)),
				txn(3, ap("x", 3)),
				txn(4, rd("x", 1, 2, 3)),
				txn(5, rd("x", 1, 3)),
			},
			want: []anomaly{{"incompatible-order", []int{4, 5}}},
		},
		{
			name: "G1a aborted read",
			history: []listappend.Txn{
				aborted(1, ap("x", 1), ap("x", 2)),
				txn(2, rd("x", 1, 2)),
			},
			want:    []anomaly{{"G1a", []int{1, 2}}},
			explain: []string{"T2 read [1 2] at key x, but T1, which appended 1 and 2, aborted"},
		},
		{
			name: "G1b intermediate read",
			history: []listappend.Txn{
				txn(1, ap("x", 1), ap("x", 2)),
				txn(2, rd("x", 1)),
			},
			want:    []anomaly{{"G1b", []int{1, 2}}},
			explain: []string{"T2 read [1] at key x, but T1 appended 1 and then 2 to x"},
		},
		{
			name: "G1b intermediate read also closes a cycle once the order is known",
			history: []listappend.Txn{
				txn(1, ap("x", 1), ap("x", 2)),
				txn(2, rd("x", 1)),
				txn(3, rd("x", 1, 2)),
			},
			want: []anomaly{
				{"G1b", []int{1, 2}},
				{"G-single", []int{1, 2}},
			},
		},
		{
			name: "G0 write cycle",
			history: []listappend.Txn{
				txn(1, ap("x", 1), ap("y", 1)),
				txn(2, ap("x", 2), ap("y", 2)),
				txn(3, rd("x", 1, 2), rd("y", 2, 1)),
			},
			want: []anomaly{{"G0", []int{1, 2}}},
			explain: []string{
				"T1 -ww(x)-> T2 -ww(y)-> T1: T1 appended 1 to x immediately before T2 appended 2; " +
					"T2 appended 2 to y immediately before T1 appended 1",
			},
		},
		{
			name: "G1c circular information flow",
			history: []listappend.Txn{
				txn(1, ap("x", 1), rd("y", 1)),
				txn(2, ap("y", 1), rd("x", 1)),
			},
			want: []anomaly{{"G1c", []int{1, 2}}},
			explain: []string{
				"T1 -wr(x)-> T2 -wr(y)-> T1: T2 observed T1's append of 1 to x; T1 observed T2's append of 1 to y",
			},
		},
		{
			name: "G-single read skew",
			history: []listappend.Txn{
				txn(1, ap("x", 1), ap("y", 1)),
				txn(2, rd("x"), rd("y", 1)),
				txn(3, rd("x", 1)),
			},
			want: []anomaly{{"G-single", []int{1, 2}}},
			explain: []string{
				"T2 -rw(x)-> T1 -wr(y)-> T2: T2 read x as empty, but T1 appended its first value, 1; T2 observed T1's append of 1 to y",
			},
		},
		{
			name: "G-single lost update",
			history: []listappend.Txn{
				txn(1, rd("x", 1), ap("x", 2)),
				txn(2, rd("x", 1), ap("x", 3)),
				txn(3, rd("x", 1, 2, 3)),
				txn(4, ap("x", 1)),
			},
			want:    []anomaly{{"G-single", []int{1, 2}}},
			explain: []string{"T2 read x up to 1, but T1 appended the next value, 2"},
		},
		{
			// Both transactions read their own appends; what matters is that each
			// read x empty before appending.
			name: "G-single lost update seen through own reads",
			history: []listappend.Txn{
				txn(1, rd("x"), ap("x", 1), rd("x", 1)),
				txn(2, rd("x"), ap("x", 2), rd("x", 2)),
				txn(3, rd("x", 1, 2)),
			},
			want:    []anomaly{{"G-single", []int{1, 2}}},
			explain: []string{"T2 -rw(x)-> T1 -ww(x)-> T2"},
		},
		{
			name: "G-single with an unknown transaction that was observed",
			history: []listappend.Txn{
				unknown(1, ap("x", 1), ap("y", 1)),
				txn(2, rd("x", 1), rd("y")),
				txn(3, rd("y", 1)),
			},
			want: []anomaly{{"G-single", []int{1, 2}}},
		},
		{
			name: "G2 write skew",
			history: []listappend.Txn{
				txn(1, rd("x"), rd("y"), ap("x", 1)),
				txn(2, rd("x"), rd("y"), ap("y", 1)),
				txn(3, rd("x", 1), rd("y", 1)),
			},
			want:    []anomaly{{"G2", []int{1, 2}}},
			explain: []string{"T1 -rw(y)-> T2 -rw(x)-> T1"},
		},
		{
			name: "G2 across three transactions",
			history: []listappend.Txn{
				txn(1, rd("x"), ap("y", 1)),
				txn(2, rd("y"), ap("z", 1)),
				txn(3, rd("z"), ap("x", 1)),
				txn(4, rd("x", 1), rd("y", 1), rd("z", 1)),
			},
			want:    []anomaly{{"G2", []int{1, 2, 3}}},
			explain: []string{"T1 -rw(x)-> T3 -rw(z)-> T2 -rw(y)-> T1"},
		},
		{
			name: "one report per strongly connected component",
			history: []listappend.Txn{
				txn(1, ap("x", 1), ap("y", 1)),
				txn(2, ap("x", 2), ap("y", 2)),
				txn(3, rd("x", 1, 2), rd("y", 2, 1)),
				txn(4, ap("a", 1), rd("b", 1)),
				txn(5, ap("b", 1), rd("a", 1)),
			},
			want: []anomaly{
				{"G0", []int{1, 2}},
				{"G1c", []int{4, 5}},
			},
		},
		{
			name: "aborted writer takes no part in cycles",
			history: []listappend.Txn{
				aborted(1, ap("x", 1), ap("y", 1)),
				txn(2, rd("x", 1), rd("y")),
				txn(3, rd("y", 1)),
			},
			want: []anomaly{
				{"G1a", []int{1, 2}},
				{"G1a", []int{1, 3}},
			},
		},
		{
			name: "stale read is serializable",
			history: []listappend.Txn{
				at(0, 1, txn(1, ap("x", 1))),
				at(2, 3, txn(2, rd("x"))),
				at(4, 5, txn(3, rd("x", 1))),
			},
		},
		{
			name: "stale read is not strictly serializable",
			history: []listappend.Txn{
				at(0, 1, txn(1, ap("x", 1))),
				at(2, 3, txn(2, rd("x"))),
				at(4, 5, txn(3, rd("x", 1))),
			},
			realtime: true,
			want:     []anomaly{{"G-single-realtime", []int{1, 2}}},
			explain:  []string{"T2 -rw(x)-> T1 -rt-> T2: T2 read x as empty, but T1 appended its first value, 1; T1 ended before T2 started"},
		},
		{
			name: "real time: concurrent transactions are not ordered",
			history: []listappend.Txn{
				at(0, 3, txn(1, ap("x", 1))),
				at(1, 2, txn(2, rd("x"))),
				at(4, 5, txn(3, rd("x", 1))),
			},
			realtime: true,
		},
		{
			name: "real time: ending as another starts is concurrent",
			history: []listappend.Txn{
				at(0, 1, txn(1, ap("x", 1))),
				at(1, 2, txn(2, rd("x"))),
				at(3, 4, txn(3, rd("x", 1))),
			},
			realtime: true,
		},
		{
			name: "real time: transactions without times are not ordered",
			history: []listappend.Txn{
				txn(1, ap("x", 1)),
				txn(2, rd("x")),
				txn(3, rd("x", 1)),
			},
			realtime: true,
		},
		{
			name: "real time: unknown transaction may commit after it ends",
			history: []listappend.Txn{
				at(0, 1, unknown(1, ap("x", 1))),
				at(2, 3, txn(2, rd("x"))),
				at(4, 5, txn(3, rd("x", 1))),
			},
			realtime: true,
		},
		{
			name: "real time: unknown transaction does not hide its predecessors",
			history: []listappend.Txn{
				at(0, 1, txn(1, ap("x", 1))),
				at(2, 3, unknown(2, ap("y", 1))),
				at(4, 5, txn(3, rd("x"), rd("y", 1))),
				at(6, 7, txn(4, rd("x", 1))),
			},
			realtime: true,
			want:     []anomaly{{"G-single-realtime", []int{1, 3}}},
		},
		{
			name: "real time: edges follow the chain of completed transactions",
			history: []listappend.Txn{
				at(0, 1, txn(1, ap("x", 1))),
				at(2, 3, txn(2, ap("y", 1))),
				at(4, 5, txn(3, ap("z", 1))),
				at(6, 7, txn(4, rd("x"))),
				at(8, 9, txn(5, rd("x", 1))),
			},
			realtime: true,
			want:     []anomaly{{"G-single-realtime", []int{1, 2, 3, 4}}},
		},
		{
			name: "G0-realtime",
			history: []listappend.Txn{
				at(2, 3, txn(1, ap("x", 1))),
				at(0, 1, txn(2, ap("x", 2))),
				at(4, 5, txn(3, rd("x", 1, 2))),
			},
			realtime: true,
			want:     []anomaly{{"G0-realtime", []int{1, 2}}},
		},
		{
			name: "G1c-realtime future read",
			history: []listappend.Txn{
				at(2, 3, txn(1, ap("x", 1))),
				at(0, 1, txn(2, rd("x", 1))),
			},
			realtime: true,
			want:     []anomaly{{"G1c-realtime", []int{1, 2}}},
		},
		{
			name: "real time: a cycle without real-time edges is reported as such",
			history: []listappend.Txn{
				at(0, 1, txn(1, ap("x", 1), ap("y", 1))),
				at(2, 3, txn(2, rd("x"), rd("y", 1))),
				at(4, 5, txn(3, rd("x", 1))),
			},
			realtime: true,
			want:     []anomaly{{"G-single", []int{1, 2}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := listappend.CheckWith(tt.history, listappend.CheckOptions{RealTime: tt.realtime})
			var want []string
			for _, a := range tt.want {
				want = append(want, a.String())
			}
			slices.Sort(want)
			if got := summarize(res.Anomalies); !slices.Equal(got, want) {
				t.Errorf("anomalies = %v, want %v\n%s", got, want, dump(res))
			}
			if res.OK != (len(tt.want) == 0) {
				t.Errorf("OK = %v with %d anomalies expected", res.OK, len(tt.want))
			}
			var all strings.Builder
			for _, a := range res.Anomalies {
				all.WriteString(a.Explanation + "\n")
			}
			for _, s := range tt.explain {
				if !strings.Contains(all.String(), s) {
					t.Errorf("no explanation contains %q\n%s", s, dump(res))
				}
			}
		})
	}
}

// TestCheckDoesNotModifyHistory guards against the checker extending read lists in
// place while it tracks a transaction's own appends.
func TestCheckDoesNotModifyHistory(t *testing.T) {
	backing := []int{1, 2, 0, 0}
	h := []listappend.Txn{
		txn(1, ap("x", 1), ap("x", 2)),
		txn(2, listappend.Op{Kind: listappend.Read, Key: "x", List: backing[:2]}, ap("x", 3), ap("x", 4), rd("x", 1, 2, 3, 4)),
	}
	if res := listappend.Check(h); !res.OK {
		t.Fatalf("unexpected anomalies:\n%s", dump(res))
	}
	if !slices.Equal(backing, []int{1, 2, 0, 0}) {
		t.Errorf("backing array of a read changed to %v", backing)
	}
}

func TestStrings(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{listappend.Append.String(), "append"},
		{listappend.Read.String(), "read"},
		{listappend.OpKind(9).String(), "OpKind(9)"},
		{listappend.Committed.String(), "committed"},
		{listappend.Aborted.String(), "aborted"},
		{listappend.Unknown.String(), "unknown"},
		{listappend.Status(9).String(), "Status(9)"},
		{listappend.Anomaly{Kind: "G0", Explanation: "x"}.String(), "G0: x"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func dump(res listappend.Result) string {
	var b strings.Builder
	for _, a := range res.Anomalies {
		fmt.Fprintf(&b, "\t%v %v\n", a.Txns, a)
	}
	return b.String()
}
