package main

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/internal/storetest"
)

// Computed values and facts are kept by profile id, apart from the
// profiles: an erasure made through graph.Engine without the audience
// hook (audience.ForgetErasureInTx) deletes the profile and leaves them.
// cdp copy carries such values and facts as stored, counts them and
// compares their content, from the embedded store to Neo4j and back,
// one record per page.
func TestCopyCarriesValuesAndFactsOfNoProfile(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	ann := graph.IdentifierRef{Type: graph.TypeEmail, Value: "ann@example.com"}
	bob := graph.IdentifierRef{Type: graph.TypeEmail, Value: "bob@example.com"}
	annID, bobID := graph.ProfileIDFor("email:ann@example.com", 0), graph.ProfileIDFor("email:bob@example.com", 0)
	facts := map[string]audience.Facts{
		annID: {ProfileID: annID, Keys: []string{"email:ann@example.com"}, Types: []string{"email"}},
		bobID: {ProfileID: bobID, Keys: []string{"email:bob@example.com"}, Types: []string{"email"}},
	}
	values := map[string]map[string]audience.ComputedValue{
		annID: {"ltv": {ProfileID: annID, Name: "ltv", Value: int64(120), ComputedAt: at}},
		bobID: {"ltv": {ProfileID: bobID, Name: "ltv", Value: int64(80), ComputedAt: at},
			"orders": {ProfileID: bobID, Name: "orders", Value: int64(2), ComputedAt: at}},
	}
	check := func(t *testing.T, where string, st audience.Store) {
		t.Helper()
		gotF, err := st.Facts(ctx, []string{annID, bobID})
		storetest.Must(t, err)
		if !reflect.DeepEqual(gotF, facts) {
			t.Errorf("%s: facts %#v, want %#v", where, gotF, facts)
		}
		gotV, err := st.ComputedValues(ctx, []string{annID, bobID})
		storetest.Must(t, err)
		if !reflect.DeepEqual(gotV, values) {
			t.Errorf("%s: computed values %#v, want %#v", where, gotV, values)
		}
	}

	dirA := t.TempDir()
	src, err := embedded.Open(dirA)
	storetest.Must(t, err)
	e := graph.NewEngine(src, nil)
	for i, r := range []graph.IdentifierRef{ann, bob} {
		ts := at.Add(time.Duration(i) * time.Minute)
		_, err := e.ApplyBatch(ctx, []graph.Event{{ID: "test/e" + r.Value, MessageID: "e" + r.Value, Type: "identify", Source: "test",
			Timestamp: ts, ReceivedAt: ts, Identifiers: []graph.IdentifierRef{r}}})
		storetest.Must(t, err)
	}
	storetest.Must(t, src.PutFacts(ctx, []audience.Facts{facts[annID], facts[bobID]}))
	storetest.Must(t, src.PutComputedValues(ctx, []audience.ComputedValue{values[annID]["ltv"], values[bobID]["ltv"], values[bobID]["orders"]}))
	if _, err := e.ForgetProfile(ctx, bobID, "erasure request", nil); err != nil {
		t.Fatal(err)
	}
	ps, err := e.ProfilesByIDs(ctx, []string{annID, bobID})
	storetest.Must(t, err)
	if _, ok := ps[bobID]; ok || len(ps) != 1 {
		t.Fatalf("profiles after Bob's erasure: %v, want Ann's alone", ps)
	}
	check(t, "the source after the erasure", src) // Bob's stay: no profile holds them
	storetest.Must(t, src.Close(ctx))

	wantRows := map[string][2]string{"profiles": {"1", "1"}, "facts": {"2", "2"}, "computed_values": {"3", "3"}}
	copyAndCheck := func(t *testing.T, what string, args ...string) {
		t.Helper()
		out, errOut, code := copyRun(t, append(args, "--batch", "1")...)
		if code != 0 {
			t.Fatalf("%s: exit %d\nstdout: %s\nstderr: %s", what, code, out, errOut)
		}
		rows := copyTable(out)
		for k, want := range wantRows {
			if rows[k] != want {
				t.Errorf("%s: %s counted %v, want %v:\n%s", what, k, rows[k], want, out)
			}
		}
	}

	neo := storetest.OpenNeo4j(t)
	copyAndCheck(t, "copy to Neo4j", append([]string{"--from-data-dir", dirA}, neo4jFlags("to")...)...)
	check(t, "Neo4j after the copy", neo)

	dirB := t.TempDir()
	copyAndCheck(t, "copy from Neo4j", append(neo4jFlags("from"), "--to-data-dir", dirB)...)
	dst, err := embedded.Open(dirB)
	storetest.Must(t, err)
	defer dst.Close(ctx)
	check(t, "the embedded store after the copy back", dst)
}
