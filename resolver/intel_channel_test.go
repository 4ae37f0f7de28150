package resolver

import (
	"math"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// A channel longer than the collector keeps (64 bytes: it is cut on a
// character boundary rather than refused) selects, given as the message
// sent it, the events the collector stored it on: an EventMatch's channel
// and the journey's channels are put in the stored form, cut included,
// as they are trimmed and lower-cased. By hand: the one page view on the
// long channel is step 1 of the funnel, whose order is step 2; it is the
// order's one touchpoint; the path after it is the order; and the journey
// on that channel is that page view.
func TestIntelAndJourneyTakeALongChannelAsStored(t *testing.T) {
	long := "  " + strings.Repeat("Partner Feed ", 6) + "EU " // 83 bytes as sent
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		var in ingestResult
		e.query(ingestMutation, map[string]any{"events": []map[string]any{
			{"type": "track", "messageId": "lc1", "userId": "lc-u1", "event": "Product Viewed",
				"timestamp": "2024-05-01T10:00:00Z", "context": map[string]any{"channel": long}},
			{"type": "track", "messageId": "lc2", "userId": "lc-u1", "event": "Order Completed",
				"timestamp": "2024-05-01T11:00:00Z", "context": map[string]any{"channel": "store"}},
		}}, &in)
		if in.Ingest.Accepted != 2 {
			t.Fatalf("ingest: %+v", in.Ingest)
		}
		vars := map[string]any{"ch": long}

		var f struct {
			Funnel struct {
				Profiles int
				Steps    []struct{ Count int }
			}
		}
		e.query(`query($ch: String!) { funnel(steps: [{channel: $ch}, {name: "Order Completed"}], within: "P1D") { profiles steps { count } } }`, vars, &f)
		if len(f.Funnel.Steps) != 2 || f.Funnel.Steps[0].Count != 1 || f.Funnel.Steps[1].Count != 1 {
			t.Errorf("funnel from the long channel: %+v, want 1 and 1", f.Funnel)
		}

		var a attributionAnswer
		e.query(`query($ch: String!) { attribution(conversion: {name: "Order Completed"}, touchpoints: {channel: $ch}, dimension: EVENT, model: LINEAR, lookback: "P1D") { conversions credits { key credit share } } }`, vars, &a)
		if a.Attribution.Conversions != 1 || len(a.Attribution.Credits) != 1 || a.Attribution.Credits[0].Key != "Product Viewed" ||
			math.Abs(a.Attribution.Credits[0].Credit-1) > 1e-9 {
			t.Errorf("attribution to the long channel: %+v, want the order credited to Product Viewed", a.Attribution)
		}

		var p struct {
			Paths []struct {
				Events []string
				Count  int
			}
		}
		e.query(`query($ch: String!) { paths(start: {channel: $ch}, depth: 1) { events count } }`, vars, &p)
		if len(p.Paths) != 1 || p.Paths[0].Count != 1 || len(p.Paths[0].Events) != 1 || p.Paths[0].Events[0] != "Order Completed" {
			t.Errorf("paths from the long channel: %+v, want [Order Completed] once", p.Paths)
		}

		var j struct {
			ProfileByIdentifier struct {
				Journey struct{ Nodes []struct{ Name string } }
			}
		}
		e.query(`query($ch: String!) { profileByIdentifier(type: "user_id", value: "lc-u1") { journey(channels: [$ch]) { nodes { name } } } }`, vars, &j)
		if n := j.ProfileByIdentifier.Journey.Nodes; len(n) != 1 || n[0].Name != "Product Viewed" {
			t.Errorf("journey on the long channel: %+v, want the page view", n)
		}
	})
}
