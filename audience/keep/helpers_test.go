package keep_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/audience/keep"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

var bg = context.Background()

// env is one test's store seen through its three contracts, and a Keeper
// whose clock the test moves.
type env struct {
	t   testing.TB
	eng *graph.Engine
	st  audience.Store
	cs  privacy.ConsentStore
	k   *keep.Keeper
	now time.Time
}

func newEnv(t testing.TB, s graph.Store, now time.Time) *env {
	t.Helper()
	st, ok := s.(audience.Store)
	if !ok {
		t.Fatalf("%T is not an audience.Store", s)
	}
	cs, ok := s.(privacy.ConsentStore)
	if !ok {
		t.Fatalf("%T is not a privacy.ConsentStore", s)
	}
	e := &env{t: t, eng: graph.NewEngine(s, nil), st: st, cs: cs, now: now}
	e.k = keep.New(e.eng, st, cs, func() time.Time { return e.now })
	return e
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// ev is an event of name at at, carried by keys ("type:value").
func ev(id string, at time.Time, name string, props, traits map[string]any, keys ...string) graph.Event {
	e := graph.Event{ID: "test/" + id, Type: "track", Name: name, Channel: "web", Source: "test", Timestamp: at, ReceivedAt: at, Properties: props, Traits: traits}
	if len(traits) > 0 && name == "" {
		e.Type = "identify"
	}
	for _, k := range keys {
		e.Identifiers = append(e.Identifiers, graph.SplitKey(k))
	}
	return e
}

func (e *env) apply(evs ...graph.Event) {
	e.t.Helper()
	res, err := e.eng.ApplyBatch(bg, evs)
	must(e.t, err)
	for i, r := range res.Results {
		if r.Status != graph.StatusStored {
			e.t.Fatalf("event %s: %+v", evs[i].ID, r)
		}
	}
}

func (e *env) consent(key, purpose string, status privacy.Status, at, expires time.Time) {
	e.t.Helper()
	r := privacy.Record{ID: privacy.NewRecordID(), Purpose: purpose, Status: status, At: at, Source: "test",
		LegalBasis: privacy.BasisConsent, Identifier: key, ExpiresAt: expires, ReceivedAt: at, Proof: privacy.Proof{Version: "v1"}}
	must(e.t, e.cs.PutConsent(bg, []privacy.Record{r}))
}

// viewers stores, an hour before t0, one Viewed event of each of the
// three keys, event ids tag1, tag2 and tag3, and returns their profiles.
func (e *env) viewers(tag string, a, b, c string) (string, string, string) {
	e.t.Helper()
	e.apply(
		ev(tag+"1", t0.Add(-time.Hour), "Viewed", nil, nil, a),
		ev(tag+"2", t0.Add(-time.Hour), "Viewed", nil, nil, b),
		ev(tag+"3", t0.Add(-time.Hour), "Viewed", nil, nil, c),
	)
	return e.profile(a), e.profile(b), e.profile(c)
}

func (e *env) profile(key string) string {
	e.t.Helper()
	p, err := e.eng.ProfileByIdentifier(bg, graph.SplitKey(key))
	must(e.t, err)
	return p.ID
}

func (e *env) putAudience(id, name, purpose string, f audience.Filter) {
	e.t.Helper()
	must(e.t, e.st.PutAudience(bg, audience.Audience{ID: id, Name: name, Filter: f, Purpose: purpose, CreatedAt: e.now, UpdatedAt: e.now}))
}

func (e *env) members(id string) []string {
	e.t.Helper()
	out := []string{}
	p := audience.Page{Limit: audience.MaxPage}
	for {
		ms, err := e.st.Members(bg, id, p)
		must(e.t, err)
		for _, m := range ms {
			out = append(out, m.ProfileID)
		}
		if len(ms) < p.Limit {
			return out
		}
		p.After = ms[len(ms)-1].ProfileID
	}
}

func (e *env) size(id string) int {
	e.t.Helper()
	as, err := e.st.Audiences(bg, []string{id})
	must(e.t, err)
	a, ok := as[id]
	if !ok {
		e.t.Fatalf("audience %s not stored", id)
	}
	return a.Size
}

// change is a log entry as the tests write them.
type change struct {
	Profile, Kind string
	At            time.Time
}

func (e *env) changes(id string) []change {
	e.t.Helper()
	cs, err := e.st.Changes(bg, id, audience.ChangePage{Limit: audience.MaxPage})
	must(e.t, err)
	out := []change{}
	for _, c := range cs {
		out = append(out, change{c.ProfileID, c.Kind, c.At.UTC()})
	}
	return out
}

func sorted(ids ...string) []string {
	out := slices.Clone(ids)
	if out == nil {
		out = []string{}
	}
	slices.Sort(out)
	return out
}

func str(s string) *string { return &s }

func seg(n int) string {
	const hex = "0123456789abcdef"
	b := []byte("seg_00000000000000000000000000000000")
	for i := len(b) - 1; n > 0; i-- {
		b[i] = hex[n%16]
		n /= 16
	}
	return string(b)
}

// mustKeep writes w, which names no stale profile: Keep must store it all.
func mustKeep(t testing.TB, s audience.Store, w audience.KeepWrite) {
	t.Helper()
	stale, err := s.Keep(bg, w)
	must(t, err)
	if len(stale) > 0 {
		t.Fatalf("Keep left out %v", stale)
	}
}
