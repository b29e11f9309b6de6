// signals puts goroutines where a fatal signal is hard to decode and then
// takes one, so that the kernel writes a core while the runtime prints its
// own traceback (the oracle; run with GOTRACEBACK=crash).
//
// Mode "quit TARGET" (TARGET: spin, memmove, syscall) starts three
// goroutines, each locked to its thread: one spinning in user code, one
// copying a large buffer over and over (inside runtime.memmove), one calling
// getpid through syscall.RawSyscall in a loop (no entersyscall, so it stays
// _Grunning, often in assembly). It prints "tid NAME N" for each (on stderr, before the traceback) and then
// sends SIGQUIT to TARGET's thread with tgkill, so the signal lands on a
// thread running that goroutine.
//
// Mode "breakpoint" prints main.main's locals ("local NAME VALUE", on stderr) and stops
// at runtime.Breakpoint (SIGTRAP).
//
// Mode "sigbus" maps two pages of a file, truncates the file to nothing and
// reads the second page: the kernel sends SIGBUS (BUS_ADRERR) and the
// runtime throws "unexpected fault address". It prints "fault ADDR" first.
//
// Mode "preempt" runs on one P: two goroutines spin in loops without calls
// until sysmon has preempted each asynchronously (their stacks then hold
// runtime.asyncPreempt over main.spin), then main, locked to its thread,
// sends SIGQUIT to that thread.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"
	"unsafe"
)

var sink uint64

//go:noinline
func spin(n uint64) uint64 {
	x := n
	for {
		x = x*6364136223846793005 + 1442695040888963407
		if x == 42 {
			return x
		}
	}
}

//go:noinline
func copyLoop(dst, src []byte) {
	for {
		copy(dst, src)
	}
}

//go:noinline
func rawLoop() {
	for {
		syscall.RawSyscall(syscall.SYS_GETPID, 0, 0, 0)
	}
}

func worker(name string, tids chan<- string, body func()) {
	runtime.LockOSThread()
	tids <- fmt.Sprintf("tid %s %d", name, syscall.Gettid())
	body()
}

func quit(target string) {
	// A P for each busy goroutine and for main, so that each is running on
	// its thread (not waiting for a P) when the signal comes; no collector
	// stopping the world either.
	runtime.GOMAXPROCS(8)
	debug.SetGCPercent(-1)
	tids := make(chan string)
	go worker("spin", tids, func() { sink = spin(7) })
	go worker("memmove", tids, func() {
		copyLoop(make([]byte, 8<<20), make([]byte, 8<<20))
	})
	go worker("syscall", tids, rawLoop)
	want := 0
	for i := 0; i < 3; i++ {
		line := <-tids
		fmt.Fprintln(os.Stderr, line)
		var name string
		var tid int
		fmt.Sscanf(line, "tid %s %d", &name, &tid)
		if name == target {
			want = tid
		}
	}
	if want == 0 {
		fmt.Fprintln(os.Stderr, "unknown target", target)
		os.Exit(2)
	}
	// Let every worker get into its loop.
	time.Sleep(300 * time.Millisecond)
	syscall.Tgkill(os.Getpid(), want, syscall.SIGQUIT)
	time.Sleep(time.Minute)
}

//go:noinline
func show(count int, name string, p point, nums [5]int) {
	fmt.Println(count, name, p, nums)
}

type point struct {
	X, Y int
}

//go:noinline
func readPast(m []byte, off int) byte {
	return m[off]
}

func sigbus() {
	f, err := os.CreateTemp("", "sigbus")
	if err != nil {
		panic(err)
	}
	os.Remove(f.Name())
	page := os.Getpagesize()
	if err := f.Truncate(int64(2 * page)); err != nil {
		panic(err)
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, 2*page, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		panic(err)
	}
	if err := f.Truncate(0); err != nil {
		panic(err)
	}
	fmt.Fprintf(os.Stderr, "fault %#x\n", uintptr(unsafe.Pointer(&m[page])))
	sink = uint64(readPast(m, page))
}

func preempt() {
	runtime.GOMAXPROCS(1)
	debug.SetGCPercent(-1)
	runtime.LockOSThread()
	go func() { sink = spin(3) }()
	go func() { sink = spin(5) }()
	// Sleeping lets the spinners run; each runs until sysmon preempts it
	// (10ms), and main gets the P back only after both have been preempted
	// at least once.
	time.Sleep(200 * time.Millisecond)
	syscall.Tgkill(os.Getpid(), syscall.Gettid(), syscall.SIGQUIT)
	time.Sleep(time.Minute)
}

func main() {
	mode := "quit"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	switch mode {
	case "sigbus":
		sigbus()
		return
	case "preempt":
		preempt()
		return
	}
	if mode != "breakpoint" {
		target := "spin"
		if len(os.Args) > 2 {
			target = os.Args[2]
		}
		quit(target)
		return
	}
	// Computed from the arguments, so that they are variables with stack
	// slots rather than constants the compiler folds away.
	n := len(os.Args) // 2
	count := 1234565 + n
	name := os.Args[1] + "-local"
	p := point{X: 15 + n, Y: -2 - n}
	nums := [5]int{n + 1, n - 1, n + 2, n - 1, n + 3}
	fmt.Fprintf(os.Stderr, "local count %d\nlocal name %q\nlocal p X:%d,Y:%d\nlocal nums %d,%d,%d,%d,%d\n",
		count, name, p.X, p.Y, nums[0], nums[1], nums[2], nums[3], nums[4])
	runtime.Breakpoint()
	// Used after the stop, so their values stay in main.main's frame.
	show(count, name, p, nums)
}
