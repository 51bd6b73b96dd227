// W6 HTTP hello peer: Go's net/http server (a goroutine per connection, keep-alive by
// default); run with GOMAXPROCS=1.
//
//	GOMAXPROCS=1 w6_http --port=PORT
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
)

func hello(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	w.Write([]byte("Hello, World!"))
}

func main() {
	port := flag.Int("port", 0, "port to listen on")
	flag.Parse()
	http.HandleFunc("/", hello)
	err := http.ListenAndServe(fmt.Sprintf("127.0.0.1:%d", *port), nil)
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
