// mapwrites dies of "fatal error: concurrent map writes": a runtime throw
// (fatalthrow), not a panic, raised while other goroutines are running.
package main

import "sync"

//go:noinline
func writer(m map[int]int, wg *sync.WaitGroup) {
	for i := 0; i < 1000000000; i++ {
		m[i%100] = i
	}
	wg.Done()
}

func main() {
	m := map[int]int{}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go writer(m, &wg)
	}
	wg.Wait()
}
