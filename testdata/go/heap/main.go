// heap keeps N MiB (first argument, default 64) of live, non-zero data
// reachable from a global, then waits for SIGUSR1 ("wait", the default) or
// crashes ("crash").
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

type chunk struct {
	id   int
	data []byte
	next *chunk
}

var live *chunk

func main() {
	mib := 64
	if len(os.Args) > 1 {
		if v, err := strconv.Atoi(os.Args[1]); err == nil {
			mib = v
		}
	}
	mode := "wait"
	if len(os.Args) > 2 {
		mode = os.Args[2]
	}
	for i := 0; i < mib; i++ {
		c := &chunk{id: i, data: make([]byte, 1<<20), next: live}
		for j := range c.data {
			c.data[j] = byte(i+j) | 1
		}
		live = c
	}
	if mode == "crash" {
		var p *chunk
		fmt.Println(p.id)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	// let the signal goroutines Notify starts park before saying so
	time.Sleep(100 * time.Millisecond)
	fmt.Println("ready")
	<-sig
	fmt.Println(live.id)
}
