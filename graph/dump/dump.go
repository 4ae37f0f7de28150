package dump

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// Kind names one kind of record.
type Kind string

// The kinds of record, in Kinds order.
const (
	Profiles    Kind = "profiles"    // graph.Profile, live and merged away
	Identifiers Kind = "identifiers" // graph.Identifier with ProfileID and Traits
	Links       Kind = "links"       // graph.Link
	Rejected    Kind = "rejected"    // graph.RejectedLink
	Events      Kind = "events"      // graph.Event with Keys, MessageID and Digest
	Changes     Kind = "changes"     // graph.ProfileChange: merges (with Members) and splits
)

// Kinds lists every kind in load order: each kind refers only to kinds
// before it (an identifier to its profile, a link to its identifiers, an
// event to the identifiers it is BY, a history entry to its profiles).
var Kinds = []Kind{Profiles, Identifiers, Links, Rejected, Events, Changes}

// allKinds lists the graph kinds and those of the capabilities (see
// Stream), in load order.
var allKinds = append(append([]Kind(nil), Kinds...), APIKeys, Audit, Consent, SuppressionKey, Suppressed, RetiredIDs, Receipts,
	ComputedTraits, ComputedValues, Facts, Audiences, AudienceMembers, AudienceChanges, Feed, Destinations, Deliveries)

// Batch is a page of records of one kind: only the slice of its Kind is
// set.
type Batch struct {
	Kind        Kind
	Profiles    []graph.Profile
	Identifiers []graph.Identifier
	Links       []graph.Link
	Rejected    []graph.RejectedLink
	Events      []graph.Event
	Changes     []graph.ProfileChange
	APIKeys     []access.Key
	Audit       []access.AuditEntry
	Consent     []privacy.Record
	// SuppressionKey is the secret of the suppressed hashes, nil when the
	// store has none.
	SuppressionKey  []byte
	Suppressed      []privacy.Suppression
	RetiredIDs      []string // graph.RetiredIDHash values
	Receipts        []privacy.ErasureReceipt
	ComputedTraits  []audience.ComputedTrait
	ComputedValues  []audience.ComputedValue
	Facts           []audience.Facts
	Audiences       []AudienceRecord
	AudienceMembers []audience.Membership
	AudienceChanges []audience.Change
	Feed            []graph.FeedEntry
	// FeedFrom and FeedTo are the Seqs a page of the feed covers on the
	// source: every Seq from the one after the previous page's last (1 on
	// the first page) to the last of this page, or on the last page to
	// the source's head. A Seq in that range that Feed does not hold is a
	// gap on the source (redacted by erasure, or trimmed), and the target
	// drops what it stores there (FeedWriter.LoadFeed). FeedTo below
	// FeedFrom is an empty range; both 0 is the range from Feed's first
	// entry to its last.
	FeedFrom, FeedTo uint64
	// FeedHead and FeedTrimmed are, on the last page of the feed, the
	// source's head and the greatest Seq its retention trimmed: a target
	// raises its own to them (FeedWriter.LoadFeedMarks), so that new
	// entries go on after the source's and a cursor older than the
	// retention is refused there too.
	FeedHead, FeedTrimmed uint64
	Destinations          []destination.Destination
	Deliveries            []destination.Delivery
	// Next is the cursor of the page after this one, "" after the last
	// page. It is opaque: only the Reader that made it reads it.
	Next string
}

// Len returns the number of records in b.
func (b *Batch) Len() int {
	return len(b.Profiles) + len(b.Identifiers) + len(b.Links) + len(b.Rejected) + len(b.Events) + len(b.Changes) +
		len(b.APIKeys) + len(b.Audit) + len(b.Consent) + min(1, len(b.SuppressionKey)) + len(b.Suppressed) + len(b.RetiredIDs) + len(b.Receipts) +
		len(b.ComputedTraits) + len(b.ComputedValues) + len(b.Facts) +
		len(b.Audiences) + len(b.AudienceMembers) + len(b.AudienceChanges) + len(b.Feed) +
		len(b.Destinations) + len(b.Deliveries)
}

// Reader pages through a store's records.
type Reader interface {
	// Count returns the number of records of kind.
	Count(ctx context.Context, kind Kind) (int, error)
	// Page returns the records of kind that follow the cursor after ("" is
	// the start) in the Reader's stable order, about limit of them: a
	// Reader may stop at a boundary of its own (all the links of one
	// identifier come in one page), so a page may hold a few more, or none
	// while Next is not "". Reading every page from "" until Next is ""
	// returns every record once, when nothing writes meanwhile.
	Page(ctx context.Context, kind Kind, after string, limit int) (Batch, error)
}

// Load writes b into st in one transaction, through the store's own
// Tx.Apply, as the records are: ids, times, counts and history stay as
// given, and no resolution runs. Records already in st are overwritten
// (profiles, identifiers' traits and profile, links, refused links) or
// left as they are (an event already stored, a history entry already
// recorded with the same kind, profiles and time, a retired profile id
// already kept), so a copy can be run again on a target it partly filled.
// The kinds a batch refers to must be loaded first (see Kinds), and
// retired profile ids after the suppression secret that keys them.
func Load(ctx context.Context, st graph.Store, b Batch) error {
	if b.Len() == 0 {
		return nil
	}
	return st.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		w := &graph.Write{At: graph.Now()}
		switch b.Kind {
		case Profiles:
			w.PutProfiles = b.Profiles
		case Identifiers:
			seen := make([]graph.IdentifierSeen, len(b.Identifiers))
			for i, id := range b.Identifiers {
				seen[i] = graph.IdentifierSeen{Key: id.Key, Type: id.Type, Value: id.Value, First: id.FirstSeen, Last: id.LastSeen, Sources: id.Sources}
				if id.ProfileID != "" {
					w.Assign = append(w.Assign, graph.Assignment{Key: id.Key, ProfileID: id.ProfileID})
				}
				if len(id.Traits) > 0 {
					w.Traits = append(w.Traits, graph.TraitUpdate{Key: id.Key, Traits: id.Traits})
				}
			}
			if _, err := tx.LockIdentifiers(ctx, seen, true); err != nil {
				return err
			}
		case Links:
			w.PutLinks = b.Links
		case Rejected:
			w.PutRejected = b.Rejected
		case Events:
			claims := make([]graph.EventClaim, len(b.Events))
			for i, e := range b.Events {
				claims[i] = graph.EventClaim{ID: e.ID, Digest: e.Digest}
			}
			stored, err := tx.ClaimEvents(ctx, claims)
			if err != nil {
				return err
			}
			for _, e := range b.Events {
				if _, ok := stored[e.ID]; !ok {
					w.Events = append(w.Events, e)
				}
			}
		case Changes:
			fresh, err := newChanges(ctx, tx, b.Changes)
			if err != nil {
				return err
			}
			w.Changes = fresh
		case RetiredIDs:
			for i, h := range b.RetiredIDs {
				if !graph.ValidKeyedHash(h) {
					return fmt.Errorf("load: retired profile id %d of the batch is not a hash of 64 lowercase hex digits", i)
				}
			}
			w.RetireProfiles = b.RetiredIDs
		default:
			return fmt.Errorf("load: unknown record kind %q", b.Kind)
		}
		return tx.Apply(ctx, w)
	})
}

// newChanges returns the entries of cs that tx does not hold yet.
func newChanges(ctx context.Context, tx graph.ReadTx, cs []graph.ProfileChange) ([]graph.ProfileChange, error) {
	ids := make([]string, 0, 2*len(cs))
	for _, c := range cs {
		ids = append(ids, c.From, c.Into)
	}
	slices.Sort(ids)
	have, err := tx.Changes(ctx, slices.Compact(ids))
	if err != nil {
		return nil, err
	}
	type entry struct {
		kind, from, into string
		at               int64
	}
	key := func(c graph.ProfileChange) entry { return entry{c.Kind, c.From, c.Into, c.At.UnixMicro()} }
	known := make(map[entry]bool, len(have))
	for _, c := range have {
		known[key(c)] = true
	}
	var out []graph.ProfileChange
	for _, c := range cs {
		if !known[key(c)] {
			out = append(out, c)
		}
	}
	return out, nil
}

// Counts holds the number of records per kind.
type Counts map[Kind]int

// Count counts every kind of r.
func Count(ctx context.Context, r Reader) (Counts, error) {
	out := Counts{}
	for _, k := range Kinds {
		n, err := r.Count(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("count %s: %w", k, err)
		}
		out[k] = n
	}
	return out, nil
}

// Empty reports whether c counts no record, but for a suppression secret
// that keys no hash (no suppressed identifier, no retired profile id):
// every server makes one when it starts, and a copy replaces it. Counts miss state outside the records, such as the feed's
// head and retention mark: whether a store is an empty target is
// Stream.Holdings.
func (c Counts) Empty() bool {
	for k := range c {
		if c.holds(k) {
			return false
		}
	}
	return true
}

// Differ reports whether c and o differ in their count of k, as a copy's
// verification compares them: a suppression secret that keys no hash on
// either side (no suppressed identifier, no retired profile id) is not
// compared, since every server makes one when it starts and a source may
// have none.
func (c Counts) Differ(o Counts, k Kind) bool {
	return c[k] != o[k] && c.Compared(o, k)
}

// Compared reports whether a copy's verification compares the kind k of
// two stores counted c and o, by count and content: every kind but a
// suppression secret that keys no hash on either side.
func (c Counts) Compared(o Counts, k Kind) bool {
	return k != SuppressionKey || c.holds(k) || o.holds(k)
}

// holds reports whether c counts records of k, as Empty reads them.
func (c Counts) holds(k Kind) bool {
	return c[k] != 0 && (k != SuppressionKey || c[Suppressed] != 0 || c[RetiredIDs] != 0)
}

// String lists the counts in load order, "profiles=3 identifiers=7 ...".
func (c Counts) String() string {
	var parts []string
	for _, k := range allKinds {
		if n, ok := c[k]; ok {
			parts = append(parts, fmt.Sprintf("%s=%d", k, n))
		}
	}
	return strings.Join(parts, " ")
}

// Sum is the checksum of a store's partition.
type Sum struct {
	Live int    // live profiles
	Hash string // hex SHA-256 (see Partition)
}

// Partition returns the checksum of st's partition: the hex SHA-256 of
// each live profile's member keys (sorted, one per line), then the
// SHA-256 of those hashes, sorted, one per line. Profile ids do not enter
// it, so two stores that group the same identifiers the same way agree
// whatever their ids; pageSize live profiles are read per transaction.
func Partition(ctx context.Context, st graph.Store, pageSize int) (Sum, error) {
	if pageSize < 1 {
		pageSize = 1000
	}
	var hashes []string
	after := ""
	for {
		var page []graph.Profile
		var members map[string][]graph.Identifier
		err := st.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
			var err error
			page, err = tx.ProfilesPage(ctx, graph.PageQuery{After: after, Limit: pageSize})
			if err != nil {
				return err
			}
			ids := make([]string, len(page))
			for i, p := range page {
				ids[i] = p.ID
			}
			members, err = tx.Members(ctx, ids)
			return err
		})
		if err != nil {
			return Sum{}, fmt.Errorf("partition checksum: %w", err)
		}
		for _, p := range page {
			keys := make([]string, len(members[p.ID]))
			for i, m := range members[p.ID] {
				keys[i] = m.Key
			}
			hashes = append(hashes, hashLines(keys))
		}
		if len(page) < pageSize {
			break
		}
		after = page[len(page)-1].ID
	}
	return Sum{Live: len(hashes), Hash: hashLines(hashes)}, nil
}

// hashLines sorts xs and returns the hex SHA-256 of them, one per line.
func hashLines(xs []string) string {
	slices.Sort(xs)
	h := sha256.New()
	for _, x := range xs {
		h.Write([]byte(x))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}
