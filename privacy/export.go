package privacy

// Data exports: the right of access and portability (GDPR Articles 15 and
// 20).
//
// An export is everything stored about a person: the profile, its
// identifiers (with first and last seen and sources), every trait value as
// stored on each identifier (with its source and time), the consent ledger
// of its identifiers, the profile's history, the links between its
// identifiers (with the event that made each), the refused links that
// touch them (the far end, another person's, by its type alone), its audience memberships,
// stored computed values and the entries of the audiences' logs naming it
// (when the exporter is given readers for them), and every event its
// identifiers carried, with its payload.
//
// It is built in two passes so that a caller can stream it. Prepare reads
// the profile, its identifiers, consent and history (all bounded by the
// profile's identifier limits), and counts the audience log entries and
// the events by paging through them, holding one page at a time; Write
// then emits every record, the log entries and the events paged again.
// What Write emits of those is what Prepare counted: entries and events
// stored in between, newer than the newest Prepare saw, are left out, and
// Write fails (ECONFLICT) when the profile changed so that a count no
// longer holds, for example when it was merged meanwhile, or when one
// stored in between is dated among those counted, so that the same count
// names other records (a digest of their keys tells). Prepare reads one
// state of the person, a merge or split committed meanwhile included in
// none of its records or in all of them (see Prepare).
//
// An event shared with another person (it carries an identifier of
// another profile with a higher priority, such as an identify on a shared
// device) is exported as the journey shows it to this person: only this
// person's identifiers, its payload withheld, Shared set. Its payload
// belongs to the other person's export.

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"hash"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/idgraph/cdp/graph"
)

// Record kinds of an export, in the order Write emits them.
const (
	KindIdentifier = "identifier"
	KindTrait      = "trait"
	KindConsent    = "consent"
	KindHistory    = "history"
	KindLink       = "link"
	// KindRefusal is a refused link touching one of the person's
	// identifiers.
	KindRefusal    = "refusal"
	KindEvent      = "event"
	KindMembership = "membership"
	KindComputed   = "computed"
	// KindAudienceChange is an entry of an audience's membership log
	// naming the person: an entry or an exit.
	KindAudienceChange = "audienceChange"
)

// ExportAction is the audit action of a data export, over HTTP or GraphQL.
const ExportAction = "privacy.export"

// ExportPage is how many events, or audience log entries, one read of an
// export pages through.
const ExportPage = graph.MaxPage

// changePage is how many audience log entries one read asks for, and
// eventPage how many events: ExportPage, but for tests of the paging.
var changePage, eventPage = ExportPage, ExportPage

// afterEventPage, when set (by tests), runs after each page of events an
// export reads: a seam to commit a change between two pages.
var afterEventPage func()

// prepareAttempts is how many times Prepare reads a profile that a merge
// or split changes under it before it answers ECONFLICT.
const prepareAttempts = 3

// errMoved reports a page of events read over other identifiers than the
// export's: the profile was merged or split meanwhile.
var errMoved = errors.New("the profile's identifiers changed during its export")

// Counts counts the records of an export by kind.
type Counts struct {
	Identifiers int `json:"identifiers"`
	Traits      int `json:"traits"`
	Consent     int `json:"consent"`
	Events      int `json:"events"`
	History     int `json:"history"`
	Links       int `json:"links"`
	Refusals    int `json:"refusals"`
	Memberships int `json:"memberships"`
	Computed    int `json:"computed"`
	// AudienceChanges counts the audience log entries naming the person.
	AudienceChanges int `json:"audienceChanges"`
}

// ExportProfile is the profile an export is about.
type ExportProfile struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	Size      int       `json:"size"`
}

// ExportIdentifier is an identifier record.
type ExportIdentifier struct {
	Kind      string    `json:"kind"`
	Type      string    `json:"type"`
	Value     string    `json:"value"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
	Sources   []string  `json:"sources"`
}

// ExportTrait is one trait value as stored on one identifier.
type ExportTrait struct {
	Kind       string              `json:"kind"`
	Identifier graph.IdentifierRef `json:"identifier"`
	Name       string              `json:"name"`
	Value      any                 `json:"value"`
	Source     string              `json:"source"`
	At         time.Time           `json:"at"`
}

// ExportConsent is one consent record.
type ExportConsent struct {
	Kind       string              `json:"kind"`
	ID         string              `json:"id"`
	Purpose    string              `json:"purpose"`
	Status     Status              `json:"status"`
	At         time.Time           `json:"at"`
	Source     string              `json:"source"`
	LegalBasis LegalBasis          `json:"legalBasis"`
	Identifier graph.IdentifierRef `json:"identifier"`
	Proof      ExportProof         `json:"proof"`
	ExpiresAt  *time.Time          `json:"expiresAt,omitempty"`
	ReceivedAt time.Time           `json:"receivedAt"`
}

// ExportProof is a consent record's proof.
type ExportProof struct {
	Text      string `json:"text,omitempty"`
	Version   string `json:"version,omitempty"`
	Channel   string `json:"channel,omitempty"`
	Collector string `json:"collector,omitempty"`
	EventID   string `json:"eventId,omitempty"`
}

// ExportChange is one entry of the profile's history.
type ExportChange struct {
	Kind   string    `json:"kind"`
	Change string    `json:"change"` // graph.ChangeMerge or graph.ChangeSplit
	From   string    `json:"from"`
	Into   string    `json:"into"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// ExportLink is a link between two of the profile's identifiers: how often
// events carried them together, and the first event that did (Evidence),
// or, for a manual merge (Source manual), the merge's reason.
type ExportLink struct {
	Kind      string              `json:"kind"`
	A         graph.IdentifierRef `json:"a"`
	B         graph.IdentifierRef `json:"b"`
	Source    string              `json:"source"`
	Evidence  string              `json:"evidence"`
	FirstSeen time.Time           `json:"firstSeen"`
	LastSeen  time.Time           `json:"lastSeen"`
	Count     int                 `json:"count"`
}

// ExportRefusal is a refused link touching one of the profile's
// identifiers: A the side that kept its profile, B the side refused, as
// stored. An end that is not the profile's identifier is another
// person's: its Value is WithheldText, and so is its key wherever the
// reason or the evidence names it.
type ExportRefusal struct {
	Kind     string              `json:"kind"`
	A        graph.IdentifierRef `json:"a"`
	B        graph.IdentifierRef `json:"b"`
	Source   string              `json:"source"`
	Reason   string              `json:"reason"`
	Evidence string              `json:"evidence"`
	At       time.Time           `json:"at"`
}

// ExportComputed is a stored value of a computed trait of the profile.
type ExportComputed struct {
	Kind       string     `json:"kind"`
	Name       string     `json:"name"`
	Value      any        `json:"value"`
	ComputedAt time.Time  `json:"computedAt"`
	Expires    *time.Time `json:"expires,omitempty"`
}

// ComputedReader returns the stored computed values of a profile, each
// with Kind left empty, ordered by name. Computed traits are a capability
// of their own: the service hands the exporter this reader over its store.
type ComputedReader func(ctx context.Context, profileID string) ([]ExportComputed, error)

// ExportEvent is one event with its payload.
type ExportEvent struct {
	Kind        string                `json:"kind"`
	ID          string                `json:"id"`
	MessageID   string                `json:"messageId,omitempty"`
	Type        string                `json:"type"`
	Name        string                `json:"name,omitempty"`
	Channel     string                `json:"channel,omitempty"`
	Source      string                `json:"source,omitempty"`
	Campaign    string                `json:"campaign,omitempty"`
	Timestamp   time.Time             `json:"timestamp"`
	ReceivedAt  time.Time             `json:"receivedAt"`
	Properties  map[string]any        `json:"properties"`
	Traits      map[string]any        `json:"traits"`
	Identifiers []graph.IdentifierRef `json:"identifiers"`
	Shared      bool                  `json:"shared"`
}

// ConsentReader is what a store offers when it holds the consent ledger:
// the records of each identifier among keys. The exporter includes the
// ledger when the engine's store implements it.
type ConsentReader interface {
	ConsentOf(ctx context.Context, keys []string) (map[string][]Record, error)
}

// Exporter builds exports from the engine's reads.
type Exporter struct {
	engine     *graph.Engine
	members    MembershipReader
	computed   ComputedReader
	audChanges AudienceChangeReader
}

// ExportMembership is one audience the profile is a member of.
type ExportMembership struct {
	Kind     string    `json:"kind"`
	Audience string    `json:"audience"` // the audience's id
	Name     string    `json:"name"`
	Since    time.Time `json:"since"`
}

// MembershipReader returns the audiences a profile is a member of, each
// with Kind left empty, ordered by audience id. Audiences are a capability
// of their own: the service hands the exporter this reader over its store.
type MembershipReader func(ctx context.Context, profileID string) ([]ExportMembership, error)

// WithMemberships returns the exporter, whose exports also list the
// profile's audience memberships, read with fn.
func (x *Exporter) WithMemberships(fn MembershipReader) *Exporter {
	y := *x
	y.members = fn
	return &y
}

// WithComputed returns the exporter, whose exports also list the
// profile's stored computed values, read with fn.
func (x *Exporter) WithComputed(fn ComputedReader) *Exporter {
	y := *x
	y.computed = fn
	return &y
}

// ExportAudienceChange is one entry of an audience's membership log
// naming the person: the profile entered the audience, or left it, at At.
type ExportAudienceChange struct {
	Kind     string `json:"kind"`
	Audience string `json:"audience"` // the audience's id
	// Name is the audience's name; empty when the audience was deleted
	// while the export read it.
	Name   string `json:"name,omitempty"`
	Change string `json:"change"` // ENTERED or EXITED
	// ProfileID is the id the entry names: the profile's, or that of a
	// profile merged into it, whose entries stay under its own id.
	ProfileID string    `json:"profileId"`
	At        time.Time `json:"at"`
	Seq       uint64    `json:"seq"` // the entry's number in its audience's log
}

// compareAudienceChanges orders log entries newest first: At descending,
// then audience id, then Seq descending, as AudienceChangeReader pages
// them.
func compareAudienceChanges(a, b ExportAudienceChange) int {
	return cmp.Or(b.At.Compare(a.At), strings.Compare(a.Audience, b.Audience), cmp.Compare(b.Seq, a.Seq))
}

// AudienceChangeReader returns a page of the audience log entries naming
// any of profileIDs, each with Kind left empty: newest first (At
// descending, then audience id, then Seq descending), strictly after
// after (nil: from the newest), at most limit (1..ExportPage). Audiences
// are a capability of their own: the service hands the exporter this
// reader over its store.
type AudienceChangeReader func(ctx context.Context, profileIDs []string, after *ExportAudienceChange, limit int) ([]ExportAudienceChange, error)

// WithAudienceChanges returns the exporter, whose exports also list the
// entries of the audiences' logs naming the profile, or a profile merged
// into it, read with fn.
func (x *Exporter) WithAudienceChanges(fn AudienceChangeReader) *Exporter {
	y := *x
	y.audChanges = fn
	return &y
}

// NewExporter returns an exporter reading through engine.
func NewExporter(engine *graph.Engine) *Exporter { return &Exporter{engine: engine} }

// HasConsent reports whether the engine's store holds a consent ledger, so
// exports include it.
func (x *Exporter) HasConsent() bool {
	_, ok := x.engine.Store().(ConsentReader)
	return ok
}

// Export is a prepared export: what Prepare read, and the counts of every
// kind. Write emits it.
type Export struct {
	// RequestedID is the id asked for; Profile.ID differs from it when it
	// was merged away.
	RequestedID string
	Profile     ExportProfile
	Counts      Counts

	x           *Exporter
	identifiers []graph.Identifier // sorted by key
	consent     []Record           // by identifier key, then Compare
	history     []graph.ProfileChange
	links       []graph.Link    // between two of identifiers, by A then B
	refusals    []ExportRefusal // touching identifiers, by A then B (as stored)
	memberships []ExportMembership
	computed    []ExportComputed
	// changeIDs are the profile ids whose audience log entries are the
	// person's: the profile's and those of the profiles merged into it
	// that still redirect to it.
	changeIDs    []string
	newestChange *ExportAudienceChange // the newest log entry counted, nil for none
	newest       *graph.JourneyCursor  // the newest event counted, nil for none
	// changesSum and eventsSum digest the keys of the entries and events
	// counted, in order (keySum), so that Write can tell the same records
	// from as many others.
	changesSum, eventsSum []byte
}

// keySum digests the keys of a run of records, in order: Write compares
// what it emits with what Prepare counted, so that a record stored in
// between among the counted ones (an event with a timestamp in the past,
// an audience entry dated before its commit) makes the export fail rather
// than take the place of a counted one.
type keySum struct{ h hash.Hash }

func newKeySum() keySum { return keySum{sha256.New()} }

func (k keySum) add(t time.Time, parts []string) {
	k.h.Write([]byte(t.UTC().Format(time.RFC3339Nano)))
	for _, p := range parts {
		k.h.Write([]byte{0})
		k.h.Write([]byte(p))
	}
	k.h.Write([]byte{'\n'})
}

func (k keySum) sum() []byte { return k.h.Sum(nil) }

// changeKey and eventKey are the keys keySum digests, in Prepare and
// Write alike.
func changeKey(ch ExportAudienceChange) (time.Time, []string) {
	return ch.At, []string{ch.Audience, strconv.FormatUint(ch.Seq, 10)}
}

// An event's key holds how it is shown too (shared or not, with which of
// the person's identifiers): a change since Prepare that shows a counted
// event otherwise, such as a correction that leaves it the person's
// alone, makes Write fail as a record stored in between does.
func eventKey(ev graph.Event) (time.Time, []string) {
	return ev.Timestamp, append([]string{ev.ID, strconv.FormatBool(ev.Shared)}, ev.Keys...)
}

// Prepare reads what an export of the profile id holds, except the
// audience log entries and the events, which it counts. An id merged away answers for its survivor.
//
// Errors: ENOTFOUND for an unknown or erased id; EINVALID for an empty
// one or one not shaped as a profile id (graph.ProfileIDShape), which the
// message does not repeat; ECONFLICT for a profile that kept changing
// under it (below).
//
// Every record it reads is of one set of the profile's identifiers: on a
// store that reads snapshots (graph.Snapshotter: the embedded store) all
// its reads see one committed state; on another, each page of events is
// checked to be read over the identifiers read first, and a merge or split
// committed meanwhile makes Prepare read the profile again (up to
// prepareAttempts times, then ECONFLICT).
func (x *Exporter) Prepare(ctx context.Context, id string) (*Export, error) {
	if strings.TrimSpace(id) == "" {
		return nil, graph.Errorf(graph.EINVALID, "profileId is required")
	}
	if !graph.ProfileIDShape(id) {
		return nil, graph.Errorf(graph.EINVALID, "profileId is not a profile id: p_ followed by lowercase letters and digits, at most %d bytes", graph.MaxProfileIDBytes)
	}
	for range prepareAttempts {
		var ex *Export
		err := graph.InSnapshot(ctx, x.engine.Store(), func(ctx context.Context) error {
			var err error
			ex, err = x.prepare(ctx, id)
			return err
		})
		if !errors.Is(err, errMoved) {
			return ex, err
		}
	}
	return nil, graph.Errorf(graph.ECONFLICT, "profile %s kept changing (merged or split) while its export was read; export it again", graph.ProfileRef(id))
}

// prepare is one attempt of Prepare: errMoved when the profile's
// identifiers changed during it.
func (x *Exporter) prepare(ctx context.Context, id string) (*Export, error) {
	p, err := x.engine.ProfileByID(ctx, id)
	if err != nil {
		return nil, err
	}
	ex := &Export{
		RequestedID: id, x: x,
		Profile: ExportProfile{ID: p.ID, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt, Size: p.Size},
	}
	cr, _ := x.engine.Store().(ConsentReader)
	err = x.engine.Store().View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
		ex.identifiers, ex.consent, ex.history, ex.links, ex.refusals, ex.changeIDs = nil, nil, nil, nil, nil, nil // fn may run again
		ms, err := tx.Members(ctx, []string{p.ID})
		if err != nil {
			return err
		}
		ex.identifiers = slices.Clone(ms[p.ID])
		slices.SortFunc(ex.identifiers, func(a, b graph.Identifier) int { return strings.Compare(a.Key, b.Key) })
		if ex.history, err = historyOf(ctx, tx, p.ID); err != nil {
			return err
		}
		if ex.history, err = withholdOthers(ctx, tx, p.ID, ex.identifiers, ex.history); err != nil {
			return err
		}
		if x.audChanges != nil {
			if ex.changeIDs, err = redirectingIDs(ctx, tx, p.ID, ex.history); err != nil {
				return err
			}
		}
		if len(ex.identifiers) == 0 {
			return nil
		}
		keys := make([]string, len(ex.identifiers))
		own := make(map[string]bool, len(keys))
		for i, m := range ex.identifiers {
			keys[i], own[m.Key] = m.Key, true
		}
		links, err := tx.Links(ctx, keys)
		if err != nil {
			return err
		}
		for _, l := range links {
			// Only the person's own: both ends are members.
			if own[l.A] && own[l.B] {
				ex.links = append(ex.links, l)
			}
		}
		slices.SortFunc(ex.links, func(a, b graph.Link) int {
			return cmp.Or(strings.Compare(a.A, b.A), strings.Compare(a.B, b.B))
		})
		ex.links = slices.CompactFunc(ex.links, func(a, b graph.Link) bool { return a.A == b.A && a.B == b.B })
		refused, err := tx.Rejected(ctx, keys)
		if err != nil {
			return err
		}
		slices.SortFunc(refused, func(a, b graph.RejectedLink) int {
			return cmp.Or(strings.Compare(a.A, b.A), strings.Compare(a.B, b.B))
		})
		refused = slices.CompactFunc(refused, func(a, b graph.RejectedLink) bool { return a.A == b.A && a.B == b.B })
		for _, r := range refused {
			if own[r.A] || own[r.B] {
				ex.refusals = append(ex.refusals, exportRefusal(r, own))
			}
		}
		// Read in this transaction where the store can: on the embedded
		// store a second read transaction opened in this one waits behind
		// a writer that must grow the file, which waits for this one.
		rd := cr
		if trd, ok := tx.(ConsentReader); ok {
			rd = trd
		}
		if rd == nil {
			return nil
		}
		byKey, err := rd.ConsentOf(ctx, keys)
		if err != nil {
			return err
		}
		for _, k := range keys {
			rs := slices.Clone(byKey[k])
			slices.SortStableFunc(rs, Compare)
			ex.consent = append(ex.consent, rs...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(ex.identifiers) == 0 {
		// The profile lost its members between the two reads (erased or
		// merged meanwhile): nothing of it is left to export under this id.
		return nil, graph.Errorf(graph.ENOTFOUND, "profile %s not found", graph.ProfileRef(id))
	}
	if x.members != nil {
		if ex.memberships, err = x.members(ctx, p.ID); err != nil {
			return nil, err
		}
	}
	if x.computed != nil {
		if ex.computed, err = x.computed(ctx, p.ID); err != nil {
			return nil, err
		}
	}
	c := &ex.Counts
	c.Identifiers, c.Consent, c.History = len(ex.identifiers), len(ex.consent), len(ex.history)
	c.Links, c.Memberships, c.Computed = len(ex.links), len(ex.memberships), len(ex.computed)
	c.Refusals = len(ex.refusals)
	for _, m := range ex.identifiers {
		c.Traits += len(m.Traits)
	}
	changes := newKeySum()
	err = x.audienceChanges(ctx, ex.changeIDs, func(ch ExportAudienceChange) error {
		if ex.newestChange == nil {
			ex.newestChange = &ch
		}
		c.AudienceChanges++
		changes.add(changeKey(ch))
		return nil
	})
	if err != nil {
		return nil, err
	}
	events := newKeySum()
	err = x.events(ctx, p.ID, ex.keys(), func(ev graph.Event) error {
		if ex.newest == nil {
			ex.newest = &graph.JourneyCursor{Timestamp: ev.Timestamp, ID: ev.ID}
		}
		c.Events++
		events.add(eventKey(ev))
		return nil
	})
	if err != nil {
		return nil, err
	}
	ex.changesSum, ex.eventsSum = changes.sum(), events.sum()
	return ex, nil
}

// keys returns the keys of the export's identifiers, in key order.
func (ex *Export) keys() []string {
	keys := make([]string, len(ex.identifiers))
	for i, m := range ex.identifiers {
		keys[i] = m.Key
	}
	return keys
}

// events pages through the profile's journey, newest first. With keys
// (Prepare's), each page must be read over them, the export's identifiers
// in key order: one read over others (the profile merged or split
// meanwhile) ends the paging with errMoved, so the pages are the events of
// keys, each once. Write passes none: what it emits must be what Prepare
// counted (writeCounted), which a merge or split meanwhile breaks.
func (x *Exporter) events(ctx context.Context, pid string, keys []string, fn func(graph.Event) error) error {
	q := graph.JourneyQuery{Limit: eventPage}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		page, members, err := x.engine.JourneysOf(ctx, []string{pid}, q)
		if err != nil {
			return err
		}
		if keys != nil && !slices.Equal(members[pid], keys) {
			return errMoved
		}
		if afterEventPage != nil {
			afterEventPage()
		}
		evs := page[pid]
		for _, ev := range evs {
			if err := fn(ev); err != nil {
				return err
			}
		}
		if len(evs) < q.Limit {
			return nil
		}
		last := evs[len(evs)-1]
		q.After = &graph.JourneyCursor{Timestamp: last.Timestamp, ID: last.ID}
	}
}

// audienceChanges pages through the audience log entries naming ids,
// newest first. Without a reader, or ids, there are none.
func (x *Exporter) audienceChanges(ctx context.Context, ids []string, fn func(ExportAudienceChange) error) error {
	if x.audChanges == nil || len(ids) == 0 {
		return nil
	}
	var after *ExportAudienceChange
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		page, err := x.audChanges(ctx, ids, after, changePage)
		if err != nil {
			return err
		}
		for _, ch := range page {
			if err := fn(ch); err != nil {
				return err
			}
		}
		if len(page) < changePage {
			return nil
		}
		last := page[len(page)-1]
		after = &last
	}
}

// redirectingIDs returns pid and the ids of the profiles merged into it,
// transitively, that still redirect to it (each one's MergedInto is pid or
// another such id), in id order: the old ids an erasure of pid deletes
// with it, whose audience log entries are the person's too. history is
// pid's (historyOf), which names every such profile.
func redirectingIDs(ctx context.Context, tx graph.ReadTx, pid string, history []graph.ProfileChange) ([]string, error) {
	var froms []string
	for _, c := range history {
		if c.Kind == graph.ChangeMerge && c.From != pid {
			froms = append(froms, c.From)
		}
	}
	slices.Sort(froms)
	froms = slices.Compact(froms)
	out := []string{pid}
	if len(froms) == 0 {
		return out, nil
	}
	ps, err := tx.Profiles(ctx, froms)
	if err != nil {
		return nil, err
	}
	in := map[string]bool{pid: true}
	for grew := true; grew; {
		grew = false
		for _, f := range froms {
			if into := ps[f].MergedInto; !in[f] && into != "" && in[into] {
				in[f], grew = true, true
				out = append(out, f)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// historyOf returns the history of pid: every merge and split involving it
// or a profile merged into it (transitively), oldest first, ties ordered
// by kind and ids, as graph.Engine.History orders them.
func historyOf(ctx context.Context, tx graph.ReadTx, pid string) ([]graph.ProfileChange, error) {
	type key struct {
		kind, from, into string
		at               time.Time
	}
	seen := map[key]bool{}
	var out []graph.ProfileChange
	known := map[string]bool{pid: true}
	// left[b]: when b, a profile merged into one of ours, was split off
	// again (an unlink gave it its part back). What b did after that is
	// another person's past, not this one's.
	left := map[string]time.Time{}
	todo := []string{pid}
	for len(todo) > 0 {
		cs, err := tx.Changes(ctx, todo)
		if err != nil {
			return nil, err
		}
		for _, b := range todo {
			if b == pid {
				continue
			}
			// The split that took b away after it last merged into ours.
			var mergedAt, splitAt time.Time
			for _, c := range cs {
				if c.Kind == graph.ChangeMerge && c.From == b && known[c.Into] && c.At.After(mergedAt) {
					mergedAt = c.At
				}
			}
			for _, c := range cs {
				if c.Kind == graph.ChangeSplit && c.Into == b && !c.At.Before(mergedAt) && (splitAt.IsZero() || c.At.Before(splitAt)) {
					splitAt = c.At
				}
			}
			if !splitAt.IsZero() {
				left[b] = splitAt
			}
		}
		todo = nil
		for _, c := range cs {
			if after(pid, known, left, c) {
				continue
			}
			k := key{c.Kind, c.From, c.Into, c.At.UTC()}
			if seen[k] {
				continue
			}
			seen[k] = true
			out = append(out, c)
			// A profile merged into one of ours brought its past with it.
			if c.Kind == graph.ChangeMerge && known[c.Into] && !known[c.From] {
				known[c.From] = true
				todo = append(todo, c.From)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b graph.ProfileChange) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		if c := strings.Compare(a.From, b.From); c != 0 {
			return c
		}
		return strings.Compare(a.Into, b.Into)
	})
	return out, nil
}

// WithheldText stands, in an exported history reason, for the value of
// an identifier that another profile holds now.
const WithheldText = "[withheld]"

// withholdOthers returns history with the identifiers its reasons name
// ("event e linked user_id:u1 and email:bob@example.com", "unlinked ...")
// that are no longer pid's withheld: each becomes its type and
// WithheldText. They are the identifiers of the other profiles the
// entries name (the part a split took away), wherever those profiles were
// merged since; own holds pid's identifiers, which stay as they are.
func withholdOthers(ctx context.Context, tx graph.ReadTx, pid string, own []graph.Identifier, history []graph.ProfileChange) ([]graph.ProfileChange, error) {
	seen := map[string]bool{pid: true}
	var todo []string
	for _, c := range history {
		for _, id := range []string{c.From, c.Into} {
			if !seen[id] {
				seen[id] = true
				todo = append(todo, id)
			}
		}
	}
	// Each id to the live profile that holds its identifiers now; an
	// erased one is gone (and its values already scrubbed from reasons).
	var live []string
	for len(todo) > 0 {
		slices.Sort(todo)
		ps, err := tx.Profiles(ctx, todo)
		if err != nil {
			return nil, err
		}
		todo = nil
		for _, p := range ps {
			switch {
			case p.Live():
				live = append(live, p.ID)
			case !seen[p.MergedInto]:
				seen[p.MergedInto] = true
				todo = append(todo, p.MergedInto)
			}
		}
	}
	if len(live) == 0 {
		return history, nil
	}
	slices.Sort(live)
	ms, err := tx.Members(ctx, live)
	if err != nil {
		return nil, err
	}
	mine := make(map[string]bool, len(own))
	for _, m := range own {
		mine[m.Key] = true
	}
	var others []string
	for _, id := range live {
		for _, m := range ms[id] {
			if !mine[m.Key] {
				others = append(others, m.Key)
			}
		}
	}
	if len(others) == 0 {
		return history, nil
	}
	// Longest first, so that a key is never taken for the start of a
	// longer one.
	slices.SortFunc(others, func(a, b string) int { return cmp.Or(len(b)-len(a), strings.Compare(a, b)) })
	out := slices.Clone(history)
	for i := range out {
		for _, k := range others {
			out[i].Reason = withholdKey(out[i].Reason, k)
		}
	}
	return out, nil
}

// exportRefusal is r as the export of the person holding own shows it:
// an end not in own, another person's identifier, by its type alone, and
// its key withheld from the reason and the evidence.
func exportRefusal(r graph.RejectedLink, own map[string]bool) ExportRefusal {
	out := ExportRefusal{Kind: KindRefusal, A: graph.SplitKey(r.A), B: graph.SplitKey(r.B), Source: r.Source,
		Reason: r.Reason, Evidence: r.Evidence, At: r.At}
	for _, end := range []struct {
		key string
		ref *graph.IdentifierRef
	}{{r.A, &out.A}, {r.B, &out.B}} {
		if own[end.key] {
			continue
		}
		end.ref.Value = WithheldText
		out.Reason, out.Evidence = withholdKey(out.Reason, end.key), withholdKey(out.Evidence, end.key)
	}
	return out
}

// withholdKey replaces key in s, where it stands as a whole key (between
// the start or a space, and the end, a space or a colon, as the engine
// writes keys in reasons), by its type and WithheldText.
func withholdKey(s, key string) string {
	if !strings.Contains(s, key) {
		return s
	}
	repl := graph.SplitKey(key).Type + ":" + WithheldText
	var b strings.Builder
	for {
		i := strings.Index(s, key)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := i + len(key)
		if (i == 0 || s[i-1] == ' ') && (j == len(s) || s[j] == ' ' || s[j] == ':') {
			b.WriteString(s[:i])
			b.WriteString(repl)
		} else {
			b.WriteString(s[:j])
		}
		s = s[j:]
	}
}

// after reports whether c is a change of a profile after it left the
// person (left) with no profile that was still theirs then (pid, or one
// known to have merged into theirs and not left by then).
func after(pid string, known map[string]bool, left map[string]time.Time, c graph.ProfileChange) bool {
	gone := func(id string) bool {
		t, ok := left[id]
		return ok && c.At.After(t)
	}
	ours := func(id string) bool { return id == pid || known[id] && !gone(id) }
	return (gone(c.From) || gone(c.Into)) && !ours(c.From) && !ours(c.Into)
}

// Write emits every record of the export, in a stable order: identifiers
// by key; traits by identifier key, then name; consent records by
// identifier key, then oldest first (Compare); history oldest first; links
// by their two identifier keys; memberships by audience id; computed values
// by name; audience log entries newest first (time descending, then
// audience id, then the entry's number descending); then events newest
// first (timestamp, then id, descending). emit gets the record's kind and
// the record (an Export* value, whose Kind field holds the kind too); an
// error from emit stops Write and is returned.
//
// Errors: ECONFLICT when the profile's audience log entries or events no
// longer match the counts Prepare took (the profile was merged, split or
// erased meanwhile, or an audience deleted).
func (ex *Export) Write(ctx context.Context, emit func(kind string, v any) error) error {
	for _, m := range ex.identifiers {
		sources := slices.Clone(m.Sources)
		if sources == nil {
			sources = []string{}
		}
		slices.Sort(sources)
		if err := emit(KindIdentifier, ExportIdentifier{
			Kind: KindIdentifier, Type: m.Type, Value: m.Value,
			FirstSeen: m.FirstSeen, LastSeen: m.LastSeen, Sources: sources,
		}); err != nil {
			return err
		}
	}
	for _, m := range ex.identifiers {
		for _, name := range slices.Sorted(maps.Keys(m.Traits)) {
			v := m.Traits[name]
			if err := emit(KindTrait, ExportTrait{
				Kind: KindTrait, Identifier: m.Ref(), Name: name, Value: v.Value, Source: v.Source, At: v.At,
			}); err != nil {
				return err
			}
		}
	}
	for _, r := range ex.consent {
		rec := ExportConsent{
			Kind: KindConsent, ID: r.ID, Purpose: r.Purpose, Status: r.Status, At: r.At, Source: r.Source,
			LegalBasis: r.LegalBasis, Identifier: graph.SplitKey(r.Identifier), ReceivedAt: r.ReceivedAt,
			Proof: ExportProof{Text: r.Proof.Text, Version: r.Proof.Version, Channel: r.Proof.Channel,
				Collector: r.Proof.Collector, EventID: r.Proof.EventID},
		}
		if !r.ExpiresAt.IsZero() {
			t := r.ExpiresAt
			rec.ExpiresAt = &t
		}
		if err := emit(KindConsent, rec); err != nil {
			return err
		}
	}
	for _, c := range ex.history {
		if err := emit(KindHistory, ExportChange{
			Kind: KindHistory, Change: c.Kind, From: c.From, Into: c.Into, At: c.At, Reason: c.Reason,
		}); err != nil {
			return err
		}
	}
	for _, l := range ex.links {
		if err := emit(KindLink, ExportLink{
			Kind: KindLink, A: graph.SplitKey(l.A), B: graph.SplitKey(l.B), Source: l.Source, Evidence: l.Evidence,
			FirstSeen: l.FirstSeen, LastSeen: l.LastSeen, Count: l.Count,
		}); err != nil {
			return err
		}
	}
	for _, r := range ex.refusals {
		if err := emit(KindRefusal, r); err != nil {
			return err
		}
	}
	for _, m := range ex.memberships {
		m.Kind = KindMembership
		if err := emit(KindMembership, m); err != nil {
			return err
		}
	}
	for _, cv := range ex.computed {
		cv.Kind = KindComputed
		if err := emit(KindComputed, cv); err != nil {
			return err
		}
	}
	if ex.newestChange != nil {
		err := writeCounted(ex, "audience log entries", ex.Counts.AudienceChanges, ex.changesSum,
			func(fn func(ExportAudienceChange) error) error { return ex.x.audienceChanges(ctx, ex.changeIDs, fn) },
			func(ch ExportAudienceChange) bool { return compareAudienceChanges(ch, *ex.newestChange) < 0 },
			changeKey,
			func(ch ExportAudienceChange) error {
				ch.Kind = KindAudienceChange
				return emit(KindAudienceChange, ch)
			})
		if err != nil {
			return err
		}
	}
	if ex.newest == nil {
		return nil
	}
	return writeCounted(ex, "events", ex.Counts.Events, ex.eventsSum,
		func(fn func(graph.Event) error) error { return ex.x.events(ctx, ex.Profile.ID, nil, fn) },
		func(ev graph.Event) bool {
			return !ex.newest.Admits(ev) && (!ev.Timestamp.Equal(ex.newest.Timestamp) || ev.ID != ex.newest.ID)
		},
		eventKey,
		func(ev graph.Event) error { return emit(KindEvent, exportEvent(ev)) })
}

// errDone stops the paging once every counted record is emitted.
var errDone = errors.New("every counted record emitted")

// writeCounted emits again, through page (newest first), the records of
// one kind that Prepare counted (count of them, whose keys digest to want):
// it skips those newer than every one counted (stored after Prepare), stops
// at the count, and fails (ECONFLICT) when fewer are found, or others (one
// stored in between, dated among those counted, in the place of the oldest).
func writeCounted[T any](ex *Export, what string, count int, want []byte, page func(func(T) error) error,
	newer func(T) bool, key func(T) (time.Time, []string), emit func(T) error) error {
	n := 0
	sum := newKeySum()
	err := page(func(r T) error {
		if newer(r) {
			return nil
		}
		if n == count {
			return errDone
		}
		n++
		sum.add(key(r))
		return emit(r)
	})
	if errors.Is(err, errDone) {
		err = nil
	}
	if err != nil {
		return err
	}
	if n != count {
		return graph.Errorf(graph.ECONFLICT, "profile %s changed during its export (%d %s counted, %d found); export it again", ex.Profile.ID, count, what, n)
	}
	if !bytes.Equal(sum.sum(), want) {
		return graph.Errorf(graph.ECONFLICT, "profile %s changed during its export (%s stored among those counted); export it again", ex.Profile.ID, what)
	}
	return nil
}

func exportEvent(ev graph.Event) ExportEvent {
	out := ExportEvent{
		Kind: KindEvent, ID: ev.ID, MessageID: ev.MessageID, Type: ev.Type, Name: ev.Name, Channel: ev.Channel,
		Source: ev.Source, Campaign: ev.Campaign, Timestamp: ev.Timestamp, ReceivedAt: ev.ReceivedAt,
		Properties: ev.Properties, Traits: ev.Traits, Shared: ev.Shared,
		Identifiers: make([]graph.IdentifierRef, len(ev.Keys)),
	}
	if out.Properties == nil {
		out.Properties = map[string]any{}
	}
	if out.Traits == nil {
		out.Traits = map[string]any{}
	}
	for i, k := range ev.Keys {
		out.Identifiers[i] = graph.SplitKey(k)
	}
	return out
}

// Export prepares the export of the profile id and writes it to emit,
// returning its counts: Prepare, then Write.
//
// Errors: those of Prepare and Write, and emit's.
func (x *Exporter) Export(ctx context.Context, id string, emit func(kind string, v any) error) (Counts, error) {
	ex, err := x.Prepare(ctx, id)
	if err != nil {
		return Counts{}, err
	}
	return ex.Counts, ex.Write(ctx, emit)
}
