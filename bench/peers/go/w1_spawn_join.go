// W1 spawn-join (shared BENCH.md): start N goroutines (1,000,000), each returns its index
// through its slot of a results slice; wait for all with a sync.WaitGroup; print the sum.
//
//	GOMAXPROCS=1 w1_spawn_join [-tasks=1000000]
//
//	built with rss.go: go build -o w1_spawn_join w1_spawn_join.go rss.go
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"
)

func work(i int64) int64 { return i }

func main() {
	n := flag.Int64("tasks", 1_000_000, "tasks to spawn")
	flag.Parse()
	rssBefore := peakRSS()
	start := time.Now()
	results := make([]int64, *n)
	var wg sync.WaitGroup
	wg.Add(int(*n))
	for i := int64(0); i < *n; i++ {
		go func(i int64) {
			defer wg.Done()
			results[i] = work(i)
		}(i)
	}
	wg.Wait()
	var sum int64
	for _, r := range results {
		sum += r
	}
	elapsed := time.Since(start).Seconds()
	rssAfter := peakRSS()
	if sum != *n*(*n-1)/2 {
		fmt.Fprintln(os.Stderr, "w1: wrong sum", sum)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"workload": "W1", "runtime": "go", "tasks": *n, "sum": sum, "seconds": elapsed,
		"ns_per_task": elapsed * 1e9 / float64(*n), "peak_rss_bytes": rssAfter,
		"bytes_per_task": float64(rssAfter-rssBefore) / float64(*n),
	})
}
