// natsload keeps a NATS server busy for the bench harness's nats workload:
// CONNS connections, each publishing small messages as fast as the server
// takes them, and a few subscribers draining them, so that a SIGQUIT sent
// to the server often lands on a thread running a goroutine. It prints
// "ready" once every connection is up and runs until killed.
//
//	natsload nats://127.0.0.1:4222 200
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: natsload URL CONNS")
		os.Exit(2)
	}
	url := os.Args[1]
	conns, err := strconv.Atoi(os.Args[2])
	if err != nil || conns < 1 {
		fmt.Fprintln(os.Stderr, "CONNS must be a positive number")
		os.Exit(2)
	}
	var received atomic.Uint64
	for i := 0; i < 4; i++ {
		nc, err := nats.Connect(url)
		if err != nil {
			fmt.Fprintln(os.Stderr, "subscriber:", err)
			os.Exit(1)
		}
		if _, err := nc.Subscribe("load.>", func(*nats.Msg) { received.Add(1) }); err != nil {
			fmt.Fprintln(os.Stderr, "subscribe:", err)
			os.Exit(1)
		}
	}
	// Connect every publisher before any publishes: on a small machine the
	// first publishers would otherwise starve the later connects.
	pubs := make([]*nats.Conn, conns)
	for i := range pubs {
		nc, err := nats.Connect(url)
		if err != nil {
			fmt.Fprintln(os.Stderr, "publisher:", err)
			os.Exit(1)
		}
		pubs[i] = nc
	}
	payload := make([]byte, 128)
	for i, nc := range pubs {
		subject := fmt.Sprintf("load.%d", i)
		go func() {
			for {
				// A lost connection ends this publisher only; the
				// server is about to be killed by the harness anyway.
				if nc.Publish(subject, payload) != nil {
					return
				}
			}
		}()
	}
	fmt.Println("ready")
	for {
		time.Sleep(time.Second)
		fmt.Fprintln(os.Stderr, "received", received.Load())
	}
}
