// Command httpserve serves a directory over HTTP/1.1 with keep-alive on
// 127.0.0.1, for side-by-side pull benchmarks. It prints the URL, then serves
// until killed.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback only)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: httpserve [-addr=127.0.0.1:PORT] DIR")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("http://%s/\n", ln.Addr())
	log.Fatal(http.Serve(ln, http.FileServer(http.Dir(flag.Arg(0)))))
}
