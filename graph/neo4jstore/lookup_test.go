package neo4jstore_test

import (
	"context"
	"reflect"
	"sync"
	"testing"

	"github.com/idgraph/cdp/graph"
)

// plainStore answers LookupProfiles with the three reads it stands for,
// Identifiers, Profiles and Members: the reference for the one statement.
type plainStore struct{ graph.Store }

func (s plainStore) View(ctx context.Context, fn func(ctx context.Context, tx graph.ReadTx) error) error {
	return s.Store.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
		return fn(ctx, plainRead{tx})
	})
}

type plainRead struct{ graph.ReadTx }

func (t plainRead) LookupProfiles(ctx context.Context, keys []string, withMembers bool) (map[string]graph.Identifier, map[string]graph.Profile, map[string][]graph.Identifier, error) {
	idents, err := t.Identifiers(ctx, keys)
	if err != nil {
		return nil, nil, nil, err
	}
	var pids []string
	for _, id := range idents {
		if id.ProfileID != "" {
			pids = append(pids, id.ProfileID)
		}
	}
	profiles, err := t.Profiles(ctx, pids)
	if err != nil || !withMembers {
		return idents, profiles, nil, err
	}
	var live []string
	for id, p := range profiles {
		if p.Live() {
			live = append(live, id)
		}
	}
	members, err := t.Members(ctx, live)
	return idents, profiles, members, err
}

// countingStore counts the reads a lookup makes, passing the lookup on.
type countingStore struct {
	graph.Store
	mu    sync.Mutex
	calls map[string]int
}

func (s *countingStore) count(m string) {
	s.mu.Lock()
	s.calls[m]++
	s.mu.Unlock()
}

func (s *countingStore) take() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls
	s.calls = map[string]int{}
	return c
}

func (s *countingStore) View(ctx context.Context, fn func(ctx context.Context, tx graph.ReadTx) error) error {
	return s.Store.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
		return fn(ctx, &countingRead{ReadTx: tx, s: s})
	})
}

type countingRead struct {
	graph.ReadTx
	s *countingStore
}

func (t *countingRead) Identifiers(ctx context.Context, keys []string) (map[string]graph.Identifier, error) {
	t.s.count("Identifiers")
	return t.ReadTx.Identifiers(ctx, keys)
}

func (t *countingRead) Profiles(ctx context.Context, ids []string) (map[string]graph.Profile, error) {
	t.s.count("Profiles")
	return t.ReadTx.Profiles(ctx, ids)
}

func (t *countingRead) Members(ctx context.Context, ids []string) (map[string][]graph.Identifier, error) {
	t.s.count("Members")
	return t.ReadTx.Members(ctx, ids)
}

func (t *countingRead) LookupProfiles(ctx context.Context, keys []string, withMembers bool) (map[string]graph.Identifier, map[string]graph.Profile, map[string][]graph.Identifier, error) {
	t.s.count("LookupProfiles")
	return t.ReadTx.LookupProfiles(ctx, keys, withMembers)
}

// TestLookupProfilesOneStatement checks the one-statement lookup against the
// three reads it replaces, on a graph with a merge, and with an identifier
// left pointing at the merged-away profile (what a lookup sees when a merge
// commits during its read), which must resolve through the redirect.
func TestLookupProfilesOneStatement(t *testing.T) {
	s := neo4jStore(t)
	ctx := context.Background()
	counted := &countingStore{Store: s, calls: map[string]int{}}
	fast, plain := graph.NewEngine(counted, nil), graph.NewEngine(plainStore{s}, nil)

	traits := func(ev graph.Event, tr map[string]any) graph.Event { ev.Traits = tr; ev.Type = "identify"; return ev }
	// A+a and b+x+y form two profiles; m3 joins a and x, merging the smaller
	// into the larger. C is alone.
	for _, batch := range [][]graph.Event{
		{traits(event("m1", 1, ref(graph.TypeUserID, "A"), ref(graph.TypeEmail, "a@example.com")), map[string]any{"plan": "free", "name": "Ann"})},
		{event("m2", 2, ref(graph.TypeEmail, "b@example.com"), ref(graph.TypeAnonymousID, "x"), ref(graph.TypeAnonymousID, "y"))},
		{traits(event("m3", 3, ref(graph.TypeEmail, "a@example.com"), ref(graph.TypeAnonymousID, "x")), map[string]any{"plan": "pro"})},
		{event("m4", 4, ref(graph.TypeUserID, "C"))},
	} {
		if _, err := fast.ApplyBatch(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	refs := []graph.IdentifierRef{
		ref(graph.TypeUserID, "A"), ref(graph.TypeEmail, "a@example.com"), ref(graph.TypeAnonymousID, "y"),
		ref(graph.TypeEmail, "b@example.com"), ref(graph.TypeAnonymousID, "x"), ref(graph.TypeUserID, "C"),
		ref(graph.TypeUserID, "nobody"),
	}

	compare := func(t *testing.T, refs []graph.IdentifierRef) (map[graph.IdentifierRef]graph.Profile, map[string][]graph.Identifier, map[string]int) {
		t.Helper()
		counted.take()
		got, gotMembers, err := fast.LookupProfiles(ctx, refs)
		if err != nil {
			t.Fatal(err)
		}
		calls := counted.take()
		want, wantMembers, err := plain.LookupProfiles(ctx, refs)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("profiles:\n statement %+v\n three reads %+v", got, want)
		}
		if !reflect.DeepEqual(gotMembers, wantMembers) {
			t.Fatalf("members:\n statement %+v\n three reads %+v", gotMembers, wantMembers)
		}
		gotBy, err := fast.ProfilesByIdentifiers(ctx, refs)
		if err != nil {
			t.Fatal(err)
		}
		wantBy, err := plain.ProfilesByIdentifiers(ctx, refs)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gotBy, wantBy) || !reflect.DeepEqual(gotBy, got) {
			t.Fatalf("ProfilesByIdentifiers:\n statement %+v\n three reads %+v", gotBy, wantBy)
		}
		return got, gotMembers, calls
	}

	var survivor, merged string
	t.Run("live", func(t *testing.T) {
		got, members, calls := compare(t, refs)
		if !reflect.DeepEqual(calls, map[string]int{"LookupProfiles": 1}) {
			t.Fatalf("reads %v, want one LookupProfiles", calls)
		}
		survivor = got[ref(graph.TypeUserID, "A")].ID
		if len(got) != 6 || got[ref(graph.TypeAnonymousID, "x")].ID != survivor || got[ref(graph.TypeUserID, "C")].ID == survivor {
			t.Fatalf("profiles %+v", got)
		}
		if len(members[survivor]) != 5 || len(members) != 2 {
			t.Fatalf("members %+v", members)
		}
		ann := members[survivor][2]
		if ann.Key != "email:a@example.com" || ann.ProfileID != survivor || ann.Traits["plan"].Value != "pro" {
			t.Fatalf("first member %+v", ann)
		}
		hist, err := fast.History(ctx, []string{survivor})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range hist[survivor] {
			if c.Kind == graph.ChangeMerge && c.Into == survivor {
				merged = c.From
			}
		}
		if merged == "" {
			t.Fatalf("no merge into %s in %+v", survivor, hist)
		}
	})

	// raw checks that the statement answers what the three reads answer:
	// profiles as stored (merged ones included), members of the live ones.
	raw := func(t *testing.T) {
		t.Helper()
		keys := make([]string, len(refs))
		for i, r := range refs {
			keys[i] = r.Key()
		}
		err := s.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
			for _, withMembers := range []bool{false, true} {
				idents, profiles, members, err := tx.LookupProfiles(ctx, keys, withMembers)
				if err != nil {
					return err
				}
				wantIdents, wantProfiles, wantMembers, err := plainRead{tx}.LookupProfiles(ctx, keys, withMembers)
				if err != nil {
					return err
				}
				if !reflect.DeepEqual(idents, wantIdents) || !reflect.DeepEqual(profiles, wantProfiles) || !reflect.DeepEqual(members, wantMembers) {
					t.Errorf("withMembers=%v:\n statement %+v\n %+v\n %+v\n reads %+v\n %+v\n %+v", withMembers,
						idents, profiles, members, wantIdents, wantProfiles, wantMembers)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Run("raw", raw)

	t.Run("redirect", func(t *testing.T) {
		if merged == "" {
			t.Skip("no merge found")
		}
		// Point x at the merged-away profile, as a lookup racing the merge
		// would have read it.
		sess := rawSession(t)
		res, err := sess.Run(ctx, `MATCH (i:Identifier {key: $k})-[r:IN]->() DELETE r
WITH i MATCH (p:Profile {id: $p}) CREATE (i)-[:IN]->(p)`, map[string]any{"k": "anonymous_id:x", "p": merged})
		if err == nil {
			_, err = res.Consume(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
		got, members, calls := compare(t, refs)
		if calls["LookupProfiles"] != 1 || calls["Profiles"] < 1 || calls["Identifiers"] != 0 {
			t.Fatalf("reads %v, want the lookup then the redirect followed", calls)
		}
		if got[ref(graph.TypeAnonymousID, "x")].ID != survivor {
			t.Fatalf("x resolves to %+v, want %s", got[ref(graph.TypeAnonymousID, "x")], survivor)
		}
		if len(members[survivor]) != 4 || len(members[merged]) != 0 {
			t.Fatalf("members %+v", members)
		}
		raw(t)
		// Only x asked: its profile is merged away, so its survivor's
		// members are read too.
		got, members, calls = compare(t, []graph.IdentifierRef{ref(graph.TypeAnonymousID, "x")})
		if got[ref(graph.TypeAnonymousID, "x")].ID != survivor || len(members[survivor]) != 4 || calls["Members"] != 1 {
			t.Fatalf("x alone: %+v, %+v, reads %v", got, members, calls)
		}
	})
}
