package embedded

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
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

func eventIDs(evs []graph.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
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
		n, err := tx.CountProfiles(ctx)
		if err != nil {
			return err
		}
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
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("error = %q does not wrap ErrInUse", err)
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
		ls, err := tx.Links(ctx, []string{a})
		if err != nil {
			return err
		}
		if len(ls) != 0 {
			t.Fatalf("links of %q = %v", a, ls)
		}
		ms, err := tx.Members(ctx, []string{"p"})
		if err != nil {
			return err
		}
		if len(ms["p"]) != 1 || ms["p"][0].Key != a {
			t.Fatalf("members of p = %v", ms["p"])
		}
		j, err := tx.Journeys(ctx, []string{"p", "p\x00q"}, graph.JourneyQuery{Limit: 10})
		if err != nil {
			return err
		}
		if len(j["p"]) != 0 || len(j["p\x00q"]) != 1 {
			t.Fatalf("journey of p = %v, of p\\x00q = %v; want none and one", j["p"], j["p\x00q"])
		}
		return nil
	})
}
