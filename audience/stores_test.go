package audience_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/audience/keep"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
	"pgregory.net/rapid"
)

// The differential test of the filter language across the stores: random
// filters over random profiles (traits of every JSON kind, events with
// nested properties at the edges of windows, consent records, audience
// memberships) are counted by each store's Preview, which on Neo4j is
// one compiled Cypher statement (audience.FilterCounter), and compared
// with the reference evaluator of this package's tests (RefEval), which
// works on the drawn profiles themselves.

// noComputed turns each computed condition into the same comparison on a
// trait: computed values are derived from events by the keeper, and this
// test draws traits instead.
func noComputed(f *audience.Filter) {
	switch {
	case f.And != nil:
		for i := range f.And {
			noComputed(&f.And[i])
		}
	case f.Or != nil:
		for i := range f.Or {
			noComputed(&f.Or[i])
		}
	case f.Not != nil:
		noComputed(f.Not)
	case f.Computed != nil:
		c := f.Computed
		f.Computed = nil
		f.Trait = &audience.TraitCondition{Name: map[string]string{"orders": "b", "ltv": "c"}[c.Name], Op: c.Op, Value: c.Value}
	}
}

var audienceIDs = []string{"seg_0123456789abcdef0123456789abcdef", "seg_11111111111111111111111111111111"}

// audiencePurposes are the purposes of audienceIDs, in order ("": none).
var audiencePurposes = []string{"", "email"}

// granting returns s as the reference reads its memberships at GenNow: a
// copy in which it is a member of an audience of audienceIDs with a
// purpose only while its consent state for the purpose is GRANTED.
func granting(s *audience.Subject) *audience.Subject {
	c := *s
	c.Audiences = map[string]bool{}
	for i, id := range audienceIDs {
		c.Audiences[id] = s.Audiences[id] && (audiencePurposes[i] == "" ||
			audience.RefState(s.Consent, audiencePurposes[i], audience.GenNow) == privacy.StateGranted)
	}
	return &c
}

// storeSubject writes the drawn profile i: one anonymous id plus an
// identifier of each drawn type, all carried by every event (but a decoy)
// so that they make one profile; an identify event (added to s.Events,
// which the reference then also counts) carries the traits, and maybe a
// decoy that must lose to it. Consent record ids are rewritten to the
// ledger's form, keeping their order.
func storeSubject(t *rapid.T, eng *graph.Engine, cs privacy.ConsentStore, i int, s *audience.Subject) string {
	ctx := context.Background()
	anon := graph.IdentifierRef{Type: "anonymous_id", Value: fmt.Sprintf("anon-%d", i)}
	ids := []graph.IdentifierRef{anon}
	for _, id := range s.Identifiers {
		v := map[string]string{"email": fmt.Sprintf("p%d@ex.com", i), "phone": fmt.Sprintf("+1415555010%d", i), "user_id": fmt.Sprintf("u%d", i)}[id.Type]
		ids = append(ids, graph.IdentifierRef{Type: id.Type, Value: v})
	}
	decoy := -1
	if len(s.Traits) > 0 {
		at := audience.GenNow.AddDate(-3, 0, 0)
		s.Events = append(s.Events, graph.Event{ID: "identify", Type: "identify", Timestamp: at, Traits: s.Traits})
		// A decoy: the same traits with another value, from the same time
		// but received a second earlier, on the anonymous id alone (whose
		// key sorts before every other type's, and which is the identify's
		// own identifier when it is the only one), applied after the
		// identify. The later received wins, whatever the key order and
		// the order applied: the profile's traits stay s.Traits, which
		// the reference reads.
		if rapid.Bool().Draw(t, "decoy") {
			other := make(map[string]any, len(s.Traits))
			for name := range s.Traits {
				other[name] = "decoy"
			}
			s.Events = append(s.Events, graph.Event{ID: "decoy", Type: "identify", Timestamp: at, Traits: other})
			decoy = len(s.Events) - 1
		}
	}
	var batch []graph.Event
	for j, e := range s.Events {
		refs, received := ids, audience.GenNow
		if j == decoy {
			refs, received = []graph.IdentifierRef{anon}, audience.GenNow.Add(-time.Second)
		}
		batch = append(batch, graph.Event{
			ID: fmt.Sprintf("test/s%d-%d", i, j), Type: e.Type, Name: e.Name, Channel: "web", Source: "test",
			Timestamp: e.Timestamp, ReceivedAt: received, Properties: e.Properties, Traits: e.Traits,
			Identifiers: refs,
		})
	}
	if len(batch) == 0 {
		batch = append(batch, graph.Event{ID: fmt.Sprintf("test/s%d-alias", i), Type: "alias", Channel: "web", Source: "test",
			Timestamp: audience.GenNow.AddDate(-3, 0, 0), ReceivedAt: audience.GenNow, Identifiers: ids})
		s.Events = append(s.Events, graph.Event{Type: "alias", Timestamp: batch[0].Timestamp})
	}
	res, err := eng.ApplyBatch(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Results {
		if r.Status != graph.StatusStored {
			t.Fatalf("event of profile %d: %+v", i, r)
		}
	}
	var records []privacy.Record
	for k := range s.Consent {
		r := &s.Consent[k]
		var n int
		fmt.Sscanf(r.ID, "cns_%d", &n)
		r.ID = fmt.Sprintf("cns_%02x%030x", i, n)
		r.Identifier = anon.Key()
		r.Source, r.LegalBasis, r.Proof = "test", privacy.BasisConsent, privacy.Proof{Version: "v1"}
		records = append(records, *r)
	}
	if err := cs.PutConsent(ctx, records); err != nil {
		t.Fatal(err)
	}
	p, err := eng.ProfileByIdentifier(ctx, anon)
	if err != nil {
		t.Fatal(err)
	}
	return p.ID
}

// runStoresProperty draws profiles and filters, stores the profiles in s
// and compares Preview with the reference. counter, when not nil, is s's
// FilterCounter, which must evaluate every filter drawn.
func runStoresProperty(t *rapid.T, s graph.Store, counter audience.FilterCounter) {
	ctx := context.Background()
	st := s.(audience.Store)
	cs := s.(privacy.ConsentStore)
	eng := graph.NewEngine(s, nil)
	k := keep.New(eng, st, cs, func() time.Time { return audience.GenNow })
	// The second audience has a purpose: an inAudience naming it holds
	// only for a kept member that grants it now. Members are kept below
	// whatever their consent, as the keeper kept them before a withdrawal
	// or an expiry.
	for i, id := range audienceIDs {
		if err := st.PutAudience(ctx, audience.Audience{ID: id, Name: id, Static: true, Purpose: audiencePurposes[i], CreatedAt: audience.GenNow, UpdatedAt: audience.GenNow}); err != nil {
			t.Fatal(err)
		}
	}
	p := audience.DrawPalette(t)
	n := rapid.IntRange(1, 4).Draw(t, "profiles")
	subjects := make([]*audience.Subject, n)
	pids := make([]string, n)
	for i := range subjects {
		subjects[i] = p.DrawSubject(t)
		pids[i] = storeSubject(t, eng, cs, i, subjects[i])
	}
	for _, id := range audienceIDs {
		var enter []string
		for i, sub := range subjects {
			if sub.Audiences[id] {
				enter = append(enter, pids[i])
			}
		}
		if err := st.ApplyMembership(ctx, id, enter, nil, audience.GenNow); err != nil {
			t.Fatal(err)
		}
	}
	env := audience.GenEnv()
	for q := range 6 {
		f := p.DrawFilter(t, rapid.IntRange(0, 3).Draw(t, "depth"))
		noComputed(&f)
		if err := audience.Check(&f, env, "filter"); err != nil {
			t.Fatalf("a drawn filter fails Check: %v", err)
		}
		purpose := rapid.SampledFrom([]string{"", "", "email"}).Draw(t, "purpose")
		var want []string
		for i, sub := range subjects {
			if purpose != "" && audience.RefState(sub.Consent, purpose, audience.GenNow) != privacy.StateGranted {
				continue
			}
			if audience.RefEval(&f, granting(sub), audience.GenNow) {
				want = append(want, pids[i])
			}
		}
		slices.Sort(want)
		if want == nil {
			want = []string{}
		}
		b, _ := json.Marshal(f)
		got, sample, err := k.Preview(ctx, &f, purpose, 10)
		if err != nil {
			t.Fatalf("filter %d %s: %v", q, b, err)
		}
		if got != len(want) || !reflect.DeepEqual(sample, want) {
			t.Fatalf("filter %d, purpose %q: %s\nPreview gives %d %v, the reference %d %v", q, purpose, b, got, sample, len(want), want)
		}
		if counter != nil {
			if _, _, err := counter.CountFilter(ctx, audience.FilterQuery{Filter: &f, Purpose: purpose, Now: audience.GenNow}); err != nil {
				t.Fatalf("filter %d %s: the store's own evaluation: %v", q, b, err)
			}
		}
	}
}

// eachRapidStore checks prop on a fresh embedded store per example, then
// on Neo4j (emptied per example, checks examples unless the command line
// says), passing the store's FilterCounter on Neo4j.
func eachRapidStore(t *testing.T, checks int, prop func(t *rapid.T, s graph.Store, counter audience.FilterCounter)) {
	t.Run("embedded", func(t *testing.T) {
		rapid.Check(t, func(rt *rapid.T) {
			dir, err := os.MkdirTemp(t.TempDir(), "rapid")
			if err != nil {
				rt.Fatal(err)
			}
			s, err := embedded.Open(dir)
			if err != nil {
				rt.Fatal(err)
			}
			defer func() { _ = s.Close(context.Background()); _ = os.RemoveAll(dir) }()
			prop(rt, s, nil)
		})
	})
	t.Run("neo4j", func(t *testing.T) {
		s := storetest.OpenNeo4j(t)
		storetest.WithRapidChecks(checks, func() {
			rapid.Check(t, func(rt *rapid.T) {
				if err := s.DeleteAll(context.Background()); err != nil {
					rt.Fatal(err)
				}
				prop(rt, s, s)
			})
		})
	})
}

func TestStoresMatchReference(t *testing.T) { eachRapidStore(t, 30, runStoresProperty) }

// An event carried by two people whose profiles may not merge (two
// user_ids, one per profile) belongs to both, but shows its properties
// only to the one holding its highest-priority identifier (both are
// user_ids, so the smaller key: user_id:u1). Hand-worked counts on both
// stores.
func TestSharedEventProperties(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		st := s.(audience.Store)
		eng := graph.NewEngine(s, nil)
		k := keep.New(eng, st, s.(privacy.ConsentStore), func() time.Time { return audience.GenNow })
		u1 := graph.IdentifierRef{Type: "user_id", Value: "u1"}
		u2 := graph.IdentifierRef{Type: "user_id", Value: "u2"}
		at := audience.GenNow.Add(-time.Hour)
		res, err := eng.ApplyBatch(ctx, []graph.Event{
			{ID: "test/1", Type: "track", Name: "Seen", Channel: "web", Source: "test", Timestamp: at, ReceivedAt: at, Identifiers: []graph.IdentifierRef{u1}},
			{ID: "test/2", Type: "track", Name: "Seen", Channel: "web", Source: "test", Timestamp: at, ReceivedAt: at, Identifiers: []graph.IdentifierRef{u2}},
			{ID: "test/3", Type: "track", Name: "Order", Channel: "web", Source: "test", Timestamp: at, ReceivedAt: at,
				Identifiers: []graph.IdentifierRef{u2, u1}, Properties: map[string]any{"total": 50.0}},
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Results {
			if r.Status != graph.StatusStored {
				t.Fatalf("%+v", r)
			}
		}
		p1, err := eng.ProfileByIdentifier(ctx, u1)
		if err != nil {
			t.Fatal(err)
		}
		p2, err := eng.ProfileByIdentifier(ctx, u2)
		if err != nil {
			t.Fatal(err)
		}
		if p1.ID == p2.ID {
			t.Fatal("the two user_ids merged; the test needs them apart")
		}
		both := []string{p1.ID, p2.ID}
		slices.Sort(both)
		order := func(where ...audience.PropertyFilter) *audience.Filter {
			return &audience.Filter{Event: &audience.EventCondition{Name: "Order", Where: where}}
		}
		for _, c := range []struct {
			what string
			f    *audience.Filter
			want []string
		}{
			{"an order", order(), both},
			{"an order over 10", order(audience.PropertyFilter{Path: "total", Op: audience.OpGT, Value: 10.0}), []string{p1.ID}},
			{"an order with no total", order(audience.PropertyFilter{Path: "total", Op: audience.OpNotExists}), []string{p2.ID}},
			{"no order over 10", &audience.Filter{Not: order(audience.PropertyFilter{Path: "total", Op: audience.OpGT, Value: 10.0})}, []string{p2.ID}},
		} {
			n, ids, err := k.Preview(ctx, c.f, "", 5)
			if err != nil {
				t.Fatal(err)
			}
			if n != len(c.want) || !reflect.DeepEqual(ids, c.want) {
				t.Errorf("%s: %d %v, want %v", c.what, n, ids, c.want)
			}
		}
	})
}

// A computed condition counts a profile by the trait's value computed
// from its events: both stores' Preview (on Neo4j, computed inside the
// compiled statement) agree with the reference computation of
// TestComputeMatchesReference, compared by the reference evaluator.
func runComputedProperty(t *rapid.T, s graph.Store, counter audience.FilterCounter) {
	ctx := context.Background()
	st := s.(audience.Store)
	eng := graph.NewEngine(s, nil)
	now := rapid.SampledFrom(audience.ComputedNows).Draw(t, "now")
	k := keep.New(eng, st, s.(privacy.ConsentStore), func() time.Time { return now })
	def, ref := audience.DrawComputedTrait(t, "t")
	def.CreatedAt, def.UpdatedAt = now, now
	if err := st.PutComputedTrait(ctx, def); err != nil {
		t.Fatal(err)
	}
	anon := graph.IdentifierRef{Type: "anonymous_id", Value: "anon-0"}
	events := audience.DrawComputedEvents(t, now)
	batch := []graph.Event{{ID: "test/first", Type: "alias", Channel: "web", Source: "test", Timestamp: now.AddDate(-5, 0, 0), ReceivedAt: now, Identifiers: []graph.IdentifierRef{anon}}}
	for _, e := range events {
		e.ID = "test/" + e.ID
		e.Channel, e.Source, e.ReceivedAt, e.Identifiers = "web", "test", now, []graph.IdentifierRef{anon}
		batch = append(batch, e)
	}
	if _, err := eng.ApplyBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	p, err := eng.ProfileByIdentifier(ctx, anon)
	if err != nil {
		t.Fatal(err)
	}
	value := ref(events, now)
	values := []any{0.0, 1.0, 0.25, 2.0, 4.5, "a", "b", "1", true, false}
	env := audience.Env{Computed: func(n string) bool { return n == "t" }}
	for q := range 4 {
		c := &audience.ComputedCondition{Name: "t", Op: rapid.SampledFrom(audience.Ops).Draw(t, "op")}
		switch c.Op {
		case audience.OpExists, audience.OpNotExists:
		case audience.OpIN:
			c.Value = rapid.SliceOfN(rapid.SampledFrom(values), 1, 3).Draw(t, "in")
		case audience.OpStartsWith:
			c.Value = rapid.SampledFrom([]any{"a", "", "1"}).Draw(t, "prefix")
		case audience.OpGT, audience.OpGTE, audience.OpLT, audience.OpLTE:
			c.Value = rapid.SampledFrom(values[:8]).Draw(t, "ordered")
		default:
			c.Value = rapid.SampledFrom(values).Draw(t, "value")
		}
		f := audience.Filter{Computed: c}
		if err := audience.Check(&f, env, "filter"); err != nil {
			t.Fatalf("drawn condition: %v", err)
		}
		want := []string{}
		if audience.RefEval(&f, &audience.Subject{Computed: map[string]any{"t": value}}, now) {
			want = []string{p.ID}
		}
		n, ids, err := k.Preview(ctx, &f, "", 5)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(f)
		if n != len(want) || !reflect.DeepEqual(ids, want) {
			t.Fatalf("condition %d %s on %+v, value %#v: Preview gives %d %v, want %v", q, b, def, value, n, ids, want)
		}
		if counter != nil {
			if _, _, err := counter.CountFilter(ctx, audience.FilterQuery{Filter: &f, Now: now,
				Computed: map[string]audience.ComputedTrait{"t": def}}); err != nil {
				t.Fatalf("condition %d %s: the store's own evaluation: %v", q, b, err)
			}
		}
	}
}

func TestComputedMatchesReference(t *testing.T) { eachRapidStore(t, 30, runComputedProperty) }
