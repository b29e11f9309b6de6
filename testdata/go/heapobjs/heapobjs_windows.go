//go:build windows

package main

import "os"

// armRelease makes closing stdin the release (signals do not reach a
// program under wine as on Unix); its buffer is allocated now, not after
// the figures are printed.
func armRelease() func() {
	buf := make([]byte, 1)
	return func() {
		for {
			if _, err := os.Stdin.Read(buf); err != nil {
				return
			}
		}
	}
}
