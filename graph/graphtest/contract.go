package graphtest

// The store contract of graph/store.go, checked the same way on every store:
// what a Write leaves behind, what the reads answer, transactions that fail
// or are cancelled, and locks between concurrent transactions. Expectations
// are worked out by hand from the contract, never read back from a store.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
)

// RetryViews wraps the stores open makes so that every View runs its
// function twice, in two read transactions, as a store that retries after a
// transient failure may: the caller gets the second run's answer. A caller
// that does not reset what it builds at the start of each run answers with
// both runs' results. If the two runs disagree on success, View says so.
func RetryViews(open Opener) Opener {
	return func(t *testing.T) graph.Store { return retryingStore{open(t)} }
}

type retryingStore struct{ graph.Store }

// SuppressionKey passes on the secret of retired profile ids
// (graph.SecretKeeper).
func (s retryingStore) SuppressionKey(ctx context.Context) ([]byte, error) {
	return secretOf(ctx, s.Store)
}

// secretOf is the secret of s, a graph.SecretKeeper, for a wrapper that
// passes it on; an error when s keeps none.
func secretOf(ctx context.Context, s graph.Store) ([]byte, error) {
	k, ok := s.(graph.SecretKeeper)
	if !ok {
		return nil, fmt.Errorf("the store %T keeps no secret", s)
	}
	return k.SuppressionKey(ctx)
}

func (s retryingStore) View(ctx context.Context, fn func(ctx context.Context, tx graph.ReadTx) error) error {
	first := s.Store.View(ctx, fn)
	second := s.Store.View(ctx, fn)
	if graph.ErrorCode(first) != graph.ErrorCode(second) {
		return fmt.Errorf("two runs of one read disagree: first %v, then %w", first, second)
	}
	return second
}

// update runs fn in one write transaction of s and fails the test on error.
func update(t *testing.T, s graph.Store, fn func(ctx context.Context, tx graph.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// write applies w in one write transaction, after creating the identifiers
// named by keys (links, assignments and events need them stored).
func write(t *testing.T, s graph.Store, w *graph.Write, keys ...string) {
	t.Helper()
	update(t, s, func(ctx context.Context, tx graph.Tx) error {
		if _, err := tx.LockIdentifiers(ctx, seenAt(t0, keys...), true); err != nil {
			return err
		}
		return tx.Apply(ctx, w)
	})
}

// view runs fn in one read transaction of s and fails the test on error.
func view(t *testing.T, s graph.Store, fn func(ctx context.Context, tx graph.ReadTx) error) {
	t.Helper()
	if err := s.View(context.Background(), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

// seenAt describes keys as seen once, at at, by source "test".
func seenAt(at time.Time, keys ...string) []graph.IdentifierSeen {
	out := make([]graph.IdentifierSeen, len(keys))
	for i, k := range keys {
		r := graph.SplitKey(k)
		out[i] = graph.IdentifierSeen{Key: k, Type: r.Type, Value: r.Value, First: at, Last: at, Sources: []string{"test"}}
	}
	return out
}

// stamp writes a time so that two equal instants print alike whatever their
// location.
func stamp(at time.Time) string { return at.UTC().Format(time.RFC3339Nano) }

func fmtLink(l graph.Link) string {
	return fmt.Sprintf("%s-%s source=%s evidence=%s first=%s last=%s count=%d", l.A, l.B, l.Source, l.Evidence, stamp(l.FirstSeen), stamp(l.LastSeen), l.Count)
}

func fmtChange(c graph.ProfileChange) string {
	return fmt.Sprintf("%s %s>%s at=%s reason=%s", c.Kind, c.From, c.Into, stamp(c.At), c.Reason)
}

func fmtAll[T any](xs []T, f func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

// A link seen again adds to its count, keeps its first source and
// evidence, and widens FirstSeen and LastSeen to every sighting, whatever
// the order the sightings arrive in and however they are batched.
func testLinksAccumulate(t *testing.T, open Opener) {
	s := open(t)
	e := graph.NewEngine(s, nil)
	first := ev("l1", 5, user("A"), anon("B"))
	first.Source = "web"
	apply(t, e, first)
	// One batch: a sighting older than the first, and a newer one.
	older, newer := ev("l2", 2, anon("B"), user("A")), ev("l3", 9, user("A"), anon("B"))
	older.Source, newer.Source = "crm", "crm"
	apply(t, e, older, newer)
	// One more, between the others in time.
	apply(t, e, ev("l4", 7, user("A"), anon("B")))
	// A different pair, seen once.
	apply(t, e, ev("l5", 4, user("A"), device("D")))

	want := []string{
		fmtLink(graph.Link{A: "anonymous_id:B", B: "user_id:A", Source: "web", Evidence: "l1", FirstSeen: at(2), LastSeen: at(9), Count: 4}),
		fmtLink(graph.Link{A: "device_id:D", B: "user_id:A", Source: "test", Evidence: "l5", FirstSeen: at(4), LastSeen: at(4), Count: 1}),
	}
	view(t, s, func(ctx context.Context, tx graph.ReadTx) error {
		for _, keys := range [][]string{{"user_id:A"}, {"anonymous_id:B", "device_id:D"}, {"device_id:D", "user_id:A", "anonymous_id:B"}} {
			ls, err := tx.Links(ctx, keys)
			if err != nil {
				return err
			}
			got := fmtAll(ls, fmtLink)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("Links(%v) =\n%s\nwant\n%s", keys, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
		ls, err := tx.Links(ctx, []string{"device_id:D"})
		if err != nil {
			return err
		}
		if got := fmtAll(ls, fmtLink); !slices.Equal(got, want[1:]) {
			t.Errorf("Links(device_id:D) = %v, want %v", got, want[1:])
		}
		// The identifiers' own sightings widen the same way.
		ids, err := tx.Identifiers(ctx, []string{"user_id:A", "anonymous_id:B"})
		if err != nil {
			return err
		}
		a := ids["user_id:A"]
		if !a.FirstSeen.Equal(at(2)) || !a.LastSeen.Equal(at(9)) || !slices.Equal(slices.Sorted(slices.Values(a.Sources)), []string{"crm", "test", "web"}) {
			t.Errorf("user_id:A seen %s..%s by %v, want %s..%s by [crm test web]", stamp(a.FirstSeen), stamp(a.LastSeen), a.Sources, stamp(at(2)), stamp(at(9)))
		}
		return nil
	})
}

// PutLinks writes a link as given, from its smaller key to its larger
// whichever way round it is named: a pair written again is overwritten (the
// engine has merged its sightings). LinksBetween answers by ordered pair.
func testLinksOverwrite(t *testing.T, open Opener) {
	s := open(t)
	k1, k2, k3, k4 := "anonymous_id:1", "anonymous_id:2", "anonymous_id:3", "anonymous_id:4"
	write(t, s, &graph.Write{At: t0, PutLinks: []graph.Link{{A: k2, B: k1, Source: "web", Evidence: "e1", FirstSeen: t0, LastSeen: t0, Count: 1}}}, k1, k2, k3, k4)
	write(t, s, &graph.Write{At: t0, PutLinks: []graph.Link{
		{A: k1, B: k2, Source: "crm", Evidence: "e2", FirstSeen: at(-60), LastSeen: at(60), Count: 3},
		{A: k3, B: k2, Source: "app", Evidence: "e3", FirstSeen: at(1), LastSeen: at(2), Count: 2},
	}})
	l12 := graph.Link{A: k1, B: k2, Source: "crm", Evidence: "e2", FirstSeen: at(-60), LastSeen: at(60), Count: 3}
	l23 := graph.Link{A: k2, B: k3, Source: "app", Evidence: "e3", FirstSeen: at(1), LastSeen: at(2), Count: 2}
	view(t, s, func(ctx context.Context, tx graph.ReadTx) error {
		for _, c := range []struct {
			keys []string
			want []graph.Link
		}{{[]string{k2}, []graph.Link{l12, l23}}, {[]string{k1}, []graph.Link{l12}}, {[]string{k1, k3}, []graph.Link{l12, l23}}, {[]string{k4}, nil}} {
			ls, err := tx.Links(ctx, c.keys)
			if err != nil {
				return err
			}
			got := fmtAll(ls, fmtLink)
			slices.Sort(got)
			if want := fmtAll(c.want, fmtLink); !slices.Equal(got, want) {
				t.Errorf("Links(%v) =\n%s\nwant\n%s", c.keys, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
		between, err := tx.LinksBetween(ctx, []graph.LinkKey{{A: k2, B: k1}, {A: k1, B: k3}, {A: k3, B: k2}, {A: k4, B: "anonymous_id:none"}})
		if err != nil {
			return err
		}
		got := map[graph.LinkKey]string{}
		for lk, l := range between {
			got[lk] = fmtLink(l)
		}
		want := map[graph.LinkKey]string{{A: k1, B: k2}: fmtLink(l12), {A: k2, B: k3}: fmtLink(l23)}
		if !maps.Equal(got, want) {
			t.Errorf("LinksBetween = %v, want %v", got, want)
		}
		return nil
	})
}

// Changes returns the history entries naming any of the ids, oldest first
// whatever order they were written in; deleting a profile deletes the
// entries that name it.
func testChangesOrder(t *testing.T, open Opener) {
	s := open(t)
	p := func(id, into string) graph.Profile {
		if into != "" {
			return graph.Profile{ID: id, CreatedAt: t0, UpdatedAt: t0, MergedInto: into}
		}
		return graph.Profile{ID: id, CreatedAt: t0, UpdatedAt: t0, Size: 1, Counts: map[string]int{graph.TypeUserID: 1}}
	}
	splitAC := graph.ProfileChange{Kind: graph.ChangeSplit, From: "a", Into: "c", At: at(2), Reason: "split c off a"}
	mergeBA := graph.ProfileChange{Kind: graph.ChangeMerge, From: "b", Into: "a", At: at(1), Reason: "b into a"}
	mergeXA := graph.ProfileChange{Kind: graph.ChangeMerge, From: "x", Into: "a", At: at(0), Reason: "x into a"}
	write(t, s, &graph.Write{
		At:          at(2),
		PutProfiles: []graph.Profile{p("a", ""), p("b", "a"), p("c", ""), p("x", "a"), p("y", "")},
		Changes:     []graph.ProfileChange{splitAC, mergeBA, mergeXA},
	})
	// Written later, but older than everything above.
	mergeYC := graph.ProfileChange{Kind: graph.ChangeMerge, From: "y", Into: "c", At: at(-60), Reason: "y into c"}
	write(t, s, &graph.Write{At: at(3), PutProfiles: []graph.Profile{p("y", "c")}, Changes: []graph.ProfileChange{mergeYC}})

	check := func(ids []string, want ...graph.ProfileChange) {
		t.Helper()
		view(t, s, func(ctx context.Context, tx graph.ReadTx) error {
			cs, err := tx.Changes(ctx, ids)
			if err != nil {
				return err
			}
			if got, w := fmtAll(cs, fmtChange), fmtAll(want, fmtChange); !slices.Equal(got, w) {
				t.Errorf("Changes(%v) =\n%s\nwant\n%s", ids, strings.Join(got, "\n"), strings.Join(w, "\n"))
			}
			return nil
		})
	}
	check([]string{"c", "a", "b"}, mergeYC, mergeXA, mergeBA, splitAC)
	check([]string{"a"}, mergeXA, mergeBA, splitAC)
	check([]string{"b"}, mergeBA)
	check([]string{"y"}, mergeYC)
	check([]string{"nobody"})
	check(nil)

	write(t, s, &graph.Write{At: at(4), DeleteProfiles: []string{"c"}})
	check([]string{"a", "c", "y"}, mergeXA, mergeBA)
	view(t, s, func(ctx context.Context, tx graph.ReadTx) error {
		ps, err := tx.Profiles(ctx, []string{"a", "c"})
		if err != nil {
			return err
		}
		if _, ok := ps["c"]; ok || len(ps) != 1 {
			t.Errorf("Profiles(a, c) after deleting c = %v, want a only", ps)
		}
		return nil
	})
}

// CountProfiles and ProfilesPage see live profiles only: a profile written
// twice counts once, a merged-away one not at all, a deleted one is gone.
func testLiveCountAndPages(t *testing.T, open Opener) {
	s := open(t)
	live := func(id string, size int) graph.Profile {
		return graph.Profile{ID: id, CreatedAt: t0, UpdatedAt: t0, Size: size, Counts: map[string]int{graph.TypeAnonymousID: size}}
	}
	count := func(want int) {
		t.Helper()
		view(t, s, func(ctx context.Context, tx graph.ReadTx) error {
			n, err := tx.CountProfiles(ctx)
			if err != nil {
				return err
			}
			if n != want {
				t.Errorf("CountProfiles = %d, want %d", n, want)
			}
			return nil
		})
	}
	count(0)
	write(t, s, &graph.Write{At: t0, PutProfiles: []graph.Profile{live("a", 1), live("b", 1), live("c", 1), live("d", 1), live("e", 1)}})
	count(5)
	// Overwriting a live profile must not count it twice; b goes into a.
	write(t, s, &graph.Write{At: t0, PutProfiles: []graph.Profile{live("a", 2), {ID: "b", CreatedAt: t0, UpdatedAt: t0, MergedInto: "a"}}})
	count(4)
	write(t, s, &graph.Write{At: t0, DeleteProfiles: []string{"d"}})
	count(3)
	// Live now: a, c, e.
	tests := []struct {
		q    graph.PageQuery
		want []string
	}{
		{graph.PageQuery{Limit: 10}, []string{"a", "c", "e"}},
		{graph.PageQuery{Limit: 1}, []string{"a"}},
		{graph.PageQuery{Limit: 2}, []string{"a", "c"}},
		{graph.PageQuery{After: "a", Limit: 10}, []string{"c", "e"}},
		{graph.PageQuery{After: "b", Limit: 10}, []string{"c", "e"}}, // a bound need not be live
		{graph.PageQuery{After: "a", Before: "e", Limit: 10}, []string{"c"}},
		{graph.PageQuery{After: "b", Before: "c", Limit: 10}, nil},
		{graph.PageQuery{Before: "c", Limit: 10}, []string{"a"}},
		{graph.PageQuery{Before: "e", Limit: 1}, []string{"a"}},
		{graph.PageQuery{After: "e", Limit: 10}, nil},
		{graph.PageQuery{Reverse: true, Limit: 1}, []string{"e"}},
		{graph.PageQuery{Reverse: true, Limit: 2}, []string{"e", "c"}},
		{graph.PageQuery{Reverse: true, Before: "c", Limit: 10}, []string{"a"}},
		{graph.PageQuery{Reverse: true, Before: "zz", Limit: 10}, []string{"e", "c", "a"}},
		{graph.PageQuery{Reverse: true, After: "a", Limit: 10}, []string{"e", "c"}},
		{graph.PageQuery{Reverse: true, After: "a", Before: "e", Limit: 10}, []string{"c"}},
		{graph.PageQuery{Reverse: true, Before: "a", Limit: 10}, nil},
	}
	view(t, s, func(ctx context.Context, tx graph.ReadTx) error {
		for _, tc := range tests {
			ps, err := tx.ProfilesPage(ctx, tc.q)
			if err != nil {
				return err
			}
			if got := idsOf(ps); !slices.Equal(got, tc.want) {
				t.Errorf("ProfilesPage(%+v) = %v, want %v", tc.q, got, tc.want)
			}
			for _, p := range ps {
				if !p.Live() || (p.ID == "a" && p.Size != 2) {
					t.Errorf("ProfilesPage(%+v) listed %+v", tc.q, p)
				}
			}
		}
		return nil
	})
}

// Journeys keep event times to the microsecond across the whole range a
// timestamp can take, before 1970 included, and order equal times by id,
// newest first. The engine cuts nanoseconds off (rounding down), so events
// less than a microsecond apart share one time.
func testExtremeJourneyTimes(t *testing.T, open Opener) {
	e := newEngine(t, open)
	utc := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	}
	events := []struct {
		id        string
		sent, got time.Time
	}{
		// Year 1: the zero time itself would mean "no timestamp".
		{"y0001", utc(1, 1, 1, 0, 0, 0, 1000), utc(1, 1, 1, 0, 0, 0, 1000)},
		{"y1500", utc(1500, 6, 1, 0, 0, 0, 0), utc(1500, 6, 1, 0, 0, 0, 0)},
		{"pre1970", utc(1969, 12, 31, 23, 59, 59, 999999500), utc(1969, 12, 31, 23, 59, 59, 999999000)},
		{"epoch", utc(1970, 1, 1, 0, 0, 0, 0), utc(1970, 1, 1, 0, 0, 0, 0)},
		{"epoch+999ns", utc(1970, 1, 1, 0, 0, 0, 999), utc(1970, 1, 1, 0, 0, 0, 0)},
		{"epoch+1us", utc(1970, 1, 1, 0, 0, 0, 1000), utc(1970, 1, 1, 0, 0, 0, 1000)},
		{"same-a", t0, t0},
		{"same-c", t0, t0},
		{"same-b", t0.Add(999 * time.Nanosecond), t0},
		{"y9999", utc(9999, 12, 31, 23, 59, 59, 999999999), utc(9999, 12, 31, 23, 59, 59, 999999000)},
	}
	var batch []graph.Event
	for _, x := range events {
		batch = append(batch, graph.Event{ID: x.id, Type: "track", Source: "test", Timestamp: x.sent, Identifiers: []graph.IdentifierRef{user("U")}})
	}
	if res := apply(t, e, batch...); res.Stored != len(events) {
		t.Fatalf("stored %d of %d events: %+v", res.Stored, len(events), res.Results)
	}
	p := profileOf(t, e, user("U"))
	newestFirst := []string{"y9999", "same-c", "same-b", "same-a", "epoch+1us", "epoch+999ns", "epoch", "pre1970", "y1500", "y0001"}
	for _, limit := range []int{1, 3, 100} {
		if got := journey(t, e, p.ID, graph.JourneyQuery{Limit: limit}); !slices.Equal(got, newestFirst) {
			t.Errorf("journey by pages of %d = %v, want %v", limit, got, newestFirst)
		}
	}
	js, err := e.Journeys(context.Background(), []string{p.ID}, graph.JourneyQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]time.Time{}
	for _, x := range js[p.ID] {
		stored[x.ID] = x.Timestamp
	}
	for _, x := range events {
		if got, ok := stored[x.id]; !ok || !got.Equal(x.got) {
			t.Errorf("event %s sent at %s is stored at %s, want %s", x.id, stamp(x.sent), stamp(got), stamp(x.got))
		}
	}
	evs, err := e.Events(context.Background(), []string{"y0001", "y9999", "epoch+999ns"})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		id string
		at time.Time
	}{{"y0001", events[0].got}, {"y9999", events[9].got}, {"epoch+999ns", events[4].got}} {
		if got := evs[x.id].Timestamp; !got.Equal(x.at) {
			t.Errorf("Events: %s at %s, want %s", x.id, stamp(got), stamp(x.at))
		}
	}
	// From is inclusive, To exclusive, at the extremes too.
	windows := []struct {
		from, to time.Time
		want     []string
	}{
		{events[3].got, events[5].got, []string{"epoch+999ns", "epoch"}},
		{events[2].got, events[3].got, []string{"pre1970"}},
		{events[0].got, events[1].got, []string{"y0001"}},
		{events[9].got, time.Time{}, []string{"y9999"}},
		{time.Time{}, events[1].got.Add(time.Microsecond), []string{"y1500", "y0001"}},
		{t0, t0.Add(time.Microsecond), []string{"same-c", "same-b", "same-a"}},
		// Bounds finer than a microsecond hold exactly.
		{events[3].got.Add(500), events[5].got.Add(500), []string{"epoch+1us"}},
		{events[3].got.Add(-1), events[3].got.Add(1), []string{"epoch+999ns", "epoch"}},
		{events[9].got.Add(1), time.Time{}, nil},
	}
	for _, w := range windows {
		for _, limit := range []int{1, 100} {
			if got := journey(t, e, p.ID, graph.JourneyQuery{From: w.from, To: w.to, Limit: limit}); !slices.Equal(got, w.want) {
				t.Errorf("journey from %s to %s by %d = %v, want %v", stamp(w.from), stamp(w.to), limit, got, w.want)
			}
		}
	}
}

// An Update whose fn fails leaves nothing behind (claims, identifiers,
// profiles, links, events, traits, history) and returns fn's error, a
// domain error unchanged.
func testRollback(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	for _, fail := range []error{errors.New("boom"), graph.Errorf(graph.ECONFLICT, "changed meanwhile")} {
		err := s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
			if err := writeEverything(ctx, tx); err != nil {
				return err
			}
			return fail
		})
		if !errors.Is(err, fail) {
			t.Fatalf("Update = %v, want fn's error %v", err, fail)
		}
		var ge *graph.Error
		if errors.As(fail, &ge) && (!errors.As(err, &ge) || ge != fail) {
			t.Fatalf("Update = %v, want fn's own *graph.Error", err)
		}
		checkNothingStored(t, s)
	}
}

// writeEverything claims m1 and writes one of each kind of record: what a
// rolled-back or cancelled transaction must not leave.
func writeEverything(ctx context.Context, tx graph.Tx) error {
	fresh, err := claimFresh(ctx, tx, "m1")
	if err != nil {
		return err
	}
	if !fresh {
		return errors.New("m1 is already claimed before anything was committed")
	}
	if _, err := tx.LockIdentifiers(ctx, seenAt(t0, "user_id:U", "email:u@example.com"), true); err != nil {
		return err
	}
	return tx.Apply(ctx, &graph.Write{
		At:          t0,
		PutProfiles: []graph.Profile{{ID: "p1", CreatedAt: t0, UpdatedAt: t0, Size: 2, Counts: map[string]int{graph.TypeUserID: 1, graph.TypeEmail: 1}}, {ID: "p0", CreatedAt: t0, UpdatedAt: t0, MergedInto: "p1"}},
		Assign:      []graph.Assignment{{Key: "user_id:U", ProfileID: "p1"}, {Key: "email:u@example.com", ProfileID: "p1"}},
		PutLinks:    []graph.Link{{A: "email:u@example.com", B: "user_id:U", Source: "test", Evidence: "m1", FirstSeen: t0, LastSeen: t0, Count: 1}},
		Events:      []graph.Event{{ID: "m1", Type: "identify", Source: "test", Timestamp: t0, ReceivedAt: t0, Keys: []string{"email:u@example.com", "user_id:U"}}},
		Traits:      []graph.TraitUpdate{{Key: "user_id:U", Traits: map[string]graph.TraitValue{"plan": {Value: "pro", Source: "test", At: t0}}}},
		Changes:     []graph.ProfileChange{{Kind: graph.ChangeMerge, From: "p0", Into: "p1", At: t0, Reason: "test"}},
	})
}

// checkNothingStored checks that no record writeEverything makes is stored,
// and that m1 can be claimed afresh.
func checkNothingStored(t *testing.T, s graph.Store) {
	t.Helper()
	keys := []string{"user_id:U", "email:u@example.com"}
	view(t, s, func(ctx context.Context, tx graph.ReadTx) error {
		ids, err := tx.Identifiers(ctx, keys)
		if err != nil {
			return err
		}
		ps, err := tx.Profiles(ctx, []string{"p0", "p1"})
		if err != nil {
			return err
		}
		ms, err := tx.Members(ctx, []string{"p1"})
		if err != nil {
			return err
		}
		ls, err := tx.Links(ctx, keys)
		if err != nil {
			return err
		}
		evs, err := tx.Events(ctx, []string{"m1"})
		if err != nil {
			return err
		}
		js, err := tx.Journeys(ctx, []string{"p1"}, graph.JourneyQuery{Limit: 10})
		if err != nil {
			return err
		}
		cs, err := tx.Changes(ctx, []string{"p0", "p1"})
		if err != nil {
			return err
		}
		page, err := tx.ProfilesPage(ctx, graph.PageQuery{Limit: 10})
		if err != nil {
			return err
		}
		n, err := tx.CountProfiles(ctx)
		if err != nil {
			return err
		}
		if len(ids) != 0 || len(ps) != 0 || len(ms["p1"]) != 0 || len(ls) != 0 || len(evs) != 0 || len(js["p1"]) != 0 || len(cs) != 0 || len(page) != 0 || n != 0 {
			t.Errorf("a transaction that did not commit left: identifiers %v, profiles %v, members %v, links %v, events %v, journey %v, changes %v, page %v, count %d",
				ids, ps, ms, ls, evs, js, cs, page, n)
		}
		return nil
	})
	err := s.Update(context.Background(), func(ctx context.Context, tx graph.Tx) error {
		fresh, err := claimFresh(ctx, tx, "m1")
		if err == nil && !fresh {
			err = errors.New("m1 is still claimed by a transaction that did not commit")
		}
		if err != nil {
			return err
		}
		// Leave m1 unclaimed for the next check: roll back.
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Errorf("claiming m1 again: %v", err)
	}
}

// claimFresh claims one event id with no digest and reports whether it was
// new.
func claimFresh(ctx context.Context, tx graph.Tx, id string) (bool, error) {
	stored, err := tx.ClaimEvents(ctx, []graph.EventClaim{{ID: id}})
	if err != nil {
		return false, err
	}
	_, ok := stored[id]
	return !ok, nil
}

// A caller that gives up, during its transaction or before it starts, gets
// an error that says so (context.Canceled or DeadlineExceeded), and nothing
// of the transaction is committed.
func testCancel(t *testing.T, open Opener) {
	s := open(t)
	t.Run("during Update", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		err := s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
			err := writeEverything(ctx, tx)
			cancel() // the caller gives up once the work is done
			return err
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Update = %v, want context.Canceled", err)
		}
		checkNothingStored(t, s)
	})
	t.Run("deadline during Update", func(t *testing.T) {
		// fn's ctx may be one the store derived from the caller's (Neo4j's
		// ends too when Neo4j is found down): the deadline passes on the
		// caller's.
		caller := newExpiring()
		err := s.Update(caller, func(ctx context.Context, tx graph.Tx) error {
			err := writeEverything(ctx, tx)
			caller.expire() // the caller's deadline passes once the work is done
			return err
		})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Update = %v, want context.DeadlineExceeded", err)
		}
		checkNothingStored(t, s)
	})
	t.Run("before Update", func(t *testing.T) {
		for _, c := range []struct {
			ctx  func() (context.Context, context.CancelFunc)
			want error
		}{
			{func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx, cancel
			}, context.Canceled},
			{func() (context.Context, context.CancelFunc) {
				return context.WithDeadline(context.Background(), t0)
			}, context.DeadlineExceeded},
		} {
			ctx, cancel := c.ctx()
			err := s.Update(ctx, writeEverything)
			cancel()
			if !errors.Is(err, c.want) {
				t.Fatalf("Update with a done context = %v, want %v", err, c.want)
			}
			checkNothingStored(t, s)
			ctx, cancel = c.ctx()
			err = s.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
				_, err := tx.CountProfiles(ctx)
				return err
			})
			cancel()
			if !errors.Is(err, c.want) {
				t.Fatalf("View with a done context = %v, want %v", err, c.want)
			}
		}
	})
	t.Run("engine", func(t *testing.T) {
		e := graph.NewEngine(s, nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := e.ApplyBatch(ctx, []graph.Event{ev("m1", 1, user("U"), email("u@example.com"))}); !errors.Is(err, context.Canceled) {
			t.Fatalf("ApplyBatch with a cancelled context = %v, want context.Canceled", err)
		}
		if _, err := e.ProfileByIdentifier(ctx, user("U")); !errors.Is(err, context.Canceled) {
			t.Fatalf("ProfileByIdentifier with a cancelled context = %v, want context.Canceled", err)
		}
		checkNothingStored(t, s)
	})
}

// expiring is a context whose deadline passes when the test says so, not
// at a time: expire closes Done, and Err then says DeadlineExceeded.
type expiring struct {
	context.Context
	done chan struct{}
	once sync.Once
}

func newExpiring() *expiring {
	return &expiring{Context: context.Background(), done: make(chan struct{})}
}

func (c *expiring) expire() { c.once.Do(func() { close(c.done) }) }

func (c *expiring) Done() <-chan struct{} { return c.done }

func (c *expiring) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// lockThenWrite runs two transactions on one record: the first locks it,
// lets the second start, then writes; the second locks it and reads. If the
// lock holds, the second reads the first's write. The first waits a moment
// before writing so that a missing lock shows; a slow machine can only make
// the test pass without proving much, never fail wrongly.
func lockThenWrite(t *testing.T, s graph.Store, lock func(ctx context.Context, tx graph.Tx) error, write *graph.Write, read func(ctx context.Context, tx graph.Tx) (bool, error)) {
	t.Helper()
	ctx := context.Background()
	locked := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	var firstErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer once.Do(func() { close(locked) }) // never leave the second waiting
		firstErr = s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
			if err := lock(ctx, tx); err != nil {
				return err
			}
			once.Do(func() { close(locked) })
			time.Sleep(300 * time.Millisecond)
			return tx.Apply(ctx, write)
		})
	}()
	<-locked
	var sawWrite bool
	err := s.Update(ctx, func(ctx context.Context, tx graph.Tx) (err error) {
		sawWrite, err = read(ctx, tx)
		return err
	})
	wg.Wait()
	if firstErr != nil || err != nil {
		t.Fatalf("first: %v, second: %v", firstErr, err)
	}
	if !sawWrite {
		t.Fatal("the second transaction read the record before the first, holding its lock, had committed")
	}
}

// Once a transaction has locked an identifier or a profile, or claimed an
// event, another transaction locking or claiming it waits for the first to
// end and then sees what it wrote.
func testLocks(t *testing.T, open Opener) {
	s := open(t)
	e := graph.NewEngine(s, nil)
	res := apply(t, e, ev("m0", 1, user("A")))
	pid := res.Results[0].ProfileID
	seen := seenAt(t0, "user_id:A")
	for _, create := range []bool{false, true} {
		name := map[bool]string{false: "LockIdentifiers existing", true: "LockIdentifiers create"}[create]
		t.Run(name, func(t *testing.T) {
			trait := graph.TraitValue{Value: name, Source: "test", At: t0.Add(time.Hour)}
			lockThenWrite(t, s,
				func(ctx context.Context, tx graph.Tx) error {
					_, err := tx.LockIdentifiers(ctx, seen, create)
					return err
				},
				&graph.Write{At: t0, Traits: []graph.TraitUpdate{{Key: "user_id:A", Traits: map[string]graph.TraitValue{"step": trait}}}},
				func(ctx context.Context, tx graph.Tx) (bool, error) {
					ids, err := tx.LockIdentifiers(ctx, seen, create)
					return ids["user_id:A"].Traits["step"].Value == name, err
				})
		})
	}
	t.Run("LockIdentifiers new", func(t *testing.T) {
		// Two transactions create one identifier: the second finds the
		// first's, with the first's profile.
		fresh := seenAt(t0, "user_id:N")
		lockThenWrite(t, s,
			func(ctx context.Context, tx graph.Tx) error {
				_, err := tx.LockIdentifiers(ctx, fresh, true)
				return err
			},
			&graph.Write{At: t0, PutProfiles: []graph.Profile{{ID: "pn", CreatedAt: t0, UpdatedAt: t0, Size: 1, Counts: map[string]int{graph.TypeUserID: 1}}},
				Assign: []graph.Assignment{{Key: "user_id:N", ProfileID: "pn"}}},
			func(ctx context.Context, tx graph.Tx) (bool, error) {
				ids, err := tx.LockIdentifiers(ctx, fresh, true)
				return ids["user_id:N"].ProfileID == "pn", err
			})
	})
	t.Run("LockProfiles", func(t *testing.T) {
		lockThenWrite(t, s,
			func(ctx context.Context, tx graph.Tx) error {
				_, err := tx.LockProfiles(ctx, []string{pid})
				return err
			},
			&graph.Write{At: t0, PutProfiles: []graph.Profile{{ID: pid, CreatedAt: t0, UpdatedAt: t0.Add(time.Hour), Size: 1, Counts: map[string]int{graph.TypeUserID: 1}}}},
			func(ctx context.Context, tx graph.Tx) (bool, error) {
				ps, err := tx.LockProfiles(ctx, []string{pid})
				return ps[pid].UpdatedAt.Equal(t0.Add(time.Hour)), err
			})
	})
	t.Run("ClaimEvents", func(t *testing.T) {
		x := ev("m1", 1, user("A"))
		x.Keys = []string{"user_id:A"}
		lockThenWrite(t, s,
			func(ctx context.Context, tx graph.Tx) error {
				fresh, err := claimFresh(ctx, tx, "m1")
				if err == nil && !fresh {
					err = errors.New("first claim of m1 not fresh")
				}
				if err == nil {
					_, err = tx.LockIdentifiers(ctx, seen, true)
				}
				return err
			},
			&graph.Write{At: t0, Events: []graph.Event{x}},
			func(ctx context.Context, tx graph.Tx) (bool, error) {
				fresh, err := claimFresh(ctx, tx, "m1")
				return !fresh, err
			})
		view(t, s, func(ctx context.Context, tx graph.ReadTx) error {
			evs, err := tx.Events(ctx, []string{"m1"})
			if err != nil {
				return err
			}
			if got := evs["m1"]; got.Type != "track" || !slices.Equal(got.Keys, []string{"user_id:A"}) || !got.Timestamp.Equal(at(1)) {
				t.Errorf("stored event = %+v", got)
			}
			return nil
		})
	})
}

// Events of one person come from two identifiers, some from both, many at
// the same instant; paging by cursor returns each exactly once, in journey
// order, whatever the page size and filter.
func testJourneyPagingAcrossMembers(t *testing.T, open Opener) {
	e := newEngine(t, open)
	type sent struct {
		id   string
		at   time.Time
		typ  string
		keys int // 1: U only, 2: A only, 3: both
	}
	var all []sent
	var evs []graph.Event
	for i := 0; i < 90; i++ {
		x := sent{id: fmt.Sprintf("ev-%03d", (i*37)%90), at: t0.Add(time.Duration(i/4) * time.Second), typ: "track", keys: i%3 + 1}
		if i%5 == 0 {
			x.typ = "page"
		}
		all = append(all, x)
		var refs []graph.IdentifierRef
		if x.keys&1 != 0 {
			refs = append(refs, user("U"))
		}
		if x.keys&2 != 0 {
			refs = append(refs, anon("A"))
		}
		evs = append(evs, graph.Event{ID: x.id, Type: x.typ, Source: "test", Timestamp: x.at, Identifiers: refs})
	}
	// Link the two identifiers first so every event lands in one profile.
	apply(t, e, ev("link", -60, anon("A"), user("U")))
	apply(t, e, evs...)
	all = append(all, sent{id: "link", at: at(-60), typ: "track", keys: 3})
	p := profileOf(t, e, anon("A"))
	newestFirst := func(a, b sent) int {
		if c := b.at.Compare(a.at); c != 0 {
			return c
		}
		return cmp.Compare(b.id, a.id)
	}
	tests := []struct {
		name string
		q    graph.JourneyQuery
		keep func(sent) bool
	}{
		{"everything", graph.JourneyQuery{}, func(sent) bool { return true }},
		{"window", graph.JourneyQuery{From: t0.Add(3 * time.Second), To: t0.Add(17 * time.Second)},
			func(x sent) bool { return !x.at.Before(t0.Add(3*time.Second)) && x.at.Before(t0.Add(17*time.Second)) }},
		{"type", graph.JourneyQuery{Types: []string{"page"}}, func(x sent) bool { return x.typ == "page" }},
	}
	for _, tc := range tests {
		var want []string
		kept := slices.DeleteFunc(slices.Clone(all), func(x sent) bool { return !tc.keep(x) })
		slices.SortFunc(kept, newestFirst)
		for _, x := range kept {
			want = append(want, x.id)
		}
		for _, limit := range []int{1, 7, 500} {
			q := tc.q
			q.Limit = limit
			if got := journey(t, e, p.ID, q); !slices.Equal(got, want) {
				t.Errorf("%s by pages of %d =\n%v\nwant\n%v", tc.name, limit, got, want)
			}
		}
	}
	js, err := e.Journeys(context.Background(), []string{p.ID}, graph.JourneyQuery{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	wantKeys := map[int][]string{1: {"user_id:U"}, 2: {"anonymous_id:A"}, 3: {"anonymous_id:A", "user_id:U"}}
	byID := map[string]sent{}
	for _, x := range all {
		byID[x.id] = x
	}
	for _, x := range js[p.ID] {
		if got := slices.Sorted(slices.Values(x.Keys)); !slices.Equal(got, wantKeys[byID[x.ID].keys]) {
			t.Errorf("event %s came back with keys %v, want %v", x.ID, got, wantKeys[byID[x.ID].keys])
		}
	}
}

// Erasing an identifier takes its edges and the events only it carried;
// events it shared stay, no longer naming it, with their properties.
func testErasure(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	e := graph.NewEngine(s, nil)
	shared := ev("shared", 1, anon("A"), user("U"))
	shared.Properties = map[string]any{"big": 12345678901234567890.0, "n": 1.5, "path": "/x"}
	if res := apply(t, e,
		ev("only-a", 0, anon("A")),
		shared,
		ev("only-u", 2, user("U")),
		ev("refused", 3, user("V"), anon("A")), // a second user id: refused
	); res.Stored != 4 {
		t.Fatalf("stored %d of 4: %+v", res.Stored, res.Results)
	}
	if _, err := e.RemoveIdentifier(ctx, anon("A"), "erasure request"); err != nil {
		t.Fatal(err)
	}
	view(t, s, func(ctx context.Context, tx graph.ReadTx) error {
		evs, err := tx.Events(ctx, []string{"only-a", "shared", "only-u", "refused"})
		if err != nil {
			return err
		}
		if _, ok := evs["only-a"]; ok {
			t.Error("an event carried only by the erased identifier survived")
		}
		if got := evs["shared"].Keys; !slices.Equal(got, []string{"user_id:U"}) {
			t.Errorf("shared event keys = %v, want [user_id:U]", got)
		}
		if got, want := evs["shared"].Properties, map[string]any{"big": 12345678901234567890.0, "n": 1.5, "path": "/x"}; !reflect.DeepEqual(got, want) {
			t.Errorf("shared event properties = %v, want %v", got, want)
		}
		if got := evs["refused"].Keys; !slices.Equal(got, []string{"user_id:V"}) {
			t.Errorf("refused event keys = %v, want [user_id:V]", got)
		}
		keys := []string{"anonymous_id:A", "user_id:U", "user_id:V"}
		ls, err := tx.Links(ctx, keys)
		if err != nil {
			return err
		}
		rs, err := tx.Rejected(ctx, keys)
		if err != nil {
			return err
		}
		if len(ls) != 0 || len(rs) != 0 {
			t.Errorf("after erasure: links %v, refusals %v; want none", ls, rs)
		}
		ids, err := tx.Identifiers(ctx, keys)
		if err != nil {
			return err
		}
		if got := slices.Sorted(maps.Keys(ids)); !slices.Equal(got, []string{"user_id:U", "user_id:V"}) {
			t.Errorf("identifiers after erasure = %v, want [user_id:U user_id:V]", got)
		}
		n, err := tx.CountProfiles(ctx)
		if err != nil {
			return err
		}
		if n != 2 {
			t.Errorf("live profiles = %d, want 2", n)
		}
		return nil
	})
	if got := journey(t, e, profileOf(t, e, user("U")).ID, graph.JourneyQuery{}); !slices.Equal(got, []string{"only-u", "shared"}) {
		t.Errorf("journey after erasure = %v, want [only-u shared]", got)
	}
}

// Every read of the engine answers the same when the store runs a read
// transaction's function twice (see RetryViews) as when it runs it once:
// each caller starts afresh in each run.
func testViewRetried(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	once, twice := graph.NewEngine(s, nil), graph.NewEngine(retryingStore{s}, nil)
	apply(t, once,
		ev("e1", 1, user("A"), device("D"), email("a@example.com")),
		ev("e2", 2, user("B"), device("D")), // refused: two user ids
		ev("e3", 3, email("a@example.com"), anon("X")),
		ev("e4", 4, anon("Y")),
	)
	py := profileOf(t, once, anon("Y"))
	apply(t, once, ev("e5", 5, anon("Y"), anon("X"))) // merges Y's profile into A's
	pa, pb := profileOf(t, once, user("A")), profileOf(t, once, user("B"))
	pids := []string{pa.ID, pb.ID, py.ID, "p_missing"}
	refs := []graph.IdentifierRef{user("A"), anon("Y"), user("B"), user("nobody")}

	// Each read, with a hand-worked check of its answer on one run.
	reads := []struct {
		name  string
		read  func(e *graph.Engine) (any, error)
		check func(got any) string
	}{
		{"ExplainLink linked", func(e *graph.Engine) (any, error) { return e.ExplainLink(ctx, user("A"), anon("Y")) },
			func(got any) string {
				if ex := got.(graph.Explanation); !ex.Linked || len(ex.Path) != 3 || len(ex.Rejected) != 0 {
					return "want linked by a path of 3 links"
				}
				return ""
			}},
		{"ExplainLink refused", func(e *graph.Engine) (any, error) { return e.ExplainLink(ctx, user("A"), user("B")) },
			func(got any) string {
				if ex := got.(graph.Explanation); ex.Linked || len(ex.Path) != 0 || len(ex.Rejected) != 1 {
					return "want not linked, with one refusal"
				}
				return ""
			}},
		{"IdentityGraph", func(e *graph.Engine) (any, error) { return e.IdentityGraph(ctx, pa.ID) },
			func(got any) string {
				if g := got.(graph.GraphView); len(g.Nodes) != 6 || len(g.Links) != 4 || len(g.Rejected) != 1 {
					return "want 6 nodes (5 inside, 1 outside), 4 links, 1 refusal"
				}
				return ""
			}},
		{"ProfilesByIdentifiers", func(e *graph.Engine) (any, error) { return e.ProfilesByIdentifiers(ctx, refs) },
			func(got any) string {
				if m := got.(map[graph.IdentifierRef]graph.Profile); len(m) != 3 || m[anon("Y")].ID != pa.ID {
					return "want 3 profiles, Y's redirected to A's"
				}
				return ""
			}},
		{"LookupProfiles", func(e *graph.Engine) (any, error) {
			ps, ms, err := e.LookupProfiles(ctx, refs)
			return []any{ps, ms}, err
		}, func(got any) string {
			if ms := got.([]any)[1].(map[string][]graph.Identifier); len(ms) != 2 || len(ms[pa.ID]) != 5 || len(ms[pb.ID]) != 1 {
				return "want A's 5 members and B's 1"
			}
			return ""
		}},
		{"ProfilesByIDs", func(e *graph.Engine) (any, error) { return e.ProfilesByIDs(ctx, pids) },
			func(got any) string {
				if m := got.(map[string]graph.Profile); len(m) != 3 {
					return "want 3 of 4 ids found"
				}
				return ""
			}},
		{"Members", func(e *graph.Engine) (any, error) { return e.Members(ctx, pids) },
			func(got any) string {
				if m := got.(map[string][]graph.Identifier); len(m[pa.ID]) != 5 {
					return "want A's 5 members"
				}
				return ""
			}},
		{"Journeys", func(e *graph.Engine) (any, error) {
			return e.Journeys(ctx, pids, graph.JourneyQuery{Limit: 10})
		}, func(got any) string {
			// e2 is BY device D, in A's profile, and user B.
			if js := got.(map[string][]graph.Event); len(js[pa.ID]) != 5 || len(js[pb.ID]) != 1 {
				return "want A's journey e5 e4 e3 e2 e1 and B's e2"
			}
			return ""
		}},
		{"History", func(e *graph.Engine) (any, error) { return e.History(ctx, pids) },
			func(got any) string {
				if h := got.(map[string][]graph.ProfileChange); len(h[pa.ID]) != 1 || len(h[pids[2]]) != 1 {
					return "want one merge, in A's history and Y's"
				}
				return ""
			}},
		{"Profiles", func(e *graph.Engine) (any, error) { return e.Profiles(ctx, graph.PageQuery{Limit: 1}) },
			func(got any) string {
				if p := got.(graph.ProfilePage); len(p.Profiles) != 1 || p.Total != 2 || !p.HasNext || p.HasPrevious {
					return "want 1 of 2 profiles, with a next page"
				}
				return ""
			}},
		{"Events", func(e *graph.Engine) (any, error) { return e.Events(ctx, []string{"e1", "e5", "nope"}) },
			func(got any) string {
				if m := got.(map[string]graph.Event); len(m) != 2 || len(m["e1"].Keys) != 3 {
					return "want e1 with 3 keys and e5"
				}
				return ""
			}},
	}
	for _, r := range reads {
		want, err := r.read(once)
		if err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		if msg := r.check(want); msg != "" {
			t.Fatalf("%s = %+v: %s", r.name, want, msg)
		}
		got, err := r.read(twice)
		if err != nil {
			t.Fatalf("%s, run twice: %v", r.name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s, run twice =\n%+v\nrun once =\n%+v", r.name, got, want)
		}
	}
	// Errors are the same too.
	if _, err := twice.ExplainLink(ctx, user("A"), user("nobody")); graph.ErrorCode(err) != graph.ENOTFOUND {
		t.Errorf("ExplainLink of an unknown identifier, run twice: %v, want %s", err, graph.ENOTFOUND)
	}
	if _, err := twice.IdentityGraph(ctx, "p_missing"); graph.ErrorCode(err) != graph.ENOTFOUND {
		t.Errorf("IdentityGraph of an unknown profile, run twice: %v, want %s", err, graph.ENOTFOUND)
	}
}

// An event shared by two people shows its properties and traits only to
// the one holding its highest-priority identifier. Erasing that person
// takes them along: the event stays in the other's journey without
// payload, rather than showing her the erased person's. Erasing
// one identifier of a person whose other identifier is next on the event
// leaves the payload where it was shown. Worked by hand: V (user_id)
// outranks A (anonymous_id); U and A are one profile, V another.
func testErasureTakesSharedPayload(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	e := graph.NewEngine(s, nil)
	withPayload := func(x graph.Event, total float64) graph.Event {
		x.Properties = map[string]any{"total": total, "sku": "X1"}
		x.Traits = map[string]any{"plan": "gold"}
		return x
	}
	if res := apply(t, e,
		withPayload(ev("ua", 1, anon("A"), user("U")), 10),
		withPayload(ev("va", 2, user("V"), anon("A")), 20), // a second user id: refused, shared
	); res.Stored != 2 {
		t.Fatalf("stored %d of 2: %+v", res.Stored, res.Results)
	}
	pu, pv := profileOf(t, e, user("U")), profileOf(t, e, user("V"))
	if pu.ID == pv.ID {
		t.Fatalf("U and V are one profile %s: the test needs two", pu.ID)
	}
	payloads := func(pid string) map[string]string {
		t.Helper()
		m, err := e.Journeys(ctx, []string{pid}, graph.JourneyQuery{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, x := range m[pid] {
			out[x.ID] = fmt.Sprintf("shared=%v %v %v", x.Shared, x.Properties, x.Traits)
		}
		return out
	}
	const full, none = "shared=false map[sku:X1 total:10] map[plan:gold]", "shared=true map[] map[]"
	if got, want := payloads(pu.ID), map[string]string{"ua": full, "va": none}; !maps.Equal(got, want) {
		t.Fatalf("U's journey before = %v, want %v", got, want)
	}

	// V's person is erased: "va" stays in U's journey, A's alone now,
	// without V's payload.
	if _, err := e.ForgetProfile(ctx, pv.ID, "erasure request", nil); err != nil {
		t.Fatal(err)
	}
	const emptied = "shared=false map[] map[]"
	if got, want := payloads(pu.ID), map[string]string{"ua": full, "va": emptied}; !maps.Equal(got, want) {
		t.Errorf("U's journey after V's erasure = %v, want %v", got, want)
	}
	view(t, s, func(ctx context.Context, tx graph.ReadTx) error {
		evs, err := tx.Events(ctx, []string{"va"})
		if err != nil {
			return err
		}
		if x := evs["va"]; len(x.Properties) != 0 || len(x.Traits) != 0 || !slices.Equal(x.Keys, []string{"anonymous_id:A"}) {
			t.Errorf("stored va after V's erasure: keys %v, properties %v, traits %v; want [anonymous_id:A] and no payload", x.Keys, x.Properties, x.Traits)
		}
		return nil
	})

	// U alone is erased: A, next on "ua", is the same person's, so the
	// payload stays hers.
	if _, err := e.ForgetIdentifier(ctx, user("U"), "erasure request", nil); err != nil {
		t.Fatal(err)
	}
	pa := profileOf(t, e, anon("A"))
	if got, want := payloads(pa.ID), map[string]string{"ua": full, "va": emptied}; !maps.Equal(got, want) {
		t.Errorf("A's journey after U's erasure = %v, want %v", got, want)
	}
}
