package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
)

// Each consent write appends CONSENT_CHANGED in its own transaction, on
// both stores: consent carried by a collected message (as cdp import sends
// it), once per profile however many decisions and identifiers; a resent
// message (a duplicate) appends nothing; a message without consent only
// its EVENT_ADDED; setConsent one entry.
func TestConsentChangedInFeed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		_, dial := startSubs(t, st, app.FeedConfig{}, nil)
		fs := st.(graph.FeedStore)
		read := func(after uint64) []string {
			t.Helper()
			es, err := fs.Feed(context.Background(), after, nil, 100)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, e := range es {
				out = append(out, fmt.Sprintf("%d %s %s %s", e.Seq, e.Kind, e.ProfileID, e.EventID))
			}
			return out
		}
		consent := `{"messageId":"c1","userId":"u-c","anonymousId":"anon-c","event":"Viewed","context":{"consent":{"categoryPreferences":{"email":true,"sms":false}}}}`
		track(t, dial, consent)
		p := profileOf(t, dial, "user_id", "u-c")
		track(t, dial, consent) // a duplicate
		track(t, dial, `{"messageId":"c2","userId":"u-c","event":"Viewed"}`)
		gqlData(t, dial, "", `mutation { setConsent(input: {identifier: {type: "user_id", value: "u-c"}, purpose: "push", status: WITHDRAWN}) { id } }`, nil)
		want := []string{
			"1 EVENT_ADDED " + p + " default/c1",
			"2 CONSENT_CHANGED " + p + " ",
			"3 EVENT_ADDED " + p + " default/c2",
			"4 CONSENT_CHANGED " + p + " ",
		}
		if got := read(0); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("feed:\n got %q\nwant %q", got, want)
		}
	})
}

// Consent categories that map to no purpose are counted in
// cdp_ingest_consent_unknown_categories_total whether the message came to
// the collector or through the GraphQL ingest mutation (README, Consent).
func TestUnknownConsentCategoriesCountedOnEveryPath(t *testing.T) {
	st := storetest.Embedded(t)
	svc, dial, _, _ := startService(t, st, "127.0.0.1:0", app.Auth{})
	const name = "cdp_ingest_consent_unknown_categories_total"
	before := metricValue(t, svc, name)
	r := gqlPost(t, dial, "", `mutation { ingest(events: [{type: "identify", messageId: "uc1", userId: "u-uc",
		context: {consent: {categoryPreferences: {Advertising: true, C0099: true, C0098: false}}}}]) { accepted results { status reason } } }`)
	if r.status != 200 || strings.Contains(r.body, "errors") {
		t.Fatalf("ingest: %d %s", r.status, r.body)
	}
	if got := metricValue(t, svc, name) - before; got != 2 {
		t.Errorf("%s moved by %v after a GraphQL ingest with two unknown categories; want 2", name, got)
	}
	sendTo(t, dial, "", "identify", `{"messageId":"uc2","userId":"u-uc2","context":{"consent":{"categoryPreferences":{"C0099":true}}}}`)
	if got := metricValue(t, svc, name) - before; got != 3 {
		t.Errorf("%s moved by %v after the collector's message too; want 3", name, got)
	}
}
