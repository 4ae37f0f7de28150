package privacy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func event(id string, at time.Time, props map[string]any, keys ...string) graph.Event {
	e := graph.Event{ID: id, Type: "track", Name: "Tick", Channel: "web", Source: "test", Timestamp: at, ReceivedAt: t0, Properties: props}
	for _, k := range keys {
		e.Identifiers = append(e.Identifiers, graph.SplitKey(k))
	}
	return e
}

func apply(t *testing.T, eng *graph.Engine, evs ...graph.Event) {
	t.Helper()
	for len(evs) > 0 {
		n := min(len(evs), 200)
		res, err := eng.ApplyBatch(context.Background(), evs[:n])
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res.Results {
			if r.Status != graph.StatusStored {
				t.Fatalf("event %s: %+v", evs[i].ID, r)
			}
		}
		evs = evs[n:]
	}
}

func profileOf(t *testing.T, eng *graph.Engine, key string) string {
	t.Helper()
	p, err := eng.ProfileByIdentifier(context.Background(), graph.SplitKey(key))
	if err != nil {
		t.Fatal(err)
	}
	return p.ID
}

// collect runs an export and returns its records by kind.
func collect(t *testing.T, ex *privacy.Export) map[string][]any {
	t.Helper()
	out := map[string][]any{}
	err := ex.Write(context.Background(), func(kind string, v any) error {
		out[kind] = append(out[kind], v)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// An export pages through every event of a profile, more than two pages'
// worth, newest first (ties by id, descending), each with its payload, and
// none of another person's; an event stored after Prepare is neither
// counted nor written.
func TestExportPagesEveryEvent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		eng := graph.NewEngine(st, nil)
		ctx := context.Background()
		const n = 2*privacy.ExportPage + 7
		var evs []graph.Event
		for i := 0; i < n; i++ {
			// Pairs of events share a timestamp, so paging must break ties.
			evs = append(evs, event(fmt.Sprintf("test/e%04d", i), t0.Add(time.Duration(i/2)*time.Second), map[string]any{"i": float64(i)}, "user_id:paged"))
		}
		evs = append(evs, event("test/other", t0.Add(time.Hour), map[string]any{"i": -1.0}, "user_id:someone-else"))
		apply(t, eng, evs...)
		pid := profileOf(t, eng, "user_id:paged")

		x := privacy.NewExporter(eng)
		ex, err := x.Prepare(ctx, pid)
		if err != nil {
			t.Fatal(err)
		}
		want := privacy.Counts{Identifiers: 1, Events: n}
		if ex.Counts != want {
			t.Fatalf("counts %+v, want %+v", ex.Counts, want)
		}
		// Stored after the count: left out of this export.
		apply(t, eng, event("test/late", t0.Add(2*time.Hour), map[string]any{"i": -2.0}, "user_id:paged"))
		got := collect(t, ex)
		if len(got[privacy.KindEvent]) != n {
			t.Fatalf("%d events written, want %d", len(got[privacy.KindEvent]), n)
		}
		for j, v := range got[privacy.KindEvent] {
			i := n - 1 - j // newest first; within a timestamp the greater id first
			e := v.(privacy.ExportEvent)
			if e.ID != fmt.Sprintf("test/e%04d", i) || !reflect.DeepEqual(e.Properties, map[string]any{"i": int64(i)}) ||
				!e.Timestamp.Equal(t0.Add(time.Duration(i/2)*time.Second)) ||
				!reflect.DeepEqual(e.Identifiers, []graph.IdentifierRef{{Type: "user_id", Value: "paged"}}) {
				t.Fatalf("event %d: %+v, want test/e%04d with i=%d", j, e, i, i)
			}
		}
		// A fresh export sees the late event.
		counts, err := x.Export(ctx, pid, func(string, any) error { return nil })
		if err != nil || counts.Events != n+1 {
			t.Fatalf("second export: %+v, %v; want %d events", counts, err, n+1)
		}
		// Stored after the count with a timestamp among the counted ones
		// (a client's clock, a replayed backlog): as many events are found,
		// but not the same, so the export fails rather than drop the
		// oldest counted one for it.
		if ex, err = x.Prepare(ctx, pid); err != nil {
			t.Fatal(err)
		}
		apply(t, eng, event("test/backdated", t0.Add(10*time.Second+time.Millisecond), map[string]any{"i": -3.0}, "user_id:paged"))
		if err := ex.Write(ctx, func(string, any) error { return nil }); graph.ErrorCode(err) != graph.ECONFLICT {
			t.Fatalf("Write after a back-dated event: %v, want ECONFLICT", err)
		}
	})
}

// The history of a profile holds the merges of the profiles merged into
// it, transitively, oldest first; any of their ids answers for it. An
// unknown id is ENOTFOUND, an empty one EINVALID.
func TestExportHistoryAndRedirects(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		eng := graph.NewEngine(st, nil)
		ctx := context.Background()
		apply(t, eng, event("test/h1", t0, nil, "anonymous_id:a1", "anonymous_id:a2"))
		x := profileOf(t, eng, "anonymous_id:a1")
		apply(t, eng, event("test/h2", t0.Add(time.Second), nil, "anonymous_id:a3"))
		y := profileOf(t, eng, "anonymous_id:a3")
		apply(t, eng, event("test/h3", t0.Add(2*time.Second), nil, "anonymous_id:a3", "anonymous_id:a1")) // y into x (x is larger)
		apply(t, eng, event("test/h4", t0.Add(3*time.Second), nil, "anonymous_id:a4", "anonymous_id:a5", "anonymous_id:a6", "anonymous_id:a7"))
		z := profileOf(t, eng, "anonymous_id:a4")
		apply(t, eng, event("test/h5", t0.Add(4*time.Second), nil, "anonymous_id:a4", "anonymous_id:a1")) // x (3) into z (4)
		if profileOf(t, eng, "anonymous_id:a1") != z {
			t.Fatal("a1 did not end in a4's profile")
		}
		exp := privacy.NewExporter(eng)
		for _, asked := range []string{z, x, y} {
			ex, err := exp.Prepare(ctx, asked)
			if err != nil {
				t.Fatalf("export of %s: %v", asked, err)
			}
			if ex.Profile.ID != z || ex.RequestedID != asked {
				t.Errorf("export of %s answers for %s, want %s", asked, ex.Profile.ID, z)
			}
			// Links: a1-a2 (h1), a1-a3 (h3), a4 with a5, a6 and a7 (h4),
			// a1-a4 (h5).
			want := privacy.Counts{Identifiers: 7, Events: 5, History: 2, Links: 6}
			if ex.Counts != want {
				t.Errorf("export of %s: counts %+v, want %+v", asked, ex.Counts, want)
			}
			got := collect(t, ex)
			var hist [][2]string
			for _, v := range got[privacy.KindHistory] {
				c := v.(privacy.ExportChange)
				if c.Change != graph.ChangeMerge || c.At.IsZero() {
					t.Errorf("history entry %+v", c)
				}
				hist = append(hist, [2]string{c.From, c.Into})
			}
			if want := [][2]string{{y, x}, {x, z}}; !reflect.DeepEqual(hist, want) {
				t.Errorf("history %v, want %v", hist, want)
			}
		}
		for _, c := range []struct{ id, code string }{{"p_nobody", graph.ENOTFOUND}, {"", graph.EINVALID}} {
			if _, err := exp.Prepare(ctx, c.id); graph.ErrorCode(err) != c.code {
				t.Errorf("export of %q: %v, want %s", c.id, err, c.code)
			}
		}
	})
}

// An export lists the links between the profile's identifiers, each with
// how often events carried the pair and the first event that did, ordered
// by their keys, and the profile's stored computed values by name.
func TestExportLinksAndComputed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		eng := graph.NewEngine(st, nil)
		ctx := context.Background()
		apply(t, eng,
			event("test/x1", t0, nil, "user_id:u1", "email:ann@example.com"),
			event("test/x2", t0.Add(time.Second), nil, "user_id:u1", "email:ann@example.com"),
			event("test/x3", t0.Add(2*time.Second), nil, "user_id:u1", "device_id:d1"),
			event("test/x4", t0, nil, "user_id:u2", "email:bob@example.com"),
		)
		pid := profileOf(t, eng, "user_id:u1")
		as, ok := st.(audience.Store)
		if !ok {
			t.Fatalf("%T keeps no computed values", st)
		}
		expires := t0.Add(24 * time.Hour)
		storetest.Must(t, as.PutComputedValues(ctx, []audience.ComputedValue{
			{ProfileID: pid, Name: "visits_7d", Value: int64(3), ComputedAt: t0, Expires: expires},
			{ProfileID: pid, Name: "favourite", Value: "shoes", ComputedAt: t0},
			{ProfileID: profileOf(t, eng, "user_id:u2"), Name: "favourite", Value: "hats", ComputedAt: t0},
		}))
		ex, err := privacy.NewExporter(eng).WithComputed(audience.ComputedOf(as)).Prepare(ctx, pid)
		if err != nil {
			t.Fatal(err)
		}
		if want := (privacy.Counts{Identifiers: 3, Events: 3, Links: 2, Computed: 2}); ex.Counts != want {
			t.Fatalf("counts %+v, want %+v", ex.Counts, want)
		}
		got := collect(t, ex)
		ref := func(k string) graph.IdentifierRef { return graph.SplitKey(k) }
		wantLinks := []any{
			privacy.ExportLink{Kind: privacy.KindLink, A: ref("device_id:d1"), B: ref("user_id:u1"), Source: "test", Evidence: "test/x3",
				FirstSeen: t0.Add(2 * time.Second), LastSeen: t0.Add(2 * time.Second), Count: 1},
			privacy.ExportLink{Kind: privacy.KindLink, A: ref("email:ann@example.com"), B: ref("user_id:u1"), Source: "test", Evidence: "test/x1",
				FirstSeen: t0, LastSeen: t0.Add(time.Second), Count: 2},
		}
		if !reflect.DeepEqual(got[privacy.KindLink], wantLinks) {
			t.Errorf("links %+v, want %+v", got[privacy.KindLink], wantLinks)
		}
		wantComputed := []any{
			privacy.ExportComputed{Kind: privacy.KindComputed, Name: "favourite", Value: "shoes", ComputedAt: t0},
			privacy.ExportComputed{Kind: privacy.KindComputed, Name: "visits_7d", Value: int64(3), ComputedAt: t0, Expires: &expires},
		}
		if len(got[privacy.KindComputed]) != 2 {
			t.Fatalf("computed %+v, want %+v", got[privacy.KindComputed], wantComputed)
		}
		for i, v := range got[privacy.KindComputed] {
			g, w := v.(privacy.ExportComputed), wantComputed[i].(privacy.ExportComputed)
			if g.Name != w.Name || fmt.Sprint(g.Value) != fmt.Sprint(w.Value) || !g.ComputedAt.Equal(w.ComputedAt) ||
				(g.Expires == nil) != (w.Expires == nil) || (g.Expires != nil && !g.Expires.Equal(*w.Expires)) {
				t.Errorf("computed %d: %+v, want %+v", i, g, w)
			}
		}
	})
}

// A profile merged into Ann and then split off again by an unlink is no
// longer merged into her; when it later merges into another person
// (Carol), that merge, with its reason, is Carol's history, not Ann's.
// README (Data export): "the profile's history (every merge and split of
// it and, transitively, of the profiles merged into it)"; nothing of
// another person belongs in Ann's export.
func TestExportHistoryEndsWhereAMergedProfileLeft(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		eng := graph.NewEngine(st, nil)
		ctx := context.Background()
		apply(t, eng, event("test/r1", t0, nil, "anonymous_id:a2"))
		b := profileOf(t, eng, "anonymous_id:a2")
		apply(t, eng, event("test/r2", t0.Add(time.Second), nil, "user_id:u-ann", "anonymous_id:a1"))
		ann := profileOf(t, eng, "user_id:u-ann")
		apply(t, eng, event("test/r3", t0.Add(2*time.Second), nil, "user_id:u-ann", "anonymous_id:a2"))
		if profileOf(t, eng, "anonymous_id:a2") != ann {
			t.Fatal("a2 was not merged into Ann")
		}
		if _, err := eng.UnlinkIdentifiers(ctx, graph.SplitKey("user_id:u-ann"), graph.SplitKey("anonymous_id:a2"), "not the same browser"); err != nil {
			t.Fatal(err)
		}
		if got := profileOf(t, eng, "anonymous_id:a2"); got != b {
			t.Fatalf("a2 is in %s after the unlink, want its old profile %s back", got, b)
		}
		apply(t, eng, event("test/r4", t0.Add(3*time.Second), nil, "user_id:u-carol", "email:carol@example.com"))
		carol := profileOf(t, eng, "user_id:u-carol")
		if _, err := eng.MergeProfiles(ctx, []string{carol, b}, "same person as carol@example.com"); err != nil {
			t.Fatal(err)
		}
		if profileOf(t, eng, "anonymous_id:a2") != carol {
			t.Fatal("a2 did not end in Carol's profile")
		}

		ex, err := privacy.NewExporter(eng).Prepare(ctx, ann)
		if err != nil {
			t.Fatal(err)
		}
		got := collect(t, ex)
		var bad []string
		for _, v := range got[privacy.KindHistory] {
			c := v.(privacy.ExportChange)
			j, _ := json.Marshal(c)
			t.Logf("Ann's history: %s", j)
			if c.From == carol || c.Into == carol || strings.Contains(c.Reason, "carol") {
				bad = append(bad, string(j))
			}
		}
		if len(bad) > 0 {
			t.Errorf("Ann's export (%s) holds Carol's (%s) history: %s", ann, carol, strings.Join(bad, "; "))
		}
		if ex.Counts.History != 2 {
			t.Errorf("Ann's history count %d, want 2 (the merge of %s into her, the split)", ex.Counts.History, b)
		}
	})
}
