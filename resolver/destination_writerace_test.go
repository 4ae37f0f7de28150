package resolver

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// Two updateDestination calls made at once, one giving a new secret,
// headers and URL query, the other renaming the destination and leaving
// the secret and headers out and giving the URL back as shown (which keeps
// the stored ones), end as either serial order would: in both, the
// rename keeps what is stored when it comes, so the secret, headers and
// URL are the first update's and the name is the second's. A rename that
// read the destination before the other update committed must not write
// back the secret, headers and URL it read.
func TestUpdateDestinationRacingKeepsTheOtherUpdatesSecret(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		st := s.(destination.Store)
		const rounds = 25
		for round := range rounds {
			var created struct{ CreateDestination destOut }
			e.query(createDestOp, map[string]any{"in": map[string]any{
				"name": "crm", "url": "https://93.184.215.14/hook?token=old", "secret": "old-secret-0123456789abcdefgh",
				"kinds": []string{"EVENT_ADDED"}, "headers": []map[string]any{{"name": "X-Tenant", "value": "old"}},
			}}, &created)
			id := created.CreateDestination.ID
			rotate := map[string]any{
				"name": "crm", "url": "https://93.184.215.14/hook?token=new", "secret": "new-secret-0123456789abcdefgh",
				"kinds": []string{"EVENT_ADDED"}, "headers": []map[string]any{{"name": "X-Tenant", "value": "new"}},
			}
			rename := map[string]any{"name": "crm renamed", "url": "https://93.184.215.14/hook?…", "kinds": []string{"EVENT_ADDED"}}
			const op = `mutation($id: ID!, $in: DestinationInput!) { updateDestination(id: $id, input: $in) { id } }`
			got := e.race(
				func() (gqlResponse, error) { return e.postFrom(op, map[string]any{"id": id, "in": rotate}) },
				func() (gqlResponse, error) { return e.postFrom(op, map[string]any{"id": id, "in": rename}) },
			)
			for i, r := range got {
				if len(r.Errors) > 0 {
					t.Fatalf("round %d: update %d refused: %+v", round, i, r.Errors)
				}
			}
			d, err := st.Destination(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if (d.Name != "crm renamed" && d.Name != "crm") || d.URL != "https://93.184.215.14/hook?token=new" || d.Secret != "new-secret-0123456789abcdefgh" ||
				!maps.Equal(d.Headers, map[string]string{"X-Tenant": "new"}) {
				raw, _ := json.Marshal(map[string]any{"name": d.Name, "urlIsNew": d.URL == rotate["url"],
					"secretIsNew": d.Secret == rotate["secret"], "headers": d.Headers})
				t.Fatalf("round %d: stored %s; want the rotation's secret, headers and URL", round, raw)
			}
		}
	})
}

// Two updateDestination calls made on one read, each naming the version
// read (ifUpdatedAt) and changing another field: in either serial order
// the second is refused with CONFLICT, naming ifUpdatedAt, since the
// destination changed since it was read. So exactly one succeeds and the
// stored definition is the winner's whole; an update naming the version
// stored now succeeds.
func TestUpdateDestinationIfUpdatedAtRefusesAStaleRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		st := s.(destination.Store)
		const op = `mutation($id: ID!, $in: DestinationInput!, $v: DateTime) { updateDestination(id: $id, input: $in, ifUpdatedAt: $v) { id updatedAt } }`
		for round := range 15 {
			var created struct {
				CreateDestination struct {
					ID        string
					UpdatedAt time.Time
				}
			}
			e.query(`mutation($in: DestinationInput!) { createDestination(input: $in) { id updatedAt } }`, map[string]any{"in": map[string]any{
				"name": "crm", "url": "https://93.184.215.14/hook", "secret": "the-secret-0123456789abcdefgh", "kinds": []string{"EVENT_ADDED"},
			}}, &created)
			id, v := created.CreateDestination.ID, created.CreateDestination.UpdatedAt.Format(time.RFC3339Nano)
			rename := map[string]any{"name": "crm renamed", "url": "https://93.184.215.14/hook", "kinds": []string{"EVENT_ADDED"}}
			narrow := map[string]any{"name": "crm", "url": "https://93.184.215.14/hook", "kinds": []string{"EVENT_ADDED"}, "batchSize": 5}
			got := e.race(
				func() (gqlResponse, error) { return e.postFrom(op, map[string]any{"id": id, "in": rename, "v": v}) },
				func() (gqlResponse, error) { return e.postFrom(op, map[string]any{"id": id, "in": narrow, "v": v}) },
			)
			won := -1
			for i, r := range got {
				switch {
				case len(r.Errors) == 0:
					if won >= 0 {
						t.Fatalf("round %d: both updates from one read were saved", round)
					}
					won = i
				case r.code() != CodeConflict || !strings.Contains(r.Errors[0].Message, `"ifUpdatedAt"`):
					t.Fatalf("round %d: update %d refused with %+v, want CONFLICT naming ifUpdatedAt", round, i, r.Errors)
				}
			}
			if won < 0 {
				t.Fatalf("round %d: neither update was saved", round)
			}
			d, err := st.Destination(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			want := map[int][2]any{0: {"crm renamed", destination.DefaultBatchSize}, 1: {"crm", 5}}[won]
			if d.Name != want[0] || d.BatchSize != want[1] {
				t.Fatalf("round %d: stored name %q batch size %d, want update %d whole", round, d.Name, d.BatchSize, won)
			}
			var upd struct{ UpdateDestination *struct{ ID string } }
			e.query(op, map[string]any{"id": id, "in": rename, "v": d.UpdatedAt.Format(time.RFC3339Nano)}, &upd)
			if upd.UpdateDestination == nil {
				t.Fatalf("round %d: update at the stored version answered null", round)
			}
		}
	})
}
