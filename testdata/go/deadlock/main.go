// deadlock blocks every goroutine: main waits on a WaitGroup that a parked
// worker never releases, so the runtime's checkdead throws
// "all goroutines are asleep - deadlock!".
package main

import "sync"

//go:noinline
func worker(ch chan int, wg *sync.WaitGroup) {
	<-ch // nobody sends
	wg.Done()
}

func main() {
	var wg sync.WaitGroup
	ch := make(chan int)
	wg.Add(1)
	go worker(ch, &wg)
	wg.Wait()
}
