package main

import (
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// defaultMemoryLimit is SENDOKA_MEMORY_LIMIT's default: a soft limit on the Go runtime's
// memory (heap, stacks, runtime structures) that makes the garbage collector work before
// the heap doubles its live size, so a server whose live heap is tens of MB (a
// 10,000-recipient audience send included) stays under 200 MB of RSS. It is soft: a live
// heap that needs more gets it, with more collection work.
const defaultMemoryLimit = "150MiB"

// applyMemoryLimit sets the runtime's soft memory limit from SENDOKA_MEMORY_LIMIT ("off",
// or a size: 150MiB, 1GiB, 512MB, a number of bytes), unless the GOMEMLIMIT environment
// variable set it already (the runtime read it at start).
func applyMemoryLimit(setting string) error {
	if os.Getenv("GOMEMLIMIT") != "" {
		return nil
	}
	n, err := parseMemoryLimit(setting)
	if err != nil {
		return err
	}
	if n == 0 {
		n = math.MaxInt64 // off: the runtime's default
	}
	debug.SetMemoryLimit(n)
	return nil
}

// parseMemoryLimit reads a size with an optional unit (B, KiB, MiB, GiB, KB, MB, GB), or
// "off" (0).
func parseMemoryLimit(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "off" || s == "0" {
		return 0, nil
	}
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("SENDOKA_MEMORY_LIMIT=%q: a size such as 150MiB or 1GiB, or off", s)
	}
	if n*mult < 32<<20 {
		return 0, fmt.Errorf("SENDOKA_MEMORY_LIMIT=%q: at least 32MiB", s)
	}
	return n * mult, nil
}
