// overflow recurses without end until the goroutine's stack passes the
// runtime's 1 GB limit (lowered here with debug.SetMaxStack so it dies fast):
// "runtime: goroutine stack exceeds 8388608-byte limit" then
// "fatal error: stack overflow".
package main

import (
	"fmt"
	"runtime/debug"
)

//go:noinline
func descend(n int) int {
	var pad [16]int
	pad[n%16] = n
	return descend(n+1) + pad[(n+1)%16]
}

func main() {
	debug.SetMaxStack(8 << 20)
	fmt.Println(descend(0))
}
