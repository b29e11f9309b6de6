// oom asks for more memory than any machine has in one allocation: 128 TiB,
// the whole user address space of linux/amd64, so it fails whatever the
// overcommit policy, without touching much memory. The runtime prints
// "runtime: out of memory: cannot allocate N-byte block (M in use)" and
// throws "fatal error: out of memory". (A smaller ask, 1<<46, fails later,
// in sysMap, as "fatal error: runtime: out of memory" where the kernel
// refuses to overcommit.)
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
	n := 1 << 47
	if len(os.Args) > 1 {
		fmt.Sscan(os.Args[1], &n)
	}
	b := allocate(n)
	fmt.Println(len(b))
}
