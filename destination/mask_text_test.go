package destination_test

import (
	"context"
	"testing"

	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// A masked delivery hides the person's email inside a trait of another
// name (a website's query), as answers do; an includePII one sends it as
// stored.
func TestMaskingFindsPersonalValuesInsideTraits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, gs graph.Store) {
		s, e := open(t, gs)
		masked := newReceiver(t, func(int) int { return 200 })
		raw := newReceiver(t, func(int) int { return 200 })
		create(t, s, masked.srv.URL, nil)
		create(t, s, raw.srv.URL, func(d *destination.Destination) { d.IncludePII = true })
		startWorker(t, s, e, true)
		ev := event("m1", "ann", "ann@example.com")
		ev.Traits["website"] = "https://blog.example/?author=ann%40example.com"
		ev.Traits["note"] = "write to ANN@example.com"
		_, err := e.ApplyBatch(context.Background(), []graph.Event{ev})
		storetest.Must(t, err)
		traits := func(r *receiver) map[string]any {
			for _, q := range r.requests() {
				for _, en := range decode(t, q.body).Entries {
					if en.Profile != nil {
						return en.Profile.Traits
					}
				}
			}
			return nil
		}
		waitFor(t, "an entry at each receiver", func() bool { return traits(masked) != nil && traits(raw) != nil })
		if got := traits(masked); got["website"] != "https://blog.example/?author=***" || got["note"] != "write to ***" ||
			got["name"] != "***" || got["plan"] != "pro" {
			t.Errorf("masked traits %v, want website https://blog.example/?author=***, note \"write to ***\", name ***, plan pro", got)
		}
		if got := traits(raw); got["website"] != ev.Traits["website"] || got["note"] != ev.Traits["note"] {
			t.Errorf("includePII traits %v, want them as stored", got)
		}
	})
}
