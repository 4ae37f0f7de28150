package ingest_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// A batch whose decisions carry one time (the same timestamp, or none, so
// that each is dated on receipt, a microsecond apart in the batch's
// order) keeps them in the order the batch gives: a grant then a
// withdrawal in that order is a withdrawal. With the same timestamp their
// records tie on at; the message ids are picked so that ids derived from
// the event alone would put the grant last. The
// state is read in Go and, on Neo4j, by the store's own consent condition.
func TestBatchKeepsTheOrderOfDecisionsDatedAlike(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		var withdrawn []string // the profiles that withdrew so far
		for _, c := range []struct {
			user  string
			dated func(m map[string]any)
		}{
			{"u-same", func(m map[string]any) { m["timestamp"] = tConsent.Format(time.RFC3339) }},
			{"u-none", func(map[string]any) {}},
		} {
			key := "user_id:" + c.user
			var grantID, denyID string
			for i := 0; grantID == ""; i++ {
				g, d := fmt.Sprintf("%s-g%d", c.user, i), fmt.Sprintf("%s-d%d", c.user, i)
				if privacy.RecordIDFor("node/"+g, key, "advertising") > privacy.RecordIDFor("node/"+d, key, "advertising") {
					grantID, denyID = g, d
				}
			}
			grant := map[string]any{"type": "track", "event": privacy.SegmentConsentEvent, "messageId": grantID, "userId": c.user,
				"context": prefs(map[string]any{"Advertising": true})}
			deny := map[string]any{"type": "track", "event": privacy.SegmentConsentEvent, "messageId": denyID, "userId": c.user,
				"context": prefs(map[string]any{"Advertising": "withdrawn"})}
			c.dated(grant)
			c.dated(deny)
			r := h.sdkPost(t, "/v1/batch", "wk-node", map[string]any{"batch": []any{grant, deny}})
			if r.status != http.StatusOK || r.body.Stored != 2 {
				t.Fatalf("%s: batch: %d %s", c.user, r.status, r.raw)
			}
			m, err := s.(privacy.ConsentStore).ConsentOf(context.Background(), []string{key})
			if err != nil {
				t.Fatal(err)
			}
			if len(m[key]) != 2 || c.user == "u-same" && !m[key][0].At.Equal(m[key][1].At) {
				t.Fatalf("%s: records %+v, want two (tied on at when the timestamps are)", c.user, m[key])
			}
			if st := privacy.StateOf(m[key], "advertising", time.Now()); st.State != privacy.StateWithdrawn || st.Record.Proof.EventID != "node/"+denyID {
				t.Errorf("%s: advertising state %s from %s; the batch withdrew after granting: want WITHDRAWN from node/%s",
					c.user, st.State, st.Record.Proof.EventID, denyID)
			}
			if h := privacy.History(m[key], ""); h[0].Proof.EventID != "node/"+denyID {
				t.Errorf("%s: history starts with %s, want the withdrawal node/%s", c.user, h[0].Proof.EventID, denyID)
			}
			if fc, ok := s.(audience.FilterCounter); ok {
				withdrawn = append(withdrawn, h.profile(t, "user_id", c.user).ID)
				slices.Sort(withdrawn)
				n, ids, err := fc.CountFilter(context.Background(), audience.FilterQuery{Now: time.Now(), Sample: 10,
					Filter: &audience.Filter{Consent: &audience.ConsentCondition{Purpose: "advertising", Status: privacy.StateWithdrawn}}})
				if err != nil {
					t.Fatal(err)
				}
				slices.Sort(ids)
				if n != len(withdrawn) || !slices.Equal(ids, withdrawn) {
					t.Errorf("%s: the store counts %d profiles (%v) whose advertising consent is WITHDRAWN, want %v", c.user, n, ids, withdrawn)
				}
			}
		}
	})
}
