package bench

// The costs of audiences (issue 12): how long a previewAudience count of a
// 3-condition filter takes over the whole population, against a plain
// in-memory scan of the same data, and what kept membership (20 audiences
// and 10 computed traits) costs every ingest.

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/audience/keep"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// Goals of issue 12.
const (
	GoalAudienceCountEmbeddedMs = 500.0
	GoalAudienceCountNeo4jMs    = 2000.0
	GoalMembershipRatio         = 0.8
)

// GoalAudienceCountMs is the count goal of a store kind.
func GoalAudienceCountMs(store string) float64 {
	if store == StoreNeo4j {
		return GoalAudienceCountNeo4jMs
	}
	return GoalAudienceCountEmbeddedMs
}

// The 3-condition filter of the count measure: a trait (the CRM's "name"),
// an order within 30 days, and consent for the purpose "email".
const (
	countTrait   = "name"
	countEvent   = "Order Completed"
	countWithin  = "P30D"
	countPurpose = "email"
)

// CountFilter is the filter the count measure previews: the trait
// countTrait exists, at least one countEvent within countWithin, and the
// consent state for countPurpose is GRANTED.
func CountFilter() audience.Filter {
	return audience.Filter{And: []audience.Filter{
		{Trait: &audience.TraitCondition{Name: countTrait, Op: audience.OpExists}},
		{Event: &audience.EventCondition{Name: countEvent, Within: countWithin, Count: &audience.CountCondition{Op: audience.OpGTE, Value: 1}}},
		{Consent: &audience.ConsentCondition{Purpose: countPurpose, Status: privacy.StateGranted}},
	}}
}

// CountNow is the instant the count measure evaluates at: the end of the
// population's window of event time, so that "within 30 days" selects the
// last month of it (the population's events are dated in 2025).
func CountNow() time.Time { return genStart.Add(genSpan) }

// AudienceCountResult is the time keep.Keeper.Preview took to count
// CountFilter over every live profile of the run's store (what
// previewAudience answers with), Config.AudienceCounts times, next to a
// plain in-memory scan evaluating the same three conditions over the same
// profiles, events and consent records loaded once into Go slices. The
// population carries no consent: before measuring, the run gives the
// first identifier of every second live profile (in id order) a GRANTED
// record for "email", and of every tenth of the others a DENIED one. Before
// the counts, the filter is saved as an audience and
// keep.Keeper.RefreshAll builds every live profile's facts,
// which Preview evaluates on (timed apart: FactsBuildMs). Both counts
// must agree (the run fails otherwise).
type AudienceCountResult struct {
	Rounds   int    `json:"audience_count_rounds"`
	Profiles int    `json:"audience_profiles"`
	Events   int    `json:"audience_profile_events"`
	Consents int    `json:"audience_consent_records"`
	Count    int    `json:"audience_count"`
	Now      string `json:"audience_count_now"`
	// MsMedian and MsMax are Preview's count in milliseconds.
	MsMedian float64   `json:"audience_count_ms"`
	MsMax    float64   `json:"audience_count_ms_max"`
	Ms       []float64 `json:"audience_count_ms_runs"`
	// ScanMs is the plain scan's evaluation; ScanRatio = MsMedian / ScanMs.
	ScanMsMedian float64   `json:"audience_scan_ms"`
	ScanMsMax    float64   `json:"audience_scan_ms_max"`
	ScanMs       []float64 `json:"audience_scan_ms_runs"`
	ScanRatio    float64   `json:"audience_count_scan_ratio"`
	// LoadMs is the time of reading every live profile's Subject
	// (keep.Subjects page by page: profiles, members, events, consent,
	// memberships), which the scan does once, untimed, and Preview only
	// for the profiles its kept facts cannot decide.
	LoadMs float64 `json:"audience_load_ms"`
	// FactsBuildMs is the time of keep.Keeper.RefreshAll before the
	// counts, with the counted filter saved as an audience: it evaluates
	// it and writes every live profile's facts (audience.Facts), which
	// Preview evaluates on. The service keeps them as it ingests while an
	// audience exists (the keeper refreshes the profiles of each committed
	// batch).
	FactsBuildMs float64 `json:"audience_facts_build_ms"`
}

// MembershipResult compares ingest through HTTP (the same messages, on a
// fresh store each pass) with no audience defined and with
// Config.Audiences audiences and Config.ComputedTraits computed traits
// defined, in pairs of flipping order as the suppression measure does.
// The service evaluates membership in the background after each commit;
// the throughput is the clients' (the last message acknowledged). Settle
// is the time the service's shutdown took after the last
// acknowledgement: the collector has nothing left to commit then, and the
// membership queue is evaluated to the end before it returns.
type MembershipResult struct {
	Audiences      int       `json:"membership_audiences"`
	ComputedTraits int       `json:"membership_computed_traits"`
	Messages       int       `json:"membership_messages"`
	Rounds         int       `json:"membership_rounds"`
	NonePerSecond  float64   `json:"membership_ingest_per_second_none"`
	WithPerSecond  float64   `json:"membership_ingest_per_second_with"`
	Ratio          float64   `json:"membership_ingest_ratio"`
	NoneRuns       []float64 `json:"membership_ingest_per_second_none_runs"`
	WithRuns       []float64 `json:"membership_ingest_per_second_with_runs"`
	SettleNone     float64   `json:"membership_settle_seconds_none"`
	SettleWith     float64   `json:"membership_settle_seconds_with"`
	// Members is the sum of the audiences' sizes after the last pass with
	// audiences: a sign that membership was kept.
	Members int `json:"membership_members"`
}

// scanEvent and scanProfile are the plain scan's copy of the data.
type scanEvent struct {
	name string
	at   time.Time
}

type scanProfile struct {
	traits  map[string]any
	events  []scanEvent
	consent []privacy.Record
}

// putCountConsent gives consent records to the run's live profiles (see
// AudienceCountResult) and returns how many it wrote.
func putCountConsent(ctx context.Context, eng *graph.Engine, cs privacy.ConsentStore) (int, error) {
	at := CountNow().Add(-90 * 24 * time.Hour)
	n, i := 0, 0
	err := eachProfilePage(ctx, eng, func(ids []string) error {
		members, err := eng.Members(ctx, ids)
		if err != nil {
			return err
		}
		var recs []privacy.Record
		for _, id := range ids {
			k := i
			i++
			ms := members[id]
			if len(ms) == 0 {
				continue
			}
			status := privacy.Status("")
			switch {
			case k%2 == 0:
				status = privacy.StatusGranted
			case k%10 == 1:
				status = privacy.StatusDenied
			default:
				continue
			}
			recs = append(recs, privacy.Record{ID: privacy.NewRecordID(), Purpose: countPurpose, Status: status, At: at, Source: "bench",
				LegalBasis: privacy.BasisConsent, Identifier: ms[0].Key, ReceivedAt: at, Proof: privacy.Proof{Version: "v1"}})
		}
		if len(recs) == 0 {
			return nil
		}
		n += len(recs)
		return cs.PutConsent(ctx, recs)
	})
	return n, err
}

func eachProfilePage(ctx context.Context, eng *graph.Engine, fn func(ids []string) error) error {
	q := graph.PageQuery{Limit: keep.BatchSize}
	for {
		page, err := eng.Profiles(ctx, q)
		if err != nil {
			return err
		}
		ids := make([]string, len(page.Profiles))
		for i, p := range page.Profiles {
			ids[i] = p.ID
		}
		if len(ids) > 0 {
			if err := fn(ids); err != nil {
				return err
			}
		}
		if !page.HasNext || len(ids) == 0 {
			return nil
		}
		q.After = ids[len(ids)-1]
	}
}

// audienceCount measures the count on store, which holds the run's
// population.
func audienceCount(ctx context.Context, cfg Config, store graph.Store, rules *graph.Rules) (AudienceCountResult, error) {
	st, ok := store.(audience.Store)
	if !ok {
		return AudienceCountResult{}, fmt.Errorf("store %T keeps no audiences", store)
	}
	cs, ok := store.(privacy.ConsentStore)
	if !ok {
		return AudienceCountResult{}, fmt.Errorf("store %T keeps no consent ledger", store)
	}
	eng := graph.NewEngine(store, rules)
	now := graph.Clean(CountNow())
	r := AudienceCountResult{Rounds: cfg.AudienceCounts, Now: now.Format(time.RFC3339)}
	cfg.logf("audience count: consent records for the population")
	var err error
	if r.Consents, err = putCountConsent(ctx, eng, cs); err != nil {
		return r, fmt.Errorf("consent records: %w", err)
	}

	// The keeper keeps facts while an audience exists: the marketer saves
	// the counted filter, and the keeper evaluates every profile.
	if err := st.PutAudience(ctx, audience.Audience{ID: audience.NewAudienceID(), Name: "bench count",
		Filter: CountFilter(), CreatedAt: now, UpdatedAt: now}); err != nil {
		return r, fmt.Errorf("saving the counted audience: %w", err)
	}
	k := keep.New(eng, st, cs, func() time.Time { return now })
	cfg.logf("audience count: building every profile's facts (RefreshAll)")
	start := time.Now()
	if err := k.RefreshAll(ctx); err != nil {
		return r, fmt.Errorf("building the facts: %w", err)
	}
	r.FactsBuildMs = round(ms(time.Since(start)))

	// The scan's data, read once, timed.
	cfg.logf("audience count: loading every profile for the plain scan")
	var profiles []scanProfile
	start = time.Now()
	err = eachProfilePage(ctx, eng, func(ids []string) error {
		subs, err := keep.Subjects(ctx, eng, st, cs, nil, ids, now)
		if err != nil {
			return err
		}
		for _, id := range ids {
			s, ok := subs[id]
			if !ok {
				continue
			}
			p := scanProfile{traits: s.Traits, consent: s.Consent, events: make([]scanEvent, len(s.Events))}
			for i, e := range s.Events {
				p.events[i] = scanEvent{name: e.Name, at: e.Timestamp}
			}
			profiles = append(profiles, p)
		}
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("loading the profiles: %w", err)
	}
	r.LoadMs = ms(time.Since(start))
	r.Profiles = len(profiles)
	for _, p := range profiles {
		r.Events += len(p.events)
	}

	d, err := audience.ParseDuration(countWithin)
	if err != nil {
		return r, err
	}
	from := d.Before(now)
	scan := func() int {
		n := 0
		for i := range profiles {
			p := &profiles[i]
			if v, ok := p.traits[countTrait]; !ok || v == nil {
				continue
			}
			orders := 0
			for _, e := range p.events {
				if e.name == countEvent && !e.at.Before(from) {
					orders++
				}
			}
			if orders < 1 {
				continue
			}
			if privacy.StateOf(p.consent, countPurpose, now).State != privacy.StateGranted {
				continue
			}
			n++
		}
		return n
	}

	f := CountFilter()
	var took, scanned []time.Duration
	for round := range cfg.AudienceCounts {
		cfg.logf("audience count %d/%d: Preview over %d profiles, then the plain scan", round+1, cfg.AudienceCounts, r.Profiles)
		// Each timed pass starts after a collection of what came before
		// (as the lookup passes do), so that neither pays for the
		// other's garbage, nor for the facts build's.
		if err := settle(ctx, 0); err != nil {
			return r, err
		}
		start := time.Now()
		n, _, err := k.Preview(ctx, &f, "", 10)
		if err != nil {
			return r, fmt.Errorf("preview: %w", err)
		}
		took = append(took, time.Since(start))
		if err := settle(ctx, 0); err != nil {
			return r, err
		}
		start = time.Now()
		m := scan()
		scanned = append(scanned, time.Since(start))
		if n != m {
			return r, fmt.Errorf("Preview counts %d profiles, the plain scan %d", n, m)
		}
		r.Count = n
	}
	for _, t := range took {
		r.Ms = append(r.Ms, round(ms(t)))
	}
	for _, t := range scanned {
		r.ScanMs = append(r.ScanMs, round(ms(t)))
	}
	r.MsMedian, r.MsMax = medianSeconds(took)*1000, maxSeconds(took)*1000
	r.ScanMsMedian, r.ScanMsMax = medianSeconds(scanned)*1000, maxSeconds(scanned)*1000
	r.ScanRatio = safeDiv(r.MsMedian, r.ScanMsMedian)
	return r, nil
}

func num(s string) json.Number { return json.Number(s) }

// benchComputedTraits returns n computed traits over the population's
// events: the first 10 differ in aggregate, those after repeat them with
// a 30-day window under another name.
func benchComputedTraits(n int, at time.Time) []audience.ComputedTrait {
	base := []audience.ComputedTrait{
		{Name: "orders", Aggregate: audience.AggCount, Event: "Order Completed"},
		{Name: "ltv", Aggregate: audience.AggSum, Event: "Order Completed", Property: "total"},
		{Name: "avg_order", Aggregate: audience.AggAvg, Event: "Order Completed", Property: "total"},
		{Name: "max_order", Aggregate: audience.AggMax, Event: "Order Completed", Property: "total"},
		{Name: "first_store", Aggregate: audience.AggFirst, Event: "Order Completed", Property: "store"},
		{Name: "pages_30d", Aggregate: audience.AggCount, EventType: "page", Window: "P30D"},
		{Name: "last_campaign", Aggregate: audience.AggLast, Event: "Email Opened", Property: "campaign"},
		{Name: "fav_store", Aggregate: audience.AggMostFrequent, Event: "Order Completed", Property: "store"},
		{Name: "campaigns", Aggregate: audience.AggUniqueCount, EventType: "track", Property: "campaign",
			Where: []audience.PropertyFilter{{Path: "campaign", Op: audience.OpExists}}},
		{Name: "min_order", Aggregate: audience.AggMin, Event: "Order Completed", Property: "total"},
	}
	out := make([]audience.ComputedTrait, n)
	for i := range out {
		c := base[i%len(base)]
		if i >= len(base) {
			c.Name = fmt.Sprintf("%s_%d", c.Name, i/len(base))
			c.Window = "P90D"
		}
		c.CreatedAt, c.UpdatedAt = at, at
		out[i] = c
	}
	return out
}

// benchAudiences returns n audiences over the population: trait,
// identifier, event, consent and computed conditions (on defs, when
// there are any), alone and combined; every fifth has the purpose
// "email".
func benchAudiences(n int, defs []audience.ComputedTrait, at time.Time) []audience.Audience {
	ct := func(i int, op audience.Op, v any) audience.Filter {
		if len(defs) == 0 {
			return audience.Filter{Trait: &audience.TraitCondition{Name: "phone", Op: audience.OpExists}}
		}
		return audience.Filter{Computed: &audience.ComputedCondition{Name: defs[i%len(defs)].Name, Op: op, Value: v}}
	}
	exists := true
	tmpl := []func(i int) audience.Filter{
		func(int) audience.Filter {
			return audience.Filter{Trait: &audience.TraitCondition{Name: "name", Op: audience.OpExists}}
		},
		func(int) audience.Filter {
			return audience.Filter{Trait: &audience.TraitCondition{Name: "email", Op: audience.OpContains, Value: "gmail"}}
		},
		func(int) audience.Filter {
			return audience.Filter{Event: &audience.EventCondition{Name: "Order Completed"}}
		},
		func(int) audience.Filter {
			return audience.Filter{Event: &audience.EventCondition{Type: "page", Within: "P30D", Count: &audience.CountCondition{Op: audience.OpGTE, Value: 3}}}
		},
		func(int) audience.Filter {
			return audience.Filter{Consent: &audience.ConsentCondition{Purpose: countPurpose, Status: privacy.StateGranted}}
		},
		func(i int) audience.Filter { return ct(0, audience.OpGTE, num("1")) },
		func(i int) audience.Filter { return ct(1, audience.OpGTE, num("100")) },
		func(int) audience.Filter {
			return audience.Filter{And: []audience.Filter{
				{Trait: &audience.TraitCondition{Name: "name", Op: audience.OpExists}},
				{Event: &audience.EventCondition{Name: "Email Opened", Where: []audience.PropertyFilter{{Path: "campaign", Op: audience.OpStartsWith, Value: "c0"}}}},
			}}
		},
		func(i int) audience.Filter {
			return audience.Filter{Or: []audience.Filter{
				{Identifier: &audience.IdentifierCondition{Type: graph.TypePhone, Exists: &exists}},
				ct(5, audience.OpGT, num("5")),
			}}
		},
		func(int) audience.Filter {
			return audience.Filter{Not: &audience.Filter{Identifier: &audience.IdentifierCondition{Type: graph.TypeUserID}}}
		},
	}
	out := make([]audience.Audience, n)
	for i := range out {
		f := tmpl[i%len(tmpl)](i)
		if i >= len(tmpl) {
			// The second round adds a computed condition to each.
			f = audience.Filter{And: []audience.Filter{f, ct(i, audience.OpExists, nil)}}
		}
		a := audience.Audience{ID: audience.NewAudienceID(), Name: fmt.Sprintf("bench audience %d", i+1), Filter: f, CreatedAt: at, UpdatedAt: at}
		if i%5 == 4 {
			a.Purpose = countPurpose
		}
		out[i] = a
	}
	return out
}

// membershipPasses measures ingest with no audience and with
// cfg.Audiences audiences and cfg.ComputedTraits computed traits,
// alternating, on a fresh store each pass: a new file in dir on the
// embedded store, n4 emptied on Neo4j.
func membershipPasses(ctx context.Context, cfg Config, n4 graph.Store, dir string, ds *Dataset, rules *graph.Rules) (MembershipResult, error) {
	msgs := ds.Messages
	if cfg.AudienceEvents > 0 && cfg.AudienceEvents < len(msgs) {
		msgs = msgs[:cfg.AudienceEvents]
	}
	work, err := prepare(&Dataset{Messages: msgs}, rules, cfg.Batch)
	if err != nil {
		return MembershipResult{}, err
	}
	r := MembershipResult{Audiences: cfg.Audiences, ComputedTraits: cfg.ComputedTraits, Messages: len(msgs), Rounds: cfg.AudienceRounds}
	var none, with, settleNone, settleWith []float64
	for pass := range 2 * cfg.AudienceRounds {
		defined := pass%2 == 1
		if (pass/2)%2 == 1 {
			defined = !defined
		}
		na, nc := 0, 0
		if defined {
			na, nc = cfg.Audiences, cfg.ComputedTraits
		}
		cfg.logf("membership %d/%d: %d messages through HTTP, %d audiences and %d computed traits defined", pass+1, 2*cfg.AudienceRounds, len(msgs), na, nc)
		took, settle, members, err := membershipPass(ctx, cfg, n4, filepath.Join(dir, fmt.Sprintf("membership-%d", pass)), work, rules, na, nc)
		if err != nil {
			return MembershipResult{}, fmt.Errorf("membership pass %d (%d audiences): %w", pass+1, na, err)
		}
		rate := float64(len(msgs)) / took.Seconds()
		if defined {
			with, settleWith = append(with, rate), append(settleWith, settle.Seconds())
			r.Members = members
		} else {
			none, settleNone = append(none, rate), append(settleNone, settle.Seconds())
		}
	}
	r.NonePerSecond, r.WithPerSecond = median(none), median(with)
	r.Ratio = safeDiv(r.WithPerSecond, r.NonePerSecond)
	r.SettleNone, r.SettleWith = median(settleNone), median(settleWith)
	r.NoneRuns, r.WithRuns = roundAll(none), roundAll(with)
	return r, nil
}

// membershipPass defines na audiences and nc computed traits on a fresh
// store, sends work through the service, and returns the time the sending
// took, the time the shutdown took after it, and the sum of the
// audiences' sizes after it.
func membershipPass(ctx context.Context, cfg Config, n4 graph.Store, dir string, work *workload, rules *graph.Rules, na, nc int) (took, settle time.Duration, members int, err error) {
	store, done, err := passStore(ctx, n4, dir)
	if err != nil {
		return 0, 0, 0, err
	}
	defer done()
	st, ok := store.(audience.Store)
	if !ok {
		return 0, 0, 0, fmt.Errorf("store %T keeps no audiences", store)
	}
	at := graph.Now()
	defs := benchComputedTraits(nc, at)
	for _, c := range defs {
		if err := st.PutComputedTrait(ctx, c); err != nil {
			return 0, 0, 0, fmt.Errorf("defining computed trait %s: %w", c.Name, err)
		}
	}
	auds := benchAudiences(na, defs, at)
	for _, a := range auds {
		if err := st.PutAudience(ctx, a); err != nil {
			return 0, 0, 0, fmt.Errorf("defining %s: %w", a.Name, err)
		}
	}
	svc, err := startService(ctx, newTimedStore(store), rules, cfg)
	if err != nil {
		return 0, 0, 0, err
	}
	sent, err := sendAll(ctx, svc.url, work.bodies, cfg.Clients)
	start := time.Now()
	if stopErr := svc.stop(ctx); err == nil {
		err = stopErr
	}
	settle = time.Since(start)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("ingest through HTTP: %w", err)
	}
	if sent.stored != work.storable {
		return 0, 0, 0, fmt.Errorf("the service stored %d events; %d distinct messages carry a usable identifier", sent.stored, work.storable)
	}
	if len(auds) > 0 {
		ids := make([]string, len(auds))
		for i, a := range auds {
			ids[i] = a.ID
		}
		got, err := st.Audiences(ctx, ids)
		if err != nil {
			return 0, 0, 0, err
		}
		for _, a := range got {
			members += a.Size
		}
	}
	return sent.elapsed, settle, members, nil
}
