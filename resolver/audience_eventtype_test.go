package resolver

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/audience/keep"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// An event condition's type is compared as ingest stores it (trimmed,
// lower-case): type "Track" selects the profiles "track" does, where it
// selected nobody, since no stored type has a capital; its name is still
// compared as given. A new definition is stored, and shown, with the type
// in that form; one stored before (written straight to the store) is shown
// and evaluated as if it had been. A type that is no Segment type is
// refused, naming the field and not echoing the value.
func TestAudienceEventTypeAsStored(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		ctx := context.Background()
		at := time.Now().UTC().Add(-time.Hour)
		// ann: a track event (Order Completed); bob: a page view; cat:
		// an identify only.
		e.apply(
			order("o1", "ann", at, 10),
			ev("p1", at, "page", "user_id:bob"),
			ev("i1", at, "identify", "user_id:cat"),
		)
		ann, bob := e.profileID("user_id", "ann"), e.profileID("user_id", "bob")
		sorted := func(ids ...string) []string { slices.Sort(ids); return ids }

		count := func(filter string) []string {
			t.Helper()
			var out struct {
				Profiles struct {
					TotalCount int
					Nodes      []struct{ ID string }
				}
			}
			e.query(`{ profiles(filter: `+filter+`, first: 10) { totalCount nodes { id } } }`, nil, &out)
			ids := []string{}
			for _, n := range out.Profiles.Nodes {
				ids = append(ids, n.ID)
			}
			slices.Sort(ids)
			if out.Profiles.TotalCount != len(ids) {
				t.Errorf("%s: totalCount %d, nodes %v", filter, out.Profiles.TotalCount, ids)
			}
			return ids
		}
		for _, c := range []struct {
			filter string
			want   []string
		}{
			{`{event: {type: "track"}}`, []string{ann}},
			{`{event: {type: "Track"}}`, []string{ann}},
			{`{event: {type: " PAGE "}}`, []string{bob}},
			{`{event: {name: "Order Completed", type: "TRACK"}}`, []string{ann}},
			// Only cat has an identify event.
			{`{not: {event: {type: "Identify"}}}`, sorted(ann, bob)},
			// The name is compared as given.
			{`{event: {name: "order completed"}}`, []string{}},
		} {
			if got := count(c.filter); !reflect.DeepEqual(got, c.want) {
				t.Errorf("profiles(filter: %s): %v, want %v", c.filter, got, c.want)
			}
		}

		// A new definition keeps the type as stored and shows it so.
		a := createAudience(e, map[string]any{"name": "Trackers", "filter": map[string]any{
			"event": map[string]any{"name": "Order Completed", "type": " Track "}}})
		if want := jsonOf(t, `{"event": {"name": "Order Completed", "type": "track"}}`); !reflect.DeepEqual(a.Filter, want) {
			t.Errorf("createAudience shows filter %v, want %v", a.Filter, want)
		}

		// A definition stored before types were normalized.
		st := s.(audience.Store)
		old := segID(7)
		now := graph.Now()
		storetest.Must(t, st.PutAudience(ctx, audience.Audience{ID: old, Name: "Old pages", CreatedAt: now, UpdatedAt: now,
			Filter: audience.Filter{Event: &audience.EventCondition{Type: "Page"}}}))
		var shown struct{ Audience struct{ Filter any } }
		e.query(`query($id: ID!) { audience(id: $id) { filter } }`, map[string]any{"id": old}, &shown)
		if want := jsonOf(t, `{"event": {"type": "page"}}`); !reflect.DeepEqual(shown.Audience.Filter, want) {
			t.Errorf("the stored audience shows filter %v, want %v", shown.Audience.Filter, want)
		}
		k := keep.New(e.engine, st, s.(privacy.ConsentStore), nil)
		storetest.Must(t, k.RefreshAll(ctx))
		for id, want := range map[string][]string{a.ID: {ann}, old: {bob}} {
			ms, err := st.Members(ctx, id, audience.Page{Limit: 10})
			storetest.Must(t, err)
			got := []string{}
			for _, m := range ms {
				got = append(got, m.ProfileID)
			}
			slices.Sort(got)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("audience %s: members %v, want %v", id, got, want)
			}
		}

		r := e.refused(`{ profiles(filter: {and: [{identifier: {type: "user_id"}}, {event: {type: "purchase"}}]}) { totalCount } }`, nil,
			CodeInvalidArgument, "filter.and[1].event.type", "identify, track, page, screen, group, alias")
		if strings.Contains(r.Errors[0].Message, "purchase") {
			t.Errorf("the refusal echoes the value: %q", r.Errors[0].Message)
		}
		e.refused(createAudienceOp, map[string]any{"in": map[string]any{"name": "Clickers",
			"filter": map[string]any{"not": map[string]any{"event": map[string]any{"type": "click"}}}}},
			CodeInvalidArgument, "input.filter.not.event.type")
		e.refused(`{ profiles(filter: {event: {type: "  "}}) { totalCount } }`, nil, CodeInvalidArgument, "filter.event.type")
	})
}
