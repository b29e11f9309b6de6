// Goroutine leaks with a known answer (tests/tests/leaks.rs): M goroutines
// in each category, each holding a heap buffer of bufSize bytes in a live
// local, block; then the program prints each category's goroutine ids and
// crashes (GOTRACEBACK=crash: the kernel writes the core).
//
// Leaked (blocked on something only leaked goroutines can reach):
//   - chan:   receive on a channel made for it alone;
//   - mutex:  Lock of a sync.Mutex only it references (locked before);
//   - wg:     Wait on a sync.WaitGroup only it references (Add(1) before);
//   - chain:  receive on a channel that only a leaked goroutine's stack holds.
//
// Not leaked:
//   - global: receive on a channel held in a package variable;
//   - heapmu: Lock of a mutex in a heap object a package variable points to;
//   - mainch: receive on a channel held only in main's live local;
//   - relay:  receive on a channel held only by a "global" goroutine's stack
//     (it may run, so this one may too: the fixed point);
//   - recurse: recursion recurseDepth deep, each level holding a buffer of
//     (level+1)*recurseUnit bytes in a live local; the deepest receives on
//     the global channel (roots of recursive frames are told apart).
//
// With a toolchain that has the goroutine leak profile (Go 1.27; Go 1.26
// with GOEXPERIMENT=goroutineleakprofile), the program asks for it before
// crashing: the runtime marks its leaks `(leaked)` in the traceback, an
// oracle for ours.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
)

const m = 8

// Not a constant: a constant-size buffer could live on the stack.
var bufSize = 40960

var (
	globalCh = make(chan int)
	heapMu   = &struct {
		pad [8]int64
		mu  sync.Mutex
	}{}
	started sync.WaitGroup
	idsMu   sync.Mutex
	ids     = map[string][]int{}
)

func goid() int {
	var b [64]byte
	s := string(b[:runtime.Stack(b[:], false)])
	f := strings.Fields(strings.TrimPrefix(s, "goroutine "))
	n, _ := strconv.Atoi(f[0])
	return n
}

func record(cat string) {
	idsMu.Lock()
	ids[cat] = append(ids[cat], goid())
	idsMu.Unlock()
	started.Done()
}

const (
	recurseDepth = 4
	recurseUnit  = 4096
)

//go:noinline
func recurse(d int) {
	buf := make([]byte, (d+1)*recurseUnit)
	if d == recurseDepth-1 {
		record("recurse")
		<-globalCh
	} else {
		recurse(d + 1)
	}
	runtime.KeepAlive(buf)
}

//go:noinline
func leakChan() {
	ch := make(chan int)
	started.Add(1)
	go func() {
		buf := make([]byte, bufSize)
		record("chan")
		<-ch
		runtime.KeepAlive(buf)
	}()
}

// The sync values are boxed with a pointer: a bare new(sync.Mutex) is a
// tiny allocation, whose 16-byte block another live tiny object may keep
// (the runtime's detector then does not call it a leak either).
type mutexBox struct {
	mu sync.Mutex
	_  *int
}

type wgBox struct {
	wg sync.WaitGroup
	_  *int
}

//go:noinline
func leakMutex() {
	b := new(mutexBox)
	b.mu.Lock()
	started.Add(1)
	go func() {
		buf := make([]byte, bufSize)
		record("mutex")
		b.mu.Lock()
		runtime.KeepAlive(buf)
	}()
}

//go:noinline
func leakWaitGroup() {
	b := new(wgBox)
	b.wg.Add(1)
	started.Add(1)
	go func() {
		buf := make([]byte, bufSize)
		record("wg")
		b.wg.Wait()
		runtime.KeepAlive(buf)
	}()
}

// Two leaked goroutines: the first holds (in a live local) the channel the
// second waits on, and waits on a channel of its own.
//
//go:noinline
func leakChain() {
	inner := make(chan int)
	outer := make(chan int)
	started.Add(2)
	go func() {
		buf := make([]byte, bufSize)
		record("chain")
		<-outer
		inner <- 1
		runtime.KeepAlive(buf)
	}()
	go func() {
		buf := make([]byte, bufSize)
		record("chain")
		<-inner
		runtime.KeepAlive(buf)
	}()
}

func waitGlobal() {
	buf := make([]byte, bufSize)
	record("global")
	<-globalCh
	runtime.KeepAlive(buf)
}

func waitHeapMutex() {
	buf := make([]byte, bufSize)
	record("heapmu")
	heapMu.mu.Lock()
	runtime.KeepAlive(buf)
}

// A goroutine waiting on the global channel holds `relay` live; another
// waits on relay.
//
//go:noinline
func relay() {
	r := make(chan int)
	started.Add(2)
	go func() {
		buf := make([]byte, bufSize)
		record("global")
		<-globalCh
		r <- 1
		runtime.KeepAlive(buf)
	}()
	go func() {
		buf := make([]byte, bufSize)
		record("relay")
		<-r
		runtime.KeepAlive(buf)
	}()
}

func main() {
	heapMu.mu.Lock()
	mainCh := make(chan int)
	for i := 0; i < m; i++ {
		leakChan()
		leakMutex()
		leakWaitGroup()
		leakChain()
		started.Add(3)
		go waitGlobal()
		go waitHeapMutex()
		go func() {
			buf := make([]byte, bufSize)
			record("mainch")
			<-mainCh
			runtime.KeepAlive(buf)
		}()
		relay()
	}
	started.Add(1)
	go recurse(0)
	started.Wait()
	// Let every goroutine reach its blocking call.
	for i := 0; i < 100; i++ {
		runtime.Gosched()
	}
	runtime.GC()
	if p := pprof.Lookup("goroutineleak"); p != nil {
		var sb strings.Builder
		p.WriteTo(&sb, 1)
		fmt.Fprintf(os.Stderr, "goroutineleak profile: %d\n", p.Count())
	}
	idsMu.Lock()
	for _, cat := range []string{"chan", "mutex", "wg", "chain", "global", "heapmu", "mainch", "relay", "recurse"} {
		fmt.Fprintf(os.Stderr, "ids %s", cat)
		for _, id := range ids[cat] {
			fmt.Fprintf(os.Stderr, " %d", id)
		}
		fmt.Fprintln(os.Stderr)
	}
	fmt.Fprintf(os.Stderr, "bufsize %d\n", bufSize)
	fmt.Fprintf(os.Stderr, "recurse %d %d\n", recurseDepth, recurseUnit)
	// Crash in a callee: main's frame stays live (a frame that itself
	// trapped, without defers, is dead to the collector), and so does
	// mainCh in it.
	crash(nil)
	runtime.KeepAlive(mainCh)
}

//go:noinline
func crash(p *int) {
	println(*p)
}
