package resolver

import (
	"context"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// A setConsent given without at is the person's latest decision, even when
// a record of the purpose is dated ahead of this server's clock (written by
// a replica whose clock is fast, here by 3 s): the person granted through
// that replica, then withdrew through this one, and is WITHDRAWN, the
// withdrawal dated just after the grant. A decision given with its at
// keeps it: a grant dated an hour ago does not outrank the withdrawal.
func TestSetConsentWithoutAtIsTheLatestDecision(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		e.apply(ev("sk-1", t0, "identify", "user_id:u-skew", "email:skew@example.com"))
		ahead := graph.Now().Add(3 * time.Second)
		storetest.Must(t, s.(privacy.ConsentStore).PutConsent(context.Background(), []privacy.Record{{
			ID: privacy.NewRecordID(), Purpose: "email", Status: privacy.StatusGranted, At: ahead, ReceivedAt: ahead,
			Source: "replica-b", LegalBasis: privacy.BasisConsent, Identifier: "email:skew@example.com",
		}}))
		setConsent(e, map[string]any{"identifier": ident("user_id", "u-skew"), "purpose": "email", "status": "WITHDRAWN"})
		setConsent(e, map[string]any{"identifier": ident("user_id", "u-skew"), "purpose": "email", "status": "GRANTED",
			"at": rfc(time.Now().Add(-time.Hour))})
		var out struct {
			P *struct {
				ConsentHistory []struct {
					Status string
					At     time.Time
				}
			} `json:"profileByIdentifier"`
		}
		e.query(`{ profileByIdentifier(type: "user_id", value: "u-skew") { consentHistory(purpose: "email") { status at } } }`, nil, &out)
		h := out.P.ConsentHistory
		if len(h) != 3 || h[0].Status != "WITHDRAWN" || !h[0].At.After(ahead) || h[1].Status != "GRANTED" || !h[1].At.Equal(ahead) {
			t.Fatalf("history %+v; want the withdrawal newest, dated after the grant at %s, then that grant, then the back-dated one", h, ahead)
		}
		if lines := consentLines(e, "user_id", "u-skew"); len(lines) < 4 || lines[3][:len("email=WITHDRAWN")] != "email=WITHDRAWN" {
			t.Errorf("consent %v; want email WITHDRAWN", lines)
		}
	})
}
