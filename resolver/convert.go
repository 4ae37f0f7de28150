package resolver

import (
	"cmp"
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/idgraph/cdp/gql"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
)

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func profilePtrs(ps []graph.Profile) []*graph.Profile {
	out := make([]*graph.Profile, len(ps))
	for i := range ps {
		out[i] = &ps[i]
	}
	return out
}

func refOf(key string) *graph.IdentifierRef {
	r := graph.SplitKey(key)
	return &r
}

// checkPage validates a page size argument (the request limits refuse the
// same earlier; this guards resolvers called with variables or defaults).
func checkPage(arg string, n *int, def, maxPage int) (int, error) {
	if n == nil {
		return def, nil
	}
	if *n < 0 || *n > maxPage {
		return 0, invalidArg(arg, "must be between 0 and %d, got %d", maxPage, *n)
	}
	return *n, nil
}

// normalizeInput normalizes an identifier argument as ingest does, naming
// the argument at fault when it is not usable.
func (r *Resolver) normalizeInput(typeArg, valueArg, typ, value string) (graph.IdentifierRef, error) {
	n, why := r.engine.Normalizer().Normalize(graph.IdentifierRef{Type: typ, Value: value})
	switch why {
	case "":
		return n, nil
	case graph.DropInvalidType:
		return n, invalidArg(typeArg, "is not a valid identifier type: letters, digits and _ starting with a letter, at most 64 characters (in any case)")
	default:
		return n, invalidArg(valueArg, "is not a usable %s value: %s", typ, strings.ReplaceAll(why, "_", " "))
	}
}

// members loads a profile's identifiers through the request's loaders.
func (r *Resolver) members(ctx context.Context, p *graph.Profile) ([]graph.Identifier, error) {
	ms, _, err := r.loaders(ctx).members.load(ctx, p.ID)
	return ms, domainErr(err)
}

func traitList(key string, traits map[string]graph.TraitValue) []*gql.TraitValue {
	out := make([]*gql.TraitValue, 0, len(traits))
	for name, tv := range traits {
		out = append(out, &gql.TraitValue{Name: name, Value: tv.Value, Source: tv.Source, At: tv.At, Identifier: refOf(key)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// currentTraits folds members' traits into the current value per name,
// remembering which identifier each came from: the first by key of those
// holding a value of its times (graph.FoldTraits's choice among them).
func currentTraits(ms []graph.Identifier) []*gql.TraitValue {
	folded := graph.FoldTraits(ms)
	from := map[string]string{}
	byKey := slices.Clone(ms)
	slices.SortFunc(byKey, func(a, b graph.Identifier) int { return strings.Compare(a.Key, b.Key) })
	for _, m := range byKey {
		for name, tv := range m.Traits {
			if cur, ok := folded[name]; ok && graph.NewerTrait(cur, tv) == 0 {
				if _, seen := from[name]; !seen {
					from[name] = m.Key
				}
			}
		}
	}
	out := make([]*gql.TraitValue, 0, len(folded))
	for name, tv := range folded {
		out = append(out, &gql.TraitValue{Name: name, Value: tv.Value, Source: tv.Source, At: tv.At, Identifier: refOf(from[name])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func explanation(ex graph.Explanation) *gql.LinkExplanation {
	out := &gql.LinkExplanation{
		Linked:   ex.Linked,
		ProfileA: strPtr(ex.ProfileA),
		ProfileB: strPtr(ex.ProfileB),
		Path:     make([]*gql.LinkStep, 0, len(ex.Path)),
		Refusals: make([]*gql.RefusedLink, 0, len(ex.Rejected)),
	}
	for _, s := range ex.Path {
		out.Path = append(out.Path, &gql.LinkStep{
			From: refOf(s.From), To: refOf(s.To), Source: s.Link.Source, Evidence: s.Link.Evidence,
			Count: s.Link.Count, FirstSeen: s.Link.FirstSeen, LastSeen: s.Link.LastSeen,
		})
	}
	for _, rl := range ex.Rejected {
		out.Refusals = append(out.Refusals, &gql.RefusedLink{
			A: refOf(rl.A), B: refOf(rl.B), Source: rl.Source, Reason: rl.Reason, Evidence: rl.Evidence, At: rl.At,
		})
	}
	return out
}

// evidenceIDs are the event ids an explanation may point at.
func evidenceIDs(ex *gql.LinkExplanation) []string {
	var ids []string
	for _, s := range ex.Path {
		ids = append(ids, s.Evidence)
	}
	for _, rl := range ex.Refusals {
		ids = append(ids, rl.Evidence)
	}
	return ids
}

func identityGraph(g graph.GraphView) *gql.IdentityGraph {
	out := &gql.IdentityGraph{ProfileID: g.ProfileID, Nodes: make([]*gql.IdentityNode, 0, len(g.Nodes))}
	for _, n := range g.Nodes {
		out.Nodes = append(out.Nodes, &gql.IdentityNode{
			ID: n.Key, Type: n.Type, Value: n.Value, ProfileID: strPtr(n.ProfileID),
			InProfile: n.ProfileID == g.ProfileID, FirstSeen: timePtr(n.FirstSeen), LastSeen: timePtr(n.LastSeen),
		})
	}
	out.Edges = make([]*gql.IdentityEdge, 0, len(g.Links)+len(g.Rejected))
	for _, l := range g.Links {
		out.Edges = append(out.Edges, &gql.IdentityEdge{
			From: l.A, To: l.B, Source: l.Source, Evidence: l.Evidence, Count: l.Count,
			FirstSeen: timePtr(l.FirstSeen), LastSeen: timePtr(l.LastSeen),
		})
	}
	for _, rl := range g.Rejected {
		out.Edges = append(out.Edges, &gql.IdentityEdge{
			From: rl.A, To: rl.B, Rejected: true, Source: rl.Source, Evidence: rl.Evidence,
			Reason: strPtr(rl.Reason), At: timePtr(rl.At),
		})
	}
	return out
}

func jsonObject(m map[string]any) any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// byTypeAndValue returns the positions of ms ordered by type, then value.
// The stores give members by key ("type:value"), which is the same order
// unless a type holds a digit: "crm2:a" < "crm:b", while by type crm comes
// before crm2.
func byTypeAndValue(ms []graph.Identifier) []int {
	idx := make([]int, len(ms))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		return cmp.Or(strings.Compare(ms[a].Type, ms[b].Type), strings.Compare(ms[a].Value, ms[b].Value))
	})
	return idx
}

// asStoredChannels puts the channels given to the journey's filter in the
// form ingest stores a channel: trimmed, lower-cased and cut to 64 bytes
// (ingest.CutChannel), so that a channel longer than the collector keeps,
// given as the message sent it, selects the events it was kept on.
func asStoredChannels(names []string) []string {
	if names == nil {
		return nil
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = ingest.CutChannel(n)
	}
	return out
}

// asStored puts type and channel names given to a list filter in the form
// ingest stores them (trimmed, lower-case), as profileByIdentifier does
// its type: identifiers(types: ["EMAIL"]) lists the emails.
func asStored(names []string) []string {
	if names == nil {
		return nil
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.ToLower(strings.TrimSpace(n))
	}
	return out
}
