// oom asks for more memory than any machine has in one allocation; the
// runtime's mallocgc cannot get it from the OS and throws
// "fatal error: runtime: out of memory" without touching much memory.
package main

import (
	"fmt"
	"os"
)

//go:noinline
func allocate(n int) []byte {
	return make([]byte, n)
}

func main() {
	n := 1 << 46
	if len(os.Args) > 1 {
		fmt.Sscan(os.Args[1], &n)
	}
	b := allocate(n)
	fmt.Println(len(b))
}
