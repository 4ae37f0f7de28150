package audience_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

var bg = context.Background()

var ft0 = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

func fat(minute int) time.Time { return ft0.Add(time.Duration(minute) * time.Minute) }

// forgetStore is what the erasure tests need of a store.
type forgetStore interface {
	graph.Store
	audience.Store
	privacy.SuppressionStore
}

type forgetEnv struct {
	t   *testing.T
	s   forgetStore
	eng *graph.Engine
	x   *privacy.Eraser
	tok string
	// last is what the erasure's hook deleted on its last run.
	last audience.Forgotten
}

func newForgetEnv(t *testing.T, s graph.Store) *forgetEnv {
	t.Helper()
	fs, ok := s.(forgetStore)
	if !ok {
		t.Fatalf("%T cannot hold audiences and suppressions", s)
	}
	eng := graph.NewEngine(fs, nil)
	list, err := privacy.OpenSuppressionList(bg, fs)
	storetest.Must(t, err)
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return &forgetEnv{t: t, s: fs, eng: eng, x: privacy.NewEraser(eng, list), tok: hex.EncodeToString(b)}
}

// hook is the erasure's extra hook: the audience data of the profiles
// the erasure deletes or changes.
func (e *forgetEnv) hook() privacy.ReceiptHook {
	return func(ctx context.Context, tx graph.Tx, w *graph.Write, x *graph.Erasure, _ privacy.ErasureReceipt) error {
		f, _, err := audience.ForgetErasureInTx(ctx, tx, w, x)
		e.last = f
		return err
	}
}

// ingest stores one event carrying keys and returns its profile, and the
// profiles it merged away.
func (e *forgetEnv) ingest(id string, minute int, keys ...string) (string, []string) {
	e.t.Helper()
	ev := graph.Event{ID: "forget/" + e.tok + "/" + id, Type: "track", Name: "Viewed", Channel: "web", Source: "test",
		Timestamp: fat(minute), ReceivedAt: fat(minute)}
	for _, k := range keys {
		ev.Identifiers = append(ev.Identifiers, graph.SplitKey(k))
	}
	res, err := e.eng.ApplyBatch(bg, []graph.Event{ev})
	storetest.Must(e.t, err)
	if res.Stored != 1 {
		e.t.Fatalf("event %s: %+v", id, res.Results)
	}
	return res.Results[0].ProfileID, res.Merged
}

func segID(n int) string { return fmt.Sprintf("seg_%032x", n) }

func (e *forgetEnv) putAudiences(ns ...int) {
	e.t.Helper()
	for _, n := range ns {
		storetest.Must(e.t, e.s.PutAudience(bg, audience.Audience{
			ID: segID(n), Name: fmt.Sprintf("audience %d", n),
			Filter:    audience.Filter{Trait: &audience.TraitCondition{Name: "plan", Op: audience.OpEQ, Value: "pro"}},
			CreatedAt: fat(0), UpdatedAt: fat(0),
		}))
	}
}

func (e *forgetEnv) apply(n int, enter, exit []string, minute int) {
	e.t.Helper()
	storetest.Must(e.t, e.s.ApplyMembership(bg, segID(n), enter, exit, fat(minute)))
}

// state is an audience as the tests compare it: size, members and log
// (oldest first, as "KIND profile").
type state struct {
	Size    int
	Members []string
	Log     []string
}

func (e *forgetEnv) audienceState(n int) state {
	e.t.Helper()
	m, err := e.s.Audiences(bg, []string{segID(n)})
	storetest.Must(e.t, err)
	a, ok := m[segID(n)]
	if !ok {
		e.t.Fatalf("audience %d is not stored", n)
	}
	st := state{Size: a.Size, Members: []string{}, Log: []string{}}
	ms, err := e.s.Members(bg, segID(n), audience.Page{Limit: audience.MaxPage})
	storetest.Must(e.t, err)
	for _, mb := range ms {
		st.Members = append(st.Members, mb.ProfileID)
	}
	cs, err := e.s.Changes(bg, segID(n), audience.ChangePage{Limit: audience.MaxPage})
	storetest.Must(e.t, err)
	for i := len(cs) - 1; i >= 0; i-- {
		st.Log = append(st.Log, cs[i].Kind+" "+cs[i].ProfileID)
	}
	return st
}

func sorted2(a, b string) []string {
	if a > b {
		return []string{b, a}
	}
	return []string{a, b}
}

// TestForgetProfileLeavesNoAudienceTrace erases a person who was in two
// audiences under two profile ids (one merged into the other), with
// computed values, and finds neither id in any audience, log or value
// right after the erasure, with no keeper run in between; the other
// people's audience data is as it was.
func TestForgetProfileLeavesNoAudienceTrace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newForgetEnv(t, s)
		annEmail, annAnon := "email:ann."+e.tok+"@example.com", "anonymous_id:anon-"+e.tok
		a1, _ := e.ingest("a1", 1, annEmail)
		a2, _ := e.ingest("a2", 2, annAnon)
		bob, _ := e.ingest("b", 3, "email:bob."+e.tok+"@example.com")
		cat, _ := e.ingest("c", 4, "email:cat."+e.tok+"@example.com")
		ann, merged := e.ingest("a3", 5, annEmail, annAnon)
		if len(merged) != 1 || !reflect.DeepEqual(sorted2(ann, merged[0]), sorted2(a1, a2)) {
			t.Fatalf("merge of %s and %s: survivor %s, merged %v", a1, a2, ann, merged)
		}
		gone := merged[0] // redirects to ann, erased with it

		e.putAudiences(1, 2, 3)
		// Audience 1: ann, bob and the merged-away id enter; that id
		// exits. Audience 2: ann and cat enter; ann exits and enters
		// again. Audience 3: bob alone.
		e.apply(1, []string{ann, bob, gone}, nil, 10)
		e.apply(1, nil, []string{gone}, 11)
		e.apply(2, []string{ann, cat}, nil, 10)
		e.apply(2, nil, []string{ann}, 12)
		e.apply(2, []string{ann}, nil, 13)
		e.apply(3, []string{bob}, nil, 10)
		storetest.Must(t, e.s.PutComputedValues(bg, []audience.ComputedValue{
			{ProfileID: ann, Name: "orders", Value: int64(3), ComputedAt: fat(10)},
			{ProfileID: ann, Name: "ltv", Value: "ann-ltv-" + e.tok, ComputedAt: fat(10), Expires: fat(100)},
			{ProfileID: gone, Name: "orders", Value: int64(1), ComputedAt: fat(10), Expires: fat(90)},
			{ProfileID: bob, Name: "orders", Value: int64(5), ComputedAt: fat(10), Expires: fat(95)},
		}))
		if st := e.audienceState(1); st.Size != 2 || len(st.Log) != 4 {
			t.Fatalf("before the erasure, audience 1 is %+v, want size 2 and 4 changes", st)
		}

		if _, err := e.x.ForgetProfile(bg, ann, "asked to be forgotten", privacy.Requester{}, e.hook()); err != nil {
			t.Fatal(err)
		}

		// Memberships: ann in audiences 1 and 2. Changes: in audience 1
		// ENTERED ann, ENTERED gone, EXITED gone; in audience 2 ENTERED,
		// EXITED, ENTERED ann. Values: two of ann's, one of gone's.
		if want := (audience.Forgotten{Memberships: 2, Changes: 6, Values: 3}); e.last != want {
			t.Errorf("forgotten %+v, want %+v", e.last, want)
		}
		for n, want := range map[int]state{
			1: {Size: 1, Members: []string{bob}, Log: []string{"ENTERED " + bob}},
			2: {Size: 1, Members: []string{cat}, Log: []string{"ENTERED " + cat}},
			3: {Size: 1, Members: []string{bob}, Log: []string{"ENTERED " + bob}},
		} {
			if got := e.audienceState(n); !reflect.DeepEqual(got, want) {
				t.Errorf("audience %d after the erasure: %+v, want %+v", n, got, want)
			}
		}
		ms, err := e.s.MembershipsOf(bg, []string{ann, gone, bob, cat})
		storetest.Must(t, err)
		got := map[string][]string{}
		for pid, l := range ms {
			for _, m := range l {
				got[pid] = append(got[pid], m.AudienceID)
			}
		}
		if want := map[string][]string{bob: {segID(1), segID(3)}, cat: {segID(2)}}; !reflect.DeepEqual(got, want) {
			t.Errorf("memberships after the erasure: %v, want %v", got, want)
		}
		vs, err := e.s.ComputedValues(bg, []string{ann, gone, bob})
		storetest.Must(t, err)
		if len(vs) != 1 || len(vs[bob]) != 1 || vs[bob]["orders"].Value != int64(5) {
			t.Errorf("computed values after the erasure: %v, want bob's orders 5 only", vs)
		}
		exp, err := e.s.ExpiringValues(bg, fat(1000), audience.MaxPage)
		storetest.Must(t, err)
		if len(exp) != 1 || exp[0].ProfileID != bob {
			t.Errorf("expiring values after the erasure: %v, want bob's only", exp)
		}

		// The feed names the erased profiles in their Forgotten entries
		// alone, which its retention trims; nothing else is left.
		fs := s.(graph.FeedStore)
		entries, err := fs.Feed(bg, 0, nil, graph.MaxFeedPage)
		storetest.Must(t, err)
		var named []string
		for _, x := range entries {
			for _, p := range append([]string{x.ProfileID}, x.PreviousIDs...) {
				if p == ann || p == gone {
					named = append(named, string(x.Kind)+" "+p)
				}
			}
		}
		slices.Sort(named)
		if want := sorted2("FORGOTTEN "+ann, "FORGOTTEN "+gone); !reflect.DeepEqual(named, want) {
			t.Errorf("feed entries naming the erased profiles: %v, want %v", named, want)
		}
		if _, err := fs.TrimFeed(bg, time.Now().Add(time.Hour), graph.MaxFeedPage); err != nil {
			t.Fatal(err)
		}
		if es, _ := s.(*embedded.Store); es != nil {
			_, err := es.Scrub(bg)
			storetest.Must(t, err)
		}
		raw := storetest.Scan(t, s)
		for _, needle := range []string{ann, gone, "ann-ltv-" + e.tok} {
			if strings.Contains(raw, needle) {
				t.Errorf("the store still holds %q after the erasure", needle)
			}
		}
		for _, needle := range []string{bob, cat} {
			if !strings.Contains(raw, needle) {
				t.Errorf("the scan misses %q, which stays", needle)
			}
		}
	})
}

// TestForgetIdentifierDropsComputedValues erases one identifier of a
// profile: its computed values go (they may hold the erased values), its
// memberships and log stay for the keeper to evaluate again.
func TestForgetIdentifierDropsComputedValues(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newForgetEnv(t, s)
		email, user := "email:dan."+e.tok+"@example.com", "user_id:dan-"+e.tok
		dan, _ := e.ingest("d1", 1, email, user)
		eve, _ := e.ingest("e1", 2, "email:eve."+e.tok+"@example.com")
		e.putAudiences(1)
		e.apply(1, []string{dan, eve}, nil, 10)
		storetest.Must(t, e.s.PutComputedValues(bg, []audience.ComputedValue{
			{ProfileID: dan, Name: "last_email", Value: "dan." + e.tok + "@example.com", ComputedAt: fat(10), Expires: fat(60)},
			{ProfileID: eve, Name: "last_email", Value: "eve", ComputedAt: fat(10)},
		}))

		_, ps, err := e.x.ForgetIdentifier(bg, graph.SplitKey(email), "wrong address", privacy.Requester{}, e.hook())
		storetest.Must(t, err)
		if len(ps) != 1 || ps[0].ID != dan {
			t.Fatalf("profiles left: %+v, want %s alone", ps, dan)
		}
		if want := (audience.Forgotten{Values: 1}); e.last != want {
			t.Errorf("forgotten %+v, want %+v", e.last, want)
		}
		vs, err := e.s.ComputedValues(bg, []string{dan, eve})
		storetest.Must(t, err)
		if len(vs) != 1 || vs[eve]["last_email"].Value != "eve" {
			t.Errorf("computed values: %v, want eve's only", vs)
		}
		want := state{Size: 2, Members: sorted2(dan, eve), Log: []string{"ENTERED " + dan, "ENTERED " + eve}}
		if got := e.audienceState(1); !reflect.DeepEqual(got, want) {
			t.Errorf("audience after the erasure: %+v, want %+v", got, want)
		}
		if raw := storetest.Scan(t, s); strings.Contains(raw, "dan."+e.tok) {
			t.Error("the store still holds the erased email")
		}
	})
}

// TestErasureDeletesFactsOfEveryProfileItTouches: Bob's user id holds
// Ann's address as a trait, and he shared an event with her (their user
// ids cannot merge). Erasing Ann scrubs his traits,
// so his kept facts, which copy them, go with hers in the erasure's
// transaction; Carol's stay.
func TestErasureDeletesFactsOfEveryProfileItTouches(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newForgetEnv(t, s)
		annEmail := "ann." + e.tok + "@example.com"
		ann, _ := e.ingest("a1", 1, "email:"+annEmail, "user_id:ann-"+e.tok)
		carol, _ := e.ingest("c1", 2, "user_id:carol-"+e.tok)
		own := graph.Event{ID: "forget/" + e.tok + "/bob", Type: "identify", Channel: "web", Source: "test",
			Timestamp: fat(3), ReceivedAt: fat(3),
			Identifiers: []graph.IdentifierRef{{Type: "user_id", Value: "bob-" + e.tok}},
			Traits:      map[string]any{"referrer": annEmail}}
		shared := graph.Event{ID: "forget/" + e.tok + "/shared", Type: "track", Name: "Viewed", Channel: "web", Source: "test",
			Timestamp: fat(4), ReceivedAt: fat(4),
			Identifiers: []graph.IdentifierRef{{Type: "user_id", Value: "ann-" + e.tok}, {Type: "user_id", Value: "bob-" + e.tok}}}
		res, err := e.eng.ApplyBatch(bg, []graph.Event{own, shared})
		storetest.Must(t, err)
		bp, err := e.eng.ProfileByIdentifier(bg, graph.IdentifierRef{Type: "user_id", Value: "bob-" + e.tok})
		storetest.Must(t, err)
		bob := bp.ID
		if bob == ann || bob == carol || res.Stored != 2 {
			t.Fatalf("the shared event merged or was not stored: ann %s bob %s carol %s, %+v", ann, bob, carol, res.Results)
		}
		before, err := e.eng.Identifiers(bg, []string{"user_id:bob-" + e.tok})
		storetest.Must(t, err)
		if before["user_id:bob-"+e.tok].Traits["referrer"].Value != annEmail {
			t.Fatal("Bob's identifier did not take the referrer trait")
		}
		var facts []audience.Facts
		for _, pid := range []string{ann, bob, carol} {
			facts = append(facts, audience.FactsOf(pid, &audience.Subject{Traits: map[string]any{"referrer": annEmail}}))
		}
		storetest.Must(t, e.s.PutFacts(bg, facts))

		_, err = e.x.ForgetProfile(bg, ann, "erasure request", privacy.Requester{}, e.hook())
		storetest.Must(t, err)
		ids, err := e.eng.Identifiers(bg, []string{"user_id:bob-" + e.tok})
		storetest.Must(t, err)
		if tv, ok := ids["user_id:bob-"+e.tok].Traits["referrer"]; ok && tv.Value == annEmail {
			t.Fatal("Bob's referrer trait still holds the erased address")
		}
		got, err := e.s.Facts(bg, []string{ann, bob, carol})
		storetest.Must(t, err)
		if _, ok := got[carol]; len(got) != 1 || !ok {
			t.Fatalf("facts left for %d profiles (carol %v), want Carol's alone", len(got), got[carol].ProfileID != "")
		}
	})
}

// TestErasureDeletesDerivedDataOfSharedEvents: Bob shared an event with
// Ann (their user ids cannot merge) whose properties hold her address, and
// nothing else of his names her. Erasing Ann scrubs that event's payload,
// so his kept facts and computed values, which may copy it, go in the
// erasure's transaction; Carol's stay.
func TestErasureDeletesDerivedDataOfSharedEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newForgetEnv(t, s)
		annEmail := "ann." + e.tok + "@example.com"
		ann, _ := e.ingest("a1", 1, "email:"+annEmail, "user_id:ann-"+e.tok)
		bob, _ := e.ingest("b1", 2, "user_id:bob-"+e.tok)
		carol, _ := e.ingest("c1", 3, "user_id:carol-"+e.tok)
		shared := graph.Event{ID: "forget/" + e.tok + "/shared", Type: "track", Name: "Noted", Channel: "web", Source: "test",
			Timestamp: fat(4), ReceivedAt: fat(4), Properties: map[string]any{"note": annEmail},
			Identifiers: []graph.IdentifierRef{{Type: "user_id", Value: "ann-" + e.tok}, {Type: "user_id", Value: "bob-" + e.tok}}}
		res, err := e.eng.ApplyBatch(bg, []graph.Event{shared})
		storetest.Must(t, err)
		if res.Stored != 1 || len(res.Merged) != 0 {
			t.Fatalf("the shared event merged or was not stored: %+v", res)
		}
		var facts []audience.Facts
		var values []audience.ComputedValue
		for _, pid := range []string{bob, carol} {
			facts = append(facts, audience.FactsOf(pid, &audience.Subject{Traits: map[string]any{"plan": "pro"}}))
			values = append(values, audience.ComputedValue{ProfileID: pid, Name: "last_note", Value: annEmail, ComputedAt: fat(5)})
		}
		storetest.Must(t, e.s.PutFacts(bg, facts))
		storetest.Must(t, e.s.PutComputedValues(bg, values))

		receipt, err := e.x.ForgetProfile(bg, ann, "erasure request", privacy.Requester{}, e.hook())
		storetest.Must(t, err)
		if receipt.ScrubbedEvents != 1 {
			t.Fatalf("receipt %+v, want the shared event scrubbed", receipt)
		}
		gotFacts, err := e.s.Facts(bg, []string{bob, carol})
		storetest.Must(t, err)
		if _, ok := gotFacts[carol]; len(gotFacts) != 1 || !ok {
			t.Errorf("facts left for %d profiles (bob %v), want Carol's alone", len(gotFacts), gotFacts[bob].ProfileID != "")
		}
		vs, err := e.s.ComputedValues(bg, []string{bob, carol})
		storetest.Must(t, err)
		if _, ok := vs[carol]; len(vs) != 1 || !ok {
			t.Errorf("computed values left for %d profiles (bob %v), want Carol's alone", len(vs), vs[bob] != nil)
		}
	})
}
