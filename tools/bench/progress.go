package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

var (
	progressMu sync.Mutex
	progressT0 = time.Now()
)

// progress rewrites the progress line on a terminal, or prints one line
// per step elsewhere.
func progress(format string, args ...any) {
	progressMu.Lock()
	defer progressMu.Unlock()
	msg := fmt.Sprintf("[%4ds] ", int(time.Since(progressT0).Seconds())) + fmt.Sprintf(format, args...)
	if isTerminal() {
		fmt.Fprintf(os.Stderr, "\r\033[K%s", msg)
	} else {
		fmt.Fprintln(os.Stderr, msg)
	}
}

func progressDone() {
	if isTerminal() {
		fmt.Fprintln(os.Stderr)
	}
}

func isTerminal() bool {
	fi, err := os.Stderr.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
