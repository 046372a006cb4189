package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseSimulatedLatency(t *testing.T) {
	const ms = time.Millisecond
	east, west, eu := "us-east1", "us-west1", "europe-west1"
	for _, tc := range []struct {
		in      string
		want    map[[2]string]time.Duration // the delay from the first region to the second
		wantErr string                      // substring of the error; "" means success
	}{
		{in: "", want: map[[2]string]time.Duration{{east, west}: 0}},
		{in: "  ", want: map[[2]string]time.Duration{{east, west}: 0}},
		{in: "us-east1:us-west1=35ms", want: map[[2]string]time.Duration{
			{east, west}: 35 * ms, {west, east}: 35 * ms, {east, east}: 0, {east, eu}: 0}},
		{in: "us-east1:us-west1=35ms,us-east1:europe-west1=45ms,us-west1:europe-west1=70ms", want: map[[2]string]time.Duration{
			{east, west}: 35 * ms, {west, east}: 35 * ms, {east, eu}: 45 * ms, {eu, east}: 45 * ms,
			{west, eu}: 70 * ms, {eu, west}: 70 * ms, {eu, eu}: 0, {east, "asia-east1"}: 0}},
		{in: " europe-west1 : us-east1 = 1.5ms , a:b=0s ", want: map[[2]string]time.Duration{
			{east, eu}: 1500 * time.Microsecond, {"a", "b"}: 0, {"b", "a"}: 0}},
		{in: "a:b=1s", want: map[[2]string]time.Duration{{"a", "b"}: time.Second}},

		{in: "a:b=35ms,", wantErr: "entry 2 is empty"},
		{in: "a:b=35ms,,b:c=1ms", wantErr: "entry 2 is empty"},
		{in: "a:b", wantErr: `entry "a:b" is not of the form REGION:REGION=DURATION`},
		{in: "a=35ms", wantErr: `"a" is not two regions separated by one ':'`},
		{in: "a:b:c=35ms", wantErr: `"a:b:c" is not two regions separated by one ':'`},
		{in: ":b=35ms", wantErr: "a region name is empty"},
		{in: "a: =35ms", wantErr: "a region name is empty"},
		{in: "a:a=35ms", wantErr: `both regions are "a"`},
		{in: "a:b=35", wantErr: `entry "a:b=35": time: missing unit`},
		{in: "a:b=", wantErr: `entry "a:b="`},
		{in: "a:b=fast", wantErr: `entry "a:b=fast"`},
		{in: "a:b=-1ms", wantErr: "between 0 and 1s"},
		{in: "a:b=35s", wantErr: "between 0 and 1s"},
		{in: "a:b=35ms,a:b=40ms", wantErr: "the pair a:b is listed more than once"},
		{in: "a:b=35ms,b:a=35ms", wantErr: "the pair a:b is listed more than once"},
	} {
		m, err := parseSimulatedLatency(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parseSimulatedLatency(%q): error %v, want one containing %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseSimulatedLatency(%q): %v", tc.in, err)
			continue
		}
		for pair, want := range tc.want {
			got := m.oneWay(map[string]string{"region": pair[0], "zone": "a"}, map[string]string{"region": pair[1], "zone": "b"})
			if got != want {
				t.Errorf("parseSimulatedLatency(%q): %s → %s is %s, want %s", tc.in, pair[0], pair[1], got, want)
			}
		}
	}
}

// TestSimulatedLatencyFlag: the flag becomes Config.SimulatedLatency only for a node whose
// region it names, and a peer whose locality gossip does not know yet gets no delay.
func TestSimulatedLatencyFlag(t *testing.T) {
	const flag = "us-east1:us-west1=35ms"
	east := map[string]string{"region": "us-east1", "zone": "a"}
	west := map[string]string{"region": "us-west1"}

	if f, err := simulatedLatency("", east); err != nil || f != nil {
		t.Errorf("no flag: got a function (%v), error %v; want neither", f != nil, err)
	}
	f, err := simulatedLatency(flag, east)
	if err != nil || f == nil {
		t.Fatalf("simulatedLatency(%q, %v): function %v, error %v", flag, east, f != nil, err)
	}
	for _, tc := range []struct {
		local, peer map[string]string
		want        time.Duration
	}{
		{east, west, 35 * time.Millisecond},
		{west, east, 35 * time.Millisecond},
		{east, nil, 0},                                                  // peer not gossiped yet
		{east, map[string]string{"zone": "b"}, 0},                       // peer without a region
		{east, map[string]string{"region": "x"}, 0},                     // pair not listed
		{east, map[string]string{"region": "us-east1", "zone": "b"}, 0}, // same region
	} {
		if got := f(tc.local, tc.peer); got != tc.want {
			t.Errorf("%v → %v: %s, want %s", tc.local, tc.peer, got, tc.want)
		}
	}

	for _, tc := range []struct {
		flag     string
		locality map[string]string
		wantErr  string
	}{
		{flag, nil, "give --locality region=..."},
		{flag, map[string]string{"zone": "a"}, "give --locality region=..."},
		{flag, map[string]string{"region": "us-east-1"}, `no pair names this node's region "us-east-1"`},
		{"us-east1:us-west1", east, "not of the form"},
	} {
		if _, err := simulatedLatency(tc.flag, tc.locality); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("simulatedLatency(%q, %v): error %v, want one containing %q", tc.flag, tc.locality, err, tc.wantErr)
		}
	}
}
