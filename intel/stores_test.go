package intel_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/intel"
	"github.com/idgraph/cdp/internal/storetest"
)

// The three-way differential test of funnels, attributions and paths:
// random events over a few people's identifiers (some carried together,
// which links them, some across two user_ids, which the rules keep apart,
// so that the event is shared and shows its properties to one of them
// only) go into a fresh embedded store and the Neo4j store. Each random
// query is then answered by the naive reference over the raw events and
// the partition, by the accumulators over Scan of the embedded store,
// and by the Neo4j store's Cypher statements (intel.Evaluator); the three
// must agree.

// drawEvents draws events over a small pool of identifiers, at minutes
// that often tie.
func drawEvents(t *rapid.T) []graph.Event {
	pool := []string{"anonymous_id:a0", "anonymous_id:a1", "anonymous_id:a2", "anonymous_id:a3",
		"email:e0@ex.com", "email:e1@ex.com", "user_id:u0", "user_id:u1", "user_id:u2"}
	n := rapid.IntRange(0, 24).Draw(t, "events")
	out := make([]graph.Event, n)
	for i := range out {
		e := graph.Event{
			ID:         fmt.Sprintf("intel/e%03d", i),
			Type:       rapid.SampledFrom([]string{"track", "track", "page"}).Draw(t, "type"),
			Channel:    rapid.SampledFrom([]string{"web", "app", "store", ""}).Draw(t, "channel"),
			Source:     rapid.SampledFrom([]string{"s1", "s2", ""}).Draw(t, "source"),
			Campaign:   rapid.SampledFrom([]string{"spring", "fall", "", ""}).Draw(t, "campaign"),
			Timestamp:  intel.T0.Add(time.Duration(rapid.IntRange(0, 30).Draw(t, "minute")) * time.Minute),
			ReceivedAt: intel.T0,
			Properties: map[string]any{"v": float64(rapid.IntRange(0, 3).Draw(t, "v"))},
		}
		if e.Type == "track" {
			e.Name = rapid.SampledFrom([]string{"A", "B", "C", "ann@x.example", "5550100"}).Draw(t, "name")
		}
		keys := rapid.SliceOfNDistinct(rapid.SampledFrom(pool), 1, 2, rapid.ID[string]).Draw(t, "keys")
		for _, k := range keys {
			e.Identifiers = append(e.Identifiers, graph.SplitKey(k))
		}
		out[i] = e
	}
	return out
}

// partition reads the live profiles' member keys from eng's store, as
// sorted lists in sorted order.
func partition(t interface{ Fatal(...any) }, eng *graph.Engine) [][]string {
	ctx := context.Background()
	page, err := eng.Profiles(ctx, graph.PageQuery{Limit: graph.MaxPage})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(page.Profiles))
	for i, p := range page.Profiles {
		ids[i] = p.ID
	}
	members, err := eng.Members(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, ms := range members {
		var keys []string
		for _, m := range ms {
			keys = append(keys, m.Key)
		}
		slices.Sort(keys)
		out = append(out, keys)
	}
	slices.SortFunc(out, slices.Compare)
	return out
}

// refTimelines gives each profile of the partition (those with an email
// when onlyEmail) its events: every event that carried one of its keys,
// with its properties only when the event's highest-priority key (the
// smallest priority, then the smallest key) is the profile's.
func refTimelines(events []graph.Event, parts [][]string, prio map[string]int, dprio int, onlyEmail bool) [][]graph.Event {
	var out [][]graph.Event
	for _, keys := range parts {
		if onlyEmail && !slices.ContainsFunc(keys, func(k string) bool { return strings.HasPrefix(k, "email:") }) {
			continue
		}
		tl := []graph.Event{}
		for _, e := range events {
			var eks []string
			for _, r := range e.Identifiers {
				eks = append(eks, r.Key())
			}
			if !slices.ContainsFunc(eks, func(k string) bool { return slices.Contains(keys, k) }) {
				continue
			}
			p := func(k string) int {
				if v, ok := prio[graph.SplitKey(k).Type]; ok {
					return v
				}
				return dprio
			}
			sort.Slice(eks, func(i, j int) bool {
				if p(eks[i]) != p(eks[j]) {
					return p(eks[i]) < p(eks[j])
				}
				return eks[i] < eks[j]
			})
			if !slices.Contains(keys, eks[0]) {
				e.Properties = nil
			}
			tl = append(tl, e)
		}
		out = append(out, tl)
	}
	return out
}

// freshStores empties neo and opens a new embedded store in a temporary
// folder, for one example of a rapid test comparing the two; done closes
// and removes the embedded store.
func freshStores(t *rapid.T, neo *neo4jstore.Store) (emb *embedded.Store, done func()) {
	if err := neo.DeleteAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "intel-stores")
	if err != nil {
		t.Fatal(err)
	}
	if emb, err = embedded.Open(dir); err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	return emb, func() {
		_ = emb.Close(context.Background())
		os.RemoveAll(dir)
	}
}

func TestQueriesMatchAcrossStores(t *testing.T) {
	neo := storetest.OpenNeo4j(t)
	storetest.WithRapidChecks(15, func() {
		rapid.Check(t, func(t *rapid.T) {
			ctx := context.Background()
			emb, done := freshStores(t, neo)
			defer done()
			events := drawEvents(t)
			engE, engN := graph.NewEngine(emb, nil), graph.NewEngine(neo, nil)
			for _, eng := range []*graph.Engine{engE, engN} {
				// One batch: the same partition on both stores.
				if _, err := eng.ApplyBatch(ctx, events); err != nil {
					t.Fatal(err)
				}
			}
			parts := partition(t, engE)
			if got := partition(t, engN); !reflect.DeepEqual(got, parts) {
				t.Fatalf("the stores' partitions differ:\nembedded %v\nneo4j    %v", parts, got)
			}
			prio, dprio := engE.Normalizer().Priorities()
			onlyEmail := rapid.Bool().Draw(t, "onlyEmail")
			scope := audience.FilterQuery{Now: intel.T0, Priorities: prio, DefaultPriority: dprio}
			var keep func(ctx context.Context, ids []string) ([]string, error)
			if onlyEmail {
				scope.Filter = &audience.Filter{Identifier: &audience.IdentifierCondition{Type: "email"}}
				keep = func(ctx context.Context, ids []string) ([]string, error) {
					members, err := engE.Members(ctx, ids)
					if err != nil {
						return nil, err
					}
					return slices.DeleteFunc(ids, func(id string) bool {
						return !slices.ContainsFunc(members[id], func(m graph.Identifier) bool { return m.Type == "email" })
					}), nil
				}
			}
			tls := refTimelines(events, parts, prio, dprio, onlyEmail)
			scan := func(from, to time.Time, add func([]graph.Event)) {
				err := intel.ScanWith(ctx, emb, engE, intel.ScanOptions{From: from, To: to, Keep: keep, Properties: true},
					func(_ string, evs []graph.Event) error { add(evs); return nil })
				if err != nil {
					t.Fatal(err)
				}
			}
			both := bothStores{ctx: ctx, neo: neo, scope: scope, scan: scan}
			for range 3 {
				checkFunnel(t, both, tls)
				checkAttribution(t, both, tls)
				checkPaths(t, both, tls)
			}
		})
	})
}

type scanFunc func(from, to time.Time, add func([]graph.Event))

// bothStores answers intel queries, by store name: the embedded store
// through scan and the accumulators, Neo4j through its statements.
type bothStores struct {
	ctx   context.Context
	neo   *neo4jstore.Store
	scope audience.FilterQuery
	scan  scanFunc
}

// fataler is what the answers need of a test: *testing.T or *rapid.T.
type fataler interface {
	Helper()
	Fatal(args ...any)
}

func (b bothStores) paths(t fataler, q intel.PathsQuery) map[string]intel.PathsResult {
	t.Helper()
	p := intel.NewPaths(q)
	from, to := q.Events()
	b.scan(from, to, p.Add)
	got, err := b.neo.EvalPaths(b.ctx, q, b.scope)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]intel.PathsResult{"embedded": {Starts: p.Starts(), Paths: p.Result()}, "neo4j": got}
}

func (b bothStores) attribution(t fataler, q intel.AttributionQuery) map[string]intel.AttributionResult {
	t.Helper()
	a := intel.NewAttribution(q)
	from, to := q.Events()
	b.scan(from, to, a.Add)
	got, err := b.neo.EvalAttribution(b.ctx, q, b.scope)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]intel.AttributionResult{"embedded": a.Result(), "neo4j": got}
}

func (b bothStores) funnel(t fataler, q intel.FunnelQuery) map[string]intel.FunnelResult {
	t.Helper()
	f := intel.NewFunnel(q)
	from, to := q.Events()
	b.scan(from, to, f.Add)
	got, err := b.neo.EvalFunnel(b.ctx, q, b.scope)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]intel.FunnelResult{"embedded": f.Result(), "neo4j": got}
}

func checkFunnel(t *rapid.T, both bothStores, tls [][]graph.Event) {
	// Short spans, so that steps often fall on the deadline.
	q := intel.FunnelQuery{Within: time.Duration(rapid.IntRange(1, 8).Draw(t, "within")) * time.Minute,
		Window: intel.GenWindow(t), ByChannel: rapid.Bool().Draw(t, "byChannel")}
	for i := range rapid.IntRange(1, 4).Draw(t, "steps") {
		q.Steps = append(q.Steps, intel.GenMatch(t, fmt.Sprint("step", i)))
	}
	want := intel.RefFunnel(q, tls)
	if !q.ByChannel {
		for i := range want.Steps {
			want.Steps[i].ByChannel = nil
		}
	}
	for name, r := range both.funnel(t, q) {
		if intel.Show(r) != intel.Show(want) || !reflect.DeepEqual(r, want) {
			t.Fatalf("funnel %+v on %s:\n got %s\nwant %s", q, name, intel.Show(r), intel.Show(want))
		}
	}
}

func checkAttribution(t *rapid.T, both bothStores, tls [][]graph.Event) {
	q := intel.AttributionQuery{
		Conversion: intel.GenMatch(t, "conversion"),
		Dimension:  rapid.SampledFrom([]intel.Dimension{intel.DimChannel, intel.DimSource, intel.DimCampaign, intel.DimEvent}).Draw(t, "dimension"),
		Model:      rapid.SampledFrom([]intel.Model{intel.FirstTouch, intel.LastTouch, intel.Linear, intel.TimeDecay, intel.PositionBased}).Draw(t, "model"),
		Lookback:   time.Duration(rapid.IntRange(1, 40).Draw(t, "lookback")) * time.Minute,
		HalfLife:   time.Duration(rapid.IntRange(0, 20).Draw(t, "halfLife")) * time.Minute,
		Window:     intel.GenWindow(t),
	}
	if rapid.Bool().Draw(t, "touchpoints") {
		m := intel.GenMatch(t, "touchpoints")
		q.Touchpoints = &m
	}
	n, want := intel.RefAttribution(q, tls)
	for name, r := range both.attribution(t, q) {
		if r.Conversions != n || len(r.Credits) != len(want) {
			t.Fatalf("attribution %+v on %s: %d conversions %+v, want %d and %v", q, name, r.Conversions, r.Credits, n, want)
		}
		total := 0.0
		for i, c := range r.Credits {
			total += c.Credit
			if math.Abs(c.Credit-want[c.Key]) > 1e-9 || math.Abs(c.Share*float64(n)-c.Credit) > 1e-9 {
				t.Fatalf("attribution %+v on %s: %s credited %v share %v, want %v of %d", q, name, c.Key, c.Credit, c.Share, want[c.Key], n)
			}
			if i > 0 && c.Credit > r.Credits[i-1].Credit {
				t.Fatalf("attribution on %s: credits not largest first: %+v", name, r.Credits)
			}
		}
		if math.Abs(total-float64(n)) > 1e-9 {
			t.Fatalf("attribution on %s: credits sum to %v, want %d", name, total, n)
		}
	}
}

func checkPaths(t *rapid.T, both bothStores, tls [][]graph.Event) {
	q := intel.PathsQuery{Start: intel.GenMatch(t, "start"), Depth: rapid.IntRange(1, 4).Draw(t, "depth"),
		First: rapid.IntRange(1, 6).Draw(t, "first"), Window: intel.GenWindow(t)}
	if rapid.Bool().Draw(t, "within") {
		q.Within = time.Duration(rapid.IntRange(1, 20).Draw(t, "withinMinutes")) * time.Minute
	}
	if rapid.Bool().Draw(t, "withhold") {
		q.Withhold = "***"
	}
	want := refPathsResult(q, tls)
	for name, r := range both.paths(t, q) {
		if fmt.Sprint(r) != fmt.Sprint(want) {
			t.Fatalf("paths %+v on %s:\n got %v\nwant %v", q, name, r, want)
		}
	}
}

// refPathsResult is the reference's answer: its counts, most frequent
// first, ties by path, cut at First.
func refPathsResult(q intel.PathsQuery, tls [][]graph.Event) intel.PathsResult {
	starts, counts := intel.RefPaths(q, tls)
	type ref struct {
		path  []string
		count int
	}
	var all []ref
	for k, c := range counts {
		var names []string
		if k != "[]" {
			names = strings.Fields(strings.Trim(k, "[]"))
		}
		all = append(all, ref{names, c})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].count != all[j].count {
			return all[i].count > all[j].count
		}
		return slices.Compare(all[i].path, all[j].path) < 0
	})
	want := intel.PathsResult{Starts: starts, Paths: []intel.Path{}}
	for _, r := range all[:min(len(all), q.First)] {
		want.Paths = append(want.Paths, intel.Path{Events: r.path, Count: r.count, Share: float64(r.count) / float64(starts)})
	}
	return want
}
