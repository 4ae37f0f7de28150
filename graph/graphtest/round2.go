package graphtest

import (
	"context"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
)

// RunRound2 runs the tests of the corrections that must stick: manual
// refusals, ids coming back when a merge is undone, shared events, and the
// per-profile identifier limit.
func RunRound2(t *testing.T, open Opener) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"ManualRefusalSticks", testManualRefusalSticks},
		{"ManualMergeLiftsRefusal", testManualMergeLiftsRefusal},
		{"UndoMergeRestoresID", testUndoMergeRestoresID},
		{"UndoNestedMergeRestoresID", testUndoNestedMerge},
		{"SharedEventShowsOwnDataOnly", testSharedEventOwnData},
		{"MaxIdentifiers", testMaxIdentifiers},
		{"AllowAnyType", testAllowAnyType},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

// linked reports whether a LINKED edge joins a and b directly.
func linked(t *testing.T, e *graph.Engine, a, b graph.IdentifierRef) bool {
	t.Helper()
	var found bool
	err := e.Store().View(context.Background(), func(ctx context.Context, tx graph.ReadTx) error {
		found = false
		ls, err := tx.LinksBetween(ctx, []graph.LinkKey{graph.NewLinkKey(key(a), key(b))})
		if err != nil {
			return err
		}
		found = len(ls) == 1
		return nil
	})
	if err != nil {
		t.Fatalf("LinksBetween: %v", err)
	}
	return found
}

// Finding 1: a triangle a-b, b-c, a-c; unlinking a-b keeps the profile
// whole through c. An event carrying a and b again must not link them, so
// that unlinking a-c then separates a from b.
func testManualRefusalSticks(t *testing.T, open Opener) {
	e := newEngine(t, open)
	ctx := context.Background()
	a, b, c := device("a"), device("b"), device("c")
	apply(t, e, ev("ab", 1, a, b), ev("bc", 2, b, c), ev("ac", 3, a, c))
	if _, err := e.UnlinkIdentifiers(ctx, a, b, "wrong link"); err != nil {
		t.Fatal(err)
	}
	if profileOf(t, e, a).ID != profileOf(t, e, b).ID {
		t.Fatal("a and b should still share a profile through c")
	}
	apply(t, e, ev("ab-again", 4, a, b))
	if linked(t, e, a, b) {
		t.Fatal("an event linked a pair a person unlinked")
	}
	if _, err := e.UnlinkIdentifiers(ctx, a, c, "wrong too"); err != nil {
		t.Fatal(err)
	}
	if profileOf(t, e, a).ID == profileOf(t, e, b).ID {
		t.Fatal("a and b still share a profile after both of a's links were unlinked")
	}
	// The event is stored all the same, in both people's journeys.
	for _, r := range []graph.IdentifierRef{a, b} {
		if got := journey(t, e, profileOf(t, e, r).ID, graph.JourneyQuery{}); !slicesContain(got, "ab-again") {
			t.Fatalf("journey of %s = %v, want it to hold ab-again", r.Value, got)
		}
	}
}

func slicesContain(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// A manual merge lifts the manual refusals between the people it joins.
func testManualMergeLiftsRefusal(t *testing.T, open Opener) {
	e := newEngine(t, open)
	ctx := context.Background()
	a, b := device("a"), device("b")
	apply(t, e, ev("ab", 1, a, b))
	if _, err := e.UnlinkIdentifiers(ctx, a, b, "wrong link"); err != nil {
		t.Fatal(err)
	}
	apply(t, e, ev("ab2", 2, a, b))
	pa, pb := profileOf(t, e, a), profileOf(t, e, b)
	if pa.ID == pb.ID {
		t.Fatal("an event re-linked an unlinked pair")
	}
	if _, err := e.MergeProfiles(ctx, []string{pa.ID, pb.ID}, "same person after all"); err != nil {
		t.Fatal(err)
	}
	g, err := e.IdentityGraph(ctx, profileOf(t, e, a).ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Rejected) != 0 {
		t.Fatalf("refusals after the manual merge = %+v, want none", g.Rejected)
	}
	apply(t, e, ev("ab3", 3, a, b))
	if !linked(t, e, a, b) {
		t.Fatal("after a manual merge, an event carrying a and b should link them")
	}
}

func historyKinds(t *testing.T, e *graph.Engine, id string) []string {
	t.Helper()
	h, err := e.History(context.Background(), []string{id})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range h[id] {
		out = append(out, c.Kind+" "+c.From+">"+c.Into)
	}
	return out
}

// Finding 2: undoing a manual merge gives the merged profile its id back.
func testUndoMergeRestoresID(t *testing.T, open Opener) {
	e := newEngine(t, open)
	ctx := context.Background()
	apply(t, e, ev("a", 1, user("U1"), anon("X")))
	apply(t, e, ev("b", 2, email("bob@example.com"), anon("Y")))
	pa, pb := profileOf(t, e, user("U1")), profileOf(t, e, email("bob@example.com"))
	merged, err := e.MergeProfiles(ctx, []string{pa.ID, pb.ID}, "looks like one person")
	if err != nil {
		t.Fatal(err)
	}
	if merged.ID != pa.ID {
		t.Fatalf("survivor = %s, want the older %s", merged.ID, pa.ID)
	}
	// B gains an identifier while merged: its part is then a superset of
	// what it held, and still the best match for its old id.
	apply(t, e, ev("b2", 3, email("bob@example.com"), anon("Z")))
	if _, err := e.UnlinkIdentifiers(ctx, user("U1"), email("bob@example.com"), "not the same person"); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string][]string{
		pa.ID: sorted("user_id:U1", "anonymous_id:X"),
		pb.ID: sorted("email:bob@example.com", "anonymous_id:Y", "anonymous_id:Z"),
	} {
		p, err := e.ProfileByID(ctx, id)
		if err != nil {
			t.Fatalf("profile %s: %v", id, err)
		}
		if p.ID != id || !p.Live() {
			t.Fatalf("profile(%s) answers %s, want itself, live", id, p.ID)
		}
		if got := members(t, e, id); !same(got, want) {
			t.Fatalf("members of %s = %v, want %v", id, got, want)
		}
	}
	if got := profileOf(t, e, anon("Z")); got.ID != pb.ID {
		t.Fatalf("Z is in %s, want %s", got.ID, pb.ID)
	}
	want := []string{"merge " + pb.ID + ">" + pa.ID, "split " + pa.ID + ">" + pb.ID}
	if got := historyKinds(t, e, pb.ID); !same(got, want) {
		t.Fatalf("history of B = %v, want %v", got, want)
	}
	// Nothing else came to life: two profiles in all.
	page, err := e.Profiles(ctx, graph.PageQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != 2 {
		t.Fatalf("live profiles = %d, want 2", page.Total)
	}
}

// B merged into A, then A merged into C. Unlinking the A-B link inside C
// gives B its id back (its members match B exactly, A's only in part); A
// still answers for C.
func testUndoNestedMerge(t *testing.T, open Opener) {
	e := newEngine(t, open)
	ctx := context.Background()
	apply(t, e, ev("a", 1, user("U1"), anon("X")))
	apply(t, e, ev("b", 2, email("b@example.com"), anon("Y")))
	apply(t, e, ev("c", 3, email("c@example.com"), anon("P"), anon("Q"), anon("R"), anon("S")))
	pa, pb, pc := profileOf(t, e, user("U1")), profileOf(t, e, anon("Y")), profileOf(t, e, anon("P"))
	if _, err := e.MergeProfiles(ctx, []string{pa.ID, pb.ID}, "one"); err != nil {
		t.Fatal(err)
	}
	if got, err := e.MergeProfiles(ctx, []string{pa.ID, pc.ID}, "two"); err != nil || got.ID != pc.ID {
		t.Fatalf("second merge = %v, %v; want C (the larger) to survive", got.ID, err)
	}
	if _, err := e.UnlinkIdentifiers(ctx, user("U1"), email("b@example.com"), "B is someone else"); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		pb.ID: sorted("email:b@example.com", "anonymous_id:Y"),
		pc.ID: sorted("email:c@example.com", "anonymous_id:P", "anonymous_id:Q", "anonymous_id:R", "anonymous_id:S", "user_id:U1", "anonymous_id:X"),
		pa.ID: sorted("email:c@example.com", "anonymous_id:P", "anonymous_id:Q", "anonymous_id:R", "anonymous_id:S", "user_id:U1", "anonymous_id:X"),
	}
	for id, w := range want {
		p, err := e.ProfileByID(ctx, id)
		if err != nil {
			t.Fatalf("profile %s: %v", id, err)
		}
		if got := members(t, e, p.ID); !same(got, w) {
			t.Fatalf("profile(%s) answers %s with %v, want %v", id, p.ID, got, w)
		}
	}
	if p, err := e.ProfileByID(ctx, pb.ID); err != nil || p.ID != pb.ID {
		t.Fatalf("profile(B) = %v, %v; want B itself", p.ID, err)
	}
}

// Finding 3: a shared-device identify (Bob's user id with Ann's anonymous
// id) is refused as a link; Ann's journey then shows the event without
// Bob's identifiers and without its payload.
func testSharedEventOwnData(t *testing.T, open Opener) {
	e := newEngine(t, open)
	ctx := context.Background()
	apply(t, e, ev("ann", 1, user("ann"), anon("A1")))
	apply(t, e, ev("bob", 2, user("bob")))
	shared := ev("shared", 3, user("bob"), anon("A1"), email("bob@example.com"))
	shared.Type, shared.Name = "identify", ""
	shared.Traits = map[string]any{"email": "bob@example.com", "name": "Bob"}
	shared.Properties = map[string]any{"plan": "pro"}
	apply(t, e, shared)
	ann, bob := profileOf(t, e, user("ann")), profileOf(t, e, user("bob"))
	if ann.ID == bob.ID {
		t.Fatal("the shared-device identify merged Ann and Bob")
	}
	find := func(p graph.Profile) graph.Event {
		t.Helper()
		m, err := e.Journeys(ctx, []string{p.ID}, graph.JourneyQuery{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range m[p.ID] {
			if x.ID == "shared" {
				return x
			}
		}
		t.Fatalf("journey of %s lacks the shared event", p.ID)
		return graph.Event{}
	}
	a := find(ann)
	if !a.Shared || a.Properties != nil || a.Traits != nil {
		t.Fatalf("Ann's view of the event: shared=%v properties=%v traits=%v; want shared with no payload", a.Shared, a.Properties, a.Traits)
	}
	if !same(a.Keys, []string{"anonymous_id:A1"}) {
		t.Fatalf("Ann's view of the event's identifiers = %v, want only her own", a.Keys)
	}
	if a.Type != "identify" || a.Channel != "web" || a.Source != "test" || !a.Timestamp.Equal(at(3)) {
		t.Fatalf("Ann's view lost the event's type, channel, source or time: %+v", a)
	}
	b := find(bob)
	if b.Shared || b.Properties["plan"] != "pro" || b.Traits["name"] != "Bob" {
		t.Fatalf("Bob's view: shared=%v properties=%v traits=%v; want his full event", b.Shared, b.Properties, b.Traits)
	}
	if !same(b.Keys, []string{"user_id:bob", "email:bob@example.com"}) {
		t.Fatalf("Bob's view of the identifiers = %v", b.Keys)
	}
}

// Finding 5: no profile grows past maxIdentifiers; the link that would is
// refused and recorded like any other limit.
func testMaxIdentifiers(t *testing.T, open Opener) {
	rules, err := graph.ParseRules([]byte(`{"maxIdentifiers": 3}`))
	if err != nil {
		t.Fatal(err)
	}
	e := graph.NewEngine(open(t), rules)
	ctx := context.Background()
	apply(t, e, ev("e1", 1, user("U"), anon("A"), anon("B")))
	apply(t, e, ev("e2", 2, user("U"), anon("C")))
	p := profileOf(t, e, user("U"))
	if p.Size != 3 {
		t.Fatalf("size = %d, want 3", p.Size)
	}
	if q := profileOf(t, e, anon("C")); q.ID == p.ID {
		t.Fatal("a fourth identifier joined a profile limited to 3")
	}
	g, err := e.IdentityGraph(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Rejected) != 1 || g.Rejected[0].Source != graph.SourceRules || !strings.Contains(g.Rejected[0].Reason, "maxIdentifiers 3") {
		t.Fatalf("refusals = %+v, want one rules refusal naming maxIdentifiers", g.Rejected)
	}
	// A manual merge past the limit is a conflict.
	other := profileOf(t, e, anon("C"))
	if _, err := e.MergeProfiles(ctx, []string{p.ID, other.ID}, "try"); graph.ErrorCode(err) != graph.ECONFLICT {
		t.Fatalf("merge past maxIdentifiers: %v, want a conflict", err)
	}
}

// allowAnyType: false refuses events carrying a type that is neither built
// in nor listed; listed and built-in types still work.
func testAllowAnyType(t *testing.T, open Opener) {
	rules, err := graph.ParseRules([]byte(`{"allowAnyType": false, "types": {"crm_id": {"priority": 10, "limit": 1}}}`))
	if err != nil {
		t.Fatal(err)
	}
	e := graph.NewEngine(open(t), rules)
	res := apply(t, e,
		ev("ok", 1, user("U"), id("crm_id", "C1")),
		ev("bad", 2, user("U"), id("loyalty", "L1")),
	)
	if res.Results[0].Status != graph.StatusStored {
		t.Fatalf("listed type: %+v", res.Results[0])
	}
	if r := res.Results[1]; r.Status != graph.StatusRejected || !strings.HasPrefix(r.Reason, graph.ReasonUnknownType) || !strings.Contains(r.Reason, "loyalty") {
		t.Fatalf("unknown type: %+v, want rejected with %s naming the type", r, graph.ReasonUnknownType)
	}
	if got := members(t, e, profileOf(t, e, user("U")).ID); !same(got, sorted("user_id:U", "crm_id:C1")) {
		t.Fatalf("members = %v", got)
	}
	// The default allows any type (an engine with the default rules on the
	// same store).
	d := graph.NewEngine(e.Store(), nil)
	if res := apply(t, d, ev("any", 3, user("V"), id("loyalty", "L2"))); res.Stored != 1 {
		t.Fatalf("default rules refused a new type: %+v", res.Results)
	}
}
