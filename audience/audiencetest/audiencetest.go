// Package audiencetest is the conformance suite of audience.Store: every
// store runs it (graph/embedded and graph/neo4jstore, through
// internal/storetest) against a real database. Expectations are written out
// by hand from what the test puts, never read back from what a store wrote.
//
// Beyond the doc comments of audience.Store, the suite holds both stores
// to these choices, which the stores share:
//   - A Filter reads back as audience.DecodeFilter gives it: numbers as
//     json.Number, so a filter put with json.Number values reads back
//     reflect.DeepEqual, and one put with an int reads back with the
//     json.Number of its text.
//   - A computed value's numbers read back as int64 when put as an integer
//     and as float64 when put as a float64, even an integral one
//     (audience.EncodeValue).
//   - Reads of an audience that is not stored (Members, Changes) give an
//     empty page, not ENOTFOUND; only ApplyMembership needs the audience.
//   - ApplyMembership sets RefreshedAt on every call, even one that changes
//     nothing; it logs the entries in the order of enter, then the exits in
//     the order of exit, with increasing Seq; a profile in both lists is
//     EINVALID.
//   - ExpiringValues breaks ties of Expires by name, then profile id.
//   - ChangesOf reads no entry of a deleted audience, even on a store that
//     deletes an audience's log in several transactions.
package audiencetest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

var (
	must     = storetest.Must
	wantCode = storetest.WantCode
)

// Store is what a store under test must be.
type Store interface {
	graph.Store
	audience.Store
}

// Run runs the suite; open returns a fresh, empty store for one test.
func Run(t *testing.T, open func(t *testing.T) graph.Store) {
	get := storetest.As[Store](open)
	t.Run("PutAudience", func(t *testing.T) { testPutAudience(t, get(t)) })
	t.Run("ReplaceAudience", func(t *testing.T) { testReplaceAudience(t, get(t)) })
	t.Run("ReplaceAudienceSameMicrosecond", func(t *testing.T) { testReplaceAudienceSameMicrosecond(t, get(t)) })
	t.Run("AudienceInput", func(t *testing.T) { testAudienceInput(t, get(t)) })
	t.Run("StaticAudience", func(t *testing.T) { testStaticAudience(t, get(t)) })
	t.Run("FilterRoundTrip", func(t *testing.T) { testFilterRoundTrip(t, get(t)) })
	t.Run("MaxAudiences", func(t *testing.T) { testMaxAudiences(t, get(t)) })
	t.Run("DeleteAudience", func(t *testing.T) { testDeleteAudience(t, get(t)) })
	t.Run("AudiencePage", func(t *testing.T) { testAudiencePage(t, get(t)) })
	t.Run("ApplyMembership", func(t *testing.T) { testApplyMembership(t, get(t)) })
	t.Run("ConcurrentMembership", func(t *testing.T) { testConcurrentMembership(t, get(t)) })
	t.Run("Members", func(t *testing.T) { testMembers(t, get(t)) })
	t.Run("Changes", func(t *testing.T) { testChanges(t, get(t)) })
	t.Run("MembersOfAudiences", func(t *testing.T) { testMembersOfAudiences(t, get(t)) })
	t.Run("ChangesOfAudiences", func(t *testing.T) { testChangesOfAudiences(t, get(t)) })
	t.Run("MembershipsOf", func(t *testing.T) { testMembershipsOf(t, get(t)) })
	t.Run("ChangesOf", func(t *testing.T) { testChangesOf(t, get(t)) })
	t.Run("ComputedTraits", func(t *testing.T) { testComputedTraits(t, get(t)) })
	t.Run("MaxComputedTraits", func(t *testing.T) { testMaxComputedTraits(t, get(t)) })
	t.Run("ComputedValues", func(t *testing.T) { testComputedValues(t, get(t)) })
	t.Run("ExpiringValues", func(t *testing.T) { testExpiringValues(t, get(t)) })
	t.Run("DeleteComputedTrait", func(t *testing.T) { testDeleteComputedTrait(t, get(t)) })
	t.Run("References", func(t *testing.T) { testReferences(t, get(t)) })
	t.Run("ReferenceRaces", func(t *testing.T) { testReferenceRaces(t, get(t)) })
	t.Run("ReferenceRedefineRaces", func(t *testing.T) { testReferenceRedefineRaces(t, get(t)) })
	t.Run("CycleRaces", func(t *testing.T) { testCycleRaces(t, get(t)) })
	t.Run("Facts", func(t *testing.T) { testFacts(t, get(t)) })
	t.Run("Keep", func(t *testing.T) { testKeep(t, get(t)) })
	t.Run("KeepLater", func(t *testing.T) { testKeepLater(t, get(t)) })
	t.Run("KeepDefinitions", func(t *testing.T) { testKeepDefinitions(t, get(t)) })
	t.Run("Feed", func(t *testing.T) { testFeed(t, get(t)) })
}

var bg = context.Background()

// t0 is the suite's own time.
var t0 = time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)

func at(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

// moonLanding is before 1970, where the order must still hold.
var moonLanding = time.Date(1969, 7, 20, 20, 17, 40, 0, time.UTC)

// aid returns a well-formed audience id ending in n.
func aid(n int) string { return fmt.Sprintf("seg_%032x", n) }

func num(s string) json.Number { return json.Number(s) }

// simple is a small valid filter.
func simple(v string) audience.Filter {
	return audience.Filter{Trait: &audience.TraitCondition{Name: "plan", Op: audience.OpEQ, Value: v}}
}

// aud returns a valid audience n with every field a caller sets.
func aud(n int) audience.Audience {
	return audience.Audience{
		ID: aid(n), Name: fmt.Sprintf("audience %d", n), Description: "desc",
		Filter: simple("pro"), Purpose: "marketing", CreatedAt: at(0), UpdatedAt: at(1),
	}
}

func putAud(t *testing.T, s Store, as ...audience.Audience) {
	t.Helper()
	for _, a := range as {
		must(t, s.PutAudience(bg, a))
	}
}

func getAud(t *testing.T, s Store, id string) (audience.Audience, bool) {
	t.Helper()
	m, err := s.Audiences(bg, []string{id})
	must(t, err)
	a, ok := m[id]
	return a, ok
}

func apply(t *testing.T, s Store, id string, enter, exit []string, when time.Time) {
	t.Helper()
	must(t, s.ApplyMembership(bg, id, enter, exit, when))
}

// sameTime reports whether got is want, in UTC.
func sameTime(got, want time.Time) bool {
	if want.IsZero() {
		return got.IsZero()
	}
	return got.Equal(want) && got.Location() == time.UTC
}

// checkAudience fails unless got is want field for field, times in UTC.
func checkAudience(t *testing.T, what string, got, want audience.Audience) {
	t.Helper()
	if !sameTime(got.CreatedAt, want.CreatedAt) || !sameTime(got.UpdatedAt, want.UpdatedAt) || !sameTime(got.RefreshedAt, want.RefreshedAt) {
		t.Fatalf("%s: times created %v updated %v refreshed %v, want %v %v %v", what,
			got.CreatedAt, got.UpdatedAt, got.RefreshedAt, want.CreatedAt, want.UpdatedAt, want.RefreshedAt)
	}
	got.CreatedAt, got.UpdatedAt, got.RefreshedAt = time.Time{}, time.Time{}, time.Time{}
	want.CreatedAt, want.UpdatedAt, want.RefreshedAt = time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %#v\nwant %#v", what, got, want)
	}
}

// A new audience reads back as put, times cleaned to microseconds in UTC,
// with Size 0 and no RefreshedAt; a replace takes the new definition and
// keeps CreatedAt, Size, RefreshedAt and members.
func testPutAudience(t *testing.T, s Store) {
	paris := time.FixedZone("CEST", 2*3600)
	a := audience.Audience{
		ID: aid(1), Name: "High value — é", Description: "line one\n\tline two",
		Filter: simple("pro"), Purpose: "email_marketing",
		CreatedAt: time.Date(2026, 6, 1, 12, 0, 0, 123456789, paris),
		UpdatedAt: time.Date(2026, 6, 1, 12, 5, 0, 999, paris),
		// A caller's Size and RefreshedAt are not the store's.
		Size: 77, RefreshedAt: at(500),
	}
	putAud(t, s, a)
	want := a
	want.CreatedAt = time.Date(2026, 6, 1, 10, 0, 0, 123456000, time.UTC)
	want.UpdatedAt = time.Date(2026, 6, 1, 10, 5, 0, 0, time.UTC)
	want.Size, want.RefreshedAt = 0, time.Time{}
	got, ok := getAud(t, s, a.ID)
	if !ok {
		t.Fatal("a put audience is not found")
	}
	checkAudience(t, "created", got, want)

	apply(t, s, a.ID, []string{"p1", "p2"}, nil, at(30))

	// Replace: a new definition, another CreatedAt (ignored) and an empty
	// description and purpose.
	b := audience.Audience{
		ID: a.ID, Name: "Renamed", Filter: simple("free"),
		CreatedAt: at(100), UpdatedAt: at(60),
	}
	putAud(t, s, b)
	want2 := audience.Audience{
		ID: a.ID, Name: "Renamed", Filter: simple("free"),
		CreatedAt: want.CreatedAt, UpdatedAt: at(60), Size: 2, RefreshedAt: at(30),
	}
	got, _ = getAud(t, s, a.ID)
	checkAudience(t, "replaced", got, want2)
	ms, err := s.Members(bg, a.ID, audience.Page{Limit: 10})
	must(t, err)
	if len(ms) != 2 || ms[0].ProfileID != "p1" || ms[1].ProfileID != "p2" {
		t.Fatalf("members after a replace: %+v, want p1 and p2", ms)
	}
}

// Every rule of Audience.Validate is refused with EINVALID by the store,
// and nothing is stored.
func testAudienceInput(t *testing.T, s Store) {
	mod := func(f func(a *audience.Audience)) audience.Audience {
		a := aud(1)
		f(&a)
		return a
	}
	cases := []struct {
		name string
		a    audience.Audience
	}{
		{"empty id", mod(func(a *audience.Audience) { a.ID = "" })},
		{"audit id", mod(func(a *audience.Audience) { a.ID = "aud_" + strings.Repeat("0", 32) })},
		{"upper hex id", mod(func(a *audience.Audience) { a.ID = "seg_" + strings.Repeat("A", 32) })},
		{"short id", mod(func(a *audience.Audience) { a.ID = "seg_" + strings.Repeat("0", 31) })},
		{"empty name", mod(func(a *audience.Audience) { a.Name = "" })},
		{"long name", mod(func(a *audience.Audience) { a.Name = strings.Repeat("n", audience.MaxAudienceNameLen+1) })},
		{"name with newline", mod(func(a *audience.Audience) { a.Name = "two\nlines" })},
		{"name with NUL", mod(func(a *audience.Audience) { a.Name = "a\x00b" })},
		{"name not UTF-8", mod(func(a *audience.Audience) { a.Name = "a\xffb" })},
		{"long description", mod(func(a *audience.Audience) { a.Description = strings.Repeat("d", audience.MaxDescriptionLen+1) })},
		{"description with bell", mod(func(a *audience.Audience) { a.Description = "ding\a" })},
		{"purpose upper case", mod(func(a *audience.Audience) { a.Purpose = "Marketing" })},
		{"purpose with dash", mod(func(a *audience.Audience) { a.Purpose = "e-mail" })},
		{"purpose too long", mod(func(a *audience.Audience) { a.Purpose = strings.Repeat("p", 65) })},
		{"filter value not JSON", mod(func(a *audience.Audience) {
			a.Filter = audience.Filter{Trait: &audience.TraitCondition{Name: "x", Op: audience.OpEQ, Value: make(chan int)}}
		})},
	}
	for _, c := range cases {
		wantCode(t, s.PutAudience(bg, c.a), graph.EINVALID, c.name)
	}
	// The limits themselves are fine.
	edge := mod(func(a *audience.Audience) {
		a.Name = strings.Repeat("n", audience.MaxAudienceNameLen)
		a.Description = strings.Repeat("d", audience.MaxDescriptionLen)
		a.Purpose = strings.Repeat("p", 64)
	})
	putAud(t, s, edge)
	page, err := s.AudiencePage(bg, audience.Page{Limit: 10})
	must(t, err)
	if len(page) != 1 || page[0].ID != edge.ID {
		t.Fatalf("after refused puts and one at the limits: %d audiences stored, want 1", len(page))
	}
	// A bad id in a delete or an apply is EINVALID too.
	_, err = s.DeleteAudience(bg, "seg_nope")
	wantCode(t, err, graph.EINVALID, "DeleteAudience(bad id)")
	wantCode(t, s.ApplyMembership(bg, "seg_nope", []string{"p"}, nil, at(0)), graph.EINVALID, "ApplyMembership(bad id)")
	wantCode(t, s.ApplyMembership(bg, aid(1), []string{""}, nil, at(0)), graph.EINVALID, "ApplyMembership(empty profile id)")
	wantCode(t, s.ApplyMembership(bg, aid(1), []string{"p"}, []string{"p"}, at(0)), graph.EINVALID, "ApplyMembership(enter and exit)")
}

// The filter is kept exactly: nested and, or and not, numbers (as
// json.Number), lists, strings, booleans and pointers.
func testFilterRoundTrip(t *testing.T, s Store) {
	no, seg := false, aid(99)
	f := audience.Filter{And: []audience.Filter{
		{Trait: &audience.TraitCondition{Name: "age", Op: audience.OpGTE, Value: num("30")}},
		{Or: []audience.Filter{
			{Trait: &audience.TraitCondition{Name: "plan", Op: audience.OpIN, Value: []any{"pro", "team", num("3"), true}}},
			{Computed: &audience.ComputedCondition{Name: "ltv", Op: audience.OpGT, Value: num("1234.5")}},
			{Not: &audience.Filter{Identifier: &audience.IdentifierCondition{Type: "phone", Exists: &no}}},
		}},
		{Event: &audience.EventCondition{Name: "Order Completed", Type: "track", Within: "P30D",
			Where: []audience.PropertyFilter{
				{Path: "total", Op: audience.OpLT, Value: num("-1e3")},
				{Path: "coupon", Op: audience.OpExists},
			},
			Count: &audience.CountCondition{Op: audience.OpGTE, Value: 2}}},
		{Consent: &audience.ConsentCondition{Purpose: "marketing", Status: "GRANTED"}},
		{Not: &audience.Filter{InAudience: &seg}},
		{Trait: &audience.TraitCondition{Name: "city", Op: audience.OpStartsWith, Value: "Zürich \"quoted\" <tag>"}},
	}}
	// What the filter names is stored (References).
	must(t, s.PutComputedTrait(bg, ct("ltv", "")))
	putAud(t, s, aud(99))
	a := aud(1)
	a.Filter = f
	putAud(t, s, a)
	got, _ := getAud(t, s, a.ID)
	if !reflect.DeepEqual(got.Filter, f) {
		gj, _ := json.Marshal(got.Filter)
		t.Fatalf("filter read back as %s (%#v)", gj, got.Filter)
	}
	// An int or a float64 reads back as the json.Number of its text.
	b := aud(2)
	b.Filter = audience.Filter{Or: []audience.Filter{
		{Trait: &audience.TraitCondition{Name: "age", Op: audience.OpEQ, Value: 30}},
		{Trait: &audience.TraitCondition{Name: "score", Op: audience.OpLT, Value: 2.5}},
	}}
	putAud(t, s, b)
	got, _ = getAud(t, s, b.ID)
	want := audience.Filter{Or: []audience.Filter{
		{Trait: &audience.TraitCondition{Name: "age", Op: audience.OpEQ, Value: num("30")}},
		{Trait: &audience.TraitCondition{Name: "score", Op: audience.OpLT, Value: num("2.5")}},
	}}
	if !reflect.DeepEqual(got.Filter, want) {
		t.Fatalf("filter with Go numbers read back as %#v, want %#v", got.Filter, want)
	}
}

// The store takes MaxAudiences audiences and refuses one more with
// ECONFLICT; replacing a stored one is still fine, and after a delete a
// new one fits again. The limit is a constant, so the test fills it.
func testMaxAudiences(t *testing.T, s Store) {
	for i := range audience.MaxAudiences {
		a := aud(i + 1)
		must(t, s.PutAudience(bg, a))
	}
	err := s.PutAudience(bg, aud(audience.MaxAudiences+1))
	wantCode(t, err, graph.ECONFLICT, "PutAudience beyond MaxAudiences")
	r := aud(5)
	r.Name = "replaced at the limit"
	must(t, s.PutAudience(bg, r))
	got, _ := getAud(t, s, aid(5))
	if got.Name != r.Name {
		t.Fatalf("a replace at the limit was not stored: name %q", got.Name)
	}
	if _, ok := getAud(t, s, aid(audience.MaxAudiences+1)); ok {
		t.Fatal("the refused audience is stored")
	}
	ok, err := s.DeleteAudience(bg, aid(7))
	must(t, err)
	if !ok {
		t.Fatal("DeleteAudience of a stored audience reported false")
	}
	must(t, s.PutAudience(bg, aud(audience.MaxAudiences+1)))
}

// DeleteAudience removes the audience, its members (both ways) and its
// log, and leaves every other audience whole; a second delete reports
// false, and an audience put again under the id starts empty.
func testDeleteAudience(t *testing.T, s Store) {
	putAud(t, s, aud(1), aud(2))
	apply(t, s, aid(1), []string{"p1", "p2"}, nil, at(10))
	apply(t, s, aid(1), nil, []string{"p2"}, at(11))
	apply(t, s, aid(2), []string{"p1"}, nil, at(12))

	ok, err := s.DeleteAudience(bg, aid(1))
	must(t, err)
	if !ok {
		t.Fatal("DeleteAudience of a stored audience reported false")
	}
	ok, err = s.DeleteAudience(bg, aid(1))
	must(t, err)
	if ok {
		t.Fatal("a second DeleteAudience reported true")
	}
	if _, found := getAud(t, s, aid(1)); found {
		t.Fatal("a deleted audience is found")
	}
	ms, err := s.Members(bg, aid(1), audience.Page{Limit: 10})
	must(t, err)
	cs, err := s.Changes(bg, aid(1), audience.ChangePage{Limit: 10})
	must(t, err)
	if len(ms) != 0 || len(cs) != 0 {
		t.Fatalf("a deleted audience keeps members %+v and log %+v", ms, cs)
	}
	of, err := s.MembershipsOf(bg, []string{"p1", "p2"})
	must(t, err)
	want := map[string][]audience.Membership{"p1": {{AudienceID: aid(2), ProfileID: "p1", Since: at(12)}}}
	checkMemberships(t, "after delete", of, want)
	// The other audience is whole.
	b, _ := getAud(t, s, aid(2))
	if b.Size != 1 || !sameTime(b.RefreshedAt, at(12)) {
		t.Fatalf("the other audience: size %d refreshed %v, want 1 and %v", b.Size, b.RefreshedAt, at(12))
	}
	cs, err = s.Changes(bg, aid(2), audience.ChangePage{Limit: 10})
	must(t, err)
	if len(cs) != 1 || cs[0].ProfileID != "p1" || cs[0].Kind != audience.Entered {
		t.Fatalf("the other audience's log: %+v", cs)
	}
	// Put again: it starts with no member, no log and Size 0.
	putAud(t, s, aud(1))
	a, _ := getAud(t, s, aid(1))
	if a.Size != 0 || !a.RefreshedAt.IsZero() {
		t.Fatalf("an audience put again after a delete has size %d, refreshed %v", a.Size, a.RefreshedAt)
	}
	cs, err = s.Changes(bg, aid(1), audience.ChangePage{Limit: 10})
	must(t, err)
	if len(cs) != 0 {
		t.Fatalf("an audience put again after a delete has the old log %+v", cs)
	}
}

// Audiences returns the stored ones among ids; AudiencePage walks them by
// id, and refuses limits outside 1..MaxPage.
func testAudiencePage(t *testing.T, s Store) {
	for _, n := range []int{5, 1, 4, 2, 3} {
		putAud(t, s, aud(n))
	}
	m, err := s.Audiences(bg, []string{aid(2), aid(9), aid(4), aid(2), "not an id"})
	must(t, err)
	if len(m) != 2 || m[aid(2)].Name != "audience 2" || m[aid(4)].Name != "audience 4" {
		t.Fatalf("Audiences = %v, want 2 and 4", keys(m))
	}
	m, err = s.Audiences(bg, nil)
	must(t, err)
	if len(m) != 0 {
		t.Fatalf("Audiences(nil) = %v", keys(m))
	}
	wantPages := [][]int{{1, 2}, {3, 4}, {5}, {}}
	after := ""
	for i, want := range wantPages {
		got, err := s.AudiencePage(bg, audience.Page{After: after, Limit: 2})
		must(t, err)
		if !slices.Equal(audNums(got), want) {
			t.Fatalf("page %d after %q = %v, want %v", i, after, audNums(got), want)
		}
		if len(got) > 0 {
			after = got[len(got)-1].ID
		}
	}
	// After an id that is not stored, and after everything.
	got, err := s.AudiencePage(bg, audience.Page{After: aid(2) + "x", Limit: audience.MaxPage})
	must(t, err)
	if !slices.Equal(audNums(got), []int{3, 4, 5}) {
		t.Fatalf("after a missing id: %v, want [3 4 5]", audNums(got))
	}
	got, err = s.AudiencePage(bg, audience.Page{After: "seg_z", Limit: 5})
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("after every id: %v", audNums(got))
	}
	full := aud(3)
	got, err = s.AudiencePage(bg, audience.Page{After: aid(2), Limit: 1})
	must(t, err)
	if len(got) != 1 {
		t.Fatalf("one after 2: %v", audNums(got))
	}
	full.CreatedAt, full.UpdatedAt = at(0), at(1)
	checkAudience(t, "paged audience", got[0], full)
	for _, limit := range []int{0, -1, audience.MaxPage + 1} {
		_, err := s.AudiencePage(bg, audience.Page{Limit: limit})
		wantCode(t, err, graph.EINVALID, fmt.Sprintf("AudiencePage(Limit %d)", limit))
		_, err = s.Members(bg, aid(1), audience.Page{Limit: limit})
		wantCode(t, err, graph.EINVALID, fmt.Sprintf("Members(Limit %d)", limit))
		_, err = s.Changes(bg, aid(1), audience.ChangePage{Limit: limit})
		wantCode(t, err, graph.EINVALID, fmt.Sprintf("Changes(Limit %d)", limit))
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func audNums(as []audience.Audience) []int {
	out := make([]int, len(as))
	for i, a := range as {
		if _, err := fmt.Sscanf(a.ID, "seg_%x", &out[i]); err != nil {
			out[i] = -1
		}
	}
	return out
}

// ago writes t as whole minutes after t0, or as the duration after t0
// when it is not whole minutes.
func ago(t time.Time) string {
	d := t.Sub(t0)
	if d%time.Minute == 0 {
		return fmt.Sprint(int64(d / time.Minute))
	}
	return d.String()
}

// members returns the audience's members as "profile@minutes after t0".
func members(t *testing.T, s Store, id string) []string {
	t.Helper()
	ms, err := s.Members(bg, id, audience.Page{Limit: audience.MaxPage})
	must(t, err)
	return memberStrings(ms)
}

func memberStrings(ms []audience.Membership) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ProfileID + "@" + ago(m.Since)
		if m.Since.Location() != time.UTC {
			out[i] += " not UTC"
		}
	}
	return out
}

// changes returns the audience's whole log, newest first, as
// "kind profile@minutes".
func changes(t *testing.T, s Store, id string) ([]string, []audience.Change) {
	t.Helper()
	cs, err := s.Changes(bg, id, audience.ChangePage{Limit: audience.MaxPage})
	must(t, err)
	return changeStrings(cs), cs
}

func changeStrings(cs []audience.Change) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Kind + " " + c.ProfileID + "@" + ago(c.At)
		if c.At.Location() != time.UTC {
			out[i] += " not UTC"
		}
	}
	return out
}

// ApplyMembership enters and exits, keeps Size and RefreshedAt, logs one
// change per real change with increasing Seq, and logs nothing for a
// repeat.
func testApplyMembership(t *testing.T, s Store) {
	wantCode(t, s.ApplyMembership(bg, aid(1), []string{"p1"}, nil, at(0)), graph.ENOTFOUND, "ApplyMembership of an unknown audience")
	putAud(t, s, aud(1))
	// Empty lists are fine and only refresh.
	apply(t, s, aid(1), nil, nil, at(1))
	a, _ := getAud(t, s, aid(1))
	if a.Size != 0 || !sameTime(a.RefreshedAt, at(1)) {
		t.Fatalf("after an empty apply: size %d refreshed %v", a.Size, a.RefreshedAt)
	}
	apply(t, s, aid(1), []string{"p3", "p1", "p2"}, nil, at(10).Add(1500*time.Nanosecond))
	apply(t, s, aid(1), []string{"p1", "p4"}, []string{"p2", "p9"}, at(20))
	// A repeat of the same call changes nothing but RefreshedAt, nor does
	// a profile named twice.
	apply(t, s, aid(1), []string{"p1", "p4", "p4"}, []string{"p2", "p9", "p2"}, at(25))
	apply(t, s, aid(1), []string{"p2"}, []string{"p3"}, at(30))

	if got, want := members(t, s, aid(1)), []string{"p1@10m0.000001s", "p2@30", "p4@20"}; !slices.Equal(got, want) {
		t.Fatalf("members = %v, want %v", got, want)
	}
	a, _ = getAud(t, s, aid(1))
	if a.Size != 3 || !sameTime(a.RefreshedAt, at(30)) {
		t.Fatalf("size %d refreshed %v, want 3 and %v", a.Size, a.RefreshedAt, at(30))
	}
	got, cs := changes(t, s, aid(1))
	want := []string{
		"EXITED p3@30", "ENTERED p2@30",
		"EXITED p2@20", "ENTERED p4@20",
		"ENTERED p2@10m0.000001s", "ENTERED p1@10m0.000001s", "ENTERED p3@10m0.000001s",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("log = %v, want %v", got, want)
	}
	for i := 1; i < len(cs); i++ {
		if cs[i].Seq >= cs[i-1].Seq {
			t.Fatalf("log seqs are not decreasing newest first: %d then %d", cs[i-1].Seq, cs[i].Seq)
		}
	}
	for _, c := range cs {
		if c.AudienceID != aid(1) {
			t.Fatalf("a change names audience %s", c.AudienceID)
		}
	}
	// A later call with an earlier time still goes into the log by time.
	apply(t, s, aid(1), nil, []string{"p4"}, at(5))
	got, _ = changes(t, s, aid(1))
	if got[len(got)-1] != "EXITED p4@5" || len(got) != 8 {
		t.Fatalf("log after an earlier change = %v, want EXITED p4@5 last of 8", got)
	}
	a, _ = getAud(t, s, aid(1))
	if a.Size != 2 || !sameTime(a.RefreshedAt, at(5)) {
		t.Fatalf("size %d refreshed %v, want 2 and %v", a.Size, a.RefreshedAt, at(5))
	}
}

// Calls on one audience made at once give the result of making them one
// after the other: each profile enters once, the log has one change per
// real change, and no two changes share a Seq.
func testConcurrentMembership(t *testing.T, s Store) {
	putAud(t, s, aud(1))
	run := func(enter, exit []string, when time.Time) {
		t.Helper()
		errs := make(chan error, 6)
		for range 6 {
			go func() { errs <- s.ApplyMembership(bg, aid(1), enter, exit, when) }()
		}
		for range 6 {
			must(t, <-errs)
		}
	}
	run([]string{"a", "b", "c", "d"}, nil, at(1))
	run(nil, []string{"b", "d"}, at(2))
	if got, want := members(t, s, aid(1)), []string{"a@1", "c@1"}; !slices.Equal(got, want) {
		t.Fatalf("members = %v, want %v", got, want)
	}
	a, _ := getAud(t, s, aid(1))
	if a.Size != 2 {
		t.Fatalf("size %d, want 2", a.Size)
	}
	got, cs := changes(t, s, aid(1))
	want := []string{"EXITED d@2", "EXITED b@2", "ENTERED d@1", "ENTERED c@1", "ENTERED b@1", "ENTERED a@1"}
	if !slices.Equal(got, want) {
		t.Fatalf("log = %v, want %v", got, want)
	}
	seen := map[uint64]bool{}
	for _, c := range cs {
		if seen[c.Seq] {
			t.Fatalf("two changes have seq %d", c.Seq)
		}
		seen[c.Seq] = true
	}
}

// Members pages by profile id.
func testMembers(t *testing.T, s Store) {
	putAud(t, s, aud(1), aud(2))
	apply(t, s, aid(1), []string{"b", "e", "a", "d", "c"}, nil, at(1))
	apply(t, s, aid(2), []string{"a", "z"}, nil, at(2))
	wantPages := [][]string{{"a@1", "b@1"}, {"c@1", "d@1"}, {"e@1"}, {}}
	after := ""
	for i, want := range wantPages {
		ms, err := s.Members(bg, aid(1), audience.Page{After: after, Limit: 2})
		must(t, err)
		if got := memberStrings(ms); !slices.Equal(got, want) {
			t.Fatalf("page %d = %v, want %v", i, got, want)
		}
		for _, m := range ms {
			if m.AudienceID != aid(1) {
				t.Fatalf("a member names audience %s", m.AudienceID)
			}
		}
		if len(ms) > 0 {
			after = ms[len(ms)-1].ProfileID
		}
	}
	ms, err := s.Members(bg, aid(1), audience.Page{After: "bb", Limit: 10})
	must(t, err)
	if got := memberStrings(ms); !slices.Equal(got, []string{"c@1", "d@1", "e@1"}) {
		t.Fatalf("after a missing id: %v", got)
	}
	ms, err = s.Members(bg, aid(3), audience.Page{Limit: 10})
	must(t, err)
	if len(ms) != 0 {
		t.Fatalf("members of an unknown audience: %v", memberStrings(ms))
	}
}

// Changes pages newest first with a cursor of time and seq.
func testChanges(t *testing.T, s Store) {
	putAud(t, s, aud(1), aud(2))
	apply(t, s, aid(1), []string{"a", "b"}, nil, at(10))
	apply(t, s, aid(2), []string{"x"}, nil, at(15))
	apply(t, s, aid(1), []string{"c"}, []string{"a"}, at(20))
	apply(t, s, aid(1), []string{"a"}, nil, moonLanding)
	want := []string{"EXITED a@20", "ENTERED c@20", "ENTERED b@10", "ENTERED a@10", "ENTERED a@" + ago(moonLanding)}
	all, cs := changes(t, s, aid(1))
	if !slices.Equal(all, want) {
		t.Fatalf("log = %v, want %v", all, want)
	}
	var pages [][]string
	p := audience.ChangePage{Limit: 2}
	for range 4 {
		got, err := s.Changes(bg, aid(1), p)
		must(t, err)
		pages = append(pages, changeStrings(got))
		if len(got) > 0 {
			last := got[len(got)-1]
			p = audience.ChangePage{AfterAt: last.At, AfterSeq: last.Seq, After: true, Limit: 2}
		}
	}
	wantPages := [][]string{want[0:2], want[2:4], want[4:5], {}}
	if !reflect.DeepEqual(pages, wantPages) {
		t.Fatalf("pages = %v, want %v", pages, wantPages)
	}
	// A cursor at a time no change has: everything older.
	got, err := s.Changes(bg, aid(1), audience.ChangePage{AfterAt: at(15), After: true, Limit: 10})
	must(t, err)
	if !slices.Equal(changeStrings(got), want[2:]) {
		t.Fatalf("after 15 minutes: %v, want %v", changeStrings(got), want[2:])
	}
	// A cursor at the newest time with a seq above every seq: the tied
	// changes follow.
	got, err = s.Changes(bg, aid(1), audience.ChangePage{AfterAt: at(20), AfterSeq: cs[0].Seq + 1, After: true, Limit: 10})
	must(t, err)
	if !slices.Equal(changeStrings(got), want) {
		t.Fatalf("after 20 minutes and a high seq: %v, want %v", changeStrings(got), want)
	}
	// AfterAt without After is ignored.
	got, err = s.Changes(bg, aid(1), audience.ChangePage{AfterAt: at(15), Limit: 1})
	must(t, err)
	if !slices.Equal(changeStrings(got), want[:1]) {
		t.Fatalf("AfterAt without After: %v, want %v", changeStrings(got), want[:1])
	}
	got, err = s.Changes(bg, aid(3), audience.ChangePage{Limit: 10})
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("log of an unknown audience: %v", changeStrings(got))
	}
}

func checkMemberships(t *testing.T, what string, got, want map[string][]audience.Membership) {
	t.Helper()
	str := func(m map[string][]audience.Membership) string {
		var b strings.Builder
		for _, k := range keys(m) {
			fmt.Fprintf(&b, "%s:", k)
			for _, x := range m[k] {
				fmt.Fprintf(&b, " %s/%s@%s", x.AudienceID, x.ProfileID, ago(x.Since))
				if x.Since.Location() != time.UTC {
					b.WriteString(" not UTC")
				}
			}
			b.WriteString("; ")
		}
		return b.String()
	}
	if str(got) != str(want) {
		t.Fatalf("%s: MembershipsOf = %s, want %s", what, str(got), str(want))
	}
}

// MembershipsOf answers for several profiles at once, each ordered by
// audience id; a profile in no audience is absent.
func testMembershipsOf(t *testing.T, s Store) {
	putAud(t, s, aud(3), aud(1), aud(2))
	apply(t, s, aid(3), []string{"p1", "p2"}, nil, at(1))
	apply(t, s, aid(1), []string{"p1"}, nil, at(2))
	apply(t, s, aid(2), []string{"p1", "p3"}, nil, at(3))
	apply(t, s, aid(2), nil, []string{"p3"}, at(4))
	got, err := s.MembershipsOf(bg, []string{"p1", "p2", "p3", "p4", "p1"})
	must(t, err)
	want := map[string][]audience.Membership{
		"p1": {{AudienceID: aid(1), ProfileID: "p1", Since: at(2)}, {AudienceID: aid(2), ProfileID: "p1", Since: at(3)}, {AudienceID: aid(3), ProfileID: "p1", Since: at(1)}},
		"p2": {{AudienceID: aid(3), ProfileID: "p2", Since: at(1)}},
	}
	checkMemberships(t, "three audiences", got, want)
	got, err = s.MembershipsOf(bg, nil)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("MembershipsOf(nil) = %v", got)
	}
}

// ct returns a valid computed trait definition.
func ct(name string, window string) audience.ComputedTrait {
	return audience.ComputedTrait{
		Name: name, Description: "orders", Aggregate: audience.AggSum, Event: "Order Completed", EventType: "track",
		Property: "total", Window: window,
		Where: []audience.PropertyFilter{
			{Path: "currency", Op: audience.OpEQ, Value: "EUR"},
			{Path: "total", Op: audience.OpGT, Value: num("10.5")},
			{Path: "channel", Op: audience.OpIN, Value: []any{"web", num("2"), true}},
			{Path: "coupon", Op: audience.OpNotExists},
		},
		CreatedAt: at(0), UpdatedAt: at(1),
	}
}

func checkTrait(t *testing.T, what string, got, want audience.ComputedTrait) {
	t.Helper()
	if !sameTime(got.CreatedAt, want.CreatedAt) || !sameTime(got.UpdatedAt, want.UpdatedAt) {
		t.Fatalf("%s: created %v updated %v, want %v %v", what, got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt)
	}
	got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %#v\nwant %#v", what, got, want)
	}
}

func traits(t *testing.T, s Store) []audience.ComputedTrait {
	t.Helper()
	cs, err := s.ComputedTraits(bg)
	must(t, err)
	return cs
}

// Definitions are validated, read back as put (where values as
// json.Number), ordered by name, and a replace keeps CreatedAt.
func testComputedTraits(t *testing.T, s Store) {
	if got := traits(t, s); len(got) != 0 {
		t.Fatalf("an empty store has %d computed traits", len(got))
	}
	for name, c := range map[string]audience.ComputedTrait{
		"empty name":        {Aggregate: audience.AggCount, Event: "x"},
		"bad name":          {Name: "Orders", Aggregate: audience.AggCount, Event: "x"},
		"unknown aggregate": {Name: "n", Aggregate: "TOTAL", Event: "x"},
		"no event":          {Name: "n", Aggregate: audience.AggCount},
		"count property":    {Name: "n", Aggregate: audience.AggCount, Event: "x", Property: "p"},
		"sum no property":   {Name: "n", Aggregate: audience.AggSum, Event: "x"},
		"bad window":        {Name: "n", Aggregate: audience.AggCount, Event: "x", Window: "30 days"},
	} {
		wantCode(t, s.PutComputedTrait(bg, c), graph.EINVALID, name)
	}
	// A description of 1,000 bytes, an audience's limit too, is kept; one
	// more is refused.
	long := ct("long_desc", "")
	long.Description = strings.Repeat("d", 1001)
	wantCode(t, s.PutComputedTrait(bg, long), graph.EINVALID, "a description of 1001 bytes")
	long.Description = strings.Repeat("d", 1000)
	must(t, s.PutComputedTrait(bg, long))
	if got := traits(t, s); len(got) != 1 || got[0].Description != long.Description {
		t.Fatalf("a computed trait with a description of 1000 bytes: %d stored, want it read back whole", len(got))
	}
	deleted, err := s.DeleteComputedTrait(bg, long.Name)
	must(t, err)
	if !deleted {
		t.Fatal("DeleteComputedTrait of the long description's trait reported false")
	}
	paris := time.FixedZone("CEST", 2*3600)
	b := ct("orders_total", "P30D")
	b.CreatedAt = time.Date(2026, 6, 1, 12, 0, 0, 123456789, paris)
	a := audience.ComputedTrait{Name: "a_count", Aggregate: audience.AggCount, EventType: "page", CreatedAt: at(2), UpdatedAt: at(2)}
	must(t, s.PutComputedTrait(bg, b))
	must(t, s.PutComputedTrait(bg, a))
	got := traits(t, s)
	if len(got) != 2 {
		t.Fatalf("ComputedTraits = %d, want 2", len(got))
	}
	wantB := b
	wantB.CreatedAt = time.Date(2026, 6, 1, 10, 0, 0, 123456000, time.UTC)
	checkTrait(t, "a_count", got[0], a)
	checkTrait(t, "orders_total", got[1], wantB)

	// Replace: everything but CreatedAt is the new definition's.
	r := audience.ComputedTrait{Name: "orders_total", Aggregate: audience.AggMax, Event: "Refund", Property: "amount",
		CreatedAt: at(50), UpdatedAt: at(60)}
	must(t, s.PutComputedTrait(bg, r))
	got = traits(t, s)
	wantR := r
	wantR.CreatedAt = wantB.CreatedAt
	if len(got) != 2 {
		t.Fatalf("ComputedTraits after a replace = %d, want 2", len(got))
	}
	checkTrait(t, "replaced", got[1], wantR)

	ok, err := s.DeleteComputedTrait(bg, "a_count")
	must(t, err)
	if !ok {
		t.Fatal("DeleteComputedTrait of a stored trait reported false")
	}
	ok, err = s.DeleteComputedTrait(bg, "a_count")
	must(t, err)
	if ok {
		t.Fatal("a second DeleteComputedTrait reported true")
	}
	if got := traits(t, s); len(got) != 1 || got[0].Name != "orders_total" {
		t.Fatalf("after a delete: %d traits", len(got))
	}
	_, err = s.DeleteComputedTrait(bg, "Bad Name")
	wantCode(t, err, graph.EINVALID, "DeleteComputedTrait(bad name)")
}

// The store takes MaxComputedTraits definitions and refuses one more; a
// replace is still fine.
func testMaxComputedTraits(t *testing.T, s Store) {
	for i := range audience.MaxComputedTraits {
		must(t, s.PutComputedTrait(bg, ct(fmt.Sprintf("t%03d", i), "")))
	}
	wantCode(t, s.PutComputedTrait(bg, ct("t999", "")), graph.ECONFLICT, "PutComputedTrait beyond MaxComputedTraits")
	must(t, s.PutComputedTrait(bg, ct("t050", "P1D")))
	got := traits(t, s)
	if len(got) != audience.MaxComputedTraits || got[0].Name != "t000" || got[99].Name != "t099" || got[50].Window != "P1D" {
		t.Fatalf("at the limit: %d traits", len(got))
	}
}

func sameValue(got, want audience.ComputedValue) bool {
	if !sameTime(got.ComputedAt, want.ComputedAt) || !sameTime(got.Expires, want.Expires) {
		return false
	}
	got.ComputedAt, got.Expires, want.ComputedAt, want.Expires = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return reflect.DeepEqual(got, want)
}

func values(t *testing.T, s Store, pids ...string) map[string]map[string]audience.ComputedValue {
	t.Helper()
	m, err := s.ComputedValues(bg, pids)
	must(t, err)
	return m
}

func checkValues(t *testing.T, what string, got, want map[string]map[string]audience.ComputedValue) {
	t.Helper()
	if !slices.Equal(keys(got), keys(want)) {
		t.Fatalf("%s: profiles %v, want %v", what, keys(got), keys(want))
	}
	for pid, w := range want {
		if !slices.Equal(keys(got[pid]), keys(w)) {
			t.Fatalf("%s: %s has values %v, want %v", what, pid, keys(got[pid]), keys(w))
		}
		for name, wv := range w {
			if gv := got[pid][name]; !sameValue(gv, wv) {
				t.Fatalf("%s: %s.%s =\n %#v\nwant %#v", what, pid, name, gv, wv)
			}
		}
	}
}

// Values of every JSON kind read back as put: integers as int64, float64s
// as float64 (integral ones too), json.Numbers by their text; a put
// replaces a value of the same name; DeleteComputedValues removes a
// profile's every value.
func testComputedValues(t *testing.T, s Store) {
	cv := func(pid, name string, v any, exp time.Time) audience.ComputedValue {
		return audience.ComputedValue{ProfileID: pid, Name: name, Value: v, ComputedAt: at(1), Expires: exp}
	}
	put := []audience.ComputedValue{
		cv("p1", "v_nil", nil, time.Time{}),
		cv("p1", "v_true", true, time.Time{}),
		cv("p1", "v_false", false, at(60)),
		cv("p1", "v_int", int64(42), time.Time{}),
		cv("p1", "v_big", int64(1)<<62+1, time.Time{}),
		cv("p1", "v_neg", -7, time.Time{}),
		cv("p1", "v_float", 2.5, time.Time{}),
		cv("p1", "v_integral_float", float64(3), time.Time{}),
		cv("p1", "v_tiny", 1e-300, time.Time{}),
		cv("p1", "v_number", num("12"), time.Time{}),
		cv("p1", "v_string", "Zürich \"x\"", time.Time{}),
		cv("p1", "v_empty", "", time.Time{}),
		cv("p1", "v_list", []any{int64(1), 1.5, "a", nil, []any{}, map[string]any{"k": false}}, time.Time{}),
		cv("p1", "v_map", map[string]any{"b": int64(2), "a": map[string]any{"c": []any{"x"}}, "f": 0.25}, time.Time{}),
		cv("p2", "v_int", int64(1), time.Date(2026, 6, 2, 12, 0, 0, 999, time.FixedZone("X", 3600))),
	}
	must(t, s.PutComputedValues(bg, put))
	exp := func(v audience.ComputedValue, value any) audience.ComputedValue {
		v.Value = value
		return v
	}
	want := map[string]map[string]audience.ComputedValue{"p1": {}, "p2": {}}
	for _, v := range put {
		w := v
		switch v.Name {
		case "v_neg":
			w = exp(v, int64(-7))
		case "v_number":
			w = exp(v, int64(12))
		}
		if v.ProfileID == "p2" {
			w.Expires = time.Date(2026, 6, 2, 11, 0, 0, 0, time.UTC)
		}
		want[v.ProfileID][v.Name] = w
	}
	checkValues(t, "round trip", values(t, s, "p1", "p2", "p3", "p1"), want)
	if got := values(t, s); len(got) != 0 {
		t.Fatalf("ComputedValues(nil) = %v", got)
	}

	// Replace p1's v_int (now expiring) and v_false (no longer expiring).
	must(t, s.PutComputedValues(bg, []audience.ComputedValue{
		{ProfileID: "p1", Name: "v_int", Value: "now a string", ComputedAt: at(5), Expires: at(90)},
		{ProfileID: "p1", Name: "v_false", Value: true, ComputedAt: at(5)},
	}))
	want["p1"]["v_int"] = audience.ComputedValue{ProfileID: "p1", Name: "v_int", Value: "now a string", ComputedAt: at(5), Expires: at(90)}
	want["p1"]["v_false"] = audience.ComputedValue{ProfileID: "p1", Name: "v_false", Value: true, ComputedAt: at(5)}
	checkValues(t, "after replace", values(t, s, "p1", "p2"), want)
	ex, err := s.ExpiringValues(bg, at(10000), 10)
	must(t, err)
	if got := valueNames(ex); !slices.Equal(got, []string{"p1.v_int", "p2.v_int"}) {
		t.Fatalf("expiring after replace: %v, want p1.v_int then p2.v_int", got)
	}

	// Bad values.
	for what, v := range map[string]audience.ComputedValue{
		"empty profile": {Name: "x", Value: int64(1)},
		"bad name":      {ProfileID: "p", Name: "X Y", Value: int64(1)},
		"channel value": {ProfileID: "p", Name: "x", Value: make(chan int)},
		"NaN":           {ProfileID: "p", Name: "x", Value: []any{nanValue()}},
	} {
		wantCode(t, s.PutComputedValues(bg, []audience.ComputedValue{v}), graph.EINVALID, what)
	}
	must(t, s.PutComputedValues(bg, nil))

	must(t, s.DeleteComputedValues(bg, []string{"p1", "p9"}))
	delete(want, "p1")
	checkValues(t, "after delete", values(t, s, "p1", "p2"), want)
	ex, err = s.ExpiringValues(bg, at(10000), 10)
	must(t, err)
	if got := valueNames(ex); !slices.Equal(got, []string{"p2.v_int"}) {
		t.Fatalf("expiring after delete: %v, want p2.v_int", got)
	}
	must(t, s.DeleteComputedValues(bg, nil))
}

func nanValue() float64 {
	zero := 0.0
	return zero / zero
}

func valueNames(vs []audience.ComputedValue) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.ProfileID + "." + v.Name
	}
	return out
}

// ExpiringValues lists values whose Expires is set and not after before,
// soonest first (ties by name, then profile id), at most limit.
func testExpiringValues(t *testing.T, s Store) {
	v := func(pid, name string, exp time.Time) audience.ComputedValue {
		return audience.ComputedValue{ProfileID: pid, Name: name, Value: int64(1), ComputedAt: at(0), Expires: exp}
	}
	must(t, s.PutComputedValues(bg, []audience.ComputedValue{
		v("p1", "a", at(30)),
		v("p2", "a", at(10)),
		v("p1", "b", time.Time{}),
		v("p3", "b", at(20)),
		v("p2", "b", at(20)),
		v("p3", "a", at(20)),
		v("p4", "a", moonLanding),
		v("p5", "a", at(40)),
	}))
	ex, err := s.ExpiringValues(bg, at(30), audience.MaxPage)
	must(t, err)
	want := []string{"p4.a", "p2.a", "p3.a", "p2.b", "p3.b", "p1.a"}
	if got := valueNames(ex); !slices.Equal(got, want) {
		t.Fatalf("ExpiringValues(30) = %v, want %v", got, want)
	}
	if !sameValue(ex[1], v("p2", "a", at(10))) {
		t.Fatalf("an expiring value reads back as %#v", ex[1])
	}
	ex, err = s.ExpiringValues(bg, at(20), 2)
	must(t, err)
	if got := valueNames(ex); !slices.Equal(got, want[:2]) {
		t.Fatalf("ExpiringValues(20, 2) = %v, want %v", got, want[:2])
	}
	ex, err = s.ExpiringValues(bg, at(19), 10)
	must(t, err)
	if got := valueNames(ex); !slices.Equal(got, want[:2]) {
		t.Fatalf("ExpiringValues(19) = %v, want %v", got, want[:2])
	}
	ex, err = s.ExpiringValues(bg, moonLanding.Add(-time.Second), 10)
	must(t, err)
	if len(ex) != 0 {
		t.Fatalf("ExpiringValues before everything = %v", valueNames(ex))
	}
	for _, limit := range []int{0, -1, audience.MaxPage + 1} {
		_, err := s.ExpiringValues(bg, at(30), limit)
		wantCode(t, err, graph.EINVALID, fmt.Sprintf("ExpiringValues(limit %d)", limit))
	}
}

// DeleteComputedTrait removes every value of the trait, expiring or not,
// and leaves the values of other traits.
func testDeleteComputedTrait(t *testing.T, s Store) {
	must(t, s.PutComputedTrait(bg, ct("orders", "P7D")))
	must(t, s.PutComputedTrait(bg, ct("other", "")))
	must(t, s.PutComputedValues(bg, []audience.ComputedValue{
		{ProfileID: "p1", Name: "orders", Value: int64(3), ComputedAt: at(0), Expires: at(10)},
		{ProfileID: "p2", Name: "orders", Value: int64(4), ComputedAt: at(0)},
		{ProfileID: "p1", Name: "other", Value: "x", ComputedAt: at(0), Expires: at(20)},
	}))
	ok, err := s.DeleteComputedTrait(bg, "orders")
	must(t, err)
	if !ok {
		t.Fatal("DeleteComputedTrait reported false")
	}
	want := map[string]map[string]audience.ComputedValue{
		"p1": {"other": {ProfileID: "p1", Name: "other", Value: "x", ComputedAt: at(0), Expires: at(20)}},
	}
	checkValues(t, "after DeleteComputedTrait", values(t, s, "p1", "p2"), want)
	ex, err := s.ExpiringValues(bg, at(100), 10)
	must(t, err)
	if got := valueNames(ex); !slices.Equal(got, []string{"p1.other"}) {
		t.Fatalf("expiring after DeleteComputedTrait: %v", got)
	}
	if got := traits(t, s); len(got) != 1 || got[0].Name != "other" {
		t.Fatalf("traits after delete: %d", len(got))
	}
}
