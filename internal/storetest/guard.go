package storetest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/idgraph/cdp/graph/neo4jstore"
)

// EnvMayEmpty, set to 1, lets the tests empty a Neo4j that holds data and
// was not started by dev/neo4j/start on this machine (a test server of
// one's own, say).
const EnvMayEmpty = "CDP_TEST_NEO4J_MAY_EMPTY"

// devMainClass names the JVM dev/neo4j/start runs; its command line
// carries it.
const devMainClass = "org.idgraph.cdp.devneo4j.Main"

// mayEmpty returns nil when the tests may delete every node of the
// database s is open on: it is empty, or it is the instance dev/neo4j/start
// runs for that port of this machine, or EnvMayEmpty is 1. Otherwise it
// returns why not, so that `make test` never wipes a Neo4j someone keeps
// data in on the default port.
func mayEmpty(ctx context.Context, s *neo4jstore.Store, uri string) error {
	if os.Getenv(EnvMayEmpty) == "1" {
		return nil
	}
	if devInstance(uri, devStateDir(uri)) {
		return nil
	}
	if u, err := url.Parse(uri); err == nil {
		uri = u.Redacted() // a password written into the URI is not repeated
	}
	n, err := s.CountData(ctx)
	if err != nil {
		return fmt.Errorf("Neo4j at %s: %w", uri, err)
	}
	if n == 0 {
		return nil
	}
	return fmt.Errorf("Neo4j at %s holds %d nodes and was not started by dev/neo4j/start; "+
		"the tests delete every node of the database they use, so they refuse this one. "+
		"Point NEO4J_URI at a Neo4j for tests (dev/neo4j/start runs one), or set %s=1 to let them empty it", uri, n, EnvMayEmpty)
}

// devStateDir is the folder where dev/neo4j/start keeps the state of the
// instance on uri's port: NEO4J_STATE_DIR, as for the script, or
// $TMPDIR/cdp-neo4j-PORT.
func devStateDir(uri string) string {
	if d := os.Getenv("NEO4J_STATE_DIR"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "cdp-neo4j-"+strconv.Itoa(boltPort(uri)))
}

// boltPort returns uri's port, 7687 when it names none, 0 when uri does not
// parse.
func boltPort(uri string) int {
	u, err := url.Parse(uri)
	if err != nil {
		return 0
	}
	if p := u.Port(); p != "" {
		n, _ := strconv.Atoi(p)
		return n
	}
	return 7687
}

// devInstance reports whether uri names this machine's loopback and the
// process in stateDir's neo4j.pid is alive and is dev/neo4j's JVM.
func devInstance(uri, stateDir string) bool {
	u, err := url.Parse(uri)
	if err != nil {
		return false
	}
	switch h := u.Hostname(); {
	case h == "localhost":
	case net.ParseIP(h) != nil && net.ParseIP(h).IsLoopback():
	default:
		return false
	}
	raw, err := os.ReadFile(filepath.Join(stateDir, "neo4j.pid"))
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || pid <= 0 {
		return false
	}
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err == nil {
		return bytes.Contains(cmdline, []byte(devMainClass))
	}
	// No /proc (macOS): the recorded process is alive.
	_, statErr := os.Stat("/proc/self")
	return os.IsNotExist(statErr) && syscall.Kill(pid, 0) == nil
}
