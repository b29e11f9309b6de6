// snapshot: the fixture of godump's copy-on-write snapshots.
//
// A writer goroutine keeps stamping a round number into the first word of
// every page of a buffer and into many heap objects, publishing after each
// store where it is (state = round<<32 | index) so that any consistent
// snapshot can be checked: elements before the index hold the round, the
// ones after it the round before. A heartbeat goroutine records the longest
// gap between its ticks (the pause a dump causes). It subscribes to SIGCHLD
// and counts what it gets. Commands on stdin: "stacks" prints every
// goroutine's stack, then "end"; "stats" prints "stats <sigchld> <maxgap ns>
// <state>"; "reset" clears the longest gap.
//
// Usage: snapshot MIB [dontfork|seccomp|paced|idle]
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

type obj struct {
	round uint64
	pad   [56]byte
}

var (
	state   atomic.Uint64
	pages   []byte
	objs    []*obj
	sigchld atomic.Int64
	maxgap  atomic.Int64
	ballast [][]byte
)

const pageSize = 4096

// paced: one round every millisecond instead of flat out (benchmarks: a
// busy writer would compete with the heartbeat for the CPU).
var paced bool

func writer() {
	n := len(pages) / pageSize
	for round := uint64(1); ; round++ {
		if paced {
			time.Sleep(time.Millisecond)
		}
		state.Store(round << 32)
		for i := 0; i < n; i++ {
			*(*uint64)(unsafe.Pointer(&pages[i*pageSize])) = round
			state.Store(round<<32 | uint64(i+1))
		}
		for j, o := range objs {
			o.round = round
			state.Store(round<<32 | uint64(n+j+1))
		}
	}
}

func heartbeat() {
	last := time.Now()
	for {
		time.Sleep(200 * time.Microsecond)
		now := time.Now()
		if g := int64(now.Sub(last)); g > maxgap.Load() {
			maxgap.Store(g)
		}
		last = now
	}
}

func blocked(ch chan int) { <-ch }
func sleeper()            { time.Sleep(time.Hour) }

// A seccomp filter on every thread: clone without CLONE_VM (a fork) fails
// with EPERM; threads (CLONE_VM) are allowed.
func forbidFork() {
	type sockFilter struct {
		code uint16
		jt   uint8
		jf   uint8
		k    uint32
	}
	prog := []sockFilter{
		{0x20, 0, 0, 0},              // ld [nr]
		{0x15, 0, 3, 56},             // jeq SYS_clone
		{0x20, 0, 0, 16},             // ld [args[0] low]
		{0x45, 1, 0, 0x100},          // jset CLONE_VM -> allow
		{0x06, 0, 0, 0x00050000 | 1}, // ret ERRNO(EPERM)
		{0x06, 0, 0, 0x7fff0000},     // ret ALLOW
	}
	fprog := struct {
		len    uint16
		filter *sockFilter
	}{uint16(len(prog)), &prog[0]}
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, 38 /* PR_SET_NO_NEW_PRIVS */, 1, 0); e != 0 {
		panic(e)
	}
	if _, _, e := syscall.RawSyscall(317 /* seccomp */, 1 /* SET_MODE_FILTER */, 1 /* TSYNC */, uintptr(unsafe.Pointer(&fprog))); e != 0 {
		panic(e)
	}
	// Prove it: a fork is refused.
	r, _, e := syscall.RawSyscall(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0)
	if r == 0 && e == 0 {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
	}
	fmt.Println("fork:", e)
}

func main() {
	mib, _ := strconv.Atoi(os.Args[1])
	mode := ""
	if len(os.Args) > 2 {
		mode = os.Args[2]
	}
	ch := make(chan os.Signal, 64)
	signal.Notify(ch, syscall.SIGCHLD)
	go func() {
		for range ch {
			sigchld.Add(1)
		}
	}()
	// A quarter in the stamped pages and objects, the rest ballast.
	stamped := mib << 20 / 4
	pages = make([]byte, stamped/2)
	objs = make([]*obj, stamped/2/int(unsafe.Sizeof(obj{})))
	for i := range objs {
		objs[i] = &obj{}
	}
	for left := mib<<20 - stamped; left > 0; left -= 1 << 20 {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += pageSize {
			b[j] = byte(j)
		}
		ballast = append(ballast, b)
	}
	paced = mode == "paced"
	var special string
	switch mode {
	case "dontfork", "seccomp":
		for i, adv := range []int{10 /* MADV_DONTFORK */, 18 /* MADV_WIPEONFORK */} {
			b, err := syscall.Mmap(-1, 0, 1<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
			if err != nil {
				panic(err)
			}
			for j := range b {
				b[j] = byte(0xab + i*0x22)
			}
			if err := syscall.Madvise(b, adv); err != nil {
				panic(err)
			}
			special += fmt.Sprintf(" %#x", uintptr(unsafe.Pointer(&b[0])))
		}
		// And one shared mapping: a clone shares it, not copies it.
		sh, err := syscall.Mmap(-1, 0, 1<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_ANON)
		if err != nil {
			panic(err)
		}
		sh[0] = 1
		if mode == "seccomp" {
			forbidFork()
		}
	}
	parked := make(chan int)
	for i := 0; i < 4; i++ {
		go blocked(parked)
		go sleeper()
	}
	go heartbeat()
	if mode != "idle" {
		go writer()
		for state.Load() < 2<<32 {
			runtime.Gosched()
		}
	}
	fmt.Printf("ready %#x %#x %d %#x %d%s\n", uintptr(unsafe.Pointer(&state)), uintptr(unsafe.Pointer(&pages[0])),
		len(pages)/pageSize, uintptr(unsafe.Pointer(&objs[0])), len(objs), special)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "stacks":
			buf := make([]byte, 1<<20)
			fmt.Printf("%s\nend\n", buf[:runtime.Stack(buf, true)])
		case "stats":
			fmt.Printf("stats %d %d %d\n", sigchld.Load(), maxgap.Load(), state.Load())
		case "reset":
			maxgap.Store(0)
			fmt.Println("reset")
		}
	}
}
