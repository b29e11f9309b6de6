// ptrs plants pointers whose shape is known, for the object graph's
// precise scan (goanalyze's heap/pointers.rs): a linked list of nList
// nodes, objects that hold a heap address in a uintptr (not a pointer to
// the collector) in each allocation path (small: heap bits in the span;
// over 512 bytes: malloc header; over 32 KiB: the span's largeType; Go
// 1.21: the arena bitmap), globals of both kinds, and an unreachable
// object with a finalizer. It prints the addresses, then crashes with a
// nil dereference (allocating nothing).
package main

import (
	"runtime"
	"unsafe"
)

const nList = 1000

type node struct {
	next *node
	val  int64
}

// The targets: pointed to only through uintptr words (and by keep, a
// []unsafe.Pointer global, so they stay allocated).
type target struct {
	a, b int64
}

// Holders of a uintptr and a real pointer, of three sizes.
type smallHolder struct {
	hidden uintptr
	real   *target
}

type mediumHolder struct {
	hidden uintptr
	real   *target
	pad    [600]byte
}

type largeHolder struct {
	hidden uintptr
	real   *target
	pad    [40000]byte
}

// finalized is reachable from nothing but its finalizer's special; it
// points to finRef.
type finalized struct {
	ref *target
	pad [3]int64
}

var (
	listHead *node
	// ptrGlobal is a pointer root; uintGlobal holds an address in a uintptr.
	ptrGlobal  *target
	uintGlobal uintptr
	small      *smallHolder
	medium     *mediumHolder
	large      *largeHolder
	keep       []unsafe.Pointer
)

func main() {
	for i := 0; i < nList; i++ {
		// Values that are not addresses.
		listHead = &node{next: listHead, val: int64(i) * 3}
	}
	hid := [3]*target{{a: 1}, {a: 2}, {a: 3}}
	real := [3]*target{{b: 1}, {b: 2}, {b: 3}}
	small = &smallHolder{hidden: uintptr(unsafe.Pointer(hid[0])), real: real[0]}
	medium = &mediumHolder{hidden: uintptr(unsafe.Pointer(hid[1])), real: real[1]}
	large = &largeHolder{hidden: uintptr(unsafe.Pointer(hid[2])), real: real[2]}
	ptrGlobal = &target{a: 7}
	uintOnly := &target{a: 8}
	uintGlobal = uintptr(unsafe.Pointer(uintOnly))
	keep = []unsafe.Pointer{unsafe.Pointer(hid[0]), unsafe.Pointer(hid[1]), unsafe.Pointer(hid[2]), unsafe.Pointer(uintOnly)}
	runtime.GC()
	runtime.GC()
	// After the collections: a collection would queue the finalizer and
	// drop its special.
	finRef := &target{a: 9}
	fin := &finalized{ref: finRef}
	finAddr := uintptr(unsafe.Pointer(fin))
	runtime.SetFinalizer(fin, func(*finalized) {})
	fin = nil
	println("ptrs", "list", nList, "head", uintptr(unsafe.Pointer(listHead)),
		"small", uintptr(unsafe.Pointer(small)), "medium", uintptr(unsafe.Pointer(medium)), "large", uintptr(unsafe.Pointer(large)),
		"hid0", uintptr(unsafe.Pointer(hid[0])), "hid1", uintptr(unsafe.Pointer(hid[1])), "hid2", uintptr(unsafe.Pointer(hid[2])),
		"real0", uintptr(unsafe.Pointer(real[0])), "real1", uintptr(unsafe.Pointer(real[1])), "real2", uintptr(unsafe.Pointer(real[2])),
		"ptrglobal", uintptr(unsafe.Pointer(ptrGlobal)), "uintonly", uintGlobal,
		"fin", finAddr, "finref", uintptr(unsafe.Pointer(finRef)))
	var p *node
	println(p.val)
	runtime.KeepAlive(keep)
}
