// W9 every core peer: W6's Go net/http server with --work-us µs of CPU work per request
// (spin until the goroutine's thread has used that much CPU time, then answer); run with
// GOMAXPROCS=1 and GOMAXPROCS=2.
//
//	GOMAXPROCS=2 w9_http --port=PORT --work-us=50
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"syscall"
	"unsafe"
)

const clockThreadCPUTimeID = 3 // CLOCK_THREAD_CPUTIME_ID

var workNs int64

// threadCPUNs is clock_gettime(CLOCK_THREAD_CPUTIME_ID): the calling thread's CPU time.
// A raw syscall: it does not block, and the scheduler need not hear of it.
func threadCPUNs() int64 {
	var ts syscall.Timespec
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID,
		uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

// burnCPU spins until this thread has used ns nanoseconds of CPU time. The goroutine is
// locked to its thread meanwhile, so that a preemption cannot move it to another thread
// (whose clock is another's) in the middle.
func burnCPU(ns int64) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	until := threadCPUNs() + ns
	for threadCPUNs() < until {
	}
}

func hello(w http.ResponseWriter, r *http.Request) {
	if workNs > 0 {
		burnCPU(workNs)
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Write([]byte("Hello, World!"))
}

func main() {
	port := flag.Int("port", 0, "port to listen on")
	workUs := flag.Int64("work-us", 0, "µs of CPU time each request burns")
	flag.Parse()
	workNs = *workUs * 1000
	http.HandleFunc("/", hello)
	err := http.ListenAndServe(fmt.Sprintf("127.0.0.1:%d", *port), nil)
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
