// panic dies of a panic raised three calls deep, after a deferred recover
// that re-panics, so the panic chain has two entries.
package main

import (
	"errors"
	"fmt"
)

type parseError struct {
	Line int
	Msg  string
}

func (e *parseError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

//go:noinline
func parse(input string) int {
	if input == "" {
		panic(&parseError{Line: 7, Msg: "empty input"})
	}
	return len(input)
}

//go:noinline
func load(name string) int {
	defer func() {
		if r := recover(); r != nil {
			panic(fmt.Errorf("load %q: %w", name, r.(error)))
		}
	}()
	return parse("")
}

func main() {
	_ = errors.New
	fmt.Println(load("config.toml"))
}
