package resolver

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// consentHistory(purpose:) with a purpose the rules do not name: a typo
// is INVALID_ARGUMENT naming the argument and the purpose, with the
// rules' purposes; a purpose some stored record holds (one since removed
// from the rules) stays readable, for every profile, with or without
// records of it.
func TestConsentHistoryUnknownPurpose(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		e.apply(ev("m1", t0, "identify", "user_id:ua"))
		e.apply(ev("m2", t0, "identify", "user_id:ub"))
		a, b := e.profileID("user_id", "ua"), e.profileID("user_id", "ub")
		setConsent(e, map[string]any{"identifier": ident("user_id", "ua"), "purpose": "email", "status": "GRANTED", "at": rfc(t0.Add(time.Hour))})
		// A decision on a purpose the rules named once: "fax", stored
		// as a record of its own.
		old := privacy.Record{ID: privacy.NewRecordID(), Purpose: "fax", Status: privacy.StatusGranted, At: t0.Add(2 * time.Hour),
			Source: "legacy", LegalBasis: privacy.BasisConsent, Identifier: "user_id:ua", ReceivedAt: t0.Add(2 * time.Hour)}
		if err := s.(privacy.ConsentStore).PutConsent(context.Background(), []privacy.Record{old}); err != nil {
			t.Fatal(err)
		}

		if got, want := historyLines(e, a, `(purpose:"email")`), []string{"email=GRANTED@13:00/user_id:ua"}; !reflect.DeepEqual(got, want) {
			t.Errorf("email history of a: %v, want %v", got, want)
		}
		if got := historyLines(e, b, `(purpose:"email")`); len(got) != 0 {
			t.Errorf("email history of b: %v, want none", got)
		}
		if got, want := historyLines(e, a, `(purpose:"fax")`), []string{"fax=GRANTED@14:00/user_id:ua"}; !reflect.DeepEqual(got, want) {
			t.Errorf("fax history of a: %v, want %v", got, want)
		}
		if got := historyLines(e, b, `(purpose:"fax")`); len(got) != 0 {
			t.Errorf("fax history of b: %v, want none", got)
		}
		// An empty purpose selects every purpose, as none does.
		if got, want := historyLines(e, a, `(purpose:"")`), []string{"fax=GRANTED@14:00/user_id:ua", "email=GRANTED@13:00/user_id:ua"}; !reflect.DeepEqual(got, want) {
			t.Errorf("history of a with an empty purpose: %v, want %v", got, want)
		}
		for _, pid := range []string{a, b} {
			e.refused(`query($id:ID!){profile(id:$id){consentHistory(purpose:"emial"){purpose}}}`, map[string]any{"id": pid},
				"INVALID_ARGUMENT", `"purpose"`, "analytics, personalization, advertising, email, sms, push")
		}
	})
}
