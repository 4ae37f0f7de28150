package audience

import (
	"context"
	"maps"
	"slices"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// Memberships returns the reader a data export (privacy.Exporter) lists a
// profile's audience memberships with: the audiences it is in now, each
// with its name, by audience id, in two store calls.
func Memberships(st Store) privacy.MembershipReader {
	return func(ctx context.Context, profileID string) ([]privacy.ExportMembership, error) {
		by, err := st.MembershipsOf(ctx, []string{profileID})
		if err != nil {
			return nil, err
		}
		ms := by[profileID]
		if len(ms) == 0 {
			return nil, nil
		}
		ids := make([]string, len(ms))
		for i, m := range ms {
			ids[i] = m.AudienceID
		}
		auds, err := st.Audiences(ctx, ids)
		if err != nil {
			return nil, err
		}
		out := make([]privacy.ExportMembership, 0, len(ms))
		for _, m := range ms {
			a, ok := auds[m.AudienceID]
			if !ok {
				continue // deleted between the two reads
			}
			out = append(out, privacy.ExportMembership{Audience: m.AudienceID, Name: a.Name, Since: m.Since})
		}
		return out, nil
	}
}

// ComputedOf returns the reader of a profile's stored computed values for
// data exports (privacy.Exporter.WithComputed), ordered by name: the
// values the keeper keeps in the profile's facts for the traits defined
// now (a value kept for an older definition, or none, is left out), and
// any value stored apart (a copy's ComputedValue records) for a trait the
// facts hold none of. A kept value of a windowed trait is dated when it
// was computed and expires at its next change; another holds until an
// event changes it, and is dated now.
func ComputedOf(st Store) privacy.ComputedReader {
	return func(ctx context.Context, profileID string) ([]privacy.ExportComputed, error) {
		defs, err := st.ComputedTraits(ctx)
		if err != nil {
			return nil, err
		}
		facts, err := st.Facts(ctx, []string{profileID})
		if err != nil {
			return nil, err
		}
		by, err := st.ComputedValues(ctx, []string{profileID})
		if err != nil {
			return nil, err
		}
		kept := map[string]ComputedFact{}
		for _, c := range facts[profileID].Computed {
			kept[c.Name] = c
		}
		now := graph.Now()
		out := map[string]privacy.ExportComputed{}
		for _, d := range defs {
			c, ok := kept[d.Name]
			if !ok || c.Version != ComputedVersion(d) || c.Value == nil {
				continue
			}
			e := privacy.ExportComputed{Name: d.Name, Value: c.Value, ComputedAt: now}
			if !c.From.IsZero() {
				e.ComputedAt = c.From
			}
			if !c.Until.IsZero() {
				t := c.Until
				e.Expires = &t
			}
			out[d.Name] = e
		}
		for name, v := range by[profileID] {
			if _, ok := out[name]; ok {
				continue
			}
			c := privacy.ExportComputed{Name: name, Value: v.Value, ComputedAt: v.ComputedAt}
			if !v.Expires.IsZero() {
				t := v.Expires
				c.Expires = &t
			}
			out[name] = c
		}
		list := make([]privacy.ExportComputed, 0, len(out))
		for _, name := range slices.Sorted(maps.Keys(out)) {
			list = append(list, out[name])
		}
		return list, nil
	}
}

// ChangeLog returns the reader of the audience log entries naming a
// person's profile ids for data exports
// (privacy.Exporter.WithAudienceChanges): a page of Store.ChangesOf, each
// entry with its audience's name, in two store calls.
func ChangeLog(st Store) privacy.AudienceChangeReader {
	return func(ctx context.Context, profileIDs []string, after *privacy.ExportAudienceChange, limit int) ([]privacy.ExportAudienceChange, error) {
		p := ProfileChangePage{Limit: limit}
		if after != nil {
			p.After = &Change{AudienceID: after.Audience, ProfileID: after.ProfileID, Kind: after.Change, At: after.At, Seq: after.Seq}
		}
		cs, err := st.ChangesOf(ctx, profileIDs, p)
		if err != nil || len(cs) == 0 {
			return nil, err
		}
		ids := make([]string, len(cs))
		for i, c := range cs {
			ids[i] = c.AudienceID
		}
		slices.Sort(ids)
		auds, err := st.Audiences(ctx, slices.Compact(ids))
		if err != nil {
			return nil, err
		}
		out := make([]privacy.ExportAudienceChange, len(cs))
		for i, c := range cs {
			// An audience deleted between the two reads has no name left.
			out[i] = privacy.ExportAudienceChange{Audience: c.AudienceID, Name: auds[c.AudienceID].Name,
				Change: c.Kind, ProfileID: c.ProfileID, At: c.At, Seq: c.Seq}
		}
		return out, nil
	}
}
