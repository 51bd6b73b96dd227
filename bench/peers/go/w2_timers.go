// W2 timers (shared BENCH.md): N goroutines (1,000,000) each sleep (i*7919) % 1000 ms;
// wait for all with a sync.WaitGroup. Reports the wall time (ideal 1.0 s) and peak RSS
// per sleeping goroutine.
//
//	GOMAXPROCS=1 w2_timers [-tasks=1000000]
//
//	built with rss.go: go build -o w2_timers w2_timers.go rss.go
package main

import (
	"encoding/json"
	"flag"
	"os"
	"sync"
	"time"
)

func main() {
	n := flag.Int64("tasks", 1_000_000, "sleeping goroutines")
	flag.Parse()
	rssBefore := peakRSS()
	start := time.Now()
	var wg sync.WaitGroup
	wg.Add(int(*n))
	for i := int64(0); i < *n; i++ {
		go func(i int64) {
			defer wg.Done()
			time.Sleep(time.Duration((i*7919)%1000) * time.Millisecond)
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	rssAfter := peakRSS()
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"workload": "W2", "runtime": "go", "tasks": *n, "seconds": elapsed,
		"peak_rss_bytes": rssAfter, "bytes_per_task": float64(rssAfter-rssBefore) / float64(*n),
	})
}
