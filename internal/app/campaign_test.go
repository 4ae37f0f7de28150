package app_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
)

// Campaigns sent as Segment's context.campaign.name, through the
// collector, are kept on the events and credited by attribution's
// CAMPAIGN dimension, and a profile's data export carries them.
//
// Ann sees a page of the spring_sale campaign (minute 0), clicks a
// newsletter-may email (10) and opens the app, with no campaign (20),
// then orders (30, itself tagged spring_sale: a conversion is no
// touchpoint). Bob views a product from " newsletter-may " (5; the name
// is trimmed) and orders (40). Cat orders with no touchpoint (15). Dan's
// view names a 300-byte campaign, kept as its first 256 bytes (45), and
// he orders (50).
func TestCampaignCreditedThroughCollector(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		_, dial, _, _ := startService(t, st, "127.0.0.1:0", app.Auth{})
		at := func(minute int) string { return fmt.Sprintf("2026-01-01T12:%02d:00Z", minute) }
		campaign := func(name string) string { return `,"context":{"campaign":{"name":"` + name + `","source":"mail"}}` }
		long := strings.Repeat("x", 300)
		for _, m := range []struct{ typ, body string }{
			{"page", `{"userId":"u-ann","messageId":"c1","name":"Sale","timestamp":"` + at(0) + `"` + campaign("spring_sale") + `}`},
			{"track", `{"userId":"u-ann","messageId":"c2","event":"Email Clicked","timestamp":"` + at(10) + `"` + campaign("newsletter-may") + `}`},
			{"track", `{"userId":"u-ann","messageId":"c3","event":"App Opened","timestamp":"` + at(20) + `"}`},
			{"track", `{"userId":"u-ann","messageId":"c4","event":"Order Completed","timestamp":"` + at(30) + `"` + campaign("spring_sale") + `}`},
			{"track", `{"userId":"u-bob","messageId":"c5","event":"Product Viewed","timestamp":"` + at(5) + `"` + campaign(" newsletter-may ") + `}`},
			{"track", `{"userId":"u-bob","messageId":"c6","event":"Order Completed","timestamp":"` + at(40) + `"}`},
			{"track", `{"userId":"u-cat","messageId":"c7","event":"Order Completed","timestamp":"` + at(15) + `"}`},
			{"track", `{"userId":"u-dan","messageId":"c8","event":"Product Viewed","timestamp":"` + at(45) + `"` + campaign(long) + `}`},
			{"track", `{"userId":"u-dan","messageId":"c9","event":"Order Completed","timestamp":"` + at(50) + `"}`},
		} {
			sendTo(t, dial, "", m.typ, m.body)
		}
		// A campaign name that is not a string is refused, naming it.
		if status, body := post(t, "http://"+dial+"/v1/track", "", `{"userId":"u-eve","event":"x","context":{"campaign":{"name":7}}}`); status != 400 ||
			!strings.Contains(body, "context.campaign.name must be a string") {
			t.Errorf("a numeric campaign name: %d %s, want 400 naming context.campaign.name", status, body)
		}

		type credits struct {
			A struct {
				Conversions int
				Credits     []struct {
					Key    string
					Credit float64
				}
			} `json:"attribution"`
		}
		check := func(model string, want [][2]any) {
			t.Helper()
			var got credits
			gqlData(t, dial, "", `{ attribution(conversion: {name: "Order Completed"}, dimension: CAMPAIGN, model: `+model+`, lookback: "P1D") { conversions credits { key credit } } }`, &got)
			ok := got.A.Conversions == 4 && len(got.A.Credits) == len(want)
			for i := 0; ok && i < len(want); i++ {
				ok = got.A.Credits[i].Key == want[i][0] && math.Abs(got.A.Credits[i].Credit-want[i][1].(float64)) < 1e-12
			}
			if !ok {
				t.Errorf("%s attribution by campaign: %+v, want 4 conversions and %v", model, got.A, want)
			}
		}
		// LINEAR: Ann's three touchpoints a third each (spring_sale,
		// newsletter-may, none: "(unknown)"), Bob's newsletter-may 1,
		// Cat (none) 1, Dan the cut name 1. Largest first, ties by key.
		check("LINEAR", [][2]any{{"newsletter-may", 4.0 / 3}, {"(none)", 1.0}, {strings.Repeat("x", 256), 1.0}, {"(unknown)", 1.0 / 3}, {"spring_sale", 1.0 / 3}})
		// FIRST_TOUCH: Ann's spring_sale page, Bob's email, Cat none, Dan's view.
		check("FIRST_TOUCH", [][2]any{{"(none)", 1.0}, {"newsletter-may", 1.0}, {"spring_sale", 1.0}, {strings.Repeat("x", 256), 1.0}})

		// Ann's export carries each event's campaign, and none on the
		// event that had none.
		var ann struct {
			P struct{ ID string } `json:"profileByIdentifier"`
		}
		gqlData(t, dial, "", `{ profileByIdentifier(type: "user_id", value: "u-ann") { id } }`, &ann)
		r := send(t, "GET", "http://"+dial+"/v1/privacy/profiles/"+ann.P.ID+"/export", "", "", "")
		if r.status != 200 {
			t.Fatalf("export: %d %s", r.status, r.body)
		}
		_, recs := ndjson(t, r.body)
		got := map[string]any{}
		for _, rec := range recs {
			if rec["kind"] == "event" {
				got[rec["messageId"].(string)] = rec["campaign"]
			}
		}
		want := map[string]any{"c1": "spring_sale", "c2": "newsletter-may", "c3": nil, "c4": "spring_sale"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("campaigns in Ann's export: %v, want %v", got, want)
		}
		// So does her journey over GraphQL, and Bob's name is trimmed.
		var j struct {
			A struct {
				Journey struct {
					Nodes []struct {
						MessageID string
						Campaign  *string
					}
				}
			} `json:"a"`
			B struct {
				Journey struct {
					Nodes []struct {
						MessageID string
						Campaign  *string
					}
				}
			} `json:"b"`
		}
		gqlData(t, dial, "", `{ a: profileByIdentifier(type: "user_id", value: "u-ann") { journey(first: 10) { nodes { messageId campaign } } }
  b: profileByIdentifier(type: "user_id", value: "u-bob") { journey(first: 10) { nodes { messageId campaign } } } }`, &j)
		gotJ := map[string]any{}
		for _, n := range append(j.A.Journey.Nodes, j.B.Journey.Nodes...) {
			if n.Campaign == nil {
				gotJ[n.MessageID] = nil
			} else {
				gotJ[n.MessageID] = *n.Campaign
			}
		}
		want["c5"], want["c6"] = "newsletter-may", nil
		if fmt.Sprint(gotJ) != fmt.Sprint(want) {
			t.Errorf("campaigns in the journeys: %v, want %v", gotJ, want)
		}
	})
}
