package intel_test

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/audience/keep"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/intel"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// The differential test of lookalikes: random profiles (traits of every
// JSON kind, some under dotted or nested names, set at tying times on
// different identifiers; events of a few names and channels, some shared
// between two people; consent records; computed traits; a seed audience
// of at least MinSeed members) go into a fresh embedded store and the
// Neo4j store. Lookalike over keep.Subjects of the embedded store, page by
// page, and LookalikeFrom over the Neo4j store's streamed rows
// (intel.LookalikeReader) must give the same matches, and every row the
// same features as the embedded store's Subject of that profile.

var (
	lookNow      = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	lookAudience = "seg_" + strings.Repeat("5", 32)
	lookPurpose  = "marketing"
	longText     = strings.Repeat("x", 65)
	lookValues   = []any{"pro", "free", "", longText, true, false, 3.0, -2.5, 0.0, 1e6,
		[]any{"x", 1.0}, map[string]any{"a": 1.0, "b": "y"}, nil}
	lookTraits = []string{"plan", "vip", "a.b", "nested", "n"}
	lookDefs   = []audience.ComputedTrait{
		{Name: "vsum", Aggregate: audience.AggSum, Event: "A", Property: "v"},
		{Name: "arecent", Aggregate: audience.AggCount, Event: "A", Window: "P30D"},
		{Name: "lastc", Aggregate: audience.AggLast, EventType: "track", Property: "c"},
		{Name: "freq", Aggregate: audience.AggMostFrequent, EventType: "track", Property: "c", Window: "P14D"},
		{Name: "pages", Aggregate: audience.AggCount, EventType: "page"},
		{Name: "firstv", Aggregate: audience.AggFirst, Event: "B", Property: "v", Where: []audience.PropertyFilter{{Path: "c", Op: audience.OpEQ, Value: "x"}}},
	}
)

// lookData is what one example stores.
type lookData struct {
	events  []graph.Event
	consent []privacy.Record
	defs    []audience.ComputedTrait
	seed    []int // profile indexes
}

// drawLookData draws n profiles: profile i has anonymous_id:a{i} and
// user_id:u{i}, linked by an alias event.
func drawLookData(t *rapid.T) (lookData, int) {
	n := rapid.IntRange(intel.MinSeed+2, intel.MinSeed+10).Draw(t, "profiles")
	var d lookData
	anon := func(i int) graph.IdentifierRef {
		return graph.IdentifierRef{Type: "anonymous_id", Value: fmt.Sprintf("a%02d", i)}
	}
	user := func(i int) graph.IdentifierRef {
		return graph.IdentifierRef{Type: "user_id", Value: fmt.Sprintf("u%02d", i)}
	}
	at := func(label string) time.Time {
		// Whole days and hours, so that times often tie.
		return lookNow.Add(-time.Duration(rapid.IntRange(0, 60).Draw(t, label+"Days"))*24*time.Hour -
			time.Duration(rapid.IntRange(0, 2).Draw(t, label+"Hours"))*time.Hour)
	}
	for i := range n {
		d.events = append(d.events, graph.Event{ID: fmt.Sprintf("look/alias%02d", i), Type: "alias", Timestamp: lookNow.AddDate(-1, 0, 0),
			Identifiers: []graph.IdentifierRef{anon(i), user(i)}})
		// Traits, each on one of the profile's identifiers.
		for k := range rapid.IntRange(0, 4).Draw(t, "identifies") {
			traits := map[string]any{}
			for range rapid.IntRange(1, 3).Draw(t, "traits") {
				traits[rapid.SampledFrom(lookTraits).Draw(t, "trait")] = rapid.SampledFrom(lookValues).Draw(t, "value")
			}
			ref := anon(i)
			if rapid.Bool().Draw(t, "onUser") {
				ref = user(i)
			}
			d.events = append(d.events, graph.Event{ID: fmt.Sprintf("look/id%02d-%d", i, k), Type: "identify", Timestamp: at("identify"),
				Traits: traits, Identifiers: []graph.IdentifierRef{ref}})
		}
		for k := range rapid.IntRange(0, 6).Draw(t, "events") {
			e := graph.Event{ID: fmt.Sprintf("look/ev%02d-%d", i, k), Type: rapid.SampledFrom([]string{"track", "track", "page"}).Draw(t, "type"),
				Channel: rapid.SampledFrom([]string{"web", "app", ""}).Draw(t, "channel"), Timestamp: at("event"),
				Properties: map[string]any{"v": rapid.SampledFrom([]any{1.0, 2.5, -4.0, "s"}).Draw(t, "v"),
					"c": rapid.SampledFrom([]any{"x", "y", true}).Draw(t, "c")}}
			if e.Type == "track" {
				e.Name = rapid.SampledFrom([]string{"A", "B"}).Draw(t, "name")
			}
			e.Identifiers = []graph.IdentifierRef{rapid.SampledFrom([]graph.IdentifierRef{anon(i), user(i)}).Draw(t, "carrier")}
			if j := rapid.IntRange(-1, n-1).Draw(t, "sharedWith"); j >= 0 && j != i && rapid.Bool().Draw(t, "shared") {
				// Two user_ids: the rules keep them apart, and the event
				// shows its properties to one of them only.
				e.Identifiers = []graph.IdentifierRef{user(i), user(j)}
			}
			d.events = append(d.events, e)
		}
		for k := range rapid.IntRange(0, 2).Draw(t, "consents") {
			d.consent = append(d.consent, privacy.Record{ID: fmt.Sprintf("cns_%02x%030x", i, k), Purpose: lookPurpose,
				Status: rapid.SampledFrom([]privacy.Status{privacy.StatusGranted, privacy.StatusDenied}).Draw(t, "status"),
				At:     at("consent"), Source: "test", LegalBasis: privacy.BasisConsent, Identifier: anon(i).Key(),
				Proof: privacy.Proof{Version: "v1"}, ReceivedAt: lookNow})
		}
		if i < intel.MinSeed || rapid.Float64Range(0, 1).Draw(t, "member") < 0.3 {
			d.seed = append(d.seed, i)
		}
	}
	for _, def := range lookDefs {
		if rapid.Bool().Draw(t, "def "+def.Name) {
			def.CreatedAt, def.UpdatedAt = lookNow, lookNow
			d.defs = append(d.defs, def)
		}
	}
	for i := range d.events {
		d.events[i].Source, d.events[i].ReceivedAt = "test", lookNow
	}
	return d, n
}

// storeLookData writes d into s and returns the profile id of each
// profile index.
func storeLookData(t *rapid.T, s graph.Store, d lookData, n int) []string {
	ctx := context.Background()
	eng := graph.NewEngine(s, nil)
	if _, err := eng.ApplyBatch(ctx, d.events); err != nil {
		t.Fatal(err)
	}
	st, cs := s.(audience.Store), s.(privacy.ConsentStore)
	if err := cs.PutConsent(ctx, d.consent); err != nil {
		t.Fatal(err)
	}
	for _, def := range d.defs {
		if err := st.PutComputedTrait(ctx, def); err != nil {
			t.Fatal(err)
		}
	}
	ids := make([]string, n)
	for i := range n {
		p, err := eng.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: "anonymous_id", Value: fmt.Sprintf("a%02d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = p.ID
	}
	if err := st.PutAudience(ctx, audience.Audience{ID: lookAudience, Name: "seed", Static: true, CreatedAt: lookNow, UpdatedAt: lookNow}); err != nil {
		t.Fatal(err)
	}
	var seed []string
	for _, i := range d.seed {
		seed = append(seed, ids[i])
	}
	if err := st.ApplyMembership(ctx, lookAudience, seed, nil, lookNow); err != nil {
		t.Fatal(err)
	}
	return ids
}

// sameFeatures reports how a and b differ, "" when they do not (values
// within 1e-9).
func sameFeatures(a, b map[string]float64) string {
	for k, v := range a {
		w, ok := b[k]
		if !ok || math.Abs(v-w) > 1e-9 {
			return fmt.Sprintf("feature %q: %v and %v (present %v)", k, v, w, ok)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			return fmt.Sprintf("feature %q only in the second: %v", k, b[k])
		}
	}
	return ""
}

func TestLookalikeMatchesAcrossStores(t *testing.T) {
	neo := storetest.OpenNeo4j(t)
	storetest.WithRapidChecks(15, func() {
		rapid.Check(t, func(t *rapid.T) {
			ctx := context.Background()
			emb, done := freshStores(t, neo)
			defer done()
			d, n := drawLookData(t)
			idsE := storeLookData(t, emb, d, n)
			idsN := storeLookData(t, neo, d, n)
			purpose := rapid.SampledFrom([]string{"", lookPurpose}).Draw(t, "purpose")
			size := rapid.IntRange(1, n).Draw(t, "size")
			checkLookalikeRows(t, ctx, emb, neo, idsE, idsN, d, purpose)

			engE := graph.NewEngine(emb, nil)
			defs := map[string]audience.ComputedTrait{}
			for _, def := range d.defs {
				defs[def.Name] = def
			}
			want, err := intel.Lookalike(ctx, emb, func(ctx context.Context, ids []string) (map[string]*audience.Subject, error) {
				return keep.Subjects(ctx, engE, emb, emb, d.defs, ids, lookNow)
			}, lookAudience, nil, size, purpose, lookNow)
			if err != nil {
				t.Fatal(err)
			}
			prio, dprio := graph.NewEngine(neo, nil).Normalizer().Priorities()
			got, err := intel.LookalikeFrom(ctx, neo, lookAudience, size, audience.FilterQuery{Now: lookNow, Purpose: purpose,
				Priorities: prio, DefaultPriority: dprio, Computed: defs})
			if err != nil {
				t.Fatal(err)
			}
			// Profile ids differ between the stores: compare by index.
			index := func(ids []string, id string) int { return slices.Index(ids, id) }
			if len(got) != len(want) {
				t.Fatalf("neo4j gives %d matches, the embedded store %d", len(got), len(want))
			}
			for k := range want {
				w, g := want[k], got[k]
				if index(idsE, w.ProfileID) != index(idsN, g.ProfileID) || math.Abs(w.Score-g.Score) > 1e-9 || !reflect.DeepEqual(w.Reasons, g.Reasons) {
					t.Fatalf("match %d: neo4j gives profile %d %v %v, the embedded store profile %d %v %v", k,
						index(idsN, g.ProfileID), g.Score, g.Reasons, index(idsE, w.ProfileID), w.Score, w.Reasons)
				}
			}
		})
	})
}

// checkLookalikeRows compares the Neo4j store's rows with the embedded
// store's Subjects, profile by profile: the same profiles, in id order,
// with the same membership, consent and features.
func checkLookalikeRows(t *rapid.T, ctx context.Context, emb graph.Store, neo *neo4jstore.Store, idsE, idsN []string, d lookData, purpose string) {
	engE := graph.NewEngine(emb, nil)
	subs, err := keep.Subjects(ctx, engE, emb.(audience.Store), emb.(privacy.ConsentStore), d.defs, idsE, lookNow)
	if err != nil {
		t.Fatal(err)
	}
	defs := map[string]audience.ComputedTrait{}
	for _, def := range d.defs {
		defs[def.Name] = def
	}
	prio, dprio := engE.Normalizer().Priorities()
	var rows []intel.LookalikeRow
	err = neo.LookalikeRows(ctx, lookAudience, audience.FilterQuery{Now: lookNow, Purpose: purpose, Priorities: prio, DefaultPriority: dprio, Computed: defs},
		func(r intel.LookalikeRow) error { rows = append(rows, r); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(idsN) {
		t.Fatalf("neo4j gives %d rows for %d profiles", len(rows), len(idsN))
	}
	for k, r := range rows {
		if k > 0 && rows[k-1].ProfileID >= r.ProfileID {
			t.Fatalf("rows out of id order: %s then %s", rows[k-1].ProfileID, r.ProfileID)
		}
		i := slices.Index(idsN, r.ProfileID)
		if i < 0 {
			t.Fatalf("row of unknown profile %s", r.ProfileID)
		}
		s := subs[idsE[i]]
		if s == nil {
			t.Fatalf("profile %d has no Subject on the embedded store", i)
		}
		granted := purpose == "" || privacy.StateOf(s.Consent, purpose, lookNow).State == privacy.StateGranted
		if r.Member != s.Audiences[lookAudience] || r.Granted != granted {
			t.Fatalf("profile %d: neo4j member %v granted %v, embedded %v %v", i, r.Member, r.Granted, s.Audiences[lookAudience], granted)
		}
		if diff := sameFeatures(intel.FeaturesOf(&r.Ingredients, lookNow), intel.Features(s, lookNow)); diff != "" {
			t.Fatalf("profile %d: %s\nneo4j %+v\nembedded traits %v computed %v", i, diff, r.Ingredients, s.Traits, s.Computed)
		}
	}
}

// The Neo4j store's row of one profile, worked by hand.
func TestLookalikeRowByHand(t *testing.T) {
	neo := storetest.OpenNeo4j(t)
	ctx := context.Background()
	anon := graph.IdentifierRef{Type: "anonymous_id", Value: "a1"}
	user := graph.IdentifierRef{Type: "user_id", Value: "u1"}
	day := func(n int) time.Time { return lookNow.Add(-time.Duration(n) * 24 * time.Hour) }
	ev := func(id, typ, name, channel string, at time.Time, props, traits map[string]any, refs ...graph.IdentifierRef) graph.Event {
		return graph.Event{ID: "hand/" + id, Type: typ, Name: name, Channel: channel, Source: "test", Timestamp: at, ReceivedAt: lookNow,
			Properties: props, Traits: traits, Identifiers: refs}
	}
	events := []graph.Event{
		ev("alias", "alias", "", "", day(30), nil, nil, anon, user),
		// plan: the newer value wins; vip: a tie, which the smaller key
		// (anonymous_id:a1) wins; a dotted and a nested name are traits
		// like the others.
		ev("id1", "identify", "", "", day(2), nil, map[string]any{"plan": "pro", "a.b": 2.0, "nested": map[string]any{"x": 1.0}, "vip": false}, anon),
		ev("id2", "identify", "", "", day(1), nil, map[string]any{"plan": "max"}, user),
		ev("id3", "identify", "", "", day(2), nil, map[string]any{"vip": true}, user),
		ev("a1", "track", "A", "web", day(10), map[string]any{"v": 2.0}, nil, anon),
		ev("a2", "track", "A", "app", day(3), map[string]any{"v": 3.0}, nil, user),
		ev("p1", "page", "", "", day(20), nil, nil, anon),
	}
	eng := graph.NewEngine(neo, nil)
	if _, err := eng.ApplyBatch(ctx, events); err != nil {
		t.Fatal(err)
	}
	p, err := eng.ProfileByIdentifier(ctx, anon)
	if err != nil {
		t.Fatal(err)
	}
	rec := func(n int, st privacy.Status, at time.Time) privacy.Record {
		return privacy.Record{ID: fmt.Sprintf("cns_%032x", n), Purpose: lookPurpose, Status: st, At: at, Source: "test",
			LegalBasis: privacy.BasisConsent, Identifier: user.Key(), Proof: privacy.Proof{Version: "v1"}, ReceivedAt: lookNow}
	}
	if err := neo.PutConsent(ctx, []privacy.Record{rec(1, privacy.StatusGranted, day(5)), rec(2, privacy.StatusDenied, day(1))}); err != nil {
		t.Fatal(err)
	}
	if err := neo.PutAudience(ctx, audience.Audience{ID: lookAudience, Name: "seed", Static: true, CreatedAt: lookNow, UpdatedAt: lookNow}); err != nil {
		t.Fatal(err)
	}
	if err := neo.ApplyMembership(ctx, lookAudience, []string{p.ID}, nil, lookNow); err != nil {
		t.Fatal(err)
	}
	defs := map[string]audience.ComputedTrait{
		"total": {Name: "total", Aggregate: audience.AggSum, Event: "A", Property: "v"},
		"pages": {Name: "pages", Aggregate: audience.AggCount, EventType: "page"},
		"never": {Name: "never", Aggregate: audience.AggLast, Event: "Z", Property: "v"},
	}
	want := intel.LookalikeRow{ProfileID: p.ID, Member: true, Ingredients: intel.Ingredients{
		Traits:   map[string]any{"plan": "max", "vip": false, "a.b": int64(2), "nested": map[string]any{"x": int64(1)}},
		Computed: map[string]any{"total": 5.0, "pages": 1.0},
		Names:    map[string]int{"alias": 1, "identify": 3, "A": 2, "page": 1},
		Channels: map[string]int{"web": 1, "app": 1},
		Events:   7,
		Last:     day(1),
	}}
	for _, purpose := range []string{"", lookPurpose} {
		var rows []intel.LookalikeRow
		err := neo.LookalikeRows(ctx, lookAudience, audience.FilterQuery{Now: lookNow, Purpose: purpose, Computed: defs},
			func(r intel.LookalikeRow) error { rows = append(rows, r); return nil })
		if err != nil {
			t.Fatal(err)
		}
		want.Granted = purpose == "" // the newest record denies
		if len(rows) != 1 || !reflect.DeepEqual(rows[0], want) {
			t.Fatalf("purpose %q: rows %+v, want %+v", purpose, rows, want)
		}
	}
	// An error from fn stops the read and comes back as it is.
	stop := fmt.Errorf("stop")
	if err := neo.LookalikeRows(ctx, lookAudience, audience.FilterQuery{Now: lookNow}, func(intel.LookalikeRow) error { return stop }); err != stop {
		t.Fatalf("fn's error: got %v", err)
	}
}
