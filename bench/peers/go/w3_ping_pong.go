// W3 ping-pong (shared BENCH.md): two goroutines pass an int through two channels of
// capacity 1, 1,000,000 round trips. Reports ns per round trip.
//
//	GOMAXPROCS=1 w3_ping_pong [-trips=1000000]
//
//	built with rss.go: go build -o w3_ping_pong w3_ping_pong.go rss.go
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	trips := flag.Int64("trips", 1_000_000, "round trips")
	flag.Parse()
	start := time.Now()
	there := make(chan int64, 1)
	back := make(chan int64, 1)
	go func() {
		for i := int64(0); i < *trips; i++ {
			v := <-there
			back <- v + 1
		}
	}()
	last := int64(-1)
	for i := int64(0); i < *trips; i++ {
		there <- i
		last = <-back
	}
	elapsed := time.Since(start).Seconds()
	if last != *trips {
		fmt.Fprintln(os.Stderr, "w3: wrong last value", last)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"workload": "W3", "runtime": "go", "round_trips": *trips, "seconds": elapsed,
		"ns_per_round_trip": elapsed * 1e9 / float64(*trips), "peak_rss_bytes": peakRSS(),
	})
}
