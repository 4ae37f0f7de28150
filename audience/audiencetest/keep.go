package audiencetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
)

// keepProfile stores one event carrying keys and returns its profile and
// the profiles it merged away.
func keepProfile(t *testing.T, eng *graph.Engine, id string, minute int, keys ...string) (string, []string) {
	t.Helper()
	ev := graph.Event{ID: "keep/" + id, Type: "track", Name: "Viewed", Channel: "web", Source: "test",
		Timestamp: at(minute), ReceivedAt: at(minute)}
	for _, k := range keys {
		ev.Identifiers = append(ev.Identifiers, graph.SplitKey(k))
	}
	res, err := eng.ApplyBatch(bg, []graph.Event{ev})
	must(t, err)
	if res.Stored != 1 {
		t.Fatalf("event %s: %+v", id, res.Results)
	}
	return res.Results[0].ProfileID, res.Merged
}

// Keep writes facts and the changes of several audiences at once, and
// leaves out every profile that is not live when it commits: one merged
// away, one never stored. An audience no longer stored is skipped, and
// a bad write stores nothing.
func testKeep(t *testing.T, s Store) {
	eng := graph.NewEngine(s, nil)
	ann, _ := keepProfile(t, eng, "a1", 1, "email:ann@example.com")
	bob, _ := keepProfile(t, eng, "b1", 2, "email:bob@example.com")
	anon, _ := keepProfile(t, eng, "x1", 3, "anonymous_id:anon-1")
	survivor, merged := keepProfile(t, eng, "a2", 4, "email:ann@example.com", "anonymous_id:anon-1")
	if len(merged) != 1 || (survivor != ann && survivor != anon) {
		t.Fatalf("the merge kept %s and merged away %v; want one of %s and %s merged into the other", survivor, merged, ann, anon)
	}
	gone := merged[0]
	const never = "p_never_stored"
	putAud(t, s, aud(1), aud(2))
	// Facts kept before: one for a profile the write deletes.
	must(t, s.PutFacts(bg, []audience.Facts{{ProfileID: "p_old", Types: []string{"email"}}}))

	facts := func(id string) audience.Facts {
		return audience.Facts{ProfileID: id, Types: []string{"email"}, Traits: []audience.TraitFact{{Name: "plan", Value: "pro"}}}
	}
	w := audience.KeepWrite{
		At:          at(10),
		Facts:       []audience.Facts{facts(survivor), facts(bob), facts(gone), facts(never)},
		DeleteFacts: []string{"p_old"},
		Changes: []audience.MembershipChange{
			{AudienceID: aid(2), Enter: []string{bob}},
			{AudienceID: aid(1), Enter: []string{survivor, gone, never}},
			{AudienceID: aid(3), Enter: []string{bob}}, // not stored
		},
	}
	mustKeep(t, s, w)
	got := readFacts(t, s, survivor, bob, gone, never, "p_old")
	sameFacts(t, "facts after Keep", got, map[string]audience.Facts{survivor: facts(survivor), bob: facts(bob)})
	if got, want := members(t, s, aid(1)), []string{survivor + "@10"}; !slices.Equal(got, want) {
		t.Fatalf("audience 1 members = %v, want %v", got, want)
	}
	if got, want := members(t, s, aid(2)), []string{bob + "@10"}; !slices.Equal(got, want) {
		t.Fatalf("audience 2 members = %v, want %v", got, want)
	}
	if got, _ := changes(t, s, aid(1)); !slices.Equal(got, []string{"ENTERED " + survivor + "@10"}) {
		t.Fatalf("audience 1 log = %v", got)
	}
	if _, ok := getAud(t, s, aid(3)); ok {
		t.Fatalf("Keep created audience 3")
	}
	for n, size := range map[int]int{1: 1, 2: 1} {
		a, _ := getAud(t, s, aid(n))
		if a.Size != size || !sameTime(a.RefreshedAt, at(10)) {
			t.Fatalf("audience %d: size %d refreshed %v, want %d and %v", n, a.Size, a.RefreshedAt, size, at(10))
		}
	}

	// A second round: one exits, one enters, a repeat changes nothing.
	mustKeep(t, s, audience.KeepWrite{At: at(20), Changes: []audience.MembershipChange{
		{AudienceID: aid(1), Enter: []string{bob, survivor}, Exit: []string{gone}},
		{AudienceID: aid(2), Exit: []string{bob}},
	}})
	if got, want := members(t, s, aid(1)), []string{bob + "@20", survivor + "@10"}; !slices.Equal(sorted(got), sorted(want)) {
		t.Fatalf("audience 1 members = %v, want %v", got, want)
	}
	got1, cs := changes(t, s, aid(1))
	if want := []string{"ENTERED " + bob + "@20", "ENTERED " + survivor + "@10"}; !slices.Equal(got1, want) {
		t.Fatalf("audience 1 log = %v, want %v", got1, want)
	}
	if cs[0].Seq <= cs[1].Seq {
		t.Fatalf("audience 1 seqs %d then %d do not grow", cs[1].Seq, cs[0].Seq)
	}
	if got, _ := changes(t, s, aid(2)); !slices.Equal(got, []string{"EXITED " + bob + "@20", "ENTERED " + bob + "@10"}) {
		t.Fatalf("audience 2 log = %v", got)
	}
	if a, _ := getAud(t, s, aid(2)); a.Size != 0 {
		t.Fatalf("audience 2 size %d, want 0", a.Size)
	}

	// Bad writes store nothing.
	before := readFacts(t, s, survivor, bob)
	bad := []struct {
		what string
		w    audience.KeepWrite
	}{
		{"an audience changed twice", audience.KeepWrite{At: at(30), Facts: []audience.Facts{facts(bob)}, Changes: []audience.MembershipChange{
			{AudienceID: aid(1), Enter: []string{bob}}, {AudienceID: aid(1), Exit: []string{bob}}}}},
		{"a bad audience id", audience.KeepWrite{At: at(30), DeleteFacts: []string{bob}, Changes: []audience.MembershipChange{{AudienceID: "seg_x", Enter: []string{bob}}}}},
		{"an empty profile id to delete", audience.KeepWrite{At: at(30), DeleteFacts: []string{bob, ""}}},
		{"facts with an empty profile id", audience.KeepWrite{At: at(30), DeleteFacts: []string{bob}, Facts: []audience.Facts{{}}}},
		{"a profile both entering and exiting", audience.KeepWrite{At: at(30), DeleteFacts: []string{bob}, Changes: []audience.MembershipChange{
			{AudienceID: aid(2), Enter: []string{bob}, Exit: []string{bob}}}}},
	}
	for _, b := range bad {
		_, err := s.Keep(bg, b.w)
		wantCode(t, err, graph.EINVALID, fmt.Sprintf("Keep with %s", b.what))
	}
	sameFacts(t, "facts after refused writes", readFacts(t, s, survivor, bob), before)
	if got, _ := changes(t, s, aid(2)); len(got) != 2 {
		t.Fatalf("a refused write logged changes: %v", got)
	}
	// An empty write is nothing.
	mustKeep(t, s, audience.KeepWrite{At: at(40)})
	if a, _ := getAud(t, s, aid(1)); !sameTime(a.RefreshedAt, at(20)) {
		t.Fatalf("an empty write refreshed audience 1 at %v", a.RefreshedAt)
	}
}

func sorted(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return out
}

// mustKeep writes w, which names no stale profile: Keep must store it all.
func mustKeep(t *testing.T, s audience.Store, w audience.KeepWrite) {
	t.Helper()
	stale, err := s.Keep(bg, w)
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) > 0 {
		t.Fatalf("Keep left out %v as written since it was read; the write named them with no Read", stale)
	}
}

// Keep refuses a profile's change of an audience whose log already holds
// an entry for it after w.At (or a member row since after it): a round
// evaluated later wrote first. The profile is returned, and nothing of it
// is written (neither its facts nor its other changes); the other
// profiles, an equal At and Static changes are written.
func testKeepLater(t *testing.T, s Store) {
	eng := graph.NewEngine(s, nil)
	ann, _ := keepProfile(t, eng, "l1", 1, "email:ann-later@example.com")
	bob, _ := keepProfile(t, eng, "l2", 2, "email:bob-later@example.com")
	cat, _ := keepProfile(t, eng, "l3", 3, "email:cat-later@example.com")
	a1, a2 := aud(1), aud(2)
	a3 := audience.Audience{ID: aid(3), Name: "static", Static: true, CreatedAt: at(0), UpdatedAt: at(1)}
	putAud(t, s, a1, a2, a3)
	facts := func(id string) audience.Facts {
		return audience.Facts{ProfileID: id, Types: []string{"email"}, Traits: []audience.TraitFact{{Name: "plan", Value: "pro"}}}
	}
	mustKeep(t, s, audience.KeepWrite{At: at(20), Changes: []audience.MembershipChange{
		{AudienceID: aid(1), Enter: []string{ann}},
		{AudienceID: aid(3), Enter: []string{cat}, Static: true},
	}})

	// At 10, after the round of 20: Ann's exit of audience 1 is refused,
	// with her entry into audience 2 and her facts; Bob's are written.
	stale, err := s.Keep(bg, audience.KeepWrite{At: at(10),
		Facts: []audience.Facts{facts(ann), facts(bob)},
		Changes: []audience.MembershipChange{
			{AudienceID: aid(1), Exit: []string{ann}},
			{AudienceID: aid(2), Enter: []string{ann, bob}},
			{AudienceID: aid(3), Exit: []string{cat}, Static: true},
		}})
	must(t, err)
	if !slices.Equal(stale, []string{ann}) {
		t.Fatalf("Keep at 10 after 20 returned %v, want [%s]", stale, ann)
	}
	if got, want := members(t, s, aid(1)), []string{ann + "@20"}; !slices.Equal(got, want) {
		t.Fatalf("audience 1 members = %v, want %v", got, want)
	}
	if got, want := members(t, s, aid(2)), []string{bob + "@10"}; !slices.Equal(got, want) {
		t.Fatalf("audience 2 members = %v, want %v", got, want)
	}
	if got := members(t, s, aid(3)); len(got) != 0 {
		t.Fatalf("static audience 3 members = %v: its change is written whatever the log says", got)
	}
	sameFacts(t, "facts after Keep at 10", readFacts(t, s, ann, bob), map[string]audience.Facts{bob: facts(bob)})

	// An exit at 30, then an entry evaluated at 25: refused; at 30 itself
	// (not later): written.
	mustKeep(t, s, audience.KeepWrite{At: at(30), Changes: []audience.MembershipChange{{AudienceID: aid(1), Exit: []string{ann}}}})
	stale, err = s.Keep(bg, audience.KeepWrite{At: at(25), Changes: []audience.MembershipChange{{AudienceID: aid(1), Enter: []string{ann}}}})
	must(t, err)
	if !slices.Equal(stale, []string{ann}) {
		t.Fatalf("Keep at 25 after 30 returned %v, want [%s]", stale, ann)
	}
	if got := members(t, s, aid(1)); len(got) != 0 {
		t.Fatalf("audience 1 members = %v after a refused entry", got)
	}
	mustKeep(t, s, audience.KeepWrite{At: at(30), Changes: []audience.MembershipChange{{AudienceID: aid(1), Enter: []string{ann}}}})
	got, _ := changes(t, s, aid(1))
	if want := []string{"ENTERED " + ann + "@30", "EXITED " + ann + "@30", "ENTERED " + ann + "@20"}; !slices.Equal(got, want) {
		t.Fatalf("audience 1 log = %v, want %v", got, want)
	}
}

// Keep writes nothing a round evaluated on definitions no longer stored:
// an audience of w.Audiences stored with another UpdatedAt, or computed
// trait definitions other than w.Computed. It writes the Static changes
// and returns every profile the write names; an audience of w.Audiences
// no longer stored is no redefinition.
func testKeepDefinitions(t *testing.T, s Store) {
	eng := graph.NewEngine(s, nil)
	ann, _ := keepProfile(t, eng, "d1", 1, "email:ann-defs@example.com")
	bob, _ := keepProfile(t, eng, "d2", 2, "email:bob-defs@example.com")
	cat, _ := keepProfile(t, eng, "d3", 3, "email:cat-defs@example.com")
	a1, a2 := aud(1), aud(2)
	a3 := audience.Audience{ID: aid(3), Name: "static", Static: true, CreatedAt: at(0), UpdatedAt: at(1)}
	putAud(t, s, a1, a2, a3)
	must(t, s.PutComputedTrait(bg, audience.ComputedTrait{Name: "orders", Aggregate: audience.AggCount, Event: "Order", CreatedAt: at(0), UpdatedAt: at(1)}))
	facts := func(id string) audience.Facts {
		return audience.Facts{ProfileID: id, Types: []string{"email"}, Traits: []audience.TraitFact{{Name: "plan", Value: "pro"}}}
	}
	current := map[string]time.Time{aid(1): at(1), aid(2): at(1), aid(9): at(1)} // 9: not stored
	computed := map[string]time.Time{"orders": at(1)}
	mustKeep(t, s, audience.KeepWrite{At: at(10), Audiences: current, Computed: computed,
		Facts: []audience.Facts{facts(ann)}, Changes: []audience.MembershipChange{{AudienceID: aid(1), Enter: []string{ann}}}})
	if got, want := members(t, s, aid(1)), []string{ann + "@10"}; !slices.Equal(got, want) {
		t.Fatalf("audience 1 members = %v, want %v", got, want)
	}

	redefined := []struct {
		what      string
		audiences map[string]time.Time
		computed  map[string]time.Time
	}{
		{"an audience changed", map[string]time.Time{aid(1): at(1), aid(2): at(0)}, computed},
		{"an audience it names redefined", map[string]time.Time{aid(1): at(0)}, nil},
		{"a computed trait redefined", current, map[string]time.Time{"orders": at(0)}},
		{"a computed trait added", current, map[string]time.Time{}},
		{"a computed trait removed", current, map[string]time.Time{"orders": at(1), "gone": at(1)}},
	}
	for i, r := range redefined {
		m := 20 + i
		stale, err := s.Keep(bg, audience.KeepWrite{At: at(m), Audiences: r.audiences, Computed: r.computed, Read: map[string]time.Time{},
			Facts:       []audience.Facts{facts(bob)},
			DeleteFacts: []string{ann},
			Changes: []audience.MembershipChange{
				{AudienceID: aid(2), Enter: []string{bob}},
				{AudienceID: aid(1), Exit: []string{ann}},
				{AudienceID: aid(3), Enter: []string{cat}, Static: true},
			}})
		must(t, err)
		if want := sorted([]string{ann, bob}); !slices.Equal(stale, want) {
			t.Fatalf("Keep with %s returned %v, want %v", r.what, stale, want)
		}
		if got, want := members(t, s, aid(1)), []string{ann + "@10"}; !slices.Equal(got, want) {
			t.Fatalf("Keep with %s: audience 1 members = %v, want %v", r.what, got, want)
		}
		if got := members(t, s, aid(2)); len(got) != 0 {
			t.Fatalf("Keep with %s: audience 2 members = %v, want none", r.what, got)
		}
		if got, want := members(t, s, aid(3)), []string{cat + "@20"}; !slices.Equal(got, want) {
			t.Fatalf("Keep with %s: static audience 3 members = %v, want %v (its changes are written)", r.what, got, want)
		}
		sameFacts(t, "facts after Keep with "+r.what, readFacts(t, s, ann, bob), map[string]audience.Facts{ann: facts(ann)})
	}
}
