package bench

// Customer intelligence (issue 14): a population of its own with
// cross-channel journeys (web browsing under an anonymous id, an app
// login linking it to a user id and a loyalty card, an in-store purchase
// under the card alone) and a planted behaviour (a hidden group of people
// who share a trait and a pattern of tent views in the app, and buy more
// often). On a fresh store it times a 3-step funnel and a LINEAR
// attribution, compares the funnel's count with the count per
// identifier, and scores lookalike against its seed's other half.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/audience/keep"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/intel"
	"github.com/idgraph/cdp/privacy"
)

// Goals of issue 14.
const (
	GoalIntelEmbeddedSeconds = 5.0
	GoalIntelNeo4jSeconds    = 15.0
	GoalLookalikePrecision   = 0.8
)

// GoalIntelSeconds is the funnel and attribution goal of a store kind.
func GoalIntelSeconds(store string) float64 {
	if store == StoreNeo4j {
		return GoalIntelNeo4jSeconds
	}
	return GoalIntelEmbeddedSeconds
}

// IntelResult is what the intelligence measure found.
type IntelResult struct {
	Events          int     `json:"intel_events"`
	People          int     `json:"intel_people"`
	Hidden          int     `json:"intel_hidden"`
	StoreSeconds    float64 `json:"intel_store_seconds"`
	FunnelSeconds   float64 `json:"intel_funnel_seconds"`
	AttribSeconds   float64 `json:"intel_attribution_seconds"`
	FunnelCompleted int     `json:"intel_funnel_completed"`
	// PerIdentifierCompleted is the funnel counted per identifier, over
	// each identifier's own events: what tools that do not resolve
	// identities count.
	PerIdentifierCompleted int     `json:"intel_per_identifier_completed"`
	Conversions            int     `json:"intel_conversions"`
	LookalikeSeconds       float64 `json:"intel_lookalike_seconds"`
	LookalikeK             int     `json:"intel_lookalike_k"`
	LookalikePrecision     float64 `json:"intel_lookalike_precision"`
	// RandomPrecision is the precision a random pick of non-members
	// scores: the other half's share of the non-members.
	RandomPrecision float64 `json:"intel_random_precision"`
}

// The intelligence population's shape.
const (
	intelHiddenShare = 0.05 // of people in the hidden group
	intelAppShare    = 0.6  // of people who log in to the app
)

// IntelFunnel and IntelAttribution are the queries the measure times
// (intel's BenchmarkScan times them too).
var IntelFunnel = intel.FunnelQuery{
	Steps: []intel.EventMatch{
		{Name: "Product Viewed", Channel: "web"},
		{Name: "App Opened", Channel: "mobile"},
		{Name: "Order Completed", Channel: "store"},
	},
	Within: 7 * 24 * time.Hour,
}

var IntelAttribution = intel.AttributionQuery{Conversion: intel.EventMatch{Name: "Order Completed"},
	Dimension: intel.DimChannel, Model: intel.Linear, Lookback: 30 * 24 * time.Hour}

// IntelPopulation makes about n events: per person, web views under an
// anonymous id, for most an app session that links it to a user id and a
// loyalty card, and maybe a purchase in a store under the card. The
// first hidden people are the hidden group.
func IntelPopulation(n int, seed uint64) (events []graph.Event, people, hidden int) {
	r := rand.New(rand.NewPCG(seed, 14))
	// A person makes about 5.6 events on average (below).
	people = max(40, n*10/56)
	hidden = max(20, int(float64(people)*intelHiddenShare))
	id := 0
	add := func(name, channel string, at time.Time, traits map[string]any, keys ...graph.IdentifierRef) {
		id++
		events = append(events, graph.Event{ID: fmt.Sprintf("intel/%d", id), Type: "track", Name: name, Channel: channel,
			Source: channel, Timestamp: graph.Clean(at), ReceivedAt: graph.Clean(at), Traits: traits, Identifiers: keys})
	}
	for p := range people {
		anon := graph.IdentifierRef{Type: "anonymous_id", Value: fmt.Sprintf("intel-a%d", p)}
		user := graph.IdentifierRef{Type: "user_id", Value: fmt.Sprintf("intel-u%d", p)}
		card := graph.IdentifierRef{Type: "loyalty_id", Value: fmt.Sprintf("intel-l%d", p)}
		inGroup := p < hidden
		t := genStart.Add(time.Duration(r.Int64N(int64(genSpan - 10*24*time.Hour))))
		for k := range 3 + r.IntN(4) {
			add("Product Viewed", "web", t.Add(time.Duration(k)*time.Minute), nil, anon)
		}
		app := inGroup || r.Float64() < intelAppShare
		if app {
			traits := map[string]any{"plan": []string{"free", "pro"}[r.IntN(2)]}
			if (inGroup && r.Float64() < 0.8) || (!inGroup && r.Float64() < 0.2) {
				traits["interest"] = "outdoor"
			}
			at := t.Add(time.Duration(1+r.IntN(48)) * time.Hour)
			add("App Opened", "mobile", at, traits, anon, user, card)
			tents := 0
			if r.Float64() < 0.15 {
				tents = 1 + r.IntN(2)
			}
			if inGroup {
				tents = 2 + r.IntN(4)
			}
			for k := range tents {
				add("Tent Viewed", "mobile", at.Add(time.Duration(k+1)*time.Minute), nil, user)
			}
		}
		buy := 0.2
		if inGroup {
			buy = 0.7
		}
		if r.Float64() < buy {
			add("Order Completed", "store", t.Add(time.Duration(2+r.IntN(4))*24*time.Hour+time.Hour), nil, card)
		}
	}
	return events, people, hidden
}

// intelMeasure runs the measure on store, which must be empty.
func intelMeasure(ctx context.Context, cfg Config, store graph.Store, rules *graph.Rules) (IntelResult, error) {
	evs, people, hidden := IntelPopulation(cfg.IntelEvents, cfg.Gen.Seed)
	res := IntelResult{Events: len(evs), People: people, Hidden: hidden}
	eng := graph.NewEngine(store, rules)
	cfg.logf("intelligence: storing %d events of %d people", len(evs), people)
	start := time.Now()
	for i := 0; i < len(evs); i += 500 {
		if _, err := eng.ApplyBatch(ctx, evs[i:min(i+500, len(evs))]); err != nil {
			return res, err
		}
	}
	res.StoreSeconds = time.Since(start).Seconds()

	cfg.logf("intelligence: funnel and attribution over the store")
	// As the service answers them: in the database when the store
	// evaluates the queries itself (Neo4j: one Cypher statement each),
	// else over Scan.
	start = time.Now()
	var funnel intel.FunnelResult
	var attrib intel.AttributionResult
	ev, cypher := store.(intel.Evaluator)
	prio, dprio := eng.Normalizer().Priorities()
	scope := audience.FilterQuery{Now: graph.Now(), Priorities: prio, DefaultPriority: dprio}
	if cypher {
		var err error
		if funnel, err = ev.EvalFunnel(ctx, IntelFunnel, scope); err != nil {
			return res, err
		}
	} else {
		f := intel.NewFunnel(IntelFunnel)
		if err := intel.ScanWith(ctx, store, eng, intel.ScanOptions{Properties: IntelFunnel.ReadsProperties()}, func(_ string, e []graph.Event) error { f.Add(e); return nil }); err != nil {
			return res, err
		}
		funnel = f.Result()
	}
	res.FunnelSeconds = time.Since(start).Seconds()
	res.FunnelCompleted = funnel.Steps[2].Count
	start = time.Now()
	if cypher {
		var err error
		if attrib, err = ev.EvalAttribution(ctx, IntelAttribution, scope); err != nil {
			return res, err
		}
	} else {
		a := intel.NewAttribution(IntelAttribution)
		if err := intel.ScanWith(ctx, store, eng, intel.ScanOptions{Properties: IntelAttribution.ReadsProperties()}, func(_ string, e []graph.Event) error { a.Add(e); return nil }); err != nil {
			return res, err
		}
		attrib = a.Result()
	}
	res.AttribSeconds = time.Since(start).Seconds()
	res.Conversions = attrib.Conversions

	// Per identifier: each identifier's own events, as tools without
	// identity resolution see them.
	byKey := map[string][]graph.Event{}
	for _, e := range evs {
		for _, k := range e.Identifiers {
			byKey[k.Type+":"+k.Value] = append(byKey[k.Type+":"+k.Value], e)
		}
	}
	per := intel.NewFunnel(IntelFunnel)
	for _, tl := range byKey {
		per.Add(tl)
	}
	res.PerIdentifierCompleted = per.Result().Steps[2].Count

	// Lookalike: the seed is the first half of the hidden group.
	st, ok := store.(audience.Store)
	cs, ok2 := store.(privacy.ConsentStore)
	if !ok || !ok2 {
		return res, fmt.Errorf("the store %T keeps no audiences or consent", store)
	}
	aid := "seg_" + fmt.Sprintf("%032x", 14)
	now := graph.Now()
	if err := st.PutAudience(ctx, audience.Audience{ID: aid, Name: "Lookalike seed",
		Filter:    audience.Filter{Trait: &audience.TraitCondition{Name: "interest", Op: audience.OpExists}},
		CreatedAt: now, UpdatedAt: now}); err != nil {
		return res, err
	}
	seed := make([]string, 0, hidden/2)
	want := map[string]bool{}
	err := store.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
		keys := make([]string, hidden)
		for p := range hidden {
			keys[p] = fmt.Sprintf("user_id:intel-u%d", p)
		}
		ids, err := tx.Identifiers(ctx, keys)
		if err != nil {
			return err
		}
		for p, k := range keys {
			pid := ids[k].ProfileID
			if p < hidden/2 {
				seed = append(seed, pid)
			} else {
				want[pid] = true
			}
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	if err := st.ApplyMembership(ctx, aid, seed, nil, now); err != nil {
		return res, err
	}
	defs, err := st.ComputedTraits(ctx)
	if err != nil {
		return res, err
	}
	res.LookalikeK = len(want)
	cfg.logf("intelligence: lookalike of %d seed members, %d to find", len(seed), res.LookalikeK)
	start = time.Now()
	// As the service runs it: on Neo4j over one streaming statement per
	// pass (intel.LookalikeReader), else over keep.Subjects page by page.
	var ms []intel.LookalikeMatch
	if rd, ok := store.(intel.LookalikeReader); ok {
		byName := make(map[string]audience.ComputedTrait, len(defs))
		for _, d := range defs {
			byName[d.Name] = d
		}
		ms, err = intel.LookalikeFrom(ctx, rd, aid, res.LookalikeK, audience.FilterQuery{Now: now, Priorities: prio, DefaultPriority: dprio, Computed: byName})
	} else {
		ms, err = intel.Lookalike(ctx, store, func(ctx context.Context, ids []string) (map[string]*audience.Subject, error) {
			return keep.Subjects(ctx, eng, st, cs, defs, ids, now)
		}, aid, nil, res.LookalikeK, "", now)
	}
	if err != nil {
		return res, err
	}
	res.LookalikeSeconds = time.Since(start).Seconds()
	hits := 0
	for _, m := range ms {
		if want[m.ProfileID] {
			hits++
		}
	}
	res.LookalikePrecision = float64(hits) / float64(res.LookalikeK)
	live, err := countLive(ctx, store)
	if err != nil {
		return res, err
	}
	res.RandomPrecision = float64(res.LookalikeK) / float64(live-len(seed))
	return res, nil
}

func countLive(ctx context.Context, store graph.Store) (int, error) {
	n := 0
	err := store.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
		var err error
		n, err = tx.CountProfiles(ctx)
		return err
	})
	return n, err
}
