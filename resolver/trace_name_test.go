package resolver

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/feedhub"
	"github.com/idgraph/cdp/internal/storetest"
)

// durations returns the observations of cdp_graphql_duration_seconds in
// reg by "type/operation".
func durations(t *testing.T, reg *prometheus.Registry) map[string]uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, mf := range mfs {
		if mf.GetName() != "cdp_graphql_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			out[labelOf(m, "type")+"/"+labelOf(m, "operation")] = m.GetHistogram().GetSampleCount()
		}
	}
	return out
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// The operation label is the operation's own name, whether or not the
// request names it in operationName; names that are too long are "other",
// and a name enters the label budget only with an operation that was not
// refused for want of scope.
func TestOperationLabelIsTheOperationsName(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := testConfig()
	cfg.Registerer = reg
	e := newKeyEnv(t, storetest.OpenEmbedded(t), cfg, nil)
	reader, _ := e.key("reader", "", access.ScopeProfilesRead)
	admin, _ := e.key("admin", "", access.ScopeKeysAdmin)

	// No operationName in the request: labelled by the query's own name.
	e.ok(reader, `query LookupProfile { __typename }`, nil, nil)
	// An anonymous operation is "".
	e.ok(reader, `{ __typename }`, nil, nil)
	long64 := "Q" + strings.Repeat("x", 63)
	long65 := long64 + "y"
	e.ok(reader, `query `+long64+` { __typename }`, nil, nil)
	e.ok(reader, `query `+long65+` { __typename }`, nil, nil)
	// Refused for scope: counted, but as "other", and its name not taken
	// into the budget ...
	if r := e.as(reader, `query Snoop { apiKeys { nodes { id } } }`, nil); r.code() != CodeForbidden {
		t.Fatalf("apiKeys without keys:admin answered %+v, want %s", r.Errors, CodeForbidden)
	}
	got := durations(t, reg)
	want := map[string]uint64{"query/LookupProfile": 1, "query/": 1, "query/" + long64: 1, "query/other": 2}
	if len(got) != len(want) {
		t.Errorf("series %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s observed %d times, want %d (all series: %v)", k, got[k], n, got)
		}
	}
	// ... which it enters once an operation of that name passes its
	// scope checks.
	e.ok(admin, `query Snoop { apiKeys { nodes { id } } }`, nil, nil)
	if n := durations(t, reg)["query/Snoop"]; n != 1 {
		t.Errorf("query/Snoop observed %d times after the allowed one, want 1", n)
	}
}

// Over a real websocket: a subscription that delivered an event is not
// observed in cdp_graphql_duration_seconds.
func TestSubscriptionNotInDurationHistogram(t *testing.T) {
	s := storetest.OpenEmbedded(t)
	engine := graph.NewEngine(s, nil)
	hub := feedhub.New(feedhub.Config{Feed: s.(graph.FeedStore), Poll: 10 * time.Millisecond})
	hub.Start(context.Background())
	t.Cleanup(hub.Close)
	reg := prometheus.NewRegistry()
	cfg := testConfig()
	cfg.Keys, cfg.Feed, cfg.Registerer = accessStore(s), hub, reg
	srv := httptest.NewServer(asOpen(NewHandler(engine, nil, cfg)))
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	send, recv := dialGraphQLWS(t, ctx, srv.URL)
	send(`{"type":"subscribe","id":"1","payload":{"query":"subscription Watch { changes { eventId } }"}}`)
	for hub.Stats().Active != 1 {
		time.Sleep(5 * time.Millisecond)
	}
	at := time.Now()
	if _, err := engine.ApplyBatch(ctx, []graph.Event{{ID: "e1", Type: "track", Name: "Viewed", Timestamp: at, ReceivedAt: at, Source: "test",
		Identifiers: []graph.IdentifierRef{{Type: "anonymous_id", Value: "anon-1"}}}}); err != nil {
		t.Fatal(err)
	}
	hub.Wake()
	if m := recv(); m["type"] != "next" {
		t.Fatalf("got %v, want the event", m)
	}
	if got := durations(t, reg); len(got) != 0 {
		t.Errorf("durations %v after a subscription's event, want none", got)
	}
}
