package destination

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// Payload is the JSON body of one delivery.
type Payload struct {
	DeliveryID    string         `json:"deliveryId"`
	DestinationID string         `json:"destinationId"`
	Entries       []PayloadEntry `json:"entries"`
}

// PayloadEntry is one feed entry as delivered, with the profile as it is
// when the batch is sent.
type PayloadEntry struct {
	Seq         uint64    `json:"seq"`
	Kind        string    `json:"kind"`
	At          time.Time `json:"at"`
	ProfileID   string    `json:"profileId,omitempty"`
	PreviousIDs []string  `json:"previousIds,omitempty"`
	EventID     string    `json:"eventId,omitempty"`
	AudienceID  string    `json:"audienceId,omitempty"`
	// Profile is the live profile ProfileID resolves to now (the survivor
	// after a merge); nil when there is none (erased).
	Profile *PayloadProfile `json:"profile"`
}

// PayloadProfile is a profile's identifiers and traits, masked unless the
// destination includes personal data.
type PayloadProfile struct {
	ID          string              `json:"id"`
	Identifiers []PayloadIdentifier `json:"identifiers"`
	Traits      map[string]any      `json:"traits"`
}

// PayloadIdentifier is one identifier of a profile.
type PayloadIdentifier struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Profiles reads what a payload says of profiles: the engine, the consent
// ledger, the masker of the rules' personal data and the audiences (whose
// purposes hold when their entries are sent).
type Profiles struct {
	Engine  *graph.Engine
	Consent privacy.ConsentStore
	Masker  *access.Masker
	// Audiences reads the audiences entries name; nil when the store
	// holds none.
	Audiences AudienceReader
}

// AudienceReader reads stored audiences and kept memberships:
// audience.Store's methods.
type AudienceReader interface {
	Audiences(ctx context.Context, ids []string) (map[string]audience.Audience, error)
	MembershipsOf(ctx context.Context, profileIDs []string) (map[string][]audience.Membership, error)
}

// Build makes the body of delivery dl for d at now: every entry d's kinds
// and audiences select now (Selects; d may have been updated since the
// batch was taken), with its profile's current identifiers and traits
// (masked unless d.IncludePII),
// leaving out the entries of profiles erased since (but Forgotten ones),
// and erased profiles from previous ids (withoutErasedPrevious), and the
// EventAdded entries of events an erasure deleted since
// (withoutDeletedEvents),
// and, when d has a purpose, those of profiles whose consent state for it
// is not GRANTED (an erased profile has none). An audience's purpose holds
// as d's does, on the entries of that audience, whatever d's purpose: an
// AudienceEntered entry of a profile that does not grant it now (a
// withdrawal since the batch was taken) is left out, and an
// AudienceExited one is sent without its profile. An audience deleted
// since its entries were written took its purpose with it: its
// AudienceEntered entries are left out, its AudienceExited ones sent
// without their profile.
//
// The entries that tell d to drop what it holds of a profile are sent
// whatever d's purpose and audiences (Removal): a Forgotten entry, and,
// when d has a purpose, a ConsentChanged entry of a profile that once
// granted it and no longer does, and an AudienceExited entry (of one of
// d's audiences) of a profile that does not grant it now, whatever its
// records show now. Sent because of that alone, such an entry carries no
// profile (Profile nil): only the profile id the feed entry names. Nor
// does the AudienceExited entry of a profile merged into one that is a
// member of that audience now: the person stays in it.
//
// It returns the body, how many entries it holds, and the ids of the live
// profiles it describes.
func (p Profiles) Build(ctx context.Context, d Destination, dl Delivery, now time.Time) ([]byte, int, []string, error) {
	// d's kinds and audiences as they are now: an update since the batch
	// was taken (while it failed, or before a dead letter's replay) may
	// have narrowed them.
	entries := slices.DeleteFunc(slices.Clone(dl.Entries), func(e graph.FeedEntry) bool {
		return !Selects(d, e)
	})
	ids := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.ProfileID != "" {
			ids = append(ids, e.ProfileID)
		}
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	live, err := p.Engine.ProfilesByIDs(ctx, ids)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("read profiles: %w", err)
	}
	if entries, err = p.withoutErasedPrevious(ctx, entries, live); err != nil {
		return nil, 0, nil, err
	}
	if entries, err = p.withoutDeletedEvents(ctx, entries, live); err != nil {
		return nil, 0, nil, err
	}
	var pids []string
	for _, pr := range live {
		pids = append(pids, pr.ID)
	}
	pids = slices.Compact(slices.Sorted(slices.Values(pids)))
	members, err := p.Engine.Members(ctx, pids)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("read identifiers: %w", err)
	}
	// The purposes of the audiences the entries name: an entry of an
	// audience with a purpose is sent only of a profile that grants it
	// now, as d's own purpose is held.
	audPurpose, audGone, err := p.audiencePurposes(ctx, entries)
	if err != nil {
		return nil, 0, nil, err
	}
	stays, err := p.survivorsStaying(ctx, entries, live)
	if err != nil {
		return nil, 0, nil, err
	}
	// granted: the profile's state for d.Purpose is GRANTED now; once: it
	// has a GRANTED record for it, current or not (among the records it
	// holds now: a split or removeIdentifier takes an identifier's
	// records away with it); grants: its purposes GRANTED now, of those
	// of d and of the audiences.
	granted, once := map[string]bool{}, map[string]bool{}
	grants := map[string]map[string]bool{}
	if d.Purpose != "" || len(audPurpose) > 0 {
		var keys []string
		for _, ms := range members {
			for _, m := range ms {
				keys = append(keys, m.Key)
			}
		}
		records := map[string][]privacy.Record{}
		if len(keys) > 0 {
			records, err = p.Consent.ConsentOf(ctx, keys)
			if err != nil {
				return nil, 0, nil, fmt.Errorf("read consent: %w", err)
			}
		}
		for pid, ms := range members {
			var mine []privacy.Record
			for _, m := range ms {
				mine = append(mine, records[m.Key]...)
			}
			grants[pid] = map[string]bool{}
			for _, purpose := range audPurpose {
				grants[pid][purpose] = privacy.StateOf(mine, purpose, now).State == privacy.StateGranted
			}
			if d.Purpose == "" {
				continue
			}
			granted[pid] = privacy.StateOf(mine, d.Purpose, now).State == privacy.StateGranted
			once[pid] = slices.ContainsFunc(mine, func(r privacy.Record) bool {
				return r.Purpose == d.Purpose && r.Status == privacy.StatusGranted
			})
		}
	}
	profiles := map[string]*PayloadProfile{}
	for _, pid := range pids {
		ms := members[pid]
		pp := &PayloadProfile{ID: pid, Identifiers: make([]PayloadIdentifier, 0, len(ms)), Traits: map[string]any{}}
		for _, m := range ms {
			v := m.Value
			if !d.IncludePII {
				v = p.Masker.Value(m.Type, v)
			}
			pp.Identifiers = append(pp.Identifiers, PayloadIdentifier{Type: m.Type, Value: v})
		}
		folded := graph.FoldTraits(ms)
		for _, name := range slices.Sorted(maps.Keys(folded)) {
			pp.Traits[name] = folded[name].Value
		}
		if !d.IncludePII {
			pp.Traits = p.Masker.Traits(pp.Traits)
			// The person's values inside traits of other names (a
			// website's query holding their email), as answers hide them.
			if h, ok := p.Masker.Hide(p.Masker.MembersFinder(p.Engine.Normalizer(), ms), pp.Traits); ok {
				pp.Traits = h.(map[string]any)
			}
		}
		profiles[pid] = pp
	}
	out := Payload{DeliveryID: dl.ID, DestinationID: d.ID, Entries: make([]PayloadEntry, 0, len(entries))}
	var described []string
	for _, e := range entries {
		var pp *PayloadProfile
		if pr, ok := live[e.ProfileID]; ok {
			pp = profiles[pr.ID]
		} else if e.Kind != graph.FeedForgotten {
			// Erased since the batch was taken: only the erasure's own
			// Forgotten entries may name the profile.
			continue
		}
		// Entries of other audiences were left out above: one with none
		// here is there only as a removal.
		selected := (len(d.AudienceIDs) == 0 || e.AudienceID != "") && (d.Purpose == "" || (pp != nil && granted[pp.ID]))
		if !selected {
			withdrawn := pp != nil && !granted[pp.ID] && once[pp.ID]
			// An exit from one of d's audiences of a profile that does not
			// grant d's purpose now: d may hold it as a member, and the
			// exit the keeper writes may be the only word of the lost
			// grant (an expiry writes no ConsentChanged entry; a split or
			// removeIdentifier takes the granting identifier's records
			// away, so the profile's records no longer show it once
			// granted). Sent bare, an exit says nothing personal.
			lapsed := d.Purpose != "" && pp != nil && !granted[pp.ID] && e.Kind == graph.FeedAudienceExited &&
				(len(d.AudienceIDs) == 0 || e.AudienceID != "")
			if !lapsed && (!Removal(d, e.Kind) || (e.Kind == graph.FeedConsentChanged && !withdrawn)) {
				continue
			}
			pp = nil // d's settings select neither the profile nor the entry
		}
		if ap := audPurpose[e.AudienceID]; ap != "" && pp != nil && !grants[pp.ID][ap] {
			// The audience's purpose is not granted now: an entry says
			// nothing of a person who has withdrawn since, an exit
			// tells the destination to drop the profile, bare.
			if e.Kind != graph.FeedAudienceExited {
				continue
			}
			pp = nil
		}
		if audGone[e.AudienceID] {
			// The audience was deleted since: its purpose, which went
			// with it, can no longer be held. An entry into it says
			// nothing worth a person's data, and an exit goes bare.
			if e.Kind != graph.FeedAudienceExited {
				continue
			}
			pp = nil
		}
		if pp != nil && e.Kind == graph.FeedAudienceExited && pp.ID != e.ProfileID && stays[[2]string{e.AudienceID, pp.ID}] {
			// The exit of an id merged into a member: the person is
			// still in the audience, under the survivor's id, and the
			// survivor's identifiers must not read as leaving it.
			pp = nil
		}
		if pp != nil {
			described = append(described, pp.ID)
		}
		out.Entries = append(out.Entries, PayloadEntry{Seq: e.Seq, Kind: string(e.Kind), At: e.At, ProfileID: e.ProfileID,
			PreviousIDs: e.PreviousIDs, EventID: e.EventID, AudienceID: e.AudienceID, Profile: pp})
	}
	body, err := json.Marshal(out)
	if err != nil {
		return nil, 0, nil, err
	}
	return body, len(out.Entries), slices.Compact(slices.Sorted(slices.Values(described))), nil
}

// survivorsStaying returns the pairs (audience, survivor) of the
// AudienceExited entries of profiles merged away whose survivor is a
// member of that audience now: one read of the survivors' memberships,
// none when no such entry is among entries.
func (p Profiles) survivorsStaying(ctx context.Context, entries []graph.FeedEntry, live map[string]graph.Profile) (map[[2]string]bool, error) {
	if p.Audiences == nil {
		return nil, nil
	}
	var ids []string
	for _, e := range entries {
		if pr, ok := live[e.ProfileID]; ok && e.Kind == graph.FeedAudienceExited && pr.ID != e.ProfileID {
			ids = append(ids, pr.ID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	ms, err := p.Audiences.MembershipsOf(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("read memberships: %w", err)
	}
	out := map[[2]string]bool{}
	for pid, l := range ms {
		for _, m := range l {
			out[[2]string{m.AudienceID, pid}] = true
		}
	}
	return out, nil
}

// audiencePurposes returns the purposes of the audiences entries name,
// keyed by audience id, those without a purpose left out, and the ids of
// those no longer stored (deleted since their entries were written, with
// their purpose): one read, none when no entry names an audience.
func (p Profiles) audiencePurposes(ctx context.Context, entries []graph.FeedEntry) (map[string]string, map[string]bool, error) {
	if p.Audiences == nil {
		return nil, nil, nil
	}
	var ids []string
	for _, e := range entries {
		if e.AudienceID != "" {
			ids = append(ids, e.AudienceID)
		}
	}
	if len(ids) == 0 {
		return nil, nil, nil
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	found, err := p.Audiences.Audiences(ctx, ids)
	if err != nil {
		return nil, nil, fmt.Errorf("read audiences: %w", err)
	}
	out, gone := map[string]string{}, map[string]bool{}
	for _, id := range ids {
		a, ok := found[id]
		switch {
		case !ok:
			gone[id] = true
		case a.Purpose != "":
			out[id] = a.Purpose
		}
	}
	return out, gone, nil
}

// withoutErasedPrevious returns entries without the previous ids of
// profiles erased since the batch was taken (an erasure that commits while
// a worker holds the batch cannot redact the copy it holds), dropping a
// merge or split left naming no other profile, as Redact does (but an
// entry whose own profile is erased is left to Build): one read of
// the previous ids that live, the profiles the entries name, does not
// hold, and none when no entry has previous ids.
func (p Profiles) withoutErasedPrevious(ctx context.Context, entries []graph.FeedEntry, live map[string]graph.Profile) ([]graph.FeedEntry, error) {
	var ids []string
	for _, e := range entries {
		for _, id := range e.PreviousIDs {
			if _, ok := live[id]; !ok {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return entries, nil
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	found, err := p.Engine.ProfilesByIDs(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("read previous profiles: %w", err)
	}
	gone := map[string]bool{}
	for _, id := range ids {
		if _, ok := found[id]; !ok {
			gone[id] = true
		}
	}
	if len(gone) == 0 {
		return entries, nil
	}
	// Only previous ids: an entry naming an erased profile as its own is
	// Build's to weigh (an erasure's Forgotten entry is sent).
	out := make([]graph.FeedEntry, 0, len(entries))
	for _, e := range entries {
		if len(e.PreviousIDs) > 0 {
			prev := slices.DeleteFunc(slices.Clone(e.PreviousIDs), func(id string) bool { return gone[id] })
			if len(prev) == 0 {
				continue // a merge or split left naming no other profile
			}
			e.PreviousIDs = prev
		}
		out = append(out, e)
	}
	return out, nil
}

// withoutDeletedEvents returns entries without the EventAdded entries of
// live profiles whose event is no longer stored: an erasure of one
// identifier (forgetIdentifier, removeIdentifier) that commits while a
// worker holds the batch deletes the events only that identifier carried,
// and turns their feed entries into gaps, but cannot reach the copy the
// worker holds. One read of the events such entries name, none when there
// is no such entry; entries of profiles not live are Build's to weigh.
func (p Profiles) withoutDeletedEvents(ctx context.Context, entries []graph.FeedEntry, live map[string]graph.Profile) ([]graph.FeedEntry, error) {
	var ids []string
	for _, e := range entries {
		if _, ok := live[e.ProfileID]; ok && e.Kind == graph.FeedEventAdded && e.EventID != "" {
			ids = append(ids, e.EventID)
		}
	}
	if len(ids) == 0 {
		return entries, nil
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	found, err := p.Engine.Events(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	if len(found) == len(ids) {
		return entries, nil
	}
	return slices.DeleteFunc(entries, func(e graph.FeedEntry) bool {
		_, ok := live[e.ProfileID]
		_, stored := found[e.EventID]
		return ok && e.Kind == graph.FeedEventAdded && e.EventID != "" && !stored
	}), nil
}

// Selects reports whether d's kinds and audiences select entry e, or let
// it pass as a removal: what the worker takes into a batch, and what Build
// sends of a batch taken before d was updated.
func Selects(d Destination, e graph.FeedEntry) bool {
	if len(d.Kinds) > 0 && !slices.Contains(d.Kinds, e.Kind) {
		return false
	}
	return len(d.AudienceIDs) == 0 || slices.Contains(d.AudienceIDs, e.AudienceID) || Removal(d, e.Kind)
}

// Removal reports whether entries of kind k may tell destination d to
// drop what it holds of a profile, and so pass its purpose and audience
// filters: Forgotten entries (an erasure), and, when d has a purpose,
// ConsentChanged entries (Build sends those of a profile that once granted
// the purpose and no longer does). d's kinds still apply.
func Removal(d Destination, k graph.FeedKind) bool {
	return k == graph.FeedForgotten || (k == graph.FeedConsentChanged && d.Purpose != "")
}
