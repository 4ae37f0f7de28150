package audiencetest

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
)

// pagesOf writes a result of MembersOfAudiences or ChangesOfAudiences as
// strings, by audience number (the n of aid(n)), checking that every entry
// names the audience it is listed under.
func pagesOf[V any](t *testing.T, m map[string][]V, audienceOf func(V) string, str func([]V) []string) map[int][]string {
	t.Helper()
	out := make(map[int][]string, len(m))
	for id, list := range m {
		var n int
		if _, err := fmt.Sscanf(id, "seg_%x", &n); err != nil || aid(n) != id {
			t.Fatalf("a page is listed under %q, not an audience of the test", id)
		}
		for _, v := range list {
			if audienceOf(v) != id {
				t.Fatalf("the page of audience %d holds an entry of audience %s", n, audienceOf(v))
			}
		}
		out[n] = str(list)
	}
	return out
}

func memberPages(t *testing.T, m map[string][]audience.Membership) map[int][]string {
	t.Helper()
	return pagesOf(t, m, func(x audience.Membership) string { return x.AudienceID }, memberStrings)
}

func changePages(t *testing.T, m map[string][]audience.Change) map[int][]string {
	t.Helper()
	return pagesOf(t, m, func(x audience.Change) string { return x.AudienceID }, changeStrings)
}

// MembersOfAudiences gives each audience the page Members gives it, in one
// call: an audience with no member on the page, deleted or unknown is
// absent, an id given twice is read once.
func testMembersOfAudiences(t *testing.T, s Store) {
	putAud(t, s, aud(1), aud(2), aud(3), aud(4))
	apply(t, s, aid(1), []string{"b", "e", "a", "d", "c"}, nil, at(1))
	apply(t, s, aid(2), []string{"a", "z"}, nil, at(2))
	apply(t, s, aid(3), []string{"x"}, nil, at(3))
	apply(t, s, aid(2), []string{"m"}, []string{"a"}, at(4))
	ok, err := s.DeleteAudience(bg, aid(3))
	must(t, err)
	if !ok {
		t.Fatal("DeleteAudience of a stored audience reported false")
	}
	ids := []string{aid(1), aid(2), aid(3), aid(4), aid(9), aid(1)}
	for _, c := range []struct {
		p    audience.Page
		want map[int][]string
	}{
		{audience.Page{Limit: 2}, map[int][]string{1: {"a@1", "b@1"}, 2: {"m@4", "z@2"}}},
		{audience.Page{After: "b", Limit: 2}, map[int][]string{1: {"c@1", "d@1"}, 2: {"m@4", "z@2"}}},
		{audience.Page{After: "d", Limit: 2}, map[int][]string{1: {"e@1"}, 2: {"m@4", "z@2"}}},
		{audience.Page{After: "m", Limit: 10}, map[int][]string{2: {"z@2"}}},
		{audience.Page{After: "bb", Limit: 1}, map[int][]string{1: {"c@1"}, 2: {"m@4"}}},
		{audience.Page{After: "z", Limit: 10}, map[int][]string{}},
	} {
		got, err := s.MembersOfAudiences(bg, ids, c.p)
		must(t, err)
		if g := memberPages(t, got); !reflect.DeepEqual(g, c.want) {
			t.Fatalf("MembersOfAudiences(after %q, limit %d) = %v, want %v", c.p.After, c.p.Limit, g, c.want)
		}
		// Each page is the one Members gives.
		for _, id := range ids {
			one, err := s.Members(bg, id, c.p)
			must(t, err)
			if !reflect.DeepEqual(memberStrings(one), memberStrings(got[id])) {
				t.Fatalf("after %q: audience %s: batched %v, Members %v", c.p.After, id, memberStrings(got[id]), memberStrings(one))
			}
		}
	}
	got, err := s.MembersOfAudiences(bg, nil, audience.Page{Limit: 10})
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("MembersOfAudiences(nil) = %v", memberPages(t, got))
	}
	for _, limit := range []int{0, -1, audience.MaxPage + 1} {
		_, err := s.MembersOfAudiences(bg, []string{aid(1)}, audience.Page{Limit: limit})
		wantCode(t, err, graph.EINVALID, fmt.Sprintf("MembersOfAudiences(Limit %d)", limit))
	}
}

// ChangesOfAudiences gives each audience the page of its log Changes gives
// it, newest first, in one call; absent as MembersOfAudiences.
func testChangesOfAudiences(t *testing.T, s Store) {
	putAud(t, s, aud(1), aud(2), aud(3), aud(4))
	apply(t, s, aid(1), []string{"a", "b"}, nil, at(10))
	apply(t, s, aid(2), []string{"x"}, nil, at(15))
	apply(t, s, aid(3), []string{"q"}, nil, at(16))
	apply(t, s, aid(1), []string{"c"}, []string{"a"}, at(20))
	apply(t, s, aid(2), nil, []string{"x"}, at(25))
	apply(t, s, aid(1), []string{"a"}, nil, moonLanding)
	ok, err := s.DeleteAudience(bg, aid(3))
	must(t, err)
	if !ok {
		t.Fatal("DeleteAudience of a stored audience reported false")
	}
	log1 := []string{"EXITED a@20", "ENTERED c@20", "ENTERED b@10", "ENTERED a@10", "ENTERED a@" + ago(moonLanding)}
	log2 := []string{"EXITED x@25", "ENTERED x@15"}
	_, cs1 := changes(t, s, aid(1))
	ids := []string{aid(4), aid(3), aid(2), aid(9), aid(1), aid(2)}
	for _, c := range []struct {
		what string
		p    audience.ChangePage
		want map[int][]string
	}{
		{"the newest", audience.ChangePage{Limit: 2}, map[int][]string{1: log1[:2], 2: log2}},
		{"after c@20", audience.ChangePage{AfterAt: cs1[1].At, AfterSeq: cs1[1].Seq, After: true, Limit: 2},
			map[int][]string{1: log1[2:4], 2: log2[1:]}},
		{"after a@10", audience.ChangePage{AfterAt: cs1[3].At, AfterSeq: cs1[3].Seq, After: true, Limit: 2},
			map[int][]string{1: log1[4:]}},
		{"after 15 minutes", audience.ChangePage{AfterAt: at(15), After: true, Limit: 10}, map[int][]string{1: log1[2:]}},
		{"after 20 minutes and a high seq", audience.ChangePage{AfterAt: at(20), AfterSeq: cs1[0].Seq + 100, After: true, Limit: 10},
			map[int][]string{1: log1, 2: log2[1:]}},
		{"AfterAt without After", audience.ChangePage{AfterAt: at(15), Limit: 1}, map[int][]string{1: log1[:1], 2: log2[:1]}},
		{"after everything", audience.ChangePage{AfterAt: moonLanding, After: true, Limit: 10}, map[int][]string{}},
	} {
		got, err := s.ChangesOfAudiences(bg, ids, c.p)
		must(t, err)
		if g := changePages(t, got); !reflect.DeepEqual(g, c.want) {
			t.Fatalf("%s: ChangesOfAudiences = %v, want %v", c.what, g, c.want)
		}
		for _, id := range ids {
			one, err := s.Changes(bg, id, c.p)
			must(t, err)
			if !reflect.DeepEqual(one, got[id]) && (len(one) > 0 || len(got[id]) > 0) {
				t.Fatalf("%s: audience %s: batched %+v, Changes %+v", c.what, id, got[id], one)
			}
		}
	}
	got, err := s.ChangesOfAudiences(bg, nil, audience.ChangePage{Limit: 10})
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("ChangesOfAudiences(nil) = %v", changePages(t, got))
	}
	for _, limit := range []int{0, -1, audience.MaxPage + 1} {
		_, err := s.ChangesOfAudiences(bg, []string{aid(1)}, audience.ChangePage{Limit: limit})
		wantCode(t, err, graph.EINVALID, fmt.Sprintf("ChangesOfAudiences(Limit %d)", limit))
	}
}
