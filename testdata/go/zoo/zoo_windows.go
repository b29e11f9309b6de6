//go:build windows

package main

import (
	"os"
	"syscall"
)

// spawnBlockingSyscall parks a goroutine in ReadFile on a pipe nobody writes.
func spawnBlockingSyscall() {
	var r, w syscall.Handle
	if err := syscall.CreatePipe(&r, &w, nil, 0); err != nil {
		panic(err)
	}
	spawn(func() {
		buf := make([]byte, 1)
		var n uint32
		started.Done()
		syscall.ReadFile(r, buf, &n, nil)
	})
}

// armRelease makes closing stdin the release: signals do not reach a
// program under wine the way they do on Unix.
func armRelease() func() {
	return func() {
		buf := make([]byte, 1)
		for {
			if _, err := os.Stdin.Read(buf); err != nil {
				return
			}
		}
	}
}
