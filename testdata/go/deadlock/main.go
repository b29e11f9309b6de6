// deadlock blocks every goroutine: main waits on a WaitGroup that a parked
// worker never releases, so the runtime's checkdead throws
// "all goroutines are asleep - deadlock!". Mode "goexit": main calls
// runtime.Goexit with nothing else running ("no goroutines (main called
// runtime.Goexit) - deadlock!").
package main

import (
	"os"
	"runtime"
	"sync"
)

//go:noinline
func worker(ch chan int, wg *sync.WaitGroup) {
	<-ch // nobody sends
	wg.Done()
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "goexit" {
		runtime.Goexit()
	}
	var wg sync.WaitGroup
	ch := make(chan int)
	wg.Add(1)
	go worker(ch, &wg)
	wg.Wait()
}
