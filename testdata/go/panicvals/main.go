// panicvals panics with one kind of value per mode, to check that the panic
// value is printed the way the runtime prints it: "bounds" (runtime.boundsError),
// "int", "string" (with a newline), "custom" (a struct that is neither an
// error nor a Stringer), "mystring" (a named string type), "stringer",
// "errorsnew" (*errors.errorString), "wrapped" (*fmt.wrapError), "goexit"
// (a panic during runtime.Goexit), "nilmap" (runtime.plainError).
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

type custom struct{ A, B int }

type myString string

type temp float64

func (t temp) String() string { return fmt.Sprintf("%.1f°C", float64(t)) }

//go:noinline
func index(s []int, i int) int { return s[i] }

//go:noinline
func crash(mode string) {
	switch mode {
	case "bounds":
		fmt.Println(index([]int{1, 2, 3}, len(mode)+2))
	case "int":
		panic(42)
	case "string":
		panic("two\nlines")
	case "custom":
		panic(custom{1, 2})
	case "mystring":
		panic(myString("named"))
	case "stringer":
		panic(temp(21.5))
	case "errorsnew":
		panic(errors.New("plain error 17"))
	case "wrapped":
		panic(fmt.Errorf("request %d: %w", 1234, errors.New("timeout")))
	case "goexit":
		defer func() { panic("panic during Goexit") }()
		runtime.Goexit()
	default:
		var m map[string]int
		m[mode] = 1
	}
}

func main() {
	mode := "nilmap"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	crash(mode)
}
