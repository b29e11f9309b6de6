// profiled parks goroutines in a few groups, some of them under
// runtime/pprof labels (pprof.Do), writes its own goroutine profile (what
// /debug/pprof/goroutine?debug=0 serves) to the file named by its first
// argument, and then crashes: the oracle for goanalyze's --format pprof is
// that profile, goroutine for goroutine, except the main goroutine, which
// wrote it and then went on to crash. Names and labels carry `<`, `&` and
// quotes, so the HTML report's escaping is tested on real data.
package main

import (
	"context"
	"os"
	"runtime/pprof"
	"sync"
	"time"
)

var (
	started sync.WaitGroup
	never   = make(chan int)
	mu      sync.Mutex
)

// tagged is a type argument whose name (with its struct tag) goes into a
// generic function's symbol name: `main.hostile[go.shape.struct { X int "<b>&'x'</b>" }]`.
type tagged struct {
	X int `<b>&'x'</b>`
}

//go:noinline
func worker() {
	started.Done()
	<-never
}

//go:noinline
func locker() {
	started.Done()
	mu.Lock()
}

//go:noinline
func recurse(n int) int {
	if n == 0 {
		started.Done()
		<-never
		return 0
	}
	return recurse(n-1) + 1
}

// waitInlined is inlined into its caller: one location, two lines.
func waitInlined() int {
	return <-never
}

//go:noinline
func callsInlined() int {
	started.Done()
	return waitInlined() + 1
}

//go:noinline
func hostile[T any](ch chan T) T {
	started.Done()
	return <-ch
}

func spawn(n int, f func()) {
	started.Add(n)
	for i := 0; i < n; i++ {
		go f()
	}
}

func labelled(n int, labels pprof.LabelSet) {
	spawn(n, func() {
		pprof.Do(context.Background(), labels, func(context.Context) { worker() })
	})
}

func main() {
	mu.Lock()
	spawn(40, worker)
	labelled(25, pprof.Labels("tenant", "a", "kind", "batch"))
	labelled(10, pprof.Labels("tenant", "<script>alert(\"b\")</script>"))
	spawn(5, locker)
	spawn(3, func() { recurse(150) }) // deeper than the profile's 128 frames
	spawn(2, func() { callsInlined() })
	spawn(1, func() { hostile(make(chan tagged)) })
	started.Wait()
	time.Sleep(200 * time.Millisecond) // let every goroutine park

	if len(os.Args) > 1 {
		f, err := os.Create(os.Args[1])
		if err != nil {
			panic(err)
		}
		if err := pprof.Lookup("goroutine").WriteTo(f, 0); err != nil {
			panic(err)
		}
		if err := f.Close(); err != nil {
			panic(err)
		}
	}
	// A panic value that is markup: the report must show it as text.
	panic("profiled: <script>alert('x')</script> & done")
}
