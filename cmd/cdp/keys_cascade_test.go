package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestKeysRevokeTakesTheKeysItCreated: a key made with `cdp keys create`
// has no creator; a key a key created (over GraphQL; here written to the
// store as the server writes it) shows its creator in `list --json` and
// the table, and `cdp keys revoke` of the creator revokes it too, says so
// in a line of its own, and names it in the audit entry's reason.
func TestKeysRevokeTakesTheKeysItCreated(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		dir := t.TempDir()
		testKeysCascade(t, keysStore{
			env: []string{"CDP_DATA_DIR=" + dir},
			with: func(t *testing.T, fn func(s access.Store)) {
				t.Helper()
				st, err := embedded.Open(dir)
				if err != nil {
					t.Fatal(err)
				}
				defer st.Close(context.Background())
				fn(st)
			},
		})
	})
	t.Run("neo4j", func(t *testing.T) {
		st := storetest.OpenNeo4j(t)
		cfg := storetest.Neo4jConfig()
		env := []string{"NEO4J_URI=" + cfg.URI, "NEO4J_USER=" + cfg.User, "NEO4J_PASSWORD=" + cfg.Password,
			"CDP_DATA_DIR=" + t.TempDir()}
		if cfg.Database != "" {
			env = append(env, "NEO4J_DATABASE="+cfg.Database)
		}
		testKeysCascade(t, keysStore{env: env, with: func(t *testing.T, fn func(s access.Store)) { fn(st) }})
	})
}

func testKeysCascade(t *testing.T, ks keysStore) {
	out, errOut, code := runCDP(t, ks.env, "keys", "create", "--name", "root", "--scopes", "keys:admin,profiles:read")
	if code != 0 {
		t.Fatalf("create: exit %d; stderr: %s", code, errOut)
	}
	root := idLine.FindStringSubmatch(out)[1]
	child := access.Key{ID: "key_child1", Name: "child", Scopes: []access.Scope{access.ScopeProfilesRead},
		Hash: access.HashSecret("cdp_" + strings.Repeat("K", 43)), CreatedAt: time.Now().UTC().Truncate(time.Second), CreatedBy: root}
	ks.with(t, func(s access.Store) {
		if err := s.CreateKey(context.Background(), child); err != nil {
			t.Fatal(err)
		}
	})

	out, errOut, code = runCDP(t, ks.env, "keys", "list", "--json")
	if code != 0 {
		t.Fatalf("list --json: exit %d; stderr: %s", code, errOut)
	}
	var keys []keyJSON
	if err := json.Unmarshal([]byte(out), &keys); err != nil {
		t.Fatal(err)
	}
	by := map[string]*string{}
	for _, k := range keys {
		by[k.ID] = k.CreatedBy
	}
	if len(keys) != 2 || by[root] != nil || by[child.ID] == nil || *by[child.ID] != root {
		t.Fatalf("list --json: %s; want %s without a creator and %s created by it", out, root, child.ID)
	}
	out, _, _ = runCDP(t, ks.env, "keys", "list")
	// ID NAME SCOPES SOURCE CREATED CREATED BY ...: the sixth column.
	if f := strings.Fields(keyRow(t, out, child.ID)); len(f) < 6 || f[5] != root {
		t.Fatalf("list row %q does not show its creator %s under CREATED BY", f, root)
	}
	if f := strings.Fields(keyRow(t, out, root)); len(f) < 6 || f[5] != "-" {
		t.Fatalf("list row %q: a key without a creator must show - under CREATED BY", f)
	}

	out, errOut, code = runCDP(t, ks.env, "keys", "revoke", root)
	if code != 0 {
		t.Fatalf("revoke: exit %d; stderr: %s", code, errOut)
	}
	if !strings.Contains(out, "revoked key "+root) || !strings.Contains(out, "revoked with it key "+child.ID+",") {
		t.Fatalf("revoke output %q, want the key and the key it created", out)
	}
	ks.with(t, func(s access.Store) {
		k, ok, err := s.KeyByHash(context.Background(), child.Hash)
		if err != nil || !ok || k.RevokedAt.IsZero() {
			t.Fatalf("the key created by the revoked one: %+v, %v, %v; want revoked", k, ok, err)
		}
		es, err := s.Audit(context.Background(), access.AuditQuery{Action: "keys.revoke", Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		want := "cdp keys, key " + root + "; with it 1 key it created, directly or not: key_child1"
		if len(es) != 1 || es[0].Reason != want {
			t.Fatalf("keys.revoke entries %+v, want one with reason %q", es, want)
		}
	})
}
