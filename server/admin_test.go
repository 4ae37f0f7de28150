package server

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/auth"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/internal/storetest"
)

// errorBody reads {"error", "code"}.
func errorBody(t *testing.T, r reply) (msg, code string) {
	t.Helper()
	var e struct{ Error, Code string }
	if err := json.Unmarshal([]byte(r.body), &e); err != nil {
		t.Fatalf("answer %d is not JSON {error, code}: %q", r.status, r.body)
	}
	return e.Error, e.Code
}

// POST /admin/backup: open to every local caller in open mode; with keys,
// 401 without one and 403 naming keys:admin without that scope (the key
// taking it holds every scope: TestBackupNeedsEveryScope), audited on both
// stores; 405 for another method. On the embedded store the body is a
// sound database file of this build's layout holding what the store held
// (its two keys), its Content-Length exact, with one audit entry of the
// key that took it; on Neo4j, 501 pointing to neo4j-admin, and no audit
// entry but the refusal's.
func TestBackupEndpoint(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ks := accessStore(t, st)
		_, embeddedStore := st.(*embedded.Store)
		wantBackup := func(t *testing.T, r reply, keys int) {
			t.Helper()
			if !embeddedStore {
				msg, code := errorBody(t, r)
				if r.status != http.StatusNotImplemented || code != "NOT_IMPLEMENTED" ||
					!strings.Contains(msg, "neo4j-admin database dump") || !strings.Contains(msg, "neo4j-admin database load") {
					t.Errorf("backup on %T: %d %s, want 501 NOT_IMPLEMENTED pointing to neo4j-admin database dump and load", st, r.status, r.body)
				}
				return
			}
			if r.status != http.StatusOK {
				t.Fatalf("backup: %d %s", r.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/octet-stream" {
				t.Errorf("Content-Type %q", ct)
			}
			if cd := r.header.Get("Content-Disposition"); cd != `attachment; filename="cdp.db"` {
				t.Errorf("Content-Disposition %q", cd)
			}
			if cl := r.header.Get("Content-Length"); cl != strconv.Itoa(len(r.body)) {
				t.Errorf("Content-Length %q, body of %d bytes", cl, len(r.body))
			}
			path := filepath.Join(t.TempDir(), "backup.db")
			if err := os.WriteFile(path, []byte(r.body), 0o600); err != nil {
				t.Fatal(err)
			}
			sum, err := embedded.CheckFile(context.Background(), path)
			if err != nil {
				t.Fatalf("the backup is not a sound store file: %v", err)
			}
			if want := (embedded.FileSummary{Layout: embedded.LayoutVersion, Size: int64(len(r.body)), Keys: keys}); sum != want {
				t.Errorf("backup holds %+v, want %+v", sum, want)
			}
		}

		// Open mode: no key stored, loopback.
		open, err := auth.New(auth.Config{Store: ks, Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		dial, _ := guardedServer(t, st, "127.0.0.1:0", open, nil)
		wantBackup(t, call(t, "POST", dial, "/admin/backup", "", ""), 0)

		admin, adminSecret := storeKey(t, ks, access.ScopeNames(access.AllScopes())...)
		reader, readerSecret := storeKey(t, ks, "profiles:read", "pii:read", "audit:read")
		g, err := auth.New(auth.Config{Store: ks, Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		dial, _ = guardedServer(t, st, "127.0.0.1:0", g, nil)
		if r := call(t, "POST", dial, "/admin/backup", "", ""); r.status != 401 || r.code() != "UNAUTHENTICATED" {
			t.Errorf("backup without a key: %d %s, want 401", r.status, r.body)
		}
		r := call(t, "POST", dial, "/admin/backup", "", readerSecret)
		if r.status != 403 || r.code() != "FORBIDDEN" || !strings.Contains(r.body, "keys:admin") {
			t.Errorf("backup with a key lacking keys:admin: %d %s, want 403 naming keys:admin", r.status, r.body)
		}
		r = call(t, "GET", dial, "/admin/backup", "", adminSecret)
		if _, code := errorBody(t, r); r.status != 405 || code != "METHOD_NOT_ALLOWED" || r.header.Get("Allow") != "POST" {
			t.Errorf("GET /admin/backup: %d %v %s, want 405 with Allow: POST", r.status, r.header, r.body)
		}
		wantBackup(t, call(t, "POST", dial, "/admin/backup", "", adminSecret), 2)

		entries, err := ks.Audit(context.Background(), access.AuditQuery{Action: BackupAction, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		// Newest first: the admin key's (embedded only), the reader's
		// refusal, open mode's (embedded only).
		type entry struct{ keyID, outcome, reason string }
		want := []entry{{reader.ID, "FORBIDDEN", "refused: the key lacks the scope keys:admin"}}
		if embeddedStore {
			want = []entry{{admin.ID, access.OutcomeOK, "a copy of the whole store"}, want[0], {"", access.OutcomeOK, "a copy of the whole store"}}
		}
		var got []entry
		for _, e := range entries {
			got = append(got, entry{e.KeyID, e.Outcome, e.Reason})
		}
		if !slices.Equal(got, want) {
			t.Errorf("audit entries of backups %+v, want %+v", got, want)
		}
	})
}

// A backup is a copy of everything the store holds: personal values
// unmasked, the audit log, consent proofs, destination secrets. So it
// needs every scope, not keys:admin alone (which cannot give itself
// pii:read through createApiKey either): a key lacking any one scope gets
// 403 FORBIDDEN naming it, before anything is read, and its refusal is
// audited, naming the scope it lacks.
func TestBackupNeedsEveryScope(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ks := accessStore(t, st)
		all := access.ScopeNames(access.AllScopes())
		_, full := storeKey(t, ks, all...)
		g, err := auth.New(auth.Config{Store: ks, Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		dial, _ := guardedServer(t, st, "127.0.0.1:0", g, nil)
		refused := map[string]string{} // key id: the scope it lacks
		for i, missing := range all {
			scopes := append(append([]string{}, all[:i]...), all[i+1:]...)
			k, secret := storeKey(t, ks, scopes...)
			refused[k.ID] = missing
			r := call(t, "POST", dial, BackupPath, "", secret)
			var body struct {
				Errors []struct {
					Message    string
					Extensions struct{ Code, Scope string }
				}
			}
			_ = json.Unmarshal([]byte(r.body), &body)
			if r.status != http.StatusForbidden || len(body.Errors) != 1 || body.Errors[0].Extensions.Code != "FORBIDDEN" ||
				body.Errors[0].Extensions.Scope != missing || !strings.Contains(body.Errors[0].Message, missing) {
				t.Errorf("backup with every scope but %s: %d %.300s, want 403 FORBIDDEN naming %s", missing, r.status, r.body, missing)
			}
		}
		entries, err := ks.Audit(context.Background(), access.AuditQuery{Action: BackupAction, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != len(all) {
			t.Errorf("refused backups left %d audit entries, want %d: %+v", len(entries), len(all), entries)
		}
		for _, e := range entries {
			if missing, ok := refused[e.KeyID]; !ok || e.Outcome != "FORBIDDEN" || e.Reason != "refused: the key lacks the scope "+missing {
				t.Errorf("audit entry %+v, want a refused key's, FORBIDDEN, naming the scope it lacks", e)
			}
			delete(refused, e.KeyID)
		}
		r := call(t, "POST", dial, BackupPath, "", full)
		want := http.StatusOK
		if _, ok := st.(*embedded.Store); !ok {
			want = http.StatusNotImplemented
		}
		if r.status != want {
			t.Errorf("backup with every scope: %d %.300s, want %d", r.status, r.body, want)
		}
	})
}
