// Package testlog holds what tests share to read what a service logged.
package testlog

import (
	"bytes"
	"sync"
)

// Buffer is a log sink that the goroutines writing the logs and the test
// reading them can use at once.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// WriteString appends s, as Write does.
func (l *Buffer) WriteString(s string) (int, error) { return l.Write([]byte(s)) }

// String returns everything written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
