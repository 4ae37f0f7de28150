package audience

// Erasure of audience data.
//
// An erasure (privacy.Eraser) deletes profiles: the profile ForgetProfile
// erases and every profile that redirects to it. Kept membership names
// profiles by id, so without more the erased ids would stay members, in
// exports, and in the change log, where the keeper's next run would even
// add an EXITED row naming them. ForgetInTx removes them, in the erasure's
// own transaction, so that the erasure commits with no audience trace or
// not at all.

import (
	"context"
	"fmt"
	"slices"

	"github.com/idgraph/cdp/graph"
)

// Forgotten counts what ForgetInTx deleted.
type Forgotten struct {
	Memberships int // memberships of erased profiles, each one less in its audience's Size
	Changes     int // change log rows naming an erased profile, ENTERED and EXITED alike
	Values      int // computed values of erased and changed profiles
}

// TxForget is implemented by the graph.Tx of every store's write
// transaction: ForgetProfiles works inside that transaction and sees its
// writes.
type TxForget interface {
	// ForgetProfiles deletes, for each erased profile id, its memberships
	// in every audience (decrementing each audience's Size, leaving Seq
	// and RefreshedAt as they are), every change row naming it, and its
	// computed values; for each changed profile id, only its computed
	// values (they may hold erased values; its memberships stay, for the
	// keeper to evaluate again). It logs no change. An id that names
	// nothing is skipped. On Neo4j it is a fixed number of statements,
	// whatever the number of ids.
	ForgetProfiles(ctx context.Context, erased, changed []string) (Forgotten, error)
}

// ForgetInTx runs TxForget.ForgetProfiles inside tx, a store's write
// transaction (an erasure's: see privacy.ReceiptHook and graph.EraseHook),
// then deletes the stored facts of every profile named, erased or changed.
// An id in both lists counts as erased.
//
// Errors: the store's; EINVALID for an empty id; an internal error when
// tx's store does not implement TxForget.
func ForgetInTx(ctx context.Context, tx graph.Tx, erased, changed []string) (Forgotten, error) {
	f, ok := tx.(TxForget)
	if !ok {
		return Forgotten{}, fmt.Errorf("audience: the store's transaction %T cannot forget audience data", tx)
	}
	gone := map[string]bool{}
	var e, c []string
	for _, id := range erased {
		if id == "" {
			return Forgotten{}, graph.Errorf(graph.EINVALID, "an erased profile id is empty")
		}
		if !gone[id] {
			gone[id] = true
			e = append(e, id)
		}
	}
	for _, id := range changed {
		if id == "" {
			return Forgotten{}, graph.Errorf(graph.EINVALID, "a changed profile id is empty")
		}
		if !gone[id] {
			gone[id] = true
			c = append(c, id)
		}
	}
	if len(e) == 0 && len(c) == 0 {
		return Forgotten{}, nil
	}
	// Sorted, so that concurrent erasures touch audiences in one order.
	slices.Sort(e)
	slices.Sort(c)
	out, err := f.ForgetProfiles(ctx, e, c)
	if err != nil {
		return out, err
	}
	// Facts hold identifier keys and trait values: those of every profile
	// the erasure touched go too, and a profile that stays is read in full
	// until the keeper writes its facts again.
	if err := DeleteFactsInTx(ctx, tx, append(append([]string(nil), e...), c...)); err != nil {
		return out, err
	}
	return out, nil
}

// ErasureProfiles returns what an erasure's write w does to profiles:
// erased, the profiles it deletes (Write.DeleteProfiles), and changed,
// every other profile it writes or assigns identifiers to (the profile
// an identifier was erased from, and the parts split off it).
func ErasureProfiles(w *graph.Write) (erased, changed []string) {
	if w == nil {
		return nil, nil
	}
	deleted := map[string]bool{}
	for _, id := range w.DeleteProfiles {
		if !deleted[id] {
			deleted[id] = true
			erased = append(erased, id)
		}
	}
	seen := map[string]bool{}
	add := func(id string) {
		if id != "" && !deleted[id] && !seen[id] {
			seen[id] = true
			changed = append(changed, id)
		}
	}
	for _, p := range w.PutProfiles {
		add(p.ID)
	}
	for _, a := range w.Assign {
		add(a.ProfileID)
	}
	slices.Sort(erased)
	slices.Sort(changed)
	return erased, changed
}

// ForgetErasureInTx is ForgetInTx for the profiles of an erasure's write
// w (ErasureProfiles) and x: call it from the erasure's hook.
//
// The other people the erasure changed (scrubbedProfiles: they shared an
// event with the erased person, or their traits held the erased values)
// count as changed too, since their facts and computed values may hold a
// scrubbed value; others returns them, for the caller to have their
// audiences evaluated again.
func ForgetErasureInTx(ctx context.Context, tx graph.Tx, w *graph.Write, x *graph.Erasure) (f Forgotten, others []string, err error) {
	if others, err = scrubbedProfiles(ctx, tx, w, x); err != nil {
		return Forgotten{}, nil, err
	}
	erased, changed := ErasureProfiles(w)
	f, err = ForgetInTx(ctx, tx, erased, append(changed, others...))
	return f, others, err
}

// scrubbedProfiles returns, read inside tx after the erasure's write w is
// applied, the profiles of the identifiers that stay and shared an event
// with the erased ones or had their traits scrubbed (x.Others, and w's
// trait rewrites): the other people an erasure changes. One read.
func scrubbedProfiles(ctx context.Context, tx graph.ReadTx, w *graph.Write, x *graph.Erasure) ([]string, error) {
	var keys []string
	if x != nil {
		keys = append(keys, x.Others...)
	}
	if w != nil {
		for _, t := range w.Traits {
			keys = append(keys, t.Key)
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	slices.Sort(keys)
	ids, err := tx.Identifiers(ctx, slices.Compact(keys))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, id := range ids {
		if id.ProfileID != "" {
			out = append(out, id.ProfileID)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
