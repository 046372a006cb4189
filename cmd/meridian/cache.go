package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// sizeFlag is an amount of memory: bytes with an optional unit (512MiB, 2GB), or a
// percentage of the machine's memory (25%), which is resolved when the flag is set.
type sizeFlag struct {
	text  string
	bytes int64
}

func (c *sizeFlag) String() string { return c.text }
func (c *sizeFlag) Type() string   { return "size" }

func (c *sizeFlag) Set(s string) error {
	n, err := parseSize(s, physicalMemory)
	if err != nil {
		return err
	}
	c.text, c.bytes = s, n
	return nil
}

// diskSizeFlag is an amount of disk, in bytes with an optional unit (32GiB): a percentage,
// which sizeFlag takes of the machine's memory, means nothing for a disk.
type diskSizeFlag struct{ sizeFlag }

func (c *diskSizeFlag) Set(s string) error {
	if strings.HasSuffix(strings.TrimSpace(s), "%") {
		return fmt.Errorf("size %q: give bytes (32GiB), not a percentage", s)
	}
	return c.sizeFlag.Set(s)
}

var byteUnits = []struct {
	suffix string
	scale  int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

// parseSize reads a size in bytes, or a percentage of memory() (which reports 0 when the
// machine's memory is unknown).
func parseSize(s string, memory func() int64) (int64, error) {
	s = strings.TrimSpace(s)
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(pct, 64)
		if err != nil || f <= 0 || f > 100 {
			return 0, fmt.Errorf("size %q: a percentage must be in (0, 100]", s)
		}
		mem := memory()
		if mem <= 0 {
			return 0, fmt.Errorf("size %q: the machine's memory is unknown; give a size in bytes", s)
		}
		return int64(float64(mem) * f / 100), nil
	}
	num, scale := s, int64(1)
	for _, u := range byteUnits {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			num, scale = strings.TrimSpace(v), u.scale
			break
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("size %q: want a positive size such as 512MiB or 2GB, or a percentage of memory such as 25%%", s)
	}
	return int64(f * float64(scale)), nil
}

// physicalMemory is the machine's memory in bytes from /proc/meminfo, or 0 if unknown.
func physicalMemory() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
