// cgo parks one goroutine inside a C function (sleeping in libc) and one in
// a Go callback called from C, then crashes on a nil dereference.
package main

/*
#include <unistd.h>
extern void goCallback(void);
static void c_sleep_forever(void) { for (;;) sleep(1000); }
static void c_calls_go(void) { goCallback(); }
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
	var p *int
	fmt.Println(*p)
}
