package graph

import (
	"context"
	"slices"
	"time"
)

// TouchProfiles marks the live profiles among ids as changed at now (their
// UpdatedAt), inside tx: for a change kept beside the graph that what is
// derived from a profile reads, such as a consent decision. The audience
// keeper tells by UpdatedAt whether a profile changed after it read it
// (audience.KeepWrite.Read), so a change that leaves UpdatedAt alone
// could be overwritten by an evaluation of the profile as it was before.
// UpdatedAt never moves back: a profile already stamped at or after now
// moves one microsecond on.
func TouchProfiles(ctx context.Context, tx Tx, ids []string, now time.Time) error {
	w := &Write{At: Clean(now)}
	if err := touchInto(ctx, tx, w, ids); err != nil || len(w.PutProfiles) == 0 {
		return err
	}
	return tx.Apply(ctx, w)
}

// touchInto locks the live profiles among ids and adds them to w's
// PutProfiles with UpdatedAt moved on to w.At (later).
func touchInto(ctx context.Context, tx Tx, w *Write, ids []string) error {
	ids = slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return id == "" })
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	ps, err := tx.LockProfiles(ctx, ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		p, ok := ps[id]
		if !ok || !p.Live() {
			continue
		}
		p.UpdatedAt = later(p.UpdatedAt, w.At)
		w.PutProfiles = append(w.PutProfiles, p)
	}
	return nil
}

// later is now when it is after was, else was plus one microsecond: a
// stamp that moves on and never back.
func later(was, now time.Time) time.Time {
	now = Clean(now)
	if now.After(was) {
		return now
	}
	return Clean(was).Add(time.Microsecond)
}
