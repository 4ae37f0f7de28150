package audience

// The store contract of audiences and computed traits.
//
// A store keeps three things apart from the identity graph, none of which
// is connected to it (a profile is named by its id only):
//
//   - the definitions: audiences (Audience) and computed traits
//     (ComputedTrait);
//   - kept membership: which live profiles are in each audience now, since
//     when, and the log of every entry and exit (Change);
//   - computed trait values per profile, as last computed, with the time
//     at which each must be computed again even with no new event;
//   - the facts of each live profile (Facts), as the keeper last wrote
//     them, which previews read instead of the profile's events.
//
// The store decides nothing: the audience engine evaluates filters and
// computes values, and writes what changed here. Both stores implement
// Store; the suite in audience/audiencetest checks them.

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/idgraph/cdp/graph"
)

// Limits of what a store keeps.
const (
	MaxAudiences       = 1000 // audiences per store
	MaxComputedTraits  = 100  // computed traits per store
	MaxAudienceNameLen = 200
	// MaxDescriptionLen is the most bytes of an audience's or a computed
	// trait's Description.
	MaxDescriptionLen = 1000
	MaxPage           = 1000 // Limit of every paged read
)

// Audience is a saved segment: a filter, kept evaluated, or a static
// list of profiles.
type Audience struct {
	ID          string // NewAudienceID
	Name        string // 1..MaxAudienceNameLen bytes of printable UTF-8
	Description string // at most MaxDescriptionLen bytes
	Filter      Filter // passed Check when saved; the zero Filter when Static
	// Static marks an audience whose members were written once (a saved
	// lookalike) and are never evaluated against a filter: it has no
	// filter, and its membership changes only when a member leaves
	// (merged away, erased, or no longer GRANTED for its Purpose), a
	// merged-away member's survivor taking its place (keep.Keeper).
	Static bool
	// Purpose, when set, is a consent purpose: only profiles whose state
	// for it is GRANTED are members (of a static audience, members without
	// it exit and nobody enters for it; keep.Keeper).
	Purpose   string
	CreatedAt time.Time
	UpdatedAt time.Time
	// Size and RefreshedAt are kept by the store: the number of members
	// now, and when membership was last written (ApplyMembership).
	Size        int
	RefreshedAt time.Time
}

// Change kinds.
const (
	Entered = "ENTERED"
	Exited  = "EXITED"
)

// Change is one entry of an audience's membership log.
type Change struct {
	AudienceID string
	ProfileID  string
	Kind       string // Entered or Exited
	At         time.Time
	Seq        uint64 // the store's order of writing, unique per audience; breaks ties of At
}

// Membership says a profile is in an audience, since when.
type Membership struct {
	AudienceID string
	ProfileID  string
	Since      time.Time
}

// ComputedValue is the value of one computed trait for one profile.
type ComputedValue struct {
	ProfileID string
	Name      string
	Value     any // a JSON value: nil, bool, float64, int64, string, []any, map[string]any
	// ComputedAt is when it was computed; Expires, when not zero, is the
	// time at which it changes with no new event (a windowed trait's
	// ComputedTrait.NextChange): a refresher computes it again then.
	ComputedAt time.Time
	Expires    time.Time
}

// Page selects a page of a list ordered by id (audiences, members): ids
// strictly after After ("" from the start), at most Limit (1..MaxPage).
type Page struct {
	After string
	Limit int
}

// ChangePage selects a page of an audience's log, newest first (At
// descending, then Seq descending): changes strictly after the cursor
// (nil: from the newest), at most Limit.
type ChangePage struct {
	AfterAt  time.Time
	AfterSeq uint64
	After    bool // whether AfterAt and AfterSeq are set
	Limit    int
}

// ProfileChangePage selects a page of the log entries naming some
// profiles, across every audience, newest first: At descending, then
// audience id ascending, then Seq descending (CompareProfileChanges).
// After, when set, is the last entry of the previous page, and the page
// holds the entries strictly after it in that order; Limit is 1..MaxPage.
type ProfileChangePage struct {
	After *Change
	Limit int
}

// CompareProfileChanges orders log entries as ProfileChangePage pages
// them: a before b is negative.
func CompareProfileChanges(a, b Change) int {
	return cmp.Or(b.At.Compare(a.At), strings.Compare(a.AudienceID, b.AudienceID), cmp.Compare(b.Seq, a.Seq))
}

// Check checks a page of the log entries naming some profiles.
func (p ProfileChangePage) Check() error {
	if p.Limit < 1 || p.Limit > MaxPage {
		return graph.Errorf(graph.EINVALID, "page limit must be between 1 and %d, got %d", MaxPage, p.Limit)
	}
	return nil
}

// Store is the audience contract every store implements.
//
// Errors: EINVALID for an argument that breaks the rules above (a bad id,
// name, limit...), naming it; ENOTFOUND for an audience that is not
// stored where the method needs one; ECONFLICT where a limit of the store
// (MaxAudiences, MaxComputedTraits) is reached; store failures as
// graph.Store's. Times are kept as graph.Clean gives them.
//
// References: every computed trait and every audience that the filter of
// a stored audience names (Filter.ComputedNames, Filter.AudienceIDs) is
// stored, and no audience reaches itself through the inAudience
// conditions of the stored filters. PutAudience, DeleteComputedTrait and
// DeleteAudience check it in the transaction of their write, so that of
// two calls made at once that would break it together (a computed trait
// deleted while an audience that uses it is put, two audiences put to
// name each other), the one that commits second is refused.
type Store interface {
	// PutAudience creates a, or replaces the definition (Name,
	// Description, Filter, Purpose, Static, UpdatedAt) of the stored
	// audience of a.ID, keeping its CreatedAt, Size, RefreshedAt and
	// members. It refuses a filter naming a computed trait or an audience
	// that is not stored (an audience being created is not stored for its
	// own filter) with a *MissingRefError (EINVALID, naming the first such
	// condition as Check does), before any other check of the store's; then
	// a filter through whose inAudience conditions the audience would reach
	// itself (FindCycle) with a *CycleError (EINVALID).
	PutAudience(ctx context.Context, a Audience) error
	// ReplaceAudience is PutAudience of an audience that must be stored:
	// it replaces the definition of the stored audience of a.ID, with the
	// same checks, and refuses with ErrNotStored (ENOTFOUND), writing
	// nothing, when a.ID is not stored when its transaction runs (deleted
	// since the caller read it), before any other check of the store's.
	// So an update racing a deletion never stores the deleted audience
	// again: a deletion committed first refuses it, and one committed
	// after it deletes what it wrote. With ifUpdatedAt not zero, it then
	// refuses with a *ChangedError (ECONFLICT), writing nothing, when the
	// stored audience's UpdatedAt is not ifUpdatedAt (graph.Clean'd): the
	// caller's read of it is older than what is stored. It stores
	// NextVersion(a.UpdatedAt, the stored UpdatedAt), and returns it: the
	// version this replace wrote, which another may follow before the
	// caller reads the audience again.
	ReplaceAudience(ctx context.Context, a Audience, ifUpdatedAt time.Time) (time.Time, error)
	// DeleteAudience removes the audience with its members and log, and
	// reports whether it was stored. It refuses, with an *InUseError
	// (ECONFLICT) naming them, to delete an audience that the filters of
	// other stored audiences name (whether or not it is stored), and then
	// deletes nothing.
	DeleteAudience(ctx context.Context, id string) (bool, error)
	// Audiences returns the stored audiences among ids.
	Audiences(ctx context.Context, ids []string) (map[string]Audience, error)
	// AudiencePage returns audiences ordered by id.
	AudiencePage(ctx context.Context, p Page) ([]Audience, error)

	// ApplyMembership records, in one transaction, that the profiles of
	// enter joined audience id at at and those of exit left it: members,
	// Size, RefreshedAt (set to at) and one Change each. Entering a
	// member or exiting a non-member changes nothing and logs nothing, so
	// a caller may repeat a call. ENOTFOUND when the audience is not
	// stored.
	ApplyMembership(ctx context.Context, id string, enter, exit []string, at time.Time) error
	// Members returns the audience's members ordered by profile id.
	Members(ctx context.Context, id string, p Page) ([]Membership, error)
	// Changes returns the audience's log, newest first.
	Changes(ctx context.Context, id string, p ChangePage) ([]Change, error)
	// MembersOfAudiences returns, per audience id, the page p of its
	// members as Members gives it, for every audience of ids, in one read
	// (one round trip): what a page of audiences lists of each. An
	// audience with no member on the page, or not stored, is absent; ids
	// given twice are read once. EINVALID for a bad page, as Members.
	MembersOfAudiences(ctx context.Context, ids []string, p Page) (map[string][]Membership, error)
	// ChangesOfAudiences returns, per audience id, the page p of its log
	// as Changes gives it, for every audience of ids, in one read (one
	// round trip); absent, ids and errors as MembersOfAudiences.
	ChangesOfAudiences(ctx context.Context, ids []string, p ChangePage) (map[string][]Change, error)
	// MembershipsOf returns, per profile id, the audiences it is in,
	// ordered by audience id, in one round trip.
	MembershipsOf(ctx context.Context, profileIDs []string) (map[string][]Membership, error)
	// ChangesOf returns a page of the log entries naming any of
	// profileIDs, in every stored audience, in the order of
	// ProfileChangePage, in one round trip: what a data export lists of
	// a person (privacy.Exporter.WithAudienceChanges). No ids give an
	// empty page.
	ChangesOf(ctx context.Context, profileIDs []string, p ProfileChangePage) ([]Change, error)

	// PutComputedTrait creates or replaces a definition by name, keeping
	// CreatedAt of a replaced one.
	PutComputedTrait(ctx context.Context, c ComputedTrait) error
	// DeleteComputedTrait removes the definition and every value of it,
	// and reports whether it was stored. It refuses, with an *InUseError
	// (ECONFLICT) naming them, to delete a computed trait that the filters
	// of stored audiences use (whether or not it is stored), and then
	// deletes nothing.
	DeleteComputedTrait(ctx context.Context, name string) (bool, error)
	// ComputedTraits returns every definition, ordered by name.
	ComputedTraits(ctx context.Context) ([]ComputedTrait, error)
	// PutComputedValues stores values, replacing a profile's value of the
	// same name; DeleteComputedValues removes every value of the profiles
	// (a profile merged away or erased).
	PutComputedValues(ctx context.Context, values []ComputedValue) error
	DeleteComputedValues(ctx context.Context, profileIDs []string) error
	// ComputedValues returns, per profile id, its values by name, in one
	// round trip.
	ComputedValues(ctx context.Context, profileIDs []string) (map[string]map[string]ComputedValue, error)
	// ExpiringValues returns the values whose Expires is set and not after
	// before, soonest first, at most limit: what a refresher computes
	// again.
	ExpiringValues(ctx context.Context, before time.Time, limit int) ([]ComputedValue, error)

	// PutFacts stores the facts of profiles (Facts.ProfileID), replacing
	// those stored for the same profile, in one transaction and a fixed
	// number of round trips; a profile given twice keeps the last.
	// EINVALID for an empty profile id or facts that do not encode
	// (EncodeFacts), and then nothing is stored.
	PutFacts(ctx context.Context, facts []Facts) error
	// DeleteFacts removes the facts of the profiles (merged away, erased),
	// those with none included, in one transaction.
	DeleteFacts(ctx context.Context, profileIDs []string) error
	// Facts returns the stored facts among profileIDs, by profile id, in
	// one round trip; a profile with none is absent from the map.
	Facts(ctx context.Context, profileIDs []string) (map[string]Facts, error)

	// Keep writes one round of the audience keeper (KeepWrite) in one
	// transaction and a fixed number of round trips, whatever the number
	// of audiences and profiles. Facts and entries of profiles that are
	// no longer live when it commits (merged away or erased since the
	// keeper read them) are left out: whatever ended them queues them
	// for the keeper again, and an erased profile must leave no trace.
	// Changes of an audience that is no longer stored are skipped.
	//
	// A profile named in w.Read whose UpdatedAt is no longer the one
	// given there, when Keep takes its lock, was written since the keeper
	// read it: by this process's next commit, by another replica, by a
	// consent decision or a correction. Its facts (or their deletion) and
	// its entries and exits of every audience that is not Static are left
	// out, and Keep
	// returns its id, so that an evaluation of an older state never
	// overwrites one of a newer (the keeper evaluates it again). A profile
	// not named in w.Read is written unchecked.
	//
	// A profile that a change of w that is not Static enters in or exits
	// from an audience whose log already holds an entry for it with an At
	// later than w.At, or of which it is a member since later than w.At,
	// was evaluated after this round by another one that wrote first (a
	// keeper of another replica, the refresher's): it is left out and its
	// id returned in the same way, whatever w.Read says, so that an
	// evaluation made at an earlier time never overwrites one made at a
	// later time (the log would enter it twice in a row, or end with an
	// exit while it is a member). This reads, under the lock of each
	// audience changed, the log entries after w.At of that audience only
	// (an index seek), and the member rows of the profiles it changes.
	//
	// A round evaluated on definitions no longer stored is not written
	// either: when an audience named in w.Audiences is stored with another
	// UpdatedAt (read under its lock when w changes it), or, with
	// w.Computed set, the stored computed trait definitions are not
	// exactly those of w.Computed (a name added, removed, or another
	// UpdatedAt), Keep writes only w's Static changes, and returns every
	// profile w names (its facts, deletions, entries, exits and w.Read):
	// the keeper reads the definitions again and evaluates them again. An
	// audience of w.Audiences that is no longer stored is not a change of
	// definition (its changes are skipped, as above).
	//
	// EINVALID as PutFacts and ApplyMembership, and then nothing is
	// written.
	Keep(ctx context.Context, w KeepWrite) (stale []string, err error)
}

// ErrNotStored is ReplaceAudience's refusal of an audience that is not
// stored.
func ErrNotStored(id string) error {
	return graph.Errorf(graph.ENOTFOUND, "audience %s is not stored", id)
}

// ChangedError is ReplaceAudience's refusal (ECONFLICT) of an update made
// on a read older than the stored audience.
type ChangedError struct {
	Audience  string
	UpdatedAt time.Time // the stored one
}

func (e *ChangedError) Error() string { return e.err().Message }

// Unwrap gives the refusal as a *graph.Error.
func (e *ChangedError) Unwrap() error { return e.err() }

func (e *ChangedError) err() *graph.Error {
	return graph.Errorf(graph.ECONFLICT, "audience %s was changed since it was read: it is stored with updatedAt %s",
		e.Audience, e.UpdatedAt.UTC().Format(time.RFC3339Nano))
}

// NextVersion is the UpdatedAt a replace stores over the version stored:
// updatedAt (graph.Clean'd), unless that is not after stored (a write in
// the same microsecond, a clock set back), then the microsecond after
// stored, so that each version read names one definition.
func NextVersion(updatedAt, stored time.Time) time.Time {
	u, s := graph.Clean(updatedAt), graph.Clean(stored)
	if !stored.IsZero() && !u.After(s) {
		return s.Add(time.Microsecond)
	}
	return u
}

// CheckVersion returns the refusal of an update made on the version
// ifUpdatedAt of audience id (none when zero) when stored is another.
func CheckVersion(id string, ifUpdatedAt, stored time.Time) error {
	if ifUpdatedAt.IsZero() || graph.Clean(ifUpdatedAt).Equal(graph.Clean(stored)) {
		return nil
	}
	return &ChangedError{Audience: id, UpdatedAt: graph.Clean(stored)}
}

// KeepSplit is implemented by a store whose Keep holds the write lock of
// every profile it writes until it commits, as ingest does for the
// profiles it writes (Neo4j). The keeper then writes a round in calls of
// at most KeepProfiles profiles each (SplitKeep), so that ingest waits for
// a short transaction instead of one over the whole round. Each call
// still writes a profile's facts and its entries and exits together.
type KeepSplit interface {
	KeepProfiles() int
}

// SplitKeep splits w into writes of at most n profiles each, in profile id
// order: each holds, for its profiles, their facts, the deletion of their
// facts, and their entries and exits of every audience, in w's order. All
// carry w.At, w.Audiences and w.Computed. With n < 1, or no more than n profiles, it returns w alone.
func SplitKeep(w KeepWrite, n int) []KeepWrite {
	var ids []string
	for i := range w.Facts {
		ids = append(ids, w.Facts[i].ProfileID)
	}
	ids = append(ids, w.DeleteFacts...)
	for _, c := range w.Changes {
		ids = append(ids, c.Enter...)
		ids = append(ids, c.Exit...)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if n < 1 || len(ids) <= n {
		return []KeepWrite{w}
	}
	part := make(map[string]int, len(ids))
	for i, id := range ids {
		part[id] = i / n
	}
	out := make([]KeepWrite, (len(ids)+n-1)/n)
	for i := range out {
		out[i].At = w.At
		out[i].Audiences, out[i].Computed = w.Audiences, w.Computed
	}
	for id, at := range w.Read {
		k, ok := part[id]
		if !ok {
			continue
		}
		if out[k].Read == nil {
			out[k].Read = map[string]time.Time{}
		}
		out[k].Read[id] = at
	}
	for i := range w.Facts {
		k := part[w.Facts[i].ProfileID]
		out[k].Facts = append(out[k].Facts, w.Facts[i])
	}
	for _, id := range w.DeleteFacts {
		out[part[id]].DeleteFacts = append(out[part[id]].DeleteFacts, id)
	}
	for _, c := range w.Changes {
		split := make(map[int]*MembershipChange)
		var order []int
		at := func(id string) *MembershipChange {
			k := part[id]
			if split[k] == nil {
				split[k] = &MembershipChange{AudienceID: c.AudienceID, Static: c.Static}
				order = append(order, k)
			}
			return split[k]
		}
		for _, id := range c.Enter {
			m := at(id)
			m.Enter = append(m.Enter, id)
		}
		for _, id := range c.Exit {
			m := at(id)
			m.Exit = append(m.Exit, id)
		}
		for _, k := range order {
			out[k].Changes = append(out[k].Changes, *split[k])
		}
	}
	return out
}

// KeepWrite is what one round of the audience keeper writes.
type KeepWrite struct {
	// At is when the round evaluated: the time of its changes, and every
	// changed audience's RefreshedAt.
	At time.Time
	// Facts are the facts of the live profiles evaluated (PutFacts).
	Facts []Facts
	// DeleteFacts are profiles no longer live, whose facts go (DeleteFacts).
	DeleteFacts []string
	// Changes are the entries and exits, each audience at most once, as
	// ApplyMembership takes them.
	Changes []MembershipChange
	// Read holds, for the profiles evaluated, the UpdatedAt each had in
	// what the keeper read (graph.Clean'd; the zero time for one that was
	// not stored, live or merged away). Keep leaves out what it evaluated
	// of a profile written since (see Store.Keep), a profile stored since
	// it was read as absent included.
	Read map[string]time.Time
	// Audiences holds the version (UpdatedAt) of each audience the round's
	// changes were decided on, as the keeper read it: every audience it
	// changes, and those their filters name with inAudience, directly or
	// not. Keep writes nothing the round evaluated when one of them has
	// been redefined since (see Store.Keep). nil: none is checked.
	Audiences map[string]time.Time
	// Computed holds the computed trait definitions the round evaluated
	// with, by name, each with its UpdatedAt: Keep writes nothing the
	// round evaluated unless they are exactly those stored when it
	// commits. nil: not checked (an empty map: the round read none).
	Computed map[string]time.Time
}

// AudienceCurrent reports whether the stored audience id, whose UpdatedAt
// Keep reads under its lock, is as w's round read it: w.Audiences does not
// name it, or names that UpdatedAt.
func (w *KeepWrite) AudienceCurrent(id string, updatedAt time.Time) bool {
	at, ok := w.Audiences[id]
	return !ok || graph.Clean(at).Equal(graph.Clean(updatedAt))
}

// ComputedCurrent reports whether stored, the UpdatedAt of every stored
// computed trait definition by name, holds the definitions w's round
// evaluated with: w.Computed is nil, or names exactly those, each with
// that UpdatedAt.
func (w *KeepWrite) ComputedCurrent(stored map[string]time.Time) bool {
	if w.Computed == nil {
		return true
	}
	if len(stored) != len(w.Computed) {
		return false
	}
	for name, at := range w.Computed {
		s, ok := stored[name]
		if !ok || !graph.Clean(s).Equal(graph.Clean(at)) {
			return false
		}
	}
	return true
}

// ChecksDefinitions reports whether Keep must read the stored definitions
// to check w (w.Audiences or w.Computed set).
func (w *KeepWrite) ChecksDefinitions() bool {
	return len(w.Audiences) > 0 || w.Computed != nil
}

// Evaluated returns, sorted and each once, every profile w names outside
// its Static changes: its facts, its deletions of facts, the entries and
// exits of its other changes, and w.Read. Keep returns them all when the
// definitions w was evaluated on are no longer stored.
func (w *KeepWrite) Evaluated() []string {
	var ids []string
	for i := range w.Facts {
		ids = append(ids, w.Facts[i].ProfileID)
	}
	ids = append(ids, w.DeleteFacts...)
	for _, c := range w.Changes {
		if c.Static {
			continue
		}
		ids = append(ids, c.Enter...)
		ids = append(ids, c.Exit...)
	}
	for id := range w.Read {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// MembershipChange is who enters and who exits one audience.
type MembershipChange struct {
	AudienceID  string
	Enter, Exit []string
	// Static marks the changes of a static audience, which no evaluation
	// of the profiles decided (a member merged away makes way for its
	// survivor): Keep writes them whatever KeepWrite.Read, the log and
	// the definitions say.
	Static bool
}

// Fresh reports whether the profile id, whose UpdatedAt Keep reads under
// its lock, is as w's round evaluated it: w.Read does not name it, or
// names that UpdatedAt.
func (w *KeepWrite) Fresh(id string, updatedAt time.Time) bool {
	at, ok := w.Read[id]
	return !ok || at.Equal(graph.Clean(updatedAt))
}

// Checked returns c without the profiles stale marks (Static changes are
// returned whole).
func (c MembershipChange) Checked(stale map[string]bool) MembershipChange {
	if c.Static || len(stale) == 0 {
		return c
	}
	out := c
	out.Enter = slices.DeleteFunc(slices.Clone(c.Enter), func(id string) bool { return stale[id] })
	out.Exit = slices.DeleteFunc(slices.Clone(c.Exit), func(id string) bool { return stale[id] })
	return out
}

// CheckKeep checks w as Store.Keep takes it and returns the stored forms
// of its facts.
func CheckKeep(w KeepWrite) ([][]byte, error) {
	seen := make(map[string]bool, len(w.Changes))
	for _, c := range w.Changes {
		if err := CheckMembership(c.AudienceID, c.Enter, c.Exit); err != nil {
			return nil, err
		}
		if seen[c.AudienceID] {
			return nil, graph.Errorf(graph.EINVALID, "audience %s is changed twice in one write", c.AudienceID)
		}
		seen[c.AudienceID] = true
	}
	for _, id := range w.DeleteFacts {
		if id == "" {
			return nil, graph.Errorf(graph.EINVALID, "a profile id of the facts to delete is empty")
		}
	}
	return CheckFacts(w.Facts)
}

// TxFacts is implemented by the graph.Tx of every store's write
// transaction: an erasure deletes the facts of the profiles it erases
// atomically with them (DeleteFactsInTx).
type TxFacts interface {
	DeleteFacts(ctx context.Context, profileIDs []string) error
}

// DeleteFactsInTx removes the facts of profileIDs inside tx, a write
// transaction of a store; as Store.DeleteFacts.
//
// Errors: those of Store.DeleteFacts; an internal error when tx's store
// does not implement TxFacts.
func DeleteFactsInTx(ctx context.Context, tx graph.Tx, profileIDs []string) error {
	f, ok := tx.(TxFacts)
	if !ok {
		return fmt.Errorf("audience: the store's transaction %T cannot hold profile facts", tx)
	}
	return f.DeleteFacts(ctx, profileIDs)
}

// CheckFacts checks facts as PutFacts takes them and returns their
// stored forms.
func CheckFacts(facts []Facts) ([][]byte, error) {
	out := make([][]byte, len(facts))
	for i := range facts {
		if facts[i].ProfileID == "" {
			return nil, graph.Errorf(graph.EINVALID, "facts %d: the profile id is empty", i)
		}
		b, err := EncodeFacts(&facts[i])
		if err != nil {
			return nil, graph.Errorf(graph.EINVALID, "facts %d: %s", i, err.Error())
		}
		out[i] = b
	}
	return out, nil
}

// FilterCounter is implemented by stores that evaluate a filter in the
// database, in one statement (the Neo4j store compiles it to Cypher).
// CountFilter counts the live profiles that match q.Filter at q.Now (with
// a purpose, only those whose consent for it is GRANTED) and returns the
// ids of the first q.Sample of them in id order, as Keeper.Preview does.
// It evaluates every filter: Preview never evaluates in Go on such a
// store.
// Trait, identifier, event, consent and inAudience conditions read the
// stored graph and the kept memberships as they are at the statement's
// start (an inAudience the kept membership alone: the keeper gives
// q.Filter as Filter.WithPurposes reads it, with the purposes of the
// audiences it names as consent conditions), and an event's properties
// only on the profile that holds its highest-priority identifier, as the
// engine shows events.
//
// Errors: EINVALID for a nil filter or a negative sample.
type FilterCounter interface {
	CountFilter(ctx context.Context, q FilterQuery) (n int, ids []string, err error)
}

// FilterQuery is what FilterCounter counts.
type FilterQuery struct {
	Filter  *Filter
	Purpose string // "": none
	Now     time.Time
	Sample  int
	// Priorities rank identifier types as the engine's rules do
	// (graph.Normalizer.Priorities): types not in the map have
	// DefaultPriority.
	Priorities      map[string]int
	DefaultPriority int
	// Computed are the computed trait definitions stored now, by name:
	// a computed condition's value is computed from the events as
	// ComputedTrait.Compute does; a name not here has no value.
	Computed map[string]ComputedTrait
}

// FilterPager is implemented by stores that page through the profiles a
// filter matches in the database (the Neo4j store, as FilterCounter).
// PageFilter returns the ids of the live profiles that match q.Filter at
// q.Now (q.Purpose and q.Sample are not read): the first page.Limit after
// page.After (and before page.Before, when set), or with page.Reverse the
// last page.Limit before page.Before (and after page.After); always in
// ascending id order.
//
// Errors: EINVALID for a nil filter or a limit below 1.
type FilterPager interface {
	PageFilter(ctx context.Context, q FilterQuery, page graph.PageQuery) ([]string, error)
}
