package graph

import (
	"maps"
	"testing"
	"time"
)

// The union step works on what a batch read, with no store: these cases
// give it that state directly and check its outcome against hand-worked
// answers.

var tUnite = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func evKeys(id string, keys ...string) Event {
	return Event{ID: id, Source: "web", Timestamp: tUnite, Keys: keys}
}

// rootsOf returns, per surviving group, its name and its members' count.
func rootsOf(u *united) map[string]int {
	out := map[string]int{}
	for _, g := range u.roots {
		out[g.name()] = g.size
	}
	return out
}

func TestUniteNewIdentifiers(t *testing.T) {
	e := NewEngine(nil, nil)
	st := &batchState{
		keys:   []string{"anonymous_id:a", "anonymous_id:b", "user_id:u"},
		idents: map[string]Identifier{},
	}
	u := e.unite(st, []Event{
		evKeys("e1", "user_id:u", "anonymous_id:a"),
		evKeys("e2", "anonymous_id:b"),
	}, tUnite, nil)
	// u and a unite; the tie (one each, both new, same time) goes to the
	// smaller seed. b stays alone.
	want := map[string]int{"anonymous_id:a": 2, "anonymous_id:b": 1}
	if got := rootsOf(u); !maps.Equal(got, want) {
		t.Fatalf("roots = %v, want %v", got, want)
	}
	if l := u.links[NewLinkKey("user_id:u", "anonymous_id:a")]; l == nil || l.Count != 1 || l.Evidence != "e1" {
		t.Fatalf("link = %+v", l)
	}
}

func TestUniteSkipsManualRefusalEvenWithinOneProfile(t *testing.T) {
	e := NewEngine(nil, nil)
	p := Profile{ID: "p1", Size: 3, Counts: map[string]int{"device_id": 3}, CreatedAt: tUnite}
	st := &batchState{
		keys: []string{"device_id:a", "device_id:b"},
		idents: map[string]Identifier{
			"device_id:a": {Key: "device_id:a", ProfileID: "p1"},
			"device_id:b": {Key: "device_id:b", ProfileID: "p1"},
		},
		profiles: map[string]Profile{"p1": p},
		manual:   map[LinkKey]bool{NewLinkKey("device_id:a", "device_id:b"): true},
	}
	u := e.unite(st, []Event{evKeys("e", "device_id:a", "device_id:b")}, tUnite, nil)
	if len(u.links) != 0 {
		t.Fatalf("links = %v, want none: the pair was unlinked by a person", u.links)
	}
}

func TestUniteRefusesPastMaxIdentifiers(t *testing.T) {
	rules, err := ParseRules([]byte(`{"maxIdentifiers": 4}`))
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(nil, rules)
	st := &batchState{
		keys: []string{"anonymous_id:n1", "anonymous_id:n2", "user_id:u"},
		idents: map[string]Identifier{
			"user_id:u": {Key: "user_id:u", ProfileID: "p1"},
		},
		profiles: map[string]Profile{"p1": {ID: "p1", Size: 3, Counts: map[string]int{"user_id": 1, "anonymous_id": 2}, CreatedAt: tUnite.Add(-time.Hour)}},
	}
	u := e.unite(st, []Event{
		evKeys("e1", "user_id:u", "anonymous_id:n1"), // 3 + 1 = 4: allowed
		evKeys("e2", "user_id:u", "anonymous_id:n2"), // 4 + 1 = 5: refused
	}, tUnite, nil)
	want := map[string]int{"p1": 4, "anonymous_id:n2": 1}
	if got := rootsOf(u); !maps.Equal(got, want) {
		t.Fatalf("roots = %v, want %v", got, want)
	}
	r := u.rejected[NewLinkKey("user_id:u", "anonymous_id:n2")]
	if r == nil || r.Source != SourceRules || r.A != "user_id:u" || r.Evidence != "e2" {
		t.Fatalf("refusal = %+v", r)
	}
}

func TestUniteTraitsNewestWins(t *testing.T) {
	e := NewEngine(nil, nil)
	st := &batchState{keys: []string{"user_id:u"}, idents: map[string]Identifier{}}
	older, newer := evKeys("e1", "user_id:u"), evKeys("e2", "user_id:u")
	older.Traits = map[string]any{"plan": "free", "city": "Oslo"}
	newer.Traits = map[string]any{"plan": "pro"}
	newer.Timestamp = tUnite.Add(time.Minute)
	// The newer event first: order in the batch does not matter, time does.
	u := e.unite(st, []Event{newer, older}, tUnite, nil)
	tm := u.traits["user_id:u"]
	if tm["plan"].Value != "pro" || tm["city"].Value != "Oslo" {
		t.Fatalf("traits = %+v", tm)
	}
	// The write merges with what is stored: a stored newer value stays.
	st.idents["user_id:u"] = Identifier{Key: "user_id:u", Traits: map[string]TraitValue{"plan": {Value: "enterprise", At: tUnite.Add(time.Hour)}}}
	w := e.buildWrite(st, u, nil, nil, nil, tUnite)
	if len(w.Traits) != 1 || w.Traits[0].Traits["plan"].Value != "enterprise" || w.Traits[0].Traits["city"].Value != "Oslo" {
		t.Fatalf("written traits = %+v", w.Traits)
	}
}

func TestAssignPartsGivesIDsBack(t *testing.T) {
	e := NewEngine(nil, nil)
	mk := func(keys ...string) *part { return &part{keys: keys, counts: map[string]int{}} }
	set := func(keys ...string) map[string]bool {
		m := map[string]bool{}
		for _, k := range keys {
			m[MemberDigest(k)] = true
		}
		return m
	}
	// p held a2..a5 of its own; B brought b1. Removing a bridge leaves the
	// part {a2, a3, a4, b1} and the part {a5}: p keeps the part with most of
	// its own members; B shares nothing with {a5}, which gets a new id.
	big, small := mk("device_id:a2", "device_id:a3", "device_id:a4", "device_id:b1"), mk("device_id:a5")
	cands := []candidate{{profile: Profile{ID: "B"}, members: set("device_id:b1")}}
	parts := e.assignParts("P", []*part{small, big}, cands)
	if parts[0] != big || big.id != "P" || small.id != "" {
		t.Fatalf("ids: big=%q small=%q, want big=P and small new", big.id, small.id)
	}
	// B, then A (holding B), merged into C; the part that is exactly B's
	// goes back to B, not to A.
	c, ab := mk("email:c", "device_id:c1"), mk("email:b", "device_id:b1")
	cands = []candidate{
		{profile: Profile{ID: "A"}, members: set("user_id:a", "device_id:a1", "email:b", "device_id:b1")},
		{profile: Profile{ID: "B"}, members: set("email:b", "device_id:b1")},
	}
	parts = e.assignParts("C", []*part{ab, c}, cands)
	if parts[0] != c || c.id != "C" || ab.id != "B" || ab.old == nil || ab.old.ID != "B" {
		t.Fatalf("ids: c=%q ab=%q", c.id, ab.id)
	}
}
