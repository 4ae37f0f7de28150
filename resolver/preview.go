package resolver

import (
	"context"
	"slices"

	"github.com/99designs/gqlgen/graphql"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/audience/keep"
	"github.com/idgraph/cdp/gql"
	"github.com/idgraph/cdp/graph"
)

// previewAudience and profiles(filter): a filter evaluated now over the
// live profiles, with nothing saved. Both evaluate in Go through
// audience/keep (its Subjects and Preview), on either store, so they agree
// with the membership the keeper writes; both scan profiles in id order,
// and cost in proportion to the profiles scanned.

// Sizes of AudiencePreview.sample.
const (
	defaultPreviewSample = 10
	maxPreviewSample     = 100
)

// scanCost is the price of a field that scans the live profiles
// (previewAudience, a filtered profiles): at the default complexity limit,
// at most 40 of them per operation.
const scanCost = 500

// fitCost is the price of fitting a lookalike model (intel.Train): at full
// size (5,000 members and 20,000 others of 500 features) about five
// seconds of CPU and 100 MB, ten times a scan; at the default complexity
// limit, at most three lookalikes per operation.
const fitCost = 10 * scanCost

// keeper is an audience keeper over the engine, the audience store and
// the consent ledger (Config.Audiences and Config.Consent, or the engine's
// store); previews and filtered pages write nothing through it.
func (r *Resolver) keeper() (*keep.Keeper, audience.Store, error) {
	st, err := r.audienceStore()
	if err != nil {
		return nil, nil, err
	}
	cs, err := r.consentStore()
	if err != nil {
		return nil, nil, err
	}
	return keep.New(r.engine, st, cs, nil), st, nil
}

// queryFilter converts and checks a filter argument as createAudience
// checks its input.filter, errors naming path ("filter.and[1]...").
func (r *Resolver) queryFilter(ctx context.Context, st audience.Store, in *gql.AudienceFilter, path string) (*audience.Filter, error) {
	if err := emptyGiven(in, path); err != nil {
		return nil, err
	}
	f := filterFromInput(in)
	if _, err := audience.EncodeFilter(f); err != nil {
		return nil, graph.Errorf(graph.ErrorCode(err), "argument %q: %s", path, graph.ErrorMessage(err))
	}
	if err := r.checkFilter(ctx, st, &f, path); err != nil {
		return nil, err
	}
	return &f, nil
}

// previewPurpose checks the purpose argument as createAudience checks
// input.purpose.
// settle runs Config.Settle, when set.
func (r *Resolver) settle(ctx context.Context) {
	if r.cfg.Settle != nil {
		r.cfg.Settle(ctx)
	}
}

func (r *Resolver) previewPurpose(purpose *string) (string, error) {
	if purpose == nil {
		return "", nil
	}
	ps, err := r.purposes()
	if err != nil {
		return "", err
	}
	switch {
	case *purpose == "":
		return "", invalidArg("purpose", "must not be empty; leave it out for a preview without a purpose")
	case !ps.Known(*purpose):
		return "", invalidArg("purpose", "is not a known purpose; the purposes are %s", ps.String())
	}
	return *purpose, nil
}

func (r *Resolver) previewAudience(ctx context.Context, in gql.AudienceFilter, purpose *string) (*gql.AudiencePreview, error) {
	k, st, err := r.keeper()
	if err != nil {
		return nil, domainErr(err)
	}
	p, err := r.previewPurpose(purpose)
	if err != nil {
		return nil, domainErr(err)
	}
	f, err := r.queryFilter(ctx, st, &in, "filter")
	if err != nil {
		return nil, filterErr(err)
	}
	// One scan gives the count and the largest sample any selection may
	// ask for.
	r.settle(ctx)
	n, ids, err := k.Preview(ctx, f, p, maxPreviewSample)
	if err != nil {
		return nil, domainErr(err)
	}
	return &gql.AudiencePreview{Count: n, SampleIDs: ids}, nil
}

// previewSample loads the first first profiles of a preview through the
// request's loaders. A profile merged away or erased since the preview
// read it is left out.
func (r *Resolver) previewSample(ctx context.Context, pv *gql.AudiencePreview, first *int) ([]*graph.Profile, error) {
	n, err := checkPage("first", first, defaultPreviewSample, maxPreviewSample)
	if err != nil {
		return nil, err
	}
	ids := pv.SampleIDs[:min(n, len(pv.SampleIDs))]
	s := r.loaders(ctx)
	s.ownSibs.hint(ids)
	out := make([]*graph.Profile, 0, len(ids))
	for _, id := range ids {
		p, ok, err := s.profiles.load(ctx, id)
		if err != nil {
			if graph.ErrorCode(err) == graph.ENOTFOUND {
				continue
			}
			return nil, domainErr(err)
		}
		if !ok || p.ID != id || !p.Live() {
			continue
		}
		out = append(out, &p)
	}
	s.hintProfiles(out)
	return out, nil
}

// filteredProfiles serves Query.profiles with a filter: the profiles of q's
// range (q.After/q.Before, q.Reverse) are read in id order, a chunk at a
// time, each evaluated at the time of its chunk, until n+1 match (the one
// past the page tells whether there is more) or the range ends; a store
// that pages through matches itself (keep.Keeper.Page: Neo4j) gives the
// n+1 in one statement. totalCount is computed, by a count of every live
// profile (Preview), only when selected.
func (r *Resolver) filteredProfiles(ctx context.Context, in *gql.AudienceFilter, q graph.PageQuery, n int, after, before *string) (*gql.ProfileConnection, error) {
	k, st, err := r.keeper()
	if err != nil {
		return nil, domainErr(err)
	}
	f, err := r.queryFilter(ctx, st, in, "filter")
	if err != nil {
		return nil, filterErr(err)
	}
	want := n + 1
	var got []graph.Profile // in scan order
	// A store that pages through the matches itself (Neo4j) gives them in
	// one statement.
	pq := graph.PageQuery{After: q.After, Before: q.Before, Limit: want, Reverse: q.Reverse}
	ids, paged, err := k.Page(ctx, f, pq)
	if err != nil {
		return nil, domainErr(err)
	}
	if paged {
		// ProfilesByIDs follows merges: a match merged away since the page
		// was read comes back as its survivor, whose id would make a cursor
		// past matches not shown yet. It is left out, and the page is
		// filled from past the store's page, so that hasNextPage still
		// tells whether more follow; each round left one out, so the
		// rounds are few but for writes merging one page after another.
		for round := 0; ; round++ {
			ps, err := r.engine.ProfilesByIDs(ctx, ids)
			if err != nil {
				return nil, domainErr(err)
			}
			for j := range ids {
				id := ids[j]
				if q.Reverse {
					id = ids[len(ids)-1-j] // scan order: descending
				}
				if p, ok := ps[id]; ok && p.ID == id {
					got = append(got, p)
				}
			}
			if len(got) >= want || len(ids) < pq.Limit || round == maxRefillRounds {
				break
			}
			if q.Reverse {
				pq.Before = ids[0]
			} else {
				pq.After = ids[len(ids)-1]
			}
			pq.Limit = want - len(got)
			if ids, _, err = k.Page(ctx, f, pq); err != nil {
				return nil, domainErr(err)
			}
		}
	} else if got, err = r.scanFiltered(ctx, st, f, q, want); err != nil {
		return nil, domainErr(err)
	}
	more := len(got) > n
	got = got[:min(n, len(got))]
	if q.Reverse {
		slices.Reverse(got)
	}
	conn := &gql.ProfileConnection{
		Edges:    make([]*gql.ProfileEdge, len(got)),
		Nodes:    profilePtrs(got),
		PageInfo: &gql.PageInfo{HasNextPage: more, HasPreviousPage: after != nil},
	}
	if q.Reverse {
		conn.PageInfo.HasNextPage, conn.PageInfo.HasPreviousPage = before != nil, more
	}
	r.loaders(ctx).hintProfiles(conn.Nodes)
	for i, p := range conn.Nodes {
		conn.Edges[i] = &gql.ProfileEdge{Cursor: profileCursor(p.ID), Node: p}
	}
	if len(got) > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[len(got)-1].Cursor
	}
	if selects(ctx, "ProfileConnection", "totalCount") {
		r.settle(ctx)
		if conn.TotalCount, _, err = k.Preview(ctx, f, "", 0); err != nil {
			return nil, domainErr(err)
		}
	}
	return conn, nil
}

// maxRefillRounds bounds the pages filteredProfiles reads past the first
// to replace matches merged away meanwhile.
const maxRefillRounds = 8

// scanFiltered evaluates f in Go over the profiles of q's range, read in id
// order a chunk at a time, each chunk at its own time, until want match or
// the range ends; it returns them in scan order.
func (r *Resolver) scanFiltered(ctx context.Context, st audience.Store, f *audience.Filter, q graph.PageQuery, want int) ([]graph.Profile, error) {
	cs, err := r.consentStore()
	if err != nil {
		return nil, err
	}
	// An inAudience holds the named audience's purpose now, as the
	// keeper's Preview and Page read it.
	if f, err = f.WithPurposesOf(ctx, st); err != nil {
		return nil, err
	}
	defs, err := st.ComputedTraits(ctx)
	if err != nil {
		return nil, err
	}
	scan := q
	// Start small for a small page, and grow: a selective filter needs
	// many profiles per match.
	scan.Limit = min(graph.MaxPage, max(2*want, 64))
	var got []graph.Profile
	for len(got) < want {
		page, err := r.engine.Profiles(ctx, scan)
		if err != nil {
			return nil, err
		}
		ps := page.Profiles // ascending
		if len(ps) == 0 {
			break
		}
		ids := make([]string, len(ps))
		for i, p := range ps {
			ids[i] = p.ID
		}
		now := graph.Now()
		subs, err := keep.Subjects(ctx, r.engine, st, cs, defs, ids, now)
		if err != nil {
			return nil, err
		}
		for i := range ps {
			p := ps[i]
			if q.Reverse {
				p = ps[len(ps)-1-i]
			}
			if s, ok := subs[p.ID]; ok && f.Eval(s, now) {
				got = append(got, p)
				if len(got) == want {
					break
				}
			}
		}
		if q.Reverse {
			if !page.HasPrevious {
				break
			}
			scan.Before = ps[0].ID
		} else {
			if !page.HasNext {
				break
			}
			scan.After = ps[len(ps)-1].ID
		}
		scan.Limit = min(graph.MaxPage, 2*scan.Limit)
	}
	return got, nil
}

// selects reports whether the field being resolved, of type typ, selects
// the field name (through fragments too).
func selects(ctx context.Context, typ, name string) bool {
	if !graphql.HasOperationContext(ctx) || graphql.GetFieldContext(ctx) == nil {
		return true // outside an operation: compute everything
	}
	for _, f := range graphql.CollectFieldsCtx(ctx, []string{typ}) {
		if f.Name == name {
			return true
		}
	}
	return false
}

// pricePreview prices previewAudience as a scan of every profile, and its
// sample as a page of profiles.
func pricePreview(c *gql.ComplexityRoot) {
	c.Query.PreviewAudience = func(child int, _ gql.AudienceFilter, _ *string) int { return satAdd(scanCost, child) }
	c.AudiencePreview.Sample = func(child int, first *int) int {
		return satAdd(1, satMul(pageCost(first, defaultPreviewSample, maxPreviewSample), child))
	}
}
