package privacy_test

import (
	"context"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// The refused links that touch a person's identifiers are stored about
// her (the identifier, why it was refused, when, on what evidence), so
// her export lists them, by the keys of their two ends; the end that is
// not hers is another person's identifier, shown by its type alone.
// Ann's tablet d-ann is refused to Bob (it would give her profile two user
// ids), and a support agent unlinked her user id from her anonymous id,
// which her tablet still joins.
func TestExportListsRefusedLinks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		eng := graph.NewEngine(st, nil)
		ctx := context.Background()
		apply(t, eng,
			event("test/r1", t0, nil, "user_id:u-ann", "device_id:d-ann"),
			event("test/r2", t0, nil, "user_id:u-ann", "anonymous_id:a-ann"),
			event("test/r3", t0, nil, "device_id:d-ann", "anonymous_id:a-ann"),
			event("test/r4", t0, nil, "user_id:u-bob"),
		)
		// Bob signs in on Ann's tablet: refused by the user_id limit.
		res, err := eng.ApplyBatch(ctx, []graph.Event{event("test/r5", t0, nil, "user_id:u-bob", "device_id:d-ann")})
		if err != nil {
			t.Fatal(err)
		}
		if res.Stored != 1 {
			t.Fatalf("Bob's event: %+v", res.Results)
		}
		ps, err := eng.UnlinkIdentifiers(ctx, graph.IdentifierRef{Type: "user_id", Value: "u-ann"}, graph.IdentifierRef{Type: "anonymous_id", Value: "a-ann"}, "ticket 9")
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != 1 {
			t.Fatalf("the unlink split Ann: %+v", ps)
		}
		pid := profileOf(t, eng, "user_id:u-ann")
		if profileOf(t, eng, "user_id:u-bob") == pid {
			t.Fatal("Bob joined Ann")
		}
		ex, err := privacy.NewExporter(eng).Prepare(ctx, pid)
		if err != nil {
			t.Fatal(err)
		}
		if ex.Counts.Refusals != 2 {
			t.Errorf("counts %+v, want 2 refusals", ex.Counts)
		}
		got := collect(t, ex)[privacy.KindRefusal]
		want := []privacy.ExportRefusal{
			{Kind: privacy.KindRefusal, A: graph.IdentifierRef{Type: "user_id", Value: "u-ann"}, B: graph.IdentifierRef{Type: "anonymous_id", Value: "a-ann"},
				Source: "manual", Reason: "ticket 9", Evidence: "unlinkIdentifiers"},
			{Kind: privacy.KindRefusal, A: graph.IdentifierRef{Type: "user_id", Value: privacy.WithheldText}, B: graph.IdentifierRef{Type: "device_id", Value: "d-ann"},
				Source: "rules", Reason: "profile would hold 2 user_id identifiers (limit 1)", Evidence: "test/r5"},
		}
		if len(got) != len(want) {
			t.Fatalf("refusals %+v, want %+v", got, want)
		}
		for i, v := range got {
			g := v.(privacy.ExportRefusal)
			if g.At.IsZero() {
				t.Errorf("refusal %d has no time", i)
			}
			g.At = want[i].At
			if g != want[i] {
				t.Errorf("refusal %d: %+v, want %+v", i, g, want[i])
			}
		}
	})
}
