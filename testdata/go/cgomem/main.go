// cgomem holds memory that is not Go's: one big C buffer from malloc
// (glibc serves it with an mmap of its own) beside a small Go heap, prints
// its size and address, then crashes with a nil dereference. The oracle
// for `--heap`'s address space: the anonymous memory that is not Go's is
// at least the buffer.
package main

/*
#include <stdlib.h>
#include <string.h>
static void *big_buffer(size_t n) {
	void *p = malloc(n);
	if (p) memset(p, 0x5a, n);
	return p;
}
*/
import "C"

import "runtime"

// 48 MiB and a page: not a multiple of anything the Go runtime uses.
const cBytes = 48<<20 + 4096

var keep [][]byte

func main() {
	p := C.big_buffer(cBytes)
	for i := 0; i < 1000; i++ {
		keep = append(keep, make([]byte, 1000))
	}
	println("cbuf", "bytes", cBytes, "addr", uintptr(p))
	var q *int
	println(*q)
	runtime.KeepAlive(p)
}
