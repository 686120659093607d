package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

var (
	progressMu   sync.Mutex
	progressLast string
	progressAt   time.Time
	progressT0   = time.Now()
)

// progress rewrites the progress line on a terminal; elsewhere it prints a
// line when the message changes, or every ten seconds.
func progress(format string, args ...any) {
	progressMu.Lock()
	defer progressMu.Unlock()
	body := fmt.Sprintf(format, args...)
	msg := fmt.Sprintf("[%4ds] ", int(time.Since(progressT0).Seconds())) + body
	switch {
	case isTerminal():
		fmt.Fprintf(os.Stderr, "\r\033[K%s", msg)
	case body != progressLast || time.Since(progressAt) >= 10*time.Second:
		fmt.Fprintln(os.Stderr, msg)
		progressLast, progressAt = body, time.Now()
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
