// Package keep keeps audience membership: it reads what a filter needs of
// a batch of profiles (Subjects), evaluates every stored audience over
// them, and writes only the differences to the audience store (Keeper).
//
// # What a profile is evaluated on
//
// A Subject is built for the live profiles among the ids asked for; no
// merge redirect is followed, so an id merged away, erased or unknown has
// no Subject, and the Keeper makes such a profile exit every audience it
// is in (the survivor of a merge is evaluated under its own id).
//
//   - Traits: the values of graph.FoldTraits over the profile's members.
//   - Identifiers: the members.
//   - Events: every event BY any member, each once, read in one
//     ReadTx.EventsBy call over all member keys of the batch, and shown
//     as the engine's journeys show them: an event whose highest-priority
//     identifier belongs to another profile is Shared, with its
//     Properties and Traits withheld. The read is bounded by the events
//     of the batch: callers pass batches of at most BatchSize profiles
//     (Refresh splits larger ones), and a profile with very many events
//     costs memory in proportion.
//   - Consent: the records of every member key, in one ConsentOf call.
//   - Computed: each definition's ComputedTrait.Compute over those events
//     at now, so that windowed values are right at now whatever the store
//     last kept; a nil value (no event had one) is left out, which a
//     filter reads as missing either way.
//   - Audiences: the kept memberships (audience.Store.MembershipsOf).
//
// # Kept membership
//
// A profile is a member of an audience when the audience's filter holds
// for it at now and, if the audience has a Purpose, its consent state for
// that purpose (privacy.StateOf over all its records) is GRANTED. An
// inAudience condition reads the kept membership of the audience it names
// and, when that audience has a purpose, the consent state for it at now
// (audience.Filter.WithPurposes), as the audience's members are listed:
// a member that withdrew, or whose grant expired, does not count before
// the named audience's evaluation makes it exit.
// Refresh evaluates audiences in an order that puts an audience after the
// audiences it refers to (a topological order over inAudience), and an
// audience evaluated earlier in the same Refresh is read with its new
// membership: one Refresh settles a chain. The stores refuse cycles
// when an audience is saved (audience.FindCycle, in the transaction of
// the put); should one be stored anyway (a restored backup), it is
// broken deterministically (the audience with the smallest id among
// those left goes first), so a Refresh always ends; an audience in a
// cycle then reads the membership its predecessor had at the time.
//
// A static audience (audience.Audience.Static) has no filter: its members
// were written once, and nobody ever enters it by evaluation. A member
// that is no longer live exits it, and when it was merged away, the live
// profile it resolves to (graph.Engine.ProfilesByIDs) enters in its
// place, whether Refresh is given its id or RefreshAll finds it stale
// (RefreshAll does so for static audiences before evaluating the others,
// so that an inAudience naming one reads the survivor). Its purpose, when
// it has one, is enforced like any audience's: whenever the keeper
// evaluates a live member (Refresh of the profiles a write touched, a
// consent decision included; RefreshAll, which a change of the purpose
// by updateAudience asks for; RefreshDue, for a grant that expires), a
// member whose consent state for the purpose is not GRANTED exits (the
// survivor that just took a member's place included). Such an exit is
// final: a person who grants again does not enter again. It is written
// checked against the read, as an evaluation is (a profile written since,
// say merged with a profile that holds a grant, is evaluated again
// instead), and never unchecked: on a round written unchecked it waits
// for the round that the writes that outran it queued. RefreshDue skips
// a static audience without a purpose.
//
// # Facts
//
// Every Refresh, RefreshAll and RefreshDue also writes the facts
// (audience.FactsAt: the Subject's summary and its computed values, with
// the version of each definition and how long each value holds) of the
// live profiles it read (but for a round written unchecked, see
// refreshFresh), and deletes those of the ids it was given that
// are not live; Refresh and RefreshAll do so even when no audience is
// stored, computing the values of every stored definition then too.
// Preview evaluates on them (audience.Filter.EvalFacts) and reads a
// profile in full only when they cannot decide, so its count is as of
// each profile's last refresh.
package keep

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// BatchSize is the most profiles Refresh reads at once.
const BatchSize = graph.MaxPage

// Subjects returns the Subjects of the live profiles among profileIDs, at
// now, in a fixed number of store calls for the whole batch: one read
// transaction (profiles, members, events), one ConsentOf and one
// MembershipsOf. A profile merged away, erased or unknown is absent.
func Subjects(ctx context.Context, eng *graph.Engine, st audience.Store, cs privacy.ConsentStore, defs []audience.ComputedTrait, profileIDs []string, now time.Time) (map[string]*audience.Subject, error) {
	subs, _, _, err := load(ctx, eng, st, cs, defs, profileIDs, now)
	return subs, err
}

// load is Subjects that also returns the kept memberships of every id
// asked for, live or not, by profile id and then audience id, and the
// UpdatedAt of every stored profile among them as read (KeepWrite.Read).
//
// The profiles are read first: consent and kept memberships read later
// are as new or newer. A profile written after its read is then refused
// by Store.Keep, whatever else this read of it saw.
func load(ctx context.Context, eng *graph.Engine, st audience.Store, cs privacy.ConsentStore, defs []audience.ComputedTrait, profileIDs []string, now time.Time) (map[string]*audience.Subject, map[string]map[string]bool, map[string]time.Time, error) {
	ids, subs, read, owner, keys, err := readProfiles(ctx, eng, profileIDs)
	if err != nil {
		return nil, nil, nil, err
	}
	kept := map[string]map[string]bool{}
	if len(ids) == 0 {
		return subs, kept, read, nil
	}
	if len(keys) > 0 {
		recs, err := cs.ConsentOf(ctx, keys)
		if err != nil {
			return nil, nil, nil, err
		}
		for k, rs := range recs {
			if pid, ok := owner[k]; ok {
				subs[pid].Consent = append(subs[pid].Consent, rs...)
			}
		}
	}
	ms, err := st.MembershipsOf(ctx, ids)
	if err != nil {
		return nil, nil, nil, err
	}
	for pid, list := range ms {
		for _, m := range list {
			if kept[pid] == nil {
				kept[pid] = map[string]bool{}
			}
			kept[pid][m.AudienceID] = true
		}
	}
	for pid, s := range subs {
		maps.Copy(s.Audiences, kept[pid])
	}
	computeAll(subs, defs, now)
	return subs, kept, read, nil
}

// computeAll sets the Computed values of every Subject of subs: each
// definition's Compute over its events at now, a nil value left out.
func computeAll(subs map[string]*audience.Subject, defs []audience.ComputedTrait, now time.Time) {
	for _, s := range subs {
		for _, d := range defs {
			if v := d.Compute(s.Events, now); v != nil {
				s.Computed[d.Name] = v
			}
		}
	}
}

// readProfiles reads, in one read transaction, the live profiles among
// profileIDs: Subjects with their Traits, Identifiers and Events only. It
// also returns the ids asked for (sorted, each once, no empty one), the
// UpdatedAt of each of them as read (the zero time for one not stored),
// the owner of each member key and every member key, sorted.
func readProfiles(ctx context.Context, eng *graph.Engine, profileIDs []string) (ids []string, subs map[string]*audience.Subject, read map[string]time.Time, owner map[string]string, keys []string, err error) {
	ids = slices.DeleteFunc(slices.Clone(profileIDs), func(id string) bool { return id == "" })
	slices.Sort(ids)
	ids = slices.Compact(ids)
	subs = map[string]*audience.Subject{}
	read = map[string]time.Time{}
	owner = map[string]string{} // member key -> profile id
	if len(ids) == 0 {
		return ids, subs, read, owner, nil, nil
	}
	var members map[string][]graph.Identifier
	var events []graph.Event
	err = eng.Store().View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
		members, events = nil, nil
		clear(read)
		ps, err := tx.Profiles(ctx, ids)
		if err != nil {
			return err
		}
		var live []string
		for _, id := range ids {
			// An id not stored is read with the zero time: profile ids
			// come back (a person erased and seen again gets the id her
			// identifier seeds), and Keep must then tell that this read
			// is stale.
			p, ok := ps[id]
			read[id] = time.Time{}
			if ok && p.ID == id {
				read[id] = graph.Clean(p.UpdatedAt)
			}
			if ok && p.Live() {
				live = append(live, id)
			}
		}
		if len(live) == 0 {
			members = map[string][]graph.Identifier{}
			return nil
		}
		if members, err = tx.Members(ctx, live); err != nil {
			return err
		}
		var keys []string
		for _, ms := range members {
			for _, m := range ms {
				keys = append(keys, m.Key)
			}
		}
		if len(keys) == 0 {
			return nil
		}
		slices.Sort(keys)
		events, err = tx.EventsBy(ctx, keys)
		return err
	})
	if err != nil {
		return nil, nil, nil, nil, nil, err
	}
	// A live profile has members; one read with none (erased between
	// reads) is not evaluated.
	for pid, ms := range members {
		if len(ms) == 0 {
			continue
		}
		s := &audience.Subject{
			Traits:      map[string]any{},
			Identifiers: ms,
			Computed:    map[string]any{},
			Audiences:   map[string]bool{},
		}
		for name, tv := range graph.FoldTraits(ms) {
			s.Traits[name] = tv.Value
		}
		for _, m := range ms {
			owner[m.Key] = pid
			keys = append(keys, m.Key)
		}
		subs[pid] = s
	}
	norm := eng.Normalizer()
	for i := range events {
		ev := &events[i]
		seen := map[string]bool{}
		for _, k := range ev.Keys {
			pid, ok := owner[k]
			if !ok || seen[pid] {
				continue
			}
			seen[pid] = true
			subs[pid].Events = append(subs[pid].Events, view(norm, *ev, pid, owner))
		}
	}
	slices.Sort(keys)
	return ids, subs, read, owner, keys, nil
}

// view shows ev as part of profile pid, as the engine's journeys do: only
// pid's keys, and, unless pid holds the event's highest-priority
// identifier, Shared with no Properties or Traits.
func view(norm *graph.Normalizer, ev graph.Event, pid string, owner map[string]string) graph.Event {
	keys := slices.Clone(ev.Keys)
	norm.SortByPriority(keys)
	if len(keys) > 0 && owner[keys[0]] != pid {
		ev.Shared, ev.Properties, ev.Traits = true, nil, nil
	}
	ev.Keys = slices.DeleteFunc(keys, func(k string) bool { return owner[k] != pid })
	return ev
}
