package main

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// SIGTERM while cdp serve waits for Neo4j at start is a stop asked for,
// not a failure: the process exits 0 (as it does once serving), without an
// error line, so that an orchestrator stopping a replica that never got
// its store does not record a crash.
func TestServeStopsCleanlyWhileWaitingForTheStore(t *testing.T) {
	// Port 1 answers nothing (a port picked here and closed could be taken
	// by a Neo4j another test starts).
	s := startServeAsync(t, "--neo4j-uri", "bolt://127.0.0.1:1", "--store-timeout", "10m")
	s.waitLog(t, "waiting for Neo4j to answer", 60*time.Second)
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("cdp serve did not exit after SIGTERM; logs:\n%s", s.logs.String())
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit %d after SIGTERM while waiting for Neo4j, want 0; logs:\n%s", code, s.logs.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(s.logs.String()), "\n") {
		if strings.HasPrefix(line, "cdp serve:") {
			t.Fatalf("an error line after SIGTERM: %s", line)
		}
	}
}
