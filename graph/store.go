package graph

import (
	"context"
	"time"
)

// Store is the storage contract. Every backend implements it and passes the
// conformance suite in graph/graphtest. A Store holds no resolution logic:
// the Engine decides, the Store reads and writes.
//
// Errors: a store returns an error wrapped by ErrUnavailable when the
// database cannot be reached or is overloaded, so callers can answer 503.
type Store interface {
	// Update runs fn in one write transaction: commit when fn returns nil,
	// roll back otherwise. fn may run more than once (a store may retry
	// after a transient conflict), so it must not leak results from a
	// failed attempt. fn's ctx carries ctx's values and ends when ctx
	// does; it may be one the store derived from ctx, ending sooner (when
	// the database is found down, say).
	Update(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// View runs fn in one read transaction. Like Update's, fn may run more
	// than once (a store may retry after a transient failure, in a new
	// transaction), and only the last run's return value counts. So fn
	// must reset everything it builds, results included, at the start of
	// each run: a caller that appends to a variable declared outside fn,
	// or sets a field only on some paths, answers with what an earlier
	// run left behind.
	View(ctx context.Context, fn func(ctx context.Context, tx ReadTx) error) error
	// Ping answers nil while the store can serve requests.
	Ping(ctx context.Context) error
	// Info describes the store, e.g. "embedded bbolt 1.5.0" or "neo4j 5.26.0".
	Info(ctx context.Context) (StoreInfo, error)
	// Close releases the store; pending work is finished first.
	Close(ctx context.Context) error
}

// SerialWriter is a Store whose write transactions run one at a time, each
// seeing every one committed before it and none committing meanwhile (the
// embedded store). The engine then reads nothing twice that a concurrent
// writer could have changed (see errRefusedMeanwhile).
type SerialWriter interface {
	SerialWrites() bool
}

// SerialWrites reports whether s writes one transaction at a time
// (SerialWriter). A Store that wraps another should implement SerialWriter
// with it, so that the engine still knows.
func SerialWrites(s Store) bool {
	sw, ok := s.(SerialWriter)
	return ok && sw.SerialWrites()
}

// Snapshotter is a Store whose reads can share one snapshot (the embedded
// store). Snapshot runs fn once, with a context under which every read the
// store serves (View, and the reads of every other contract it implements)
// sees the same committed state: what commits meanwhile is not seen, so a
// scan over many reads counts a profile merged meanwhile neither twice nor
// in part. Those reads may come from several goroutines; they take turns.
// A write under that context is refused (EINTERNAL), and no read may use it
// once Snapshot has returned. A snapshot begun under another snapshot's
// context is that one.
type Snapshotter interface {
	Snapshot(ctx context.Context, fn func(ctx context.Context) error) error
}

// InSnapshot runs fn under one snapshot of s when s is a Snapshotter, and
// with ctx as it is otherwise (each read then sees what is committed when
// it runs).
func InSnapshot(ctx context.Context, s Store, fn func(ctx context.Context) error) error {
	if sn, ok := s.(Snapshotter); ok {
		return sn.Snapshot(ctx, fn)
	}
	return fn(ctx)
}

// StoreInfo names a store and its version.
type StoreInfo struct {
	Kind    string // "embedded" or "neo4j"
	Version string
}

// ReadTx reads in one transaction. Every method is batch-shaped: one call
// serves many keys, so a request costs a fixed number of round trips.
// Missing keys are simply absent from the result.
type ReadTx interface {
	// Identifiers returns the stored identifiers among keys, with ProfileID
	// and Traits filled.
	Identifiers(ctx context.Context, keys []string) (map[string]Identifier, error)
	// Profiles returns the stored profiles among ids, live or merged away.
	Profiles(ctx context.Context, ids []string) (map[string]Profile, error)
	// TakenProfileIDs returns the ids among cands that a new profile may
	// not take (each mapped to true; the others are absent): those of a
	// stored profile, live or merged away, and those whose Hash is among
	// the retired ones (Write.RetireProfiles). A candidate with no Hash is
	// taken only by a stored profile. It costs one round trip.
	TakenProfileIDs(ctx context.Context, cands []ProfileIDCandidate) (map[string]bool, error)
	// Members returns, per profile id, the identifiers IN it, ordered by key.
	Members(ctx context.Context, profileIDs []string) (map[string][]Identifier, error)
	// Links returns every LINKED edge with at least one end in keys.
	Links(ctx context.Context, keys []string) ([]Link, error)
	// LinksBetween returns the stored LINKED edges among pairs, by pair.
	LinksBetween(ctx context.Context, pairs []LinkKey) (map[LinkKey]Link, error)
	// Rejected returns every REJECTED_LINK edge with at least one end in keys.
	Rejected(ctx context.Context, keys []string) ([]RejectedLink, error)
	// Journeys returns, per profile id, the events BY any identifier IN the
	// profile that match q, newest first (timestamp, then id, descending),
	// each event once, at most q.Limit of them. Events carry their Keys.
	Journeys(ctx context.Context, profileIDs []string, q JourneyQuery) (map[string][]Event, error)
	// Events returns the stored events among ids, with their Keys.
	Events(ctx context.Context, ids []string) (map[string]Event, error)
	// EventsBy returns every event BY at least one of keys, each once,
	// with its Keys (all of them, not only those among keys), ordered by
	// id. Erasure reads the events of the identifiers it erases with it.
	EventsBy(ctx context.Context, keys []string) ([]Event, error)
	// ProfilesPage returns live profiles ordered by id, as q says.
	ProfilesPage(ctx context.Context, q PageQuery) ([]Profile, error)
	// CountProfiles returns the number of live profiles.
	CountProfiles(ctx context.Context) (int, error)
	// Changes returns every history entry whose From or Into is among ids,
	// oldest first.
	Changes(ctx context.Context, profileIDs []string) ([]ProfileChange, error)
	// LookupProfiles answers the front-end lookup (Engine.LookupProfiles,
	// ProfilesByIdentifiers) in one call, which a store may serve in one
	// round trip. idents holds, like Identifiers, the stored identifiers
	// among keys with ProfileID and Traits filled; profiles holds, by id,
	// each profile an identifier's ProfileID names, as stored (live or
	// merged away: no redirect is followed, the engine does that). With
	// withMembers, members holds, per live profile in profiles, its
	// identifiers as Members returns them; a profile with none is absent.
	// Without it, members is nil.
	LookupProfiles(ctx context.Context, keys []string, withMembers bool) (idents map[string]Identifier, profiles map[string]Profile, members map[string][]Identifier, err error)
}

// MemberKeysReader is an optional ReadTx method: the keys IN each profile,
// as Members orders them, without reading the identifiers' records. It is
// all Engine.Journeys needs of the members, and a store whose records are
// costly to decode implements it.
type MemberKeysReader interface {
	// MemberKeys returns, per profile id, the keys of the identifiers IN
	// it, ordered by key; a profile with none is absent.
	MemberKeys(ctx context.Context, profileIDs []string) (map[string][]string, error)
}

// ProfileIDsReader is an optional ReadTx method: the ids of a page of live
// profiles, as ProfilesPage selects them (After, Before and Limit; not
// Reverse), without decoding the profiles. A caller that needs only the
// ids (a scan over every profile) uses it when a store offers it.
type ProfileIDsReader interface {
	ProfileIDs(ctx context.Context, q PageQuery) ([]string, error)
}

// Tx is a write transaction. The locking methods let several processes write
// overlapping identifiers at once: once an identifier or profile is locked,
// no other transaction changes it (or, for a profile, its membership) until
// this one ends. Locks are taken in key order.
type Tx interface {
	ReadTx
	// ClaimEvents reserves, in one round trip, the events among claims whose
	// ids are not stored yet: a concurrent transaction claiming the same id
	// waits, or sees it as stored. For every id among claims that is already
	// stored, stored holds the digest it was stored with ("" for an event
	// stored before digests were kept); the ids absent from stored are now
	// claimed, and each must be written by Apply in the same transaction
	// (its Event.Digest is what a later claim reads back).
	ClaimEvents(ctx context.Context, claims []EventClaim) (stored map[string]string, err error)
	// LockIdentifiers locks the identifiers named by seen, in key order, and
	// returns them. With create, missing ones are created with no profile,
	// and every one gets FirstSeen lowered to First, LastSeen raised to Last
	// and Sources added. Without create, missing ones are left out and
	// nothing is changed.
	LockIdentifiers(ctx context.Context, seen []IdentifierSeen, create bool) (map[string]Identifier, error)
	// LockProfiles locks the stored profiles among ids, in id order, and
	// returns them.
	LockProfiles(ctx context.Context, ids []string) (map[string]Profile, error)
	// Apply performs w in a fixed number of round trips.
	Apply(ctx context.Context, w *Write) error
}

// EventClaim names an event for Tx.ClaimEvents: its id and the digest of
// its content (Event.Digest).
type EventClaim struct {
	ID     string
	Digest string
}

// Write is everything one engine operation changes. A store applies it in
// the field order below.
type Write struct {
	At time.Time
	// PutProfiles creates profiles or overwrites their CreatedAt, UpdatedAt,
	// Size, Counts and MergedInto.
	PutProfiles []Profile
	// DeleteIdentifiers erases identifiers: their IN, LINKED, REJECTED_LINK
	// and BY edges, then every event left BY no identifier.
	DeleteIdentifiers []string
	// Assign moves identifiers into profiles, replacing any previous IN edge.
	Assign []Assignment
	// PutLinks creates links or overwrites an existing pair's properties
	// with the values given (the engine has merged them).
	PutLinks []Link
	// DeleteLinks removes links.
	DeleteLinks []LinkKey
	// DeleteRejected removes refused links, whichever way they were stored.
	DeleteRejected []LinkKey
	// PutRejected records refused links; an existing pair is overwritten.
	PutRejected []RejectedLink
	// Events are created, each BY its Keys. Their ids were claimed.
	Events []Event
	// ScrubEvents replace the Properties and Traits of stored events (nil
	// or empty clears them), and their Name, Channel and Campaign when
	// the payload gives them (nil keeps the stored one); every other
	// field, Keys, ID and MessageID included, is kept.
	// An event that is not stored (DeleteIdentifiers above may have
	// deleted it) is skipped. Erasure writes them.
	ScrubEvents []EventPayload
	// Traits replace identifiers' traits.
	Traits []TraitUpdate
	// Changes are appended to history. A merge change is stored as a
	// MERGED_INTO edge (with its Members), a split as SPLIT_FROM from Into
	// to From.
	Changes []ProfileChange
	// RewriteChanges replace the Reason and Members of stored history
	// entries. Each names its entry by Kind, From, Into and At (as stored,
	// Clean); every entry that matches is rewritten, and one that matches
	// none is skipped. Erasure writes them, so that history keeps no
	// erased identifier.
	RewriteChanges []ProfileChange
	// DeleteProfiles removes profiles (emptied by erasure) and their history
	// edges. The engine retires their ids in the same Write
	// (RetireProfiles).
	DeleteProfiles []string
	// RetireProfiles keeps hashes of deleted profile ids (RetiredIDHash,
	// 64 lowercase hex digits) among the retired ones, which no new
	// profile's id may have (TakenProfileIDs); a hash kept already stays
	// as it is. Nothing ever removes one.
	RetireProfiles []string
}

// Empty reports whether w changes nothing.
func (w *Write) Empty() bool {
	return len(w.PutProfiles) == 0 && len(w.DeleteIdentifiers) == 0 && len(w.Assign) == 0 &&
		len(w.PutLinks) == 0 && len(w.DeleteLinks) == 0 && len(w.DeleteRejected) == 0 && len(w.PutRejected) == 0 &&
		len(w.Events) == 0 && len(w.ScrubEvents) == 0 && len(w.Traits) == 0 && len(w.Changes) == 0 &&
		len(w.RewriteChanges) == 0 && len(w.DeleteProfiles) == 0 && len(w.RetireProfiles) == 0
}

// EventPayload is the new payload of a stored event (Write.ScrubEvents).
// Properties and Traits are always replaced; Name, Channel and Campaign,
// the event's free text, only when not nil ("" clears one).
type EventPayload struct {
	ID         string
	Properties map[string]any
	Traits     map[string]any
	Name       *string
	Channel    *string
	Campaign   *string
}
