package resolver

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/idgraph/cdp/graph"
)

// lookupProfile finds the profile holding ref (already normalized) and its
// members in one read transaction, and keeps both in the request's loaders:
// the profile's identifiers and traits, and its identifiers by key, then
// need no further read. ok is false when no profile holds ref.
//
// A profile read as merged away (possible only when a merge commits during
// the read on a store without snapshot reads) is returned as the lookup
// gives it but not kept, so later loads read and follow redirects as before;
// the caller decides what to keep of it.
func (r *Resolver) lookupProfile(ctx context.Context, ref graph.IdentifierRef) (*graph.Profile, bool, error) {
	found, members, err := r.engine.LookupProfiles(ctx, []graph.IdentifierRef{ref})
	if err != nil {
		return nil, false, domainErr(err)
	}
	p, ok := found[ref]
	if !ok {
		return nil, false, nil
	}
	if p.Live() {
		r.loaders(ctx).primeLookup(&p, members[p.ID])
	}
	return &p, true, nil
}

// wantsProfile reports whether the field being resolved selects its
// Identifier's profile.
func wantsProfile(ctx context.Context) bool {
	if !graphql.HasOperationContext(ctx) || graphql.GetFieldContext(ctx) == nil {
		return false
	}
	for _, f := range graphql.CollectFieldsCtx(ctx, []string{"Identifier"}) {
		if f.Name == "profile" {
			return true
		}
	}
	return false
}
