package bench

// The costs of privacy rights (issue 11): how long forgetProfile takes for
// a person of 10 identifiers and thousands of events, and what a long
// suppression list costs every ingest.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/privacy"
)

// EraseIdentifiers is the number of identifiers of the person each round
// of the erasure measure builds and erases.
const EraseIdentifiers = 10

// MinEraseEvents is the fewest events the erasure measure builds: the 9
// events that link the person's identifiers, a shared one and some of
// her own.
const MinEraseEvents = 20

// EraseResult is the time privacy.Eraser.ForgetProfile took to erase a
// person of EraseIdentifiers identifiers and Config.EraseEvents events,
// built afresh in each round on the store the run ingested into (its
// population is the other people's data). The time is the whole call: the
// engine's erasure, the scrubbing of shared events, the consent deletion,
// the suppression and the receipt in one transaction, then, on the
// embedded store, the zeroing of every freed page of the file. The counts
// are those of the receipt, equal in every round to what was built (the
// run fails otherwise).
type EraseResult struct {
	Rounds        int       `json:"erase_rounds"`
	SecondsMedian float64   `json:"erase_seconds_median"`
	SecondsMax    float64   `json:"erase_seconds_max"`
	Seconds       []float64 `json:"erase_seconds_runs"`
	// BuildSeconds is the median time of building the person through the
	// engine, for scale.
	BuildSeconds   float64 `json:"erase_build_seconds_median"`
	Built          int     `json:"erase_built_events"`
	Identifiers    int     `json:"erase_identifiers"`
	Events         int     `json:"erase_events"`
	ScrubbedEvents int     `json:"erase_scrubbed_events"`
	Traits         int     `json:"erase_traits"`
}

// SuppressionResult compares ingest through HTTP (the same messages, on a
// fresh store each pass) with an empty suppression list and with
// Config.SuppressionHashes random hashes on it, none of which any message
// carries. Passes alternate in pairs whose order flips (none, list, list,
// none, ...); each figure is the median of its passes. The collector hashes every identifier and checks the list in
// both cases: what differs is the size of the list.
type SuppressionResult struct {
	Hashes        int       `json:"suppression_hashes"`
	Messages      int       `json:"suppression_messages"`
	Rounds        int       `json:"suppression_rounds"`
	NonePerSecond float64   `json:"suppression_ingest_per_second_none"`
	ListPerSecond float64   `json:"suppression_ingest_per_second_list"`
	Ratio         float64   `json:"suppression_ingest_ratio"`
	NoneRuns      []float64 `json:"suppression_ingest_per_second_none_runs"`
	ListRuns      []float64 `json:"suppression_ingest_per_second_list_runs"`
	// CheckNone and CheckList are the medians of the seconds a pass spent
	// in the store's Suppressed (the list's check, summed over the
	// micro-batches): the list's own cost, apart from the noise of the
	// whole ingest.
	CheckNone float64 `json:"suppression_check_seconds_none"`
	CheckList float64 `json:"suppression_check_seconds_list"`
}

// Goals of issue 11.
const (
	GoalEraseEmbeddedSeconds = 1.0
	GoalEraseNeo4jSeconds    = 3.0
	GoalSuppressionRatio     = 0.95
)

// GoalEraseSeconds is the erasure goal of a store kind.
func GoalEraseSeconds(store string) float64 {
	if store == StoreNeo4j {
		return GoalEraseNeo4jSeconds
	}
	return GoalEraseEmbeddedSeconds
}

// erasePerson is the person one round builds and erases, and the other
// person she shares a few events with. Every value holds a random token,
// so that no round and no population collides with another.
type erasePerson struct {
	ids    []graph.IdentifierRef // EraseIdentifiers: user id first
	email  string                // her first email, as a form would spell it
	name   string
	other  graph.IdentifierRef // the other person's user id
	oemail graph.IdentifierRef
}

func newErasePerson(round int) erasePerson {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	p := erasePerson{
		ids:    []graph.IdentifierRef{{Type: "user_id", Value: "erase-" + tok}},
		name:   "Erin " + tok,
		other:  graph.IdentifierRef{Type: "user_id", Value: "erase-other-" + tok},
		oemail: graph.IdentifierRef{Type: "email", Value: "other." + tok + "@example.com"},
	}
	for k := range 3 {
		p.ids = append(p.ids, graph.IdentifierRef{Type: "email", Value: fmt.Sprintf("erin.%s.%d@example.com", tok, k)})
	}
	// 555-0100 to 555-0199 are reserved for fiction; the population never
	// uses the 555 exchange.
	for k := range 2 {
		p.ids = append(p.ids, graph.IdentifierRef{Type: "phone", Value: fmt.Sprintf("+1 415 555 01%02d", (2*round+k)%100)})
	}
	for k := range 4 {
		p.ids = append(p.ids, graph.IdentifierRef{Type: "anonymous_id", Value: fmt.Sprintf("anon-%s-%d", tok, k)})
	}
	p.email = " " + strings.ToUpper(p.ids[1].Value[:1]) + p.ids[1].Value[1:len(p.ids[1].Value)-len("example.com")] + "Example.COM "
	return p
}

// shared is how many of n events the person shares with the other one.
func eraseShared(n int) int { return max(1, n/1000) }

// events returns the other person's identify, then n events of the
// person: 9 identifies linking her user id to each other identifier (her
// traits hold her email), eraseShared(n) tracks carrying her user id and
// the other person's (the rules refuse a second user id, so these events
// belong to both and are scrubbed, not deleted), and the rest, each
// carrying one or two of her identifiers: every 20th an identify whose
// traits hold her email, every 5th a track whose properties hold it, the
// others page views.
func (p erasePerson) events(n int, round int) []graph.Event {
	base := time.Now().Add(-time.Duration(n+10) * time.Minute).Truncate(time.Millisecond)
	now := time.Now()
	id := func(i int) string { return fmt.Sprintf("erase-%d-%s-%d", round, p.ids[0].Value, i) }
	ev := func(i int, typ, name string, ids ...graph.IdentifierRef) graph.Event {
		return graph.Event{ID: id(i), Type: typ, Name: name, Channel: "web", Source: "bench",
			Timestamp: base.Add(time.Duration(i) * time.Minute), ReceivedAt: now, Identifiers: ids}
	}
	out := make([]graph.Event, 0, n+1)
	o := ev(-1, "identify", "", p.other, p.oemail)
	o.Traits = map[string]any{"name": "Other", "plan": "silver"}
	out = append(out, o)
	for k := 1; k < EraseIdentifiers; k++ {
		e := ev(len(out)-1, "identify", "", p.ids[0], p.ids[k])
		e.Traits = map[string]any{"email": p.email, "name": p.name, "plan": "gold"}
		out = append(out, e)
	}
	shared := eraseShared(n)
	rest := n - (EraseIdentifiers - 1) - shared
	every := max(1, rest/shared) // spread the shared events among hers
	for i := range rest {
		ids := []graph.IdentifierRef{p.ids[i%EraseIdentifiers]}
		if i%3 == 0 {
			ids = append(ids, p.ids[(i+1)%EraseIdentifiers])
		}
		var e graph.Event
		switch {
		case i%20 == 0:
			e = ev(len(out)-1, "identify", "", ids...)
			e.Traits = map[string]any{"email": p.email, "name": p.name, "visits": i}
		case i%5 == 0:
			e = ev(len(out)-1, "track", "Order Completed", ids...)
			e.Properties = map[string]any{"contact": p.email, "total": i, "sku": fmt.Sprintf("SKU-%d", i%97)}
		default:
			e = ev(len(out)-1, "page", "Product", ids...)
			e.Properties = map[string]any{"path": fmt.Sprintf("/p/%d", i%211)}
		}
		out = append(out, e)
		if (i+1)%every == 0 && shared > 0 {
			s := ev(len(out)-1, "track", "Device Shared", p.ids[0], p.other)
			s.Properties = map[string]any{"note": p.email, "device": "tablet"}
			out = append(out, s)
			shared--
		}
	}
	for ; shared > 0; shared-- {
		s := ev(len(out)-1, "track", "Device Shared", p.ids[0], p.other)
		s.Properties = map[string]any{"note": p.email, "device": "tablet"}
		out = append(out, s)
	}
	return out
}

// eraseRounds builds and erases cfg.EraseRounds people on store, which
// holds the run's population.
func eraseRounds(ctx context.Context, cfg Config, store graph.Store, rules *graph.Rules) (EraseResult, error) {
	ss, ok := store.(privacy.SuppressionStore)
	if !ok {
		return EraseResult{}, fmt.Errorf("store %T keeps no suppression list", store)
	}
	engine := graph.NewEngine(store, rules)
	list, err := privacy.OpenSuppressionList(ctx, ss)
	if err != nil {
		return EraseResult{}, fmt.Errorf("opening the suppression list: %w", err)
	}
	x := privacy.NewEraser(engine, list)
	n := cfg.EraseEvents
	shared := eraseShared(n)
	r := EraseResult{Rounds: cfg.EraseRounds, Built: n}
	var took, built []time.Duration
	for round := range cfg.EraseRounds {
		cfg.logf("erasure %d/%d: a person of %d identifiers and %d events (%d shared), then forgetProfile", round+1, cfg.EraseRounds, EraseIdentifiers, n, shared)
		p := newErasePerson(round)
		evs := p.events(n, round)
		start := time.Now()
		for i := 0; i < len(evs); i += cfg.ServerBatch {
			part := evs[i:min(i+cfg.ServerBatch, len(evs))]
			res, err := engine.ApplyBatch(ctx, part)
			if err != nil {
				return EraseResult{}, fmt.Errorf("building the person: %w", err)
			}
			if res.Stored != len(part) {
				return EraseResult{}, fmt.Errorf("building the person: %d of %d events stored", res.Stored, len(part))
			}
		}
		built = append(built, time.Since(start))
		prof, err := engine.ProfileByIdentifier(ctx, p.ids[0])
		if err != nil {
			return EraseResult{}, fmt.Errorf("the person's profile: %w", err)
		}
		if prof.Size != EraseIdentifiers {
			return EraseResult{}, fmt.Errorf("the person's profile holds %d identifiers, want %d", prof.Size, EraseIdentifiers)
		}
		other, err := engine.ProfileByIdentifier(ctx, p.other)
		if err != nil {
			return EraseResult{}, fmt.Errorf("the other person's profile: %w", err)
		}
		if other.ID == prof.ID {
			return EraseResult{}, fmt.Errorf("the shared events merged the two people")
		}

		start = time.Now()
		// What forgetProfile runs: the audience data goes in the same
		// transaction (the resolver adds only the audit entry).
		rc, err := x.ForgetProfile(ctx, prof.ID, fmt.Sprintf("bench erasure %d", round+1), privacy.Requester{}, forgetAudiences)
		if err != nil {
			return EraseResult{}, fmt.Errorf("forgetProfile: %w", err)
		}
		took = append(took, time.Since(start))

		if rc.Identifiers != EraseIdentifiers || rc.Events != n-shared || rc.ScrubbedEvents != shared || rc.SuppressedHashes != EraseIdentifiers {
			return EraseResult{}, fmt.Errorf("the receipt counts %d identifiers, %d events deleted, %d scrubbed, %d suppressed hashes; built %d identifiers, %d events of hers only, %d shared",
				rc.Identifiers, rc.Events, rc.ScrubbedEvents, rc.SuppressedHashes, EraseIdentifiers, n-shared, shared)
		}
		if _, err := engine.ProfileByIdentifier(ctx, p.ids[0]); graph.ErrorCode(err) != graph.ENOTFOUND {
			return EraseResult{}, fmt.Errorf("after forgetProfile her user id still answers (error %v)", err)
		}
		if o, err := engine.ProfileByIdentifier(ctx, p.other); err != nil || o.Size != 2 {
			return EraseResult{}, fmt.Errorf("after forgetProfile the other person's profile is not whole (size %d, error %v)", o.Size, err)
		}
		r.Identifiers, r.Events, r.ScrubbedEvents, r.Traits = rc.Identifiers, rc.Events, rc.ScrubbedEvents, rc.Traits
	}
	for _, d := range took {
		r.Seconds = append(r.Seconds, round(d.Seconds()))
	}
	r.SecondsMedian, r.SecondsMax = medianSeconds(took), maxSeconds(took)
	r.BuildSeconds = medianSeconds(built)
	return r, nil
}

// suppressionPasses measures ingest with an empty suppression list and
// with cfg.SuppressionHashes hashes, alternating, on a fresh store each
// pass: a new file in dir on the embedded store, n4 emptied on Neo4j.
func suppressionPasses(ctx context.Context, cfg Config, n4 graph.Store, dir string, ds *Dataset, rules *graph.Rules) (SuppressionResult, error) {
	msgs := ds.Messages
	if cfg.SuppressionEvents > 0 && cfg.SuppressionEvents < len(msgs) {
		msgs = msgs[:cfg.SuppressionEvents]
	}
	work, err := prepare(&Dataset{Messages: msgs}, rules, cfg.Batch)
	if err != nil {
		return SuppressionResult{}, err
	}
	entries := make([]privacy.Suppression, cfg.SuppressionHashes)
	at := time.Now()
	for i := range entries {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		entries[i] = privacy.Suppression{Hash: hex.EncodeToString(b), At: at, Reason: "bench"}
	}
	r := SuppressionResult{Hashes: cfg.SuppressionHashes, Messages: len(msgs), Rounds: cfg.SuppressionRounds}
	var none, list, checkNone, checkList []float64
	for pass := range 2 * cfg.SuppressionRounds {
		// none, list, list, none, none, list, ...: each pair flips the
		// order of the one before, so a steady drift of the machine
		// weighs on both sides alike.
		withList := pass%2 == 1
		if (pass/2)%2 == 1 {
			withList = !withList
		}
		hashes := 0
		if withList {
			hashes = len(entries)
		}
		cfg.logf("suppression %d/%d: %d messages through HTTP, %d hashes on the list", pass+1, 2*cfg.SuppressionRounds, len(msgs), hashes)
		took, check, err := suppressionPass(ctx, cfg, n4, filepath.Join(dir, fmt.Sprintf("suppression-%d", pass)), work, rules, entries[:hashes])
		if err != nil {
			return SuppressionResult{}, fmt.Errorf("suppression pass %d (%d hashes): %w", pass+1, hashes, err)
		}
		rate := float64(len(msgs)) / took.Seconds()
		if withList {
			list, checkList = append(list, rate), append(checkList, check.Seconds())
		} else {
			none, checkNone = append(none, rate), append(checkNone, check.Seconds())
		}
	}
	r.NonePerSecond, r.ListPerSecond = median(none), median(list)
	r.Ratio = safeDiv(r.ListPerSecond, r.NonePerSecond)
	r.CheckNone, r.CheckList = median(checkNone), median(checkList)
	r.NoneRuns, r.ListRuns = roundAll(none), roundAll(list)
	return r, nil
}

// passStore returns a fresh store for one pass of a measure: n4, emptied,
// on Neo4j; otherwise a new embedded store in dir. done closes and
// removes what passStore opened.
func passStore(ctx context.Context, n4 graph.Store, dir string) (store graph.Store, done func(), err error) {
	if n4 != nil {
		return n4, func() {}, emptyNeo4j(ctx, n4)
	}
	s, err := embedded.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	return s, func() {
		_ = s.Close(context.WithoutCancel(ctx))
		_ = os.RemoveAll(dir)
	}, nil
}

// suppressionChunk is the most hashes one Suppress call adds.
const suppressionChunk = 10000

// suppressionPass puts entries on the list of a fresh store, then sends
// work through the service and returns the time the sending took and the
// time the service spent in the list's check.
func suppressionPass(ctx context.Context, cfg Config, n4 graph.Store, dir string, work *workload, rules *graph.Rules, entries []privacy.Suppression) (took, check time.Duration, err error) {
	store, done, err := passStore(ctx, n4, dir)
	if err != nil {
		return 0, 0, err
	}
	defer done()
	ss, ok := store.(privacy.SuppressionStore)
	if !ok {
		return 0, 0, fmt.Errorf("store %T keeps no suppression list", store)
	}
	for i := 0; i < len(entries); i += suppressionChunk {
		if err := ss.Suppress(ctx, entries[i:min(i+suppressionChunk, len(entries))]); err != nil {
			return 0, 0, fmt.Errorf("filling the suppression list: %w", err)
		}
	}
	if n, err := ss.CountSuppressed(ctx); err != nil || n != len(entries) {
		return 0, 0, fmt.Errorf("the suppression list holds %d hashes, want %d (error %v)", n, len(entries), err)
	}
	timed := newTimedStore(store)
	svc, err := startService(ctx, timed, rules, cfg)
	if err != nil {
		return 0, 0, err
	}
	sent, err := sendAll(ctx, svc.url, work.bodies, cfg.Clients)
	if stopErr := svc.stop(ctx); err == nil {
		err = stopErr
	}
	if err != nil {
		return 0, 0, fmt.Errorf("ingest through HTTP: %w", err)
	}
	if sent.stored != work.storable {
		return 0, 0, fmt.Errorf("the service stored %d events; %d distinct messages carry a usable identifier, none of them suppressed", sent.stored, work.storable)
	}
	for _, m := range timed.take() {
		if m.Method == "Suppressed" {
			check = time.Duration(m.Seconds * float64(time.Second))
		}
	}
	return sent.elapsed, check, nil
}

func medianSeconds(ds []time.Duration) float64 {
	f := make([]float64, len(ds))
	for i, d := range ds {
		f[i] = d.Seconds()
	}
	return median(f)
}

func maxSeconds(ds []time.Duration) float64 {
	m := 0.0
	for _, d := range ds {
		m = max(m, d.Seconds())
	}
	return m
}

// median is the middle value, or the mean of the middle two.
func median(f []float64) float64 {
	if len(f) == 0 {
		return 0
	}
	s := append([]float64(nil), f...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// forgetAudiences removes the erased profile from the audience data in
// the erasure's transaction, as the forgetProfile mutation does.
func forgetAudiences(ctx context.Context, tx graph.Tx, w *graph.Write, x *graph.Erasure, _ privacy.ErasureReceipt) error {
	_, _, err := audience.ForgetErasureInTx(ctx, tx, w, x)
	return err
}
