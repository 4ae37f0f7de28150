package keep_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
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

// The property: after random ingestion (traits, properties, merges through
// shared identifiers), consent changes and identifier removals, RefreshAll
// leaves each audience's members equal to what a naive evaluation of the
// test's own model gives, and Preview of each audience's filter and
// purpose (on the facts the refreshes wrote) counts as many profiles. The model keeps identifiers, the links events
// make, events, traits and consent records; profiles are the connected
// components of the links. Its evaluator handles the few conditions the
// test draws, written out here, not audience.Filter.Eval.

var rNow = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

// The pool of identifiers: three emails (limit 5 per profile, so no link
// is ever refused) and five anonymous ids.
var rKeys = []string{
	"email:k0@ex.com", "email:k1@ex.com", "email:k2@ex.com",
	"anonymous_id:anon-k0", "anonymous_id:anon-k1", "anonymous_id:anon-k2", "anonymous_id:anon-k3", "anonymous_id:anon-k4",
}

func priority(key string) int {
	if strings.HasPrefix(key, "email:") {
		return 2
	}
	return 5
}

type mTrait struct {
	v  any
	at time.Time
}

type mEvent struct {
	id    string
	name  string
	total any // nil when the event has no total
	ts    time.Time
	keys  map[string]bool
}

type mRecord struct {
	purpose string
	status  privacy.Status
	at      time.Time
	expires time.Time
}

type model struct {
	stored  map[string]bool // identifiers stored
	removed map[string]bool // identifiers removed; never used again
	links   map[[2]string]bool
	events  []*mEvent
	traits  map[string]map[string]mTrait
	consent map[string][]mRecord
	clock   int // makes every time unique
}

func newModel() *model {
	return &model{stored: map[string]bool{}, removed: map[string]bool{}, links: map[[2]string]bool{},
		traits: map[string]map[string]mTrait{}, consent: map[string][]mRecord{}}
}

// live returns the keys of rKeys not removed.
func (m *model) live() []string {
	var out []string
	for _, k := range rKeys {
		if !m.removed[k] {
			out = append(out, k)
		}
	}
	return out
}

// profilesOf returns the live profile ids of the stored keys among keys,
// as eng reads them.
func (m *model) profilesOf(ctx context.Context, eng *graph.Engine, keys []string) ([]string, error) {
	var refs []graph.IdentifierRef
	for _, k := range keys {
		if m.stored[k] {
			refs = append(refs, graph.SplitKey(k))
		}
	}
	ps, err := eng.ProfilesByIdentifiers(ctx, refs)
	var out []string
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out, err
}

// tick returns a time days before rNow, unique in the run.
func (m *model) tick(days int) time.Time {
	m.clock++
	return rNow.Add(-time.Duration(days)*24*time.Hour - time.Duration(m.clock)*time.Second)
}

// components returns the profiles: sorted key sets.
func (m *model) components() [][]string {
	seen := map[string]bool{}
	var out [][]string
	keys := sortedKeys(m.stored)
	for _, k := range keys {
		if seen[k] {
			continue
		}
		var comp []string
		stack := []string{k}
		seen[k] = true
		for len(stack) > 0 {
			x := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			comp = append(comp, x)
			for l := range m.links {
				for _, y := range []string{l[0], l[1]} {
					if (l[0] == x || l[1] == x) && !seen[y] {
						seen[y] = true
						stack = append(stack, y)
					}
				}
			}
		}
		sort.Strings(comp)
		out = append(out, comp)
	}
	return out
}

func sortedKeys(s map[string]bool) []string {
	var out []string
	for k, ok := range s {
		if ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// person is the model's view of one profile.
type person struct {
	keys    map[string]bool
	traits  map[string]any
	events  []*mEvent
	consent []mRecord
	in      map[int]bool // the test's audiences it is in
}

func (m *model) person(comp []string) *person {
	p := &person{keys: map[string]bool{}, traits: map[string]any{}, in: map[int]bool{}}
	newest := map[string]mTrait{}
	for _, k := range comp {
		p.keys[k] = true
		for name, tv := range m.traits[k] {
			if old, ok := newest[name]; !ok || tv.at.After(old.at) {
				newest[name] = tv
			}
		}
		p.consent = append(p.consent, m.consent[k]...)
	}
	for name, tv := range newest {
		p.traits[name] = tv.v
	}
	for _, e := range m.events {
		for k := range e.keys {
			if p.keys[k] {
				p.events = append(p.events, e)
				break
			}
		}
	}
	return p
}

// The naive evaluator, for the conditions rFilter draws.
func (p *person) eval(f *audience.Filter) bool {
	switch {
	case f.And != nil:
		for i := range f.And {
			if !p.eval(&f.And[i]) {
				return false
			}
		}
		return true
	case f.Or != nil:
		for i := range f.Or {
			if p.eval(&f.Or[i]) {
				return true
			}
		}
		return false
	case f.Not != nil:
		return !p.eval(f.Not)
	case f.Trait != nil:
		v, ok := p.traits[f.Trait.Name]
		switch f.Trait.Op {
		case audience.OpNotExists:
			return !ok
		case audience.OpEQ:
			return ok && v == f.Trait.Value
		case audience.OpGT:
			n, isNum := v.(float64)
			return ok && isNum && n > f.Trait.Value.(float64)
		}
	case f.Identifier != nil:
		has := false
		for k := range p.keys {
			has = has || strings.HasPrefix(k, f.Identifier.Type+":")
		}
		return has == (f.Identifier.Exists == nil || *f.Identifier.Exists)
	case f.Event != nil:
		c := f.Event
		n := 0
		for _, e := range p.events {
			if c.Name != "" && e.name != c.Name {
				continue
			}
			if c.Within != "" && rNow.Sub(e.ts) > days(c.Within) {
				continue
			}
			if len(c.Where) > 0 {
				t, isNum := e.total.(float64)
				if !isNum || t <= c.Where[0].Value.(float64) {
					continue
				}
			}
			n++
		}
		return cmpCount(n, c.Count)
	case f.Consent != nil:
		return p.state(f.Consent.Purpose) == f.Consent.Status
	case f.Computed != nil:
		switch f.Computed.Name {
		case "orders7": // COUNT of Order within P7D
			n := 0
			for _, e := range p.events {
				if e.name == "Order" && rNow.Sub(e.ts) <= days("P7D") {
					n++
				}
			}
			return float64(n) >= f.Computed.Value.(float64)
		case "ltv": // SUM of total over Orders; none: missing
			sum, any := 0.0, false
			for _, e := range p.events {
				if t, isNum := e.total.(float64); isNum && e.name == "Order" {
					sum, any = sum+t, true
				}
			}
			return any && sum > f.Computed.Value.(float64)
		}
	case f.InAudience != nil:
		var i int
		fmt.Sscanf(*f.InAudience, "seg_%032x", &i)
		return p.in[rAudN-i]
	}
	panic(fmt.Sprintf("the naive evaluator does not know %+v", *f))
}

func days(d string) time.Duration {
	var n int
	fmt.Sscanf(d, "P%dD", &n)
	return time.Duration(n) * 24 * time.Hour
}

func cmpCount(n int, c *audience.CountCondition) bool {
	if c == nil {
		return n >= 1
	}
	switch c.Op {
	case audience.OpEQ:
		return n == c.Value
	case audience.OpGTE:
		return n >= c.Value
	case audience.OpLT:
		return n < c.Value
	}
	panic("count op")
}

func (p *person) state(purpose string) privacy.State {
	var newest *mRecord
	for i := range p.consent {
		r := &p.consent[i]
		if r.purpose == purpose && (newest == nil || r.at.After(newest.at)) {
			newest = r
		}
	}
	switch {
	case newest == nil:
		return privacy.StateUnknown
	case newest.status == privacy.StatusGranted && !newest.expires.IsZero() && !newest.expires.After(rNow):
		return privacy.StateExpired
	}
	return privacy.State(newest.status)
}

// rAudN audiences: audience i has id seg(rAudN-i), so that id order is
// the reverse of the order inAudience allows (i refers only to j < i).
const rAudN = 3

func rFilter(t *rapid.T, i, depth int, label string) audience.Filter {
	if i > 0 && depth == 0 && rapid.Bool().Draw(t, label+".chain?") {
		// Often a chain: the membership of an audience settled earlier in
		// the same refresh.
		return audience.Filter{And: []audience.Filter{
			{InAudience: str(seg(rAudN - rapid.IntRange(0, i-1).Draw(t, label+".ref")))},
			rFilter(t, i, depth+1, label+".with"),
		}}
	}
	kinds := []string{"trait", "event", "consent", "computed", "identifier", "in", "not", "and", "or"}
	if i == 0 {
		kinds = kinds[:5] // the first refers to no audience
		if depth < 2 {
			kinds = append(kinds, "not", "and", "or")
		}
	} else if depth >= 2 {
		kinds = kinds[:6]
	}
	switch rapid.SampledFrom(kinds).Draw(t, label+".kind") {
	case "trait":
		switch rapid.IntRange(0, 2).Draw(t, label+".trait") {
		case 0:
			return audience.Filter{Trait: &audience.TraitCondition{Name: "plan", Op: audience.OpEQ, Value: rapid.SampledFrom([]string{"pro", "free"}).Draw(t, label+".plan")}}
		case 1:
			return audience.Filter{Trait: &audience.TraitCondition{Name: "score", Op: audience.OpGT, Value: float64(rapid.IntRange(0, 3).Draw(t, label+".score"))}}
		}
		return audience.Filter{Trait: &audience.TraitCondition{Name: "plan", Op: audience.OpNotExists}}
	case "event":
		c := &audience.EventCondition{Name: rapid.SampledFrom([]string{"", "Order", "View"}).Draw(t, label+".name")}
		c.Within = rapid.SampledFrom([]string{"", "P3D", "P10D"}).Draw(t, label+".within")
		if rapid.Bool().Draw(t, label+".where?") {
			c.Where = []audience.PropertyFilter{{Path: "total", Op: audience.OpGT, Value: float64(rapid.SampledFrom([]int{0, 10, 30}).Draw(t, label+".total"))}}
		}
		if rapid.Bool().Draw(t, label+".count?") {
			c.Count = &audience.CountCondition{Op: rapid.SampledFrom([]audience.Op{audience.OpEQ, audience.OpGTE, audience.OpLT}).Draw(t, label+".op"), Value: rapid.IntRange(0, 3).Draw(t, label+".n")}
		}
		return audience.Filter{Event: c}
	case "consent":
		return audience.Filter{Consent: &audience.ConsentCondition{
			Purpose: rapid.SampledFrom([]string{"email", "advertising"}).Draw(t, label+".purpose"),
			Status:  rapid.SampledFrom([]privacy.State{privacy.StateGranted, privacy.StateUnknown, privacy.StateWithdrawn, privacy.StateExpired, privacy.StateDenied}).Draw(t, label+".status"),
		}}
	case "computed":
		if rapid.Bool().Draw(t, label+".ct") {
			return audience.Filter{Computed: &audience.ComputedCondition{Name: "orders7", Op: audience.OpGTE, Value: float64(rapid.IntRange(1, 2).Draw(t, label+".v"))}}
		}
		return audience.Filter{Computed: &audience.ComputedCondition{Name: "ltv", Op: audience.OpGT, Value: float64(rapid.SampledFrom([]int{0, 25, 60}).Draw(t, label+".v"))}}
	case "identifier":
		ex := rapid.Bool().Draw(t, label+".exists")
		return audience.Filter{Identifier: &audience.IdentifierCondition{Type: "email", Exists: &ex}}
	case "in":
		return audience.Filter{InAudience: str(seg(rAudN - rapid.IntRange(0, i-1).Draw(t, label+".ref")))}
	case "not":
		f := rFilter(t, i, depth+1, label+".not")
		return audience.Filter{Not: &f}
	case "and":
		return audience.Filter{And: []audience.Filter{rFilter(t, i, depth+1, label+".and0"), rFilter(t, i, depth+1, label+".and1")}}
	}
	return audience.Filter{Or: []audience.Filter{rFilter(t, i, depth+1, label+".or0"), rFilter(t, i, depth+1, label+".or1")}}
}

// runProperty runs one example on a fresh, empty store.
func runProperty(t *rapid.T, s graph.Store) {
	ctx := context.Background()
	st := s.(audience.Store)
	cs := s.(privacy.ConsentStore)
	eng := graph.NewEngine(s, nil)
	// Rounds written in parts of a few profiles (audience.KeepSplit) keep
	// what one write keeps.
	k := newKeeper(eng, st, cs).WithKeepProfiles(rapid.IntRange(0, 3).Draw(t, "keepProfiles"))
	fatal := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	auds := putRandomDefinitions(t, ctx, st)

	m := newModel()
	// check compares kept membership with the naive evaluation; with all,
	// after RefreshAll, else as the refreshes of touched profiles left it.
	check := func(all bool) {
		if all {
			fatal(k.RefreshAll(ctx))
		}
		want := naiveMembers(t, ctx, eng, m.components(), m.person, auds, "")
		for i := range auds {
			w, got := want[i], storedMembers(t, ctx, st, auds[i].ID)
			if !reflect.DeepEqual(got, w) {
				t.Fatalf("audience %d (%s), RefreshAll %v: members %v, the naive evaluation gives %v", i, describe(auds[i]), all, got, w)
			}
			// Preview, on the facts the refreshes wrote, counts the same
			// profiles, and samples the first in id order.
			n, smp, err := k.Preview(ctx, &auds[i].Filter, auds[i].Purpose, 2)
			fatal(err)
			if wantSample := w[:min(2, len(w))]; n != len(w) || !reflect.DeepEqual(smp, wantSample) {
				t.Fatalf("audience %d (%s), RefreshAll %v: Preview counts %d, sample %v; the naive evaluation gives %d, %v", i, describe(auds[i]), all, n, smp, len(w), wantSample)
			}
		}
	}

	live := m.live
	// profiles returns the live profile ids of the stored keys among keys.
	profiles := func(keys []string) []string {
		ids, err := m.profilesOf(ctx, eng, keys)
		fatal(err)
		return ids
	}
	// Each operation refreshes the profiles it touched, before and after,
	// as the service does after a commit.
	steps := rapid.IntRange(1, 12).Draw(t, "steps")
	for s := 0; s < steps; s++ {
		var touched []string
		keys := live()
		if len(keys) == 0 {
			break
		}
		switch rapid.IntRange(0, 9).Draw(t, "op") {
		case 0, 1, 2, 3, 4: // an event of one or two identifiers
			a := rapid.SampledFrom(keys).Draw(t, "key")
			evKeys := []string{a}
			if rapid.IntRange(0, 2).Draw(t, "two?") == 0 {
				if b := rapid.SampledFrom(keys).Draw(t, "key2"); b != a {
					evKeys = append(evKeys, b)
				}
			}
			sort.Slice(evKeys, func(i, j int) bool {
				if priority(evKeys[i]) != priority(evKeys[j]) {
					return priority(evKeys[i]) < priority(evKeys[j])
				}
				return evKeys[i] < evKeys[j]
			})
			e, ge := m.drawEvent(t, "test/r", evKeys)
			if len(evKeys) == 2 {
				m.links[[2]string{evKeys[0], evKeys[1]}] = true
			}
			touched = profiles(evKeys)
			m.events = append(m.events, e)
			res, err := eng.ApplyBatch(ctx, []graph.Event{ge})
			fatal(err)
			if r := res.Results[0]; r.Status != graph.StatusStored {
				t.Fatalf("event %s: %+v", ge.ID, r)
			}
			touched = append(touched, profiles(evKeys)...)
		case 5, 6, 7: // a consent decision
			key := rapid.SampledFrom(keys).Draw(t, "consent.key")
			r := mRecord{
				purpose: rapid.SampledFrom([]string{"email", "advertising"}).Draw(t, "consent.purpose"),
				status:  rapid.SampledFrom([]privacy.Status{privacy.StatusGranted, privacy.StatusDenied, privacy.StatusWithdrawn}).Draw(t, "consent.status"),
				at:      m.tick(rapid.IntRange(0, 5).Draw(t, "consent.age")),
			}
			if r.status == privacy.StatusGranted && rapid.Bool().Draw(t, "consent.expires?") {
				// Before or after rNow, as the age is.
				r.expires = r.at.Add(time.Duration(rapid.IntRange(1, 72).Draw(t, "consent.expiry")) * time.Hour)
			}
			m.consent[key] = append(m.consent[key], r)
			touched = profiles([]string{key})
			fatal(cs.PutConsent(ctx, []privacy.Record{{ID: privacy.NewRecordID(), Purpose: r.purpose, Status: r.status, At: r.at,
				Source: "test", LegalBasis: privacy.BasisConsent, Identifier: key, ExpiresAt: r.expires, ReceivedAt: r.at, Proof: privacy.Proof{Version: "v1"}}}))
		case 8: // an identifier removed
			stored := sortedKeys(m.stored)
			if len(stored) == 0 {
				continue
			}
			key := rapid.SampledFrom(stored).Draw(t, "remove")
			var comp []string
			for _, c := range m.components() {
				if slices.Contains(c, key) {
					comp = c
				}
			}
			touched = profiles(comp)
			_, err := eng.RemoveIdentifier(ctx, graph.SplitKey(key), "test removal")
			fatal(err)
			delete(m.stored, key)
			touched = append(touched, profiles(comp)...)
			m.removed[key] = true
			delete(m.traits, key)
			for l := range m.links {
				if l[0] == key || l[1] == key {
					delete(m.links, l)
				}
			}
			m.events = slices.DeleteFunc(m.events, func(e *mEvent) bool {
				delete(e.keys, key)
				return len(e.keys) == 0
			})
		default:
			check(rapid.Bool().Draw(t, "refreshAll?"))
		}
		fatal(k.Refresh(ctx, touched))
	}
	check(false)
	check(true)
}

func describe(a audience.Audience) string {
	return fmt.Sprintf("purpose %q, filter %s", a.Purpose, mustJSON(a.Filter))
}

func newKeeper(eng *graph.Engine, st audience.Store, cs privacy.ConsentStore) *keep.Keeper {
	return keep.New(eng, st, cs, func() time.Time { return rNow })
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func mustPurposes() *privacy.Purposes {
	p, err := privacy.NewPurposes(graph.ConsentRules{Purposes: graph.DefaultConsentPurposes()})
	if err != nil {
		panic(err)
	}
	return p
}

func TestKeptEqualsNaiveEmbedded(t *testing.T) { checkEmbedded(t, runProperty) }

func TestKeptEqualsNaiveNeo4j(t *testing.T) { checkNeo4j(t, runProperty) }

// checkEmbedded runs the property run 40 times, each on a new embedded
// store.
func checkEmbedded(t *testing.T, run func(*rapid.T, graph.Store)) {
	storetest.WithRapidChecks(40, func() {
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
			run(rt, s)
		})
	})
}

// checkNeo4j runs the property run 8 times on the test Neo4j, emptied
// before each.
func checkNeo4j(t *testing.T, run func(*rapid.T, graph.Store)) {
	s := storetest.OpenNeo4j(t)
	storetest.WithRapidChecks(8, func() {
		rapid.Check(t, func(rt *rapid.T) {
			if err := s.DeleteAll(context.Background()); err != nil {
				rt.Fatal(err)
			}
			run(rt, s)
		})
	})
}

// drawEvent draws an event of evKeys, at a time the clock moves on to: an
// Order with a total, a View, or an identify setting plan or score, whose
// trait the model keeps on evKeys[0] unless it is older than the one
// kept. The model learns that its identifiers are stored; the caller
// records the event and its links.
func (m *model) drawEvent(t *rapid.T, prefix string, evKeys []string) (*mEvent, graph.Event) {
	ts := m.tick(rapid.IntRange(0, 12).Draw(t, "age"))
	e := &mEvent{id: fmt.Sprintf("%s%d", prefix, m.clock), ts: ts, keys: map[string]bool{}}
	ge := graph.Event{ID: e.id, Type: "track", Channel: "web", Source: "test", Timestamp: ts, ReceivedAt: ts}
	switch rapid.IntRange(0, 2).Draw(t, "kind") {
	case 0:
		e.name = "Order"
		e.total = float64(rapid.SampledFrom([]int{5, 20, 50}).Draw(t, "total"))
		ge.Properties = map[string]any{"total": e.total}
	case 1:
		e.name = "View"
	default:
		ge.Type = "identify"
		traits := map[string]any{}
		if rapid.Bool().Draw(t, "plan?") {
			traits["plan"] = rapid.SampledFrom([]string{"pro", "free"}).Draw(t, "plan")
		} else {
			traits["score"] = float64(rapid.IntRange(0, 4).Draw(t, "score"))
		}
		ge.Traits = traits
		anchor := evKeys[0]
		if m.traits[anchor] == nil {
			m.traits[anchor] = map[string]mTrait{}
		}
		for n, v := range traits {
			// A trait reported earlier than the one kept is
			// ignored.
			if old, ok := m.traits[anchor][n]; !ok || !ts.Before(old.at) {
				m.traits[anchor][n] = mTrait{v, ts}
			}
		}
	}
	ge.Name = e.name
	for _, k := range evKeys {
		ge.Identifiers = append(ge.Identifiers, graph.SplitKey(k))
		e.keys[k] = true
		m.stored[k] = true
	}
	return e, ge
}

// putRandomDefinitions stores the two computed traits (orders7, ltv) and
// rAudN audiences of drawn filters and purposes, and returns the
// audiences.
func putRandomDefinitions(t *rapid.T, ctx context.Context, st audience.Store) []audience.Audience {
	fatal := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	fatal(st.PutComputedTrait(ctx, audience.ComputedTrait{Name: "orders7", Aggregate: audience.AggCount, Event: "Order", Window: "P7D", CreatedAt: rNow, UpdatedAt: rNow}))
	fatal(st.PutComputedTrait(ctx, audience.ComputedTrait{Name: "ltv", Aggregate: audience.AggSum, Event: "Order", Property: "total", CreatedAt: rNow, UpdatedAt: rNow}))
	auds := make([]audience.Audience, rAudN)
	env := audience.Env{
		Purposes: mustPurposes(),
		Computed: func(n string) bool { return n == "orders7" || n == "ltv" },
		Audience: func(id string) bool { return id >= seg(1) && id <= seg(rAudN) },
	}
	for i := range auds {
		f := rFilter(t, i, 0, fmt.Sprintf("aud%d", i))
		fatal(audience.Check(&f, env, "filter"))
		purpose := rapid.SampledFrom([]string{"", "", "email"}).Draw(t, fmt.Sprintf("aud%d.purpose", i))
		auds[i] = audience.Audience{ID: seg(rAudN - i), Name: fmt.Sprintf("a%d", i), Filter: f, Purpose: purpose, CreatedAt: rNow, UpdatedAt: rNow}
		fatal(st.PutAudience(ctx, auds[i]))
	}
	return auds
}

// naiveMembers checks that the store holds each of a model's people, comps
// (as model.components gives them), as one profile of those identifiers,
// and evaluates every audience of auds on each person (person(comp), the
// model's) by the naive rules (its purpose granted, its filter), marking
// the person's memberships: per audience, the sorted ids of the profiles
// that should be members. step names the check in failures ("" for none).
func naiveMembers(t *rapid.T, ctx context.Context, eng *graph.Engine, comps [][]string, person func([]string) *person, auds []audience.Audience, step string) [][]string {
	want := make([][]string, len(auds))
	for _, comp := range comps {
		p, err := eng.ProfileByIdentifier(ctx, graph.SplitKey(comp[0]))
		if err != nil {
			t.Fatal(err)
		}
		ms, err := eng.Members(ctx, []string{p.ID})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, id := range ms[p.ID] {
			got = append(got, id.Key)
		}
		if !reflect.DeepEqual(got, comp) {
			t.Fatalf("%smodel is off: profile of %s holds %v, the model says %v", step, comp[0], got, comp)
		}
		per := person(comp)
		for i := range auds {
			if auds[i].Purpose != "" && per.state(auds[i].Purpose) != privacy.StateGranted {
				continue
			}
			if per.eval(&auds[i].Filter) {
				per.in[i] = true
				want[i] = append(want[i], p.ID)
			}
		}
	}
	for i := range want {
		want[i] = sorted(want[i]...)
	}
	return want
}

// storedMembers returns the ids of an audience's kept members, in the
// store's order ([] for none).
func storedMembers(t *rapid.T, ctx context.Context, st audience.Store, id string) []string {
	got := []string{}
	ms, err := st.Members(ctx, id, audience.Page{Limit: audience.MaxPage})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ms {
		got = append(got, x.ProfileID)
	}
	return got
}
