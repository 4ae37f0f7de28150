package neo4jstore_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/dump"
	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// orderTails end ids and keys so that Go's string order (UTF-8 bytes, code
// points: the embedded store's order and graph.SortJourney's) and UTF-16
// code-unit order (Java's, which Neo4j uses for some comparisons) disagree:
// characters above U+FFFF (UTF-16 surrogates) next to ones in
// U+E000–U+FFFF, U+FFFF itself, and plain ones.
var orderTails = []string{
	"\uff01", "\U0001F600", "\u00e9", "Z", "\ue000", "\uffff", "\U0001F601", "\U00010000",
	"\ufffe", "\U0001F600b", "\uffff\U0001F600", "\uffff~", "\U0010FFFF", "", "!", "\ud7ff",
}

var orderT0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func orderApply(t *testing.T, e *graph.Engine, evs ...graph.Event) {
	t.Helper()
	res, err := e.ApplyBatch(context.Background(), evs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Results {
		if r.Status != graph.StatusStored {
			t.Fatalf("result %+v", r)
		}
	}
}

// journeyIDs pages pid's journey limit events at a time and returns the
// ids in the order read.
func journeyIDs(t *testing.T, e *graph.Engine, pid string, q graph.JourneyQuery) []string {
	t.Helper()
	var out []string
	for range 200 {
		m, err := e.Journeys(context.Background(), []string{pid}, q)
		if err != nil {
			t.Fatal(err)
		}
		evs := m[pid]
		for _, x := range evs {
			out = append(out, x.ID)
		}
		if len(evs) < q.Limit {
			return out
		}
		l := evs[len(evs)-1]
		q.After = &graph.JourneyCursor{Timestamp: l.Timestamp, ID: l.ID}
	}
	t.Fatal("the journey does not end")
	return nil
}

// Events of one timestamp are ordered by id descending in Go's string
// order on both stores, and paged without loss or repeat whatever
// characters the ids hold (they embed client-chosen messageIds).
func TestJourneyPagesIDsInCodePointOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := graph.NewEngine(s, nil)
		u := graph.IdentifierRef{Type: graph.TypeUserID, Value: "U"}
		var evs []graph.Event
		for i, tail := range orderTails {
			// Most at one time, a few a minute earlier or later.
			at := orderT0
			switch i % 5 {
			case 3:
				at = at.Add(-time.Minute)
			case 4:
				at = at.Add(time.Minute)
			}
			evs = append(evs, graph.Event{ID: "test/m" + tail, MessageID: "m" + tail, Type: "track", Channel: "web",
				Source: "test", Timestamp: at, Identifiers: []graph.IdentifierRef{u}})
		}
		orderApply(t, e, evs...)
		p, err := e.ProfileByIdentifier(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		want := slices.Clone(evs)
		graph.SortJourney(want)
		var wantIDs []string
		for _, x := range want {
			wantIDs = append(wantIDs, x.ID)
		}
		for _, noPayload := range []bool{false, true} {
			for _, limit := range []int{1, 2, 3, 50} {
				got := journeyIDs(t, e, p.ID, graph.JourneyQuery{Limit: limit, NoPayload: noPayload})
				if !slices.Equal(got, wantIDs) {
					t.Errorf("journey in pages of %d (noPayload %v):\n got  %q\n want %q", limit, noPayload, got, wantIDs)
				}
			}
		}
		// A cursor that is not an event's id pages from where it falls.
		for _, tail := range orderTails {
			c := &graph.JourneyCursor{Timestamp: orderT0, ID: "test/m" + tail + "\U0001F5FF"}
			m, err := e.Journeys(context.Background(), []string{p.ID}, graph.JourneyQuery{Limit: 500, After: c})
			if err != nil {
				t.Fatal(err)
			}
			var got, wantAfter []string
			for _, x := range m[p.ID] {
				got = append(got, x.ID)
			}
			for _, x := range want {
				if c.Admits(x) {
					wantAfter = append(wantAfter, x.ID)
				}
			}
			if !slices.Equal(got, wantAfter) {
				t.Errorf("journey after %q:\n got  %q\n want %q", c.ID, got, wantAfter)
			}
		}
	})
}

// dumpKeys pages kind limit records at a time and returns each record's
// key (for links and refused links, "a|b") in the order read.
func dumpKeys(t *testing.T, r dump.Reader, kind dump.Kind, limit int) []string {
	t.Helper()
	var out []string
	after := ""
	for range 1000 {
		b, err := r.Page(context.Background(), kind, after, limit)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range b.Identifiers {
			out = append(out, x.Key)
		}
		for _, x := range b.Events {
			out = append(out, x.ID)
		}
		for _, x := range b.Links {
			k := graph.NewLinkKey(x.A, x.B)
			out = append(out, k.A+"|"+k.B)
		}
		for _, x := range b.Rejected {
			k := graph.NewLinkKey(x.A, x.B)
			out = append(out, k.A+"|"+k.B)
		}
		if b.Next == "" {
			return out
		}
		after = b.Next
	}
	t.Fatal("the pages do not end")
	return nil
}

// The dump pages (what cdp copy and cdp copy --verify-only read) hold every
// identifier, link, refused link and event whatever characters their keys
// and ids hold, in the same order on both stores.
func TestDumpPagesKeysInCodePointOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		r, ok := s.(dump.Reader)
		if !ok {
			t.Skip("the store does not implement dump.Reader")
		}
		e := graph.NewEngine(s, nil)
		var evs []graph.Event
		for i, tail := range orderTails {
			// An email and an anonymous id linked, and two user ids
			// whose link the rules refuse.
			ids := []graph.IdentifierRef{
				{Type: graph.TypeEmail, Value: fmt.Sprintf("x%s@example.com", tail)},
				{Type: graph.TypeAnonymousID, Value: "a" + tail},
			}
			evs = append(evs, graph.Event{ID: "test/m" + tail, MessageID: "m" + tail, Type: "identify", Channel: "web",
				Source: "test", Timestamp: orderT0.Add(time.Duration(i) * time.Second), Identifiers: ids})
		}
		orderApply(t, e, evs...)
		for i, tail := range orderTails {
			ids := []graph.IdentifierRef{
				{Type: graph.TypeUserID, Value: "u" + tail},
				{Type: graph.TypeUserID, Value: "v" + tail},
			}
			ev := graph.Event{ID: "test/n" + tail, MessageID: "n" + tail, Type: "identify", Channel: "web",
				Source: "test", Timestamp: orderT0.Add(time.Duration(i) * time.Second), Identifiers: ids}
			orderApply(t, e, ev)
		}
		// What was written: every key and event id, and as many links and
		// refused links as there are tails.
		var keys, ids []string
		for _, ev := range evs {
			ids = append(ids, ev.ID, "test/n"+ev.ID[len("test/m"):])
			for _, ref := range ev.Identifiers {
				if ref.Type == graph.TypeEmail {
					ref.Value = strings.ToLower(ref.Value)
				}
				keys = append(keys, ref.Key())
			}
		}
		for _, tail := range orderTails {
			keys = append(keys, "user_id:u"+tail, "user_id:v"+tail)
		}
		slices.Sort(keys)
		slices.Sort(ids)
		want := map[dump.Kind][]string{dump.Identifiers: keys, dump.Events: ids}
		for _, kind := range []dump.Kind{dump.Identifiers, dump.Events, dump.Links, dump.Rejected} {
			// The order of a store's pages is its own (dump.Batch.Next is
			// opaque); every record comes once, in the same order however
			// many a page holds.
			all := dumpKeys(t, r, kind, 1000)
			n, err := r.Count(context.Background(), kind)
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != n {
				t.Errorf("%s: one page holds %d records, Count says %d", kind, len(all), n)
			}
			set := slices.Sorted(slices.Values(all))
			if w, ok := want[kind]; ok && !slices.Equal(set, w) {
				t.Errorf("%s in one page:\n got  %q\n want %q", kind, set, w)
			}
			if kind == dump.Links || kind == dump.Rejected {
				if len(set) != len(orderTails) || len(slices.Compact(set)) != len(orderTails) {
					t.Errorf("%s: %q, want %d distinct", kind, all, len(orderTails))
				}
			}
			for _, limit := range []int{1, 2, 3} {
				if got := dumpKeys(t, r, kind, limit); !slices.Equal(got, all) {
					t.Errorf("%s in pages of %d:\n got  %q\n want %q", kind, limit, got, all)
				}
			}
		}
	})
}

// The keyset pages over client-chosen strings (the dump's and the slots
// backfill's) hold every node whatever characters its key holds. Each
// walks its index in order: the index compares and orders strings by code
// point, so its bound and its order agree. A sort after a filter would not
// (Neo4j compares a stored string with a parameter in UTF-16 order, and
// two stored strings in code point order), hence the plan check.
func TestKeysetPagesWalkIndexInCodePointOrder(t *testing.T) {
	st := storetest.OpenNeo4j(t)
	e := graph.NewEngine(st, nil)
	var keys, ids []string
	for i, tail := range orderTails {
		u := graph.IdentifierRef{Type: graph.TypeUserID, Value: "u" + tail}
		ev := graph.Event{ID: "test/m" + tail, MessageID: "m" + tail, Type: "identify", Channel: "web", Source: "test",
			Timestamp: orderT0.Add(time.Duration(i) * time.Second), Identifiers: []graph.IdentifierRef{u},
			Traits: map[string]any{"tail": tail}}
		orderApply(t, e, ev)
		keys = append(keys, u.Key())
		ids = append(ids, ev.ID)
	}
	slices.Sort(keys)
	slices.Sort(ids)
	s := rawSession(t)
	ctx := context.Background()
	for _, q := range neo4jstore.KeysetPageQueries() {
		t.Run(q.Name, func(t *testing.T) {
			ops := profile(t, s, q.Cypher, q.Params)
			// Depth first, the page's own operators come before the
			// seek; the links' COLLECT (which sorts one node's edges)
			// comes after it.
			seek := slices.IndexFunc(ops, func(o string) bool { return strings.Contains(o, "IndexSeekByRange") })
			if seek < 0 || has(ops, isScan) || has(ops[:seek], func(o string) bool {
				return o == "Sort" || o == "Top" || o == "PartialSort" || o == "PartialTop" || o == "Filter"
			}) {
				t.Fatalf("plan %v does not walk its index in order", ops)
			}
			want := keys
			if strings.Contains(q.Name, "Events") {
				want = ids
			}
			// Paged as the backfill and the dump page: from the last
			// row's key.
			for _, limit := range []int{1, 2, 3, 1000} {
				var got []string
				after := ""
				for range 100 {
					res, err := s.Run(ctx, q.Cypher, map[string]any{"after": after, "limit": int64(limit)})
					if err != nil {
						t.Fatal(err)
					}
					recs, err := res.Collect(ctx)
					if err != nil {
						t.Fatal(err)
					}
					for _, r := range recs {
						k, _ := r.Values[0].(string)
						got = append(got, k)
						after = k
					}
					if len(recs) < limit {
						break
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("in pages of %d:\n got  %q\n want %q", limit, got, want)
				}
			}
		})
	}
}

// A data export (privacy.Exporter) pages the journey, privacy.ExportPage
// events at a time: it holds every event of the profile whatever
// characters their ids hold, on both stores. (It counts the events with the
// same pages it writes them from, so a page that skips events loses them
// from the export without a word.)
func TestExportHoldsEveryEventWhateverItsID(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := graph.NewEngine(s, nil)
		u := graph.IdentifierRef{Type: graph.TypeUserID, Value: "U"}
		// The first page (newest first: greatest id first) ends at
		// "m\U0010FFFF", and the next holds every other tail.
		var ms []string
		for i := range privacy.ExportPage - 1 {
			ms = append(ms, fmt.Sprintf("m\U0010FFFF%03d", i))
		}
		for _, tail := range orderTails {
			ms = append(ms, "m"+tail)
		}
		n := len(ms)
		var evs []graph.Event
		want := map[string]bool{}
		for _, m := range ms {
			evs = append(evs, graph.Event{ID: "test/" + m, MessageID: m, Type: "track", Channel: "web",
				Source: "test", Timestamp: orderT0, Identifiers: []graph.IdentifierRef{u}})
			want["test/"+m] = true
		}
		for len(evs) > 0 {
			k := min(len(evs), 200)
			orderApply(t, e, evs[:k]...)
			evs = evs[k:]
		}
		p, err := e.ProfileByIdentifier(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		counts, err := privacy.NewExporter(e).Export(context.Background(), p.ID, func(kind string, v any) error {
			if ev, ok := v.(privacy.ExportEvent); ok {
				got[ev.ID]++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if counts.Events != n || len(got) != n {
			t.Errorf("the export counts %d events and holds %d distinct, want %d", counts.Events, len(got), n)
		}
		for id, c := range got {
			if !want[id] || c != 1 {
				t.Errorf("the export holds %q %d times", id, c)
			}
		}
		for id := range want {
			if got[id] == 0 {
				t.Errorf("the export misses %q", id)
			}
		}
	})
}
