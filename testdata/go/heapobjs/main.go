// heapobjs plants a known heap: a fixed number of objects of each of several
// kinds, reachable from globals, then prints the runtime's own accounting
// (runtime.ReadMemStats and runtime/metrics) and crashes with a nil
// dereference, which allocates nothing, so the core's heap is the heap the
// figures describe. Arguments "big" and "bench" scale the counts up.
// "wait" prints "ready PID" on stdout after the figures and waits to be
// dumped live (SIGUSR1, or stdin closed on Windows, ends it);
// "wait-then-crash" crashes once released.
package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"time"
)

// small: 24 bytes, a pointer: the 24-byte class, no malloc header.
type small struct {
	a, b int64
	next *small
}

// medium: 112 bytes with a string and a pointer.
type medium struct {
	id   int
	name string
	buf  [80]byte
	next *medium
}

// bigRec: over 512 bytes with pointers: a malloc header (Go 1.22+).
type bigRec struct {
	data [700]byte
	p    *int
}

// hugeRec: a large object (over 32 KiB), its own span.
type hugeRec struct {
	data [40000]byte
	p    *small
}

// mapVal: 40 bytes with a pointer, reachable only through small maps
// groups or buckets (no malloc header anywhere on the way).
type mapVal struct {
	id   int
	next *mapVal
	pad  [3]int
}

// frameOnly: a linked list whose head is only in main's stack frame.
type frameOnly struct {
	id   int
	next *frameOnly
	pad  [2]int
}

// Counts, all different, so that one type's count cannot be another's.
var (
	nSmall   = 10007
	nMedium  = 3001
	nBig     = 503
	nHuge    = 17
	nMap     = 211
	nSlice   = 401
	nString  = 1009
	nClosure = 307
	nTiny    = 2003
	nPtrMap  = 97 // maps of 5 entries each
	nChan    = 113
	nFrame   = 419
)

var (
	smalls   []*small
	mediums  []*medium
	bigs     []*bigRec
	huges    []*hugeRec
	maps     []map[int]int
	slices   [][]int64
	strs     []string
	closures []func() int
	tinies   []*int32
	ptrMaps  []map[int]*mapVal
	chans    []chan *small
)

func mkClosure(i int) func() int {
	j := i * 3
	return func() int { return i + j }
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "big" {
		nSmall *= 100
		nMedium *= 100
		nString *= 100
	}
	// The benchmark's heap (docs/BENCHMARKS.md): about 11 million objects.
	if len(os.Args) > 1 && os.Args[1] == "bench" {
		nSmall *= 800
		nMedium *= 1000
		nString *= 100
	}
	smalls = make([]*small, nSmall)
	for i := range smalls {
		smalls[i] = &small{a: int64(i), b: 1}
		if i > 0 {
			smalls[i].next = smalls[i-1]
		}
	}
	mediums = make([]*medium, nMedium)
	for i := range mediums {
		mediums[i] = &medium{id: i, name: "m"}
	}
	bigs = make([]*bigRec, nBig)
	for i := range bigs {
		bigs[i] = &bigRec{}
	}
	huges = make([]*hugeRec, nHuge)
	for i := range huges {
		huges[i] = &hugeRec{p: smalls[i]}
	}
	maps = make([]map[int]int, nMap)
	for i := range maps {
		// More entries than one bucket/group holds, so every map has a
		// header and a table of its own.
		m := make(map[int]int)
		for k := 0; k < 20; k++ {
			m[k] = i
		}
		maps[i] = m
	}
	slices = make([][]int64, nSlice)
	for i := range slices {
		slices[i] = make([]int64, 10)
	}
	strs = make([]string, nString)
	for i := range strs {
		strs[i] = "string-number-" + strconv.Itoa(i+1000000)
	}
	closures = make([]func() int, nClosure)
	for i := range closures {
		closures[i] = mkClosure(i)
	}
	tinies = make([]*int32, nTiny)
	for i := range tinies {
		v := new(int32)
		*v = int32(i)
		tinies[i] = v
	}

	mode := ""
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	var release func()
	var ready []byte
	if mode == "wait" || mode == "wait-then-crash" {
		// Everything waiting needs is allocated before the figures, and
		// no periodic collection (every 2 minutes) changes the heap while
		// it waits to be dumped.
		debug.SetGCPercent(-1)
		release = armRelease()
		ready = []byte("ready " + strconv.Itoa(os.Getpid()) + "\n")
		// The goroutines signal.Notify starts get their stacks and park
		// now, not after the figures.
		time.Sleep(200 * time.Millisecond)
	}
	ptrMaps = make([]map[int]*mapVal, nPtrMap)
	for i := range ptrMaps {
		m := make(map[int]*mapVal)
		for k := 0; k < 5; k++ {
			m[k] = &mapVal{id: k}
		}
		ptrMaps[i] = m
	}
	chans = make([]chan *small, nChan)
	for i := range chans {
		c := make(chan *small, 5)
		c <- smalls[i]
		chans[i] = c
	}
	var head *frameOnly
	for i := 0; i < nFrame; i++ {
		head = &frameOnly{id: i, next: head}
	}

	samples := []metrics.Sample{
		{Name: "/gc/heap/objects:objects"},
		{Name: "/gc/heap/tiny/allocs:objects"},
		{Name: "/memory/classes/heap/objects:bytes"},
	}
	var ms runtime.MemStats
	// Two collections end with every span swept: nothing changes the heap
	// after the figures are read.
	runtime.GC()
	runtime.GC()
	metrics.Read(samples)
	runtime.ReadMemStats(&ms)
	// println writes to stderr without allocating.
	println("memstats", "HeapAlloc", ms.HeapAlloc, "HeapObjects", ms.HeapObjects, "HeapInuse", ms.HeapInuse,
		"StackInuse", ms.StackInuse, "HeapSys", ms.HeapSys, "Mallocs", ms.Mallocs, "Frees", ms.Frees)
	println("metrics", "objects", samples[0].Value.Uint64(), "tiny", samples[1].Value.Uint64(), "objbytes", samples[2].Value.Uint64())
	println("planted", "main.small", nSmall, "main.medium", nMedium, "main.bigRec", nBig, "main.hugeRec", nHuge,
		"map", nMap, "slice", nSlice, "string", nString, "closure", nClosure, "tiny", nTiny,
		"mapval", nPtrMap*5, "chan", nChan, "frame", nFrame)
	if release != nil {
		os.Stdout.Write(ready)
		release()
		if mode == "wait" {
			return
		}
	}
	var p *small
	println(p.a)
	runtime.KeepAlive(smalls)
	runtime.KeepAlive(head)
}
