package keep_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/audience/keep"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// erasingStore writes its profile (one event of key) before each checked
// Keep call, so that every checked round is stale, and erases the
// identifier erase before the unchecked one: the erasure commits between
// the last round's read and its write.
type erasingStore struct {
	audience.Store
	e          *env
	key, erase string
	x          *privacy.Eraser
	calls      int
	erased     bool
}

func (w *erasingStore) Keep(ctx context.Context, kw audience.KeepWrite) ([]string, error) {
	w.calls++
	if kw.Read != nil {
		res, err := w.e.eng.ApplyBatch(ctx, []graph.Event{ev(fmt.Sprintf("busy-%d", w.calls), t0.Add(-time.Duration(w.calls)*time.Minute), "Viewed", nil, nil, w.key)})
		if err != nil {
			return nil, err
		}
		if res.Stored != 1 {
			return nil, fmt.Errorf("busy event %d not stored: %+v", w.calls, res.Results)
		}
	} else if !w.erased {
		w.erased = true
		hook := func(ctx context.Context, tx graph.Tx, gw *graph.Write, x *graph.Erasure, _ privacy.ErasureReceipt) error {
			_, _, err := audience.ForgetErasureInTx(ctx, tx, gw, x)
			return err
		}
		if _, _, err := w.x.ForgetIdentifier(ctx, graph.SplitKey(w.erase), "asked to be forgotten", privacy.Requester{}, hook); err != nil {
			return nil, err
		}
	}
	return w.Store.Keep(ctx, kw)
}

// A round written unchecked (its profile was written before every check)
// writes no facts: they copy identifier keys and traits read before the
// write, and an erasure committed since deleted the profile's facts in its
// own transaction, so facts written now would put back what it erased.
// The membership it decided is kept all the same.
func TestUncheckedRoundWritesNoErasedFacts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, t0)
		const user, email = "user_id:gone-1", "email:gone-1@example.com"
		aView := seg(1)
		e.putAudience(aView, "viewers", "", audience.Filter{Event: &audience.EventCondition{Name: "Viewed"}})
		e.apply(ev("g0", t0.Add(-time.Hour), "Viewed", nil, map[string]any{"nickname": "gonzo"}, user, email))
		P := e.profile(user)
		must(t, e.k.Refresh(bg, []string{P}))
		e.wantMembers(aView, P)

		list, err := privacy.OpenSuppressionList(bg, s.(privacy.SuppressionStore))
		must(t, err)
		w := &erasingStore{Store: e.st, e: e, key: user, erase: email, x: privacy.NewEraser(e.eng, list)}
		k := keep.New(e.eng, w, e.cs, func() time.Time { return t0 })
		must(t, k.Refresh(bg, []string{P}))
		if !w.erased {
			t.Fatalf("the keeper made %d Keep calls and none unchecked", w.calls)
		}
		if e.profile(user) != P {
			t.Fatalf("the profile of %s is no longer %s", user, P)
		}
		fs, err := e.st.Facts(bg, []string{P})
		must(t, err)
		if f, ok := fs[P]; ok && slices.Contains(f.Keys, email) {
			t.Errorf("facts of %s after the erasure hold the erased identifier: keys %v", P, f.Keys)
		}
		e.wantMembers(aView, P)
	})
}
