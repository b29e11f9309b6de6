// fatal dies of a runtime throw rather than a panic: mode "mapwrites"
// (default) races two goroutines writing one map until the runtime notices
// ("fatal error: concurrent map writes"); mode "unlock" unlocks an unlocked
// sync.Mutex ("fatal error: sync: unlock of unlocked mutex"); mode "sigquit"
// sends itself SIGQUIT, which the runtime turns into a crash without any
// panic or throw ("SIGQUIT: quit").
package main

import (
	"os"
	"sync"
	"syscall"
	"time"
)

//go:noinline
func writer(m map[int]int, base int) {
	for i := 0; ; i++ {
		m[base+i%1000] = i
	}
}

//go:noinline
func unlockTwice(mu *sync.Mutex) {
	mu.Lock()
	mu.Unlock()
	mu.Unlock()
}

func main() {
	mode := "mapwrites"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	switch mode {
	case "sigquit":
		syscall.Kill(os.Getpid(), syscall.SIGQUIT)
		time.Sleep(time.Minute)
	case "unlock":
		var mu sync.Mutex
		unlockTwice(&mu)
	default:
		m := map[int]int{}
		for i := 1; i < 2; i++ {
			go writer(m, i*1000)
		}
		writer(m, 0)
	}
}
