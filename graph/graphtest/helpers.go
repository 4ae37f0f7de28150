package graphtest

import (
	"context"
	"math/rand"
	"sort"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
)

// Opener opens a fresh, empty store for one test.
type Opener func(t *testing.T) graph.Store

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func at(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

func id(typ, value string) graph.IdentifierRef { return graph.IdentifierRef{Type: typ, Value: value} }

func user(v string) graph.IdentifierRef  { return id(graph.TypeUserID, v) }
func anon(v string) graph.IdentifierRef  { return id(graph.TypeAnonymousID, v) }
func email(v string) graph.IdentifierRef { return id(graph.TypeEmail, v) }
func phone(v string) graph.IdentifierRef { return id(graph.TypePhone, v) }
func device(v string) graph.IdentifierRef {
	return id(graph.TypeDeviceID, v)
}

func ev(msgID string, minute int, ids ...graph.IdentifierRef) graph.Event {
	return graph.Event{ID: msgID, Type: "track", Name: "Viewed", Channel: "web", Source: "test", Timestamp: at(minute), Identifiers: ids}
}

func apply(t *testing.T, e *graph.Engine, evs ...graph.Event) graph.BatchResult {
	t.Helper()
	res, err := e.ApplyBatch(context.Background(), evs)
	if err != nil {
		t.Fatalf("ApplyBatch: %v", err)
	}
	return res
}

func profileOf(t *testing.T, e *graph.Engine, ref graph.IdentifierRef) graph.Profile {
	t.Helper()
	p, err := e.ProfileByIdentifier(context.Background(), ref)
	if err != nil {
		t.Fatalf("ProfileByIdentifier(%s %q): %v", ref.Type, ref.Value, err)
	}
	return p
}

func members(t *testing.T, e *graph.Engine, profileID string) []string {
	t.Helper()
	m, err := e.Members(context.Background(), []string{profileID})
	if err != nil {
		t.Fatalf("Members: %v", err)
	}
	var keys []string
	for _, i := range m[profileID] {
		keys = append(keys, i.Key)
	}
	sort.Strings(keys)
	return keys
}

// journey returns the ids of all a profile's events, newest first, paging
// through the store with small pages so cursors are exercised.
func journey(t *testing.T, e *graph.Engine, profileID string, q graph.JourneyQuery) []string {
	t.Helper()
	var out []string
	if q.Limit == 0 {
		q.Limit = 2
	}
	for page := 0; ; page++ {
		if page > 10000 {
			t.Fatal("journey paging does not end")
		}
		m, err := e.Journeys(context.Background(), []string{profileID}, q)
		if err != nil {
			t.Fatalf("Journeys: %v", err)
		}
		evs := m[profileID]
		for _, x := range evs {
			out = append(out, x.ID)
		}
		if len(evs) < q.Limit {
			return out
		}
		last := evs[len(evs)-1]
		q.After = &graph.JourneyCursor{Timestamp: last.Timestamp, ID: last.ID}
	}
}

func same(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sorted(xs ...string) []string {
	out := append([]string(nil), xs...)
	sort.Strings(out)
	return out
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want error with code %s, got nil", code)
	}
	if got := graph.ErrorCode(err); got != code {
		t.Fatalf("want error code %s, got %s (%v)", code, got, err)
	}
}

func key(r graph.IdentifierRef) string { return r.Key() }

func newRand(seed int64) *rand.Rand { return rand.New(rand.NewSource(seed)) }
