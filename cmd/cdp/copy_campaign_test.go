package main

import (
	"context"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/internal/storetest"
)

// An event's campaign goes embedded -> Neo4j -> embedded with the event,
// and an event without one comes back without one; so does a static
// audience, static, with its members, beside a filter audience.
func TestCopyKeepsCampaignsAndStaticAudiences(t *testing.T) {
	ctx := context.Background()
	dir1 := t.TempDir()
	src, err := embedded.Open(dir1)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	want := map[string]string{"test/c1": "spring_sale", "test/c2": "Été 2026", "test/c3": ""}
	var batch []graph.Event
	for _, id := range []string{"test/c1", "test/c2", "test/c3"} {
		batch = append(batch, graph.Event{ID: id, MessageID: id[5:], Type: "track", Name: "Viewed", Source: "test", Campaign: want[id],
			Timestamp: at, ReceivedAt: at, Identifiers: []graph.IdentifierRef{{Type: "user_id", Value: "u-" + id[5:]}}})
	}
	if _, err := graph.NewEngine(src, nil).ApplyBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	static, filtered := audience.NewAudienceID(), audience.NewAudienceID()
	storetest.Must(t, src.PutAudience(ctx, audience.Audience{ID: static, Name: "saved", Static: true, CreatedAt: at, UpdatedAt: at}))
	storetest.Must(t, src.PutAudience(ctx, audience.Audience{ID: filtered, Name: "viewers", CreatedAt: at, UpdatedAt: at,
		Filter: audience.Filter{Event: &audience.EventCondition{Name: "Viewed"}}}))
	p, err := graph.NewEngine(src, nil).ProfileByIdentifier(ctx, graph.IdentifierRef{Type: "user_id", Value: "u-c1"})
	storetest.Must(t, err)
	storetest.Must(t, src.ApplyMembership(ctx, static, []string{p.ID}, nil, at))
	storetest.Must(t, src.Close(ctx))

	campaigns := func(what string, st graph.Store) {
		t.Helper()
		storetest.Must(t, st.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
			evs, err := tx.Events(ctx, []string{"test/c1", "test/c2", "test/c3"})
			if err != nil {
				return err
			}
			if len(evs) != 3 {
				t.Fatalf("%s holds %d of the 3 events", what, len(evs))
			}
			for id, c := range want {
				if evs[id].Campaign != c {
					t.Errorf("%s: event %s has campaign %q, want %q", what, id, evs[id].Campaign, c)
				}
			}
			return nil
		}))
		as, err := st.(audience.Store).Audiences(ctx, []string{static, filtered})
		storetest.Must(t, err)
		if a := as[static]; !a.Static || !a.Filter.IsZero() || a.Size != 1 {
			t.Errorf("%s: the static audience reads %+v", what, a)
		}
		if a := as[filtered]; a.Static || a.Filter.Event == nil {
			t.Errorf("%s: the filter audience reads %+v", what, a)
		}
		ms, err := st.(audience.Store).Members(ctx, static, audience.Page{Limit: 10})
		storetest.Must(t, err)
		if len(ms) != 1 || ms[0].ProfileID != p.ID {
			t.Errorf("%s: the static audience's members %+v, want %s", what, ms, p.ID)
		}
	}

	throughNeo4j(t, dir1, campaigns)
}

// throughNeo4j copies the embedded store in dir to the test Neo4j and from
// there to a new data folder, and runs check on the Neo4j copy and on the
// embedded copy of it.
func throughNeo4j(t *testing.T, dir string, check func(what string, st graph.Store)) {
	t.Helper()
	neo := storetest.OpenNeo4j(t)
	out, errOut, code := copyRun(t, append([]string{"--from-data-dir", dir}, neo4jFlags("to")...)...)
	if code != 0 {
		t.Fatalf("copy to Neo4j: exit %d\n%s\n%s", code, out, errOut)
	}
	check("the Neo4j copy", neo)
	dir3 := t.TempDir()
	out, errOut, code = copyRun(t, append(neo4jFlags("from"), "--to-data-dir", dir3)...)
	if code != 0 {
		t.Fatalf("copy from Neo4j: exit %d\n%s\n%s", code, out, errOut)
	}
	back, err := embedded.Open(dir3)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close(context.Background())
	check("the embedded copy of the Neo4j copy", back)
}
