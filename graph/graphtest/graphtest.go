package graphtest

import (
	"context"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
)

// Run runs the whole conformance suite against stores made by open.
func Run(t *testing.T, open Opener) { run(t, open, fullScale) }

// scale sizes the suite's two largest tests: the links of ChainAndStar's
// chain and star, and the random sequences of ModelProperty (before
// -rapid.checks or RAPID_CHECKS, which win).
type scale struct {
	links  int
	checks func() int
}

// fullScale is a store's own run of the suite.
var fullScale = scale{links: 10000, checks: modelChecks}

// wrapperScale is RunWrapped's: a wrapper that times or counts calls is
// checked for forwarding every method as it should, which the small sizes
// exercise as fully as the large ones do; the store under it runs the
// suite at fullScale in its own package. On Neo4j this takes the two
// tests from about 90 and 100 s to a tenth of that.
var wrapperScale = scale{links: 1000, checks: func() int { return max(modelChecks()/10, 5) }}

func run(t *testing.T, open Opener, sc scale) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"AnonymousThenLogin", testAnonymousThenLogin},
		{"NormalizedVariantsAreOneIdentifier", testNormalizedVariants},
		{"SharedDeviceDoesNotMerge", testSharedDevice},
		{"BlockedValuesNeverLink", testBlockedValues},
		{"JourneyFollowsEventTime", testOutOfOrder},
		{"DuplicateMessageStoredOnce", testDuplicates},
		{"EventClaims", testEventClaims}, {"DuplicateConflicts", testDuplicateConflicts},
		{"MergedIDResolvesToSurvivor", testRedirect},
		{"HistoryOfRepeatedIDs", testHistoryRepeatedIDs},
		{"RemoveBridgeSplits", testRemoveBridge},
		{"UnlinkSplitsAndStaysUnlinked", testUnlink},
		{"ManualMerge", testManualMerge},
		{"ExplainPath", testExplainPath},
		{"IdentityGraph", testIdentityGraph},
		{"JourneyFiltersAndPaging", testJourneyFilters},
		{"ProfilesPaging", testProfilesPaging},
		{"TraitsLatestWins", testTraits},
		{"TraitTiesGoToTheLaterReceived", testTraitTiesGoToTheLaterReceived},
		{"DeterministicProfileIDs", testDeterministicIDs},
		{"ErasedIDNotReused", testErasedIDNotReused},
		{"RemovedLastIDNotReused", testRemovedLastIDNotReused},
		{"TakenProfileIDs", testTakenProfileIDs},
		{"BatchLookups", testBatchLookups},
		{"LookupProfilesContract", testLookupProfilesContract},
		{"ChainAndStar", func(t *testing.T, open Opener) { testChainAndStar(t, open, sc.links) }},
		{"ModelProperty", func(t *testing.T, open Opener) { testModel(t, open, sc.checks) }},
		{"ConcurrentWriters", testConcurrent},
		{"CorrectionsStick", RunRound2},
		{"LinksAccumulate", testLinksAccumulate},
		{"LinksOverwrite", testLinksOverwrite},
		{"ChangesOldestFirst", testChangesOrder},
		{"LiveCountAndPages", testLiveCountAndPages},
		{"JourneyExtremeTimes", testExtremeJourneyTimes},
		{"JourneyPagingAcrossMembers", testJourneyPagingAcrossMembers},
		{"ErasureKeepsSharedEvents", testErasure},
		{"ErasureTakesSharedPayload", testErasureTakesSharedPayload},
		{"EventsBy", testEventsBy},
		{"ScrubEvents", testScrubEvents},
		{"RewriteChanges", testRewriteChanges},
		{"TraitsReplacedWhole", testTraitsReplacedWhole},
		{"FailedUpdateRollsBack", testRollback},
		{"CancelCommitsNothing", testCancel},
		{"LocksExcludeOtherWriters", testLocks},
		{"ViewRetriedAnswersTheSame", testViewRetried},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

func newEngine(t *testing.T, open Opener) *graph.Engine {
	t.Helper()
	return graph.NewEngine(open(t), nil)
}

// testHistoryRepeatedIDs: History answers each id once, with each entry
// once, whatever the list repeats: an id named twice (a redirected id and
// its survivor asked for together resolve to one id) must not list its
// entries twice. Worked by hand: Y's profile (1 identifier) merges into
// X's (2) at e3, then X's (now 3) into the profile of e4 (4) at e5; so
// Y's history is the first merge, X's both.
func testHistoryRepeatedIDs(t *testing.T, open Opener) {
	e := newEngine(t, open)
	apply(t, e, ev("e1", 1, email("big@example.com"), anon("X1")))
	apply(t, e, ev("e2", 2, anon("Y")))
	big, small := profileOf(t, e, anon("X1")), profileOf(t, e, anon("Y"))
	apply(t, e, ev("e3", 3, email("big@example.com"), anon("Y")))
	apply(t, e, ev("e4", 4, email("other@example.com"), anon("Z1"), anon("Z2"), anon("Z3")))
	final := profileOf(t, e, anon("Z1"))
	apply(t, e, ev("e5", 5, email("other@example.com"), email("big@example.com")))
	h, err := e.History(context.Background(), []string{big.ID, small.ID, big.ID, small.ID})
	if err != nil {
		t.Fatal(err)
	}
	type entry struct{ kind, from, into string }
	got := func(id string) []entry {
		var out []entry
		for _, c := range h[id] {
			out = append(out, entry{c.Kind, c.From, c.Into})
		}
		return out
	}
	first, second := entry{graph.ChangeMerge, small.ID, big.ID}, entry{graph.ChangeMerge, big.ID, final.ID}
	if g := got(big.ID); len(g) != 2 || g[0] != first || g[1] != second {
		t.Errorf("history of %s (asked for twice) = %+v, want [%v %v]", big.ID, g, first, second)
	}
	if g := got(small.ID); len(g) != 1 || g[0] != first {
		t.Errorf("history of %s (asked for twice) = %+v, want [%v]", small.ID, g, first)
	}
	if len(h) != 2 {
		t.Errorf("history answers %d ids, want 2", len(h))
	}
}

// Scenario 1: anonymous browsing, then login.
func testAnonymousThenLogin(t *testing.T, open Opener) {
	e := newEngine(t, open)
	apply(t, e, ev("a1", 1, anon("X")), ev("a2", 2, anon("X")))
	apply(t, e, ev("a3", 3, anon("X")))
	login := ev("login", 4, anon("X"), user("U1"), email("ann@example.com"))
	login.Type = "identify"
	apply(t, e, login)
	p := profileOf(t, e, user("U1"))
	for _, r := range []graph.IdentifierRef{anon("X"), email("Ann@Example.com")} {
		if q := profileOf(t, e, r); q.ID != p.ID {
			t.Fatalf("%s is in profile %s, user in %s", r.Value, q.ID, p.ID)
		}
	}
	if got, want := members(t, e, p.ID), sorted("anonymous_id:X", "user_id:U1", "email:ann@example.com"); !same(got, want) {
		t.Fatalf("members = %v, want %v", got, want)
	}
	if got, want := journey(t, e, p.ID, graph.JourneyQuery{}), []string{"login", "a3", "a2", "a1"}; !same(got, want) {
		t.Fatalf("journey = %v, want %v", got, want)
	}
	if p.Size != 3 || p.Counts[graph.TypeUserID] != 1 || p.Counts[graph.TypeAnonymousID] != 1 {
		t.Fatalf("profile size/counts = %d %v", p.Size, p.Counts)
	}
}

// Scenario 2: case and whitespace variants are one identifier; phone formats too.
func testNormalizedVariants(t *testing.T, open Opener) {
	e := newEngine(t, open)
	apply(t, e,
		ev("e1", 1, user("U1"), email("  Ann.Smith@Example.COM ")),
		ev("e2", 2, email("ann.smith@example.com"), phone("+39 333 123 4567")),
		ev("e3", 3, phone("+39-333-1234567"), anon("A")),
	)
	p := profileOf(t, e, user("U1"))
	want := sorted("user_id:U1", "email:ann.smith@example.com", "phone:+393331234567", "anonymous_id:A")
	if got := members(t, e, p.ID); !same(got, want) {
		t.Fatalf("members = %v, want %v", got, want)
	}
	if q := profileOf(t, e, phone("+39 (333) 123-4567")); q.ID != p.ID {
		t.Fatalf("phone lookup with another format found %s, want %s", q.ID, p.ID)
	}
	// A phone that cannot be parsed is dropped, not stored raw.
	res := apply(t, e, ev("e4", 4, phone("not a phone")))
	if res.Rejected != 1 || !strings.Contains(res.Results[0].Reason, "invalid_phone") {
		t.Fatalf("unparseable phone: %+v", res.Results[0])
	}
	if n := e.Normalizer().Drops()[graph.DropInvalidPhone]; n < 1 {
		t.Fatalf("invalid phone drop not counted: %v", e.Normalizer().Drops())
	}
}

// Scenario 3: a device shared by two user ids does not merge them, and the
// refusal is explainable.
func testSharedDevice(t *testing.T, open Opener) {
	e := newEngine(t, open)
	apply(t, e, ev("e1", 1, user("A"), device("tablet")))
	apply(t, e, ev("e2", 2, user("B"), device("tablet")))
	pa, pb := profileOf(t, e, user("A")), profileOf(t, e, user("B"))
	if pa.ID == pb.ID {
		t.Fatal("two user ids sharing a device were merged")
	}
	if pd := profileOf(t, e, device("tablet")); pd.ID != pa.ID {
		t.Fatalf("device should stay with the first user's profile %s, is in %s", pa.ID, pd.ID)
	}
	ex, err := e.ExplainLink(context.Background(), user("A"), user("B"))
	if err != nil {
		t.Fatal(err)
	}
	if ex.Linked || len(ex.Rejected) != 1 {
		t.Fatalf("explanation = %+v, want not linked with one refusal", ex)
	}
	r := ex.Rejected[0]
	if r.A != "user_id:B" || r.B != "device_id:tablet" || r.Evidence != "e2" || !strings.Contains(r.Reason, "user_id") {
		t.Fatalf("refusal = %+v", r)
	}
	// The event still belongs to B's journey.
	if got := journey(t, e, pb.ID, graph.JourneyQuery{}); !same(got, []string{"e2"}) {
		t.Fatalf("B's journey = %v", got)
	}
}

// Scenario 4: blocked values never link anyone.
func testBlockedValues(t *testing.T, open Opener) {
	e := newEngine(t, open)
	junk := []graph.IdentifierRef{email("null"), anon("undefined"), device("0000"), anon("-1"), device("---"), anon("NaN"), email(""), anon(strings.Repeat("x", 1025)),
		anon("(null)"), device("[object Object]"), user("<nil>"), email("N/A")}
	res := apply(t, e,
		ev("e1", 1, append([]graph.IdentifierRef{user("A")}, junk...)...),
		ev("e2", 2, append([]graph.IdentifierRef{user("B")}, junk...)...),
		ev("e3", 3, junk...),
	)
	if res.Stored != 2 || res.Results[2].Status != graph.StatusRejected {
		t.Fatalf("results = %+v", res.Results)
	}
	if profileOf(t, e, user("A")).ID == profileOf(t, e, user("B")).ID {
		t.Fatal("blocked values linked two people")
	}
	if got := members(t, e, profileOf(t, e, user("A")).ID); !same(got, []string{"user_id:A"}) {
		t.Fatalf("blocked values were stored: %v", got)
	}
	_, err := e.ProfileByIdentifier(context.Background(), email("null"))
	wantCode(t, err, graph.EINVALID)
	if e.Normalizer().Drops()[graph.DropBlocked] == 0 || e.Normalizer().Drops()[graph.DropTooLong] == 0 {
		t.Fatalf("drops not counted: %v", e.Normalizer().Drops())
	}
}

// Scenario 5: the journey follows event time, not arrival time.
func testOutOfOrder(t *testing.T, open Opener) {
	e := newEngine(t, open)
	apply(t, e, ev("late", 30, user("A")))
	apply(t, e, ev("early", 10, user("A")))
	apply(t, e, ev("middle", 20, user("A")))
	p := profileOf(t, e, user("A"))
	if got := journey(t, e, p.ID, graph.JourneyQuery{}); !same(got, []string{"late", "middle", "early"}) {
		t.Fatalf("journey = %v", got)
	}
}

// Scenario 6: a messageId sent twice is stored once.
func testDuplicates(t *testing.T, open Opener) {
	e := newEngine(t, open)
	res := apply(t, e, ev("m1", 1, user("A")), ev("m1", 1, user("A")))
	if res.Stored != 1 || res.Duplicates != 1 {
		t.Fatalf("same batch: %+v", res)
	}
	res = apply(t, e, ev("m1", 1, user("A"), email("a@example.com")))
	if res.Stored != 0 || res.Duplicates != 1 {
		t.Fatalf("replay: %+v", res)
	}
	p := profileOf(t, e, user("A"))
	if got := journey(t, e, p.ID, graph.JourneyQuery{}); !same(got, []string{"m1"}) {
		t.Fatalf("journey = %v", got)
	}
	// A replayed message links nothing.
	if _, err := e.ProfileByIdentifier(context.Background(), email("a@example.com")); graph.ErrorCode(err) != graph.ENOTFOUND {
		t.Fatalf("replayed duplicate stored an identifier: %v", err)
	}
}

// Scenario 7: a merged-away profile id resolves to the survivor.
func testRedirect(t *testing.T, open Opener) {
	e := newEngine(t, open)
	apply(t, e, ev("e1", 1, email("big@example.com"), anon("X1")))
	apply(t, e, ev("e2", 2, anon("Y")))
	big, small := profileOf(t, e, anon("X1")), profileOf(t, e, anon("Y"))
	apply(t, e, ev("e3", 3, email("big@example.com"), anon("Y")))
	got, err := e.ProfileByID(context.Background(), small.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != big.ID || got.Size != 3 {
		t.Fatalf("old id resolved to %s (size %d), want survivor %s size 3", got.ID, got.Size, big.ID)
	}
	h, err := e.History(context.Background(), []string{big.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(h[big.ID]) != 1 || h[big.ID][0].Kind != graph.ChangeMerge || h[big.ID][0].From != small.ID || !strings.Contains(h[big.ID][0].Reason, "e3") {
		t.Fatalf("history = %+v", h[big.ID])
	}
	// A second merge: the chain of redirects still resolves.
	apply(t, e, ev("e4", 4, email("other@example.com"), anon("Z1"), anon("Z2"), anon("Z3")))
	apply(t, e, ev("e5", 5, email("other@example.com"), email("big@example.com")))
	final := profileOf(t, e, anon("Y"))
	for _, old := range []string{small.ID, big.ID, final.ID} {
		p, err := e.ProfileByID(context.Background(), old)
		if err != nil || p.ID != final.ID {
			t.Fatalf("ProfileByID(%s) = %s, %v; want %s", old, p.ID, err, final.ID)
		}
	}
	_, err = e.ProfileByID(context.Background(), "p_doesnotexist")
	wantCode(t, err, graph.ENOTFOUND)
	page, err := e.Profiles(context.Background(), graph.PageQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Profiles) != 1 || page.Total != 1 {
		t.Fatalf("merged-away profiles listed: %+v", page)
	}
}

// Scenario 8: removing a bridging identifier splits the profile, and each
// part keeps exactly its own events.
func testRemoveBridge(t *testing.T, open Opener) {
	e := newEngine(t, open)
	apply(t, e,
		ev("e1", 1, email("one@example.com"), device("shared")),
		ev("e2", 2, email("two@example.com"), device("shared")),
		ev("e3", 3, email("two@example.com"), anon("T")),
		ev("only-device", 4, device("shared")),
	)
	whole := profileOf(t, e, device("shared"))
	if whole.Size != 4 {
		t.Fatalf("before removal size = %d", whole.Size)
	}
	out, err := e.RemoveIdentifier(context.Background(), device("shared"), "GDPR erasure request 42")
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].ID != whole.ID || out[0].Size != 2 || out[1].Size != 1 {
		t.Fatalf("split result = %+v", out)
	}
	p1, p2 := profileOf(t, e, email("one@example.com")), profileOf(t, e, email("two@example.com"))
	if p1.ID == p2.ID {
		t.Fatal("profile did not split")
	}
	if p2.ID != whole.ID {
		t.Fatalf("largest part should keep the id %s, got %s", whole.ID, p2.ID)
	}
	if got := journey(t, e, p1.ID, graph.JourneyQuery{}); !same(got, []string{"e1"}) {
		t.Fatalf("part 1 journey = %v", got)
	}
	if got := journey(t, e, p2.ID, graph.JourneyQuery{}); !same(got, []string{"e3", "e2"}) {
		t.Fatalf("part 2 journey = %v", got)
	}
	evs, err := e.Events(context.Background(), []string{"only-device", "e1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := evs["only-device"]; ok {
		t.Fatal("an event carried only by the erased identifier survived")
	}
	if got := evs["e1"].Keys; len(got) != 1 || got[0] != "email:one@example.com" {
		t.Fatalf("e1 still names the erased identifier: %v", got)
	}
	_, err = e.ProfileByIdentifier(context.Background(), device("shared"))
	wantCode(t, err, graph.ENOTFOUND)
	h, err := e.History(context.Background(), []string{p1.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(h[p1.ID]) != 1 || h[p1.ID][0].Kind != graph.ChangeSplit || h[p1.ID][0].From != whole.ID {
		t.Fatalf("split history = %+v", h[p1.ID])
	}
	_, err = e.RemoveIdentifier(context.Background(), device("shared"), "again")
	wantCode(t, err, graph.ENOTFOUND)
	_, err = e.RemoveIdentifier(context.Background(), anon("T"), " ")
	wantCode(t, err, graph.EINVALID)
	// A reason is at most 500 bytes of text without control characters
	// (tab and newline aside), refused before anything is read.
	for _, bad := range []string{"erasure\x00", "erasure\r", "erasure\u0085", strings.Repeat("x", 501)} {
		_, err = e.RemoveIdentifier(context.Background(), anon("T"), bad)
		wantCode(t, err, graph.EINVALID)
	}
	// Removing the last identifier of a profile leaves no empty profile.
	out, err = e.RemoveIdentifier(context.Background(), email("one@example.com"), "erasure")
	if err != nil || len(out) != 0 {
		t.Fatalf("remove last identifier: %v %+v", err, out)
	}
	_, err = e.ProfileByID(context.Background(), p1.ID)
	wantCode(t, err, graph.ENOTFOUND)
}

func testUnlink(t *testing.T, open Opener) {
	e := newEngine(t, open)
	apply(t, e,
		ev("e1", 1, user("A"), anon("shared-browser")),
		ev("e2", 2, anon("shared-browser")),
		ev("e3", 3, user("A")),
	)
	p := profileOf(t, e, user("A"))
	out, err := e.UnlinkIdentifiers(context.Background(), user("A"), anon("shared-browser"), "support ticket 7: wrong merge")
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 {
		t.Fatalf("unlink gave %d profiles, want 2", len(out))
	}
	pa, pb := profileOf(t, e, user("A")), profileOf(t, e, anon("shared-browser"))
	if pa.ID == pb.ID || pa.ID != p.ID {
		t.Fatalf("after unlink: A in %s, browser in %s (was %s)", pa.ID, pb.ID, p.ID)
	}
	// e1 was carried by both, so both parts show it; the rest stay apart.
	if got := journey(t, e, pa.ID, graph.JourneyQuery{}); !same(got, []string{"e3", "e1"}) {
		t.Fatalf("A journey = %v", got)
	}
	if got := journey(t, e, pb.ID, graph.JourneyQuery{}); !same(got, []string{"e2", "e1"}) {
		t.Fatalf("browser journey = %v", got)
	}
	// A later event carrying both does not undo the correction.
	apply(t, e, ev("e4", 4, user("A"), anon("shared-browser")))
	if profileOf(t, e, user("A")).ID == profileOf(t, e, anon("shared-browser")).ID {
		t.Fatal("an event re-linked a manually unlinked pair")
	}
	ex, err := e.ExplainLink(context.Background(), user("A"), anon("shared-browser"))
	if err != nil {
		t.Fatal(err)
	}
	if ex.Linked || len(ex.Rejected) == 0 || ex.Rejected[0].Source != graph.SourceManual {
		t.Fatalf("explanation after unlink = %+v", ex)
	}
	_, err = e.UnlinkIdentifiers(context.Background(), user("A"), anon("shared-browser"), "again")
	wantCode(t, err, graph.ENOTFOUND)
	_, err = e.UnlinkIdentifiers(context.Background(), user("A"), user("nobody"), "x")
	wantCode(t, err, graph.ENOTFOUND)
}

func testManualMerge(t *testing.T, open Opener) {
	e := newEngine(t, open)
	apply(t, e, ev("e1", 1, user("A"), email("a@example.com")), ev("e2", 2, email("a.work@example.com")), ev("e3", 3, user("B")))
	pa, pw, pb := profileOf(t, e, user("A")), profileOf(t, e, email("a.work@example.com")), profileOf(t, e, user("B"))
	got, err := e.MergeProfiles(context.Background(), []string{pw.ID, pa.ID}, "same person, confirmed by phone")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != pa.ID || got.Size != 3 {
		t.Fatalf("merge survivor = %+v, want %s size 3", got, pa.ID)
	}
	if q := profileOf(t, e, email("a.work@example.com")); q.ID != pa.ID {
		t.Fatalf("merged identifier in %s", q.ID)
	}
	ex, err := e.ExplainLink(context.Background(), email("a.work@example.com"), user("A"))
	if err != nil {
		t.Fatal(err)
	}
	if !ex.Linked || len(ex.Path) != 1 || ex.Path[0].Link.Source != graph.SourceManual || ex.Path[0].Link.Evidence != "same person, confirmed by phone" {
		t.Fatalf("explanation of manual merge = %+v", ex)
	}
	_, err = e.MergeProfiles(context.Background(), []string{pa.ID, pb.ID}, "would hold two user ids")
	wantCode(t, err, graph.ECONFLICT)
	_, err = e.MergeProfiles(context.Background(), []string{pa.ID, pb.ID}, "would hold\x1b two user ids")
	wantCode(t, err, graph.EINVALID) // the reason is checked first
	_, err = e.MergeProfiles(context.Background(), []string{pa.ID, pw.ID}, "same profile twice")
	wantCode(t, err, graph.EINVALID)
	_, err = e.MergeProfiles(context.Background(), []string{pa.ID, "p_missing"}, "missing")
	wantCode(t, err, graph.ENOTFOUND)
	// The manual link can be cut again.
	out, err := e.UnlinkIdentifiers(context.Background(), email("a.work@example.com"), user("A"), "not the same person after all")
	if err != nil || len(out) != 2 {
		t.Fatalf("undo manual merge: %v %+v", err, out)
	}
}

func testExplainPath(t *testing.T, open Opener) {
	e := newEngine(t, open)
	apply(t, e, ev("e1", 1, email("a@example.com"), anon("B")), ev("e2", 2, anon("B"), device("C")))
	ex, err := e.ExplainLink(context.Background(), email("A@example.com"), device("C"))
	if err != nil {
		t.Fatal(err)
	}
	if !ex.Linked || len(ex.Path) != 2 {
		t.Fatalf("explanation = %+v", ex)
	}
	s0, s1 := ex.Path[0], ex.Path[1]
	if s0.From != "email:a@example.com" || s0.To != "anonymous_id:B" || s0.Link.Evidence != "e1" || s0.Link.Source != "test" {
		t.Fatalf("step 0 = %+v", s0)
	}
	if s1.From != "anonymous_id:B" || s1.To != "device_id:C" || s1.Link.Evidence != "e2" || s1.Link.Count != 1 {
		t.Fatalf("step 1 = %+v", s1)
	}
	apply(t, e, ev("e3", 3, email("a@example.com"), anon("B")))
	ex, err = e.ExplainLink(context.Background(), email("a@example.com"), anon("B"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.Path) != 1 || ex.Path[0].Link.Count != 2 || ex.Path[0].Link.Evidence != "e1" || !ex.Path[0].Link.LastSeen.Equal(at(3)) {
		t.Fatalf("repeated link = %+v", ex.Path)
	}
	_, err = e.ExplainLink(context.Background(), email("a@example.com"), device("nope"))
	wantCode(t, err, graph.ENOTFOUND)
}

func testIdentityGraph(t *testing.T, open Opener) {
	e := newEngine(t, open)
	apply(t, e, ev("e1", 1, user("A"), device("D"), anon("X")), ev("e2", 2, user("B"), device("D")))
	pb := profileOf(t, e, user("B"))
	g, err := e.IdentityGraph(context.Background(), pb.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Links) != 0 || len(g.Rejected) != 1 || len(g.Nodes) != 2 {
		t.Fatalf("graph of B = %+v", g)
	}
	pa := profileOf(t, e, user("A"))
	g, err = e.IdentityGraph(context.Background(), pa.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Links) != 2 || len(g.Rejected) != 1 || len(g.Nodes) != 4 {
		t.Fatalf("graph of A = %+v", g)
	}
	var outside int
	for _, n := range g.Nodes {
		if n.ProfileID != pa.ID {
			outside++
		}
	}
	if outside != 1 {
		t.Fatalf("want one node outside the profile, got %d", outside)
	}
	_, err = e.IdentityGraph(context.Background(), "p_missing")
	wantCode(t, err, graph.ENOTFOUND)
}
