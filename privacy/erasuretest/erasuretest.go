// Package erasuretest is the conformance suite of erasure: the engine's
// ForgetProfile and ForgetIdentifier with privacy.Eraser (consent records,
// suppression, receipts) on a real store. Every store runs it (graph/embedded
// and graph/neo4jstore), with a raw scan of the store (storetest.Scan): the
// bytes of the database file for the embedded store, every property of
// every node and relationship for Neo4j. Expectations are worked out by hand from the
// events the tests send, never read back from what the store wrote.
package erasuretest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

var (
	must     = storetest.Must
	wantCode = storetest.WantCode
)

// Store is what the suite needs of a store.
type Store interface {
	graph.Store
	privacy.ConsentStore
	privacy.SuppressionStore
	privacy.ReceiptStore
}

// Run runs the suite; open returns a fresh, empty store for one test.
func Run(t *testing.T, open func(t *testing.T) graph.Store) {
	scan := func(t *testing.T, s graph.Store) string { return storetest.Scan(t, s) }
	get := storetest.As[Store](open)
	t.Run("ForgetProfileLeavesNoTrace", func(t *testing.T) { testForgetProfile(t, get(t), scan) })
	t.Run("ForgetIdentifierSplitsAndScrubs", func(t *testing.T) { testForgetIdentifier(t, get(t), scan) })
	t.Run("RemoveIdentifierScrubsWithoutSuppressing", func(t *testing.T) { testRemoveIdentifier(t, get(t), scan) })
	t.Run("ForgetIdentifierScrubsEarlierMerges", func(t *testing.T) { testNestedHistory(t, get(t), scan) })
	t.Run("ForgetIdentifierScrubsSharedEventText", func(t *testing.T) { testSharedEventText(t, get(t), scan) })
	t.Run("ShortIDOfAnotherTypeGoesUnderItsName", func(t *testing.T) { testShortCustomID(t, get(t)) })
	t.Run("ForgettingTheLastIdentifierLeavesNoRedirect", func(t *testing.T) { testLastIdentifier(t, get(t)) })
	t.Run("ForgetIdentifierScrubsTheProfilesOtherEvents", func(t *testing.T) { testProfileEvents(t, get(t), scan) })
	t.Run("ErasureMovesSharersUpdatedAt", func(t *testing.T) { testSharersTouched(t, get(t)) })
	t.Run("FailedErasureChangesNothing", func(t *testing.T) { testRollback(t, get(t)) })
	t.Run("BadInput", func(t *testing.T) { testBadInput(t, get(t)) })
	t.Run("Unsuppress", func(t *testing.T) { testUnsuppress(t, get(t)) })
}

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func at(minute int) time.Time { return t0.Add(time.Duration(minute) * time.Minute) }

func token(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func ref(typ, v string) graph.IdentifierRef { return graph.IdentifierRef{Type: typ, Value: v} }

func event(id string, minute int, ids ...graph.IdentifierRef) graph.Event {
	return graph.Event{ID: id, Type: "track", Name: "Viewed", Channel: "web", Source: "test", Timestamp: at(minute), ReceivedAt: at(minute), Identifiers: ids}
}

func identify(id string, minute int, traits map[string]any, ids ...graph.IdentifierRef) graph.Event {
	e := event(id, minute, ids...)
	e.Type, e.Name, e.Traits = "identify", "", traits
	return e
}

func apply(t *testing.T, e *graph.Engine, evs ...graph.Event) {
	t.Helper()
	res, err := e.ApplyBatch(context.Background(), evs)
	must(t, err)
	if res.Stored != len(evs) {
		t.Fatalf("stored %d of %d events: %+v", res.Stored, len(evs), res.Results)
	}
}

func record(n int, key, purpose string) privacy.Record {
	id := "cns_" + strings.Repeat("0", 31) + string(rune('0'+n))
	return privacy.Record{ID: id, Purpose: purpose, Status: privacy.StatusGranted, At: at(n), Source: "web",
		LegalBasis: privacy.BasisConsent, Identifier: key, ReceivedAt: at(n)}
}

func newEraser(t *testing.T, s Store) (*graph.Engine, *privacy.Eraser) {
	t.Helper()
	e := graph.NewEngine(s, nil)
	list, err := privacy.OpenSuppressionList(context.Background(), s)
	must(t, err)
	return e, privacy.NewEraser(e, list)
}

// people is the data of testForgetProfile: Ann, who asks to be forgotten,
// and Bob, who shares one event with her.
type people struct {
	annEmail, annUser, annName, annPhone, annAnon, annTablet string
	bobEmail, bobUser, bobName                               string
	// needles must not be found anywhere once Ann is erased; bobNeedle
	// must still be.
	needles   []string
	bobNeedle string
}

func newPeople(t *testing.T) people {
	ta, tu, tn, tb := token(t), token(t), token(t), token(t)
	return people{
		annEmail: "ann." + ta + "@example.com", annUser: "ann-" + tu, annName: "Annabel " + tn,
		annPhone: "+14155550167", annAnon: "web-" + tu, annTablet: "tablet-" + tu,
		// Bob's user id sorts before Ann's, so it anchors their shared
		// event and takes its traits.
		bobEmail: "bob." + tb + "@example.com", bobUser: "aa-bob-" + tb, bobName: "Bob " + tb,
		needles:   []string{ta, tu, tn, "5550167", "555-0167"},
		bobNeedle: tb,
	}
}

// load sends the scenario's events. Ann's phone and email first make two
// profiles that her identify then merges (one id is merged away).
func (p people) load(t *testing.T, e *graph.Engine, s Store) (phoneProfile, emailProfile string) {
	t.Helper()
	ctx := context.Background()
	apply(t, e, event("ann-mobile", 0, ref("phone", p.annPhone), ref("anonymous_id", p.annTablet)))
	apply(t, e, event("ann-web", 0, ref("email", p.annEmail), ref("anonymous_id", p.annAnon)))
	pp, err := e.ProfileByIdentifier(ctx, ref("phone", p.annPhone))
	must(t, err)
	ep, err := e.ProfileByIdentifier(ctx, ref("email", p.annEmail))
	must(t, err)
	if pp.ID == ep.ID {
		t.Fatal("Ann's phone and email share a profile before her identify")
	}
	apply(t, e, identify("ann-identify", 1, map[string]any{"name": p.annName, "email": p.annEmail, "plan": "gold", "address": p.annAddress()},
		ref("user_id", p.annUser), ref("email", p.annEmail), ref("phone", p.annPhone)))
	var tracks []graph.Event
	for i := range 10 {
		ev := event("ann-track-"+string(rune('a'+i)), 2+i, ref("anonymous_id", p.annAnon))
		ev.Properties = map[string]any{"contact": " Ann." + p.annEmail[4:len(p.annEmail)-len("example.com")] + "Example.COM ", "i": i, "sku": "X-1"}
		tracks = append(tracks, ev)
	}
	apply(t, e, tracks...)
	call := event("ann-phone", 20, ref("phone", p.annPhone))
	call.Properties = map[string]any{"phone": "(415) 555-0167"}
	apply(t, e, call)

	apply(t, e, identify("bob-identify", 1, map[string]any{"name": p.bobName, "plan": "silver"},
		ref("user_id", p.bobUser), ref("email", p.bobEmail)))
	apply(t, e, event("bob-track-a", 3, ref("user_id", p.bobUser)), event("bob-track-b", 4, ref("user_id", p.bobUser)),
		event("bob-track-c", 5, ref("email", p.bobEmail)))
	// A second user id is refused: the event is Bob's and Ann's at once,
	// and its traits land on Bob's user id, the anchor.
	shared := identify("shared", 30, map[string]any{"name": p.annName, "company": "Acme", "address": p.annAddress()},
		ref("user_id", p.bobUser), ref("user_id", p.annUser))
	shared.Properties = map[string]any{
		"note":   "  " + strings.ToUpper(p.annEmail) + " ",
		"plan":   "pro",
		"friend": map[string]any{"phone": "(415) 555-0167", "city": "Lyon"},
		"tags":   []any{"x", p.annUser},
	}
	apply(t, e, shared)

	must(t, s.PutConsent(ctx, []privacy.Record{
		record(1, "email:"+p.annEmail, "email"), record(2, "email:"+p.annEmail, "advertising"),
		record(3, "user_id:"+p.annUser, "analytics"), record(4, "email:"+p.bobEmail, "email"),
	}))
	return pp.ID, ep.ID
}

// annAddress is Ann's address, an object-valued personal trait: its
// street (long enough to be an erased value on its own) must go wherever
// it is copied, its city (four letters, a common word) may stay.
func (p people) annAddress() map[string]any {
	return map[string]any{"street": "1 Quiet Lane " + p.needles[2], "city": "Lyon"}
}

func (p people) annKeys() []string {
	return []string{"anonymous_id:" + p.annAnon, "anonymous_id:" + p.annTablet, "email:" + p.annEmail, "phone:" + p.annPhone, "user_id:" + p.annUser}
}

func testForgetProfile(t *testing.T, s Store, scan func(*testing.T, graph.Store) string) {
	ctx := context.Background()
	e, x := newEraser(t, s)
	p := newPeople(t)
	phoneProfile, emailProfile := p.load(t, e, s)
	before := scan(t, s)
	for _, n := range append(slices.Clone(p.needles), p.bobNeedle) {
		if !strings.Contains(strings.ToLower(before), n) {
			t.Fatalf("the raw scan does not find %q before the erasure: it cannot tell whether the erasure worked", n)
		}
	}
	ann, err := e.ProfileByIdentifier(ctx, ref("user_id", p.annUser))
	must(t, err)

	reason := "GDPR request from " + p.annEmail + " ticket 77"
	rc, err := x.ForgetProfile(ctx, phoneProfile, reason, privacy.Requester{KeyID: "key_1", KeyName: "dpo"}, nil)
	must(t, err)

	// 5 identifiers; 14 events only Ann's (mobile, web, identify, 10
	// tracks, phone); 1 shared; traits: her user id's name, email, plan
	// and address, and Bob's name and address, which the shared identify
	// set to hers; 3 consent records.
	want := privacy.ErasureReceipt{
		ID: rc.ID, At: rc.At, Kind: privacy.ErasureProfile, Reason: "GDPR request from [erased] ticket 77",
		KeyID: "key_1", KeyName: "dpo", Identifiers: 5, Events: 14, ScrubbedEvents: 1, Traits: 6,
		ConsentRecords: 3, SuppressedHashes: 5,
	}
	if rc != want {
		t.Fatalf("receipt = %+v\nwant %+v", rc, want)
	}
	rs, err := s.Receipts(ctx, privacy.ReceiptQuery{Limit: 10})
	must(t, err)
	if len(rs) != 1 || rs[0].ID != rc.ID || rs[0].Reason != want.Reason || rs[0].Events != 14 {
		t.Fatalf("stored receipts = %+v, want the one returned", rs)
	}

	// Every id of Ann's is gone: the survivor, the id merged away, her
	// identifiers.
	for _, id := range []string{ann.ID, phoneProfile, emailProfile} {
		_, err := e.ProfileByID(ctx, id)
		wantCode(t, err, graph.ENOTFOUND, "profile "+id+" after forgetProfile")
	}
	for _, k := range p.annKeys() {
		_, err := e.ProfileByIdentifier(ctx, graph.SplitKey(k))
		wantCode(t, err, graph.ENOTFOUND, "Ann's identifier after forgetProfile")
	}
	// Bob is intact, but for what was Ann's.
	bob, err := e.ProfileByIdentifier(ctx, ref("user_id", p.bobUser))
	must(t, err)
	ms, err := e.Members(ctx, []string{bob.ID})
	must(t, err)
	var keys []string
	traits := map[string]any{}
	for _, m := range ms[bob.ID] {
		keys = append(keys, m.Key)
		for n, tv := range m.Traits {
			traits[n] = tv.Value
		}
	}
	if w := []string{"email:" + p.bobEmail, "user_id:" + p.bobUser}; !slices.Equal(keys, w) {
		t.Errorf("Bob's identifiers = %v, want %v", keys, w)
	}
	if w := map[string]any{"plan": "silver", "company": "Acme", "address": map[string]any{"city": "Lyon"}}; !reflect.DeepEqual(traits, w) {
		t.Errorf("Bob's traits = %v, want %v (his name and address were Ann's, set by the shared identify)", traits, w)
	}
	js, err := e.Journeys(ctx, []string{bob.ID}, graph.JourneyQuery{Limit: 100})
	must(t, err)
	var ids []string
	for _, ev := range js[bob.ID] {
		ids = append(ids, ev.ID)
	}
	if w := []string{"shared", "bob-track-c", "bob-track-b", "bob-track-a", "bob-identify"}; !slices.Equal(ids, w) {
		t.Errorf("Bob's journey = %v, want %v", ids, w)
	}
	evs, err := e.Events(ctx, []string{"shared", "ann-identify", "ann-track-a"})
	must(t, err)
	if len(evs) != 1 {
		t.Errorf("events left of shared, ann-identify, ann-track-a: %v; want only shared", slices.Sorted(maps.Keys(evs)))
	}
	sh := evs["shared"]
	if w := []string{"user_id:" + p.bobUser}; !slices.Equal(sh.Keys, w) {
		t.Errorf("shared event keys = %v, want %v", sh.Keys, w)
	}
	if w := map[string]any{"plan": "pro", "friend": map[string]any{"city": "Lyon"}, "tags": []any{"x"}}; !reflect.DeepEqual(sh.Properties, w) {
		t.Errorf("shared event properties = %#v, want %#v", sh.Properties, w)
	}
	if w := map[string]any{"company": "Acme", "address": map[string]any{"city": "Lyon"}}; !reflect.DeepEqual(sh.Traits, w) {
		t.Errorf("shared event traits = %#v, want %#v", sh.Traits, w)
	}

	// Consent: Ann's records went, Bob's stayed.
	cs, err := s.ConsentOf(ctx, append(p.annKeys(), "email:"+p.bobEmail))
	must(t, err)
	if len(cs) != 1 || len(cs["email:"+p.bobEmail]) != 1 {
		t.Errorf("consent after forgetProfile holds %d identifiers' records, want Bob's one record", len(cs))
	}
	// Suppression: each of Ann's identifiers, none of Bob's.
	for _, k := range p.annKeys() {
		on, err := x.List().KeySuppressed(ctx, k)
		must(t, err)
		if !on {
			t.Errorf("an erased %s is not suppressed", graph.SplitKey(k).Type)
		}
	}
	for _, k := range []string{"email:" + p.bobEmail, "user_id:" + p.bobUser} {
		on, err := x.List().KeySuppressed(ctx, k)
		must(t, err)
		if on {
			t.Errorf("Bob's %s is suppressed", graph.SplitKey(k).Type)
		}
	}

	// Nothing of Ann's anywhere in the store; Bob's data still is.
	after := strings.ToLower(scan(t, s))
	for _, n := range p.needles {
		if strings.Contains(after, n) {
			i := strings.Index(after, n)
			t.Errorf("the raw scan still finds an erased value %q: …%s…", n, after[max(0, i-80):min(len(after), i+80)])
		}
	}
	if !strings.Contains(after, p.bobNeedle) {
		t.Error("the raw scan no longer finds Bob's values")
	}

	// Erasing again is NOT_FOUND, and changes nothing.
	_, err = x.ForgetProfile(ctx, ann.ID, "again", privacy.Requester{}, nil)
	wantCode(t, err, graph.ENOTFOUND, "forgetProfile of an erased profile")
}

// bridge sends an identifier E that bridges a user id U (through U's
// identify, which also sets E as U's email trait) and a device A (through
// a track), plus one event of E alone, and a consent record on E.
func bridge(t *testing.T, e *graph.Engine, s Store) (u, em, a string, name string) {
	t.Helper()
	tok := token(t)
	u, em, a, name = "u-"+tok, "e."+tok+"@example.com", "dev-"+tok, "Nora "+tok
	apply(t, e, event("e1", 1, ref("email", em), ref("anonymous_id", a)))
	apply(t, e, identify("e2", 2, map[string]any{"email": " " + strings.ToUpper(em), "name": name}, ref("user_id", u), ref("email", em)))
	apply(t, e, event("e3", 3, ref("email", em)))
	must(t, s.PutConsent(context.Background(), []privacy.Record{record(5, "email:"+em, "email")}))
	return u, em, a, name
}

// checkBridgeScrubbed checks what forgetIdentifier and removeIdentifier
// both leave of bridge's data once E is erased.
func checkBridgeScrubbed(t *testing.T, e *graph.Engine, s Store, ps []graph.Profile, u, em, a, name string) {
	t.Helper()
	ctx := context.Background()
	if len(ps) != 2 {
		t.Fatalf("the bridge's profile split into %d profiles, want 2", len(ps))
	}
	pu, err := e.ProfileByIdentifier(ctx, ref("user_id", u))
	must(t, err)
	pa, err := e.ProfileByIdentifier(ctx, ref("anonymous_id", a))
	must(t, err)
	if pu.ID == pa.ID {
		t.Fatal("the user id and the device still share a profile")
	}
	_, err = e.ProfileByIdentifier(ctx, ref("email", em))
	wantCode(t, err, graph.ENOTFOUND, "the erased email")
	ids, err := e.Identifiers(ctx, []string{"user_id:" + u})
	must(t, err)
	traits := map[string]any{}
	for n, tv := range ids["user_id:"+u].Traits {
		traits[n] = tv.Value
	}
	if w := map[string]any{"name": name}; !reflect.DeepEqual(traits, w) {
		t.Errorf("the user id's traits = %v, want %v (its email trait was the erased email)", traits, w)
	}
	evs, err := e.Events(ctx, []string{"e1", "e2", "e3"})
	must(t, err)
	if _, ok := evs["e3"]; ok || len(evs) != 2 {
		t.Fatalf("events left = %v, want e1 and e2", slices.Sorted(maps.Keys(evs)))
	}
	if w := map[string]any{"name": name}; !reflect.DeepEqual(evs["e2"].Traits, w) {
		t.Errorf("e2 traits = %v, want %v", evs["e2"].Traits, w)
	}
	if !slices.Equal(evs["e1"].Keys, []string{"anonymous_id:" + a}) || !slices.Equal(evs["e2"].Keys, []string{"user_id:" + u}) {
		t.Errorf("keys of e1, e2 = %v, %v; want the device's and the user id's", evs["e1"].Keys, evs["e2"].Keys)
	}
	cs, err := s.ConsentOf(ctx, []string{"email:" + em})
	must(t, err)
	if len(cs) != 0 {
		t.Error("the erased email's consent records survived")
	}
}

func testForgetIdentifier(t *testing.T, s Store, scan func(*testing.T, graph.Store) string) {
	ctx := context.Background()
	e, x := newEraser(t, s)
	u, em, a, name := bridge(t, e, s)
	// A manual merge whose reason (its link's evidence, its history)
	// names the email, and an unlink whose reason (the refusal's, the
	// split's history) names it too, between identifiers that stay.
	apply(t, e, event("x1", 4, ref("anonymous_id", "x-"+u), ref("device_id", "b-"+u)))
	pu, err := e.ProfileByIdentifier(ctx, ref("user_id", u))
	must(t, err)
	px, err := e.ProfileByIdentifier(ctx, ref("anonymous_id", "x-"+u))
	must(t, err)
	_, err = e.MergeProfiles(ctx, []string{pu.ID, px.ID}, "same person as "+em)
	must(t, err)
	_, err = e.UnlinkIdentifiers(ctx, ref("anonymous_id", "x-"+u), ref("device_id", "b-"+u), "b is not "+strings.ToUpper(em))
	must(t, err)
	rc, ps, err := x.ForgetIdentifier(ctx, ref("email", "  "+strings.ToUpper(em)), "asked by phone", privacy.Requester{}, nil)
	must(t, err)
	// One identifier; e3 deleted; e1 and e2 scrubbed; the user id's email
	// trait; one consent record; one hash.
	want := privacy.ErasureReceipt{ID: rc.ID, At: rc.At, Kind: privacy.ErasureIdentifier, Reason: "asked by phone",
		Identifiers: 1, Events: 1, ScrubbedEvents: 2, Traits: 1, ConsentRecords: 1, SuppressedHashes: 1}
	if rc != want {
		t.Fatalf("receipt = %+v\nwant %+v", rc, want)
	}
	checkBridgeScrubbed(t, e, s, ps, u, em, a, name)
	on, err := x.List().KeySuppressed(ctx, "email:"+em)
	must(t, err)
	if !on {
		t.Error("the erased email is not suppressed")
	}
	for _, k := range []string{"user_id:" + u, "anonymous_id:" + a} {
		on, err := x.List().KeySuppressed(ctx, k)
		must(t, err)
		if on {
			t.Errorf("%s, which stays, is suppressed", graph.SplitKey(k).Type)
		}
	}
	raw := strings.ToLower(scan(t, s))
	if strings.Contains(raw, strings.ToLower(em)) {
		t.Error("the raw scan still finds the erased email")
	}
	if !strings.Contains(raw, strings.ToLower(name)) {
		t.Error("the raw scan no longer finds the name, which was not erased")
	}
}

func testRemoveIdentifier(t *testing.T, s Store, scan func(*testing.T, graph.Store) string) {
	ctx := context.Background()
	e, x := newEraser(t, s)
	u, em, a, name := bridge(t, e, s)
	ps, err := x.RemoveIdentifier(ctx, ref("email", em), "wrong email", nil)
	must(t, err)
	checkBridgeScrubbed(t, e, s, ps, u, em, a, name)
	on, err := x.List().KeySuppressed(ctx, "email:"+em)
	must(t, err)
	if on {
		t.Error("removeIdentifier suppressed the identifier; only an erasure does")
	}
	n, err := s.CountReceipts(ctx)
	must(t, err)
	if n != 0 {
		t.Errorf("removeIdentifier left %d receipts, want none", n)
	}
	if strings.Contains(strings.ToLower(scan(t, s)), strings.ToLower(em)) {
		t.Error("the raw scan still finds the removed email")
	}
}

// An email's profile took an anonymous visitor's, then merged into a user
// id's. Erasing the email scrubs the history of both merges: the entry of
// the first, into a profile since merged away, names the email in its
// reason and holds its digest among its members.
func testNestedHistory(t *testing.T, s Store, scan func(*testing.T, graph.Store) string) {
	ctx := context.Background()
	e, x := newEraser(t, s)
	tok := token(t)
	em := "nested-" + tok + "@example.com"
	apply(t, e, event("n1", 1, ref("email", em)))
	apply(t, e, event("n2", 2, ref("anonymous_id", "x-"+tok)))
	apply(t, e, event("n3", 3, ref("email", em), ref("anonymous_id", "x-"+tok)))
	apply(t, e, event("n4", 4, ref("user_id", "u-"+tok), ref("device_id", "d1-"+tok), ref("device_id", "d2-"+tok)))
	apply(t, e, event("n5", 5, ref("user_id", "u-"+tok), ref("email", em)))
	pu, err := e.ProfileByIdentifier(ctx, ref("anonymous_id", "x-"+tok))
	must(t, err)
	if pu.Size != 5 {
		t.Fatalf("before the erasure the profile holds %d identifiers, want all 5", pu.Size)
	}
	_, _, err = x.ForgetIdentifier(ctx, ref("email", em), "asked by phone", privacy.Requester{}, nil)
	must(t, err)
	raw := strings.ToLower(scan(t, s))
	if strings.Contains(raw, em) {
		t.Error("the raw scan still finds the erased email")
	}
	if d := graph.MemberDigest("email:" + em); strings.Contains(raw, d) {
		t.Errorf("the raw scan still finds the erased email's digest %s", d)
	}
}

// A person erased one identifier at a time: when the last identifier of
// a profile goes, so do the profiles merged into it. Here the device's
// profile and the email's merge, the device is forgotten (the email's
// part keeps its own id back), then the email: no profile, redirect or
// feed entry of either is left, and neither id answers.
func testLastIdentifier(t *testing.T, s Store) {
	ctx := context.Background()
	e, x := newEraser(t, s)
	tok := token(t)
	em, dev := ref("email", "last-"+tok+"@example.com"), ref("anonymous_id", "last-dev-"+tok)
	apply(t, e, event("l1", 1, dev))
	apply(t, e, event("l2", 2, em))
	apply(t, e, event("l3", 3, dev, em))
	ids := []string{graph.ProfileIDFor("anonymous_id:"+dev.Value, 0), graph.ProfileIDFor("email:"+em.Value, 0)}
	p, err := e.ProfileByIdentifier(ctx, em)
	must(t, err)
	if p.Size != 2 || !slices.Contains(ids, p.ID) {
		t.Fatalf("before the erasures: profile %s of %d identifiers, want one of %v holding both", p.ID, p.Size, ids)
	}
	_, _, err = x.ForgetIdentifier(ctx, dev, "asked by phone", privacy.Requester{}, nil)
	must(t, err)
	_, _, err = x.ForgetIdentifier(ctx, em, "asked by mail", privacy.Requester{}, nil)
	must(t, err)
	for _, id := range ids {
		_, err := e.ProfileByID(ctx, id)
		wantCode(t, err, graph.ENOTFOUND, "profile "+id+" after both erasures")
	}
	must(t, s.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
		got, err := tx.Profiles(ctx, ids)
		if len(got) != 0 {
			t.Errorf("profiles left after both erasures (redirects included): %+v", got)
		}
		return err
	}))
	// The feed names them only in the erasures' own FORGOTTEN entries.
	if fs, ok := any(s).(graph.FeedStore); ok {
		entries, err := fs.Feed(ctx, 0, nil, graph.MaxFeedPage)
		must(t, err)
		for _, en := range entries {
			if en.Kind != graph.FeedForgotten && (slices.Contains(ids, en.ProfileID) || slices.ContainsFunc(en.PreviousIDs, func(p string) bool { return slices.Contains(ids, p) })) {
				t.Errorf("feed entry %d %s still names an erased profile: %+v", en.Seq, en.Kind, en)
			}
		}
	} else {
		t.Fatalf("%T keeps no feed", s)
	}
}

// An erasure that scrubs an event another profile shares changes what
// that profile's audiences read: its updatedAt moves on, so that the
// audience keeper does not keep an evaluation of it made before (see
// audience.KeepWrite.Read). Two user ids on one event cannot link (one
// user id a profile), so the event is Ann's and Bob's.
func testSharersTouched(t *testing.T, s Store) {
	ctx := context.Background()
	e, x := newEraser(t, s)
	tok := token(t)
	ann, bob := ref("user_id", "ann-"+tok), ref("user_id", "bob-"+tok)
	apply(t, e, graph.Event{ID: "s1-" + tok, Type: "track", Name: "Shared", Channel: "web", Source: "test", Timestamp: at(1), ReceivedAt: at(1),
		Properties: map[string]any{"note": "ann-" + tok}, Identifiers: []graph.IdentifierRef{ann, bob}})
	pa, err := e.ProfileByIdentifier(ctx, ann)
	must(t, err)
	before, err := e.ProfileByIdentifier(ctx, bob)
	must(t, err)
	if before.ID == pa.ID {
		t.Fatalf("Ann and Bob share profile %s; the test needs them apart", pa.ID)
	}
	_, _, err = x.ForgetIdentifier(ctx, ann, "asked by mail", privacy.Requester{}, nil)
	must(t, err)
	after, err := e.ProfileByIdentifier(ctx, bob)
	must(t, err)
	if after.ID != before.ID || !after.UpdatedAt.After(before.UpdatedAt) {
		t.Fatalf("Bob's profile after the erasure: %s updated %v; before: %s updated %v; want the same id, updated later",
			after.ID, after.UpdatedAt, before.ID, before.UpdatedAt)
	}
	if after.Size != before.Size || !maps.Equal(after.Counts, before.Counts) {
		t.Fatalf("Bob's profile changed beyond its updatedAt: size %d counts %v, before %d %v", after.Size, after.Counts, before.Size, before.Counts)
	}
}

func testRollback(t *testing.T, s Store) {
	ctx := context.Background()
	e, x := newEraser(t, s)
	p := newPeople(t)
	phoneProfile, _ := p.load(t, e, s)
	boom := errors.New("boom")
	_, err := x.ForgetProfile(ctx, phoneProfile, "request", privacy.Requester{}, func(context.Context, graph.Tx, *graph.Write, *graph.Erasure, privacy.ErasureReceipt) error {
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("forgetProfile with a failing hook: %v, want the hook's error", err)
	}
	for _, k := range p.annKeys() {
		if _, err := e.ProfileByIdentifier(ctx, graph.SplitKey(k)); err != nil {
			t.Errorf("after a failed erasure, %s: %v", graph.SplitKey(k).Type, err)
		}
		on, err := x.List().KeySuppressed(ctx, k)
		must(t, err)
		if on {
			t.Errorf("after a failed erasure, %s is suppressed", graph.SplitKey(k).Type)
		}
	}
	evs, err := e.Events(ctx, []string{"shared", "ann-track-a"})
	must(t, err)
	if len(evs) != 2 || len(evs["shared"].Keys) != 2 || evs["shared"].Properties["note"] == nil {
		t.Errorf("after a failed erasure the events changed: %+v", evs)
	}
	cs, err := s.ConsentOf(ctx, p.annKeys())
	must(t, err)
	if len(cs) != 2 {
		t.Errorf("after a failed erasure, %d of Ann's identifiers have consent records, want 2", len(cs))
	}
	n, err := s.CountReceipts(ctx)
	must(t, err)
	if n != 0 {
		t.Errorf("after a failed erasure, %d receipts, want none", n)
	}
	// The erasure then succeeds whole.
	rc, err := x.ForgetProfile(ctx, phoneProfile, "request", privacy.Requester{}, nil)
	must(t, err)
	if rc.Identifiers != 5 || rc.Events != 14 {
		t.Errorf("the erasure after a failed one: %+v", rc)
	}
}

func testBadInput(t *testing.T, s Store) {
	ctx := context.Background()
	e, x := newEraser(t, s)
	apply(t, e, event("m1", 1, ref("email", "kim@example.com")))
	p, err := e.ProfileByIdentifier(ctx, ref("email", "kim@example.com"))
	must(t, err)
	_, err = x.ForgetProfile(ctx, p.ID, "  ", privacy.Requester{}, nil)
	wantCode(t, err, graph.EINVALID, "an empty reason")
	if err != nil && !strings.Contains(err.Error(), "reason") {
		t.Errorf("the error %q does not name the reason", err)
	}
	_, err = x.ForgetProfile(ctx, "p_unknown", "request", privacy.Requester{}, nil)
	wantCode(t, err, graph.ENOTFOUND, "an unknown profile")
	_, _, err = x.ForgetIdentifier(ctx, ref("email", "not an email"), "request", privacy.Requester{}, nil)
	wantCode(t, err, graph.EINVALID, "a malformed email")
	_, _, err = x.ForgetIdentifier(ctx, ref("email", "nobody@example.com"), "request", privacy.Requester{}, nil)
	wantCode(t, err, graph.ENOTFOUND, "an unknown identifier")
	_, _, err = x.ForgetIdentifier(ctx, ref("email", "kim@example.com"), "", privacy.Requester{}, nil)
	wantCode(t, err, graph.EINVALID, "an empty reason")
	_, _, err = x.ForgetIdentifier(ctx, ref("email", "kim@example.com"), "request\x00", privacy.Requester{}, nil)
	wantCode(t, err, graph.EINVALID, "a reason with a control character")
	_, err = x.ForgetProfile(ctx, p.ID, strings.Repeat("x", graph.MaxReasonLen+1), privacy.Requester{}, nil)
	wantCode(t, err, graph.EINVALID, "a reason over 500 bytes")
	// None of these erased anything.
	if _, err := e.ProfileByIdentifier(ctx, ref("email", "kim@example.com")); err != nil {
		t.Errorf("after refused erasures: %v", err)
	}
	n, err := s.CountReceipts(ctx)
	must(t, err)
	if n != 0 {
		t.Errorf("refused erasures left %d receipts", n)
	}
}

func testUnsuppress(t *testing.T, s Store) {
	ctx := context.Background()
	e, x := newEraser(t, s)
	apply(t, e, event("m1", 1, ref("email", "lea@example.com"), ref("user_id", "lea")))
	_, _, err := x.ForgetIdentifier(ctx, ref("email", "lea@example.com"), "request", privacy.Requester{}, nil)
	must(t, err)
	_, err = x.Unsuppress(ctx, ref("email", "LEA@example.com"), "", nil)
	wantCode(t, err, graph.EINVALID, "unsuppress without a reason")
	_, err = x.Unsuppress(ctx, ref("email", "LEA@example.com"), "signed up\x07 again", nil)
	wantCode(t, err, graph.EINVALID, "unsuppress with a control character in its reason")
	was, err := x.Unsuppress(ctx, ref("email", " LEA@example.com"), "signed up again", nil)
	must(t, err)
	if !was {
		t.Error("unsuppress of a suppressed email reported it was not suppressed")
	}
	on, err := x.List().KeySuppressed(ctx, "email:lea@example.com")
	must(t, err)
	if on {
		t.Error("the email is still suppressed after unsuppress")
	}
	was, err = x.Unsuppress(ctx, ref("email", "lea@example.com"), "again", nil)
	must(t, err)
	if was {
		t.Error("a second unsuppress reported the email suppressed")
	}
	on, err = x.List().KeySuppressed(ctx, "user_id:lea")
	must(t, err)
	if on {
		t.Error("the user id, which was not erased, is suppressed")
	}
}
