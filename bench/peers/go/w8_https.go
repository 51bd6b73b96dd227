// W8 HTTPS hello peer: Go's net/http server over crypto/tls (TLS 1.3, the certificate
// given), a goroutine per connection, keep-alive by default; run with GOMAXPROCS=1.
//
//	GOMAXPROCS=1 w8_https --port=PORT --cert=CERT --key=KEY
package main

import (
	"crypto/tls"
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
	cert := flag.String("cert", "", "certificate chain (PEM)")
	key := flag.String("key", "", "private key (PEM)")
	flag.Parse()
	http.HandleFunc("/", hello)
	server := &http.Server{
		Addr:      fmt.Sprintf("127.0.0.1:%d", *port),
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS13},
		// HTTP/1.1 only, as the other peers (and wrk) speak it.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	err := server.ListenAndServeTLS(*cert, *key)
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
