package resolver

import (
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// Erasing one identifier leaves the person's consent as it was: pat
// granted email an hour ago on her user id, then withdrew it on her email
// address (with a proof text naming the address). forgetIdentifier of the
// address deletes its records, and the withdrawal, her latest decision,
// is carried to the identifier that stays, dated as it was, without the
// proof text: she stays WITHDRAWN, not GRANTED by the older grant. Sam's
// withdrawal on his address is older than his grant on his user id: his
// state owes nothing to the address, and nothing is carried.
func TestForgetIdentifierKeepsTheLatestConsentDecision(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		e.apply(ev("fk-1", t0, "identify", "user_id:u-pat", "email:pat@example.com"))
		e.apply(ev("fk-2", t0, "identify", "user_id:u-sam", "email:sam@example.com"))
		hourAgo, halfHour := time.Now().Add(-time.Hour).UTC().Truncate(time.Second), time.Now().Add(-30*time.Minute).UTC().Truncate(time.Second)
		setConsent(e, map[string]any{"identifier": ident("user_id", "u-pat"), "purpose": "email", "status": "GRANTED", "at": rfc(hourAgo)})
		setConsent(e, map[string]any{"identifier": ident("email", "pat@example.com"), "purpose": "email", "status": "WITHDRAWN", "at": rfc(halfHour),
			"proof": map[string]any{"text": "No more mail to pat@example.com", "version": "v2", "channel": "web"}})
		setConsent(e, map[string]any{"identifier": ident("email", "sam@example.com"), "purpose": "email", "status": "WITHDRAWN", "at": rfc(hourAgo)})
		setConsent(e, map[string]any{"identifier": ident("user_id", "u-sam"), "purpose": "email", "status": "GRANTED", "at": rfc(halfHour)})
		for _, v := range []string{"pat@example.com", "sam@example.com"} {
			e.query(`mutation($v: String!) { forgetIdentifier(identifier: {type: "email", value: $v}, reason: "asked") { id } }`, map[string]any{"v": v}, nil)
		}
		type rec struct {
			Status     string
			At         time.Time
			Identifier struct{ Key string }
			Proof      struct{ Text, Version, Channel string }
		}
		history := func(user string) []rec {
			t.Helper()
			var out struct {
				P *struct{ ConsentHistory []rec } `json:"profileByIdentifier"`
			}
			e.query(`query($v: String!) { profileByIdentifier(type: "user_id", value: $v) {
				consentHistory(purpose: "email") { status at identifier { key } proof { text version channel } } } }`, map[string]any{"v": user}, &out)
			return out.P.ConsentHistory
		}
		h := history("u-pat")
		if len(h) != 2 || h[0].Status != "WITHDRAWN" || !h[0].At.Equal(halfHour) || h[0].Identifier.Key != "user_id:u-pat" ||
			h[0].Proof.Text != "" || h[0].Proof.Version != "v2" || h[0].Proof.Channel != "web" ||
			h[1].Status != "GRANTED" || !h[1].At.Equal(hourAgo) {
			t.Errorf("pat's history %+v; want the withdrawal at %s carried to user_id:u-pat without its text, then the grant at %s", h, halfHour, hourAgo)
		}
		if l := consentLines(e, "user_id", "u-pat")[3]; l[:len("email=WITHDRAWN")] != "email=WITHDRAWN" {
			t.Errorf("pat's email consent %s, want WITHDRAWN", l)
		}
		if h := history("u-sam"); len(h) != 1 || h[0].Status != "GRANTED" || !h[0].At.Equal(halfHour) {
			t.Errorf("sam's history %+v; want his grant alone", h)
		}
	})
}
