package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/meridiandb/meridian/check/register"
)

// regSlotSpan separates the rows of the register slots, one range each.
const regSlotSpan = 1_000_000

// TestRegisterLinearizable treats rows of a table as registers, four at a time, each on a
// range of its own in a three-node cluster, and has clients, each connected to its own node (or another when
// that one is down), read them, write them and compare-and-set them with single statements
// while a nemesis kills a random node with SIGKILL and restarts it on the same store, a few
// times. The history, with the time each operation was called and returned, must be
// linearizable (check/register, with porcupine). An operation whose outcome the client did
// not learn (the connection died, or it timed out) is recorded as ambiguous: it may have
// taken effect at any time after its call, or never.
//
// It runs for 20 seconds, or $MERIDIAN_CHAOS_DURATION.
func TestRegisterLinearizable(t *testing.T) {
	load := chaosDuration(t, 20*time.Second)
	c := startChaosCluster(t, 3)
	ctx := context.Background()
	// Registers are used a few seconds each, by all clients together, then left for fresh
	// ones: checking linearizability is exponential in the operations of one register
	// that are concurrent or of unknown outcome (an operation of unknown outcome stays
	// concurrent with everything after it), and linearizability is local, so many short
	// histories check as much as one long one at a fraction of the cost. For the same
	// reason a register is also left once regMaxAmbiguous of its operations ended with an
	// unknown outcome. Register (slot, generation) is row slot*regSlotSpan + generation;
	// slot s lives in range s+1 of the table.
	const slots = 4
	const period = 3 * time.Second
	gens := 2*int(load/period) + 40
	regs := &regRotation{gens: gens, period: period, amb: map[int]int{}}
	setup, err := pgx.Connect(ctx, c.nodes[0].url)
	if err != nil {
		t.Fatal(err)
	}
	stmts := []string{
		"CREATE TABLE regs (k INT PRIMARY KEY, v INT)",
		fmt.Sprintf("ALTER TABLE regs SPLIT AT VALUES (%d), (%d), (%d)", regSlotSpan, 2*regSlotSpan, 3*regSlotSpan),
	}
	var rows []string
	for s := 0; s < slots; s++ {
		for g := 0; g < gens; g++ {
			rows = append(rows, fmt.Sprintf("(%d, 0)", s*regSlotSpan+g))
			if len(rows) == 500 || s == slots-1 && g == gens-1 {
				stmts = append(stmts, "INSERT INTO regs VALUES "+strings.Join(rows, ", "))
				rows = nil
			}
		}
	}
	for _, stmt := range stmts {
		if _, err := setup.Exec(ctx, stmt); err != nil {
			t.Fatalf("%.100s: %v", stmt, err)
		}
	}
	setup.Close(ctx)

	var (
		rec     register.Recorder
		mu      sync.Mutex
		nextVal = map[int]int{} // values written are unique per register, which keeps the check fast
		outcome counters        // operation kind and how it ended
		errs    counters        // by SQLSTATE
		took    latencies
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	for i := range slots {
		regs.since[i] = time.Now()
	}
	const clients = 6
	for cl := 0; cl < clients; cl++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(cl), uint64(time.Now().UnixNano())))
			fc := &failoverConn{urls: c.urls(), pref: cl % len(c.nodes)}
			defer fc.drop()
			lastSeen := map[int]int{} // what this client last read or wrote, to CAS from
			for !closed(stop) {
				conn, err := fc.get(ctx)
				if err != nil {
					errs.add("connect", err)
					time.Sleep(100 * time.Millisecond)
					continue
				}
				k := regs.current(rng.IntN(slots))
				key := strconv.Itoa(k)
				kind := register.Read
				switch p := rng.IntN(10); {
				case p >= 7:
					kind = register.CAS
				case p >= 5:
					kind = register.Write
				}
				var value, expect int
				if kind != register.Read {
					mu.Lock()
					nextVal[k]++
					value = nextVal[k]
					mu.Unlock()
					expect = lastSeen[k]
					if rng.IntN(4) == 0 {
						expect = max(0, value-1-rng.IntN(3)) // may or may not be current
					}
				}
				opCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
				p := rec.Begin(cl, key, kind, value, expect)
				began := time.Now()
				var result int
				var ok bool
				switch kind {
				case register.Read:
					err = conn.QueryRow(opCtx, "SELECT v FROM regs WHERE k = $1", k).Scan(&result)
					ok = true
				case register.Write:
					var tag pgconn.CommandTag
					tag, err = conn.Exec(opCtx, "UPDATE regs SET v = $1 WHERE k = $2", value, k)
					if err == nil && tag.RowsAffected() != 1 {
						err = fmt.Errorf("write of %d to register %d changed %d rows", value, k, tag.RowsAffected())
					}
					ok = true
				case register.CAS:
					var tag pgconn.CommandTag
					tag, err = conn.Exec(opCtx, "UPDATE regs SET v = $1 WHERE k = $2 AND v = $3", value, k, expect)
					if err == nil && tag.RowsAffected() > 1 {
						err = fmt.Errorf("cas of register %d changed %d rows", k, tag.RowsAffected())
					}
					ok = err == nil && tag.RowsAffected() == 1
				}
				cancel()
				took.add(time.Since(began))
				if errorClass(err) == "timeout" {
					c.logf("%s of register %s through n%d timed out after %s", kind, key, fc.at+1, time.Since(began).Round(time.Millisecond))
				}
				switch {
				case err == nil:
					p.End(result, ok)
					outcome.add(kind.String()+" ok", nil)
					switch {
					case kind == register.Read:
						lastSeen[k] = result
					case ok:
						lastSeen[k] = value
					default:
						outcome.add("cas failed", nil)
					}
				case kind == register.Read:
					// A read that failed tells nothing.
					p.Fail()
					outcome.add("read failed", nil)
					errs.add(errorClass(err), err)
				case restartable(err):
					// The statement's transaction was rolled back.
					p.Fail()
					outcome.add(kind.String()+" rolled back", nil)
					errs.add(errorClass(err), err)
				default:
					// The connection died, the client gave up waiting, or the server
					// answered with an error that does not say the write did not happen.
					p.Ambiguous()
					regs.ambiguous(k)
					outcome.add(kind.String()+" ambiguous", nil)
					errs.add(errorClass(err), err)
				}
				if err != nil {
					fc.afterError(err)
				}
			}
		}()
	}
	kills := c.runLoad(load, 7, stop, &wg)

	history := rec.History()
	regs.mu.Lock()
	used, retired := 0, regs.retired
	for i := range slots {
		used += regs.gen[i] + 1
	}
	regs.mu.Unlock()
	t.Logf("%s of load, %d kills: %d operations recorded on %d registers (%d left early for ambiguity): %s",
		load, kills, len(history), used, retired, &outcome)
	t.Logf("latency of an operation: %s", &took)
	t.Logf("errors by SQLSTATE: %s", &errs)
	if s := errs.firstErrors(); s != "" {
		t.Logf("first error of each kind:\n%s", s)
	}
	if outcome.get("read ok") == 0 || outcome.get("write ok")+outcome.get("cas ok") == 0 {
		t.Errorf("too few operations completed to check anything")
	}
	if b, err := json.Marshal(history); err == nil {
		_ = os.WriteFile(filepath.Join(c.logDir, "register-history.json"), b, 0o644)
	}
	viz := filepath.Join(c.logDir, "register-history.html")
	began := time.Now()
	res, err := register.CheckWithOptions(history, time.Minute, register.CheckOptions{VisualizePath: viz})
	if err != nil {
		t.Errorf("checking: %v", err)
	}
	switch res.Outcome {
	case register.Linearizable:
		t.Logf("the history of %d operations is linearizable (checked in %s)", len(history), time.Since(began).Round(time.Millisecond))
	case register.NotLinearizable:
		t.Errorf("the history is not linearizable; keys %v:\n%s\nvisualization: %s", res.Keys, res.Explanation, res.Visualization)
	default:
		t.Errorf("the checker reached no verdict: %s", res.Explanation)
	}
}

// regMaxAmbiguous is how many operations of unknown outcome a register takes before the
// clients move on to a fresh one.
const regMaxAmbiguous = 3

// regRotation says which register of each slot the clients use.
type regRotation struct {
	gens   int // rows per slot
	period time.Duration

	mu      sync.Mutex
	gen     [4]int       // by slot, the generation in use
	since   [4]time.Time // by slot, when it came into use
	amb     map[int]int  // by register, operations of unknown outcome
	retired int          // registers left for ambiguity
}

// current returns the row of the register of slot in use now.
func (r *regRotation) current(slot int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.since[slot]) >= r.period {
		r.advance(slot)
	}
	return slot*regSlotSpan + r.gen[slot]
}

// ambiguous records an operation of unknown outcome on register k.
func (r *regRotation) ambiguous(k int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.amb[k]++
	slot := k / regSlotSpan
	if r.amb[k] == regMaxAmbiguous && k == slot*regSlotSpan+r.gen[slot] {
		r.advance(slot)
		r.retired++
	}
}

func (r *regRotation) advance(slot int) {
	if r.gen[slot] < r.gens-1 {
		r.gen[slot]++
	}
	r.since[slot] = time.Now()
}
