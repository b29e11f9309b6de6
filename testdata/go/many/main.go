// many starts N goroutines (first argument, default 10000) parked in a few
// distinct stacks, then crashes (mode "crash") or waits for SIGUSR1 ("wait").
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
