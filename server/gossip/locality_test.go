package gossip

import (
	"maps"
	"strings"
	"testing"
)

func TestParseLocality(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    map[string]string
		wantErr string // substring of the error; "" means success
	}{
		{in: "", want: map[string]string{}},
		{in: "   ", want: map[string]string{}},
		{in: "region=us-east1", want: map[string]string{"region": "us-east1"}},
		{in: "region=us-east1,zone=a", want: map[string]string{"region": "us-east1", "zone": "a"}},
		{in: " region = us-east1 , zone=a ", want: map[string]string{"region": "us-east1", "zone": "a"}},
		{in: "cloud=gce,region=europe-west1,zone=europe-west1-b,rack=r_12.3", want: map[string]string{
			"cloud": "gce", "region": "europe-west1", "zone": "europe-west1-b", "rack": "r_12.3"}},
		{in: "dc=east:1/a", want: map[string]string{"dc": "east:1/a"}},

		{in: "region", wantErr: `tier "region" is not of the form key=value`},
		{in: "region=us-east1,zone", wantErr: `tier "zone" is not of the form key=value`},
		{in: "region=us-east1,", wantErr: "tier 2 is empty"},
		{in: ",region=us-east1", wantErr: "tier 1 is empty"},
		{in: "region=us-east1,,zone=a", wantErr: "tier 2 is empty"},
		{in: "=us-east1", wantErr: "empty key"},
		{in: "region=", wantErr: "empty value"},
		{in: "region=a=b", wantErr: "more than one '='"},
		{in: "region=a,region=b", wantErr: `key "region" appears more than once`},
		{in: "re gion=a", wantErr: `key "re gion" has the character ' '`},
		{in: "région=a", wantErr: `key "région" has the character 'é'`},
		{in: "region=us east", wantErr: `value "us east" of key "region" has the character ' '`},
		{in: "region=a\tb", wantErr: `has the character '\t'`},
	} {
		got, err := ParseLocality(tc.in)
		if tc.wantErr != "" {
			if err == nil {
				t.Errorf("ParseLocality(%q) = %v, want an error containing %q", tc.in, got, tc.wantErr)
			} else if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseLocality(%q) error %q, want it to contain %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseLocality(%q): %v", tc.in, err)
			continue
		}
		if !maps.Equal(got, tc.want) {
			t.Errorf("ParseLocality(%q) = %v, want %v", tc.in, got, tc.want)
		}
		// Every valid locality survives a round trip through FormatLocality.
		again, err := ParseLocality(FormatLocality(got))
		if err != nil || !maps.Equal(again, got) {
			t.Errorf("round trip of %q through %q = %v, %v", tc.in, FormatLocality(got), again, err)
		}
	}
}

func TestFormatLocality(t *testing.T) {
	for _, tc := range []struct {
		in   map[string]string
		want string
	}{
		{nil, ""},
		{map[string]string{}, ""},
		{map[string]string{"zone": "a", "region": "us-east1"}, "region=us-east1,zone=a"},
		{map[string]string{"zone": "b", "region": "eu", "cloud": "gce"}, "cloud=gce,region=eu,zone=b"},
	} {
		if got := FormatLocality(tc.in); got != tc.want {
			t.Errorf("FormatLocality(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTagsRoundTrip(t *testing.T) {
	loc := map[string]string{"region": "us-east1", "sql": "tier-named-like-a-tag"}
	tags := map[string]string{"sql": "10.0.0.1:26257", "region": "a-tag-named-like-a-tier"}
	gotLoc, gotTags := decodeTags(encodeTags(loc, tags))
	if !maps.Equal(gotLoc, loc) || !maps.Equal(gotTags, tags) {
		t.Fatalf("decodeTags(encodeTags(%v, %v)) = %v, %v", loc, tags, gotLoc, gotTags)
	}
	if err := validateTags(map[string]string{"loc.region": "x"}); err == nil {
		t.Fatal(`validateTags accepted a tag named "loc.region"`)
	}
}

func TestNodeName(t *testing.T) {
	for _, id := range []uint64{1, 42, 1<<64 - 1} {
		if got, ok := parseNodeName(nodeName(id)); !ok || got != id {
			t.Errorf("parseNodeName(nodeName(%d)) = %d, %v", id, got, ok)
		}
	}
	for _, name := range []string{"", "n", "n0", "n01", "n+1", "x1", "n1a", "n-1", "node1"} {
		if id, ok := parseNodeName(name); ok {
			t.Errorf("parseNodeName(%q) = %d, want it rejected", name, id)
		}
	}
}
