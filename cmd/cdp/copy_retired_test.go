package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/dump"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/internal/storetest"
)

// kioskEvent is an event of the shared kiosk's anonymous id, with others.
func kioskEvent(id string, minute int, refs ...graph.IdentifierRef) graph.Event {
	at := time.Date(2026, 3, 1, 10, minute, 0, 0, time.UTC)
	return graph.Event{ID: "test/" + id, MessageID: id, Type: "track", Name: "Viewed", Source: "test", Timestamp: at, ReceivedAt: at,
		Identifiers: append([]graph.IdentifierRef{{Type: graph.TypeAnonymousID, Value: "kiosk-7"}}, refs...)}
}

// The kiosk scenario: its anonymous id seeds Ann's profile, is removed
// from it, and Ann is erased.
var (
	kioskAnn   = graph.IdentifierRef{Type: graph.TypeEmail, Value: "ann@example.com"}
	kiosk      = graph.IdentifierRef{Type: graph.TypeAnonymousID, Value: "kiosk-7"}
	annKioskID = graph.ProfileIDFor("anonymous_id:kiosk-7", 0)
)

// eraseAnnAtKiosk plays the kiosk scenario on st, up to Ann's erasure.
func eraseAnnAtKiosk(t *testing.T, st graph.Store) {
	t.Helper()
	ctx := context.Background()
	e := graph.NewEngine(st, nil)
	if _, err := e.ApplyBatch(ctx, []graph.Event{kioskEvent("k1", 1, kioskAnn)}); err != nil {
		t.Fatal(err)
	}
	p, err := e.ProfileByIdentifier(ctx, kioskAnn)
	if err != nil || p.ID != annKioskID {
		t.Fatalf("Ann's profile %s (%v), want %s", p.ID, err, annKioskID)
	}
	if _, err := e.RemoveIdentifier(ctx, kiosk, "shared kiosk"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ForgetProfile(ctx, annKioskID, "erasure request", nil); err != nil {
		t.Fatal(err)
	}
}

// nextKioskVisitor has the kiosk seen again on st and checks that the
// profile it starts does not get Ann's erased id, and that her id answers
// for no one.
func nextKioskVisitor(t *testing.T, st graph.Store) {
	t.Helper()
	ctx := context.Background()
	e := graph.NewEngine(st, nil)
	if _, err := e.ApplyBatch(ctx, []graph.Event{kioskEvent("k2", 3)}); err != nil {
		t.Fatal(err)
	}
	p, err := e.ProfileByIdentifier(ctx, kiosk)
	if err != nil {
		t.Fatal(err)
	}
	if want := graph.ProfileIDFor("anonymous_id:kiosk-7", 1); p.ID != want {
		t.Errorf("the next kiosk visitor's profile = %s, want %s (Ann's erased id is %s)", p.ID, want, annKioskID)
	}
	ps, err := e.ProfilesByIDs(ctx, []string{annKioskID})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ps[annKioskID]; ok {
		t.Errorf("Ann's erased id %s answers for a profile", annKioskID)
	}
}

// retiredCount counts the retired profile ids of st.
func retiredCount(t *testing.T, st graph.Store) int {
	t.Helper()
	s, err := dump.NewStream(st)
	storetest.Must(t, err)
	n, err := s.Count(context.Background(), dump.RetiredIDs)
	storetest.Must(t, err)
	return n
}

// cdp copy carries the retired profile ids, and the secret that keys them,
// from the embedded store to Neo4j and from Neo4j back to an embedded
// store: after each copy, the target gives the kiosk's next visitor a new
// id, not the erased person's.
func TestCopyCarriesRetiredProfileIDs(t *testing.T) {
	ctx := context.Background()
	dirA := t.TempDir()
	src, err := embedded.Open(dirA)
	storetest.Must(t, err)
	eraseAnnAtKiosk(t, src)
	storetest.Must(t, src.Close(ctx))

	neo := storetest.OpenNeo4j(t)
	out, errOut, code := copyRun(t, append([]string{"--from-data-dir", dirA}, neo4jFlags("to")...)...)
	if code != 0 {
		t.Fatalf("copy to Neo4j: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if !strings.Contains(out, "retired_profile_ids") {
		t.Errorf("the copy's verification does not count the retired profile ids:\n%s", out)
	}
	if n := retiredCount(t, neo); n != 1 {
		t.Fatalf("Neo4j holds %d retired profile ids after the copy, want 1 (Ann's)", n)
	}

	dirB := t.TempDir()
	out, errOut, code = copyRun(t, append(neo4jFlags("from"), "--to-data-dir", dirB)...)
	if code != 0 {
		t.Fatalf("copy from Neo4j: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	nextKioskVisitor(t, neo)

	dst, err := embedded.Open(dirB)
	storetest.Must(t, err)
	defer dst.Close(ctx)
	if n := retiredCount(t, dst); n != 1 {
		t.Fatalf("the embedded store holds %d retired profile ids after the copy back, want 1", n)
	}
	nextKioskVisitor(t, dst)
}

// A target that holds retired profile ids is not empty: their secret keys
// them, and a copy would replace it.
func TestCopyRefusesATargetWithRetiredProfileIDs(t *testing.T) {
	dirA := t.TempDir()
	ingestEvents(t, dirA, map[string][]string{"a1": {"user_id:u1"}})
	dirB := t.TempDir()
	st, err := embedded.Open(dirB)
	storetest.Must(t, err)
	ctx := context.Background()
	secret, err := st.SuppressionKey(ctx)
	storetest.Must(t, err)
	storetest.Must(t, st.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		return tx.Apply(ctx, &graph.Write{At: time.Now(), RetireProfiles: []string{graph.RetiredIDHash(secret, "p_gone")}})
	}))
	storetest.Must(t, st.Close(ctx))
	out, errOut, code := copyRun(t, "--from-data-dir", dirA, "--to-data-dir", dirB)
	want := "cdp copy: the target (embedded store in " + dirB + ") is not empty: it holds suppression_key=1, retired_profile_ids=1; give --force to copy into it anyway\n"
	if code != 1 || errOut != want {
		t.Fatalf("copy into a target with retired ids: exit %d\nstdout: %s\nstderr: %q\nwant stderr %q", code, out, errOut, want)
	}
}
