package audiencetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
)

// References between definitions (audience.Store): every computed trait
// and audience a stored filter names is stored. These tests hold the
// store itself to it, with no resolver in front.

// usesComputed and namesAudience are the filters of audiences that name a
// computed trait, or an audience, among other conditions.
func usesComputed(name string) audience.Filter {
	return audience.Filter{And: []audience.Filter{
		simple("pro"),
		{Computed: &audience.ComputedCondition{Name: name, Op: audience.OpGT, Value: num("100")}},
	}}
}

func namesAudience(id string) audience.Filter {
	return audience.Filter{Or: []audience.Filter{
		{InAudience: &id},
		simple("team"),
	}}
}

func withFilter(n int, f audience.Filter) audience.Audience {
	a := aud(n)
	a.Filter = f
	return a
}

// wantRefusal fails unless err is the refusal want: its code, its
// message, and its type (which the resolver finds with errors.As).
func wantRefusal[E error](t *testing.T, what string, err error, code, msg string) E {
	t.Helper()
	var typed E
	if err == nil {
		t.Fatalf("%s: no error, want %s %q", what, code, msg)
	}
	if !errors.As(err, &typed) {
		t.Fatalf("%s: error %T %v, want a %T", what, err, err, typed)
	}
	if got := graph.ErrorCode(err); got != code {
		t.Fatalf("%s: code %s, want %s (%v)", what, got, code, err)
	}
	if got := graph.ErrorMessage(err); got != msg {
		t.Fatalf("%s: message\n %q\nwant\n %q", what, got, msg)
	}
	return typed
}

// The store refuses, by itself, to delete a computed trait a stored filter
// uses or an audience another stored filter names, and to put a filter
// naming a computed trait or an audience it does not hold; a refused call
// changes nothing.
func testReferences(t *testing.T, s Store) {
	must(t, s.PutComputedTrait(bg, ct("ltv", "")))
	must(t, s.PutComputedTrait(bg, ct("orders", "")))
	must(t, s.PutComputedValues(bg, []audience.ComputedValue{{ProfileID: "p1", Name: "ltv", Value: int64(120), ComputedAt: at(0)}}))
	// 1 is plain; 2 and 4 use ltv; 3 names 1 (under a not); 6 has a trait
	// named ltv and the text of 1's id as a value, which name nothing.
	putAud(t, s, aud(1), withFilter(2, usesComputed("ltv")))
	putAud(t, s, withFilter(3, audience.Filter{Not: &audience.Filter{Or: []audience.Filter{
		simple("free"),
		{InAudience: ptr(aid(1))},
	}}}))
	putAud(t, s, withFilter(4, audience.Filter{Or: []audience.Filter{
		{Computed: &audience.ComputedCondition{Name: "orders", Op: audience.OpExists}},
		{Computed: &audience.ComputedCondition{Name: "ltv", Op: audience.OpLT, Value: num("5")}},
	}}))
	putAud(t, s, withFilter(6, audience.Filter{And: []audience.Filter{
		{Trait: &audience.TraitCondition{Name: "ltv", Op: audience.OpExists}},
		{Trait: &audience.TraitCondition{Name: "ref", Op: audience.OpEQ, Value: aid(1)}},
	}}))
	apply(t, s, aid(1), []string{"p1"}, nil, at(5))

	// Deleting a computed trait in use.
	_, err := s.DeleteComputedTrait(bg, "ltv")
	inUse := wantRefusal[*audience.InUseError](t, "DeleteComputedTrait(ltv)", err, graph.ECONFLICT,
		"computed trait ltv is used by the filter of audience seg_00000000000000000000000000000002, seg_00000000000000000000000000000004; change that filter first")
	if inUse.Computed != "ltv" || inUse.Audience != "" || !slices.Equal(inUse.Users, []string{aid(2), aid(4)}) {
		t.Fatalf("DeleteComputedTrait(ltv) refused with %+v, want ltv used by 2 and 4", *inUse)
	}
	if got := traitNames(t, s); !slices.Equal(got, []string{"ltv", "orders"}) {
		t.Fatalf("traits after a refused delete: %v, want ltv and orders", got)
	}
	if v := values(t, s, "p1"); v["p1"]["ltv"].Value != int64(120) {
		t.Fatalf("the value of ltv after a refused delete: %+v, want 120", v["p1"])
	}

	// Deleting an audience another names.
	_, err = s.DeleteAudience(bg, aid(1))
	inUse = wantRefusal[*audience.InUseError](t, "DeleteAudience(1)", err, graph.ECONFLICT,
		"audience seg_00000000000000000000000000000001 is named by inAudience in audience seg_00000000000000000000000000000003; change that filter first")
	if inUse.Audience != aid(1) || inUse.Computed != "" || !slices.Equal(inUse.Users, []string{aid(3)}) {
		t.Fatalf("DeleteAudience(1) refused with %+v, want 1 named by 3", *inUse)
	}
	if got := members(t, s, aid(1)); !slices.Equal(got, []string{"p1@5"}) {
		t.Fatalf("members of 1 after a refused delete: %v, want p1@5", got)
	}

	// Putting a filter naming what is not stored: the first such
	// condition, in Check's order, is named as Check names it.
	missing := wantRefusal[*audience.MissingRefError](t, "PutAudience(7, computed nope)",
		s.PutAudience(bg, withFilter(7, usesComputed("nope"))), graph.EINVALID,
		`filter.and[1].computed.name: computed trait "nope" is not defined`)
	if missing.Computed != "nope" || missing.Audience != "" || missing.Path != ".and[1].computed.name" {
		t.Fatalf("PutAudience(7) refused with %+v", *missing)
	}
	if got := missing.At("input.filter").Message; got != `input.filter.and[1].computed.name: computed trait "nope" is not defined` {
		t.Fatalf("the refusal at input.filter reads %q", got)
	}
	wantRefusal[*audience.MissingRefError](t, "PutAudience(7, inAudience 77)",
		s.PutAudience(bg, withFilter(7, namesAudience(aid(77)))), graph.EINVALID,
		"filter.or[0].inAudience: audience seg_0000000000000000000000000000004d does not exist")
	wantRefusal[*audience.MissingRefError](t, "PutAudience(7, both)",
		s.PutAudience(bg, withFilter(7, audience.Filter{And: []audience.Filter{
			{Computed: &audience.ComputedCondition{Name: "orders", Op: audience.OpExists}},
			{Not: &audience.Filter{InAudience: ptr(aid(78))}},
			{Computed: &audience.ComputedCondition{Name: "nope", Op: audience.OpExists}},
		}})), graph.EINVALID,
		"filter.and[1].not.inAudience: audience seg_0000000000000000000000000000004e does not exist")
	// An audience being created does not exist yet for its own filter.
	wantRefusal[*audience.MissingRefError](t, "PutAudience(7, naming itself)",
		s.PutAudience(bg, withFilter(7, namesAudience(aid(7)))), graph.EINVALID,
		"filter.or[0].inAudience: audience seg_00000000000000000000000000000007 does not exist")
	if _, ok := getAud(t, s, aid(7)); ok {
		t.Fatal("a refused audience is stored")
	}
	// A replace naming what is not stored keeps the stored definition.
	wantRefusal[*audience.MissingRefError](t, "PutAudience(2, computed gone)",
		s.PutAudience(bg, withFilter(2, usesComputed("gone"))), graph.EINVALID,
		`filter.and[1].computed.name: computed trait "gone" is not defined`)
	if got, _ := getAud(t, s, aid(2)); got.Filter.Computed != nil || len(got.Filter.And) != 2 || got.Filter.And[1].Computed.Name != "ltv" {
		t.Fatalf("audience 2 after a refused replace: %+v", got.Filter)
	}

	// A filter reaching its own audience, directly or through stored
	// filters, is refused, naming the first condition that does (in
	// Check's order) and the chain; the stored definition stays.
	putAud(t, s, aud(5))
	wantRefusal[*audience.CycleError](t, "PutAudience(5, naming itself)",
		s.PutAudience(bg, withFilter(5, namesAudience(aid(5)))), graph.EINVALID,
		"filter.or[0].inAudience: audience seg_00000000000000000000000000000005 would contain itself (inAudience seg_00000000000000000000000000000005)")
	putAud(t, s, aud(8), withFilter(9, audience.Filter{And: []audience.Filter{simple("team"), {InAudience: ptr(aid(8))}}}))
	putAud(t, s, withFilter(10, namesAudience(aid(9))))
	// 10 names 9, which names 8: 8 naming 1 is no cycle, 8 naming 10 is.
	cycle := wantRefusal[*audience.CycleError](t, "PutAudience(8, naming 1 and 10)",
		s.PutAudience(bg, withFilter(8, audience.Filter{Or: []audience.Filter{
			{InAudience: ptr(aid(1))},
			{Not: &audience.Filter{InAudience: ptr(aid(10))}},
		}})), graph.EINVALID,
		"filter.or[1].not.inAudience: audience seg_00000000000000000000000000000008 would contain itself (inAudience seg_0000000000000000000000000000000a -> seg_00000000000000000000000000000009 -> seg_00000000000000000000000000000008)")
	if cycle.Audience != aid(8) || cycle.Path != ".or[1].not.inAudience" || !slices.Equal(cycle.Chain, []string{aid(10), aid(9), aid(8)}) {
		t.Fatalf("PutAudience(8) refused with %+v", *cycle)
	}
	if got := cycle.At("input.filter").Message; !strings.HasPrefix(got, "input.filter.or[1].not.inAudience: ") {
		t.Fatalf("the refusal at input.filter reads %q", got)
	}
	for _, n := range []int{5, 8} {
		if got, _ := getAud(t, s, aid(n)); !reflect.DeepEqual(got.Filter, aud(n).Filter) {
			t.Fatalf("audience %d after a refused put: %+v, want its first filter", n, got.Filter)
		}
	}
	// Naming an audience that names another, with no way back, is no cycle.
	putAud(t, s, withFilter(5, namesAudience(aid(10))))
	checkNoCycles(t, s)
	for _, n := range []int{5, 10, 9, 8} {
		if ok, err := s.DeleteAudience(bg, aid(n)); err != nil || !ok {
			t.Fatalf("DeleteAudience(%d) = %v, %v; want true", n, ok, err)
		}
	}

	// Once the filters no longer name them, the deletes go through.
	if ok, err := s.DeleteAudience(bg, aid(3)); err != nil || !ok {
		t.Fatalf("DeleteAudience(3) = %v, %v; want true", ok, err)
	}
	if ok, err := s.DeleteAudience(bg, aid(1)); err != nil || !ok {
		t.Fatalf("DeleteAudience(1) once 3 is gone = %v, %v; want true", ok, err)
	}
	putAud(t, s, withFilter(2, simple("pro")))
	_, err = s.DeleteComputedTrait(bg, "ltv")
	wantRefusal[*audience.InUseError](t, "DeleteComputedTrait(ltv) used by 4", err, graph.ECONFLICT,
		"computed trait ltv is used by the filter of audience seg_00000000000000000000000000000004; change that filter first")
	must(t, s.PutAudience(bg, withFilter(4, usesComputed("orders"))))
	if ok, err := s.DeleteComputedTrait(bg, "ltv"); err != nil || !ok {
		t.Fatalf("DeleteComputedTrait(ltv) unused = %v, %v; want true", ok, err)
	}
	if got := traitNames(t, s); !slices.Equal(got, []string{"orders"}) {
		t.Fatalf("traits after the delete: %v, want orders", got)
	}
	CheckReferences(t, s)
}

func ptr(s string) *string { return &s }

func traitNames(t *testing.T, s Store) []string {
	t.Helper()
	var out []string
	for _, c := range traits(t, s) {
		out = append(out, c.Name)
	}
	return out
}

// allAudiences reads every stored audience.
func allAudiences(t *testing.T, s Store) []audience.Audience {
	t.Helper()
	var out []audience.Audience
	for after := ""; ; {
		page, err := s.AudiencePage(bg, audience.Page{After: after, Limit: audience.MaxPage})
		must(t, err)
		out = append(out, page...)
		if len(page) < audience.MaxPage {
			return out
		}
		after = page[len(page)-1].ID
	}
}

// CheckReferences reads everything back and fails unless every stored
// filter names only stored computed traits and audiences.
func CheckReferences(t *testing.T, s Store) {
	t.Helper()
	auds := allAudiences(t, s)
	stored := map[string]bool{}
	for _, a := range auds {
		stored[a.ID] = true
	}
	defined := map[string]bool{}
	for _, n := range traitNames(t, s) {
		defined[n] = true
	}
	for _, a := range auds {
		for _, n := range a.Filter.ComputedNames() {
			if !defined[n] {
				t.Errorf("audience %s uses computed trait %s, which is not stored", a.ID, n)
			}
		}
		for _, id := range a.Filter.AudienceIDs() {
			if !stored[id] {
				t.Errorf("audience %s names audience %s, which is not stored", a.ID, id)
			}
		}
	}
}

// checkNoCycles fails when a stored audience reaches itself through the
// stored filters: a depth-first walk from each.
func checkNoCycles(t *testing.T, s Store) {
	t.Helper()
	names := map[string][]string{}
	for _, a := range allAudiences(t, s) {
		names[a.ID] = a.Filter.AudienceIDs()
	}
	for id := range names {
		seen := map[string]bool{}
		stack := slices.Clone(names[id])
		for len(stack) > 0 {
			next := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if next == id {
				t.Errorf("audience %s reaches itself through the stored filters", id)
				break
			}
			if !seen[next] {
				seen[next] = true
				stack = append(stack, names[next]...)
			}
		}
	}
}

// Two puts made at once that would close a cycle: of two audiences, each
// naming the other; of three, where b already names c, a naming b and c
// naming a; of four, where b names c and d names a already, a naming b
// and c naming d (the puts then lock nothing in common but what their
// filters reach). Exactly one goes through, the other is refused as it
// would be had it come second, and no stored audience reaches itself.
func testCycleRaces(t *testing.T, s Store) {
	// Fewer rounds than the other races: on Neo4j the four-audience ones
	// end in a deadlock, which the driver breaks by running one put again
	// after a wait.
	for r := range 24 {
		n := 3000 + 4*r
		a, b, c, d := aud(n), aud(n+1), aud(n+2), aud(n+3)
		var puts []audience.Audience
		switch r % 3 {
		case 0:
			putAud(t, s, a, b)
			puts = []audience.Audience{withFilter(n, namesAudience(b.ID)), withFilter(n+1, namesAudience(a.ID))}
		case 1:
			putAud(t, s, a, c, withFilter(n+1, namesAudience(c.ID)))
			puts = []audience.Audience{withFilter(n, namesAudience(b.ID)), withFilter(n+2, namesAudience(a.ID))}
		case 2:
			putAud(t, s, a, c, withFilter(n+1, namesAudience(c.ID)), withFilter(n+3, namesAudience(a.ID)))
			puts = []audience.Audience{withFilter(n, namesAudience(b.ID)), withFilter(n+2, namesAudience(d.ID))}
		}
		errs := make([]error, 2)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, put := range puts {
			wg.Add(1)
			go func() { defer wg.Done(); <-start; errs[i] = s.PutAudience(bg, put) }()
		}
		close(start)
		wg.Wait()
		var refused []int
		for i, err := range errs {
			if err != nil {
				var cycle *audience.CycleError
				if !errors.As(err, &cycle) || graph.ErrorCode(err) != graph.EINVALID {
					t.Fatalf("round %d: put %d failed with %T %v, want a cycle refused", r, i, err, err)
				}
				refused = append(refused, i)
			}
		}
		if len(refused) != 1 {
			t.Fatalf("round %d: puts refused %v (errors %v), want exactly one", r, refused, errs)
		}
	}
	checkNoCycles(t, s)
	CheckReferences(t, s)
}

// raceRounds is how many times testReferenceRaces and
// testReferenceRedefineRaces race the writes; each round leaves at most
// one computed trait, within MaxComputedTraits.
const raceRounds = 40

// Deletes and puts made at once: of a DeleteComputedTrait and a
// PutAudience using the trait, and of a DeleteAudience and a PutAudience
// naming the audience, exactly one succeeds and the other is refused as
// the store refuses it when they run one after the other, and what is
// stored in the end names only what is stored.
func testReferenceRaces(t *testing.T, s Store) {
	for r := range raceRounds {
		name := fmt.Sprintf("race_%03d", r)
		target, user, namer := aud(1000+3*r), withFilter(1001+3*r, usesComputed(name)), withFilter(1002+3*r, namesAudience(aid(1000+3*r)))
		must(t, s.PutComputedTrait(bg, ct(name, "")))
		putAud(t, s, target)

		var (
			wg                         sync.WaitGroup
			start                      = make(chan struct{})
			delTrait, putUser          error
			delTarget, putNamer        error
			traitDeleted, targetDelete bool
		)
		wg.Add(4)
		go func() { defer wg.Done(); <-start; traitDeleted, delTrait = s.DeleteComputedTrait(bg, name) }()
		go func() { defer wg.Done(); <-start; putUser = s.PutAudience(bg, user) }()
		go func() { defer wg.Done(); <-start; targetDelete, delTarget = s.DeleteAudience(bg, target.ID) }()
		go func() { defer wg.Done(); <-start; putNamer = s.PutAudience(bg, namer) }()
		close(start)
		wg.Wait()

		racePair(t, fmt.Sprintf("round %d: DeleteComputedTrait(%s) and PutAudience using it", r, name),
			delTrait, traitDeleted, putUser, user.ID, s)
		racePair(t, fmt.Sprintf("round %d: DeleteAudience and PutAudience naming it", r),
			delTarget, targetDelete, putNamer, namer.ID, s)
		if t.Failed() {
			break
		}
	}
	CheckReferences(t, s)
}

// Puts made at once of an audience naming a computed trait or an audience
// and of a new definition of that trait or audience all go through, and
// the new definitions stay: whatever a put does to keep what it names
// from being deleted meanwhile, it writes nothing of theirs back.
func testReferenceRedefineRaces(t *testing.T, s Store) {
	for r := range raceRounds {
		name := fmt.Sprintf("redefined_%03d", r)
		target, user, namer := aud(2000+3*r), withFilter(2001+3*r, usesComputed(name)), withFilter(2002+3*r, namesAudience(aid(2000+3*r)))
		must(t, s.PutComputedTrait(bg, ct(name, "")))
		putAud(t, s, target)
		redefined := ct(name, "P7D")
		redefined.Aggregate, redefined.Property, redefined.UpdatedAt = audience.AggMax, "amount", at(9)
		renamed := target
		renamed.Name, renamed.UpdatedAt = fmt.Sprintf("renamed %d", r), at(9)

		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, 4)
		for i, put := range []func() error{
			func() error { return s.PutComputedTrait(bg, redefined) },
			func() error { return s.PutAudience(bg, user) },
			func() error { return s.PutAudience(bg, renamed) },
			func() error { return s.PutAudience(bg, namer) },
		} {
			wg.Add(1)
			go func() { defer wg.Done(); <-start; errs[i] = put() }()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: put %d failed: %v", r, i, err)
			}
		}
		var got audience.ComputedTrait
		for _, c := range traits(t, s) {
			if c.Name == name {
				got = c
			}
		}
		if got.Aggregate != audience.AggMax || got.Property != "amount" || got.Window != "P7D" || !sameTime(got.UpdatedAt, at(9)) {
			t.Fatalf("round %d: computed trait %s after its redefinition raced a put using it: %s of %q over %q, updated %v; want MAX of amount over P7D, updated %v",
				r, name, got.Aggregate, got.Property, got.Window, got.UpdatedAt, at(9))
		}
		if a, _ := getAud(t, s, target.ID); a.Name != renamed.Name || !sameTime(a.UpdatedAt, at(9)) {
			t.Fatalf("round %d: audience %s after its rename raced a put naming it: %q, updated %v; want %q, updated %v",
				r, target.ID, a.Name, a.UpdatedAt, renamed.Name, at(9))
		}
	}
	CheckReferences(t, s)
}

// racePair checks one pair of a round: exactly one of the delete and the
// put went through, the other refused with its refusal, and the store
// holds what the one that went through wrote.
func racePair(t *testing.T, what string, delErr error, deleted bool, putErr error, putID string, s Store) {
	t.Helper()
	var inUse *audience.InUseError
	var missing *audience.MissingRefError
	switch {
	case delErr == nil && putErr == nil:
		t.Errorf("%s: both went through", what)
	case delErr != nil && putErr != nil:
		t.Errorf("%s: both refused: %v; %v", what, delErr, putErr)
	case delErr != nil && !errors.As(delErr, &inUse):
		t.Errorf("%s: the delete failed with %v, want an InUseError", what, delErr)
	case putErr != nil && !errors.As(putErr, &missing):
		t.Errorf("%s: the put failed with %v, want a MissingRefError", what, putErr)
	case delErr == nil && !deleted:
		t.Errorf("%s: the delete went through but found nothing to delete", what)
	}
	if _, stored := getAud(t, s, putID); stored != (putErr == nil) {
		t.Errorf("%s: put error %v, yet the audience stored is %v", what, putErr, stored)
	}
}
