// busy keeps two goroutines running (spinning in Go code) and parks the
// rest, then prints "ready PID" and waits: gcore catches the spinners in
// the middle of a function, so goanalyze must walk them from their
// threads' registers.
package main

import (
	"fmt"
	"os"
	"time"
)

var sink int

//go:noinline
func spin(n int) int {
	s := 0
	for i := 0; ; i++ {
		s += i * n
		if i%1000000 == 0 {
			sink = s
		}
	}
}

//go:noinline
func outer(n int) int { return spin(n) + 1 }

func main() {
	for i := 0; i < 2; i++ {
		go outer(i)
	}
	never := make(chan int)
	go func() { <-never }()
	time.Sleep(300 * time.Millisecond)
	fmt.Println("ready", os.Getpid())
	select {}
}
