package ingest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestEmailCaseWithTwoSmallForms sends, over HTTP on both stores, one
// address written in capitals and in small letters, where a capital has
// two small forms: the Greek sigma (σ, and ς at the end of a word) and
// the S (s, and the long s ſ). Lowercasing the capitals gives σ and s,
// so the small spelling must take the same form: each address is one
// identifier, and the two visitors who gave it share a profile.
func TestEmailCaseWithTwoSmallForms(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		batch := `{"batch":[` + strings.Join([]string{
			`{"type":"identify","messageId":"c-0","anonymousId":"a-1","traits":{"email":"ΝΙΚΟΣ@example.gr"}}`,
			`{"type":"identify","messageId":"c-1","anonymousId":"a-2","traits":{"email":"νικος@example.gr"}}`,
			`{"type":"identify","messageId":"c-2","anonymousId":"a-3","traits":{"email":"GUSTAV@example.de"}}`,
			`{"type":"identify","messageId":"c-3","anonymousId":"a-4","context":{"traits":{"email":"guſtav@example.de"}}}`,
		}, ",") + `]}`
		r := h.rawPost(t, "/v1/batch", []byte(batch), map[string]string{"Authorization": basic("wk-node")})
		if r.status != http.StatusOK || r.body.Stored != 4 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		for _, c := range []struct{ a, b, email string }{
			{"a-1", "a-2", "νικοσ@example.gr"},
			{"a-3", "a-4", "gustav@example.de"},
		} {
			pa, pb := h.profile(t, graph.TypeAnonymousID, c.a), h.profile(t, graph.TypeAnonymousID, c.b)
			if pa.ID != pb.ID || pa.Size != 3 {
				t.Errorf("%s in %s (size %d), %s in %s: one address in two cases must link them", c.a, pa.ID, pa.Size, c.b, pb.ID)
			}
			if p := h.profile(t, graph.TypeEmail, c.email); p.ID != pa.ID {
				t.Errorf("%s is in %s, want %s", c.email, p.ID, pa.ID)
			}
		}
	})
}
