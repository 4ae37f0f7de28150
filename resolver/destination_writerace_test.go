package resolver

import (
	"context"
	"encoding/json"
	"maps"
	"testing"

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
