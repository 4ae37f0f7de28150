package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
)

// auditedKey stores a key named name with scopes and returns it and its
// secret.
func auditedKey(t *testing.T, st graph.Store, name string, scopes ...string) (access.Key, string) {
	t.Helper()
	k, secret, err := access.NewKey(name, scopes, "", time.Time{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.(access.Store).CreateKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return k, secret
}

// newEntries returns the entries of the audit log whose ids are not in
// seen, and adds them to seen.
func newEntries(t *testing.T, st graph.Store, seen map[string]bool) []access.AuditEntry {
	t.Helper()
	es, err := st.(access.Store).Audit(context.Background(), access.AuditQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []access.AuditEntry
	for _, e := range es {
		if !seen[e.ID] {
			seen[e.ID] = true
			out = append(out, e)
		}
	}
	return out
}

// A read refused for want of scope appends an audit entry, as a mutation
// refused so does: the data export (over HTTP, GET or HEAD, and GraphQL's
// dataExport) without privacy:read, the audience export without
// audiences:read, and the backup without keys:admin. Each entry, worked
// out by hand, names the key, the action, the outcome FORBIDDEN and the
// scope lacked, and the profile or audience asked for when shaped as an
// id; an email pasted in the path is named nowhere. A request that would
// not be the action (another method or path), and one without a key,
// append none. On both stores.
func TestScopeRefusalsOfReadsAreAudited(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		analyst, secret := auditedKey(t, st, "analyst", "profiles:read", "pii:read")
		_, dial, _, _ := startService(t, st, "127.0.0.1:0", app.Auth{})
		base := "http://" + dial
		const pid, seg = "p_ann1", "seg_0123456789abcdef0123456789abcdef"
		lacks := func(s string) string { return "refused: the key lacks the scope " + s }
		type want struct {
			action, reason string
			profiles       []string
		}
		seen := map[string]bool{}
		newEntries(t, st, seen)
		for _, c := range []struct {
			name, method, path, body string
			status                   int
			entry                    *want
		}{
			{"data export", "GET", "/v1/privacy/profiles/" + pid + "/export", "", 403, &want{"privacy.export", lacks("privacy:read"), []string{pid}}},
			{"data export, HEAD", "HEAD", "/v1/privacy/profiles/" + pid + "/export", "", 403, &want{"privacy.export", lacks("privacy:read"), []string{pid}}},
			{"data export of an email pasted for an id", "GET", "/v1/privacy/profiles/ann@example.com/export", "", 403, &want{"privacy.export", lacks("privacy:read"), nil}},
			{"dataExport", "POST", "/graphql", `{"query":"{ dataExport(profileId: \"` + pid + `\") }"}`, 200, &want{"privacy.export", lacks("privacy:read"), []string{pid}}},
			{"dataExport of an email pasted for an id", "POST", "/graphql", `{"query":"{ dataExport(profileId: \"ann@example.com\") }"}`, 200, &want{"privacy.export", lacks("privacy:read"), nil}},
			{"audience export", "GET", "/v1/audiences/" + seg + "/export?format=csv&identifiers=email", "", 403, &want{"audience.export", "audience " + seg + "; " + lacks("audiences:read"), nil}},
			{"audience export, HEAD", "HEAD", "/v1/audiences/" + seg + "/export", "", 403, &want{"audience.export", "audience " + seg + "; " + lacks("audiences:read"), nil}},
			{"audience export of a malformed id", "GET", "/v1/audiences/ann@example.com/export", "", 403, &want{"audience.export", lacks("audiences:read"), nil}},
			{"backup", "POST", "/admin/backup", "", 403, &want{"store.backup", lacks("keys:admin"), nil}},
			// Not the action: refused, not audited.
			{"another method on the data export", "DELETE", "/v1/privacy/profiles/" + pid + "/export", "", 403, nil},
			{"another path under /v1/privacy/", "GET", "/v1/privacy/profiles/" + pid, "", 403, nil},
			{"another method on the audience export", "POST", "/v1/audiences/" + seg + "/export", "", 403, nil},
			{"another method on the backup", "GET", "/admin/backup", "", 403, nil},
		} {
			var r httpReply
			if c.path == "/graphql" {
				r = send(t, c.method, base+c.path, "", secret, c.body)
				if r.status != c.status || !strings.Contains(r.body, `"FORBIDDEN"`) {
					t.Errorf("%s: %d %s, want %d with FORBIDDEN", c.name, r.status, r.body, c.status)
				}
			} else {
				r = send(t, c.method, base+c.path, "", secret, "")
				if r.status != c.status || (c.method != "HEAD" && r.code() != "FORBIDDEN") {
					t.Errorf("%s: %d %s, want %d FORBIDDEN", c.name, r.status, r.body, c.status)
				}
			}
			es := newEntries(t, st, seen)
			if c.entry == nil {
				if len(es) != 0 {
					t.Errorf("%s: %d audit entries, want none: %+v", c.name, len(es), es)
				}
				continue
			}
			if len(es) != 1 {
				t.Errorf("%s: %d audit entries, want 1: %+v", c.name, len(es), es)
				continue
			}
			e := es[0]
			if e.Action != c.entry.action || e.KeyID != analyst.ID || e.KeyName != "analyst" || e.Outcome != "FORBIDDEN" ||
				e.Reason != c.entry.reason || !slices.Equal(e.ProfileIDs, c.entry.profiles) || e.ProfileCount != len(c.entry.profiles) {
				t.Errorf("%s: entry %+v, want action %s, key %s (analyst), outcome FORBIDDEN, reason %q, profiles %v",
					c.name, e, c.entry.action, analyst.ID, c.entry.reason, c.entry.profiles)
			}
			if b, _ := json.Marshal(e); strings.Contains(string(b), "ann@example.com") {
				t.Errorf("%s: the entry repeats the email pasted for an id: %s", c.name, b)
			}
		}
		// No key: 401, no entry.
		if r := send(t, "GET", base+"/v1/privacy/profiles/"+pid+"/export", "", "", ""); r.status != http.StatusUnauthorized {
			t.Errorf("data export without a key: %d %s, want 401", r.status, r.body)
		}
		if es := newEntries(t, st, seen); len(es) != 0 {
			t.Errorf("data export without a key: %d audit entries, want none: %+v", len(es), es)
		}
	})
}

// A refusal for want of scope that is audited takes a token of the key's
// bucket for the other endpoints, as a request let through does: with a
// bucket of 2 that refills once in 1,000 s, two refused exports are
// audited, and the third is answered 429 and appends nothing.
func TestAuditedScopeRefusalsTakeARateLimitToken(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		_, secret := auditedKey(t, st, "analyst", "profiles:read")
		_, dial, _, _ := startService(t, st, "127.0.0.1:0", app.Auth{RateLimit: 0.001, Burst: 2})
		seen := map[string]bool{}
		newEntries(t, st, seen)
		url := "http://" + dial + "/v1/privacy/profiles/p_ann1/export"
		for i, status := range []int{403, 403, 429} {
			r := send(t, "GET", url, "", secret, "")
			if r.status != status {
				t.Errorf("request %d: %d %s, want %d", i+1, r.status, r.body, status)
			}
			n := 1
			if status == 429 {
				n = 0
			}
			if es := newEntries(t, st, seen); len(es) != n {
				t.Errorf("request %d: %d audit entries, want %d: %+v", i+1, len(es), n, es)
			}
		}
	})
}
