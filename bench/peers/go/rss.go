// What the Go workload programs share; built with each of them:
//
//	go build -o w1_spawn_join w1_spawn_join.go rss.go
package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// peakRSS is the peak resident set size of this program in bytes: VmHWM of
// /proc/self/status (getrusage's Maxrss carries the parent's across fork and exec).
func peakRSS() int64 {
	if f, err := os.Open("/proc/self/status"); err == nil {
		defer f.Close()
		scanner := bufio.NewScanner(f)
		for scanner.Scan() {
			if line := scanner.Text(); strings.HasPrefix(line, "VmHWM:") {
				fields := strings.Fields(strings.TrimPrefix(line, "VmHWM:"))
				if kib, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
					return kib * 1024
				}
			}
		}
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss * 1024
}
