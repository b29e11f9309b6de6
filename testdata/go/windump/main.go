//go:build windows

// windump writes a full-memory minidump of a running Windows process with
// dbghelp's MiniDumpWriteDump, the way Windows' own tools do:
//
//	windump PID OUT.dmp
//
// The tests run it under wine against a Go fixture, so the minidump reader is
// tested on dumps a Windows library wrote, not on ones we wrote ourselves.
package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

const (
	processAllAccess = 0x1F0FFF
	// MINIDUMP_TYPE flags: full memory, handle data, thread info, memory info.
	miniDumpWithFullMemory     = 0x00000002
	miniDumpWithHandleData     = 0x00000004
	miniDumpWithFullMemoryInfo = 0x00000800
	miniDumpWithThreadInfo     = 0x00001000
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: windump PID OUT.dmp")
		os.Exit(2)
	}
	pid, err := strconv.Atoi(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "windump: bad pid:", err)
		os.Exit(2)
	}
	h, err := syscall.OpenProcess(processAllAccess, false, uint32(pid))
	if err != nil {
		fmt.Fprintln(os.Stderr, "windump: OpenProcess:", err)
		os.Exit(1)
	}
	defer syscall.CloseHandle(h)
	f, err := os.Create(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "windump:", err)
		os.Exit(1)
	}
	defer f.Close()
	dbghelp := syscall.NewLazyDLL("dbghelp.dll")
	write := dbghelp.NewProc("MiniDumpWriteDump")
	flags := miniDumpWithFullMemory | miniDumpWithHandleData | miniDumpWithFullMemoryInfo | miniDumpWithThreadInfo
	r, _, callErr := write.Call(uintptr(h), uintptr(pid), f.Fd(), uintptr(flags), 0, 0, 0)
	if r == 0 {
		fmt.Fprintln(os.Stderr, "windump: MiniDumpWriteDump:", callErr)
		os.Exit(1)
	}
	fmt.Println("dumped", pid, "to", os.Args[2])
}
