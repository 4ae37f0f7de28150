package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
)

// replicaLimit bounds how long a test waits for a change made through one
// replica to show through the other; what the documents promise is far
// shorter (a second for keys), so reaching it means the change never shows.
const replicaLimit = 30 * time.Second

// eventually asks until ok holds, failing once replicaLimit has passed.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(replicaLimit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, replicaLimit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// gqlReply posts query as secret (none: no key) and returns the reply.
func gqlReply(t *testing.T, dial, secret, query string) httpReply {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query})
	if err != nil {
		t.Fatal(err)
	}
	return send(t, "POST", "http://"+dial+"/graphql", "", secret, string(body))
}

// Two services on one Neo4j, each with its own driver (two replicas), and
// requests alternating between them: what is changed through one is what
// the other answers with. Keys created through A are enforced by B, a
// document B cached in open mode included, with the scopes each key holds;
// a key revoked through A is refused by B and stays refused, and its
// subscription on B ends (within KeyRecheck, 5 s); an audience
// edited through A is read by B with its new filter at once, and kept with
// it; one deleted through A is gone on B; a computed trait defined through
// B is computed and kept on A; consent given through B counts on A; a
// destination deleted through B is gone on A; an identifier erased
// through A is refused by B's collector. Neo4j only: the embedded store's file is
// open in one process at a time.
func TestReplicasAnswerWithEachOthersChanges(t *testing.T) {
	sa := storetest.OpenNeo4j(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sb, err := neo4jstore.Open(ctx, storetest.Neo4jConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close(context.Background()) }) // after the services close
	private := func(c *app.Config) { c.Destinations.AllowPrivate = true }
	_, a := startSubs(t, sa, app.FeedConfig{}, private)
	svcB, b := startSubs(t, sb, app.FeedConfig{}, private)

	// Open mode on both: B parses and caches this document.
	track(t, a, `{"messageId":"m-ann","userId":"ann","event":"Viewed"}`)
	lookup := `{ profileByIdentifier(type: "user_id", value: "ann") { id } }`
	ann := profileOf(t, b, "user_id", "ann")
	if ann == "" {
		t.Fatal("B does not find the profile ingested through A")
	}

	newKey := func(dial, admin string, scopes ...string) (id, secret string) {
		t.Helper()
		var d struct {
			C struct {
				Key    struct{ ID string }
				Secret string
			} `json:"createApiKey"`
		}
		q, _ := json.Marshal(scopes)
		gqlData(t, dial, admin, fmt.Sprintf(`mutation { createApiKey(input: {name: "replicas", scopes: %s}) { key { id } secret } }`, q), &d)
		return d.C.Key.ID, d.C.Secret
	}
	_, admin := newKey(a, "", "keys:admin", "profiles:read", "audiences:read", "audiences:write", "privacy:write", "events:write", "consent:write")
	readID, reader := newKey(a, admin, "profiles:read")
	_, other := newKey(b, admin, "audiences:read")

	// B enforces keys: its cached document answers no caller without one.
	eventually(t, "B refuses a request without a key once A created one", func() bool {
		return gqlReply(t, b, "", lookup).status == http.StatusUnauthorized
	})
	if r := gqlReply(t, b, reader, lookup); r.status != 200 || !strings.Contains(r.body, ann) {
		t.Fatalf("B, the cached lookup with a profiles:read key made through A: %d %s", r.status, r.body)
	}
	if r := gqlReply(t, a, other, lookup); r.code() != "FORBIDDEN" || strings.Contains(r.body, ann) {
		t.Fatalf("A, the lookup with an audiences:read key made through B: %d %s, want FORBIDDEN", r.status, r.body)
	}
	if r := gqlReply(t, b, other, lookup); r.code() != "FORBIDDEN" || strings.Contains(r.body, ann) {
		t.Fatalf("B, the cached lookup with an audiences:read key: %d %s, want FORBIDDEN", r.status, r.body)
	}

	// Revoked through A: B refuses the key, and never takes it back; the
	// key's subscription on B ends.
	ws, _ := dialWS(t, b, nil)
	ws.mustInit(map[string]any{"Authorization": "Bearer " + reader})
	ws.subscribe("r", `subscription { changes { cursor } }`)
	waitActive(t, svcB, 1)
	gqlData(t, a, admin, fmt.Sprintf(`mutation { revokeApiKey(id: %q) { id } }`, readID), nil)
	if r := gqlReply(t, a, reader, lookup); r.status != http.StatusUnauthorized {
		t.Fatalf("A answers a key it revoked: %d %s", r.status, r.body)
	}
	eventually(t, "B refuses the key revoked through A", func() bool {
		return gqlReply(t, b, reader, lookup).status == http.StatusUnauthorized
	})
	if e := ws.subError("r"); e.Extensions["code"] != "UNAUTHENTICATED" {
		t.Fatalf("B, the subscription of the key revoked through A: %+v, want UNAUTHENTICATED", e)
	}
	for i := range 5 {
		if r := gqlReply(t, b, reader, lookup); r.status != http.StatusUnauthorized {
			t.Fatalf("B answers the revoked key again (request %d after its refusal): %d %s", i+1, r.status, r.body)
		}
		time.Sleep(150 * time.Millisecond)
	}

	// Audiences: edited through A, read through B.
	for i, who := range []string{"bo", "cy"} {
		if code, body := post(t, "http://"+[]string{a, b}[i]+"/v1/track", admin,
			fmt.Sprintf(`{"messageId":"m-%s","userId":%q,"event":"Bought"}`, who, who)); code != 200 {
			t.Fatalf("track %s: %d %s", who, code, body)
		}
	}
	var created struct {
		C struct{ ID string } `json:"createAudience"`
	}
	gqlData(t, b, admin, `mutation { createAudience(input: {name: "buyers", filter: {event: {name: "Bought"}}}) { id } }`, &created)
	aud := created.C.ID
	size := func(dial string) (int, string) {
		var d struct {
			A *struct {
				Size   int
				Filter json.RawMessage
			} `json:"audience"`
		}
		gqlData(t, dial, admin, fmt.Sprintf(`{ audience(id: %q) { size filter } }`, aud), &d)
		if d.A == nil {
			return -1, ""
		}
		return d.A.Size, string(d.A.Filter)
	}
	// bo and cy bought; ann only viewed.
	eventually(t, "the audience created through B holds bo and cy on A", func() bool { n, _ := size(a); return n == 2 })
	gqlData(t, a, admin, fmt.Sprintf(`mutation { updateAudience(id: %q, input: {name: "viewers", filter: {event: {name: "Viewed"}}}) { id } }`, aud), nil)
	if _, f := size(b); !strings.Contains(f, "Viewed") || strings.Contains(f, "Bought") {
		t.Fatalf("B, right after A edited the audience, reads the filter %s", f)
	}
	// Wait for the members themselves as well as the size: the size alone
	// passes 1 on its way from bo and cy to ann should a round keep their
	// changes in parts.
	eventually(t, "the audience edited through A holds ann alone on B", func() bool {
		var members struct {
			A struct {
				Size    int
				Members struct{ Nodes []struct{ ID string } }
			} `json:"audience"`
		}
		gqlData(t, b, admin, fmt.Sprintf(`{ audience(id: %q) { size members { nodes { id } } } }`, aud), &members)
		ns := members.A.Members.Nodes
		return members.A.Size == 1 && len(ns) == 1 && ns[0].ID == ann
	})
	gqlData(t, a, admin, fmt.Sprintf(`mutation { deleteAudience(id: %q) }`, aud), nil)
	if n, _ := size(b); n != -1 {
		t.Fatalf("B, right after A deleted the audience, still finds it (size %d)", n)
	}

	// A computed trait defined through B is computed for ann on A, and
	// kept as she views again through B: once, then twice.
	gqlData(t, b, admin, `mutation { defineComputedTrait(input: {name: "views", aggregate: COUNT, event: "Viewed"}) { name } }`, nil)
	views := func() string {
		var d struct {
			P struct {
				V json.RawMessage `json:"computedTrait"`
			} `json:"profileByIdentifier"`
		}
		gqlData(t, a, admin, `{ profileByIdentifier(type: "user_id", value: "ann") { computedTrait(name: "views") } }`, &d)
		return string(d.P.V)
	}
	eventually(t, "ann's views, defined through B, on A", func() bool { return views() == "1" })
	if code, body := post(t, "http://"+b+"/v1/track", admin, `{"messageId":"m-ann-2","userId":"ann","event":"Viewed"}`); code != 200 {
		t.Fatalf("track: %d %s", code, body)
	}
	eventually(t, "ann's views after her second view through B, on A", func() bool { return views() == "2" })

	// Consent granted through B counts on A; a destination made through A
	// and deleted through B is gone on A.
	gqlData(t, b, admin, `mutation { setConsent(input: {identifier: {type: "user_id", value: "cy"}, purpose: "email", status: GRANTED}) { id } }`, nil)
	eventually(t, "cy's consent given through B, counted on A", func() bool {
		var d struct {
			P struct{ Count int } `json:"previewAudience"`
		}
		gqlData(t, a, admin, `{ previewAudience(filter: {consent: {purpose: "email", status: GRANTED}}) { count } }`, &d)
		return d.P.Count == 1
	})
	var dest struct {
		D struct{ ID string } `json:"createDestination"`
	}
	gqlData(t, a, admin, `mutation { createDestination(input: {name: "gone", url: "http://127.0.0.1:9/cdp", secret: "replicas-secret-0123456789", kinds: [EVENT_ADDED]}) { id } }`, &dest)
	gqlData(t, b, admin, fmt.Sprintf(`mutation { deleteDestination(id: %q) }`, dest.D.ID), nil)
	if r := gqlReply(t, a, admin, `{ destinations { nodes { id } } }`); r.status != 200 || strings.Contains(r.body, dest.D.ID) {
		t.Fatalf("A, right after B deleted the destination: %d %s", r.status, r.body)
	}

	// Erased through A: B's collector refuses the identifier at once.
	gqlData(t, a, admin, `mutation { forgetIdentifier(identifier: {type: "user_id", value: "bo"}, reason: "asked") { id } }`, nil)
	if code, body := post(t, "http://"+b+"/v1/track", admin, `{"messageId":"m-bo-2","userId":"bo","event":"Viewed"}`); code != http.StatusBadRequest || !strings.Contains(body, "suppressed") {
		t.Fatalf("B, an event of the identifier erased through A: %d %s, want 400 suppressed", code, body)
	}
}
