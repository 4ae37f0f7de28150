package graphtest

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"testing"

	"github.com/idgraph/cdp/graph"
)

func testJourneyFilters(t *testing.T, open Opener) {
	e := newEngine(t, open)
	var evs []graph.Event
	for i := 0; i < 12; i++ {
		x := ev(fmt.Sprintf("e%02d", i), i/3, user("A")) // three events share each timestamp
		if i%2 == 0 {
			x.Type, x.Channel = "page", "web"
		} else {
			x.Type, x.Channel = "track", "mobile"
		}
		evs = append(evs, x)
	}
	apply(t, e, evs...)
	p := profileOf(t, e, user("A"))
	all := journey(t, e, p.ID, graph.JourneyQuery{Limit: 5})
	want := []string{"e11", "e10", "e09", "e08", "e07", "e06", "e05", "e04", "e03", "e02", "e01", "e00"}
	if !same(all, want) {
		t.Fatalf("journey = %v, want %v", all, want)
	}
	if got := journey(t, e, p.ID, graph.JourneyQuery{Types: []string{"page"}, Limit: 1}); !same(got, []string{"e10", "e08", "e06", "e04", "e02", "e00"}) {
		t.Fatalf("type filter = %v", got)
	}
	if got := journey(t, e, p.ID, graph.JourneyQuery{Channels: []string{"mobile"}}); !same(got, []string{"e11", "e09", "e07", "e05", "e03", "e01"}) {
		t.Fatalf("channel filter = %v", got)
	}
	if got := journey(t, e, p.ID, graph.JourneyQuery{From: at(1), To: at(3)}); !same(got, []string{"e08", "e07", "e06", "e05", "e04", "e03"}) {
		t.Fatalf("time range = %v", got)
	}
	if _, err := e.Journeys(context.Background(), []string{p.ID}, graph.JourneyQuery{Limit: 0}); graph.ErrorCode(err) != graph.EINVALID {
		t.Fatalf("limit 0: %v", err)
	}
	if _, err := e.Journeys(context.Background(), []string{p.ID}, graph.JourneyQuery{Limit: 5, From: at(3), To: at(1)}); graph.ErrorCode(err) != graph.EINVALID {
		t.Fatalf("inverted range: %v", err)
	}
}

func testProfilesPaging(t *testing.T, open Opener) {
	e := newEngine(t, open)
	var evs []graph.Event
	for i := 0; i < 7; i++ {
		evs = append(evs, ev(fmt.Sprintf("e%d", i), i, user(fmt.Sprintf("U%d", i))))
	}
	apply(t, e, evs...)
	var ids []string
	for i := 0; i < 7; i++ {
		ids = append(ids, profileOf(t, e, user(fmt.Sprintf("U%d", i))).ID)
	}
	sort.Strings(ids)
	var fwd []string
	after := ""
	for n := 0; ; n++ {
		page, err := e.Profiles(context.Background(), graph.PageQuery{After: after, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != 7 {
			t.Fatalf("total = %d", page.Total)
		}
		if page.HasPrevious != (n > 0) {
			t.Fatalf("page %d hasPrevious = %v", n, page.HasPrevious)
		}
		for _, p := range page.Profiles {
			fwd = append(fwd, p.ID)
		}
		if !page.HasNext {
			break
		}
		after = page.Profiles[len(page.Profiles)-1].ID
	}
	if !same(fwd, ids) {
		t.Fatalf("forward pages = %v, want %v", fwd, ids)
	}
	var back []string
	before := ""
	for {
		page, err := e.Profiles(context.Background(), graph.PageQuery{Before: before, Limit: 3, Reverse: true})
		if err != nil {
			t.Fatal(err)
		}
		back = append(append([]string(nil), idsOf(page.Profiles)...), back...)
		if !page.HasPrevious {
			break
		}
		before = page.Profiles[0].ID
	}
	if !same(back, ids) {
		t.Fatalf("backward pages = %v, want %v", back, ids)
	}
	if _, err := e.Profiles(context.Background(), graph.PageQuery{Limit: graph.MaxPage + 1}); graph.ErrorCode(err) != graph.EINVALID {
		t.Fatalf("oversized page: %v", err)
	}
}

func idsOf(ps []graph.Profile) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

func testTraits(t *testing.T, open Opener) {
	e := newEngine(t, open)
	a := ev("i1", 20, user("A"), email("a@example.com"))
	a.Type, a.Traits = "identify", map[string]any{"name": "Ann", "plan": "pro"}
	old := ev("i0", 10, user("A"))
	old.Type, old.Traits = "identify", map[string]any{"name": "Annie"}
	newer := ev("i2", 30, email("a@example.com"))
	newer.Type, newer.Traits, newer.Source = "identify", map[string]any{"plan": "free"}, "crm"
	apply(t, e, a)
	apply(t, e, old)
	apply(t, e, newer)
	p := profileOf(t, e, user("A"))
	m, err := e.Members(context.Background(), []string{p.ID})
	if err != nil {
		t.Fatal(err)
	}
	tr := graph.FoldTraits(m[p.ID])
	if tr["name"].Value != "Ann" || tr["plan"].Value != "free" || tr["plan"].Source != "crm" || !tr["plan"].At.Equal(at(30)) {
		t.Fatalf("traits = %+v", tr)
	}
}

// testTraitTiesGoToTheLaterReceived: values of a trait from the same time
// on different identifiers of a profile: the one received later is the
// profile's, whichever identifier's key sorts first ("email:..." before
// "user_id:..."); on one identifier, a value from the same time received
// earlier (a replay) leaves the one received later. An older time loses
// however late it was received. Worked by hand.
func testTraitTiesGoToTheLaterReceived(t *testing.T, open Opener) {
	e := newEngine(t, open)
	identify := func(id string, minute, received int, ref graph.IdentifierRef, traits map[string]any) graph.Event {
		x := ev(id, minute, ref)
		x.Type, x.Traits, x.ReceivedAt = "identify", traits, at(received)
		return x
	}
	link := ev("l", 1, email("t@example.com"), user("T"))
	link.ReceivedAt = at(1)
	apply(t, e, link)
	apply(t, e, identify("a", 5, 10, email("t@example.com"), map[string]any{"plan": "free"}))
	apply(t, e, identify("b", 5, 11, user("T"), map[string]any{"plan": "pro"}))
	apply(t, e, identify("c", 5, 9, user("T"), map[string]any{"plan": "max"}))
	apply(t, e, identify("d", 4, 20, email("t@example.com"), map[string]any{"plan": "basic"}))
	// One batch: the first event received later than the second.
	apply(t, e, identify("x", 6, 31, user("T"), map[string]any{"name": "x"}), identify("y", 6, 30, email("t@example.com"), map[string]any{"name": "y"}))
	p := profileOf(t, e, user("T"))
	m, err := e.Members(context.Background(), []string{p.ID})
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]graph.TraitValue{}
	for _, id := range m[p.ID] {
		held[id.Key+" plan"] = id.Traits["plan"]
	}
	for k, want := range map[string]graph.TraitValue{
		"email:t@example.com plan": {Value: "free", Source: "test", At: at(5), Received: at(10)},
		"user_id:T plan":           {Value: "pro", Source: "test", At: at(5), Received: at(11)},
	} {
		if got := held[k]; got.Value != want.Value || got.Source != want.Source || !got.At.Equal(want.At) || !got.Received.Equal(want.Received) {
			t.Errorf("%s = %+v, want %+v", k, got, want)
		}
	}
	tr := graph.FoldTraits(m[p.ID])
	if got := tr["plan"]; got.Value != "pro" || !got.Received.Equal(at(11)) {
		t.Errorf("the profile's plan = %+v, want pro received at minute 11", got)
	}
	if got := tr["name"]; got.Value != "x" || !got.Received.Equal(at(31)) {
		t.Errorf("the profile's name = %+v, want x received at minute 31", got)
	}
}

func testDeterministicIDs(t *testing.T, open Opener) {
	e := newEngine(t, open)
	apply(t, e, ev("e1", 1, anon("X")))
	if got, want := profileOf(t, e, anon("X")).ID, graph.ProfileIDFor("anonymous_id:X", 0); got != want {
		t.Fatalf("profile id = %s, want %s", got, want)
	}
}

func testBatchLookups(t *testing.T, open Opener) {
	e := newEngine(t, open)
	apply(t, e, ev("e1", 1, user("A")), ev("e2", 2, user("B")), ev("e3", 3, user("B")))
	pa, pb := profileOf(t, e, user("A")), profileOf(t, e, user("B"))
	ps, err := e.ProfilesByIDs(context.Background(), []string{pa.ID, pb.ID, "p_missing"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[pa.ID].ID != pa.ID || ps[pb.ID].ID != pb.ID {
		t.Fatalf("ProfilesByIDs = %+v", ps)
	}
	byRef, err := e.ProfilesByIdentifiers(context.Background(), []graph.IdentifierRef{user("A"), user("B"), user("C")})
	if err != nil {
		t.Fatal(err)
	}
	if len(byRef) != 2 || byRef[user("A")].ID != pa.ID {
		t.Fatalf("ProfilesByIdentifiers = %+v", byRef)
	}
	found, ms0, err := e.LookupProfiles(context.Background(), []graph.IdentifierRef{user("B"), user("C")})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[user("B")].ID != pb.ID || len(ms0) != 1 || len(ms0[pb.ID]) != 1 || ms0[pb.ID][0].Key != "user_id:B" {
		t.Fatalf("LookupProfiles = %+v, %+v", found, ms0)
	}
	js, err := e.Journeys(context.Background(), []string{pa.ID, pb.ID}, graph.JourneyQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(js[pa.ID]) != 1 || len(js[pb.ID]) != 2 || js[pb.ID][0].ID != "e3" {
		t.Fatalf("Journeys = %+v", js)
	}
	if k := js[pb.ID][0].Keys; len(k) != 1 || k[0] != "user_id:B" {
		t.Fatalf("event keys = %v", k)
	}
	ms, err := e.Members(context.Background(), []string{pa.ID, pb.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms[pa.ID]) != 1 || ms[pb.ID][0].Key != "user_id:B" || !ms[pb.ID][0].FirstSeen.Equal(at(2)) || !ms[pb.ID][0].LastSeen.Equal(at(3)) {
		t.Fatalf("Members = %+v", ms)
	}
	if src := ms[pb.ID][0].Sources; len(src) != 1 || src[0] != "test" {
		t.Fatalf("sources = %v", src)
	}
}

// Scenario 9: a chain of n links and a star of n both resolve (n is
// 10,000 in a store's own run, see scale). The chain's links arrive
// shuffled, so unions join large components.
func testChainAndStar(t *testing.T, open Opener, n int) {
	rules, err := graph.ParseRules([]byte(`{"maxIdentifiers": 100000, "types": {"node": {"priority": 10, "limit": 100000}}}`))
	if err != nil {
		t.Fatal(err)
	}
	check := func(e *graph.Engine, prefix string, evs []graph.Event) {
		for i := 0; i < len(evs); i += 1000 {
			end := min(i+1000, len(evs))
			if res := apply(t, e, evs[i:end]...); res.Stored != end-i {
				t.Fatalf("%s batch %d stored %d of %d", prefix, i, res.Stored, end-i)
			}
		}
		p := profileOf(t, e, id("node", prefix+"0"))
		if p.Size != n+1 {
			t.Fatalf("%s profile size = %d, want %d", prefix, p.Size, n+1)
		}
		if got := len(members(t, e, p.ID)); got != n+1 {
			t.Fatalf("%s members = %d, want %d", prefix, got, n+1)
		}
		for _, k := range []int{1, n / 2, n} {
			if q := profileOf(t, e, id("node", fmt.Sprintf("%s%d", prefix, k))); q.ID != p.ID {
				t.Fatalf("%s node %d in %s, want %s", prefix, k, q.ID, p.ID)
			}
		}
	}
	e := graph.NewEngine(open(t), rules)
	chain := make([]graph.Event, n)
	for i := range chain {
		chain[i] = ev(fmt.Sprintf("chain-%d", i), i%1000, id("node", fmt.Sprintf("c%d", i)), id("node", fmt.Sprintf("c%d", i+1)))
	}
	rand.New(rand.NewSource(7)).Shuffle(len(chain), func(i, j int) { chain[i], chain[j] = chain[j], chain[i] })
	check(e, "c", chain)
	star := make([]graph.Event, n)
	for i := range star {
		star[i] = ev(fmt.Sprintf("star-%d", i), i%1000, id("node", "s0"), id("node", fmt.Sprintf("s%d", i+1)))
	}
	check(e, "s", star)
}
