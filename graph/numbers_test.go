package graph_test

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// A number no store can keep and read back (beyond float64, NaN, an
// infinity) is refused by ApplyBatch with the path that holds it, for any
// caller, not only the collector; the rest of the batch is stored and the
// person's profile and events still read.
func TestApplyBatchRefusesNumbersItCannotStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := graph.NewEngine(s, graph.DefaultRules())
		ctx := context.Background()
		mk := func(id string, props, traits map[string]any) graph.Event {
			ev := userEvent(id, "u-num")
			ev.Properties, ev.Traits = props, traits
			return ev
		}
		res, err := e.ApplyBatch(ctx, []graph.Event{
			mk("web/big", map[string]any{"order": map[string]any{"total": json.Number("1e400")}}, nil),
			mk("web/inf", nil, map[string]any{"score": math.Inf(-1)}),
			mk("web/nan", map[string]any{"list": []any{1.0, math.NaN()}}, nil),
			mk("web/ok", map[string]any{"tiny": json.Number("1e-400"), "n": json.Number("9007199254740993"), "f": 2.5}, map[string]any{"plan": "pro"}),
		})
		if err != nil {
			t.Fatal(err)
		}
		for i, path := range []string{"properties.order.total: number 1e400", "traits.score: number -Inf", "properties.list[1]: number NaN"} {
			r := res.Results[i]
			if r.Status != graph.StatusRejected || !strings.HasPrefix(r.Reason, graph.ReasonInvalidNumber+": ") || !strings.Contains(r.Reason, path) {
				t.Errorf("event %s: %s %q, want rejected with %s naming %q", r.ID, r.Status, r.Reason, graph.ReasonInvalidNumber, path)
			}
		}
		if r := res.Results[3]; r.Status != graph.StatusStored {
			t.Fatalf("the finite event: %+v", r)
		}
		p, err := e.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: graph.TypeUserID, Value: "u-num"})
		if err != nil {
			t.Fatalf("the profile does not read: %v", err)
		}
		js, err := e.Journeys(ctx, []string{p.ID}, graph.JourneyQuery{Limit: 10})
		if err != nil {
			t.Fatalf("the journey does not read: %v", err)
		}
		if evs := js[p.ID]; len(evs) != 1 || evs[0].ID != "web/ok" {
			t.Fatalf("journey %+v, want the finite event alone", evs)
		}
	})
}
