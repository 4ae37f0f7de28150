package keep_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// An inAudience condition naming an audience with a purpose holds while
// the profile is a kept member and grants the purpose at the time of the
// evaluation, as the audience's members are listed: a withdrawal or an
// expiry counts in Preview before any round of the keeper, and
// RefreshDue, with no write, evaluates again the audience that names it.
// Hand-worked: ann, bob and cat grant email (bob's grant expires at t3);
// mail (purpose email) holds every user_id, in names mail. At t0 all
// three are kept in both. At t1 cat withdraws, straight into the ledger:
// {inAudience: mail} previews ann and bob, {not: {inAudience: mail}} cat.
// At t3 bob's grant has expired: ann; bob and cat. RefreshDue then keeps
// ann alone in mail and in in.
func TestInAudienceHoldsTheNamedPurposeNow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, t0)
		const qAnn, qBob, qCat = "user_id:q-ann", "user_id:q-bob", "user_id:q-cat"
		e.apply(
			ev("q1", t0.Add(-time.Hour), "Viewed", nil, nil, qAnn),
			ev("q2", t0.Add(-time.Hour), "Viewed", nil, nil, qBob),
			ev("q3", t0.Add(-time.Hour), "Viewed", nil, nil, qCat),
		)
		A, B, C := e.profile(qAnn), e.profile(qBob), e.profile(qCat)
		e.consent(qAnn, "email", privacy.StatusGranted, t0.Add(-day(1)), time.Time{})
		e.consent(qBob, "email", privacy.StatusGranted, t0.Add(-day(1)), t0.Add(3*time.Hour))
		e.consent(qCat, "email", privacy.StatusGranted, t0.Add(-day(1)), time.Time{})
		mail, in := seg(1), seg(2)
		e.putAudience(mail, "mail", "email", audience.Filter{Identifier: &audience.IdentifierCondition{Type: "user_id"}})
		e.putAudience(in, "in mail", "", audience.Filter{InAudience: &mail})
		must(t, e.k.RefreshAll(bg))
		e.wantMembers(mail, A, B, C)
		e.wantMembers(in, A, B, C)

		inMail := audience.Filter{InAudience: &mail}
		notInMail := audience.Filter{Not: &inMail}
		preview := func(at string, f audience.Filter, want ...string) {
			t.Helper()
			n, ids, err := e.k.Preview(bg, &f, "", 10)
			must(t, err)
			if w := sorted(want...); n != len(w) || !reflect.DeepEqual(ids, w) {
				b, _ := json.Marshal(f)
				t.Errorf("%s: Preview of %s counts %d, samples %v; want %d, %v", at, b, n, ids, len(w), w)
			}
		}

		t1 := t0.Add(time.Hour)
		e.now = t1
		e.consent(qCat, "email", privacy.StatusWithdrawn, t1, time.Time{})
		preview("cat withdrawn", inMail, A, B)
		preview("cat withdrawn", notInMail, C)

		t3 := t0.Add(3 * time.Hour)
		e.now = t3
		preview("bob's grant expired", inMail, A)
		preview("bob's grant expired", notInMail, B, C)

		must(t, e.k.RefreshDue(bg))
		e.wantMembers(mail, A)
		e.wantMembers(in, A)
	})
}
