package graphtest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/idgraph/cdp/graph"
)

// CheckInvariants compares the stored partition of keys with a plain
// union-find over the stored links (the oracle of DESIGN.md rule 6), and
// checks that profiles are never empty, their sizes and counts are true,
// every identifier is in exactly one profile, and no limit is broken.
func CheckInvariants(ctx context.Context, e *graph.Engine, keys []string) error {
	rules := e.Normalizer().Rules()
	return e.Store().View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
		idents, err := tx.Identifiers(ctx, keys)
		if err != nil {
			return err
		}
		var present []string
		for _, k := range keys {
			if _, ok := idents[k]; ok {
				present = append(present, k)
			}
		}
		links, err := tx.Links(ctx, present)
		if err != nil {
			return err
		}
		parent := map[string]string{}
		var find func(string) string
		find = func(k string) string {
			if p, ok := parent[k]; ok && p != k {
				r := find(p)
				parent[k] = r
				return r
			}
			return k
		}
		for _, l := range links {
			if _, ok := idents[l.A]; !ok {
				return fmt.Errorf("link %s-%s names a missing identifier %s", l.A, l.B, l.A)
			}
			if _, ok := idents[l.B]; !ok {
				return fmt.Errorf("link %s-%s names a missing identifier %s", l.A, l.B, l.B)
			}
			if ra, rb := find(l.A), find(l.B); ra != rb {
				parent[ra] = rb
			}
		}
		byRoot := map[string]string{} // oracle root -> profile id
		byProfile := map[string]string{}
		var pids []string
		for _, k := range present {
			pid := idents[k].ProfileID
			if pid == "" {
				return fmt.Errorf("identifier %s has no profile", k)
			}
			r := find(k)
			if p, ok := byRoot[r]; ok && p != pid {
				return fmt.Errorf("%s is in %s but linked to members of %s", k, pid, p)
			}
			byRoot[r] = pid
			if rr, ok := byProfile[pid]; ok && rr != r {
				return fmt.Errorf("profile %s holds %s, which no link joins to the rest", pid, k)
			}
			byProfile[pid] = r
			if !contains(pids, pid) {
				pids = append(pids, pid)
			}
		}
		sort.Strings(pids)
		profs, err := tx.Profiles(ctx, pids)
		if err != nil {
			return err
		}
		ms, err := tx.Members(ctx, pids)
		if err != nil {
			return err
		}
		for _, pid := range pids {
			p, ok := profs[pid]
			if !ok || !p.Live() {
				return fmt.Errorf("identifiers point at missing or merged profile %s", pid)
			}
			counts := map[string]int{}
			for _, m := range ms[pid] {
				if idents[m.Key].ProfileID != pid {
					return fmt.Errorf("member %s of %s says it is in %s", m.Key, pid, idents[m.Key].ProfileID)
				}
				counts[m.Type]++
			}
			if p.Size != len(ms[pid]) || p.Size == 0 {
				return fmt.Errorf("profile %s size %d, has %d members", pid, p.Size, len(ms[pid]))
			}
			for typ, n := range counts {
				if p.Counts[typ] != n {
					return fmt.Errorf("profile %s counts %v, members give %v", pid, p.Counts, counts)
				}
				if n > rules.Rule(typ).Limit {
					return fmt.Errorf("profile %s holds %d %s, over the limit", pid, n, typ)
				}
			}
		}
		return nil
	})
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// universe is the small set of identifiers one property run draws from.
func universe(prefix string) []graph.IdentifierRef {
	var out []graph.IdentifierRef
	for _, typ := range []string{graph.TypeUserID, graph.TypeEmail, graph.TypeDeviceID, graph.TypeAnonymousID} {
		for i := 0; i < 3; i++ {
			v := fmt.Sprintf("%s%s%d", prefix, typ[:1], i)
			if typ == graph.TypeEmail {
				v += "@example.com"
			}
			out = append(out, graph.IdentifierRef{Type: typ, Value: v})
		}
	}
	return out
}

// Rule 7: concurrent writers end in a valid partition, with no identifier
// stored twice and no empty profile.
func testConcurrent(t *testing.T, open Opener) {
	e := graph.NewEngine(open(t), nil)
	ctx := context.Background()
	uni := universe("c-")
	for i := 0; i < 12; i++ {
		uni = append(uni, anon(fmt.Sprintf("c-extra%d", i)))
	}
	keys := make([]string, len(uni))
	for i, r := range uni {
		keys[i] = r.Key()
	}
	const writers, batches, perBatch = 4, 12, 8
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := newRand(int64(w))
			for b := 0; b < batches; b++ {
				var evs []graph.Event
				for i := 0; i < perBatch; i++ {
					evs = append(evs, ev(fmt.Sprintf("w%d-b%d-%d", w, b, i), i, uni[rng.Intn(len(uni))], uni[rng.Intn(len(uni))], uni[rng.Intn(len(uni))]))
				}
				if _, err := e.ApplyBatch(ctx, evs); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent ApplyBatch: %v", err)
	}
	if err := CheckInvariants(ctx, e, keys); err != nil {
		t.Fatal(err)
	}
	// Every event was stored exactly once and is in some journey.
	total := 0
	seen := map[string]bool{}
	ps, err := e.ProfilesByIdentifiers(ctx, uni)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if seen[p.ID] {
			continue
		}
		seen[p.ID] = true
		total += len(journey(t, e, p.ID, graph.JourneyQuery{Limit: 100}))
	}
	if total < writers*batches*perBatch {
		t.Fatalf("journeys hold %d events, want at least %d", total, writers*batches*perBatch)
	}
}
