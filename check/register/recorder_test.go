package register

import (
	"testing"
	"time"
)

func TestRecorder(t *testing.T) {
	var r Recorder
	start := time.Now()
	w := r.Begin(0, "x", Write, 5, 0)
	c := r.Begin(1, "x", CAS, 6, 5)
	rd := r.Begin(2, "x", Read, 0, 0)
	lost := r.Begin(3, "x", Write, 7, 0)
	gone := r.Begin(4, "x", Write, 8, 0)
	hung := r.Begin(5, "x", Read, 0, 0)
	w.End(0, true)
	c.End(0, false)
	rd.End(5, true)
	lost.Ambiguous()
	gone.Fail()

	h := r.History()
	want := []Op{
		{Client: 0, Key: "x", Kind: Write, Value: 5, OK: true},
		{Client: 1, Key: "x", Kind: CAS, Value: 6, Expect: 5},
		{Client: 2, Key: "x", Kind: Read, Result: 5, OK: true},
		{Client: 3, Key: "x", Kind: Write, Value: 7, Unknown: true},
		{Client: 5, Key: "x", Kind: Read, Unknown: true},
	}
	if len(h) != len(want) {
		t.Fatalf("history has %d operations, want %d: %v", len(h), len(want), h)
	}
	for i, op := range h {
		if op.Call.Before(start) || (!op.Return.IsZero() && op.Return.Before(op.Call)) {
			t.Errorf("op %d: bad interval [%v, %v]", i, op.Call, op.Return)
		}
		if i > 0 && op.Call.Before(h[i-1].Call) {
			t.Errorf("op %d called before op %d", i, i-1)
		}
		op.Call, op.Return = time.Time{}, time.Time{}
		if op != want[i] {
			t.Errorf("op %d = %+v, want %+v", i, op, want[i])
		}
	}
	if !h[3].Return.After(h[3].Call) {
		t.Errorf("ambiguous op lacks the time the client gave up")
	}

	// The hung read is ambiguous in this snapshot, but still in flight.
	hung.End(5, true)
	if h := r.History(); h[4].Unknown || h[4].Result != 5 {
		t.Errorf("read finished after a snapshot = %+v, want it completed", h[4])
	}

	res, err := Check(r.History(), 10*time.Second)
	if err != nil || res.Outcome != Linearizable {
		t.Errorf("Check = %v, %v; want linearizable", res, err)
	}
}

func TestPendingFinishTwice(t *testing.T) {
	finishers := map[string]func(*Pending){
		"End":       func(p *Pending) { p.End(0, true) },
		"Fail":      func(p *Pending) { p.Fail() },
		"Ambiguous": func(p *Pending) { p.Ambiguous() },
	}
	for first, f := range finishers {
		for second, g := range finishers {
			t.Run(first+"/"+second, func(t *testing.T) {
				var r Recorder
				p := r.Begin(0, "x", Write, 1, 0)
				f(p)
				defer func() {
					if recover() == nil {
						t.Errorf("%s after %s did not panic", second, first)
					}
				}()
				g(p)
			})
		}
	}
}
