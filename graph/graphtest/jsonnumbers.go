package graphtest

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/idgraph/cdp/graph"
)

// RunJSONNumbers checks that numbers in events' properties and traits,
// and in identifiers' traits, read back exactly as the collector gives
// them (ingest's plain): an integer that fits in int64 as that int64, even
// beyond 2^53 where a float64 would round it, and any other number as a
// float64. It runs against stores made by open.
func RunJSONNumbers(t *testing.T, open Opener) {
	t.Run("ExactThroughTheEngine", func(t *testing.T) { testJSONNumbersEngine(t, open) })
	t.Run("ExactThroughTheStore", func(t *testing.T) { testJSONNumbersStore(t, open) })
}

// NumbersPayload returns a fresh map holding, at the top level, nested in
// an object and in a list, the numbers whose Go values a store must keep:
// the literals are the reference, written out rather than computed.
func NumbersPayload() map[string]any {
	return map[string]any{
		"accountId": int64(9007199254740993),  // 2^53+1: a float64 reads 9007199254740992
		"negative":  int64(-9007199254740993), // -(2^53+1)
		"max":       int64(9223372036854775807),
		"min":       int64(-9223372036854775808),
		"small":     int64(42),
		"zero":      int64(0),
		"half":      1.5,
		"huge":      1e300,
		"tiny":      -2.5e-300,
		"beyond":    1e19, // beyond int64: a float64 still
		"text":      "9007199254740993",
		"nested": map[string]any{
			"id":   int64(9007199254740993),
			"list": []any{int64(9007199254740993), int64(-9007199254740993), 1.5, 1e300, int64(9223372036854775807), "x", nil, true},
			"deeper": map[string]any{
				"ids": []any{map[string]any{"id": int64(-9007199254740993)}},
			},
		},
		"list": []any{int64(9007199254740993), 1.5, []any{int64(9223372036854775807)}},
	}
}

// numbersEqual compares with reflect.DeepEqual, so an int64 does not equal
// the float64 next to it, and names the first difference.
func numbersEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %s\n want %s", what, goString(got), goString(want))
	}
}

// goString prints v with the Go type of every number.
func goString(v any) string {
	switch x := v.(type) {
	case map[string]any:
		s := "{"
		for _, k := range sorted(keysOf(x)...) {
			s += fmt.Sprintf("%s: %s, ", k, goString(x[k]))
		}
		return s + "}"
	case []any:
		s := "["
		for _, e := range x {
			s += goString(e) + ", "
		}
		return s + "]"
	}
	return fmt.Sprintf("%T(%v)", v, v)
}

func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func testJSONNumbersEngine(t *testing.T, open Opener) {
	s := open(t)
	e := graph.NewEngine(s, nil)
	ctx := context.Background()
	want, wantEvent := NumbersPayload(), NumbersPayload()
	first := graph.Event{ID: "test/n1", MessageID: "n1", Type: "identify", Channel: "web", Source: "test", Timestamp: at(1),
		Identifiers: []graph.IdentifierRef{user("N")}, Properties: NumbersPayload(), Traits: NumbersPayload()}
	if res := apply(t, e, first); res.Stored != 1 {
		t.Fatalf("stored %d of 1: %+v", res.Stored, res.Results)
	}
	check := func(what string) {
		t.Helper()
		p := profileOf(t, e, user("N"))
		ms, err := e.Members(ctx, []string{p.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(ms[p.ID]) != 1 {
			t.Fatalf("%s: members %+v, want user_id:N alone", what, ms[p.ID])
		}
		got := map[string]any{}
		for n, tv := range ms[p.ID][0].Traits {
			got[n] = tv.Value
		}
		for n, v := range want {
			numbersEqual(t, what+": Members trait "+n, got[n], v)
		}
		fold := map[string]any{}
		for n, tv := range graph.FoldTraits(ms[p.ID]) {
			fold[n] = tv.Value
		}
		numbersEqual(t, what+": FoldTraits", fold, want)
		ids, err := e.Identifiers(ctx, []string{"user_id:N"})
		if err != nil {
			t.Fatal(err)
		}
		got = map[string]any{}
		for n, tv := range ids["user_id:N"].Traits {
			got[n] = tv.Value
		}
		numbersEqual(t, what+": Identifiers traits", got, want)
		js, err := e.Journeys(ctx, []string{p.ID}, graph.JourneyQuery{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var n1 *graph.Event
		for i := range js[p.ID] {
			if js[p.ID][i].ID == "test/n1" {
				n1 = &js[p.ID][i]
			}
		}
		if n1 == nil {
			t.Fatalf("%s: the journey %+v lacks test/n1", what, js[p.ID])
		}
		numbersEqual(t, what+": Journeys properties", n1.Properties, wantEvent)
		numbersEqual(t, what+": Journeys traits", n1.Traits, wantEvent)
		evs, err := e.Events(ctx, []string{"test/n1"})
		if err != nil {
			t.Fatal(err)
		}
		numbersEqual(t, what+": Events properties", evs["test/n1"].Properties, wantEvent)
		numbersEqual(t, what+": Events traits", evs["test/n1"].Traits, wantEvent)
	}
	check("after the first event")

	// A later event on the same identifier, with a trait of its own and
	// none of the others, rewrites the identifier's record from what was
	// read: the numbers must survive that too.
	second := graph.Event{ID: "test/n2", MessageID: "n2", Type: "identify", Channel: "web", Source: "test", Timestamp: at(2),
		Identifiers: []graph.IdentifierRef{user("N")}, Traits: map[string]any{"plan": "pro"}}
	third := graph.Event{ID: "test/n3", MessageID: "n3", Type: "track", Name: "Viewed", Channel: "web", Source: "test", Timestamp: at(3),
		Identifiers: []graph.IdentifierRef{user("N")}}
	if res := apply(t, e, second); res.Stored != 1 {
		t.Fatalf("stored %d of 1: %+v", res.Stored, res.Results)
	}
	if res := apply(t, e, third); res.Stored != 1 {
		t.Fatalf("stored %d of 1: %+v", res.Stored, res.Results)
	}
	want["plan"] = "pro" // the profile's traits; test/n1's stay as they were
	check("after two more events")
}

// testJSONNumbersStore writes and reads through a store's transactions
// alone, without the engine.
func testJSONNumbersStore(t *testing.T, open Opener) {
	s := open(t)
	want := NumbersPayload()
	traits := map[string]graph.TraitValue{}
	for n, v := range NumbersPayload() {
		traits[n] = graph.TraitValue{Value: v, Source: "test", At: t0}
	}
	putEvents(t, s, &graph.Write{At: t0,
		Events: []graph.Event{{ID: "test/s1", Type: "identify", Source: "test", Timestamp: at(1), ReceivedAt: at(1), Keys: []string{"user_id:S"},
			Properties: NumbersPayload(), Traits: NumbersPayload()}},
		Traits: []graph.TraitUpdate{{Key: "user_id:S", Traits: traits}},
	}, "user_id:S")
	view(t, s, func(ctx context.Context, tx graph.ReadTx) error {
		evs, err := tx.Events(ctx, []string{"test/s1"})
		if err != nil {
			return err
		}
		numbersEqual(t, "Events properties", evs["test/s1"].Properties, want)
		numbersEqual(t, "Events traits", evs["test/s1"].Traits, want)
		by, err := tx.EventsBy(ctx, []string{"user_id:S"})
		if err != nil {
			return err
		}
		if len(by) != 1 {
			t.Fatalf("EventsBy(user_id:S) = %d events, want 1", len(by))
		}
		numbersEqual(t, "EventsBy properties", by[0].Properties, want)
		numbersEqual(t, "EventsBy traits", by[0].Traits, want)
		ids, err := tx.Identifiers(ctx, []string{"user_id:S"})
		if err != nil {
			return err
		}
		got := map[string]any{}
		for n, tv := range ids["user_id:S"].Traits {
			got[n] = tv.Value
		}
		numbersEqual(t, "Identifiers traits", got, want)
		return nil
	})
}
