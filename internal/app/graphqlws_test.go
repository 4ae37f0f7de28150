package app_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
)

// graphqlWSDir holds the graphql-ws test client; dev/test installs its
// modules (npm ci).
const graphqlWSDir = "testdata/graphqlws"

// nodeClient returns the path of node, skipping the test when node or the
// client's modules are missing; under CI=true that is a failure.
func nodeClient(t *testing.T) string {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format+" (required under CI=true)", args...)
		}
		t.Skipf(format, args...)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(graphqlWSDir, "node_modules", "graphql-ws", "package.json")); err != nil {
		missing("the graphql-ws client's modules are not installed: run npm ci in internal/app/%s (dev/test does)", graphqlWSDir)
	}
	return node
}

// The acceptance client, on both stores: the graphql-ws npm package
// subscribes to profileChanged and changes, sees an event, a merge (its
// profileChanged then follows the survivor) and a consent change, and
// after reconnecting with its last cursor gets exactly what it missed,
// then the live change.
func TestGraphQLWSClient(t *testing.T) {
	node := nodeClient(t)
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		_, dial := startSubs(t, st, app.FeedConfig{}, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, "client.mjs")
		cmd.Dir = graphqlWSDir
		cmd.Env = append(os.Environ(), "CDP_ADDR="+dial)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("node client.mjs: %v\n%s", err, stderr.String())
		}
		var got struct {
			ProfileChanged, Changes, Resumed []string
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("client output %q: %v", out, err)
		}
		for _, c := range []struct {
			name      string
			got, want []string
		}{
			{"profileChanged", got.ProfileChanged, []string{
				"EVENT_ADDED P1 [] default/n2",
				"MERGED P2 [P1] -",
				"EVENT_ADDED P2 [] default/n4",
				"CONSENT_CHANGED P2 [] -",
			}},
			{"changes", got.Changes, []string{
				"EVENT_ADDED P1 [] default/n2",
				"EVENT_ADDED P2 [] default/n3",
				"MERGED P2 [P1] -",
				"EVENT_ADDED P2 [] default/n4",
				"CONSENT_CHANGED P2 [] -",
			}},
			{"changes after the last cursor", got.Resumed, []string{
				"EVENT_ADDED P9 [] default/n5",
				"EVENT_ADDED P2 [] default/n6",
				"EVENT_ADDED P2 [] default/n7",
			}},
		} {
			if !slices.Equal(c.got, c.want) {
				t.Errorf("%s:\n got %q\nwant %q", c.name, c.got, c.want)
			}
		}
	})
}
