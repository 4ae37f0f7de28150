package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/internal/storetest"
)

// A database Neo4j does not have is a wrong configuration, like refused
// credentials: `cdp serve` says so at once instead of waiting out
// --store-timeout and then blaming the network.
func TestUnknownNeo4jDatabase(t *testing.T) {
	storetest.OpenNeo4j(t) // the test lock, and a Neo4j that answers
	cfg := storetest.Neo4jConfig()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "serve", "--addr", "127.0.0.1:0", "--store-timeout", "10m", "--log-level", "info")
	cmd.Env = cleanEnv("CDP_DATA_DIR="+t.TempDir(), "NEO4J_URI="+cfg.URI, "NEO4J_USER="+cfg.User,
		"NEO4J_PASSWORD="+cfg.Password, "NEO4J_DATABASE=nosuchdb")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("cdp serve still waits for a database Neo4j does not have; stderr:\n%s", stderr.String())
	}
	if err == nil {
		t.Fatalf("exit 0, want non-zero; stderr:\n%s", stderr.String())
	}
	out := strings.TrimSpace(stderr.String())
	lines := strings.Split(out, "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, `has no database "nosuchdb" (check the database name given)`) {
		t.Fatalf("last line %q does not name the missing database", last)
	}
	if strings.Contains(out, "waiting for Neo4j") {
		t.Fatalf("it waited for Neo4j:\n%s", out)
	}
}
