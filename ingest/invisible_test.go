package ingest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestInvisibleIdentifiers sends, over HTTP on both stores, identifier
// values holding characters Unicode renders as nothing though they are
// not format characters: a combining grapheme joiner and a variation
// selector inside an address a person reads as ann@example.com, and user
// ids made of Hangul fillers alone, which read blank. Each is refused as
// format_character, as a zero-width space is: the look-alike address
// starts no second profile beside the real one, and the blank user ids
// join no one.
func TestInvisibleIdentifiers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		batch := `{"batch":[` + strings.Join([]string{
			`{"type":"identify","messageId":"v-0","anonymousId":"a-1","traits":{"email":"ann@example.com"}}`,       // 0 stored
			`{"type":"identify","messageId":"v-1","anonymousId":"a-2","traits":{"email":"ann\u034f@example.com"}}`, // 1 stored, email dropped
			`{"type":"identify","messageId":"v-2","anonymousId":"a-3","traits":{"email":"ann\ufe0f@example.com"}}`, // 2 stored, email dropped
			`{"type":"track","event":"e","messageId":"v-3","userId":"\u3164","anonymousId":"a-4"}`,                 // 3 stored, user id dropped
			`{"type":"track","event":"e","messageId":"v-4","userId":"\u3164","anonymousId":"a-5"}`,                 // 4 stored, user id dropped
			`{"type":"identify","messageId":"v-5","userId":"\uffa0"}`,                                              // 5 refused
			`{"type":"identify","messageId":"v-6","context":{"externalIds":[{"type":"crm_id","id":"c\ufe0e"}]}}`,   // 6 refused
		}, ",") + `]}`
		r := h.rawPost(t, "/v1/batch", []byte(batch), map[string]string{"Authorization": basic("wk-node")})
		if r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		if r.body.Stored != 5 || r.body.Rejected != 2 {
			t.Errorf("stored %d, rejected %d; want 5 and 2: %s", r.body.Stored, r.body.Rejected, r.raw)
		}
		want := map[int]string{5: "user_id format_character", 6: "crm_id format_character"}
		if len(r.body.Errors) != len(want) {
			t.Errorf("errors %+v, want items %v", r.body.Errors, want)
		}
		for _, e := range r.body.Errors {
			if w, ok := want[e.Index]; !ok || !strings.Contains(e.Reason, w) {
				t.Errorf("item %d: reason %q, want it to contain %q", e.Index, e.Reason, w)
			}
		}
		// a-1 holds the one address; a-2 to a-5 are each alone.
		if p := h.profile(t, graph.TypeAnonymousID, "a-1"); p.Size != 2 {
			t.Errorf("a-1's profile has %d identifiers, want 2 (a-1 and ann@example.com)", p.Size)
		}
		seen := map[string]string{}
		for _, anon := range []string{"a-2", "a-3", "a-4", "a-5"} {
			p := h.profile(t, graph.TypeAnonymousID, anon)
			if p.Size != 1 {
				t.Errorf("%s's profile has %d identifiers, want 1: an invisible value was kept", anon, p.Size)
			}
			if o, ok := seen[p.ID]; ok {
				t.Errorf("%s and %s share profile %s", o, anon, p.ID)
			}
			seen[p.ID] = anon
		}
		if n := h.eng.Normalizer().Drops()[graph.DropFormatChar]; n != 6 {
			t.Errorf("format_character drops counted %d, want 6", n)
		}
	})
}
