package ingest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestLookAlikeIdentifiers sends, over HTTP on both stores, identifier
// values a person cannot tell apart or that hold characters no identifier
// should: two different lone surrogates (which encoding/json would both
// turn into U+FFFD, merging two people), zero-width and bidi characters,
// NUL, CR and LF. Each is refused as an identifier with a reason naming
// the problem; a message with another usable identifier is still stored,
// one with none is reported by index. Canonically equivalent forms (NFC,
// IDNA) are one identifier.
func TestLookAlikeIdentifiers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		ctx := context.Background()
		batch := `{"batch":[` + strings.Join([]string{
			`{"type":"track","event":"e","messageId":"s-0","userId":"\ud800","anonymousId":"a-1"}`,                            // 0 stored; user id dropped
			`{"type":"track","event":"e","messageId":"s-1","userId":"\udc00","anonymousId":"a-2"}`,                            // 1 stored; user id dropped
			`{"type":"identify","messageId":"s-2","userId":"\ud800"}`,                                                         // 2
			`{"type":"identify","messageId":"s-3","traits":{"email":"ann\udfff@example.com"}}`,                                // 3
			`{"type":"identify","messageId":"s-4","userId":"u\u200bx"}`,                                                       // 4
			`{"type":"identify","messageId":"s-5","userId":"u\u202ex"}`,                                                       // 5
			`{"type":"identify","messageId":"s-6","userId":"u\u0000x"}`,                                                       // 6
			`{"type":"identify","messageId":"s-7","userId":"u\rx"}`,                                                           // 7
			`{"type":"identify","messageId":"s-8","context":{"device":{"id":"d\nx"}},"anonymousId":""}`,                       // 8
			`{"type":"track","event":"e","messageId":"s-9","context":{"externalIds":[{"type":"crm_id","id":"\udbff"}]}}`,      // 9
			`{"type":"identify","messageId":"s-10","userId":"\ufffd","anonymousId":"a-3"}`,                                    // 10 stored: a U+FFFD really sent is a value
			`{"type":"identify","messageId":"s-11","traits":{"email":"Jose\u0301@B\u00dcCHER.example"},"anonymousId":"a-4"}`,  // 11 stored
			`{"type":"identify","messageId":"s-12","traits":{"email":"jos\u00e9@xn--bcher-kva.example"},"anonymousId":"a-5"}`, // 12 stored
		}, ",") + `]}`
		r := h.rawPost(t, "/v1/batch", []byte(batch), map[string]string{"Authorization": basic("wk-node")})
		if r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		if r.body.Stored != 5 || r.body.Rejected != 8 {
			t.Errorf("stored %d, rejected %d; want 5 and 8: %s", r.body.Stored, r.body.Rejected, r.raw)
		}
		want := map[int]string{
			2: "user_id unpaired_surrogate", 3: "email unpaired_surrogate", 4: "user_id format_character",
			5: "user_id format_character", 6: "user_id control_character", 7: "user_id control_character",
			8: "device_id control_character", 9: "crm_id unpaired_surrogate",
		}
		if len(r.body.Errors) != len(want) {
			t.Errorf("errors %+v, want items %v", r.body.Errors, want)
		}
		for _, e := range r.body.Errors {
			if w, ok := want[e.Index]; !ok || !strings.Contains(e.Reason, w) {
				t.Errorf("item %d: reason %q, want it to contain %q", e.Index, e.Reason, w)
			}
		}

		// The lone surrogates merged no one.
		p1, p2 := h.profile(t, graph.TypeAnonymousID, "a-1"), h.profile(t, graph.TypeAnonymousID, "a-2")
		if p1.ID == p2.ID || p1.Size != 1 || p2.Size != 1 {
			t.Errorf("a-1 in %s (size %d) and a-2 in %s (size %d): want two profiles of one identifier", p1.ID, p1.Size, p2.ID, p2.Size)
		}
		if _, err := h.eng.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: graph.TypeUserID, Value: "\ufffd"}); err != nil {
			t.Errorf("the U+FFFD user id really sent: %v", err)
		}
		if p := h.profile(t, graph.TypeUserID, "\ufffd"); p.Size != 2 {
			t.Errorf("the U+FFFD user id's profile has %d identifiers, want 2 (with a-3 only)", p.Size)
		}
		// NFC and IDNA: both spellings of the address are one identifier.
		p4, p5 := h.profile(t, graph.TypeAnonymousID, "a-4"), h.profile(t, graph.TypeAnonymousID, "a-5")
		if p4.ID != p5.ID || p4.Size != 3 {
			t.Errorf("a-4 in %s (size %d), a-5 in %s: the two spellings of one address must link them", p4.ID, p4.Size, p5.ID)
		}
		if p := h.profile(t, graph.TypeEmail, "jos\u00e9@xn--bcher-kva.example"); p.ID != p4.ID {
			t.Errorf("the email is in %s, want %s", p.ID, p4.ID)
		}

		// A lone surrogate in the batch context's device id: two requests,
		// two different surrogates, two people.
		for _, c := range []struct{ dev, anon string }{{`\udbff`, "a-6"}, {`\udfff`, "a-7"}} {
			body := `{"context":{"device":{"id":"` + c.dev + `"}},"batch":[{"type":"track","event":"e","anonymousId":"` + c.anon + `"}]}`
			if r := h.rawPost(t, "/v1/batch", []byte(body), map[string]string{"Authorization": basic("wk-node")}); r.status != http.StatusOK || r.body.Stored != 1 {
				t.Fatalf("batch context with a lone surrogate: %d %s", r.status, r.raw)
			}
		}
		if p6, p7 := h.profile(t, graph.TypeAnonymousID, "a-6"), h.profile(t, graph.TypeAnonymousID, "a-7"); p6.ID == p7.ID || p6.Size != 1 {
			t.Errorf("a-6 in %s (size %d) and a-7 in %s: a lone surrogate device id linked them", p6.ID, p6.Size, p7.ID)
		}

		drops := h.eng.Normalizer().Drops()
		for reason, n := range map[string]int64{graph.DropUnpairedSurrogate: 7, graph.DropFormatChar: 2, graph.DropControlChar: 3} {
			if drops[reason] != n {
				t.Errorf("%s drops counted %d, want %d (all %v)", reason, drops[reason], n, drops)
			}
		}
		// A single message whose only identifier is refused: 400 naming it.
		r = h.rawPost(t, "/v1/identify", []byte(`{"userId":"\udc00"}`), map[string]string{"Authorization": basic("wk-node")})
		if r.status != http.StatusBadRequest || !strings.Contains(r.body.Error, "user_id unpaired_surrogate") {
			t.Fatalf("single message: %d %s", r.status, r.raw)
		}
	})
}

// TestMessageIDSurrogates: encoding/json turns every lone surrogate into
// U+FFFD, so two message ids differing only there would be one id, and
// the second message a duplicate (answered 200, never stored) or a
// conflict. A message id holding one is refused, naming messageId; one
// holding a real U+FFFD is an id like any other.
func TestMessageIDSurrogates(t *testing.T) {
	h := newHarness(t, storetest.Embedded(t), ingest.Config{})
	batch := `{"batch":[` + strings.Join([]string{
		`{"type":"track","event":"e","messageId":"m\ud800","userId":"u-sur","properties":{"sku":"A"}}`,
		`{"type":"track","event":"e","messageId":"m\udbff","userId":"u-sur","properties":{"sku":"B"}}`,
		`{"type":"track","event":"e","messageId":"m\ufffd","userId":"u-sur","properties":{"sku":"C"}}`,
	}, ",") + `]}`
	r := h.rawPost(t, "/v1/batch", []byte(batch), map[string]string{"Authorization": basic("wk-node")})
	if r.status != http.StatusOK || r.body.Stored != 1 || r.body.Rejected != 2 {
		t.Fatalf("answered %d %s; want the U+FFFD id stored and both lone surrogates refused", r.status, r.raw)
	}
	for _, e := range r.body.Errors {
		if e.Index > 1 || !strings.Contains(e.Reason, "messageId holds an unpaired UTF-16 surrogate") {
			t.Errorf("item %d: %q", e.Index, e.Reason)
		}
	}
	if r.body.Errors[0].Index == r.body.Errors[1].Index {
		t.Errorf("errors %+v, want items 0 and 1", r.body.Errors)
	}
	// A single message too.
	r = h.rawPost(t, "/v1/track", []byte(`{"event":"e","messageId":"\udc00","userId":"u-sur"}`), map[string]string{"Authorization": basic("wk-node")})
	if r.status != http.StatusBadRequest || !strings.Contains(r.raw, "messageId holds an unpaired UTF-16 surrogate") {
		t.Errorf("single message answered %d %s", r.status, r.raw)
	}
}
