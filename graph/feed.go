package graph

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"
)

// The change feed: every committed change a client may want to act on,
// appended by the transaction that makes the change, so that no change
// commits without its entry and no entry exists for a change that rolled
// back. Subscriptions and webhook destinations read it after a cursor
// (FeedStore.Feed).
//
// An entry names profiles, events and audiences by id and holds no
// personal value: no identifier, trait or property.

// FeedKind is what an entry reports.
type FeedKind string

// The kinds. EventAdded, TraitsChanged, Merged, Split and Forgotten are
// appended by the engine (ingestion, corrections, erasure); the others by
// the capabilities that make those changes.
const (
	// FeedEventAdded: an event was stored into ProfileID (EventID).
	FeedEventAdded FeedKind = "EVENT_ADDED"
	// FeedTraitsChanged: an event gave ProfileID's identifiers traits.
	FeedTraitsChanged FeedKind = "TRAITS_CHANGED"
	// FeedMerged: the profiles of PreviousIDs were merged into ProfileID.
	FeedMerged FeedKind = "MERGED"
	// FeedSplit: ProfileID was split off PreviousIDs[0].
	FeedSplit FeedKind = "SPLIT"
	// FeedConsentChanged: a consent record was added to ProfileID.
	FeedConsentChanged FeedKind = "CONSENT_CHANGED"
	// FeedForgotten: an erasure deleted ProfileID, or forgot part of it.
	FeedForgotten FeedKind = "FORGOTTEN"
	// FeedAudienceEntered, FeedAudienceExited: ProfileID entered or left
	// AudienceID.
	FeedAudienceEntered FeedKind = "AUDIENCE_ENTERED"
	FeedAudienceExited  FeedKind = "AUDIENCE_EXITED"
	// FeedComputedChanged: a computed trait of ProfileID changed.
	FeedComputedChanged FeedKind = "COMPUTED_CHANGED"
)

// FeedKinds are every kind, in the order above.
var FeedKinds = []FeedKind{FeedEventAdded, FeedTraitsChanged, FeedMerged, FeedSplit, FeedConsentChanged,
	FeedForgotten, FeedAudienceEntered, FeedAudienceExited, FeedComputedChanged}

// ValidFeedKind reports whether k is one of FeedKinds.
func ValidFeedKind(k FeedKind) bool { return slices.Contains(FeedKinds, k) }

// FeedEntry is one entry of the feed.
type FeedEntry struct {
	// Seq is the entry's place in the feed: it only grows, and on Neo4j
	// every process writing to one database shares it. The store sets it
	// when the entry is appended.
	Seq         uint64
	At          time.Time
	Kind        FeedKind
	ProfileID   string
	PreviousIDs []string // Merged, Split
	EventID     string   // EventAdded
	AudienceID  string   // AudienceEntered, AudienceExited
}

// FeedTx is implemented by the write transaction (Tx) of every store that
// keeps the feed: AppendFeed appends entries, in order, with consecutive
// Seqs, and commits or rolls back with the transaction.
type FeedTx interface {
	AppendFeed(ctx context.Context, entries []FeedEntry) error
	// RedactFeed removes profileIDs and eventIDs from the feed: every
	// entry whose ProfileID or EventID is one of them becomes a gap that
	// Feed skips (its Seq is not reused), and the profiles are dropped
	// from other entries' PreviousIDs. It returns how many entries it
	// changed. Erasure calls it with the profiles it deletes and the
	// events it deletes (those only erased identifiers carried, whatever
	// profile their entries name), before it appends its own Forgotten
	// entries, which are the only ones left that name an erased profile,
	// until the feed's retention trims them.
	RedactFeed(ctx context.Context, profileIDs, eventIDs []string) (int, error)
}

// deliveryRedactor is destination.TxRedact: the write transaction of a
// store that keeps webhook deliveries, which hold copies of feed entries.
type deliveryRedactor interface {
	RedactDeliveries(ctx context.Context, profileIDs, eventIDs []string) (int, error)
}

// RedactFeed calls tx's RedactFeed when tx's store keeps a feed, and
// removes the profiles and events from the webhook batches not yet
// delivered when it keeps those: every erasure, whatever its caller,
// forgets them in both.
func RedactFeed(ctx context.Context, tx Tx, profileIDs, eventIDs []string) error {
	if len(profileIDs) == 0 && len(eventIDs) == 0 {
		return nil
	}
	if f, ok := tx.(FeedTx); ok {
		if _, err := f.RedactFeed(ctx, profileIDs, eventIDs); err != nil {
			return err
		}
	}
	if d, ok := tx.(deliveryRedactor); ok {
		if _, err := d.RedactDeliveries(ctx, profileIDs, eventIDs); err != nil {
			return err
		}
	}
	return nil
}

// AppendFeed appends entries to the feed inside tx, when tx's store keeps
// one (a store that does not, or a wrapper, leaves the feed out).
func AppendFeed(ctx context.Context, tx Tx, entries []FeedEntry) error {
	if len(entries) == 0 {
		return nil
	}
	f, ok := tx.(FeedTx)
	if !ok {
		return nil
	}
	return f.AppendFeed(ctx, entries)
}

// FeedStore reads and trims the feed.
//
// Errors: EINVALID for a limit out of 1..MaxFeedPage or an unknown kind;
// store failures as Store's.
type FeedStore interface {
	// Feed returns the entries after seq after (0: from the start), in
	// Seq order, at most limit; only those of kinds when kinds is not
	// empty.
	Feed(ctx context.Context, after uint64, kinds []FeedKind, limit int) ([]FeedEntry, error)
	// FeedHead returns the Seq of the newest entry, 0 when there is none.
	FeedHead(ctx context.Context) (uint64, error)
	// TrimFeed deletes the entries older than before, in Seq order from
	// the first, one transaction's entries at a time (they share their
	// time), at most limit transactions' worth, and returns how many
	// entries it deleted. It stops at the first transaction's entries
	// that are not older than before, even when later ones are (times
	// need not grow with Seqs): every Seq up to FeedTrimmed is then gone,
	// and none after it.
	TrimFeed(ctx context.Context, before time.Time, limit int) (int, error)
	// FeedTrimmed returns the greatest Seq TrimFeed has deleted, 0 when
	// it has deleted none: a reader resuming after a smaller Seq would
	// miss entries (CheckResume).
	FeedTrimmed(ctx context.Context) (uint64, error)
}

// CursorExpiredError is CheckResume's error: entries after After were
// trimmed, up to Trimmed.
type CursorExpiredError struct{ After, Trimmed uint64 }

func (e *CursorExpiredError) Error() string {
	return fmt.Sprintf("the cursor is older than the feed's retention: entries %d to %d were trimmed", e.After+1, e.Trimmed)
}

// CheckResume returns a *CursorExpiredError when a reader resuming after
// the Seq after would miss trimmed entries. 0 is a cursor like any other:
// a reader at 0 (a destination created on an empty feed) expects every
// entry from the first.
func CheckResume(ctx context.Context, f FeedStore, after uint64) error {
	trimmed, err := f.FeedTrimmed(ctx)
	if err != nil {
		return err
	}
	if after < trimmed {
		return &CursorExpiredError{After: after, Trimmed: trimmed}
	}
	return nil
}

// MaxFeedPage bounds FeedStore.Feed's and TrimFeed's limit.
const MaxFeedPage = 10_000

// CheckFeedRead checks the arguments of FeedStore.Feed.
func CheckFeedRead(kinds []FeedKind, limit int) error {
	if limit < 1 || limit > MaxFeedPage {
		return Errorf(EINVALID, "feed: limit must be 1 to %d, got %d", MaxFeedPage, limit)
	}
	for _, k := range kinds {
		if !ValidFeedKind(k) {
			return Errorf(EINVALID, "feed: unknown kind %q", string(k))
		}
	}
	return nil
}

// feedOfChanges derives the Merged and Split entries of w's history
// changes: one Merged per survivor, naming every profile merged into it,
// sorted; one Split per profile split off.
func feedOfChanges(w *Write) []FeedEntry {
	into := map[string][]string{}
	var out []FeedEntry
	for _, c := range w.Changes {
		switch c.Kind {
		case ChangeMerge:
			into[c.Into] = append(into[c.Into], c.From)
		case ChangeSplit:
			out = append(out, FeedEntry{At: w.At, Kind: FeedSplit, ProfileID: c.Into, PreviousIDs: []string{c.From}})
		}
	}
	var merged []FeedEntry
	for _, p := range slices.Sorted(maps.Keys(into)) {
		prev := slices.Clone(into[p])
		slices.Sort(prev)
		merged = append(merged, FeedEntry{At: w.At, Kind: FeedMerged, ProfileID: p, PreviousIDs: slices.Compact(prev)})
	}
	return append(merged, out...)
}

// feedOfErasure is feedOfChanges, then one Forgotten per profile the
// erasure deleted or rewrote, sorted.
func feedOfErasure(w *Write) []FeedEntry {
	out := feedOfChanges(w)
	seen := map[string]bool{}
	for _, p := range w.DeleteProfiles {
		seen[p] = true
	}
	for _, p := range w.PutProfiles {
		if p.MergedInto == "" {
			seen[p.ID] = true
		}
	}
	for _, p := range slices.Sorted(maps.Keys(seen)) {
		out = append(out, FeedEntry{At: w.At, Kind: FeedForgotten, ProfileID: p})
	}
	return out
}

// FeedRuns splits entries, in Seq order, into runs of consecutive Seqs
// that share their time: the transactions a store writes them as when it
// loads a copied feed.
func FeedRuns(entries []FeedEntry) [][]FeedEntry {
	var out [][]FeedEntry
	start := 0
	for i := 1; i <= len(entries); i++ {
		if i == len(entries) || entries[i].Seq != entries[i-1].Seq+1 || !entries[i].At.Equal(entries[i-1].At) {
			out = append(out, entries[start:i])
			start = i
		}
	}
	return out
}

// CheckFeedLoad checks the arguments of a store's LoadFeed (dump.FeedWriter):
// 1 <= from <= to, and entries of known kinds with growing Seqs from from
// to to.
func CheckFeedLoad(from, to uint64, entries []FeedEntry) error {
	if from == 0 || from > to {
		return Errorf(EINVALID, "feed: a loaded range must be 1 <= from <= to, got %d to %d", from, to)
	}
	for i, e := range entries {
		if e.Seq < from || e.Seq > to || (i > 0 && e.Seq <= entries[i-1].Seq) {
			return Errorf(EINVALID, "feed: entries to load must have growing Seqs from %d to %d, got %d", from, to, e.Seq)
		}
		if !ValidFeedKind(e.Kind) {
			return Errorf(EINVALID, "feed: unknown kind %q", string(e.Kind))
		}
	}
	return nil
}
