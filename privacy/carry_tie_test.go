package privacy_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// Two decisions of one request tie on at and receivedAt, so the state rule
// orders them by record id: Kim's grant on her user id, then her
// withdrawal on her email address, whose id is the greater (ids of that
// shape are what a ledger holds from before dated ids). She is WITHDRAWN.
// forgetIdentifier of the address carries the withdrawal to the user id;
// the copy must keep the withdrawal's place among the records tied with
// it, so that she stays WITHDRAWN, whatever id the copy gets.
func TestForgetIdentifierCarriesATiedDecisionInItsPlace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ctx := context.Background()
		eng, x := engineAndEraser(t, st)
		apply(t, eng, event("test/kim-1", t0, nil, "user_id:u-kim", "email:kim@example.com"))
		at, received := t0.Add(time.Hour), t0.Add(time.Hour+time.Second)
		rec := func(id, key string, s privacy.Status) privacy.Record {
			return privacy.Record{ID: id, Purpose: "email", Status: s, At: at, Source: "web", LegalBasis: privacy.BasisConsent,
				Identifier: key, ReceivedAt: received}
		}
		grant := rec("cns_"+strings.Repeat("f", 29)+"000", "user_id:u-kim", privacy.StatusGranted)
		withdrawal := rec("cns_"+strings.Repeat("f", 32), "email:kim@example.com", privacy.StatusWithdrawn)
		if err := st.(privacy.ConsentStore).PutConsent(ctx, []privacy.Record{grant, withdrawal}); err != nil {
			t.Fatal(err)
		}
		state := func() privacy.State {
			t.Helper()
			byKey, err := st.(privacy.ConsentStore).ConsentOf(ctx, []string{"email:kim@example.com", "user_id:u-kim"})
			if err != nil {
				t.Fatal(err)
			}
			var all []privacy.Record
			for _, rs := range byKey {
				all = append(all, rs...)
			}
			return privacy.StateOf(all, "email", time.Now()).State
		}
		if s := state(); s != privacy.StateWithdrawn {
			t.Fatalf("before the erasure Kim is %s, want WITHDRAWN", s)
		}
		if _, _, err := x.ForgetIdentifier(ctx, graph.IdentifierRef{Type: "email", Value: "kim@example.com"}, "asked", privacy.Requester{}, nil); err != nil {
			t.Fatal(err)
		}
		if s := state(); s != privacy.StateWithdrawn {
			t.Errorf("after forgetIdentifier of her address Kim is %s, want WITHDRAWN: her latest decision was carried behind the grant it tied with", s)
		}
	})
}
