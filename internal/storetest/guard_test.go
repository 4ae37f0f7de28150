package storetest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
)

// TestDevInstance: only a live process on this machine whose command line
// names dev/neo4j's JVM class, recorded in the state folder, counts as the
// dev instance.
func TestDevInstance(t *testing.T) {
	// bash, with the class name as its $0, stays to run two commands:
	// its command line carries the name, as the JVM's does.
	dev := exec.Command("bash", "-c", "sleep 60; :", devMainClass)
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dev.Process.Kill(); _ = dev.Wait() })
	// On a loaded machine the child's command line was once read before it
	// named the class: wait until it does (where /proc exists).
	if _, err := os.Stat("/proc/self"); err == nil {
		path := filepath.Join("/proc", strconv.Itoa(dev.Process.Pid), "cmdline")
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			b, err := os.ReadFile(path)
			if err == nil && bytes.Contains(b, []byte(devMainClass)) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the stand-in's command line never named the class: %q (%v)", b, err)
			}
		}
	}
	other := exec.Command("sleep", "60")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })

	stateWith := func(content string) string {
		d := t.TempDir()
		if err := os.WriteFile(filepath.Join(d, "neo4j.pid"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return d
	}
	devState := stateWith(strconv.Itoa(dev.Process.Pid) + "\n")
	cases := []struct {
		name, uri, state string
		want             bool
	}{
		{"dev JVM on loopback", "bolt://127.0.0.1:7687", devState, true},
		{"localhost", "neo4j://localhost:7687", devState, true},
		{"IPv6 loopback", "bolt://[::1]:7687", devState, true},
		{"another host", "bolt://db.example.com:7687", devState, false},
		{"another process", "bolt://127.0.0.1:7687", stateWith(strconv.Itoa(other.Process.Pid)), false},
		{"no pid file", "bolt://127.0.0.1:7687", t.TempDir(), false},
		{"garbage pid", "bolt://127.0.0.1:7687", stateWith("not a pid"), false},
		{"unparsable uri", "bolt://[::1", devState, false},
	}
	for _, c := range cases {
		if got := devInstance(c.uri, c.state); got != c.want {
			t.Errorf("%s: devInstance(%q) = %v, want %v", c.name, c.uri, got, c.want)
		}
	}
	_ = dev.Process.Kill()
	_ = dev.Wait()
	if devInstance("bolt://127.0.0.1:7687", devState) {
		t.Error("a dead process still counts as the dev instance")
	}
}

func TestBoltPort(t *testing.T) {
	for uri, want := range map[string]int{
		"bolt://127.0.0.1:7690": 7690, "neo4j://localhost": 7687, "bolt://[::1]:7700": 7700, "bolt://[::1": 0,
	} {
		if got := boltPort(uri); got != want {
			t.Errorf("boltPort(%q) = %d, want %d", uri, got, want)
		}
	}
}

// TestMayEmptyRefusesAForeignNeo4j: against the real Neo4j, a database that
// holds data and is not known as the dev instance is refused, with a reason
// naming the way out; an empty one, or the opt-in, is accepted.
func TestMayEmptyRefusesAForeignNeo4j(t *testing.T) {
	s := OpenNeo4j(t)
	ctx := context.Background()
	cfg := Neo4jConfig()
	t.Setenv("NEO4J_STATE_DIR", t.TempDir()) // no dev instance recorded there
	t.Setenv(EnvMayEmpty, "")

	if err := mayEmpty(ctx, s, cfg.URI); err != nil {
		t.Fatalf("an empty database was refused: %v", err)
	}
	eng := graph.NewEngine(s, nil)
	if _, err := eng.ApplyBatch(ctx, []graph.Event{{ID: "guard-1", Type: "identify",
		Identifiers: []graph.IdentifierRef{{Type: graph.TypeUserID, Value: "u-guard"}}}}); err != nil {
		t.Fatal(err)
	}
	err := mayEmpty(ctx, s, cfg.URI)
	if err == nil {
		t.Fatal("a database holding data, not the dev instance, was accepted for emptying")
	}
	for _, want := range []string{cfg.URI, "was not started by dev/neo4j/start", EnvMayEmpty + "=1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not name %q", err, want)
		}
	}
	// A password written into the URI is not in the refusal.
	_, hostport, _ := strings.Cut(cfg.URI, "://")
	if err := mayEmpty(ctx, s, "bolt://neo4j:pw-Secret-91@"+hostport); err == nil || strings.Contains(err.Error(), "pw-Secret-91") {
		t.Errorf("refusal for a URI with a password: %v", err)
	}
	t.Setenv(EnvMayEmpty, "1")
	if err := mayEmpty(ctx, s, cfg.URI); err != nil {
		t.Fatalf("with %s=1: %v", EnvMayEmpty, err)
	}
}
