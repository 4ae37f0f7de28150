package audience

import (
	"context"
	"maps"
	"slices"

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
// data exports (privacy.Exporter.WithComputed), ordered by name.
func ComputedOf(st Store) privacy.ComputedReader {
	return func(ctx context.Context, profileID string) ([]privacy.ExportComputed, error) {
		by, err := st.ComputedValues(ctx, []string{profileID})
		if err != nil {
			return nil, err
		}
		vals := by[profileID]
		out := make([]privacy.ExportComputed, 0, len(vals))
		for _, name := range slices.Sorted(maps.Keys(vals)) {
			v := vals[name]
			c := privacy.ExportComputed{Name: name, Value: v.Value, ComputedAt: v.ComputedAt}
			if !v.Expires.IsZero() {
				t := v.Expires
				c.Expires = &t
			}
			out = append(out, c)
		}
		return out, nil
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
