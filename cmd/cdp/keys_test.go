package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/internal/storetest"
)

// runCDP runs the binary with env and returns its output and exit code. A
// run that does not end within a minute fails the test (a hang guard, not
// a timing assertion).
func runCDP(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = cleanEnv(env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("cdp %s did not exit; stderr: %s", strings.Join(args, " "), errOut.String())
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("run cdp %s: %v", strings.Join(args, " "), err)
	}
	if s := errOut.String(); strings.Contains(s, "goroutine ") || strings.Contains(s, "panic") {
		t.Fatalf("stack trace from cdp %s:\n%s", strings.Join(args, " "), s)
	}
	return out.String(), errOut.String(), code
}

// keysStore is one store as the keys tests see it: the environment that
// points the binary at it, and a way to read it back in the test.
type keysStore struct {
	env []string
	// with runs fn on the store, opened only while fn runs (the embedded
	// file cannot be shared with the binary).
	with func(t *testing.T, fn func(s access.Store))
}

func TestKeysCommand(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		dir := t.TempDir()
		testKeys(t, keysStore{
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
		// A server running on the same Neo4j does not stand in the way.
		startServe(t, t.TempDir(), env...)
		testKeys(t, keysStore{env: env, with: func(t *testing.T, fn func(s access.Store)) { fn(st) }})
	})
}

var secretLine = regexp.MustCompile(`(?m)^secret: (cdp_\S+)$`)
var idLine = regexp.MustCompile(`(?m)^id: (key_\S+)$`)

func testKeys(t *testing.T, ks keysStore) {
	before := time.Now()
	out, errOut, code := runCDP(t, ks.env, "keys", "create", "--name", "crm backend", "--scopes", "events:write, profiles:read",
		"--source", "crm", "--expires", "720h")
	after := time.Now()
	if code != 0 {
		t.Fatalf("create: exit %d; stderr: %s", code, errOut)
	}
	m := secretLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("create printed no secret line:\n%s", out)
	}
	secret := m[1]
	if err := access.CheckSecret(secret); err != nil {
		t.Fatalf("printed secret: %v", err)
	}
	if strings.Count(out, secret) != 1 || strings.Contains(errOut, secret) {
		t.Fatalf("the secret must appear once, on stdout only; stdout:\n%s\nstderr:\n%s", out, errOut)
	}
	m = idLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("create printed no id line:\n%s", out)
	}
	id := m[1]
	// The scopes in canonical order (the order of the list).
	if !strings.Contains(out, "name: crm backend\n") || !strings.Contains(out, "scopes: profiles:read,events:write\n") {
		t.Fatalf("create output lacks the name or scopes:\n%s", out)
	}
	hash := access.HashSecret(secret)

	// The stored key is the one whose hash the printed secret gives.
	ks.with(t, func(s access.Store) {
		k, ok, err := s.KeyByHash(context.Background(), hash)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			t.Fatal("no stored key has the hash of the printed secret")
		}
		if k.ID != id || k.Name != "crm backend" || k.Source != "crm" ||
			!slices.Equal(k.Scopes, []access.Scope{"profiles:read", "events:write"}) || !k.RevokedAt.IsZero() {
			t.Fatalf("stored key %+v does not match what was created", k)
		}
		if k.ExpiresAt.Before(before.Add(720*time.Hour).Add(-time.Second)) || k.ExpiresAt.After(after.Add(720*time.Hour).Add(time.Second)) {
			t.Fatalf("expiry %s is not 720h after creation (%s to %s)", k.ExpiresAt, before, after)
		}
		wantKeysAudit(t, s, "keys.create", id, 1, before, after)
	})

	noSecrets := func(what, s string) {
		t.Helper()
		if strings.Contains(s, secret) || strings.Contains(s, hash) || strings.Contains(s, "cdp_") || strings.Contains(strings.ToLower(s), "hash") {
			t.Fatalf("%s shows a secret or hash:\n%s", what, s)
		}
	}
	out, errOut, code = runCDP(t, ks.env, "keys", "list")
	if code != 0 {
		t.Fatalf("list: exit %d; stderr: %s", code, errOut)
	}
	noSecrets("list", out+errOut)
	row := keyRow(t, out, id)
	want := []string{id, "crm backend", "profiles:read,events:write", "crm"}
	for _, w := range want {
		if !strings.Contains(row, w) {
			t.Fatalf("list row %q lacks %q", row, w)
		}
	}
	if !strings.HasSuffix(row, " -") {
		t.Fatalf("list row %q: a key not revoked must show - as REVOKED", row)
	}

	listJSON := func() keyJSON {
		t.Helper()
		out, errOut, code := runCDP(t, ks.env, "keys", "list", "--json")
		if code != 0 {
			t.Fatalf("list --json: exit %d; stderr: %s", code, errOut)
		}
		noSecrets("list --json", out+errOut)
		var keys []map[string]any
		if err := json.Unmarshal([]byte(out), &keys); err != nil {
			t.Fatalf("list --json: %v\n%s", err, out)
		}
		if len(keys) != 1 {
			t.Fatalf("list --json shows %d keys, want 1:\n%s", len(keys), out)
		}
		wantFields := []string{"createdAt", "createdBy", "expiresAt", "id", "lastUsedAt", "name", "revokedAt", "scopes", "source"}
		if got := slices.Sorted(maps.Keys(keys[0])); !slices.Equal(got, wantFields) {
			t.Fatalf("list --json fields %v, want %v", got, wantFields)
		}
		var k []keyJSON
		if err := json.Unmarshal([]byte(out), &k); err != nil {
			t.Fatal(err)
		}
		return k[0]
	}
	k := listJSON()
	if k.ID != id || k.Name != "crm backend" || k.Source == nil || *k.Source != "crm" || k.RevokedAt != nil || k.LastUsedAt != nil || k.ExpiresAt == nil || k.CreatedBy != nil ||
		!slices.Equal(k.Scopes, []string{"profiles:read", "events:write"}) {
		t.Fatalf("list --json shows %+v", k)
	}

	// Mistakes: nothing is created, and the exit code says which kind.
	mistakes := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"bad scope", []string{"create", "--name", "x", "--scopes", "profiles:read,profiles:write"}, 2,
			[]string{`unknown scope "profiles:write"`, "the scopes are profiles:read, pii:read, events:write", "keys:admin", "metrics:read"}},
		{"no scope", []string{"create", "--name", "x"}, 2, []string{"--scopes is required"}},
		{"missing name", []string{"create", "--scopes", "profiles:read"}, 2, []string{"--name is required"}},
		{"past expiry", []string{"create", "--name", "x", "--scopes", "profiles:read", "--expires", "2020-01-01T00:00:00Z"}, 2,
			[]string{"--expires 2020-01-01T00:00:00Z is not in the future"}},
		{"bad expiry", []string{"create", "--name", "x", "--scopes", "profiles:read", "--expires", "soon"}, 2,
			[]string{`--expires "soon" is neither`}},
		{"bad source", []string{"create", "--name", "x", "--scopes", "events:write", "--source", "a b"}, 2, []string{`key source "a b"`}},
		{"unknown id", []string{"revoke", "key_0000000000000000000000000000dead"}, 1,
			[]string{`no key with id "key_0000000000000000000000000000dead"`}},
		{"no id", []string{"revoke"}, 2, []string{"give exactly one key id, got 0"}},
		{"malformed id", []string{"revoke", "nope"}, 2, []string{"the argument is not a key id (key_ followed by 1 to 64 letters or digits"}},
		{"zero store timeout", []string{"list", "--store-timeout", "0s"}, 2, []string{"--store-timeout must be positive, got 0s"}},
		{"negative store timeout", []string{"revoke", "--store-timeout", "-5s", "key_0000000000000000000000000000dead"}, 2, []string{"--store-timeout must be positive, got -5s"}},
		{"unknown subcommand", []string{"rotate"}, 2, []string{`unknown command "rotate"`}},
	}
	for _, c := range mistakes {
		_, errOut, code := runCDP(t, ks.env, append([]string{"keys"}, c.args...)...)
		if code != c.code {
			t.Fatalf("%s: exit %d, want %d; stderr: %s", c.name, code, c.code, errOut)
		}
		last := lastLine(errOut)
		for _, w := range c.want {
			if !strings.Contains(last, w) {
				t.Fatalf("%s: last line %q lacks %q", c.name, last, w)
			}
		}
	}
	ks.with(t, func(s access.Store) {
		n, err := s.CountKeys(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("the store holds %d keys after the refused commands, want 1", n)
		}
	})

	// Revoke, then the list and the store show it revoked.
	before = time.Now()
	out, errOut, code = runCDP(t, ks.env, "keys", "revoke", id)
	after = time.Now()
	if code != 0 {
		t.Fatalf("revoke: exit %d; stderr: %s", code, errOut)
	}
	if !strings.Contains(out, "revoked key "+id) {
		t.Fatalf("revoke output: %q", out)
	}
	k = listJSON()
	if k.RevokedAt == nil {
		t.Fatalf("list --json after revoke shows %+v, not revoked", k)
	}
	out, errOut, code = runCDP(t, ks.env, "keys", "list")
	if code != 0 {
		t.Fatalf("list: exit %d; stderr: %s", code, errOut)
	}
	if row := keyRow(t, out, id); strings.HasSuffix(row, " -") {
		t.Fatalf("list row %q does not show the revocation time", row)
	}
	ks.with(t, func(s access.Store) {
		sk, ok, err := s.KeyByHash(context.Background(), hash)
		if err != nil || !ok {
			t.Fatalf("key after revoke: found %v, %v", ok, err)
		}
		if sk.RevokedAt.IsZero() || sk.Usable(time.Now()) || !sk.RevokedAt.Equal(*k.RevokedAt) {
			t.Fatalf("stored key after revoke %+v, listed revokedAt %v", sk, k.RevokedAt)
		}
		wantKeysAudit(t, s, "keys.revoke", id, 1, before, after)
		// The refused commands appended nothing.
		wantKeysAudit(t, s, "keys.create", id, 1, time.Time{}, after)
	})
	// Revoking again keeps the first time and says so.
	out, errOut, code = runCDP(t, ks.env, "keys", "revoke", id)
	if code != 0 || !strings.Contains(out, "already revoked") {
		t.Fatalf("second revoke: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// The second revocation is a change request of its own, audited too.
	ks.with(t, func(s access.Store) { wantKeysAudit(t, s, "keys.revoke", id, 2, time.Time{}, time.Now()) })
}

// wantKeysAudit checks that the store holds n entries of action, the
// newest made between from and to (from zero: not checked) by "cdp keys"
// on key id: no key made it, reason "cdp keys, key ID", outcome ok.
func wantKeysAudit(t *testing.T, s access.Store, action, id string, n int, from, to time.Time) {
	t.Helper()
	got, err := s.Audit(context.Background(), access.AuditQuery{Action: action, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("%d %s audit entries, want %d: %+v", len(got), action, n, got)
	}
	e := got[0]
	if e.KeyID != "" || e.Reason != "cdp keys, key "+id || e.Outcome != access.OutcomeOK || e.Action != action {
		t.Fatalf("%s audit entry %+v, want no key, reason \"cdp keys, key %s\", outcome ok", action, e, id)
	}
	if (!from.IsZero() && e.At.Before(from.Add(-time.Millisecond))) || e.At.After(to.Add(time.Millisecond)) {
		t.Fatalf("%s audit entry at %s, not between %s and %s", action, e.At, from, to)
	}
}

// While another process holds the embedded file, every keys command says
// so in one line, points to the GraphQL field, and exits 1 instead of
// waiting.
func TestKeysEmbeddedHeld(t *testing.T) {
	dir := t.TempDir()
	st, err := embedded.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())
	env := []string{"CDP_DATA_DIR=" + dir}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"keys", "create", "--name", "x", "--scopes", "keys:admin"}, "mutation createApiKey"},
		{[]string{"keys", "list"}, "query apiKeys"},
		{[]string{"keys", "revoke", "key_0000000000000000000000000000dead"}, "mutation revokeApiKey"},
	}
	for _, c := range cases {
		out, errOut, code := runCDP(t, env, c.args...)
		if code != 1 {
			t.Fatalf("%v: exit %d, want 1; stderr: %s", c.args, code, errOut)
		}
		if strings.Contains(out, "secret:") {
			t.Fatalf("%v printed a secret that was never stored:\n%s", c.args, out)
		}
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], "held by a running server") || !strings.Contains(lines[0], c.want) {
			t.Fatalf("%v: stderr %q, want one line saying the store is held and naming %s", c.args, errOut, c.want)
		}
	}
}

// keyRow returns the line of a "cdp keys list" table that starts with id.
func keyRow(t *testing.T, table, id string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[0], "REVOKED") {
		t.Fatalf("list is not a table with a header:\n%s", table)
	}
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, id+" ") {
			return strings.TrimSpace(l)
		}
	}
	t.Fatalf("list lacks key %s:\n%s", id, table)
	return ""
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestKeysListJSONUnsetSourceIsNull: README, cdp keys: list --json prints
// each field "null when unset"; a key created without --source shows
// "source": null, not "".
func TestKeysListJSONUnsetSourceIsNull(t *testing.T) {
	env := []string{"CDP_DATA_DIR=" + t.TempDir()}
	if _, errOut, code := runCDP(t, env, "keys", "create", "--name", "admin", "--scopes", "keys:admin,profiles:read"); code != 0 {
		t.Fatalf("create: exit %d: %s", code, errOut)
	}
	out, errOut, code := runCDP(t, env, "keys", "list", "--json")
	if code != 0 {
		t.Fatalf("list --json: exit %d: %s", code, errOut)
	}
	var keys []map[string]any
	if err := json.Unmarshal([]byte(out), &keys); err != nil || len(keys) != 1 {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	if v, ok := keys[0]["source"]; !ok || v != nil {
		t.Fatalf(`list --json shows "source": %#v for a key created without --source; want null`, v)
	}
}

// list and revoke on a --data-dir that holds no store (a typo) say so and
// exit 1, creating nothing; create makes the store, as for a first key.
func TestKeysListRevokeNeedAStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dtaa")
	env := []string{"CDP_DATA_DIR=" + dir}
	for _, args := range [][]string{{"keys", "list"}, {"keys", "list", "--json"}, {"keys", "revoke", "key_0000000000000000000000000000dead"}} {
		out, errOut, code := runCDP(t, env, args...)
		if code != 1 || out != "" || !strings.Contains(errOut, "no embedded store in "+dir) {
			t.Fatalf("%v on a folder with no store: exit %d, stdout %q, stderr %q; want exit 1 and an error naming the folder", args, code, out, errOut)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Fatalf("%v on a folder with no store created it (%v)", args, err)
		}
	}
	if _, errOut, code := runCDP(t, env, "keys", "create", "--name", "admin", "--scopes", "keys:admin"); code != 0 {
		t.Fatalf("create on a new folder: exit %d: %s", code, errOut)
	}
	if out, errOut, code := runCDP(t, env, "keys", "list"); code != 0 || !strings.Contains(out, "admin") {
		t.Fatalf("list after create: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
