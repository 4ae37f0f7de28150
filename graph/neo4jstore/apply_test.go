package neo4jstore_test

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/neo4jstore"
)

// Apply cuts the rows of a Write into statements of at most size rows,
// keeping the order of the steps and of the rows within each.
func TestApplyChunks(t *testing.T) {
	params := neo4jstore.ApplyParams()
	for _, size := range []int{1, 2, 3, 5, 100} {
		// Step i gets i*3 % 7 rows: some steps empty, some longer than size.
		lists := make([][]any, len(params))
		var want []string // "param/row" in the order one statement would write them
		total := 0
		for i, p := range params {
			for r := range i * 3 % 7 {
				lists[i] = append(lists[i], fmt.Sprintf("%s/%d", p, r))
				want = append(want, fmt.Sprintf("%s/%d", p, r))
				total++
			}
		}
		chunks := neo4jstore.ApplyChunks(lists, size)
		if n := (total + size - 1) / size; len(chunks) != n {
			t.Errorf("size %d: %d rows cut into %d statements, want %d", size, total, len(chunks), n)
		}
		var got []string
		for c, chunk := range chunks {
			rows := 0
			for _, p := range params {
				list, ok := chunk[p].([]any)
				if !ok {
					t.Fatalf("size %d: statement %d lacks the list $%s", size, c, p)
				}
				for _, r := range list {
					got = append(got, r.(string))
				}
				rows += len(list)
			}
			if rows > size || (c < len(chunks)-1 && rows != size) {
				t.Errorf("size %d: statement %d of %d carries %d rows", size, c, len(chunks), rows)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("size %d: statements write\n%v\nwant\n%v", size, got, want)
		}
	}
}

// A Write of more rows than one statement carries is applied whole: a
// profile of more than two chunks' worth of members and links.
func TestApplyLargerThanOneChunk(t *testing.T) {
	s := neo4jStore(t)
	ctx := context.Background()
	n := neo4jstore.ChunkRows + 1000
	keys := make([]string, n)
	seen := make([]graph.IdentifierSeen, n)
	w := &graph.Write{At: t0, PutProfiles: []graph.Profile{{ID: "p_big", CreatedAt: t0, UpdatedAt: t0, Size: n}}}
	for i := range keys {
		keys[i] = fmt.Sprintf("anonymous_id:%06d", i)
		seen[i] = graph.IdentifierSeen{Key: keys[i], Type: "anonymous_id", Value: fmt.Sprintf("%06d", i), First: t0, Last: t0}
		w.Assign = append(w.Assign, graph.Assignment{Key: keys[i], ProfileID: "p_big"})
		if i > 0 {
			w.PutLinks = append(w.PutLinks, graph.Link{A: keys[i-1], B: keys[i], Source: "web", Evidence: "m", FirstSeen: t0, LastSeen: t0, Count: 1})
		}
	}
	if rows := 1 + len(w.Assign) + len(w.PutLinks); rows <= 2*neo4jstore.ChunkRows {
		t.Fatalf("the Write has %d rows, not more than two statements' worth", rows)
	}
	err := s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		if _, err := tx.LockIdentifiers(ctx, seen, true); err != nil {
			return err
		}
		return tx.Apply(ctx, w)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
		ms, err := tx.Members(ctx, []string{"p_big"})
		if err != nil {
			return err
		}
		got := make([]string, 0, len(ms["p_big"]))
		for _, m := range ms["p_big"] {
			got = append(got, m.Key)
		}
		if !slices.Equal(got, keys) { // keys are made in key order
			t.Errorf("p_big has %d members, want %d", len(got), n)
		}
		links, err := tx.Links(ctx, keys)
		if err != nil {
			return err
		}
		if len(links) != n-1 {
			t.Errorf("%d links stored, want %d", len(links), n-1)
		}
		for i, l := range links {
			if i < n-1 && (l.A != keys[i] || l.B != keys[i+1] || l.Count != 1) {
				t.Errorf("link %d is %+v, want %s - %s once", i, l, keys[i], keys[i+1])
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Cut into statements of two rows, a Write that touches every step writes
// what one statement would: rows that depend on rows of an earlier
// statement (an assignment to a profile put before, a history entry between
// profiles of different statements, an event whose two identifiers are
// erased by different statements) all take effect.
func TestApplyAcrossChunkBoundaries(t *testing.T) {
	s := neo4jStore(t)
	defer neo4jstore.SetApplyChunkRows(2)()
	ctx := context.Background()
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	key := func(v string) string { return "anonymous_id:" + v }
	var seen []graph.IdentifierSeen
	for _, v := range []string{"k1", "k2", "k3", "k4", "x", "y"} {
		seen = append(seen, graph.IdentifierSeen{Key: key(v), Type: "anonymous_id", Value: v, First: t0, Last: t0})
	}
	before := &graph.Write{
		At:          t0,
		PutProfiles: []graph.Profile{{ID: "p_old", CreatedAt: t0, UpdatedAt: t0, Size: 2}},
		Assign:      []graph.Assignment{{Key: key("x"), ProfileID: "p_old"}, {Key: key("y"), ProfileID: "p_old"}},
		Events:      []graph.Event{{ID: "e0", Type: "track", Timestamp: t0, ReceivedAt: t0, Keys: []string{key("x"), key("y")}}},
	}
	w := &graph.Write{
		At: at(1),
		PutProfiles: []graph.Profile{
			{ID: "p_a", CreatedAt: at(1), UpdatedAt: at(1), Size: 2},
			{ID: "p_b", CreatedAt: at(1), UpdatedAt: at(1), Size: 1},
			{ID: "p_c", CreatedAt: at(1), UpdatedAt: at(1), Size: 1},
		},
		DeleteIdentifiers: []string{key("x"), key("y")},
		Assign: []graph.Assignment{
			{Key: key("k1"), ProfileID: "p_a"}, {Key: key("k2"), ProfileID: "p_a"},
			{Key: key("k3"), ProfileID: "p_b"}, {Key: key("k4"), ProfileID: "p_c"},
		},
		PutLinks:       []graph.Link{{A: key("k1"), B: key("k2"), Source: "web", Evidence: "e1", FirstSeen: at(1), LastSeen: at(1), Count: 1}},
		PutRejected:    []graph.RejectedLink{{A: key("k2"), B: key("k3"), Source: "rules", Reason: "limit", Evidence: "e1", At: at(1)}},
		Events:         []graph.Event{{ID: "e1", Type: "track", Timestamp: at(1), ReceivedAt: at(1), Keys: []string{key("k1"), key("k3")}}},
		Traits:         []graph.TraitUpdate{{Key: key("k4"), Traits: map[string]graph.TraitValue{"plan": {Value: "pro", Source: "crm", At: at(1)}}}},
		Changes:        []graph.ProfileChange{{Kind: graph.ChangeMerge, From: "p_c", Into: "p_a", At: at(1), Reason: "test"}},
		DeleteProfiles: []string{"p_old"},
	}
	for _, step := range []*graph.Write{before, w} {
		err := s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
			if _, err := tx.LockIdentifiers(ctx, seen, true); err != nil {
				return err
			}
			claims := make([]graph.EventClaim, len(step.Events))
			for i, e := range step.Events {
				claims[i] = graph.EventClaim{ID: e.ID}
			}
			if _, err := tx.ClaimEvents(ctx, claims); err != nil {
				return err
			}
			return tx.Apply(ctx, step)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	all := []string{key("k1"), key("k2"), key("k3"), key("k4"), key("x"), key("y")}
	err := s.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
		idents, err := tx.Identifiers(ctx, all)
		if err != nil {
			return err
		}
		profileOf := map[string]string{}
		for k, id := range idents {
			profileOf[k] = id.ProfileID
		}
		if want := map[string]string{key("k1"): "p_a", key("k2"): "p_a", key("k3"): "p_b", key("k4"): "p_c"}; !reflect.DeepEqual(profileOf, want) {
			t.Errorf("identifiers and their profiles: %v, want %v", profileOf, want)
		}
		if tr := idents[key("k4")].Traits["plan"]; tr.Value != "pro" {
			t.Errorf("k4's plan is %+v, want pro", tr)
		}
		ps, err := tx.Profiles(ctx, []string{"p_a", "p_b", "p_c", "p_old"})
		if err != nil {
			return err
		}
		if len(ps) != 3 || ps["p_old"].ID != "" {
			t.Errorf("profiles stored: %v, want p_a, p_b, p_c", slices.Sorted(maps.Keys(ps)))
		}
		evs, err := tx.Events(ctx, []string{"e0", "e1"})
		if err != nil {
			return err
		}
		if _, ok := evs["e0"]; ok {
			t.Error("e0 survived the erasure of both its identifiers, erased by different statements")
		}
		if e1 := evs["e1"]; !slices.Equal(slices.Sorted(slices.Values(e1.Keys)), []string{key("k1"), key("k3")}) {
			t.Errorf("e1 is BY %v, want k1 and k3", e1.Keys)
		}
		links, err := tx.Links(ctx, all)
		if err != nil {
			return err
		}
		if len(links) != 1 || links[0].A != key("k1") || links[0].B != key("k2") {
			t.Errorf("links %+v, want k1 - k2", links)
		}
		rej, err := tx.Rejected(ctx, all)
		if err != nil {
			return err
		}
		if len(rej) != 1 || rej[0].A != key("k2") || rej[0].B != key("k3") || rej[0].Reason != "limit" {
			t.Errorf("refused links %+v, want k2 - k3", rej)
		}
		hist, err := tx.Changes(ctx, []string{"p_c"})
		if err != nil {
			return err
		}
		if len(hist) != 1 || hist[0].From != "p_c" || hist[0].Into != "p_a" || hist[0].Kind != graph.ChangeMerge {
			t.Errorf("history of p_c %+v, want merged into p_a", hist)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
