package embedded

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/graphtest"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func open(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func event(id string, at time.Time, refs ...graph.IdentifierRef) graph.Event {
	return graph.Event{ID: id, Type: "track", Name: "Viewed", Channel: "web", Source: "test", Timestamp: at, Identifiers: refs}
}

func user(v string) graph.IdentifierRef { return graph.IdentifierRef{Type: graph.TypeUserID, Value: v} }
func anon(v string) graph.IdentifierRef {
	return graph.IdentifierRef{Type: graph.TypeAnonymousID, Value: v}
}

func applyBatch(t testing.TB, e *graph.Engine, evs ...graph.Event) {
	t.Helper()
	res, err := e.ApplyBatch(context.Background(), evs)
	if err != nil {
		t.Fatalf("ApplyBatch: %v", err)
	}
	if res.Stored != len(evs) {
		t.Fatalf("stored %d of %d: %+v", res.Stored, len(evs), res.Results)
	}
}

// write applies w in one Update.
func write(t *testing.T, s *Store, w *graph.Write) {
	t.Helper()
	err := s.Update(context.Background(), func(ctx context.Context, tx graph.Tx) error { return tx.Apply(ctx, w) })
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func view(t *testing.T, s *Store, fn func(ctx context.Context, tx graph.ReadTx) error) {
	t.Helper()
	if err := s.View(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	e := graph.NewEngine(s, nil)
	applyBatch(t, e,
		event("e1", t0, anon("A")),
		event("e2", t0.Add(time.Minute), anon("A"), user("U")),
		event("e3", t0.Add(2*time.Minute), user("V")),
	)
	before, err := e.ProfileByIdentifier(ctx, user("U"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir)
	e = graph.NewEngine(s, nil)
	after, err := e.ProfileByIdentifier(ctx, anon("A"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("after reopen profile = %+v, want %+v", after, before)
	}
	page, err := e.Profiles(ctx, graph.PageQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != 2 || len(page.Profiles) != 2 {
		t.Fatalf("after reopen %d profiles listed, total %d; want 2", len(page.Profiles), page.Total)
	}
	j, err := e.Journeys(ctx, []string{after.ID}, graph.JourneyQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := eventIDs(j[after.ID]); !reflect.DeepEqual(got, []string{"e2", "e1"}) {
		t.Fatalf("after reopen journey = %v", got)
	}
}

// childDirEnv makes the test binary a writer that acknowledges every commit
// on stdout until it is killed.
const childDirEnv = "CDP_EMBEDDED_KILL_CHILD_DIR"

func TestAcknowledgedWritesSurviveKill(t *testing.T) {
	if dir := os.Getenv(childDirEnv); dir != "" {
		killChild(t, dir)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcknowledgedWritesSurviveKill$")
	cmd.Env = append(os.Environ(), childDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	lines := bufio.NewScanner(out)
	for len(acked) < 25 && lines.Scan() {
		if id, ok := strings.CutPrefix(lines.Text(), "ack "); ok {
			acked = append(acked, id)
		}
	}
	_ = cmd.Process.Kill() // SIGKILL: no deferred Close runs in the child
	_ = cmd.Wait()
	if len(acked) < 25 {
		t.Fatalf("child acknowledged %d writes before stopping", len(acked))
	}
	s := open(t, dir)
	view(t, s, func(ctx context.Context, tx graph.ReadTx) error {
		ps, err := tx.Profiles(ctx, acked)
		if err != nil {
			return err
		}
		n, _ := tx.CountProfiles(ctx)
		if len(ps) != len(acked) || n < len(acked) {
			t.Fatalf("after kill -9: %d of %d acknowledged profiles found, count %d", len(ps), len(acked), n)
		}
		return nil
	})
}

func killChild(t *testing.T, dir string) {
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Bounded in case the parent dies without killing us.
	for i := 0; i < 100000; i++ {
		id := fmt.Sprintf("p%06d", i)
		w := &graph.Write{PutProfiles: []graph.Profile{{ID: id, CreatedAt: t0, UpdatedAt: t0, Size: 1}}}
		if err := s.Update(context.Background(), func(ctx context.Context, tx graph.Tx) error { return tx.Apply(ctx, w) }); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("ack %s\n", id)
	}
}

func TestOpenLockedFile(t *testing.T) {
	old := lockTimeout
	lockTimeout = 50 * time.Millisecond
	t.Cleanup(func() { lockTimeout = old })
	dir := t.TempDir()
	open(t, dir)
	// bbolt's flock belongs to the open file, so a second Open in this
	// process is refused just as another process would be.
	s, err := Open(dir)
	if err == nil {
		_ = s.Close(context.Background())
		t.Fatal("second Open of a locked file succeeded")
	}
	if want := "data dir " + dir + " is in use by another process"; !strings.Contains(err.Error(), want) {
		t.Fatalf("error = %q, want it to say %q", err, want)
	}
}

func TestOpenUnwritableDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plain-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{"under a file": filepath.Join(file, "data")}
	if os.Geteuid() != 0 { // root writes anywhere
		ro := filepath.Join(t.TempDir(), "ro")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		cases["read-only"] = ro
	}
	for name, dir := range cases {
		t.Run(name, func(t *testing.T) {
			s, err := Open(dir)
			if err == nil {
				_ = s.Close(context.Background())
				t.Fatalf("Open(%s) succeeded", dir)
			}
			if want := "data dir " + dir + " is not writable"; !strings.Contains(err.Error(), want) {
				t.Fatalf("error = %q, want it to say %q", err, want)
			}
		})
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping while open: %v", err)
	}
	info, err := s.Info(ctx)
	if err != nil || info.Kind != "embedded" || !strings.HasPrefix(info.Version, "bbolt 1.") {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); graph.ErrorCode(err) != graph.EUNAVAILABLE {
		t.Fatalf("Ping after Close = %v, want %s", err, graph.EUNAVAILABLE)
	}
	err = s.Update(ctx, func(ctx context.Context, tx graph.Tx) error { return nil })
	if graph.ErrorCode(err) != graph.EUNAVAILABLE {
		t.Fatalf("Update after Close = %v, want %s", err, graph.EUNAVAILABLE)
	}
}

func TestFailedUpdateRollsBack(t *testing.T) {
	s := open(t, t.TempDir())
	boom := fmt.Errorf("boom")
	err := s.Update(context.Background(), func(ctx context.Context, tx graph.Tx) error {
		if _, err := tx.LockIdentifiers(ctx, []graph.IdentifierSeen{{Key: "user_id:U", Type: "user_id", Value: "U", First: t0, Last: t0}}, true); err != nil {
			return err
		}
		if err := tx.Apply(ctx, &graph.Write{PutProfiles: []graph.Profile{{ID: "p1", Size: 1}}}); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("Update = %v, want fn's error", err)
	}
	view(t, s, func(ctx context.Context, tx graph.ReadTx) error {
		ids, _ := tx.Identifiers(ctx, []string{"user_id:U"})
		n, _ := tx.CountProfiles(ctx)
		if len(ids) != 0 || n != 0 {
			t.Fatalf("rolled back update left %d identifiers, %d profiles", len(ids), n)
		}
		return nil
	})
}

func eventIDs(evs []graph.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

// Events of one person come from two identifiers, some from both, many at
// the same instant; paging by cursor must return each exactly once, in
// journey order, whatever the page size.
func TestJourneyPagingAcrossMembers(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	e := graph.NewEngine(s, nil)
	var all []graph.Event
	for i := 0; i < 90; i++ {
		at := t0.Add(time.Duration(i/4) * time.Second) // four events per instant
		var refs []graph.IdentifierRef
		switch i % 3 {
		case 0:
			refs = []graph.IdentifierRef{user("U")}
		case 1:
			refs = []graph.IdentifierRef{anon("A")}
		default:
			refs = []graph.IdentifierRef{anon("A"), user("U")}
		}
		ev := event(fmt.Sprintf("ev-%03d", (i*37)%90), at, refs...)
		if i%5 == 0 {
			ev.Type = "page"
		}
		all = append(all, ev)
	}
	// Link the two identifiers first so every event lands in one profile.
	applyBatch(t, e, event("link", t0.Add(-time.Hour), anon("A"), user("U")))
	applyBatch(t, e, all...)
	p, err := e.ProfileByIdentifier(ctx, anon("A"))
	if err != nil {
		t.Fatal(err)
	}
	all = append(all, event("link", t0.Add(-time.Hour)))

	tests := []struct {
		name string
		q    graph.JourneyQuery
	}{
		{"everything", graph.JourneyQuery{}},
		{"window", graph.JourneyQuery{From: t0.Add(3 * time.Second), To: t0.Add(17 * time.Second)}},
		{"type", graph.JourneyQuery{Types: []string{"page"}}},
	}
	for _, tc := range tests {
		var want []graph.Event
		for _, ev := range all {
			if tc.q.Match(ev) {
				want = append(want, ev)
			}
		}
		graph.SortJourney(want)
		for _, limit := range []int{1, 7, 500} {
			t.Run(fmt.Sprintf("%s/limit %d", tc.name, limit), func(t *testing.T) {
				q := tc.q
				q.Limit = limit
				var got []graph.Event
				for pages := 0; ; pages++ {
					if pages > len(all) {
						t.Fatal("paging does not end")
					}
					j, err := e.Journeys(ctx, []string{p.ID}, q)
					if err != nil {
						t.Fatal(err)
					}
					page := j[p.ID]
					if len(page) > limit {
						t.Fatalf("page of %d events, limit %d", len(page), limit)
					}
					got = append(got, page...)
					if len(page) < limit {
						break
					}
					last := page[len(page)-1]
					q.After = &graph.JourneyCursor{Timestamp: last.Timestamp, ID: last.ID}
				}
				if g, w := eventIDs(got), eventIDs(want); !reflect.DeepEqual(g, w) {
					t.Fatalf("journey =\n%v\nwant\n%v", g, w)
				}
				for _, ev := range got {
					if len(ev.Keys) == 0 {
						t.Fatalf("event %s came back without its keys", ev.ID)
					}
				}
			})
		}
	}
}

// Times outside the range of UnixNano and before 1970 must still index in
// order.
func TestJourneyExtremeTimes(t *testing.T) {
	s := open(t, t.TempDir())
	times := []time.Time{
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1500, 6, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 1000, time.UTC),
		time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	w := &graph.Write{
		PutProfiles: []graph.Profile{{ID: "p", Size: 1}},
		Assign:      []graph.Assignment{{Key: "user_id:U", ProfileID: "p"}},
	}
	var want []string
	for i := len(times) - 1; i >= 0; i-- {
		want = append(want, fmt.Sprintf("e%d", i))
	}
	for i, at := range times {
		w.Events = append(w.Events, graph.Event{ID: fmt.Sprintf("e%d", i), Type: "track", Timestamp: at, Keys: []string{"user_id:U"}})
	}
	err := s.Update(context.Background(), func(ctx context.Context, tx graph.Tx) error {
		if _, err := tx.LockIdentifiers(ctx, []graph.IdentifierSeen{{Key: "user_id:U", First: times[0], Last: times[5]}}, true); err != nil {
			return err
		}
		return tx.Apply(ctx, w)
	})
	if err != nil {
		t.Fatal(err)
	}
	view(t, s, func(ctx context.Context, tx graph.ReadTx) error {
		j, err := tx.Journeys(ctx, []string{"p"}, graph.JourneyQuery{Limit: 100})
		if err != nil {
			return err
		}
		if got := eventIDs(j["p"]); !reflect.DeepEqual(got, want) {
			t.Fatalf("journey = %v, want %v", got, want)
		}
		for i, ev := range j["p"] {
			if at := times[len(times)-1-i]; !ev.Timestamp.Equal(at) {
				t.Fatalf("event %s at %v, stored at %v", ev.ID, ev.Timestamp, at)
			}
		}
		j, err = tx.Journeys(ctx, []string{"p"}, graph.JourneyQuery{Limit: 100, From: times[2], To: times[4]})
		if err != nil {
			return err
		}
		if got := eventIDs(j["p"]); !reflect.DeepEqual(got, []string{"e3", "e2"}) {
			t.Fatalf("window journey = %v, want [e3 e2]", got)
		}
		return nil
	})
}

// Identifier values may hold \x00; one key's indexes must never answer for
// another key that starts with it.
func TestKeysThatPrefixOthers(t *testing.T) {
	s := open(t, t.TempDir())
	a, b, c := "anonymous_id:x", "anonymous_id:x\x00y", "anonymous_id:z"
	err := s.Update(context.Background(), func(ctx context.Context, tx graph.Tx) error {
		seen := []graph.IdentifierSeen{{Key: a, First: t0, Last: t0}, {Key: b, First: t0, Last: t0}, {Key: c, First: t0, Last: t0}}
		if _, err := tx.LockIdentifiers(ctx, seen, true); err != nil {
			return err
		}
		return tx.Apply(ctx, &graph.Write{
			PutProfiles: []graph.Profile{{ID: "p", Size: 1}, {ID: "p\x00q", Size: 2}},
			Assign:      []graph.Assignment{{Key: a, ProfileID: "p"}, {Key: b, ProfileID: "p\x00q"}, {Key: c, ProfileID: "p\x00q"}},
			PutLinks:    []graph.Link{{A: b, B: c, Count: 1}},
			Events:      []graph.Event{{ID: "e", Timestamp: t0, Keys: []string{b}}},
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	view(t, s, func(ctx context.Context, tx graph.ReadTx) error {
		if ls, _ := tx.Links(ctx, []string{a}); len(ls) != 0 {
			t.Fatalf("links of %q = %v", a, ls)
		}
		if ms, _ := tx.Members(ctx, []string{"p"}); len(ms["p"]) != 1 || ms["p"][0].Key != a {
			t.Fatalf("members of p = %v", ms["p"])
		}
		if j, _ := tx.Journeys(ctx, []string{"p"}, graph.JourneyQuery{Limit: 10}); len(j["p"]) != 0 {
			t.Fatalf("journey of p = %v", j["p"])
		}
		if j, _ := tx.Journeys(ctx, []string{"p\x00q"}, graph.JourneyQuery{Limit: 10}); len(j["p\x00q"]) != 1 {
			t.Fatalf("journey of p\\x00q = %v", j["p\x00q"])
		}
		return nil
	})
}

// Erasing an identifier takes its edges and the events only it carried;
// events it shared stay, no longer naming it.
func TestDeleteIdentifierErasesItsData(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	e := graph.NewEngine(s, nil)
	shared := event("shared", t0.Add(time.Minute), anon("A"), user("U"))
	shared.Properties = map[string]any{"big": 12345678901234567890.0, "n": 1.5}
	applyBatch(t, e,
		event("only-a", t0, anon("A")),
		shared,
		event("only-u", t0.Add(2*time.Minute), user("U")),
		event("refused", t0.Add(3*time.Minute), user("V"), anon("A")), // second user: refused
	)
	if _, err := e.RemoveIdentifier(ctx, anon("A"), "erasure request"); err != nil {
		t.Fatal(err)
	}
	view(t, s, func(ctx context.Context, tx graph.ReadTx) error {
		evs, err := tx.Events(ctx, []string{"only-a", "shared", "only-u", "refused"})
		if err != nil {
			return err
		}
		if _, ok := evs["only-a"]; ok {
			t.Fatal("event carried only by the erased identifier survived")
		}
		if got := evs["shared"].Keys; !reflect.DeepEqual(got, []string{"user_id:U"}) {
			t.Fatalf("shared event keys = %v", got)
		}
		if !reflect.DeepEqual(evs["shared"].Properties, shared.Properties) {
			t.Fatalf("shared event properties = %v, want %v", evs["shared"].Properties, shared.Properties)
		}
		if got := evs["refused"].Keys; !reflect.DeepEqual(got, []string{"user_id:V"}) {
			t.Fatalf("refused event keys = %v", got)
		}
		for _, k := range []string{"anonymous_id:A", "user_id:U", "user_id:V"} {
			if ls, _ := tx.Links(ctx, []string{k}); len(ls) != 0 {
				t.Fatalf("links of %s after erasure: %v", k, ls)
			}
			if rs, _ := tx.Rejected(ctx, []string{k}); len(rs) != 0 {
				t.Fatalf("refusals of %s after erasure: %v", k, rs)
			}
		}
		if ids, _ := tx.Identifiers(ctx, []string{"anonymous_id:A"}); len(ids) != 0 {
			t.Fatal("erased identifier is still stored")
		}
		if n, _ := tx.CountProfiles(ctx); n != 2 {
			t.Fatalf("live profiles = %d, want 2", n)
		}
		return nil
	})
	p, err := e.ProfileByIdentifier(ctx, user("U"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := e.Journeys(ctx, []string{p.ID}, graph.JourneyQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := eventIDs(j[p.ID]); !reflect.DeepEqual(got, []string{"only-u", "shared"}) {
		t.Fatalf("journey after erasure = %v", got)
	}
}

func TestLiveCountAndPages(t *testing.T) {
	s := open(t, t.TempDir())
	write(t, s, &graph.Write{PutProfiles: []graph.Profile{{ID: "a", Size: 1}, {ID: "b", Size: 1}, {ID: "c", Size: 1}, {ID: "d", Size: 1}}})
	// Overwriting a live profile must not count it twice.
	write(t, s, &graph.Write{PutProfiles: []graph.Profile{{ID: "a", Size: 2}, {ID: "b", MergedInto: "a"}}})
	write(t, s, &graph.Write{DeleteProfiles: []string{"d"}})
	view(t, s, func(ctx context.Context, tx graph.ReadTx) error {
		if n, _ := tx.CountProfiles(ctx); n != 2 {
			t.Fatalf("CountProfiles = %d, want 2", n)
		}
		tests := []struct {
			q    graph.PageQuery
			want []string
		}{
			{graph.PageQuery{Limit: 10}, []string{"a", "c"}},
			{graph.PageQuery{Limit: 1}, []string{"a"}},
			{graph.PageQuery{After: "a", Limit: 10}, []string{"c"}},
			{graph.PageQuery{After: "b", Before: "c", Limit: 10}, nil},
			{graph.PageQuery{Reverse: true, Limit: 1}, []string{"c"}},
			{graph.PageQuery{Reverse: true, Before: "c", Limit: 10}, []string{"a"}},
			{graph.PageQuery{Reverse: true, Before: "zz", Limit: 10}, []string{"c", "a"}},
		}
		for _, tc := range tests {
			ps, err := tx.ProfilesPage(ctx, tc.q)
			if err != nil {
				return err
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.ID)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ProfilesPage(%+v) = %v, want %v", tc.q, got, tc.want)
			}
		}
		return nil
	})
}

func TestChangesAndDeletedProfiles(t *testing.T) {
	s := open(t, t.TempDir())
	write(t, s, &graph.Write{
		PutProfiles: []graph.Profile{{ID: "a", Size: 1}, {ID: "b", MergedInto: "a"}, {ID: "c", Size: 1}},
		Changes: []graph.ProfileChange{
			{Kind: graph.ChangeSplit, From: "a", Into: "c", At: t0.Add(time.Minute)},
			{Kind: graph.ChangeMerge, From: "b", Into: "a", At: t0},
			{Kind: graph.ChangeMerge, From: "x", Into: "a", At: t0},
		},
	})
	kinds := func(cs []graph.ProfileChange) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.From+">"+c.Into)
		}
		return out
	}
	view(t, s, func(ctx context.Context, tx graph.ReadTx) error {
		cs, err := tx.Changes(ctx, []string{"c", "a", "b"})
		if err != nil {
			return err
		}
		if got, want := kinds(cs), []string{"b>a", "x>a", "a>c"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("Changes = %v, want %v", got, want)
		}
		return nil
	})
	write(t, s, &graph.Write{DeleteProfiles: []string{"c"}})
	view(t, s, func(ctx context.Context, tx graph.ReadTx) error {
		cs, err := tx.Changes(ctx, []string{"a", "c"})
		if err != nil {
			return err
		}
		if got, want := kinds(cs), []string{"b>a", "x>a"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("Changes after deleting c = %v, want %v", got, want)
		}
		if ps, _ := tx.Profiles(ctx, []string{"c"}); len(ps) != 0 {
			t.Fatal("deleted profile is still stored")
		}
		return nil
	})
}

func TestLinksOverwrite(t *testing.T) {
	s := open(t, t.TempDir())
	write(t, s, &graph.Write{PutLinks: []graph.Link{{A: "k:2", B: "k:1", Source: "web", Evidence: "e1", FirstSeen: t0, LastSeen: t0, Count: 1}}})
	write(t, s, &graph.Write{PutLinks: []graph.Link{{A: "k:1", B: "k:2", Source: "crm", Evidence: "e2", FirstSeen: t0.Add(-time.Hour), LastSeen: t0.Add(time.Hour), Count: 3}}})
	view(t, s, func(ctx context.Context, tx graph.ReadTx) error {
		ls, err := tx.Links(ctx, []string{"k:2"})
		if err != nil {
			return err
		}
		// The engine merges a link's sightings; the store writes what it is given.
		want := []graph.Link{{A: "k:1", B: "k:2", Source: "crm", Evidence: "e2", FirstSeen: t0.Add(-time.Hour), LastSeen: t0.Add(time.Hour), Count: 3}}
		if !reflect.DeepEqual(ls, want) {
			t.Fatalf("Links = %+v, want %+v", ls, want)
		}
		between, err := tx.LinksBetween(ctx, []graph.LinkKey{{A: "k:2", B: "k:1"}, {A: "k:1", B: "k:3"}})
		if err != nil {
			return err
		}
		if len(between) != 1 || !reflect.DeepEqual(between[graph.NewLinkKey("k:1", "k:2")], want[0]) {
			t.Fatalf("LinksBetween = %+v, want only %+v", between, want[0])
		}
		return nil
	})
}

// BenchmarkApplyBatch: see graphtest.BenchApplyBatch.
func BenchmarkApplyBatch(b *testing.B) { graphtest.BenchApplyBatch(b, open(b, b.TempDir())) }
