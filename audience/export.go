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
