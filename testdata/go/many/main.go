// many starts N goroutines (first argument, default 10000) parked in a few
// distinct stacks, optionally keeps a live heap of M MiB (third argument,
// default 0), then crashes (mode "crash", the second argument) or waits for
// SIGUSR1 ("wait"). The benchmarks use it for their big cores.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"
)

var (
	block = make(chan struct{})
	mu    sync.Mutex
	wg    sync.WaitGroup
	// ballast keeps the live heap reachable.
	ballast [][]byte
)

//go:noinline
func worker(kind int) {
	wg.Done()
	switch kind % 4 {
	case 0:
		<-block
	case 1:
		mu.Lock()
	case 2:
		time.Sleep(time.Hour)
	default:
		select {
		case <-block:
		case <-time.After(time.Hour):
		}
	}
}

func main() {
	n := 10000
	if len(os.Args) > 1 {
		if v, err := strconv.Atoi(os.Args[1]); err == nil {
			n = v
		}
	}
	mode := "crash"
	if len(os.Args) > 2 {
		mode = os.Args[2]
	}
	heapMiB := 0
	if len(os.Args) > 3 {
		if v, err := strconv.Atoi(os.Args[3]); err == nil {
			heapMiB = v
		}
	}
	for i := 0; i < heapMiB; i++ {
		c := make([]byte, 1<<20)
		for j := range c {
			c[j] = byte(i+j) | 1
		}
		ballast = append(ballast, c)
	}
	mu.Lock()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go worker(i)
	}
	wg.Wait()
	time.Sleep(300 * time.Millisecond)
	if mode == "wait" {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGUSR1)
		// let the signal goroutines Notify starts park before saying so
		time.Sleep(100 * time.Millisecond)
		fmt.Println("ready")
		<-sig
		return
	}
	var m map[string]int
	m["boom"] = n // assignment to a nil map: a panic
}
