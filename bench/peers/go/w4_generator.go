// W4 generator (shared BENCH.md). Go 1.19 has no generators; its idiom for one is a push
// iterator, a function that calls `yield` for each value (the shape Go 1.23 names
// iter.Seq and drives with range-over-func). Delegation is a sequence that ranges over
// another and yields what it gets, so a value passes through every level of the chain:
// the suite gives the delegated sum fewer values (-deep-values). A channel fed by a
// goroutine, the older idiom, costs ~100x more per value.
//
//	GOMAXPROCS=1 w4_generator [-values=10000000] [-deep-values=N] [-depth=1000]
//
//	built with rss.go: go build -o w4_generator w4_generator.go rss.go
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"
)

type seq func(yield func(int64) bool)

func count(n int64) seq {
	return func(yield func(int64) bool) {
		for i := int64(0); i < n; i++ {
			if !yield(i) {
				return
			}
		}
	}
}

// delegate yields everything inner yields: `yield from` in Go's idiom.
func delegate(inner seq) seq {
	return func(yield func(int64) bool) {
		inner(func(v int64) bool { return yield(v) })
	}
}

func timedSum(s seq) (int64, float64) {
	start := time.Now()
	var sum int64
	s(func(v int64) bool {
		sum += v
		return true
	})
	return sum, time.Since(start).Seconds()
}

func main() {
	n := flag.Int64("values", 10_000_000, "values in the plain sum")
	deepN := flag.Int64("deep-values", 10_000_000, "values in the delegated sum")
	depth := flag.Int("depth", 1000, "levels of delegation")
	flag.Parse()
	plainSum, plainS := timedSum(count(*n))
	s := count(*deepN)
	for level := 0; level < *depth; level++ {
		s = delegate(s)
	}
	deepSum, deepS := timedSum(s)
	if plainSum != *n*(*n-1)/2 || deepSum != *deepN*(*deepN-1)/2 {
		fmt.Fprintln(os.Stderr, "w4: wrong sums", plainSum, deepSum)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"workload": "W4", "runtime": "go", "values": *n, "seconds": plainS,
		"ns_per_value": plainS * 1e9 / float64(*n), "depth": *depth, "deep_values": *deepN,
		"deep_seconds": deepS, "deep_ns_per_value": deepS * 1e9 / float64(*deepN),
		"peak_rss_bytes": peakRSS(),
	})
}
