package keep_test

import (
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/audience/keep"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// One replica's keeper evaluates Ann at t0 (her view is within a day)
// and stalls before writing; the refresher replica's keeper enters her
// at t1, then exits her at t2 (her view left the day). The stalled write
// lands last, and nothing of Ann's profile changed: it must still not be
// kept, for the log would then enter her at t0 after her exit at t2 (two
// entries in a row, read in its order), end with an exit while she is a
// member, and her membership would be the filter's at t0, not at t2. The
// stalled keeper's clock stays at t0: each evaluation it makes again is
// older than t2, and is refused too.
func TestKeeperOlderEvaluationNeverOverwritesNewer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, t0)
		const ann = "user_id:tm-ann"
		aud := seg(1)
		e.putAudience(aud, "viewed today", "", audience.Filter{Event: &audience.EventCondition{Name: "Viewed", Within: "P1D"}})
		e.apply(ev("tm1", t0.Add(-24*time.Hour+time.Minute), "Viewed", nil, nil, ann))
		A := e.profile(ann)

		release, done := stallKeeper(t, e, nil, func(k *keep.Keeper) error { return k.Refresh(bg, []string{A}) })

		t1, t2 := t0.Add(20*time.Second), t0.Add(2*time.Minute)
		e.now = t1
		must(t, e.k.RefreshDue(bg))
		e.wantMembers(aud, A)
		e.now = t2
		must(t, e.k.RefreshDue(bg))
		e.wantMembers(aud)

		release()
		must(t, <-done)

		e.wantAsEvaluated(t2, []string{A}, aud)
		e.wantChanges(aud, change{A, audience.Exited, t2}, change{A, audience.Entered, t1})
	})
}
