// Package storetest opens real stores for tests: the embedded store in a
// temporary folder, and the Neo4j store at NEO4J_URI (default
// bolt://127.0.0.1:7687, started by dev/neo4j/start).
//
// Neo4j Community has one user database, so every test that uses it holds a
// machine-wide file lock for its duration and starts from an empty graph.
// It empties only a database that is empty already, or is the instance
// dev/neo4j/start runs on this machine, or when CDP_TEST_NEO4J_MAY_EMPTY=1:
// never a Neo4j of one's own that happens to answer on the default port.
// Under CI=true a Neo4j that cannot be reached fails the test; elsewhere the
// test is skipped with the reason.
package storetest

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/graph/neo4jstore"
)

// Factory opens a fresh, empty store for one test and closes it when the
// test ends.
type Factory func(t *testing.T) graph.Store

// Each runs fn once per store, as subtests named "embedded" and "neo4j".
func Each(t *testing.T, fn func(t *testing.T, s graph.Store)) {
	t.Helper()
	for _, f := range []struct {
		name string
		open Factory
	}{{"embedded", Embedded}, {"neo4j", Neo4j}} {
		t.Run(f.name, func(t *testing.T) { fn(t, f.open(t)) })
	}
}

// Factories lists the store factories by name.
func Factories() map[string]Factory {
	return map[string]Factory{"embedded": Embedded, "neo4j": Neo4j}
}

// Open opens the store named "embedded" or "neo4j" for a test or benchmark.
func Open(t testing.TB, name string) graph.Store {
	t.Helper()
	if name == "neo4j" {
		return OpenNeo4j(t)
	}
	return OpenEmbedded(t)
}

// Embedded opens an embedded store in a fresh temporary folder.
func Embedded(t *testing.T) graph.Store { return OpenEmbedded(t) }

// OpenEmbedded is Embedded for tests and benchmarks alike.
func OpenEmbedded(t testing.TB) graph.Store {
	t.Helper()
	s, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatalf("open embedded store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// Neo4jConfig returns the Neo4j settings for tests, from the environment.
func Neo4jConfig() neo4jstore.Config {
	c := neo4jstore.Config{
		URI:      os.Getenv("NEO4J_URI"),
		User:     os.Getenv("NEO4J_USER"),
		Password: os.Getenv("NEO4J_PASSWORD"),
		Database: os.Getenv("NEO4J_DATABASE"),
	}
	if c.URI == "" {
		c.URI = "bolt://127.0.0.1:7687"
	}
	return c
}

// Neo4jConfigAs is Neo4jConfig with the URI's scheme replaced by scheme
// (neo4j, bolt+s, neo4j+s...), the host and port kept.
func Neo4jConfigAs(t testing.TB, scheme string) neo4jstore.Config {
	t.Helper()
	cfg := Neo4jConfig()
	_, hostport, ok := strings.Cut(cfg.URI, "://")
	if !ok {
		t.Fatalf("NEO4J_URI %q has no scheme", cfg.URI)
	}
	cfg.URI = scheme + "://" + hostport
	return cfg
}

// DevCAFile is the certificate dev/neo4j/start made for the TLS side of the
// dev instance's Bolt port (see dev/neo4j/README.md), for bolt+s:// and
// neo4j+s:// to trust. Without it the test fails under CI=true and is
// skipped otherwise.
func DevCAFile(t testing.TB) string {
	t.Helper()
	uri := Neo4jConfig().URI
	path := filepath.Join(devStateDir(uri), "tls", "public.crt")
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the dev Neo4j of %s has no TLS certificate, which dev/neo4j/start makes with openssl: %v", uri, err)
		}
		t.Skipf("the dev Neo4j of %s has no TLS certificate (start it with dev/neo4j/start): %v", uri, err)
	}
	return path
}

// Neo4j opens the Neo4j store at NEO4J_URI, holding the machine-wide test
// lock, and empties it.
func Neo4j(t *testing.T) graph.Store { return OpenNeo4j(t) }

// OpenNeo4j is Neo4j for tests and benchmarks alike.
func OpenNeo4j(t testing.TB) *neo4jstore.Store {
	t.Helper()
	return openNeo4j(t, true)
}

// OpenNeo4jAsIs is OpenNeo4j without emptying the graph: a benchmark
// that keeps a large population between runs reads the one an earlier
// run stored. It holds the test lock as OpenNeo4j does.
func OpenNeo4jAsIs(t testing.TB) *neo4jstore.Store {
	t.Helper()
	return openNeo4j(t, false)
}

func openNeo4j(t testing.TB, empty bool) *neo4jstore.Store {
	t.Helper()
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("skipping Neo4j test in -short mode")
	}
	unlock := lock(t)
	t.Cleanup(unlock)
	cfg := Neo4jConfig()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := neo4jstore.Open(ctx, cfg)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Neo4j at %s is required under CI=true: %v", cfg.URI, err)
		}
		t.Skipf("Neo4j at %s not reachable (start it with dev/neo4j/start): %v", cfg.URI, err)
	}
	if !empty {
		t.Cleanup(func() { _ = s.Close(context.Background()) })
		return s
	}
	if err := mayEmpty(ctx, s, cfg.URI); err != nil {
		_ = s.Close(ctx)
		t.Fatal(err)
	}
	if err := s.DeleteAll(ctx); err != nil {
		_ = s.Close(ctx)
		t.Fatalf("empty Neo4j: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// lock takes the machine-wide Neo4j test lock; tests in other packages (run
// as other processes by go test) wait for it.
func lock(t testing.TB) func() {
	t.Helper()
	path := filepath.Join(os.TempDir(), "cdp-neo4j-test.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("open Neo4j test lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		t.Fatalf("take Neo4j test lock: %v", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}
}

// As returns a function that opens a store with open and asserts that it
// implements T, the contract a capability's conformance suite checks
// (access.Store, privacy.ConsentStore...); a store that does not fails the
// test, naming both.
func As[T any](open func(t *testing.T) graph.Store) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		g := open(t)
		s, ok := g.(T)
		if !ok {
			t.Fatalf("%T does not implement %v", g, reflect.TypeFor[T]())
		}
		return s
	}
}

// Must fails the test at once on an error.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// WantCode fails the test at once unless err carries the graph error code
// code; what names the call.
func WantCode(t testing.TB, err error, code, what string) {
	t.Helper()
	if graph.ErrorCode(err) != code {
		t.Fatalf("%s: error %v (code %q), want code %q", what, err, graph.ErrorCode(err), code)
	}
}
