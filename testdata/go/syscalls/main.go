// syscalls keeps goroutines going in and out of cheap system calls, so
// that a signal catches some of them between the runtime's syscall
// bookkeeping and the kernel: in entersyscall or exitsyscall (running, with
// g.syscallsp still set), or in the syscall package's assembly. Half call
// getpid through syscall.Syscall (entersyscall and exitsyscall around the
// SYSCALL), half write a byte to /dev/null through os.File.Write (the
// poller's fdMutex, then syscall.write). Each is locked to its thread, and
// there is a P for each and one for main.
//
// It prints "ready" once every worker is in its loop, then waits forever;
// mode "quit N" then sends SIGQUIT to worker N's thread (N mod the number
// of workers) with tgkill, so the signal interrupts that worker wherever it
// is (run it with GOTRACEBACK=crash: the runtime's traceback and the
// kernel's core).
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"
)

const workers = 4

var sink uintptr

//go:noinline
func getpidLoop(tid *int, started chan<- bool) {
	runtime.LockOSThread()
	*tid = syscall.Gettid()
	started <- true
	for {
		pid, _, _ := syscall.Syscall(syscall.SYS_GETPID, 0, 0, 0)
		sink += pid
	}
}

//go:noinline
func writeLoop(tid *int, started chan<- bool) {
	// Its own file: writers sharing one would queue on its fdMutex.
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		panic(err)
	}
	runtime.LockOSThread()
	*tid = syscall.Gettid()
	started <- true
	b := []byte{0}
	for {
		if _, err := f.Write(b); err != nil {
			panic(err)
		}
	}
}

func main() {
	runtime.GOMAXPROCS(workers + 1)
	// No collector stopping the world while the signal goes round.
	debug.SetGCPercent(-1)
	// Worker i's thread: even ones call getpid, odd ones write.
	threads := make([]int, workers)
	started := make(chan bool)
	for i := 0; i < workers; i++ {
		if i%2 == 0 {
			go getpidLoop(&threads[i], started)
		} else {
			go writeLoop(&threads[i], started)
		}
	}
	for i := 0; i < workers; i++ {
		<-started
	}
	time.Sleep(100 * time.Millisecond)
	fmt.Println("ready")
	if len(os.Args) > 2 && os.Args[1] == "quit" {
		var n int
		fmt.Sscan(os.Args[2], &n)
		syscall.Tgkill(os.Getpid(), threads[n%workers], syscall.SIGQUIT)
	}
	select {}
}
