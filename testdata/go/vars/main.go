// vars: goroutines holding every kind of Go value, for goanalyze --vars /
// --print. Before crashing it prints, on stderr, one line per value it wants
// the analyzer to find, formatted the way goanalyze (and Delve) print it:
//
//	want <function> <variable> <value>   a local or argument of a parked goroutine
//	want-global <name> <value>           a package variable
//	want-reg <function> <variable> <value> the spinning goroutine's register-held value
//
// Then it crashes with a nil dereference (run it with GOTRACEBACK=crash).
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

type point struct{ X, Y int }

type inner struct {
	Name string
	P    point
}

type outer struct {
	ID   int
	In   inner
	Tags []string
	Ptr  *point
}

type node struct {
	Val  int
	Next *node
}

type shape interface{ Area() float64 }

type rect struct{ W, H float64 }

func (r rect) Area() float64 { return r.W * r.H }

type square float64

func (s square) Area() float64 { return float64(s * s) }

type myInt int

var (
	gInt     = 42
	gStr     = "hello, globals"
	gMap     = map[string]int{"a": 1}
	gIntMap  = map[int]string{7: "seven"}
	gSlice   = make([]int, 3, 4)
	gPoint   = point{3, 4}
	gOuter   *outer
	gCycle   *node
	gChan    = make(chan int, 4)
	gIface   interface{}
	gShape   shape
	gFunc    func(int) int
	gArr     = [4]int8{1, -2, 3, -4}
	gFloat   = 2.5
	gComplex = complex(1.5, -2)
	gBool    = true
	gUptr    unsafe.Pointer
	gMyInt   myInt = -17
	gBig           = map[int]int{}
	gKeep    func() int
	// gWild points where nothing is mapped: its target is unreadable.
	gWild *point
)

func want(fn, name, v string) { fmt.Fprintf(os.Stderr, "want %s %s %s\n", fn, name, v) }

// parked counts goroutines that printed their values and are about to
// block; spinning says spin has been looping for a while.
var parked, spinning atomic.Int32

// call keeps a closure a real funcval (a direct call would be inlined).
//
//go:noinline
func call(f func(int) int) int { return f(1) }

// sink keeps spin's work (and so its arguments) alive.
var sink int

//go:noinline
func holdLocals(done chan bool, seed int) {
	s := fmt.Sprintf("local string %d", seed)
	n := seed
	f := float64(seed) / 4
	sl := make([]int, seed-4, seed-3)
	sl[0], sl[1], sl[2] = 1, 2, 3
	p := &point{5, 6}
	o := outer{ID: 1, In: inner{Name: "in", P: point{7, 8}}, Tags: []string{"t1", "t2"}, Ptr: &point{9, 10}}
	m := map[string]int{"x": 10}
	// Dynamic types that depend on seed, so the type words are not constants.
	var e interface{} = point{1, 1}
	var sh shape = square(f)
	if seed > 5 {
		e = rect{f + 0.75, 3}
		sh = rect{f * 4, 5}
	}
	// moved escapes to the heap (a closure kept in a global captures it by
	// reference): DWARF describes it as "&moved", a pointer to it.
	moved := point{seed, seed * 2}
	gKeep = func() int { moved.X++; return moved.X }
	k := n + 2
	clo := func(a int) int { return a + k }
	want("main.holdLocals", "s", fmt.Sprintf("%q", s))
	want("main.holdLocals", "n", fmt.Sprint(n))
	want("main.holdLocals", "f", fmt.Sprint(f))
	want("main.holdLocals", "sl", fmt.Sprintf("[]int len: %d, cap: %d, [%d,%d,%d]", len(sl), cap(sl), sl[0], sl[1], sl[2]))
	want("main.holdLocals", "p", fmt.Sprintf("*main.point {X: %d, Y: %d}", p.X, p.Y))
	want("main.holdLocals", "o", fmt.Sprintf("main.outer {ID: %d, In: main.inner {Name: %q, P: main.point {X: %d, Y: %d}}, Tags: []string len: 2, cap: 2, [%q,%q], Ptr: *main.point {X: %d, Y: %d}}",
		o.ID, o.In.Name, o.In.P.X, o.In.P.Y, o.Tags[0], o.Tags[1], o.Ptr.X, o.Ptr.Y))
	want("main.holdLocals", "m", fmt.Sprintf("map[string]int [%q: %d, ]", "x", m["x"]))
	want("main.holdLocals", "e", fmt.Sprintf("interface {}(main.rect) {W: %v, H: %v}", e.(rect).W, e.(rect).H))
	want("main.holdLocals", "sh", fmt.Sprintf("main.shape(main.rect) {W: %v, H: %v}", sh.(rect).W, sh.(rect).H))
	want("main.holdLocals", "moved", fmt.Sprintf("main.point {X: %d, Y: %d}", moved.X, moved.Y))
	parked.Add(1)
	<-done
	fmt.Println(moved, s, n, f, sl, p, o, m, e, sh, call(clo))
}

//go:noinline
func genericHold[T any](v T, label string, done chan bool) {
	want("main.genericHold[...]", "v", fmt.Sprintf("main.point {X: %d, Y: %d}", any(v).(point).X, any(v).(point).Y))
	want("main.genericHold[...]", "label", fmt.Sprintf("%q", label))
	want("main.genericHold[...]", "done", "chan bool 0/0")
	parked.Add(1)
	<-done
	fmt.Println(v, label)
}

//go:noinline
func holdChan(c chan int, done chan bool) {
	want("main.holdChan", "c", fmt.Sprintf("chan int %d/%d [%d,%d,%d]", len(c), cap(c), 11, 22, 33))
	parked.Add(1)
	<-done
	fmt.Println(len(c))
}

// spin keeps its string in registers while it loops; the crash catches it
// running, so its values come from the thread's signal context.
//
//go:noinline
func spin(s string, n int) int {
	x := 0
	for i := 0; ; i++ {
		x += int(s[i&7]) + n
		sink = x
		if i == 1<<20 {
			spinning.Store(1)
		}
	}
}

func main() {
	// "nopreempt": run again without async preemption, so that spin is
	// still running on its thread when the crash stops the world and its
	// registers are in that thread's signal frame.
	if len(os.Args) > 1 && os.Args[1] == "nopreempt" && os.Getenv("GODEBUG") == "" {
		exe, err := os.Executable()
		if err == nil {
			err = syscall.Exec(exe, os.Args, append(os.Environ(), "GODEBUG=asyncpreemptoff=1"))
		}
		panic(err)
	}
	done := make(chan bool)
	gSlice[0], gSlice[1], gSlice[2] = 1, 2, 3
	gOuter = &outer{ID: 2, In: inner{Name: "global", P: point{1, 2}}, Tags: []string{"g"}, Ptr: &gPoint}
	gCycle = &node{Val: 1}
	gCycle.Next = &node{Val: 2, Next: gCycle}
	gChan <- 5
	gChan <- 6
	gIface = point{8, 9}
	gShape = rect{1, 2}
	base := 100
	gFunc = func(a int) int { return a + base }
	gUptr = unsafe.Pointer(&gInt)
	gWild = (*point)(unsafe.Pointer(uintptr(0xdead0000)))
	for i := 0; i < 100; i++ {
		gBig[i] = i * i
	}

	fmt.Fprintf(os.Stderr, "want-global main.gInt %d\n", gInt)
	fmt.Fprintf(os.Stderr, "want-global main.gStr %q\n", gStr)
	fmt.Fprintf(os.Stderr, "want-global main.gMap map[string]int [%q: %d, ]\n", "a", gMap["a"])
	fmt.Fprintf(os.Stderr, "want-global main.gIntMap map[int]string [7: %q, ]\n", gIntMap[7])
	fmt.Fprintf(os.Stderr, "want-global main.gSlice []int len: %d, cap: %d, [%d,%d,%d]\n", len(gSlice), cap(gSlice), gSlice[0], gSlice[1], gSlice[2])
	fmt.Fprintf(os.Stderr, "want-global main.gPoint main.point {X: %d, Y: %d}\n", gPoint.X, gPoint.Y)
	fmt.Fprintf(os.Stderr, "want-global main.gPoint.X %d\n", gPoint.X)
	fmt.Fprintf(os.Stderr, "want-global main.gOuter.In.Name %q\n", gOuter.In.Name)
	fmt.Fprintf(os.Stderr, "want-global main.gOuter.Tags[0] %q\n", gOuter.Tags[0])
	fmt.Fprintf(os.Stderr, "want-global *main.gOuter.Ptr main.point {X: %d, Y: %d}\n", gOuter.Ptr.X, gOuter.Ptr.Y)
	fmt.Fprintf(os.Stderr, "want-global main.gCycle.Next.Next.Val %d\n", gCycle.Next.Next.Val)
	fmt.Fprintf(os.Stderr, "want-global main.gMap[\"a\"] %d\n", gMap["a"])
	fmt.Fprintf(os.Stderr, "want-global main.gIntMap[7] %q\n", gIntMap[7])
	fmt.Fprintf(os.Stderr, "want-global main.gBig[99] %d\n", gBig[99])
	fmt.Fprintf(os.Stderr, "want-global len(main.gBig) %d\n", len(gBig))
	fmt.Fprintf(os.Stderr, "want-global len(main.gSlice) %d\n", len(gSlice))
	fmt.Fprintf(os.Stderr, "want-global cap(main.gSlice) %d\n", cap(gSlice))
	fmt.Fprintf(os.Stderr, "want-global main.gChan chan int %d/%d [%d,%d]\n", len(gChan), cap(gChan), 5, 6)
	fmt.Fprintf(os.Stderr, "want-global main.gIface interface {}(main.point) {X: %d, Y: %d}\n", gIface.(point).X, gIface.(point).Y)
	fmt.Fprintf(os.Stderr, "want-global main.gShape main.shape(main.rect) {W: %v, H: %v}\n", gShape.(rect).W, gShape.(rect).H)
	fmt.Fprintf(os.Stderr, "want-global main.gFunc main.main.func1\n")
	fmt.Fprintf(os.Stderr, "want-global main.gArr [4]int8 [%d,%d,%d,%d]\n", gArr[0], gArr[1], gArr[2], gArr[3])
	fmt.Fprintf(os.Stderr, "want-global main.gFloat %v\n", gFloat)
	fmt.Fprintf(os.Stderr, "want-global main.gComplex (%v + %vi)\n", real(gComplex), imag(gComplex))
	fmt.Fprintf(os.Stderr, "want-global main.gBool %v\n", gBool)
	fmt.Fprintf(os.Stderr, "want-global main.gMyInt %d\n", gMyInt)
	fmt.Fprintf(os.Stderr, "want-global main.gUptr unsafe.Pointer(%#x)\n", uintptr(gUptr))

	go holdLocals(done, 7)
	go genericHold(point{gPoint.X + 18, gPoint.Y + 18}, gStr[:7], done)
	c := make(chan int, 5)
	c <- 11
	c <- 22
	c <- 33
	go holdChan(c, done)
	spun := "spinning"
	fmt.Fprintf(os.Stderr, "want-reg main.spin s %q\n", spun)
	fmt.Fprintf(os.Stderr, "want-reg main.spin n %d\n", 5)
	go spin(spun, 5)
	for parked.Load() < 3 || spinning.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	runtime.Gosched()
	fmt.Println(gWild != nil, gInt, gStr, gMap, gIntMap, gSlice, gPoint, gOuter, gCycle.Val, len(gChan), gIface, gShape, gFunc(1), gArr, gFloat, gComplex, gBool, gUptr, gMyInt, len(gBig))
	var np *point
	fmt.Println(np.X)
}
