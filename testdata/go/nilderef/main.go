// nilderef dies of a nil pointer dereference (SIGSEGV) in a method called
// through an interface, a few frames below main.
package main

import "fmt"

type node struct {
	next  *node
	value int
}

type walker interface{ walk(n int) int }

type list struct{ head *node }

//go:noinline
func (l *list) walk(n int) int {
	cur := l.head
	sum := 0
	for i := 0; i < n; i++ {
		sum += cur.value // cur becomes nil after the last node
		cur = cur.next
	}
	return sum
}

func main() {
	l := &list{head: &node{value: 1, next: &node{value: 2}}}
	var w walker = l
	fmt.Println(w.walk(5))
}
