package resolver

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/gql"
	"github.com/idgraph/cdp/graph"
)

// priceLookalikes prices createLookalikeAudience as the lookalike it runs,
// two scans and a fit, plus the audience it answers.
func priceLookalikes(c *gql.ComplexityRoot) {
	c.Mutation.CreateLookalikeAudience = func(child int, _ string, _ int, _ string, _ *string) int {
		return satAdd(2*scanCost+fitCost, child)
	}
}

// survivorTries bounds enterSurvivors' rounds: each follows the merges
// committed during the one before.
const survivorTries = 3

// enterSurvivors enters in the static audience id, as its members, the
// survivors of those of enter that were merged away after lookalike chose
// them and before Keep saved them (Keep leaves out a profile no longer
// live): as a member merged away is replaced by its survivor, unless the
// survivor is a member already. An erased one stays out. Each round reads
// who is missing, where each went, and enters those; a merge committed
// meanwhile is followed by the next round, up to survivorTries, after
// which the keeper's replacement of members merged away covers the rest.
func (r *Resolver) enterSurvivors(ctx context.Context, st audience.Store, id string, enter []string) error {
	for range survivorTries {
		ms, err := st.MembershipsOf(ctx, enter)
		if err != nil {
			return err
		}
		var missing []string
		for _, p := range enter {
			if !slices.ContainsFunc(ms[p], func(m audience.Membership) bool { return m.AudienceID == id }) {
				missing = append(missing, p)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		ps, err := r.engine.ProfilesByIDs(ctx, missing)
		if err != nil {
			return err
		}
		var next []string
		for _, p := range missing {
			if s, ok := ps[p]; ok && s.ID != p && s.Live() {
				next = append(next, s.ID)
			}
		}
		slices.Sort(next)
		if enter = slices.Compact(next); len(enter) == 0 {
			return nil
		}
		// Entering a member changes nothing (Store.ApplyMembership).
		w := audience.KeepWrite{At: graph.Now(), Changes: []audience.MembershipChange{{AudienceID: id, Enter: enter, Static: true}}}
		if _, err := st.Keep(ctx, w); err != nil {
			return err
		}
	}
	return nil
}

// createLookalikeAudience saves lookalike(audienceID, size, purpose) as a
// new static audience: its definition first, then its members, each
// entering it (Store.Keep, which logs the changes and appends
// AUDIENCE_ENTERED to the feed) in the write that carries the audit
// entry, so a success is audited only once the members are in. Should
// the members' write fail, the audience is removed again.
func (r *Resolver) createLookalikeAudience(ctx context.Context, audienceID string, size int, name string, purpose *string) (*audience.Audience, error) {
	entry := newEntry(ctx, "createLookalikeAudience", "")
	fail := func(err error) (*audience.Audience, error) {
		r.auditFailure(ctx, entry, err)
		return nil, domainErr(err)
	}
	st, err := r.audienceStore()
	if err != nil {
		return fail(err)
	}
	id := audience.NewAudienceID()
	// The seed is named only when it has an audience id's shape: the log
	// holds no value of its own, and an email pasted for an id is one.
	seedName := "audience " + audienceID
	if !audience.ValidAudienceID(audienceID) {
		seedName = "an audienceId that is not an audience id"
	}
	entry.Reason = fmt.Sprintf("audience %s, the lookalike of %s", id, seedName)
	now := graph.Now()
	a := audience.Audience{ID: id, Name: name, Static: true, CreatedAt: now, UpdatedAt: now}
	if err := blankName("name", name); err != nil {
		return fail(err)
	}
	if err := a.Validate(); err != nil {
		msg := graph.ErrorMessage(err)
		if strings.HasPrefix(msg, "audience name") {
			return fail(invalidArg("name", "%s", strings.TrimPrefix(msg, "audience name ")))
		}
		return fail(err)
	}
	// lookalike checks audienceId, size and purpose, and gives the live
	// profiles it found, best first.
	ms, err := r.lookalike(ctx, audienceID, size, purpose)
	if err != nil {
		return fail(err)
	}
	if purpose != nil {
		a.Purpose = *purpose
	}
	enter := make([]string, len(ms))
	for i, m := range ms {
		enter[i] = m.Profile.ID
	}
	a.Description = fmt.Sprintf("The %d profiles most like the members of audience %s on %s (lookalike, size %d).",
		len(enter), audienceID, now.UTC().Format("2006-01-02 15:04 UTC"), size)
	wctx, alone := r.auditedWrite(ctx, st, entry)
	if len(enter) == 0 {
		if err := st.PutAudience(wctx, a); err != nil {
			return fail(err)
		}
	} else {
		if err := st.PutAudience(ctx, a); err != nil {
			return fail(err)
		}
		w := audience.KeepWrite{At: graph.Now(), Changes: []audience.MembershipChange{{AudienceID: id, Enter: enter, Static: true}}}
		if _, err := st.Keep(wctx, w); err != nil {
			if _, derr := st.DeleteAudience(context.WithoutCancel(ctx), id); derr != nil {
				err = fmt.Errorf("%w (and the audience without its members was not removed: %v)", err, derr)
			}
			return fail(err)
		}
		if err := r.enterSurvivors(ctx, st, id, enter); err != nil {
			return nil, domainErr(err)
		}
	}
	alone()
	got, ok, err := storedAudience(ctx, st, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, graph.Errorf(graph.ENOTFOUND, "audience %s was deleted as it was saved", id)
	}
	return got, nil
}
