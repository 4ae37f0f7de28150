package graphtest

import (
	"context"
	"fmt"
	"slices"

	"github.com/idgraph/cdp/graph"
)

// What ModelProperty compares besides the state observe reads: the
// explanations of the identifiers a step touched and the merge history of
// every profile merged away, each against what the model holds.

// refs returns the identifiers op names, each once.
func (o modelOp) refs() []graph.IdentifierRef {
	var out []graph.IdentifierRef
	add := func(r graph.IdentifierRef) {
		if r.Type != "" && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	for _, ev := range o.events {
		for _, r := range ev.Refs {
			add(r)
		}
	}
	for _, r := range o.of {
		add(r)
	}
	add(o.a)
	add(o.b)
	return out
}

// size returns how many identifiers the model's profile id holds.
func (m *Model) size(id string) int {
	n := 0
	for _, pid := range m.idents {
		if pid == id {
			n++
		}
	}
	return n
}

// checkExplain asks ExplainLink about every pair of the stored identifiers
// among refs, both ways round, and compares it with the model: linked when
// the model has them in one profile, then along a path of the model's
// links as short as the model's shortest; else with exactly the refusals
// (manual or by the rules) the model holds between their two profiles.
func (h *modelHarness) checkExplain(ctx context.Context, refs []graph.IdentifierRef) error {
	var keys []string
	for _, r := range refs {
		if _, ok := h.m.idents[r.Key()]; ok {
			keys = append(keys, r.Key())
		}
	}
	adj := map[string][]string{}
	for _, lk := range h.m.Links() {
		adj[lk.A] = append(adj[lk.A], lk.B)
		adj[lk.B] = append(adj[lk.B], lk.A)
	}
	dist := func(a, b string) int {
		d := map[string]int{a: 0}
		for q := []string{a}; len(q) > 0; q = q[1:] {
			for _, o := range adj[q[0]] {
				if _, ok := d[o]; !ok {
					d[o] = d[q[0]] + 1
					q = append(q, o)
				}
			}
		}
		if v, ok := d[b]; ok {
			return v
		}
		return -1
	}
	for _, a := range keys {
		for _, b := range keys {
			if a == b {
				continue
			}
			ex, err := h.e.ExplainLink(ctx, graph.SplitKey(a), graph.SplitKey(b))
			if err != nil {
				return fmt.Errorf("explainLink %s %s: %v", a, b, err)
			}
			pa, pb := h.m.idents[a], h.m.idents[b]
			if ex.Linked != (pa == pb) || ex.ProfileA != pa || ex.ProfileB != pb {
				return fmt.Errorf("explainLink %s %s: linked %v, profiles %s and %s; the model's are %s and %s", a, b, ex.Linked, ex.ProfileA, ex.ProfileB, pa, pb)
			}
			if pa == pb {
				cur := a
				for _, st := range ex.Path {
					if st.From != cur || h.m.links[graph.NewLinkKey(st.From, st.To)] == nil {
						return fmt.Errorf("explainLink %s %s: step %s -> %s is no link of the model's after %s", a, b, st.From, st.To, cur)
					}
					cur = st.To
				}
				if cur != b || len(ex.Path) != dist(a, b) {
					return fmt.Errorf("explainLink %s %s: a path of %d steps ending at %s; the model's shortest has %d", a, b, len(ex.Path), cur, dist(a, b))
				}
				continue
			}
			var want, got []string
			for lk := range h.m.refused {
				ra, rb := h.m.idents[lk.A], h.m.idents[lk.B]
				if ra == pa && rb == pb || ra == pb && rb == pa {
					want = append(want, lk.A+" "+lk.B)
				}
			}
			for _, r := range ex.Rejected {
				lk := graph.NewLinkKey(r.A, r.B)
				got = append(got, lk.A+" "+lk.B)
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				return fmt.Errorf("explainLink %s %s: refusals %v; the model's between the two profiles are %v", a, b, got, want)
			}
		}
	}
	return nil
}

// checkHistory compares, for every profile id the model has merged away,
// the latest merge History lists from it with the model's redirect: into
// the same profile, recording (as digests) the identifiers the model says
// the profile held then, less those removed since.
func (h *modelHarness) checkHistory(ctx context.Context) error {
	ids := h.m.Created()
	hist, err := h.e.History(ctx, ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		mp := h.m.profiles[id]
		if mp == nil || mp.into == "" {
			continue
		}
		var last *graph.ProfileChange
		for i, c := range hist[id] {
			if c.Kind == graph.ChangeMerge && c.From == id {
				last = &hist[id][i]
			}
		}
		if last == nil {
			return fmt.Errorf("history of %s lists no merge from it; the model merged it into %s", id, mp.into)
		}
		var want []string
		for k := range mp.recorded {
			want = append(want, graph.MemberDigest(k))
		}
		slices.Sort(want)
		got := slices.Sorted(slices.Values(last.Members))
		if last.Into != mp.into || !slices.Equal(got, want) {
			return fmt.Errorf("history of %s: its last merge went into %s recording %v; the model's into %s recording %v", id, last.Into, got, mp.into, want)
		}
	}
	return nil
}
