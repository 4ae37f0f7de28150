package privacy_test

import (
	"context"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// An export writes each event as Prepare read it. Ada's sign-in c1
// carried Bob's user id beside her email, a link the rules refused, so her
// export counts c1 shared: her email only, no payload. Bob's user id is
// removed between Prepare and Write, which leaves Ada's events as they
// were (the same ids, the same times) but c1 hers alone. Write then
// refuses (CONFLICT) rather than write c1 as hers beside what Prepare
// read: it wrote c1 not shared, a record of neither state.
func TestExportRefusesAnEventSharedOtherwiseSincePrepare(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ctx := context.Background()
		eng := graph.NewEngine(st, nil)
		apply(t, eng,
			event("a1", t0, map[string]any{"n": 1}, "user_id:ada", "email:ada@example.com"),
			event("b1", t0, map[string]any{"n": 2}, "user_id:bob"),
			event("c1", t0.Add(1), map[string]any{"card": "Bob's"}, "user_id:bob", "email:ada@example.com"),
		)
		ada := profileOf(t, eng, "user_id:ada")
		if bob := profileOf(t, eng, "user_id:bob"); bob == ada {
			t.Fatal("the rules linked two user ids")
		}
		x := privacy.NewExporter(eng)
		ex, err := x.Prepare(ctx, ada)
		storetest.Must(t, err)
		if ex.Counts.Events != 2 {
			t.Fatalf("Prepare counted %d events, want a1 and c1", ex.Counts.Events)
		}
		if _, err := eng.RemoveIdentifier(ctx, graph.IdentifierRef{Type: "user_id", Value: "bob"}, "test: wrong id"); err != nil {
			t.Fatal(err)
		}
		var shown []privacy.ExportEvent
		err = ex.Write(ctx, func(kind string, v any) error {
			if kind == privacy.KindEvent {
				shown = append(shown, v.(privacy.ExportEvent))
			}
			return nil
		})
		if graph.ErrorCode(err) != graph.ECONFLICT {
			t.Fatalf("Write after c1 stopped being shared: %v, events %+v; want CONFLICT", err, shown)
		}
		// Exported again, c1 is Ada's alone.
		ex, err = x.Prepare(ctx, ada)
		storetest.Must(t, err)
		got := collect(t, ex)[privacy.KindEvent]
		if len(got) != 2 {
			t.Fatalf("events %+v, want c1 and a1", got)
		}
		if c1 := got[0].(privacy.ExportEvent); c1.ID != "c1" || c1.Shared || len(c1.Identifiers) != 1 || c1.Identifiers[0].Value != "ada@example.com" {
			t.Fatalf("c1 exported again: %+v, want Ada's own, with her email", c1)
		}
	})
}
