//go:build unix

package main

import (
	"os"
	"os/signal"
	"syscall"
)

var pipeFds [2]int

// spawnBlockingSyscall parks a goroutine in read(2) on a pipe nobody writes.
func spawnBlockingSyscall() {
	if err := syscall.Pipe(pipeFds[:]); err != nil {
		panic(err)
	}
	spawn(func() {
		buf := make([]byte, 1)
		started.Done()
		syscall.Read(pipeFds[0], buf)
	})
}

// armRelease makes SIGUSR1 the release; the returned func waits for it.
func armRelease() func() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	return func() { <-sig }
}
