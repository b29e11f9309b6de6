// A goroutine zoo: goroutines parked in many different ways, then a crash.
// Used by analyzer-cli's integration tests; the runtime's GOTRACEBACK=crash
// output is the oracle.
package main

import (
	"context"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"
)

var sink int

type Number interface{ ~int | ~float64 }

//go:noinline
func genericWait[T Number](ch chan T) T { return <-ch }

func inlinedHelper(ch chan int) int { return <-ch } // small enough to be inlined

//go:noinline
func recurse(n int, ch chan int) int {
	if n == 0 {
		return <-ch
	}
	return recurse(n-1, ch) + 1
}

func main() {
	var mu sync.Mutex
	mu.Lock()
	cond := sync.NewCond(&sync.Mutex{})
	ready := make(chan struct{}, 32)
	never := make(chan int)      // only ever received from
	sendc := make(chan int)      // only ever sent to
	selc := make(chan int)       // only used in a select
	fnever := make(chan float64) // generic receive

	go func() { ready <- struct{}{}; <-never }()    // chan receive
	go func() { ready <- struct{}{}; sendc <- 1 }() // chan send
	go func() {
		ready <- struct{}{}
		select {
		case <-selc:
		case selc <- 2:
		}
	}() // select
	go func() { ready <- struct{}{}; select {} }()                  // select (no cases)
	go func() { ready <- struct{}{}; mu.Lock() }()                  // sync.Mutex.Lock
	go func() { cond.L.Lock(); ready <- struct{}{}; cond.Wait() }() // sync.Cond.Wait
	go func() { ready <- struct{}{}; time.Sleep(time.Hour) }()      // sleep
	go func() {
		ready <- struct{}{}
		if genericWait(fnever) > 0 {
			sink = 1
		}
	}()
	go func() { ready <- struct{}{}; sink = inlinedHelper(never) }()
	go func() { ready <- struct{}{}; sink = recurse(120, never) }()
	go func() { ready <- struct{}{}; sink = recurse(10, never) }()
	go func() {
		runtime.LockOSThread()
		ready <- struct{}{}
		<-never
	}()
	go func() {
		pprof.Do(context.Background(), pprof.Labels("zoo", "labelled"), func(context.Context) {
			ready <- struct{}{}
			<-never
		})
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go func() { ready <- struct{}{}; ln.Accept() }() // IO wait
	var p [2]int
	if err := syscall.Pipe(p[:]); err != nil {
		panic(err)
	}
	go func() { // a raw blocking syscall
		ready <- struct{}{}
		var b [1]byte
		syscall.Read(p[0], b[:])
	}()
	for i := 0; i < 15; i++ {
		<-ready
	}
	time.Sleep(200 * time.Millisecond)
	if len(os.Args) > 1 && os.Args[1] == "wait" {
		os.Stdout.WriteString("ready\n")
		<-never
	}
	crash(nil)
}

//go:noinline
func crash(p *int) {
	*p = 1
}
