// hang is a small server that stops making progress, for snapshot cores
// (SIGQUIT with GOTRACEBACK=crash, gcore, godump): goroutines parked on a
// channel nobody sends on, on a mutex main holds, in a select, and in the
// network poller (an accept loop and connection readers). It prints "ready"
// once they are all parked, then waits to be signalled.
//
// Modes: "server" (default) as above; "other": a different hang (a
// WaitGroup that is never released, senders on a full channel, readers of an
// RWMutex held for writing); "crash": the server's goroutines, then a panic;
// "gcloop": the server, with a garbage collection every 200ms (it records
// when each parked goroutine was first seen blocked: the traceback's minutes).
package main

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"time"
)

//go:noinline
func worker(jobs chan int) {
	for j := range jobs {
		_ = j
	}
}

//go:noinline
func park(c chan struct{}) {
	<-c
}

//go:noinline
func locker(mu *sync.Mutex) {
	mu.Lock()
	mu.Unlock()
}

//go:noinline
func selector(a, b chan int) {
	select {
	case <-a:
	case <-b:
	}
}

//go:noinline
func handle(c net.Conn) {
	buf := make([]byte, 64)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

//go:noinline
func acceptLoop(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go handle(c)
	}
}

// keep holds what the parked goroutines use, so nothing is collected.
var keep []any

func server() {
	jobs := make(chan int)
	for i := 0; i < 6; i++ {
		go worker(jobs)
	}
	mu := new(sync.Mutex)
	mu.Lock()
	for i := 0; i < 4; i++ {
		go locker(mu)
	}
	a, b := make(chan int), make(chan int)
	for i := 0; i < 2; i++ {
		go selector(a, b)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	go acceptLoop(l)
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		keep = append(keep, c)
	}
	keep = append(keep, jobs, mu, a, b, l)
}

//go:noinline
func waiter(wg *sync.WaitGroup) {
	wg.Wait()
}

//go:noinline
func sender(full chan int) {
	full <- 1
}

//go:noinline
func reader(rw *sync.RWMutex) {
	rw.RLock()
	rw.RUnlock()
}

func other() {
	var wg sync.WaitGroup
	wg.Add(1)
	for i := 0; i < 5; i++ {
		go waiter(&wg)
	}
	full := make(chan int)
	for i := 0; i < 3; i++ {
		go sender(full)
	}
	rw := new(sync.RWMutex)
	rw.Lock()
	for i := 0; i < 7; i++ {
		go reader(rw)
	}
	keep = append(keep, &wg, full, rw)
}

func main() {
	mode := "server"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	switch mode {
	case "server", "crash", "gcloop":
		server()
	case "other":
		other()
	default:
		fmt.Fprintln(os.Stderr, "usage: hang [server|other|crash|gcloop]")
		os.Exit(2)
	}
	// Let every goroutine park before saying so.
	time.Sleep(100 * time.Millisecond)
	if mode == "crash" {
		panic("hang: giving up")
	}
	if mode == "gcloop" {
		go func() {
			// A collection stamps waitsince only on goroutines that have
			// parked since the one before: keep one that parked during the
			// last round (stamped by this round's collection) until the
			// next is stamped, so the newest stamp is never a round old.
			prev := make(chan struct{})
			go park(prev)
			for {
				time.Sleep(200 * time.Millisecond)
				runtime.GC()
				next := make(chan struct{})
				go park(next)
				time.Sleep(200 * time.Millisecond)
				runtime.GC()
				close(prev)
				prev = next
			}
		}()
	}
	fmt.Println("ready")
	if mode == "other" {
		// Nothing here polls the network: a pending timer keeps the
		// runtime from calling this a deadlock and exiting.
		for {
			time.Sleep(time.Hour)
		}
	}
	select {}
}
