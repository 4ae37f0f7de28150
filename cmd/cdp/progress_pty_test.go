//go:build linux

package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal: the terminal end a program writes to,
// and the end that reads what it wrote.
func openPTY(t *testing.T) (term, reader *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock the terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("number of the terminal: %v", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open the terminal: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, m
}

// On a terminal, the export shows a progress bar with the rows so far and
// the total; elsewhere it writes a line at most every 5 s, and nothing for
// an export that takes less.
func TestExportProgressBarOnATerminal(t *testing.T) {
	term, reader := openPTY(t)
	p := newExportProgress(term, 200)
	if p.bar == nil {
		t.Fatal("no progress bar on a terminal")
	}
	p.rows(150)
	p.rows(250) // more than the server counted: the total grows
	p.finish()
	if got := readUntil(reader, "250/250"); !strings.Contains(got, "exporting") || !strings.Contains(got, "250/250") {
		t.Fatalf("the terminal shows %q, want the bar's description \"exporting\" and 250/250 rows", got)
	}

	var plain bytes.Buffer
	q := newExportProgress(&plain, 200)
	if q.bar != nil {
		t.Fatal("a progress bar on a writer that is no terminal")
	}
	q.rows(150)
	q.finish()
	if plain.Len() != 0 {
		t.Fatalf("a quick export off a terminal wrote %q, want nothing", plain.String())
	}
}

// readUntil reads the terminal's output until it holds want, or for a minute,
// and returns what it read.
func readUntil(reader *os.File, want string) string {
	var out bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for !strings.Contains(out.String(), want) {
			n, err := reader.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		reader.Close() // ends the read
		<-done
	}
	return out.String()
}

// On a terminal, cdp copy shows a bar per kind of record with the count so
// far and the total; elsewhere one line per kind when it is copied.
func TestCopyProgressBarOnATerminal(t *testing.T) {
	term, reader := openPTY(t)
	p := newCountProgress(term, 300, "events")
	if p.bar == nil {
		t.Fatal("no progress bar on a terminal")
	}
	p.add(100)
	p.add(200)
	p.done(300, 1500*time.Millisecond)
	if got := readUntil(reader, "300/300"); !strings.Contains(got, "events") || !strings.Contains(got, "300/300") {
		t.Fatalf("the terminal shows %q, want the bar's description \"events\" and 300/300", got)
	}

	var plain bytes.Buffer
	q := newCountProgress(&plain, 300, "events")
	if q.bar != nil {
		t.Fatal("a progress bar on a writer that is no terminal")
	}
	q.add(300)
	q.done(300, 1500*time.Millisecond)
	if got, want := plain.String(), "copied 300 events in 1.5s\n"; got != want {
		t.Fatalf("off a terminal: %q, want %q", got, want)
	}
}
