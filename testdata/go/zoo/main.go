// zoo parks goroutines in every state the analyzer must name, then either
// crashes (mode "crash": nil dereference, mode "panic") or prints "ready" and
// waits to be released (mode "wait": SIGUSR1 on Unix, stdin closed on
// Windows) so it can be dumped live; "wait-then-crash" crashes once released,
// which prints the traceback where SIGQUIT cannot be sent (wine).
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"
)

var (
	started sync.WaitGroup
	never   = make(chan int) // only ever received from
	noRecv  = make(chan int) // only ever sent to
	mu      sync.Mutex
	cond    = sync.NewCond(&sync.Mutex{})
)

type point struct{ X, Y int }

//go:noinline
func recurse(depth int) int {
	if depth == 0 {
		started.Done()
		<-never
		return 0
	}
	return recurse(depth-1) + 1
}

// waitInlined is small enough to be inlined into its callers, so the
// traceback shows it as an inlined frame.
func waitInlined(ch chan int) int {
	return <-ch
}

//go:noinline
func callsInlined() int {
	started.Done()
	return waitInlined(never) + 1
}

//go:noinline
func genericWait[T any](ch chan T) T {
	started.Done()
	return <-ch
}

func spawn(f func()) {
	started.Add(1)
	go f()
}

func main() {
	mode := "crash"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}

	spawn(func() { started.Done(); <-never })     // chan receive
	spawn(func() { started.Done(); noRecv <- 1 }) // chan send
	spawn(func() {
		started.Done()
		select {
		case <-never:
		case noRecv <- 2:
		}
	}) // select
	mu.Lock()
	spawn(func() { started.Done(); mu.Lock() })                  // sync.Mutex.Lock
	spawn(func() { cond.L.Lock(); started.Done(); cond.Wait() }) // sync.Cond.Wait
	spawn(func() { started.Done(); time.Sleep(time.Hour) })      // sleep
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	spawn(func() { started.Done(); ln.Accept() })                     // IO wait
	spawnBlockingSyscall()                                            // status syscall: a read(2) outside the netpoller
	spawn(func() { runtime.LockOSThread(); started.Done(); <-never }) // locked to thread
	spawn(func() {
		pprof.Do(context.Background(), pprof.Labels("role", "labelled"), func(context.Context) {
			started.Done()
			<-never
		})
	})
	spawn(func() { recurse(120) }) // deep: the runtime elides the middle
	captured := point{3, 4}
	spawn(func() { started.Done(); noRecv <- captured.X + captured.Y }) // closure
	spawn(func() { genericWait[point](make(chan point)) })              // generics
	spawn(func() { callsInlined() })                                    // inlined frame
	started.Wait()
	time.Sleep(200 * time.Millisecond) // let every goroutine park

	if mode == "wait" || mode == "wait-then-crash" {
		release := armRelease()
		// Notify starts the runtime's signal goroutines; let them park
		// too, so a dump right after "ready" sees every goroutine settled.
		time.Sleep(100 * time.Millisecond)
		fmt.Println("ready", os.Getpid())
		release()
		if mode == "wait" {
			return
		}
	}
	switch mode {
	case "panic":
		panic(fmt.Errorf("zoo: deliberate panic with %d goroutines", runtime.NumGoroutine()))
	default:
		var p *point
		fmt.Println(p.X) // nil dereference: SIGSEGV, the runtime's traceback, then a core
	}
}
