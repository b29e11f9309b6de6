// sigcgo takes a fatal signal inside C code that Go called through cgo, so
// that the signal lands on the M's g0 stack (C runs there) while the
// goroutine that called C is in _Gsyscall: the runtime says "signal arrived
// during cgo execution" and prints that goroutine from where it left Go
// (run with GOTRACEBACK=crash; its traceback is the oracle).
//
// Mode "segv": a goroutine calls main.viaGo -> C c_segv_outer ->
// c_segv_middle -> c_segv_inner, which reads through a nil pointer.
// Mode "abort": the same chain ends in abort() (SIGABRT sent by the thread
// to itself, si_code SI_TKILL).
// Before that it parks one goroutine on a channel and one inside C
// (sleeping), and prints "tid crash N" for the thread that will crash.
package main

/*
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
static long c_gettid(void) { return syscall(SYS_gettid); }
static void c_sleep_forever(void) { for (;;) sleep(1000); }
__attribute__((noinline, noipa)) static int c_segv_inner(volatile int *p) { return *p + 1; }
__attribute__((noinline, noipa)) static int c_segv_middle(volatile int *p) { return c_segv_inner(p) * 3; }
__attribute__((noinline, noipa)) static int c_segv_outer(int *p) { return c_segv_middle(p) + 7; }
__attribute__((noinline, noipa)) static void c_abort_inner(int n) { if (n >= 0) abort(); }
__attribute__((noinline, noipa)) static void c_abort_outer(int n) { c_abort_inner(n + 1); }
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

var never = make(chan int)

//go:noinline
func viaGo(mode string) int {
	runtime.LockOSThread()
	fmt.Fprintf(os.Stderr, "tid crash %d\n", C.c_gettid())
	switch mode {
	case "abort":
		C.c_abort_outer(1)
	default:
		return int(C.c_segv_outer(nil))
	}
	return 0
}

func main() {
	mode := "segv"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	go func() { <-never }()
	go func() { C.c_sleep_forever() }()
	time.Sleep(200 * time.Millisecond)
	done := make(chan int)
	go func() { done <- viaGo(mode) }()
	fmt.Println(<-done)
}
