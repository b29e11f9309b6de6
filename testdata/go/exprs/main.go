// exprs: main.main holding a value of every Go kind, for comparing
// goanalyze --print with Delve's print on the same core. main.main sets
// its locals, then parks on a channel; mode "crash" has another goroutine
// crash (nil dereference, run with GOTRACEBACK=crash: the kernel writes the
// core), mode "wait" prints "ready" and waits to be dumped (dlv dump), mode
// "trap" stops main.main itself with runtime.Breakpoint() (in stop): SIGTRAP is fatal
// to a Go program, and with GOTRACEBACK=crash the kernel writes the core
// with main.main interrupted by the signal.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"
	"unsafe"
)

type cell struct {
	Num  int
	Text string
}

type tree struct {
	Left, Right *tree
	Val         int
}

// Promotion: outerW.F is inner1.F (depth 1), not deep.F (depth 2).
type deep struct{ F, G int }
type inner1 struct {
	F int
	deep
}
type inner2 struct{ H int }
type outerW struct {
	inner1
	*inner2
	Own string
}

// Ambiguous at depth 1: both amb1 and amb2 have Z.
type amb1 struct{ Z, Y int }
type amb2 struct{ Z int }
type ambW struct {
	amb1
	amb2
}

// A type embedding a pointer to itself.
type selfRef struct {
	*selfRef
	F int
}

type counter int
type label string
type ints []int
type lookup map[string]int

type pair[T any] struct{ A, B T }

type shape interface{ Area() float64 }
type rect struct{ W, H float64 }

func (r rect) Area() float64 { return r.W * r.H }

type myErr struct{ Code int }

func (e *myErr) Error() string { return fmt.Sprint("code ", e.Code) }

func plus(a, b int) int { return a + b }

// Methods promoted through embedding: outerW.Sum is deep's (depth 2),
// outerW.Get is *inner2's (through the embedded pointer).
func (d deep) Sum() int        { return d.F + d.G }
func (i *inner2) Get() int     { return i.H }
func (n named) String() string { return "named " + n.N }

// A fmt.Stringer, for assertions to interface types.
type named struct{ N string }

// A fmt.Stringer never converted to one in the program: the linker makes no
// itab for the pair, so e6.(fmt.Stringer) has none to point to.
type loud struct{ V int }

func (l loud) String() string { return fmt.Sprint("loud ", l.V) }

var (
	gCount   = 7
	gText    = "package text"
	gCell    = cell{Num: 3, Text: "three"}
	gCellPtr = &cell{Num: 4, Text: "four"}
	gInts    = []int{10, 20, 30}
	gTree    *tree
	gFunc    = plus
	gNilMap  map[string]int
	gLabel   label = "lbl"
)

// A generic function parked with its dictionary: DWARF types v and local
// as shapes (go.shape.int), the instantiated type is in .dict; so are the
// types built from T (*T, []T, map[string]T, chan T, pair[T]). local
// escapes (p points to it): DWARF has only `&local`, of type *shape. The
// program prints each type (%T) as the oracle.
func hold[T any](v T, started chan<- bool, wait <-chan bool) {
	local := v
	p := &local
	s := []T{v, v}
	m := map[string]T{"k": v}
	c := make(chan T, 2)
	c <- v
	pr := pair[T]{A: v, B: v}
	fmt.Fprintf(os.Stderr, "hold-types|v=%T|local=%T|p=%T|s=%T|m=%T|c=%T|pr=%T\n", v, local, p, s, m, c, pr)
	started <- true
	<-wait
	runtime.KeepAlive(&local)
	runtime.KeepAlive(&p)
	runtime.KeepAlive(&s)
	runtime.KeepAlive(&m)
	runtime.KeepAlive(&c)
	runtime.KeepAlive(&pr)
}

// stop is where main.main stops in mode "trap". Not inlined: in an
// optimised build Delve's stack of the signalled thread loses main.main
// when runtime.Breakpoint is inlined into it.
//
//go:noinline
func stop() { runtime.Breakpoint() }

func main() {
	mode := "crash"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	// Scalars.
	b1, b2 := true, false
	i1, i2, i3 := 1, 2, 3
	i8 := int8(-8)
	i16 := int16(-1600)
	i32 := int32(-320000)
	i64 := int64(-64000000000)
	u8 := uint8(200)
	u16 := uint16(60000)
	u32 := uint32(4000000000)
	u64 := uint64(18000000000000000000)
	uptr := uintptr(0x1234)
	f32 := float32(1.5)
	f64 := 2.25
	c64 := complex64(complex(1, 2))
	c128 := complex(3.5, -4.5)
	r := 'λ'
	by := byte('A')
	neg := -5
	str1 := "hello, world"
	str2 := "héllo"
	empty := ""
	// Composites.
	arr := [5]int{1, 2, 3, 4, 5}
	sarr := [3]string{"a", "bb", "ccc"}
	carr := [2]cell{{1, "one"}, {2, "two"}}
	earr := [0]int{}
	sl := []int{1, 2, 3, 4, 5, 6}
	ssl := []string{"x", "y"}
	csl := []cell{{5, "five"}, {6, "six"}}
	psl := []*cell{{7, "seven"}, nil}
	bsl := []byte("bytes!")
	var nilsl []int
	sub := sl[1:3]
	m1 := map[string]int{"one": 1, "two": 2, "three": 3}
	m2 := map[int]string{1: "uno", 2: "dos"}
	m3 := map[cell]int{{1, "a"}: 10}
	m4 := map[string]*cell{"p": {8, "eight"}}
	m5 := map[string]interface{}{"n": 1, "s": "str"}
	m6 := map[float64]bool{1.5: true}
	var nilmap map[string]int
	// Pointers.
	pi := &i1
	pc := &cell{9, "nine"}
	ppi := &pi
	parr := &arr
	var nilp *cell
	up := unsafe.Pointer(pc)
	// Structs and promotion.
	c := cell{Num: 11, Text: "eleven"}
	w := outerW{inner1: inner1{F: 1, deep: deep{F: 2, G: 3}}, inner2: &inner2{H: 4}, Own: "own"}
	aw := ambW{amb1{Z: 1, Y: 2}, amb2{Z: 3}}
	sr := &selfRef{F: 5}
	sr.selfRef = sr
	t := &tree{Val: 1, Left: &tree{Val: 2}, Right: &tree{Val: 3}}
	t.Left.Right = t // a cycle
	// Interfaces.
	var e0 interface{}
	var e1 interface{} = 42
	var e2 interface{} = cell{12, "twelve"}
	var e3 interface{} = pc
	var e4 interface{} = "in iface"
	var sh shape = rect{2, 3}
	var err1 error = &myErr{Code: 13}
	err2 := errors.New("plain error")
	var nilerr error
	var e5 interface{} = named{"five"}
	var st fmt.Stringer = named{"six"}
	var e6 interface{} = loud{7}
	// Channels.
	ch1 := make(chan int, 4)
	ch1 <- 1
	ch1 <- 2
	ch2 := make(chan string)
	var nilch chan int
	// Functions.
	fn1 := plus
	k := 3
	fn2 := func(x int) int { return x + k }
	var nilfn func()
	hits := 0
	bump := func() { hits++ } // captures hits by reference
	bump()
	total := w.Sum() + w.Get()
	// Named types and generics.
	cnt := counter(5)
	lbl := label("name")
	is := ints{4, 5}
	lk := lookup{"k": 1}
	pr := pair[int]{A: 1, B: 2}
	ps := pair[string]{A: "x", B: "y"}
	tm := time.Date(2024, 3, 15, 10, 30, 0, 0, time.UTC)
	tz := time.Date(2024, 3, 15, 10, 30, 0, 0, time.FixedZone("CET", 3600))
	dur := 90 * time.Second
	gTree = t

	done := make(chan bool)
	started := make(chan bool)
	go hold(42, started, done)
	go hold(cell{21, "generic"}, started, done)
	<-started
	<-started
	time.Sleep(20 * time.Millisecond) // both parked on <-wait
	if mode == "wait" {
		// A sleeper keeps the runtime's deadlock check quiet while main waits.
		go func() {
			for {
				time.Sleep(time.Hour)
			}
		}()
		fmt.Println("ready", os.Getpid())
	} else if mode == "trap" {
		stop()
	} else {
		go func() {
			time.Sleep(300 * time.Millisecond)
			var p *int
			*p = 1
		}()
	}
	<-done
	runtime.KeepAlive(&[]interface{}{b1, b2, i1, i2, i3, i8, i16, i32, i64, u8, u16, u32, u64, uptr, f32, f64, c64, c128, r, by, neg,
		str1, str2, empty, arr, sarr, carr, earr, sl, ssl, csl, psl, bsl, nilsl, sub, m1, m2, m3, m4, m5, m6, nilmap,
		pi, pc, ppi, parr, nilp, up, c, w, aw, sr, t, e0, e1, e2, e3, e4, sh, err1, err2, nilerr, ch1, ch2, nilch,
		e5, st, e6, bump, hits, total, tz,
		fn1, fn2, nilfn, cnt, lbl, is, lk, pr, ps, tm, dur, gCount, gText, gCell, gCellPtr, gInts, gFunc, gNilMap, gLabel})
}
