package resolver

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

const (
	hookSecret    = "hook-secret-ABCDEFGHIJKLMNOP"
	hookHeaderVal = "Bearer header-credential-XYZ"
	createDestOp  = `mutation($in: DestinationInput!) { createDestination(input: $in) { id name url secretHint kinds audienceIds purpose batchSize maxAttempts headerNames includePII position leaseHolder } }`
)

// The destination root fields' samples for TestEveryRootFieldNeedsItsScope.
func init() {
	rootSamples["destinations"] = `destinations(first: 1) { nodes { id } }`
	rootSamples["destinationDeliveries"] = `destinationDeliveries(destinationId: "dst_00000000000000000000000000000000", first: 1) { nodes { id } }`
	rootSamples["createDestination"] = `createDestination(input: {name: "scope test", url: "https://93.184.215.14/hook", secret: "scope-test-secret-0123", kinds: [EVENT_ADDED]}) { id }`
	rootSamples["updateDestination"] = `updateDestination(id: "dst_00000000000000000000000000000000", input: {name: "scope test", url: "https://93.184.215.14/hook", kinds: [EVENT_ADDED]}) { id }`
	rootSamples["deleteDestination"] = `deleteDestination(id: "dst_00000000000000000000000000000000")`
	rootSamples["replayDeadLetters"] = `replayDeadLetters(destinationId: "dst_00000000000000000000000000000000")`
	rootSamples["retryDestination"] = `retryDestination(destinationId: "dst_00000000000000000000000000000000")`
}

type destOut struct {
	ID          string
	Name        string
	URL         string
	SecretHint  string
	Kinds       []string
	AudienceIDs []string `json:"audienceIds"`
	Purpose     *string
	BatchSize   int
	MaxAttempts int
	HeaderNames []string
	IncludePII  bool `json:"includePII"`
	Position    string
	LeaseHolder *string
}

func destInput(edit func(m map[string]any)) map[string]any {
	m := map[string]any{"name": "crm", "url": "https://93.184.215.14/hook", "secret": hookSecret,
		"kinds": []string{"MERGED", "EVENT_ADDED"}, "headers": []map[string]any{{"name": "Authorization", "value": hookHeaderVal}}}
	if edit != nil {
		edit(m)
	}
	return map[string]any{"in": m}
}

func TestDestinationFields(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		hooks, _ := e.key("hooks", "", access.ScopeAudiencesWrite, access.ScopeProfilesRead)
		pii, _ := e.key("hooks with pii", "", access.ScopeAudiencesWrite, access.ScopeProfilesRead, access.ScopePIIRead)
		e.apply(ev("m1", t0, "identify", "user_id:u1"))

		for _, c := range []struct {
			edit  func(m map[string]any)
			parts []string
		}{
			{func(m map[string]any) { m["url"] = "http://10.0.0.1/" }, []string{"input.url", "10.0.0.1", "private", "--destinations-allow-private"}},
			{func(m map[string]any) { m["url"] = "http://169.254.169.254/" }, []string{"input.url", "link-local"}},
			{func(m map[string]any) { m["url"] = "http://127.0.0.1:9/" }, []string{"input.url", "loopback"}},
			{func(m map[string]any) { m["url"] = "ftp://93.184.215.14/" }, []string{"input.url", "http or https"}},
			// No connection can be made to these ports: every delivery
			// would fail.
			{func(m map[string]any) { m["url"] = "https://93.184.215.14:0/hook" }, []string{"input.url", "port", "1 to 65535"}},
			{func(m map[string]any) { m["url"] = "https://93.184.215.14:65536/hook" }, []string{"input.url", "port", "1 to 65535"}},
			{func(m map[string]any) { m["url"] = "https://93.184.215.14:99999/hook" }, []string{"input.url", "port", "1 to 65535"}},
			{func(m map[string]any) { m["batchSize"] = 0 }, []string{"input.batchSize", "1 to 1000"}},
			{func(m map[string]any) { m["batchSize"] = 1001 }, []string{"input.batchSize"}},
			{func(m map[string]any) { m["maxAttempts"] = 101 }, []string{"input.maxAttempts", "1 to 100"}},
			{func(m map[string]any) { delete(m, "secret") }, []string{"input.secret", "missing"}},
			{func(m map[string]any) { m["secret"] = "short" }, []string{"input.secret"}},
			{func(m map[string]any) { m["purpose"] = "nope" }, []string{"input.purpose"}},
			{func(m map[string]any) { m["audienceIds"] = []string{"x"} }, []string{"input.audienceIds[0]"}},
			{func(m map[string]any) {
				m["headers"] = []map[string]any{{"name": "X-CDP-Signature", "value": "forged"}}
			}, []string{"input.headers", "set by the server"}},
			// Go's client refuses these at send time: every delivery
			// would fail.
			{func(m map[string]any) {
				m["headers"] = []map[string]any{{"name": "X-Tenant", "value": "a\u0001b"}}
			}, []string{"input.headers", "X-Tenant", "control characters"}},
			{func(m map[string]any) {
				m["headers"] = []map[string]any{{"name": "X-Tenant", "value": "a\u007fb"}}
			}, []string{"input.headers", "control characters"}},
			{func(m map[string]any) {
				m["headers"] = []map[string]any{{"name": "X-Tenant", "value": "a"}, {"name": "x-tenant", "value": "b"}}
			}, []string{"input.headers[1].name", "x-tenant", "case-insensitive"}},
		} {
			r := e.as(hooks, createDestOp, destInput(c.edit))
			checkRefused(t, r.gqlResponse, CodeInvalidArgument, c.parts...)
			if strings.Contains(string(r.Raw), hookSecret) {
				t.Errorf("a refusal repeats the secret: %s", r.Raw)
			}
		}
		// includePII needs pii:read.
		r := e.as(hooks, createDestOp, destInput(func(m map[string]any) { m["includePII"] = true }))
		checkRefused(t, r.gqlResponse, CodeForbidden, "input.includePII", "pii:read")

		var created struct{ CreateDestination destOut }
		r = e.ok(pii, createDestOp, destInput(func(m map[string]any) { m["includePII"] = true; m["purpose"] = "email" }), &created)
		d := created.CreateDestination
		if !destination.ValidID(d.ID) || d.Name != "crm" || d.URL != "https://93.184.215.14/hook" || !d.IncludePII ||
			d.BatchSize != 100 || d.MaxAttempts != 10 || strings.Join(d.Kinds, ",") != "EVENT_ADDED,MERGED" ||
			strings.Join(d.HeaderNames, ",") != "Authorization" || d.Purpose == nil || *d.Purpose != "email" {
			t.Fatalf("created %+v", d)
		}
		// The feed held the event's entries before: the destination starts
		// after them.
		if d.Position == "0" {
			t.Errorf("a destination created after an event starts at position 0")
		}
		if !strings.HasSuffix(d.SecretHint, "(28 characters)") || !strings.HasPrefix(d.SecretHint, "****MNOP") {
			t.Errorf("secretHint %q, want ****MNOP (28 characters)", d.SecretHint)
		}
		list := e.ok(hooks, `{ destinations(first: 10) { nodes { id secretHint headerNames } } }`, nil, nil)
		for _, raw := range [][]byte{r.Raw, list.Raw} {
			if strings.Contains(string(raw), hookSecret) || strings.Contains(string(raw), hookHeaderVal) {
				t.Fatalf("an answer holds the secret or a header value: %s", raw)
			}
		}
		if !strings.Contains(string(list.Raw), d.ID) {
			t.Fatalf("destinations does not list %s: %s", d.ID, list.Raw)
		}
		// An update without a secret or headers keeps them: neither can be
		// read back to be sent again.
		var updated struct{ UpdateDestination destOut }
		e.ok(hooks, `mutation($id: ID!) { updateDestination(id: $id, input: {name: "renamed", url: "https://93.184.215.14/v2", kinds: [EVENT_ADDED], batchSize: 5}) { id name batchSize includePII headerNames } }`,
			map[string]any{"id": d.ID}, &updated)
		if u := updated.UpdateDestination; u.Name != "renamed" || u.BatchSize != 5 || u.IncludePII || strings.Join(u.HeaderNames, ",") != "Authorization" {
			t.Fatalf("updated %+v", u)
		}
		stored, err := s.(destination.Store).Destination(context.Background(), d.ID)
		storetest.Must(t, err)
		if stored.Secret != hookSecret || stored.URL != "https://93.184.215.14/v2" || len(stored.Headers) != 1 || stored.Headers["Authorization"] != hookHeaderVal {
			t.Fatalf("stored after update: url %s, secret kept %v, %d headers, Authorization kept %v",
				stored.URL, stored.Secret == hookSecret, len(stored.Headers), stored.Headers["Authorization"] == hookHeaderVal)
		}
		// Headers given replace the stored ones; an empty list removes them.
		e.ok(hooks, `mutation($id: ID!) { updateDestination(id: $id, input: {name: "renamed", url: "https://93.184.215.14/v2", kinds: [EVENT_ADDED], headers: [{name: "X-Tenant", value: "t1"}]}) { id headerNames } }`,
			map[string]any{"id": d.ID}, &updated)
		if got := strings.Join(updated.UpdateDestination.HeaderNames, ","); got != "X-Tenant" {
			t.Fatalf("headerNames after replacing the headers: %q, want X-Tenant", got)
		}
		e.ok(hooks, `mutation($id: ID!) { updateDestination(id: $id, input: {name: "renamed", url: "https://93.184.215.14/v2", kinds: [EVENT_ADDED], headers: []}) { id headerNames } }`,
			map[string]any{"id": d.ID}, &updated)
		if len(updated.UpdateDestination.HeaderNames) != 0 {
			t.Fatalf("headerNames after headers: []: %v, want none", updated.UpdateDestination.HeaderNames)
		}
		if stored, err = s.(destination.Store).Destination(context.Background(), d.ID); err != nil || len(stored.Headers) != 0 {
			t.Fatalf("stored headers after headers: []: %d (err %v), want none", len(stored.Headers), err)
		}
		e.refusedAs(hooks, `mutation { updateDestination(id: "dst_00000000000000000000000000000009", input: {name: "x", url: "https://93.184.215.14/"}) { id } }`,
			CodeNotFound, `"id"`)

		var dl struct {
			DestinationDeliveries struct{ Nodes []struct{ ID string } }
		}
		e.ok(hooks, `query($id: ID!) { destinationDeliveries(destinationId: $id, status: DEAD, first: 5) { nodes { id } } }`, map[string]any{"id": d.ID}, &dl)
		if len(dl.DestinationDeliveries.Nodes) != 0 {
			t.Fatalf("a new destination has deliveries: %+v", dl)
		}
		e.refusedAs(hooks, `{ destinationDeliveries(destinationId: "dst_00000000000000000000000000000009") { nodes { id } } }`, CodeNotFound, "destinationId")
		e.refusedAs(hooks, `{ destinationDeliveries(destinationId: "nope") { nodes { id } } }`, CodeInvalidArgument, "destinationId")
		var replay struct{ ReplayDeadLetters int }
		e.ok(hooks, `mutation($id: ID!) { replayDeadLetters(destinationId: $id) }`, map[string]any{"id": d.ID}, &replay)
		if replay.ReplayDeadLetters != 0 {
			t.Fatalf("replayed %d with no dead letters", replay.ReplayDeadLetters)
		}
		var del struct{ DeleteDestination bool }
		e.ok(hooks, `mutation($id: ID!) { deleteDestination(id: $id) }`, map[string]any{"id": d.ID}, &del)
		if !del.DeleteDestination {
			t.Fatal("deleteDestination = false for a stored destination")
		}
		e.ok(hooks, `mutation($id: ID!) { deleteDestination(id: $id) }`, map[string]any{"id": d.ID}, &del)
		if del.DeleteDestination {
			t.Fatal("second deleteDestination = true")
		}
		// Every attempt is audited, the refused ones included, and no
		// entry holds the secret.
		for action, n := range map[string]int{"createDestination": 20, "updateDestination": 4, "deleteDestination": 2, "replayDeadLetters": 1} {
			got := e.audit(action)
			if len(got) != n {
				t.Errorf("%d audit entries for %s, want %d", len(got), action, n)
			}
			for _, a := range got {
				if strings.Contains(a.Reason, hookSecret) {
					t.Errorf("audit entry %+v holds the secret", a)
				}
			}
		}
	})
}

func TestDestinationsAllowPrivate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		cfg := testConfig()
		cfg.DestinationsAllowPrivate = true
		e := newKeyEnv(t, s, cfg, nil)
		hooks, _ := e.key("hooks", "", access.ScopeAudiencesWrite, access.ScopeProfilesRead)
		for _, url := range []string{"http://10.0.0.1/", "http://169.254.169.254/", "http://127.0.0.1:9/"} {
			e.ok(hooks, createDestOp, destInput(func(m map[string]any) { m["url"] = url }), nil)
		}
		// The scheme is still checked.
		r := e.as(hooks, createDestOp, destInput(func(m map[string]any) { m["url"] = "file:///etc/passwd" }))
		checkRefused(t, r.gqlResponse, CodeInvalidArgument, "input.url")
	})
}

// forgetProfile removes the profile from the webhook batches not yet
// delivered, in its transaction.
func TestForgetProfileRedactsDeliveries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		e := newEnv(t, s, testConfig(), nil)
		res := e.apply(ev("m1", t0, "identify", "user_id:ann"), ev("m2", t0, "identify", "user_id:bob"))
		ann, bob := res.Results[0].ProfileID, res.Results[1].ProfileID
		ds := s.(destination.Store)
		d, err := ds.CreateDestination(ctx, destination.Destination{ID: destination.NewID(), Name: "crm", URL: "https://93.184.215.14/",
			Secret: hookSecret, CreatedAt: t0, UpdatedAt: t0})
		storetest.Must(t, err)
		_, _, err = ds.AcquireLease(ctx, d.ID, "test", t0, time.Hour)
		storetest.Must(t, err)
		from := d.Cursor
		dl, _, err := ds.TakeBatch(ctx, d.ID, "test", from, from+2, []graph.FeedEntry{
			{Seq: from + 1, At: t0, Kind: graph.FeedEventAdded, ProfileID: ann, EventID: "web/m1"},
			{Seq: from + 2, At: t0, Kind: graph.FeedEventAdded, ProfileID: bob, EventID: "web/m2"},
		}, t0)
		storetest.Must(t, err)
		storetest.Must(t, ds.RecordAttempt(ctx, d.ID, "test", dl.Number, destination.Outcome{Status: destination.Dead, Attempts: 1, LastStatusCode: 410, At: t0}))

		e.query(`mutation($id: ID!) { forgetProfile(id: $id, reason: "asked") { id } }`, map[string]any{"id": ann}, nil)
		dead, err := ds.Deliveries(ctx, destination.DeliveryQuery{DestinationID: d.ID, Status: destination.Dead, Limit: 5})
		storetest.Must(t, err)
		if len(dead) != 1 || len(dead[0].Entries) != 1 || dead[0].Entries[0].ProfileID != bob {
			t.Fatalf("dead letter after ann's erasure: %+v, want bob's entry alone", dead)
		}
	})
}

// A page of the most deliveries (first: 500) tells whether more follow:
// with 501 stored, the first page has 500 and a next page, the second the
// last one.
func TestDeliveriesLargestPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		e := newKeyEnv(t, s, testConfig(), nil)
		hooks, _ := e.key("hooks", "", access.ScopeAudiencesWrite, access.ScopeProfilesRead)
		var created struct{ CreateDestination destOut }
		e.ok(hooks, createDestOp, destInput(nil), &created)
		id := created.CreateDestination.ID
		ds := s.(destination.Store)
		now := time.Now().UTC()
		if _, ok, err := ds.AcquireLease(ctx, id, "test", now, time.Hour); err != nil || !ok {
			t.Fatalf("lease: %v %v", ok, err)
		}
		for i := uint64(0); i < 501; i++ {
			entry := graph.FeedEntry{Seq: i + 1, At: now, Kind: graph.FeedEventAdded, ProfileID: "p1", EventID: fmt.Sprintf("web/m%d", i)}
			d, _, err := ds.TakeBatch(ctx, id, "test", i, i+1, []graph.FeedEntry{entry}, now)
			storetest.Must(t, err)
			storetest.Must(t, ds.RecordAttempt(ctx, id, "test", d.Number, destination.Outcome{Status: destination.Delivered, Attempts: 1, LastStatusCode: 200, At: now}))
		}
		type page struct {
			DestinationDeliveries struct {
				Nodes    []struct{ ID string }
				PageInfo struct {
					HasNextPage bool
					EndCursor   *string
				}
			}
		}
		const op = `query($id: ID!, $after: String) { destinationDeliveries(destinationId: $id, first: 500, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } } }`
		var p1, p2 page
		e.ok(hooks, op, map[string]any{"id": id}, &p1)
		if len(p1.DestinationDeliveries.Nodes) != 500 || !p1.DestinationDeliveries.PageInfo.HasNextPage {
			t.Fatalf("first page: %d deliveries, hasNextPage %v; want 500 and true", len(p1.DestinationDeliveries.Nodes), p1.DestinationDeliveries.PageInfo.HasNextPage)
		}
		e.ok(hooks, op, map[string]any{"id": id, "after": *p1.DestinationDeliveries.PageInfo.EndCursor}, &p2)
		if len(p2.DestinationDeliveries.Nodes) != 1 || p2.DestinationDeliveries.PageInfo.HasNextPage {
			t.Fatalf("second page: %d deliveries, hasNextPage %v; want 1 and false", len(p2.DestinationDeliveries.Nodes), p2.DestinationDeliveries.PageInfo.HasNextPage)
		}
	})
}
