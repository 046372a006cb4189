package main

import "testing"

func TestParseCacheSize(t *testing.T) {
	mem := func() int64 { return 8 << 30 }
	unknown := func() int64 { return 0 }
	for _, tc := range []struct {
		in     string
		memory func() int64
		want   int64
		err    bool
	}{
		{in: "25%", memory: mem, want: 2 << 30},
		{in: "12.5%", memory: mem, want: 1 << 30},
		{in: "512MiB", memory: mem, want: 512 << 20},
		{in: "2GB", memory: mem, want: 2e9},
		{in: "1.5 GiB", memory: mem, want: 3 << 29},
		{in: "1048576", memory: mem, want: 1 << 20},
		{in: "100B", memory: mem, want: 100},
		{in: "25%", memory: unknown, err: true},
		{in: "0%", memory: mem, err: true},
		{in: "101%", memory: mem, err: true},
		{in: "-5MiB", memory: mem, err: true},
		{in: "lots", memory: mem, err: true},
		{in: "", memory: mem, err: true},
	} {
		got, err := parseSize(tc.in, tc.memory)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}
