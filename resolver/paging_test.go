package resolver

import (
	"encoding/base64"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

type pageInfo struct {
	HasNextPage, HasPreviousPage bool
	StartCursor, EndCursor       *string
}

type profilePage struct {
	Profiles struct {
		TotalCount int
		Edges      []struct {
			Cursor string
			Node   struct{ ID string }
		}
		PageInfo pageInfo
	}
}

const profilesQuery = `query($first: Int, $after: String, $last: Int, $before: String) {
  profiles(first: $first, after: $after, last: $last, before: $before) {
    totalCount edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`

func (e *env) profilePage(vars map[string]any) profilePage {
	e.t.Helper()
	var p profilePage
	e.query(profilesQuery, vars, &p)
	return p
}

func seedProfiles(e *env, prefix string, n int) {
	e.t.Helper()
	var evs []graph.Event
	for i := range n {
		evs = append(evs, ev(fmt.Sprintf("%s-ev%03d", prefix, i), t0.Add(time.Duration(i)*time.Minute), "identify", fmt.Sprintf("user_id:%s%03d", prefix, i)))
	}
	e.apply(evs...)
}

func ids(p profilePage) []string {
	var out []string
	for _, ed := range p.Profiles.Edges {
		out = append(out, ed.Node.ID)
	}
	return out
}

func checkNoDuplicates(t *testing.T, what string, xs []string) {
	t.Helper()
	seen := map[string]bool{}
	for _, x := range xs {
		if seen[x] {
			t.Fatalf("%s: %s appears twice in %v", what, x, xs)
		}
		seen[x] = true
	}
}

func TestProfilesPaging(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		seedProfiles(e, "u", 23)
		all := ids(e.profilePage(map[string]any{"first": 500}))
		if len(all) != 23 || !sort.StringsAreSorted(all) {
			t.Fatalf("one page of all: %d profiles, sorted %v", len(all), sort.StringsAreSorted(all))
		}

		// Forward, 5 at a time.
		var fwd []string
		var after any
		for pages := 0; ; pages++ {
			p := e.profilePage(map[string]any{"first": 5, "after": after})
			if p.Profiles.TotalCount != 23 {
				t.Fatalf("totalCount %d, want 23", p.Profiles.TotalCount)
			}
			if p.Profiles.PageInfo.HasPreviousPage != (pages > 0) {
				t.Fatalf("page %d: hasPreviousPage %v", pages, p.Profiles.PageInfo.HasPreviousPage)
			}
			fwd = append(fwd, ids(p)...)
			if !p.Profiles.PageInfo.HasNextPage {
				break
			}
			if pages > 10 {
				t.Fatal("forward paging does not end")
			}
			after = *p.Profiles.PageInfo.EndCursor
		}
		checkNoDuplicates(t, "forward", fwd)
		if !reflect.DeepEqual(fwd, all) {
			t.Fatalf("forward pages %v\nwant %v", fwd, all)
		}

		// Backward, 5 at a time, from the end.
		var back []string
		var before any
		for pages := 0; ; pages++ {
			p := e.profilePage(map[string]any{"last": 5, "before": before})
			if p.Profiles.PageInfo.HasNextPage != (pages > 0) {
				t.Fatalf("backward page %d: hasNextPage %v", pages, p.Profiles.PageInfo.HasNextPage)
			}
			back = append(ids(p), back...)
			if !p.Profiles.PageInfo.HasPreviousPage {
				break
			}
			if pages > 10 {
				t.Fatal("backward paging does not end")
			}
			before = *p.Profiles.PageInfo.StartCursor
		}
		checkNoDuplicates(t, "backward", back)
		if !reflect.DeepEqual(back, all) {
			t.Fatalf("backward pages %v\nwant %v", back, all)
		}

		// New profiles arriving mid-way shift nothing: every profile seen
		// before is still seen exactly once, in order.
		var mixed []string
		after = nil
		for pages := 0; ; pages++ {
			p := e.profilePage(map[string]any{"first": 4, "after": after})
			mixed = append(mixed, ids(p)...)
			if pages == 1 {
				seedProfiles(e, "n", 6)
			}
			if !p.Profiles.PageInfo.HasNextPage {
				break
			}
			after = *p.Profiles.PageInfo.EndCursor
		}
		checkNoDuplicates(t, "paging while profiles arrive", mixed)
		if !sort.StringsAreSorted(mixed) {
			t.Fatalf("paging while profiles arrive is out of order: %v", mixed)
		}
		got := map[string]bool{}
		for _, id := range mixed {
			got[id] = true
		}
		for _, id := range all {
			if !got[id] {
				t.Fatalf("profile %s skipped while new profiles arrived", id)
			}
		}

		// An empty page still says whether more exist.
		if p := e.profilePage(map[string]any{"first": 0}); len(p.Profiles.Edges) != 0 || !p.Profiles.PageInfo.HasNextPage {
			t.Fatalf("first: 0 gave %+v", p)
		}
		// With no size, a default page.
		if p := e.profilePage(nil); len(p.Profiles.Edges) != 29 {
			t.Fatalf("default page holds %d of 29 profiles", len(p.Profiles.Edges))
		}

		e.refused(profilesQuery, map[string]any{"first": 2, "last": 2}, CodeInvalidArgument, `"last"`, `"first"`)
		journeyCursor := base64.RawURLEncoding.EncodeToString([]byte(`{"v":1,"k":"journey","id":"x","t":"2024-01-01T00:00:00Z"}`))
		for _, bad := range []string{"garbage!!", "", journeyCursor,
			base64.RawURLEncoding.EncodeToString([]byte(`{"v":9,"k":"profiles","id":"p_x"}`)),
			base64.RawURLEncoding.EncodeToString([]byte(`[1,2,3]`)),
		} {
			e.refused(profilesQuery, map[string]any{"first": 2, "after": bad}, CodeInvalidArgument, `"after"`, "cursor")
			e.refused(profilesQuery, map[string]any{"last": 2, "before": bad}, CodeInvalidArgument, `"before"`, "cursor")
		}
	})
}

type journeyPage struct {
	Profile struct {
		Journey struct {
			Edges []struct {
				Cursor string
				Node   struct {
					ID, Type  string
					Channel   string
					Timestamp time.Time
				}
			}
			PageInfo pageInfo
		}
	}
}

const journeyQuery = `query($id: ID!, $first: Int, $after: String, $types: [String!], $channels: [String!], $from: DateTime, $to: DateTime) {
  profile(id: $id) {
    journey(first: $first, after: $after, types: $types, channels: $channels, from: $from, to: $to) {
      edges { cursor node { id type channel timestamp } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}`

func (e *env) journeyPage(vars map[string]any) journeyPage {
	e.t.Helper()
	var p journeyPage
	e.query(journeyQuery, vars, &p)
	return p
}

func (p journeyPage) ids() []string {
	var out []string
	for _, ed := range p.Profile.Journey.Edges {
		out = append(out, ed.Node.ID)
	}
	return out
}

func TestJourneyPaging(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		// 30 events; every third pair shares a timestamp, so ties are
		// broken by id.
		var evs []graph.Event
		types := []string{"track", "page", "identify"}
		channels := []string{"web", "mobile"}
		for i := range 30 {
			x := ev(fmt.Sprintf("j%02d", i), t0.Add(time.Duration(i/2)*time.Minute), types[i%3], "user_id:j")
			x.Channel = channels[i%2]
			evs = append(evs, x)
		}
		e.apply(evs...)
		pid := e.profileID("user_id", "j")
		want := make([]graph.Event, len(evs))
		copy(want, evs)
		graph.SortJourney(want)
		var wantIDs []string
		for _, x := range want {
			wantIDs = append(wantIDs, x.ID)
		}

		page := func(after any, n int) journeyPage {
			return e.journeyPage(map[string]any{"id": pid, "first": n, "after": after})
		}
		var got []string
		var after any
		for pages := 0; ; pages++ {
			p := page(after, 7)
			if p.Profile.Journey.PageInfo.HasPreviousPage != (pages > 0) {
				t.Fatalf("page %d: hasPreviousPage %v", pages, p.Profile.Journey.PageInfo.HasPreviousPage)
			}
			got = append(got, p.ids()...)
			if pages == 1 {
				// Newer events arrive, and one older than everything.
				e.apply(ev("new1", t0.Add(time.Hour), "track", "user_id:j"), ev("new2", t0.Add(2*time.Hour), "track", "user_id:j"),
					ev("old1", t0.Add(-time.Hour), "track", "user_id:j"))
			}
			if !p.Profile.Journey.PageInfo.HasNextPage {
				break
			}
			if pages > 10 {
				t.Fatal("journey paging does not end")
			}
			after = *p.Profile.Journey.PageInfo.EndCursor
		}
		checkNoDuplicates(t, "journey", got)
		if want := append(append([]string{}, wantIDs...), "old1"); !reflect.DeepEqual(got, want) {
			t.Fatalf("journey pages while events arrive:\n got %v\nwant %v", got, want)
		}
		if first := page(nil, 2).ids(); !reflect.DeepEqual(first, []string{"new2", "new1"}) {
			t.Fatalf("first page after the arrivals: %v", first)
		}

		// Filters.
		p := e.journeyPage(map[string]any{"id": pid, "first": 100, "types": []string{"page"}, "channels": []string{"mobile"}})
		for _, ed := range p.Profile.Journey.Edges {
			if ed.Node.Type != "page" || ed.Node.Channel != "mobile" {
				t.Fatalf("filtered journey holds %+v", ed.Node)
			}
		}
		if n := len(p.Profile.Journey.Edges); n != 5 {
			t.Fatalf("page+mobile: %d events, want 5", n)
		}
		from, to := t0.Add(3*time.Minute), t0.Add(5*time.Minute)
		p = e.journeyPage(map[string]any{"id": pid, "first": 100, "from": from.Format(time.RFC3339), "to": to.Format(time.RFC3339)})
		if want := []string{"j09", "j08", "j07", "j06"}; !reflect.DeepEqual(p.ids(), want) {
			t.Fatalf("from/to window: %v, want %v", p.ids(), want)
		}

		e.refused(journeyQuery, map[string]any{"id": pid, "from": to.Format(time.RFC3339), "to": from.Format(time.RFC3339)}, CodeInvalidArgument, `"to"`, `"from"`)
		e.refused(journeyQuery, map[string]any{"id": pid, "after": profileCursor(pid)}, CodeInvalidArgument, `"after"`, "another list")
		e.refused(journeyQuery, map[string]any{"id": pid, "after": "%%%"}, CodeInvalidArgument, `"after"`)
		forged := base64.RawURLEncoding.EncodeToString([]byte(`{"v":1,"k":"journey","id":"x","t":"yesterday"}`))
		e.refused(journeyQuery, map[string]any{"id": pid, "after": forged}, CodeInvalidArgument, `"after"`, "timestamp")
		e.refused(journeyQuery, map[string]any{"id": pid, "first": 501}, CodeInvalidArgument, `"first"`, "500")
		e.refused(journeyQuery, map[string]any{"id": pid, "from": "last tuesday"}, CodeInvalidArgument, "from")
	})
}

// journey's from is inclusive and to exclusive, at any precision: stored
// times are whole microseconds, so an event at t0 is before both
// to = t0+0.5µs (kept) and from = t0+0.5µs (left out).
func TestJourneySubMicrosecondBounds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		e.apply(ev("test/e1", t0, "track", "user_id:U"))
		pid := e.profileID("user_id", "U")
		half := t0.Add(500 * time.Nanosecond).Format(time.RFC3339Nano)
		q := `query($id:ID!,$from:DateTime,$to:DateTime){profile(id:$id){journey(first:10,from:$from,to:$to){nodes{id}}}}`
		for _, c := range []struct {
			bound string
			want  int
		}{{"to", 1}, {"from", 0}} {
			var out struct {
				Profile struct {
					Journey struct{ Nodes []struct{ ID string } }
				}
			}
			e.query(q, map[string]any{"id": pid, c.bound: half}, &out)
			if len(out.Profile.Journey.Nodes) != c.want {
				t.Errorf("%s = t0+0.5µs: %v, want %d events", c.bound, out.Profile.Journey.Nodes, c.want)
			}
		}
	})
}

// A DateTime of the earliest instant (0001-01-01T00:00:00Z, a zero Go
// time) given as journey's to is a bound like any other: no event is
// before it, and a from after it is refused, though the store's query
// reads a zero To as no bound at all.
func TestJourneyToAtTheEarliestInstant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		e.apply(ev("test/e1", t0, "track", "user_id:U"), ev("test/e2", t0.Add(time.Hour), "track", "user_id:U"))
		pid := e.profileID("user_id", "U")
		const earliest = "0001-01-01T00:00:00Z"
		p := e.journeyPage(map[string]any{"id": pid, "first": 10, "to": earliest})
		if ids := p.ids(); len(ids) != 0 || p.Profile.Journey.PageInfo.HasNextPage {
			t.Errorf("journey(to: %s) = %v (hasNextPage %v), want no event", earliest, ids, p.Profile.Journey.PageInfo.HasNextPage)
		}
		e.refused(journeyQuery, map[string]any{"id": pid, "from": t0.Format(time.RFC3339), "to": earliest}, CodeInvalidArgument, `"to"`, `"from"`)
	})
}

// Journeys of one request share a store read when they ask the same page;
// two with other bounds never do, whatever the bounds. A bound of
// 9999-12-31T23:59:59.9999999Z rounds up to year 10000, past what a JSON
// time holds: two such journeys, one from and one to it, answer apart,
// each as if asked alone (the event, of 2024, is before the bound).
func TestJourneysWithBoundsPastYear9999AnswerApart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		e.apply(ev("test/e1", t0, "track", "user_id:U"))
		pid := e.profileID("user_id", "U")
		const bound = "9999-12-31T23:59:59.9999999Z"
		type page struct{ Nodes []struct{ ID string } }
		ids := func(p page) []string {
			var out []string
			for _, n := range p.Nodes {
				out = append(out, n.ID)
			}
			return out
		}
		for _, op := range []string{
			`query($id: ID!, $b: DateTime) { profile(id: $id) { since: journey(from: $b) { nodes { id } } until: journey(to: $b) { nodes { id } } } }`,
			`query($id: ID!, $b: DateTime) { profile(id: $id) { until: journey(to: $b) { nodes { id } } since: journey(from: $b) { nodes { id } } } }`,
		} {
			var out struct {
				Profile struct{ Since, Until page }
			}
			e.query(op, map[string]any{"id": pid, "b": bound}, &out)
			if got := ids(out.Profile.Since); len(got) != 0 {
				t.Errorf("journey(from: %s) = %v, want no event", bound, got)
			}
			if got := ids(out.Profile.Until); len(got) != 1 || got[0] != "test/e1" {
				t.Errorf("journey(to: %s) = %v, want [test/e1]", bound, got)
			}
		}
	})
}
