package resolver

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/idgraph/cdp/graph"
)

// Profile.history pages by keyset, like the journey: an entry's cursor is
// its whole sort key (at, kind, from, into), so a page starts strictly after
// the entry it names whether or not that entry is still stored, and entries
// written while a client pages never shift the pages that follow. The key is
// total: a profile is merged into, or split into, another one at most once
// at one time. It carries times, a kind and profile ids; never the reason,
// which may name identifiers.

const cursorKindHistory = "history"

// historyCursor returns the cursor of an entry of Profile.history. The time
// keeps every digit the store gave, so that the comparison on decode is the
// one the list is sorted by; the rest of the key follows in ID, separated
// by spaces (profile ids are ProfileIDFor's, which hold none).
func historyCursor(c *graph.ProfileChange) string {
	return encodeCursor(cursorBody{
		V:  cursorVersion,
		K:  cursorKindHistory,
		ID: c.Kind + " " + c.From + " " + c.Into,
		T:  c.At.UTC().Format(time.RFC3339Nano),
	})
}

// decodeHistoryCursor parses a history cursor into the sort key it names.
func decodeHistoryCursor(arg, s string) (graph.ProfileChange, error) {
	c, err := decodeCursor(arg, cursorKindHistory, s)
	if err != nil {
		return graph.ProfileChange{}, err
	}
	t, terr := time.Parse(time.RFC3339Nano, c.T)
	parts := strings.Split(c.ID, " ")
	if terr != nil || len(parts) != 3 || (parts[0] != graph.ChangeMerge && parts[0] != graph.ChangeSplit) || parts[1] == "" || parts[2] == "" {
		return graph.ProfileChange{}, graph.Errorf(graph.EINVALID, "argument %q is not a valid %s cursor: bad position", arg, cursorKindHistory)
	}
	return graph.ProfileChange{At: t, Kind: parts[0], From: parts[1], Into: parts[2]}, nil
}

// compareChanges is history order: oldest first, then by kind (merges
// before splits), from and into. Engine.History sorts the same way; the
// resolver sorts again so that the order and the cursor filter can never
// disagree.
func compareChanges(a, b *graph.ProfileChange) int {
	if c := a.At.Compare(b.At); c != 0 {
		return c
	}
	return cmp.Or(strings.Compare(a.Kind, b.Kind), strings.Compare(a.From, b.From), strings.Compare(a.Into, b.Into))
}

// history serves Profile.history: the first entries after the cursor.
func (r *Resolver) history(ctx context.Context, p *graph.Profile, first *int, after *string) ([]*graph.ProfileChange, error) {
	var pos *graph.ProfileChange
	if after != nil {
		c, err := decodeHistoryCursor("after", *after)
		if err != nil {
			return nil, err
		}
		pos = &c
	}
	cs, _, err := r.loaders(ctx).history.load(ctx, p.ID)
	if err != nil {
		return nil, domainErr(err)
	}
	out := make([]*graph.ProfileChange, 0, len(cs))
	for i := range cs {
		if pos == nil || compareChanges(&cs[i], pos) > 0 {
			out = append(out, &cs[i])
		}
	}
	slices.SortStableFunc(out, compareChanges)
	return firstOf(out, first, r.cfg.MaxPage), nil
}
