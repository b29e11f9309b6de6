// cgo parks one goroutine inside a C function (sleeping in libc) and one in
// a Go callback called from C, then crashes on a nil dereference; with
// `ccrash` it crashes inside C instead: SIGSEGV in c_crash_inner, called by
// c_crash_middle, called by c_crash_outer (noipa: no inlining, no clones,
// no tail calls, so gdb and we see three C frames).
package main

/*
#include <unistd.h>
extern void goCallback(void);
static void c_sleep_forever(void) { for (;;) sleep(1000); }
static void c_calls_go(void) { goCallback(); }
__attribute__((noinline, noipa)) static int c_crash_inner(volatile int *p) { return *p + 1; }
__attribute__((noinline, noipa)) static int c_crash_middle(volatile int *p) { return c_crash_inner(p) * 3; }
__attribute__((noinline, noipa)) static int c_crash_outer(int *p) { return c_crash_middle(p) + 7; }
*/
import "C"

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

var (
	started sync.WaitGroup
	never   = make(chan int)
)

//export goCallback
func goCallback() {
	started.Done()
	<-never
}

func main() {
	started.Add(2)
	go func() { started.Done(); C.c_sleep_forever() }()
	go func() { C.c_calls_go() }()
	started.Wait()
	time.Sleep(200 * time.Millisecond)
	if len(os.Args) > 1 && os.Args[1] == "wait" {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGUSR1)
		// let the signal goroutines Notify starts park before saying so
		time.Sleep(100 * time.Millisecond)
		fmt.Println("ready")
		<-sig
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "ccrash" {
		fmt.Println(C.c_crash_outer(nil))
	}
	var p *int
	fmt.Println(*p)
}
