package resolver

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// One ingest call holding a grant then a withdrawal of one time keeps
// their order, as a collector batch does: the state is WITHDRAWN. The
// message ids are picked so that ids derived from the event alone would
// put the grant last.
func TestIngestMutationKeepsTheOrderOfDecisionsDatedAlike(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		const key = "user_id:u-tie"
		var g, d string
		for i := 0; g == ""; i++ {
			gi, di := fmt.Sprintf("tie-g%d", i), fmt.Sprintf("tie-d%d", i)
			if privacy.RecordIDFor("graphql/"+gi, key, "advertising") > privacy.RecordIDFor("graphql/"+di, key, "advertising") {
				g, d = gi, di
			}
		}
		msg := func(id string, v any) map[string]any {
			return map[string]any{"type": "track", "event": privacy.SegmentConsentEvent, "messageId": id, "userId": "u-tie", "timestamp": rfc(t0),
				"context": map[string]any{"consent": map[string]any{"categoryPreferences": map[string]any{"Advertising": v}}}}
		}
		var out struct{ Ingest struct{ Accepted int } }
		e.query(`mutation($ev:[EventInput!]!){ingest(events:$ev){accepted}}`, map[string]any{"ev": []any{msg(g, true), msg(d, "withdrawn")}}, &out)
		if out.Ingest.Accepted != 2 {
			t.Fatalf("accepted %d, want 2", out.Ingest.Accepted)
		}
		m, err := s.(privacy.ConsentStore).ConsentOf(context.Background(), []string{key})
		storetest.Must(t, err)
		if len(m[key]) != 2 || m[key][0].Proof.EventID[:len("graphql/")] != "graphql/" {
			t.Fatalf("records %+v, want two read from graphql/ events", m[key])
		}
		if st := privacy.StateOf(m[key], "advertising", time.Now()); st.State != privacy.StateWithdrawn || st.Record.Proof.EventID != "graphql/"+d {
			t.Errorf("advertising %s from %s; the call withdrew after granting: want WITHDRAWN from graphql/%s", st.State, st.Record.Proof.EventID, d)
		}
	})
}
