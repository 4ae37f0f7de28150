package graphtest

// The store contract that erasure relies on: ReadTx.EventsBy, and the
// Write fields ScrubEvents and RewriteChanges. Records are written through
// the store contract directly (no engine), so each expectation below is
// worked out by hand from what was written.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
)

// putEvents claims the events, creates the identifiers named by keys and
// applies w (which holds the events) in one write transaction, as ingest
// does.
func putEvents(t *testing.T, s graph.Store, w *graph.Write, keys ...string) {
	t.Helper()
	update(t, s, func(ctx context.Context, tx graph.Tx) error {
		claims := make([]graph.EventClaim, len(w.Events))
		for i, e := range w.Events {
			claims[i] = graph.EventClaim{ID: e.ID, Digest: e.Digest}
		}
		stored, err := tx.ClaimEvents(ctx, claims)
		if err != nil {
			return err
		}
		if len(stored) != 0 {
			return fmt.Errorf("events %v are already stored", stored)
		}
		if _, err := tx.LockIdentifiers(ctx, seenAt(t0, keys...), true); err != nil {
			return err
		}
		return tx.Apply(ctx, w)
	})
}

// fmtEvent prints every stored field of an event; Keys are sorted, as the
// contract gives them no order. Maps print with sorted keys, nil and empty
// alike. A campaign prints only when the event has one.
func fmtEvent(e graph.Event) string {
	s := fmt.Sprintf("%s type=%s name=%s channel=%s source=%s ts=%s received=%s msg=%s digest=%s keys=%s props=%v traits=%v",
		e.ID, e.Type, e.Name, e.Channel, e.Source, stamp(e.Timestamp), stamp(e.ReceivedAt), e.MessageID, e.Digest,
		strings.Join(sorted(e.Keys...), ","), e.Properties, e.Traits)
	if e.Campaign != "" {
		s += " campaign=" + e.Campaign
	}
	return s
}

func checkEvents(t *testing.T, what string, got []graph.Event, want ...string) {
	t.Helper()
	if g := fmtAll(got, fmtEvent); !slices.Equal(g, want) {
		t.Errorf("%s =\n%s\nwant\n%s", what, strings.Join(g, "\n"), strings.Join(want, "\n"))
	}
}

// EventsBy returns every event BY any of the keys, once however many of
// them carry it, with all its keys, in id order (not time order); keys
// that are not stored, or carry no event, add nothing.
func testEventsBy(t *testing.T, open Opener) {
	s := open(t)
	const (
		u, a, v, mail, dev = "user_id:U", "anonymous_id:A", "user_id:V", "email:u@example.com", "device_id:D"
	)
	e := func(id string, minute int, keys ...string) graph.Event {
		return graph.Event{ID: id, Type: "track", Name: "Viewed", Channel: "web", Source: "web", Timestamp: at(minute), ReceivedAt: at(minute + 1), Keys: keys}
	}
	e2 := e("e2", 0, a, mail, v)
	e2.MessageID, e2.Digest = "m2", "d2"
	e2.Properties = map[string]any{"path": "/x", "n": 1.5}
	e2.Traits = map[string]any{"plan": "pro"}
	putEvents(t, s, &graph.Write{At: t0, Events: []graph.Event{
		e("e3", 1, u, a),
		e("e1", 5, u),
		e2,
		e("e4", 2, v),
		e("e5", 3, mail),
		e("E0", 9, dev+"x"), // sorts before e1 byte-wise; BY another identifier
	}}, u, a, v, mail, dev, dev+"x")

	want := map[string]string{
		"e1": "e1 type=track name=Viewed channel=web source=web ts=2026-01-01T12:05:00Z received=2026-01-01T12:06:00Z msg= digest= keys=user_id:U props=map[] traits=map[]",
		"e2": "e2 type=track name=Viewed channel=web source=web ts=2026-01-01T12:00:00Z received=2026-01-01T12:01:00Z msg=m2 digest=d2 keys=anonymous_id:A,email:u@example.com,user_id:V props=map[n:1.5 path:/x] traits=map[plan:pro]",
		"e3": "e3 type=track name=Viewed channel=web source=web ts=2026-01-01T12:01:00Z received=2026-01-01T12:02:00Z msg= digest= keys=anonymous_id:A,user_id:U props=map[] traits=map[]",
		"e4": "e4 type=track name=Viewed channel=web source=web ts=2026-01-01T12:02:00Z received=2026-01-01T12:03:00Z msg= digest= keys=user_id:V props=map[] traits=map[]",
		"e5": "e5 type=track name=Viewed channel=web source=web ts=2026-01-01T12:03:00Z received=2026-01-01T12:04:00Z msg= digest= keys=email:u@example.com props=map[] traits=map[]",
		"E0": "E0 type=track name=Viewed channel=web source=web ts=2026-01-01T12:09:00Z received=2026-01-01T12:10:00Z msg= digest= keys=device_id:Dx props=map[] traits=map[]",
	}
	pick := func(ids ...string) []string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = want[id]
		}
		return out
	}
	cases := []struct {
		keys []string
		want []string
	}{
		{[]string{u, a}, pick("e1", "e2", "e3")},
		{[]string{a, "user_id:nobody", u, a}, pick("e1", "e2", "e3")},
		{[]string{v, mail}, pick("e2", "e4", "e5")},
		{[]string{mail, dev + "x", u}, pick("E0", "e1", "e2", "e3", "e5")},
		{[]string{dev}, nil},
		{[]string{"user_id:nobody"}, nil},
		{nil, nil},
	}
	view(t, s, func(ctx context.Context, tx graph.ReadTx) error {
		for _, c := range cases {
			got, err := tx.EventsBy(ctx, c.keys)
			if err != nil {
				return err
			}
			checkEvents(t, fmt.Sprintf("EventsBy(%v)", c.keys), got, c.want...)
		}
		return nil
	})
	// In a write transaction, what the transaction wrote is seen.
	update(t, s, func(ctx context.Context, tx graph.Tx) error {
		if _, err := tx.ClaimEvents(ctx, []graph.EventClaim{{ID: "e6"}}); err != nil {
			return err
		}
		if err := tx.Apply(ctx, &graph.Write{At: t0, Events: []graph.Event{e("e6", 4, dev, v)}}); err != nil {
			return err
		}
		got, err := tx.EventsBy(ctx, []string{dev})
		if err != nil {
			return err
		}
		checkEvents(t, "EventsBy(device) after writing e6", got,
			"e6 type=track name=Viewed channel=web source=web ts=2026-01-01T12:04:00Z received=2026-01-01T12:05:00Z msg= digest= keys=device_id:D,user_id:V props=map[] traits=map[]")
		return nil
	})
}

// ScrubEvents replaces an event's Properties and Traits and keeps every
// other field, the campaign as the channel and source; an event that
// DeleteIdentifiers deleted in the same Write, or that was never stored,
// is skipped without error. Scrubs come after the Write's Events.
func testScrubEvents(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	const u, a, w = "user_id:U", "anonymous_id:A", "user_id:W"
	digest := strings.Repeat("0123456789abcdef", 4)
	// The id is source/messageId and the digest lowercase hex: the forms
	// a store may keep in short.
	s1 := graph.Event{ID: "web/m-s1", MessageID: "m-s1", Digest: digest, Type: "identify", Name: "", Channel: "web", Source: "web", Campaign: "spring-sale",
		Timestamp: at(1), ReceivedAt: at(2), Keys: []string{a, u},
		Properties: map[string]any{"email": "ann@example.com", "n": 1.5, "big": 12345678901234567890.0},
		Traits:     map[string]any{"email": "ann@example.com", "name": "Ann"}}
	s2 := graph.Event{ID: "crm/x", MessageID: "other-id", Digest: "legacy-digest", Type: "track", Name: "Bought", Channel: "server", Source: "crm", Campaign: "Été 2026",
		Timestamp: at(3), ReceivedAt: at(4), Keys: []string{u},
		Properties: map[string]any{"a": "b"}}
	s3 := graph.Event{ID: "s3", Type: "page", Source: "web", Timestamp: at(5), ReceivedAt: at(5), Keys: []string{a},
		Properties: map[string]any{"email": "ann@example.com"}}
	s4 := graph.Event{ID: "s4", Type: "track", Name: "Kept", Source: "web", Timestamp: at(6), ReceivedAt: at(7), Keys: []string{w},
		Properties: map[string]any{"email": "ann@example.com"}}
	putEvents(t, s, &graph.Write{At: t0, Events: []graph.Event{s1, s2, s3, s4}}, u, a, w)

	update(t, s, func(ctx context.Context, tx graph.Tx) error {
		return tx.Apply(ctx, &graph.Write{
			At:                at(10),
			DeleteIdentifiers: []string{a},
			ScrubEvents: []graph.EventPayload{
				{ID: "web/m-s1", Properties: map[string]any{"n": 1.5, "big": 12345678901234567890.0}},
				{ID: "crm/x", Traits: map[string]any{"plan": "pro"}},
				{ID: "s3", Properties: map[string]any{"x": "y"}}, // deleted above
				{ID: "never-stored", Properties: map[string]any{"x": "y"}},
			},
		})
	})
	const (
		wantS1 = "web/m-s1 type=identify name= channel=web source=web ts=2026-01-01T12:01:00Z received=2026-01-01T12:02:00Z msg=m-s1 digest=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef keys=user_id:U props=map[big:1.2345678901234567e+19 n:1.5] traits=map[] campaign=spring-sale"
		wantS2 = "crm/x type=track name=Bought channel=server source=crm ts=2026-01-01T12:03:00Z received=2026-01-01T12:04:00Z msg=other-id digest=legacy-digest keys=user_id:U props=map[] traits=map[plan:pro] campaign=Été 2026"
		wantS4 = "s4 type=track name=Kept channel= source=web ts=2026-01-01T12:06:00Z received=2026-01-01T12:07:00Z msg= digest= keys=user_id:W props=map[email:ann@example.com] traits=map[]"
	)
	readAll := func(what string, want ...string) {
		t.Helper()
		view(t, s, func(ctx context.Context, tx graph.ReadTx) error {
			evs, err := tx.Events(ctx, []string{"web/m-s1", "crm/x", "s3", "s4", "never-stored"})
			if err != nil {
				return err
			}
			var got []graph.Event
			for _, id := range []string{"crm/x", "s3", "s4", "never-stored", "web/m-s1"} {
				if e, ok := evs[id]; ok {
					got = append(got, e)
				}
			}
			checkEvents(t, what+": Events", got, want...)
			return nil
		})
	}
	readAll("after the scrub", wantS2, wantS4, wantS1)
	view(t, s, func(ctx context.Context, tx graph.ReadTx) error {
		got, err := tx.EventsBy(ctx, []string{u})
		if err != nil {
			return err
		}
		checkEvents(t, "EventsBy(user_id:U) after the scrub", got, wantS2, wantS1)
		return nil
	})
	// The digest a later claim reads back is kept.
	err := s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		stored, err := tx.ClaimEvents(ctx, []graph.EventClaim{{ID: "web/m-s1", Digest: "other"}, {ID: "crm/x"}})
		if err != nil {
			return err
		}
		if stored["web/m-s1"] != digest || stored["crm/x"] != "legacy-digest" || len(stored) != 2 {
			t.Errorf("ClaimEvents after the scrub = %v, want web/m-s1: %s, crm/x: legacy-digest", stored, digest)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("claiming after the scrub: %v", err)
	}

	// Empty maps clear both; a scrub alone is a Write of its own.
	update(t, s, func(ctx context.Context, tx graph.Tx) error {
		return tx.Apply(ctx, &graph.Write{At: at(11), ScrubEvents: []graph.EventPayload{
			{ID: "web/m-s1", Properties: map[string]any{}, Traits: map[string]any{}},
		}})
	})
	readAll("after clearing web/m-s1", wantS2, wantS4,
		"web/m-s1 type=identify name= channel=web source=web ts=2026-01-01T12:01:00Z received=2026-01-01T12:02:00Z msg=m-s1 digest=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef keys=user_id:U props=map[] traits=map[] campaign=spring-sale")

	// An event written and scrubbed by one Write is stored scrubbed.
	s5 := graph.Event{ID: "s5", Type: "track", Source: "web", Timestamp: at(8), ReceivedAt: at(8), Keys: []string{w},
		Properties: map[string]any{"email": "ann@example.com"}, Traits: map[string]any{"email": "ann@example.com"}}
	putEvents(t, s, &graph.Write{At: at(12), Events: []graph.Event{s5},
		ScrubEvents: []graph.EventPayload{{ID: "s5", Properties: map[string]any{"kept": true}}}}, w)
	view(t, s, func(ctx context.Context, tx graph.ReadTx) error {
		got, err := tx.EventsBy(ctx, []string{w})
		if err != nil {
			return err
		}
		checkEvents(t, "EventsBy(user_id:W)", got, wantS4,
			"s5 type=track name= channel= source=web ts=2026-01-01T12:08:00Z received=2026-01-01T12:08:00Z msg= digest= keys=user_id:W props=map[kept:true] traits=map[]")
		return nil
	})
}

// fmtChangeMembers is fmtChange with the members; nil and empty alike.
func fmtChangeMembers(c graph.ProfileChange) string {
	return fmtChange(c) + " members=" + strings.Join(c.Members, ",")
}

// RewriteChanges rewrites the Reason and Members of every entry that
// matches Kind, From, Into and At, and no other: not one with the same
// From at another time, nor another Into, nor the other kind between the
// same profiles. An entry matching none is skipped. Rewrites come after the
// Write's Changes.
func testRewriteChanges(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	p := func(id, into string) graph.Profile {
		return graph.Profile{ID: id, CreatedAt: t0, UpdatedAt: t0, Size: 1, Counts: map[string]int{graph.TypeUserID: 1}, MergedInto: into}
	}
	merge := func(from, into string, minute int, reason string, members ...string) graph.ProfileChange {
		return graph.ProfileChange{Kind: graph.ChangeMerge, From: from, Into: into, At: at(minute), Reason: reason, Members: members}
	}
	split := func(from, into string, minute int, reason string) graph.ProfileChange {
		return graph.ProfileChange{Kind: graph.ChangeSplit, From: from, Into: into, At: at(minute), Reason: reason}
	}
	write(t, s, &graph.Write{
		At:          at(0),
		PutProfiles: []graph.Profile{p("a", ""), p("b", "a"), p("c", ""), p("d", ""), p("e", ""), p("x", "a"), p("y", "a")},
		Changes: []graph.ProfileChange{
			merge("b", "a", 1, "b into a", "email:b1", "user_id:b2"),
			merge("b", "a", 3, "b into a again", "user_id:b2"), // same From and Into, another At
			merge("b", "c", 1, "b into c", "user_id:bc"),       // same From and At, another Into
			split("a", "d", 2, "split d off a"),
			merge("a", "d", 2, "a into d", "user_id:ad"), // the same profiles and time, a merge
			split("a", "e", 2, "split e off a"),
			merge("x", "a", 4, "x into a", "user_id:x1"),
		},
	})
	// The same entry again, in a Write of its own: both are rewritten.
	write(t, s, &graph.Write{At: at(0), Changes: []graph.ProfileChange{merge("x", "a", 4, "x into a (twice)", "user_id:x2")}})

	update(t, s, func(ctx context.Context, tx graph.Tx) error {
		return tx.Apply(ctx, &graph.Write{
			At: at(10),
			// Written, then rewritten, by one Write.
			Changes: []graph.ProfileChange{merge("y", "a", 5, "y into a", "email:y")},
			RewriteChanges: []graph.ProfileChange{
				merge("b", "a", 1, "merged", "user_id:b2"),
				split("a", "d", 2, "split"),
				merge("x", "a", 4, "x merged"),
				merge("y", "a", 5, "y merged", "user_id:y"),
				merge("b", "a", 9, "no such time"),
				split("nobody", "a", 1, "no such profile"),
				merge("d", "a", 2, "no such direction"),
			},
		})
	})
	want := sorted(
		"merge b>a at=2026-01-01T12:01:00Z reason=merged members=user_id:b2",
		"merge b>a at=2026-01-01T12:03:00Z reason=b into a again members=user_id:b2",
		"merge b>c at=2026-01-01T12:01:00Z reason=b into c members=user_id:bc",
		"split a>d at=2026-01-01T12:02:00Z reason=split members=",
		"merge a>d at=2026-01-01T12:02:00Z reason=a into d members=user_id:ad",
		"split a>e at=2026-01-01T12:02:00Z reason=split e off a members=",
		"merge x>a at=2026-01-01T12:04:00Z reason=x merged members=",
		"merge x>a at=2026-01-01T12:04:00Z reason=x merged members=",
		"merge y>a at=2026-01-01T12:05:00Z reason=y merged members=user_id:y",
	)
	view(t, s, func(ctx context.Context, tx graph.ReadTx) error {
		cs, err := tx.Changes(ctx, []string{"a", "b", "c", "d", "e", "x", "y"})
		if err != nil {
			return err
		}
		// Entries at one time have no order between them: compare sets.
		if got := sorted(fmtAll(cs, fmtChangeMembers)...); !slices.Equal(got, want) {
			t.Errorf("history after the rewrite =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		for i := 1; i < len(cs); i++ {
			if cs[i].At.Before(cs[i-1].At) {
				t.Errorf("history after the rewrite is not oldest first: %s before %s", fmtChange(cs[i-1]), fmtChange(cs[i]))
			}
		}
		return nil
	})

	// A kind that is neither merge nor split is refused, and the
	// transaction writes nothing.
	err := s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		return tx.Apply(ctx, &graph.Write{At: at(11), RewriteChanges: []graph.ProfileChange{{Kind: "bogus", From: "b", Into: "a", At: at(1)}}})
	})
	if err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("RewriteChanges with kind bogus: err = %v, want an error naming the kind", err)
	}
}

// Write.Traits replaces an identifier's traits whole: an empty map clears
// them (erasure scrubs the last trait of an identifier that stays), and
// the other identifiers' traits are untouched.
func testTraitsReplacedWhole(t *testing.T, open Opener) {
	s := open(t)
	tv := func(v string) graph.TraitValue { return graph.TraitValue{Value: v, Source: "crm", At: t0} }
	update(t, s, func(ctx context.Context, tx graph.Tx) error {
		if _, err := tx.LockIdentifiers(ctx, seenAt(t0, "user_id:U", "user_id:V"), true); err != nil {
			return err
		}
		return tx.Apply(ctx, &graph.Write{At: t0, Traits: []graph.TraitUpdate{
			{Key: "user_id:U", Traits: map[string]graph.TraitValue{"email": tv("u@example.com"), "plan": tv("pro")}},
			{Key: "user_id:V", Traits: map[string]graph.TraitValue{"plan": tv("free")}},
		}})
	})
	update(t, s, func(ctx context.Context, tx graph.Tx) error {
		return tx.Apply(ctx, &graph.Write{At: t0, Traits: []graph.TraitUpdate{
			{Key: "user_id:U", Traits: map[string]graph.TraitValue{}},
		}})
	})
	view(t, s, func(ctx context.Context, tx graph.ReadTx) error {
		ids, err := tx.Identifiers(ctx, []string{"user_id:U", "user_id:V"})
		if err != nil {
			return err
		}
		if n := len(ids["user_id:U"].Traits); n != 0 {
			t.Errorf("U has %d traits after an empty update, want none", n)
		}
		if got := ids["user_id:V"].Traits["plan"].Value; got != "free" || len(ids["user_id:V"].Traits) != 1 {
			t.Errorf("V's traits = %v, want plan=free only", ids["user_id:V"].Traits)
		}
		return nil
	})
}
