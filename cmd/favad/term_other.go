//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package main

import (
	"errors"
	"os"
)

// isTerminal reports false: on this system favad cannot turn off echo, so a
// password must come on standard input (--password-stdin).
func isTerminal(*os.File) bool { return false }

func readNoEcho(*os.File) (string, error) {
	return "", errors.New("no password prompt on this system; use --password-stdin")
}
