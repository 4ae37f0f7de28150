package audiencetest

import (
	"slices"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
)

// newFeed returns what the feed holds after after, each entry as "KIND
// profile audience", with the Seq of the last.
func newFeed(t *testing.T, fs graph.FeedStore, after uint64) ([]string, uint64) {
	t.Helper()
	es, err := fs.Feed(bg, after, nil, 100)
	must(t, err)
	var out []string
	for _, e := range es {
		if e.Seq != after+1 {
			t.Fatalf("entry %d follows %d: the feed has a gap", e.Seq, after)
		}
		after = e.Seq
		s := string(e.Kind) + " " + e.ProfileID
		if e.AudienceID != "" {
			s += " " + e.AudienceID
		}
		out = append(out, s)
	}
	return out, after
}

// The feed gets an entry for each profile that enters or leaves an
// audience, through Keep and ApplyMembership, and for each profile whose
// computed values change in Keep's facts, in the transaction of the
// write; a repeated entry, exit or value appends nothing.
func testFeed(t *testing.T, s Store) {
	fs, ok := s.(graph.FeedStore)
	if !ok {
		t.Fatalf("%T keeps no feed", s)
	}
	eng := graph.NewEngine(s, nil)
	ann, _ := keepProfile(t, eng, "a1", 1, "email:ann@example.com")
	bob, _ := keepProfile(t, eng, "b1", 2, "email:bob@example.com")
	putAud(t, s, aud(1), aud(2))
	head, err := fs.FeedHead(bg)
	must(t, err)
	want := func(what string, entries ...string) {
		t.Helper()
		var got []string
		got, head = newFeed(t, fs, head)
		if !slices.Equal(got, entries) {
			t.Fatalf("%s: the feed got\n %q\nwant\n %q", what, got, entries)
		}
	}
	facts := func(id string, orders any) audience.Facts {
		f := audience.Facts{ProfileID: id, Types: []string{"email"}}
		if orders != nil {
			f.Computed = []audience.ComputedFact{{Name: "orders", Version: 1, Value: orders}}
		}
		return f
	}

	mustKeep(t, s, audience.KeepWrite{At: at(10),
		Facts: []audience.Facts{facts(ann, 3.0), facts(bob, nil)},
		Changes: []audience.MembershipChange{
			{AudienceID: aid(1), Enter: []string{ann, bob}},
			{AudienceID: aid(2), Enter: []string{bob}},
		}})
	want("the first round",
		"COMPUTED_CHANGED "+ann,
		"AUDIENCE_ENTERED "+ann+" "+aid(1), "AUDIENCE_ENTERED "+bob+" "+aid(1),
		"AUDIENCE_ENTERED "+bob+" "+aid(2))

	// ann's value is the same, bob gains one; ann enters again (nothing)
	// and bob exits.
	mustKeep(t, s, audience.KeepWrite{At: at(20),
		Facts:   []audience.Facts{facts(ann, 3.0), facts(bob, 1.0)},
		Changes: []audience.MembershipChange{{AudienceID: aid(1), Enter: []string{ann}, Exit: []string{bob}}}})
	want("the second round", "COMPUTED_CHANGED "+bob, "AUDIENCE_EXITED "+bob+" "+aid(1))

	must(t, s.ApplyMembership(bg, aid(2), []string{ann}, []string{bob}, at(30)))
	want("ApplyMembership", "AUDIENCE_ENTERED "+ann+" "+aid(2), "AUDIENCE_EXITED "+bob+" "+aid(2))
	must(t, s.ApplyMembership(bg, aid(2), []string{ann}, []string{bob}, at(31)))
	want("ApplyMembership repeated")

	// ann's value goes; nothing else changes.
	mustKeep(t, s, audience.KeepWrite{At: at(40), Facts: []audience.Facts{facts(ann, nil), facts(bob, 1.0)}})
	want("a value gone", "COMPUTED_CHANGED "+ann)

	// The entries carry the time of the write.
	es, err := fs.Feed(bg, head-1, nil, 1)
	must(t, err)
	if len(es) != 1 || !es[0].At.Equal(at(40)) {
		t.Fatalf("the last entry is %+v, want one at %v", es, at(40).Format(time.RFC3339))
	}
}
