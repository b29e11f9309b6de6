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

func waitForRelease() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	<-sig
}
