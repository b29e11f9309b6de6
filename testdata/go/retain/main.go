// retain plants structures whose retained sizes are known, each held by
// package variables only, then prints what each root retains (computed
// from the sizes it allocated: every type here is exactly one size class,
// scan objects at most 512 bytes, so no malloc header) and crashes.
//
//   - main.cache: a map of nEntries *entry, each with a 256-byte buffer
//     (the map's own tables are the runtime's: reported as a range);
//   - main.list: a linked list of nList 64-byte nodes;
//   - main.ring: a cycle of nRing 128-byte nodes;
//   - main.sharedA and main.sharedB: two slices over one backing array of
//     64 pointers to 48-byte leaves: retained by neither;
//   - main.tree: a complete binary tree of depth treeDepth, each node 32
//     bytes plus a 96-byte payload;
//   - *main.boxed: main.boxed = &holder{...} at package level, which the
//     compiler lays out as a static with no symbol (as nats-server's
//     nbPoolSmall = &sync.Pool{...}); its blk points to a 4096-byte block;
//   - *main.boxedB: the same with a 2048-byte block, its pointer first, so
//     that its static's pointer word follows boxed's (one run of pointer
//     words over two statics, as in go1.27's nats-server).
package main

import (
	"runtime"
	"runtime/debug"
)

const (
	nEntries  = 1000
	nList     = 5000
	nRing     = 100
	nShared   = 64
	treeDepth = 10
)

type entry struct { // 32 bytes
	id  int
	buf []byte // 256 bytes, noscan
}

type node struct { // 64 bytes
	next *node
	val  int
	pad  [6]int
}

type rnode struct { // 128 bytes
	next *rnode
	data [15]int
}

type leaf struct { // 48 bytes, noscan
	a [6]int
}

type holder struct { // a static in data, not a heap object
	n   int
	blk *[4096]byte // noscan, 4096 bytes
}

type tnode struct { // 32 bytes
	left, right *tnode
	payload     *[96]byte
	id          int
}

var (
	cache   map[int]*entry
	list    *node
	ring    *rnode
	sharedA []*leaf
	sharedB []*leaf
	tree    *tnode
	boxed   = &holder{n: 1}
	boxedB  = &pholder{n: 2}
)

type pholder struct { // a static in data, its pointer word first
	blk *[2048]byte // noscan, 2048 bytes
	n   int
}

func mkTree(d int, id *int) *tnode {
	if d == 0 {
		return nil
	}
	*id++
	t := &tnode{id: *id, payload: new([96]byte)}
	t.left = mkTree(d-1, id)
	t.right = mkTree(d-1, id)
	return t
}

//go:noinline
func build() {
	cache = make(map[int]*entry, nEntries)
	for i := 0; i < nEntries; i++ {
		cache[i] = &entry{id: i, buf: make([]byte, 256)}
	}
	for i := 0; i < nList; i++ {
		list = &node{next: list, val: i}
	}
	first := &rnode{}
	ring = first
	for i := 1; i < nRing; i++ {
		ring = &rnode{next: ring}
	}
	first.next = ring
	s := make([]*leaf, nShared)
	for i := range s {
		s[i] = &leaf{}
	}
	sharedA = s
	sharedB = s[:nShared/2]
	id := 0
	tree = mkTree(treeDepth, &id)
	boxed.blk = new([4096]byte)
	boxedB.blk = new([2048]byte)
}

//go:noinline
func crash() {
	var p *node
	println(p.val)
}

func main() {
	debug.SetGCPercent(-1)
	build()
	runtime.GC()
	report()
	clobber()
	crash()
}

// clobber zeroes the stack below main's frame, where report's frames held
// the pointers it printed: a conservative stack scan would otherwise find
// them in the crash path's uninitialised slots.
//
//go:noinline
func clobber() {
	var b [16384]byte
	sink(&b)
}

//go:noinline
func sink(b *[16384]byte) { b[0] = 0 }

// report prints what the test expects; its frame (which held the pointers
// it printed) is gone when crash runs.
//
//go:noinline
func report() {
	treeNodes := 1<<treeDepth - 1
	// println writes to stderr without allocating.
	println("expect", "main.list", nList*64, "main.ring", nRing*128, "main.tree", treeNodes*(32+96),
		"main.sharedA", 0, "main.sharedB", 0, "shared", 512+nShared*48, "cache_entries", nEntries*(32+256), "*main.boxed", 4096, "*main.boxedB", 2048)
	println("objects", "main.list", nList, "main.ring", nRing, "main.tree", 2*treeNodes, "shared", 1+nShared, "cache_entries", 2*nEntries, "*main.boxed", 1, "*main.boxedB", 1)
	println("addr", "tree.left", tree.left, "tree.left.right", tree.left.right, "subtree", (1<<(treeDepth-1)-1)*(32+96),
		"leaf", sharedA[3], "shared_array", &sharedA[0], "entry7", cache[7], "entry7buf", &cache[7].buf[0], "listlast", lastNode())
}

func lastNode() *node {
	n := list
	for n.next != nil {
		n = n.next
	}
	return n
}
