package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
)

// zoraNeedles are Zora's values, lowercased, as any store, answer or
// delivery could hold them.
var zoraNeedles = []string{"u-zora-77", "zora.quill@example.org", "zora quillfeather", "quillfeather", "4155550199",
	"anon-zora", "crm-zora-55", "marigold", "xyzzy-5521", "zora"}

func zoraFound(s string) []string {
	low := strings.ToLower(s)
	var out []string
	for _, n := range zoraNeedles {
		if strings.Contains(low, n) {
			out = append(out, n)
		}
	}
	return out
}

// Zora is stored through every entry point (identify, page, alias, track,
// group, the GraphQL ingest mutation, setConsent), is in an audience, has
// computed trait values, shares a device with Bob, and a destination holds
// her changes in batches it could not deliver yet. After forgetProfile, on
// both stores, none of her values is found: in the raw store, in any
// GraphQL read surface, in the audience export, or in any batch the
// destination is sent afterwards.
func TestForgetProfileReachesEverySurface(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		var mu sync.Mutex
		open := false
		var bodies []string
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			defer mu.Unlock()
			if !open {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			bodies = append(bodies, string(b))
		}))
		t.Cleanup(rcv.Close)
		svc, dial := startSubs(t, st, app.Defaults().Feed, func(c *app.Config) {
			c.Destinations = app.DestinationConfig{AllowPrivate: true, Poll: 20 * time.Millisecond, RetryBase: 50 * time.Millisecond}
		})

		var dst struct {
			D struct{ ID string } `json:"createDestination"`
		}
		gqlData(t, dial, "", fmt.Sprintf(`mutation { createDestination(input: {name: "crm", url: %q, secret: "s-0123456789abcdef0123", includePII: true, maxAttempts: 1}) { id } }`, rcv.URL), &dst)
		var aud struct {
			A struct{ ID string } `json:"createAudience"`
		}
		gqlData(t, dial, "", `mutation { createAudience(input: {name: "pro", filter: {trait: {name: "plan", op: EQ, value: "pro"}}}) { id } }`, &aud)
		gqlData(t, dial, "", `mutation { defineComputedTrait(input: {name: "last_coupon", aggregate: LAST, event: "Ordered", property: "coupon"}) { name } }`, nil)
		gqlData(t, dial, "", `mutation { defineComputedTrait(input: {name: "first_note", aggregate: FIRST, event: "Viewed", property: "note"}) { name } }`, nil)

		sendTo(t, dial, "", "identify", `{"userId":"u-bob-9","messageId":"z-bob","timestamp":"2026-01-01T08:00:00Z","traits":{"name":"Bob Roe","plan":"pro"}}`)
		sendTo(t, dial, "", "identify", `{"userId":"u-zora-77","anonymousId":"anon-zora-1","messageId":"z1","timestamp":"2026-01-01T10:00:00Z",
			"traits":{"email":"Zora.Quill@Example.org","name":"Zora Quillfeather","phone":"+1 415 555 0199","plan":"pro","address":{"street":"17 Marigold Lane","city":"Lyon"}},
			"context":{"externalIds":[{"id":"crm-zora-55","type":"crm_id"}],"campaign":{"name":"spring"}}}`)
		sendTo(t, dial, "", "page", `{"anonymousId":"anon-zora-2","messageId":"z2","timestamp":"2026-01-01T09:00:00Z","name":"Home",
			"properties":{"url":"https://shop.example/p?ref=zora.quill@example.org"}}`)
		sendTo(t, dial, "", "alias", `{"userId":"u-zora-77","previousId":"anon-zora-2","messageId":"z3","timestamp":"2026-01-01T11:00:00Z"}`)
		sendTo(t, dial, "", "track", `{"userId":"u-zora-77","messageId":"z4","event":"Ordered","timestamp":"2026-01-01T12:00:00Z",
			"properties":{"total":30,"coupon":"QUILLFEATHER-77","shipTo":"17 Marigold Lane"},"context":{"campaign":{"name":"spring"}}}`)
		sendTo(t, dial, "", "group", `{"userId":"u-zora-77","groupId":"grp-quillfeather","messageId":"z5","timestamp":"2026-01-01T12:10:00Z","traits":{"name":"Quillfeather Studio"}}`)
		gqlData(t, dial, "", `mutation { ingest(events: [{type: "track", userId: "u-zora-77", messageId: "z6", event: "Viewed",
			timestamp: "2026-01-01T12:20:00Z", properties: {note: "zora note xyzzy-5521"}}]) { accepted } }`, nil)
		gqlData(t, dial, "", `mutation { setConsent(input: {identifier: {type: "email", value: "zora.quill@example.org"}, purpose: "email", status: GRANTED,
			proof: {text: "offers to zora.quill@example.org", collector: "form-zora"}}) { id } }`, nil)
		// Bob on Zora's device: the rules refuse the link (one user id per
		// profile), so the event is Bob's; it names Zora.
		sendTo(t, dial, "", "track", `{"userId":"u-bob-9","anonymousId":"anon-zora-1","messageId":"z7","event":"Invited","timestamp":"2026-01-01T13:00:00Z",
			"properties":{"invitee":"zora.quill@example.org","screen":"tv"},"context":{"campaign":{"name":"for Zora.Quill@example.org"}}}`)

		zora := profileIDOf(t, svc.Engine)("user_id", "u-zora-77")
		// Reads and corrections that name her identifiers, each audited.
		for _, q := range []string{
			`{ profileByIdentifier(type: "email", value: "Zora.Quill@example.org") { id traits } }`,
			`{ identifier(type: "crm_id", value: "crm-zora-55") { key } }`,
			`{ explainLink(a: {type: "anonymous_id", value: "anon-zora-1"}, b: {type: "user_id", value: "u-bob-9"}) { linked } }`,
			`mutation { unlinkIdentifiers(a: {type: "user_id", value: "u-zora-77"}, b: {type: "anonymous_id", value: "anon-zora-2"}, reason: "ticket 76") { id } }`,
			`mutation { removeIdentifier(type: "phone", value: "+1 415 555 0199", reason: "ticket 75") { id } }`,
			`{ event(id: "default/z4") { properties } }`,
		} {
			if r := gqlPost(t, dial, "", q); r.status != 200 || r.code() != "" {
				t.Fatalf("%s: %d %s", q, r.status, r.body)
			}
		}
		split := profileIDOf(t, svc.Engine)("anonymous_id", "anon-zora-2")
		if r := gqlPost(t, dial, "", `mutation { mergeProfiles(ids: ["`+zora+`", "`+split+`"], reason: "ticket 74") { id } }`); r.status != 200 || r.code() != "" || split == zora {
			t.Fatalf("mergeProfiles: %d %s", r.status, r.body)
		}
		// The keeper has evaluated her: her membership and the values it
		// keeps (a read computes its own at once, so only the kept ones
		// say that the keeper's round is over, and its COMPUTED_CHANGED
		// entries are in the feed). By hand: her last order's coupon, her
		// first view's note.
		waitFor(t, "Zora in the audience, with her kept computed values", func() bool {
			n, _ := audiencesAndComputed(t, dial, zora)
			kept := keptComputed(t, st, zora)
			return n == 1 && kept["last_coupon"] == "QUILLFEATHER-77" && kept["first_note"] == "zora note xyzzy-5521"
		})
		// Every entry of the feed so far, the keeper's included, is in a
		// batch, and every batch is a dead letter (one attempt, refused),
		// so none is in flight while the erasure runs.
		waitFor(t, "every entry in a dead letter", func() bool {
			head, err := st.(graph.FeedStore).FeedHead(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var d struct {
				P struct{ Nodes []struct{ ID string } }      `json:"p"`
				F struct{ Nodes []struct{ ID string } }      `json:"f"`
				D struct{ Nodes []struct{ EntryCount int } } `json:"d"`
				L struct {
					Nodes []struct{ ID, Position string }
				} `json:"l"`
			}
			gqlData(t, dial, "", `{ p: destinationDeliveries(destinationId: "`+dst.D.ID+`", status: PENDING) { nodes { id } }
				f: destinationDeliveries(destinationId: "`+dst.D.ID+`", status: FAILED) { nodes { id } }
				d: destinationDeliveries(destinationId: "`+dst.D.ID+`", status: DEAD) { nodes { entryCount } }
				l: destinations { nodes { id position } } }`, &d)
			n := 0
			for _, x := range d.D.Nodes {
				n += x.EntryCount
			}
			taken := false
			for _, x := range d.L.Nodes {
				if pos, err := strconv.ParseUint(x.Position, 10, 64); x.ID == dst.D.ID && err == nil && pos >= head {
					taken = true
				}
			}
			return taken && len(d.P.Nodes) == 0 && len(d.F.Nodes) == 0 && n >= 12
		})
		// All but the phone, which removeIdentifier took.
		if got := zoraFound(storetest.Scan(t, st)); len(got) != len(zoraNeedles)-1 {
			t.Fatalf("before the erasure the raw scan finds %v of %v", got, zoraNeedles)
		}

		gqlData(t, dial, "", `mutation { forgetProfile(id: "`+zora+`", reason: "ticket 77") { id } }`, nil)
		mu.Lock()
		open = true
		mu.Unlock()
		gqlData(t, dial, "", `mutation { replayDeadLetters(destinationId: "`+dst.D.ID+`") }`, nil)
		waitFor(t, "every batch delivered", func() bool {
			var d struct {
				P struct{ Nodes []struct{ ID string } } `json:"p"`
				F struct{ Nodes []struct{ ID string } } `json:"f"`
				D struct{ Nodes []struct{ ID string } } `json:"d"`
			}
			gqlData(t, dial, "", `{ p: destinationDeliveries(destinationId: "`+dst.D.ID+`", status: PENDING) { nodes { id } }
				f: destinationDeliveries(destinationId: "`+dst.D.ID+`", status: FAILED) { nodes { id } }
				d: destinationDeliveries(destinationId: "`+dst.D.ID+`", status: DEAD) { nodes { id } } }`, &d)
			return len(d.P.Nodes) == 0 && len(d.F.Nodes) == 0 && len(d.D.Nodes) == 0
		})
		mu.Lock()
		if len(bodies) == 0 || !strings.Contains(strings.Join(bodies, ""), "u-bob-9") {
			t.Errorf("the replayed batches did not reach the receiver: %v", bodies)
		}
		for _, b := range bodies {
			if got := zoraFound(b); len(got) > 0 {
				t.Errorf("a delivery sent after the erasure holds %v: %s", got, b)
			}
		}
		mu.Unlock()

		if got := leftovers(t, st, zoraNeedles...); len(got) > 0 {
			t.Errorf("the raw scan still finds %v", got)
		}
		for _, q := range []string{
			`{ profiles(first: 5) { nodes { id traits computed audiences { since } traitValues(first: 20) { name value }
				identifiers { type value } journey(first: 20) { nodes { id name campaign properties traits identifiers { type value } } } } } }`,
			`{ profileByIdentifier(type: "user_id", value: "u-bob-9") { id traits computed } }`,
			`{ audience(id: "` + aud.A.ID + `") { size members(first: 10) { nodes { id traits } } changes(first: 50) { nodes { profileId } } } }`,
			`{ paths(start: {name: "Invited"}) { events } }`,
			`{ attribution(conversion: {name: "Invited"}, dimension: CAMPAIGN, model: LINEAR, lookback: "P30D") { credits { key } } }`,
			`{ funnel(steps: [{name: "Invited"}], within: "P1D") { steps { count } } }`,
		} {
			r := gqlPost(t, dial, "", q)
			if r.status != 200 || r.code() != "" {
				t.Errorf("%s: %d %s", q, r.status, r.body)
			}
			if got := zoraFound(r.body); len(got) > 0 {
				t.Errorf("%s answers %v: %s", q, got, r.body)
			}
		}
		for _, f := range []string{"csv", "ndjson"} {
			r := send(t, "GET", "http://"+dial+"/v1/audiences/"+aud.A.ID+"/export?format="+f+"&identifiers=email,phone,user_id", "", "", "")
			if r.status != 200 {
				t.Errorf("audience export %s: %d %s", f, r.status, r.body)
			}
			if got := zoraFound(r.body); len(got) > 0 {
				t.Errorf("audience export %s holds %v: %s", f, got, r.body)
			}
		}
	})
}

// After forgetProfile, a message that brings back any of the erased
// identifiers, however it carries it and through whichever entry point, is
// refused whole, on both stores: nothing of it is stored, not even the new
// identifiers beside the erased one.
func TestSuppressedIdentifiersRefusedAtEveryEntryPoint(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		svc, dial, _, _ := startService(t, st, "127.0.0.1:0", app.Auth{})
		sendTo(t, dial, "", "identify", `{"userId":"u-zora-77","anonymousId":"anon-zora-1","messageId":"z1","timestamp":"2026-01-01T10:00:00Z",
			"traits":{"email":"zora.quill@example.org","phone":"+1 415 555 0199"},
			"context":{"externalIds":[{"id":"crm-zora-55","type":"crm_id"}],"device":{"id":"dev-zora-3"}}}`)
		zora := profileIDOf(t, svc.Engine)("user_id", "u-zora-77")
		gqlData(t, dial, "", `mutation { forgetProfile(id: "`+zora+`", reason: "ticket 77") { id } }`, nil)

		for i, c := range []struct{ typ, msg string }{
			{"track", `{"userId":"u-zora-77","anonymousId":"fresh-a1","event":"Back","messageId":"r1"}`},
			{"track", `{"anonymousId":"fresh-a2","event":"Back","messageId":"r2","context":{"traits":{"email":" ZORA.Quill@example.org "}}}`},
			{"identify", `{"anonymousId":"fresh-a3","messageId":"r3","traits":{"phone":"(415) 555-0199"}}`},
			{"identify", `{"userId":"fresh-u4","messageId":"r4","context":{"externalIds":[{"id":"crm-zora-55","type":"CRM_ID"}]}}`},
			{"alias", `{"userId":"fresh-u5","previousId":"anon-zora-1","messageId":"r5"}`},
			{"alias", `{"userId":"u-zora-77","previousId":"fresh-a6","messageId":"r6"}`},
			{"group", `{"userId":"u-zora-77","anonymousId":"fresh-a7","groupId":"g1","messageId":"r7"}`},
			{"page", `{"anonymousId":"fresh-a8","messageId":"r8","context":{"device":{"id":"dev-zora-3"}}}`},
			{"screen", `{"anonymousId":"anon-zora-1","userId":"fresh-u9","messageId":"r9"}`},
		} {
			if status, body := post(t, "http://"+dial+"/v1/"+c.typ, "", c.msg); status != http.StatusBadRequest || !strings.Contains(body, "suppressed") {
				t.Errorf("message %d (%s): %d %s, want 400 suppressed", i, c.typ, status, body)
			}
		}
		r := send(t, "POST", "http://"+dial+"/v1/batch", "", "", `{"batch":[
			{"type":"track","userId":"fresh-u10","event":"Ok","messageId":"r10"},
			{"type":"identify","anonymousId":"fresh-a11","messageId":"r11","traits":{"email":"zora.quill@example.org"}}]}`)
		if r.status != 200 || !strings.Contains(r.body, `"index":1`) || !strings.Contains(r.body, "suppressed") {
			t.Errorf("batch: %d %s, want item 1 suppressed", r.status, r.body)
		}
		g := gqlPost(t, dial, "", `mutation { ingest(events: [{type: "identify", anonymousId: "fresh-a12", messageId: "r12",
			traits: {email: "zora.quill@example.org"}}]) { accepted rejected results { index status reason } } }`)
		if !strings.Contains(g.body, "suppressed") {
			t.Errorf("GraphQL ingest: %s, want the event suppressed", g.body)
		}
		// setConsent names a stored identifier only.
		if g := gqlPost(t, dial, "", `mutation { setConsent(input: {identifier: {type: "email", value: "zora.quill@example.org"}, purpose: "email", status: GRANTED}) { id } }`); g.code() != "NOT_FOUND" {
			t.Errorf("setConsent of an erased identifier: %s, want NOT_FOUND", g.body)
		}
		got := leftovers(t, st, append(zoraNeedles, "dev-zora-3", "fresh-a", "fresh-u4", "fresh-u5", "fresh-u9")...)
		if len(got) > 0 {
			t.Errorf("the raw scan finds %v", got)
		}
		if _, err := svc.Engine.ProfileByIdentifier(context.Background(), graph.IdentifierRef{Type: "user_id", Value: "fresh-u10"}); err != nil {
			t.Errorf("the batch's other item is not stored: %v", err)
		}
	})
}

// forgetIdentifier of Zora's email, on both stores: her profile stays,
// and neither the store nor any read surface holds the email afterwards,
// though her other events, a computed trait, an event's name and campaign,
// a consent record and an audience's definition-free membership held it.
func TestForgetIdentifierReachesEverySurface(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		svc, dial := startSubs(t, st, app.Defaults().Feed, nil)
		var aud struct {
			A struct{ ID string } `json:"createAudience"`
		}
		gqlData(t, dial, "", `mutation { createAudience(input: {name: "pro", filter: {trait: {name: "plan", op: EQ, value: "pro"}}}) { id } }`, &aud)
		gqlData(t, dial, "", `mutation { defineComputedTrait(input: {name: "last_contact", aggregate: LAST, event: "Contact", property: "to"}) { name } }`, nil)
		gqlData(t, dial, "", `mutation { defineComputedTrait(input: {name: "first_ref", aggregate: FIRST, eventType: "page", property: "ref"}) { name } }`, nil)
		sendTo(t, dial, "", "identify", `{"userId":"u-zora-77","anonymousId":"anon-zora-1","messageId":"z1","timestamp":"2026-01-01T10:00:00Z",
			"traits":{"email":"Zora.Quill@Example.org","plan":"pro","contact":"zora.quill@example.org"}}`)
		sendTo(t, dial, "", "track", `{"userId":"u-zora-77","messageId":"z2","event":"Contact","timestamp":"2026-01-01T11:00:00Z",
			"properties":{"to":"zora.quill@example.org","via":"mail"},"context":{"campaign":{"name":"mail zora.quill@example.org"}}}`)
		sendTo(t, dial, "", "track", `{"userId":"u-zora-77","messageId":"z3","event":"Sent to zora.quill@example.org","timestamp":"2026-01-01T11:30:00Z"}`)
		sendTo(t, dial, "", "page", `{"anonymousId":"anon-zora-1","messageId":"z4","timestamp":"2026-01-01T09:00:00Z","properties":{"ref":"zora.quill@example.org"}}`)
		gqlData(t, dial, "", `mutation { setConsent(input: {identifier: {type: "email", value: "zora.quill@example.org"}, purpose: "email", status: GRANTED,
			proof: {text: "offers to zora.quill@example.org"}}) { id } }`, nil)
		zora := profileIDOf(t, svc.Engine)("user_id", "u-zora-77")
		// The values the keeper stored hold the email before the erasure
		// (a read computes its own at once, ahead of the keeper's round).
		waitFor(t, "Zora's membership and kept computed traits", func() bool {
			n, _ := audiencesAndComputed(t, dial, zora)
			kept := keptComputed(t, st, zora)
			return n == 1 && kept["last_contact"] == "zora.quill@example.org" && kept["first_ref"] == "zora.quill@example.org"
		})
		const email = "zora.quill@example.org"
		if got := leftovers(t, st, email); len(got) == 0 {
			t.Fatal("before the erasure the raw scan does not find the email")
		}
		gqlData(t, dial, "", `mutation { forgetIdentifier(identifier: {type: "email", value: "zora.quill@example.org"}, reason: "ticket 78") { id } }`, nil)
		if got := leftovers(t, st, email); len(got) > 0 {
			t.Errorf("the raw scan still finds %v", got)
		}
		for _, q := range []string{
			`{ profile(id: "` + zora + `") { id traits computed traitValues(first: 20) { name value }
				identifiers { type value } journey(first: 20) { nodes { id name campaign properties traits } } } }`,
			`{ audience(id: "` + aud.A.ID + `") { size members(first: 10) { nodes { id traits computed } } } }`,
			`{ paths(start: {name: "Contact"}) { events } }`,
			`{ attribution(conversion: {name: "Contact"}, dimension: CAMPAIGN, model: LINEAR, lookback: "P30D") { credits { key } } }`,
			`{ profile(id: "` + zora + `") { consentHistory { proof { text } identifier { value } } } }`,
		} {
			r := gqlPost(t, dial, "", q)
			if r.status != 200 || r.code() != "" {
				t.Errorf("%s: %d %s", q, r.status, r.body)
			}
			if got := zoraFound(r.body); slices.Contains(got, email) {
				t.Errorf("%s answers the email: %s", q, r.body)
			}
		}
		ex := send(t, "GET", "http://"+dial+"/v1/privacy/profiles/"+zora+"/export", "", "", "")
		if ex.status != 200 || strings.Contains(strings.ToLower(ex.body), email) {
			t.Errorf("the data export: %d %s", ex.status, ex.body)
		}
	})
}

// Zora's data export, on both stores, holds every value sent about her,
// whatever entry point and field carried it, and every kind of record the
// README lists for what was sent.
func TestDataExportHoldsEverythingSent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		svc, dial := startSubs(t, st, app.Defaults().Feed, nil)
		gqlData(t, dial, "", `mutation { createAudience(input: {name: "pro", filter: {trait: {name: "plan", op: EQ, value: "pro"}}}) { id } }`, nil)
		gqlData(t, dial, "", `mutation { defineComputedTrait(input: {name: "last_coupon", aggregate: LAST, event: "Ordered", property: "coupon"}) { name } }`, nil)
		sendTo(t, dial, "", "identify", `{"userId":"u-bob-9","messageId":"z-bob","timestamp":"2026-01-01T08:00:00Z","traits":{"name":"Bob Roe"}}`)
		sendTo(t, dial, "", "page", `{"anonymousId":"anon-zora-2","messageId":"z2","timestamp":"2026-01-01T09:00:00Z","name":"Home page-v7",
			"properties":{"url":"https://shop.example/p?ref=ref-value-31"}}`)
		sendTo(t, dial, "", "identify", `{"userId":"u-zora-77","anonymousId":"anon-zora-1","messageId":"z1","timestamp":"2026-01-01T10:00:00Z",
			"traits":{"email":"Zora.Quill@Example.org","name":"Zora Quillfeather","phone":"+1 415 555 0199","plan":"pro","address":{"street":"17 Marigold Lane"}},
			"context":{"externalIds":[{"id":"crm-zora-55","type":"crm_id"}],"device":{"id":"dev-zora-3"},"campaign":{"name":"camp-spring-12"},
			"consent":{"categoryPreferences":{"Advertising":true}}}}`)
		sendTo(t, dial, "", "alias", `{"userId":"u-zora-77","previousId":"anon-zora-2","messageId":"z3","timestamp":"2026-01-01T11:00:00Z"}`)
		sendTo(t, dial, "", "track", `{"userId":"u-zora-77","messageId":"z4","event":"Ordered","timestamp":"2026-01-01T12:00:00Z",
			"properties":{"total":30,"coupon":"coupon-qf-77"},"context":{"traits":{"loyalty":"tier-gold-44"}}}`)
		sendTo(t, dial, "", "group", `{"userId":"u-zora-77","groupId":"grp-qf-88","messageId":"z5","timestamp":"2026-01-01T12:10:00Z","traits":{"name":"Studio QF-88"}}`)
		sendTo(t, dial, "", "screen", `{"userId":"u-zora-77","messageId":"z8","name":"Cart screen-x9","timestamp":"2026-01-01T12:15:00Z","properties":{"slot":"slot-s9"}}`)
		gqlData(t, dial, "", `mutation { ingest(events: [{type: "track", userId: "u-zora-77", messageId: "z6", event: "Viewed",
			timestamp: "2026-01-01T12:20:00Z", properties: {note: "note-xyzzy-5521"}}]) { accepted } }`, nil)
		gqlData(t, dial, "", `mutation { setConsent(input: {identifier: {type: "email", value: "zora.quill@example.org"}, purpose: "email", status: GRANTED,
			proof: {text: "proof-text-66", version: "v-66", collector: "form-66"}}) { id } }`, nil)
		sendTo(t, dial, "", "track", `{"userId":"u-bob-9","anonymousId":"anon-zora-1","messageId":"z7","event":"Invited","timestamp":"2026-01-01T13:00:00Z","properties":{"screen":"tv"}}`)
		zora := profileIDOf(t, svc.Engine)("user_id", "u-zora-77")
		// The export lists the values the keeper stored, which follow the
		// events by a round; a read computes its own at once. So wait for
		// the export itself to hold the kept value and the membership.
		var ex httpReply
		waitFor(t, "Zora's kept computed trait and membership in her export", func() bool {
			ex = send(t, "GET", "http://"+dial+"/v1/privacy/profiles/"+zora+"/export", "", "", "")
			if ex.status != 200 {
				t.Fatalf("export: %d %s", ex.status, ex.body)
			}
			return strings.Contains(ex.body, `"kind":"computed"`) && strings.Contains(ex.body, `"kind":"membership"`)
		})
		low := strings.ToLower(ex.body)
		for _, v := range []string{"u-zora-77", "anon-zora-1", "anon-zora-2", "zora.quill@example.org", "zora quillfeather", "+14155550199",
			"crm-zora-55", "dev-zora-3", "marigold", "camp-spring-12", "advertising", "ref-value-31", "page-v7", "coupon-qf-77", "tier-gold-44",
			"grp-qf-88", "studio qf-88", "screen-x9", "slot-s9", "note-xyzzy-5521", "proof-text-66", "v-66", "form-66", "invited"} {
			if !strings.Contains(low, v) {
				t.Errorf("the export lacks %q", v)
			}
		}
		for _, k := range []string{"identifier", "trait", "consent", "history", "link", "membership", "computed", "audienceChange", "event"} {
			if !strings.Contains(ex.body, `"kind":"`+k+`"`) {
				t.Errorf("the export has no %s record", k)
			}
		}
	})
}

// keptComputed returns the computed values the keeper stored for profile
// id, by name.
func keptComputed(t *testing.T, st graph.Store, id string) map[string]any {
	t.Helper()
	cs, err := audience.ComputedOf(st.(audience.Store))(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	for _, c := range cs {
		out[c.Name] = c.Value
	}
	return out
}

// audiencesAndComputed returns how many audiences profile id is in, and
// its computed traits.
func audiencesAndComputed(t *testing.T, dial string, id string) (int, map[string]any) {
	t.Helper()
	var p struct {
		P struct {
			Audiences []any          `json:"audiences"`
			Computed  map[string]any `json:"computed"`
		} `json:"profile"`
	}
	gqlData(t, dial, "", `{ profile(id: "`+id+`") { audiences { since } computed } }`, &p)
	return len(p.P.Audiences), p.P.Computed
}
