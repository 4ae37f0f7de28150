package destination

import (
	"context"
	"slices"
	"time"

	"github.com/idgraph/cdp/graph"
)

// Store is the destination contract every store implements. A store keeps
// the definitions, each destination's progress through the feed (Cursor),
// its lease, and its deliveries, apart from the identity graph: entries
// name profiles by id only and hold no personal value, like the feed.
//
// Progress is kept so that a process killed at any moment loses nothing:
// TakeBatch moves the cursor and stores the batch it covers in one
// transaction, and a batch stays in flight (PENDING or FAILED) until an
// attempt ends it, so a restarted process sends it again under the same
// delivery id.
//
// Errors: EINVALID for an argument that breaks the rules of Destination,
// DeliveryQuery or the method, naming it; ENOTFOUND for a destination that
// is not stored; ECONFLICT where the method says; store failures as
// graph.Store's. Times are kept as graph.Clean gives them.
type Store interface {
	// CreateDestination stores d (Check must pass; Cursor, LastNumber and
	// Lease are ignored) with its Cursor set to the feed head in the same
	// transaction, and returns it as stored. ECONFLICT when d.ID is
	// stored or MaxDestinations are; a *MissingAudienceError when an id
	// of d.AudienceIDs names no stored audience, checked in the same
	// transaction, so that no destination names an audience a deletion
	// removed meanwhile (DeleteAudience refuses an audience a destination
	// sends).
	CreateDestination(ctx context.Context, d Destination) (Destination, error)
	// UpdateDestination replaces the definition of the stored d.ID (every
	// field but CreatedAt, Cursor, LastNumber and Lease) and returns it as stored,
	// with CreateDestination's check of d.AudienceIDs. d passes Check, or
	// CheckStored when d.Name is the stored name, read in the same
	// transaction: a name stored before Check's rule on C1 control
	// characters is kept, and no name is given one anew.
	UpdateDestination(ctx context.Context, d Destination) (Destination, error)
	// DeleteDestination removes the destination with its deliveries, and
	// reports whether it was stored.
	DeleteDestination(ctx context.Context, id string) (bool, error)
	// Destination returns the stored destination; ENOTFOUND when none.
	Destination(ctx context.Context, id string) (Destination, error)
	// DestinationPage returns destinations ordered by id, after after
	// ("" from the start), at most limit (1..MaxListPage).
	DestinationPage(ctx context.Context, after string, limit int) ([]Destination, error)

	// AcquireLease gives holder the destination's lease until now+ttl
	// when it is free, expired or already holder's, and returns the lease
	// as it stands after the call and whether holder holds it. Of
	// processes racing for one lease, one wins.
	AcquireLease(ctx context.Context, id, holder string, now time.Time, ttl time.Duration) (Lease, bool, error)
	// ReleaseLease ends holder's lease, if holder holds it.
	ReleaseLease(ctx context.Context, id, holder string) error

	// InFlight returns the destination's oldest delivery (lowest Number)
	// that is PENDING or FAILED; false when none is.
	InFlight(ctx context.Context, id string) (Delivery, bool, error)
	// TakeBatch, in one transaction, moves the destination's Cursor from
	// from to through (through >= from) and, when entries is not empty,
	// stores them (their Seqs in (from, through], in order) as a new
	// PENDING delivery with a new id and the next Number, created, queued
	// and due at now. Entries were read from the feed before the call, so
	// an erasure may have committed since: the transaction reads again the
	// feed entries at their Seqs and stores only what InFeed keeps of them,
	// so that no entry or previous id an erasure scrubbed from the feed is
	// stored (an erasure committing after TakeBatch finds the delivery:
	// RedactDeliveries). It returns that delivery, and false when nothing
	// was left to store. ECONFLICT,
	// and nothing written, when holder does not hold the lease at now,
	// the Cursor is not from (another process moved it), or a delivery is
	// in flight.
	TakeBatch(ctx context.Context, id, holder string, from, through uint64, entries []graph.FeedEntry, now time.Time) (Delivery, bool, error)
	// RecordAttempt sets the outcome of an attempt on the in-flight
	// delivery number of the destination (and UpdatedAt to o.At); a
	// DELIVERED outcome drops the delivery's Entries.
	// ECONFLICT when holder does not hold the lease at o.At or the
	// delivery is not in flight.
	RecordAttempt(ctx context.Context, id, holder string, number uint64, o Outcome) error
	// Deliveries returns a page of the destination's deliveries, newest
	// first.
	Deliveries(ctx context.Context, q DeliveryQuery) ([]Delivery, error)
	// ReplayDead queues at most limit of the destination's DEAD
	// deliveries again, oldest first: PENDING, no attempts, due and
	// queued at now.
	// It returns how many.
	ReplayDead(ctx context.Context, id string, now time.Time, limit int) (int, error)
	// RetryNow makes the destination's in-flight delivery due at now when
	// it is FAILED and due after now, and reports whether it was. Its
	// attempts and its retry window (QueuedAt) stay as they are.
	// ENOTFOUND when the destination is not stored.
	RetryNow(ctx context.Context, id string, now time.Time) (bool, error)
	// PruneDelivered deletes at most limit (1..MaxPage) of the
	// destination's DELIVERED deliveries last updated before before,
	// oldest first, and returns how many.
	PruneDelivered(ctx context.Context, id string, before time.Time, limit int) (int, error)
}

// TxRedact is implemented by the write transaction (graph.Tx) of every
// store that keeps destinations, so that an erasure removes the erased
// profiles, and the events it deletes, from the batches not yet delivered
// in its own transaction.
type TxRedact interface {
	// RedactDeliveries drops from every PENDING, FAILED and DEAD delivery
	// the entries whose ProfileID is one of profileIDs or whose EventID is
	// one of eventIDs, and removes the profiles from other entries'
	// PreviousIDs (dropping a merge or split left with none), in a fixed
	// number of round trips.
	// It returns how many deliveries it changed. A delivery left with no
	// entry is sent as an empty batch, or not at all (see Profiles.Build).
	RedactDeliveries(ctx context.Context, profileIDs, eventIDs []string) (int, error)
}

// RedactInTx calls tx's RedactDeliveries when tx's store keeps
// destinations; it returns 0 otherwise.
func RedactInTx(ctx context.Context, tx graph.Tx, profileIDs []string) (int, error) {
	r, ok := tx.(TxRedact)
	if !ok || len(profileIDs) == 0 {
		return 0, nil
	}
	return r.RedactDeliveries(ctx, profileIDs, nil)
}

// Redact returns entries without those of the profiles in drop or of the
// events in dropEvents, and without the profiles in PreviousIDs (an entry
// left with none goes too, as InFeed leaves it out), and whether anything
// changed. Stores use it to implement RedactDeliveries.
func Redact(entries []graph.FeedEntry, drop, dropEvents map[string]bool) ([]graph.FeedEntry, bool) {
	changed := false
	out := make([]graph.FeedEntry, 0, len(entries))
	for _, e := range entries {
		if drop[e.ProfileID] || e.EventID != "" && dropEvents[e.EventID] {
			changed = true
			continue
		}
		if len(e.PreviousIDs) > 0 {
			prev := make([]string, 0, len(e.PreviousIDs))
			for _, p := range e.PreviousIDs {
				if drop[p] {
					changed = true
					continue
				}
				prev = append(prev, p)
			}
			if len(prev) == 0 {
				// A merge or split left naming no other profile says
				// nothing: the feed makes it a gap, and so does a batch.
				continue
			}
			e.PreviousIDs = prev
		}
		out = append(out, e)
	}
	return out, changed
}

// InFeed returns what TakeBatch stores of entries, given what the feed
// holds now (read in TakeBatch's transaction): current maps the Seq of
// each entry still in the feed to it, and head is the feed's head. An
// entry at or before head that the feed no longer holds as it was read (a
// gap an erasure left, trimmed, or another entry) is left out; one it
// holds keeps only the previous ids the feed still names (an erasure
// removes its profiles from them), and is left out when none of its own
// is left. An entry after head, which the feed never held (only callers
// that make entries up, such as tests, pass those), is kept as given.
func InFeed(entries []graph.FeedEntry, current map[uint64]graph.FeedEntry, head uint64) []graph.FeedEntry {
	out := make([]graph.FeedEntry, 0, len(entries))
	for _, e := range entries {
		if e.Seq > head {
			out = append(out, e)
			continue
		}
		c, ok := current[e.Seq]
		if !ok || c.Kind != e.Kind || c.ProfileID != e.ProfileID || c.EventID != e.EventID || c.AudienceID != e.AudienceID {
			continue
		}
		if len(e.PreviousIDs) > 0 {
			prev := make([]string, 0, len(e.PreviousIDs))
			for _, p := range e.PreviousIDs {
				if slices.Contains(c.PreviousIDs, p) {
					prev = append(prev, p)
				}
			}
			if len(prev) == 0 {
				continue
			}
			e.PreviousIDs = prev
		}
		out = append(out, e)
	}
	return out
}

// CheckTake checks the arguments of TakeBatch.
func CheckTake(id, holder string, from, through uint64, entries []graph.FeedEntry) error {
	if !ValidID(id) {
		return graph.Errorf(graph.EINVALID, "destination id is not %s followed by 32 lowercase hex digits", IDPrefix)
	}
	if holder == "" {
		return graph.Errorf(graph.EINVALID, "lease holder is empty")
	}
	if through < from {
		return graph.Errorf(graph.EINVALID, "through %d is before from %d", through, from)
	}
	last := from
	for i, e := range entries {
		if e.Seq <= last || e.Seq > through {
			return graph.Errorf(graph.EINVALID, "entries[%d] has Seq %d, out of order or outside (%d, %d]", i, e.Seq, from, through)
		}
		if !graph.ValidFeedKind(e.Kind) {
			return graph.Errorf(graph.EINVALID, "entries[%d] has an unknown kind", i)
		}
		last = e.Seq
	}
	return nil
}

// CheckOutcome checks the arguments of RecordAttempt.
func CheckOutcome(id, holder string, o Outcome) error {
	if !ValidID(id) {
		return graph.Errorf(graph.EINVALID, "destination id is not %s followed by 32 lowercase hex digits", IDPrefix)
	}
	if holder == "" {
		return graph.Errorf(graph.EINVALID, "lease holder is empty")
	}
	if !ValidStatus(o.Status) {
		return graph.Errorf(graph.EINVALID, "status %q is not a delivery status", clip(string(o.Status), 20))
	}
	if o.Attempts < 0 {
		return graph.Errorf(graph.EINVALID, "attempts is negative")
	}
	return nil
}

// CheckLease checks the arguments of AcquireLease.
func CheckLease(id, holder string, ttl time.Duration) error {
	if !ValidID(id) {
		return graph.Errorf(graph.EINVALID, "destination id is not %s followed by 32 lowercase hex digits", IDPrefix)
	}
	if holder == "" || len(holder) > 200 {
		return graph.Errorf(graph.EINVALID, "lease holder must be 1 to 200 bytes")
	}
	if ttl <= 0 {
		return graph.Errorf(graph.EINVALID, "lease ttl must be positive")
	}
	return nil
}

// Loader writes destinations and their deliveries as they are, for copying
// a store (cdp copy). Both stores implement it beside Store.
type Loader interface {
	// LoadDestinations stores each destination (CheckStored must pass)
	// with every field given,
	// Secret and Cursor included, replacing one stored under its id, and
	// raises its LastNumber to the one given (a replaced destination's is
	// never lowered, so no number is taken twice). The lease is not
	// copied: a copied destination is free, so that the target's
	// processes take it up.
	LoadDestinations(ctx context.Context, ds []Destination) error
	// LoadDeliveries stores each delivery with every field given, under
	// its DestinationID and Number, replacing one stored there. Its
	// destination must be stored (ENOTFOUND otherwise), and the next
	// delivery it takes is numbered after the greatest Number loaded.
	LoadDeliveries(ctx context.Context, ds []Delivery) error
}

// CheckLoad checks deliveries for LoadDeliveries: destination ids, numbers
// from 1 and known statuses.
func CheckLoad(ds []Delivery) error {
	for _, d := range ds {
		switch {
		case !ValidID(d.DestinationID):
			return graph.Errorf(graph.EINVALID, "delivery %q: destinationId is not a destination id", clip(d.ID, 40))
		case d.Number == 0:
			return graph.Errorf(graph.EINVALID, "delivery %q: number must be 1 or more", clip(d.ID, 40))
		case !ValidStatus(d.Status):
			return graph.Errorf(graph.EINVALID, "delivery %q: status %q is not PENDING, FAILED, DELIVERED or DEAD", clip(d.ID, 40), clip(string(d.Status), 20))
		}
	}
	return nil
}

// MissingAudienceError is the refusal (ENOTFOUND) of CreateDestination or
// UpdateDestination of a destination whose audienceIds name an audience
// that is not stored.
type MissingAudienceError struct {
	// Audience is the first id of the destination's audienceIds, in their
	// sorted order, that names no stored audience.
	Audience string
}

func (e *MissingAudienceError) Error() string { return e.err().Message }

// Unwrap gives the refusal as a *graph.Error, for graph.ErrorCode and
// graph.ErrorMessage.
func (e *MissingAudienceError) Unwrap() error { return e.err() }

func (e *MissingAudienceError) err() *graph.Error {
	return graph.Errorf(graph.ENOTFOUND, "audienceIds: audience %s is not stored", e.Audience)
}

// MissingAudience returns the refusal for the first of ids (sorted, as
// Normalize leaves them) that stored does not report stored; nil when
// every one is.
func MissingAudience(ids []string, stored func(string) bool) error {
	for _, id := range ids {
		if !stored(id) {
			return &MissingAudienceError{Audience: id}
		}
	}
	return nil
}
