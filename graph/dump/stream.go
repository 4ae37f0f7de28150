package dump

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// The kinds of the access capability, read and written through its
// contract (access.Store), which keeps every field as given.
const (
	APIKeys Kind = "api_keys" // access.Key, hash and times included
	Audit   Kind = "audit"    // access.AuditEntry
)

// The kinds of the privacy capability. Consent records and the
// suppression list are read through PrivacyReader, which both stores
// implement, and written through the privacy contracts; erasure receipts
// go through the contracts both ways.
const (
	Consent        Kind = "consent"         // privacy.Record
	SuppressionKey Kind = "suppression_key" // the secret of the suppressed hashes: 0 or 1
	Suppressed     Kind = "suppressed"      // privacy.Suppression
	Receipts       Kind = "receipts"        // privacy.ErasureReceipt
	// RetiredIDs are the hashes of deleted profile ids that no new
	// profile may take (graph.RetiredIDHash). They are keyed by the
	// suppression secret, so they come after it; the store's Reader reads
	// them and Load writes them (Write.RetireProfiles).
	RetiredIDs Kind = "retired_profile_ids"
)

// The kinds of the audience capability that its contract (audience.Store)
// reads and writes exactly: computed trait definitions, their values and
// the keeper's profile facts. Values and facts are kept by profile id,
// apart from the profiles, so their pages follow the profile ids that hold
// some, which AudienceReader lists (the cursor is a profile id): those of
// an id that is no profile (left by an erasure made without the audience
// hook, audience.ForgetErasureInTx) are copied and counted too.
// Audiences themselves are copied as stored through AudienceWriter
// (audience.go).
const (
	ComputedTraits Kind = "computed_traits" // audience.ComputedTrait
	ComputedValues Kind = "computed_values" // audience.ComputedValue
	Facts          Kind = "facts"           // audience.Facts
)

// ErrOtherSuppressionKey is returned by PutSuppressionKey when the store
// holds another secret: its suppressed hashes could not be compared with
// the ones copied.
var ErrOtherSuppressionKey = errors.New("the target holds another suppression secret, so its suppression list and retired profile ids cannot be merged with the source's")

// PrivacyReader reads what the privacy contracts cannot list.
type PrivacyReader interface {
	// ConsentPage returns up to limit consent records with ids greater
	// than after, in id order.
	ConsentPage(ctx context.Context, after string, limit int) ([]privacy.Record, error)
	// CountConsent counts the consent records.
	CountConsent(ctx context.Context) (int, error)
	// SuppressionPage returns up to limit suppressed hashes greater than
	// after, in hash order.
	SuppressionPage(ctx context.Context, after string, limit int) ([]privacy.Suppression, error)
	// StoredSuppressionKey returns the secret of the suppressed hashes,
	// nil when none was made yet (it makes none).
	StoredSuppressionKey(ctx context.Context) ([]byte, error)
	// PutSuppressionKey stores key as the secret when there is none, or
	// with replace; ErrOtherSuppressionKey when another is stored and
	// replace is false.
	PutSuppressionKey(ctx context.Context, key []byte, replace bool) error
}

// privacyStore is what a store needs for the privacy kinds.
type privacyStore interface {
	PrivacyReader
	privacy.ConsentStore
	privacy.SuppressionStore
	privacy.ReceiptStore
}

// Stream is the whole record stream of one store: the graph kinds through
// the store's Reader, and the kinds of each capability the store holds
// through that capability's contract. It is a Reader itself.
type Stream struct {
	st      graph.Store
	r       Reader
	access  access.Store     // nil when the store holds no API keys
	privacy privacyStore     // nil when the store holds no privacy records
	aud     audience.Store   // nil when the store holds no audiences
	audR    AudienceReader   // nil when the store cannot list its values and facts
	audW    audienceStore    // nil when the store cannot take audiences as they are
	feed    feedStore        // nil when the store keeps no feed
	dest    destinationStore // nil when the store keeps no destinations
}

// NewStream returns the stream of st.
//
// Errors: st does not implement Reader.
func NewStream(st graph.Store) (*Stream, error) {
	r, ok := st.(Reader)
	if !ok {
		return nil, fmt.Errorf("the store %T cannot be read as a record stream", st)
	}
	s := &Stream{st: st, r: r}
	s.access, _ = st.(access.Store)
	s.privacy, _ = st.(privacyStore)
	s.aud, _ = st.(audience.Store)
	s.audR, _ = st.(AudienceReader)
	s.audW, _ = st.(audienceStore)
	s.feed, _ = st.(feedStore)
	s.dest, _ = st.(destinationStore)
	return s, nil
}

// Store returns the stream's store.
func (s *Stream) Store() graph.Store { return s.st }

// Kinds lists the kinds the store holds, in load order: the graph kinds,
// then API keys and the audit log, then consent, the suppression list, the
// retired profile ids and erasure receipts, then the audience kinds, the change feed, and last the
// webhook destinations with their deliveries.
func (s *Stream) Kinds() []Kind {
	out := append([]Kind(nil), Kinds...)
	if s.access != nil {
		out = append(out, APIKeys, Audit)
	}
	if s.privacy != nil {
		out = append(out, Consent, SuppressionKey, Suppressed, RetiredIDs, Receipts)
	}
	if s.aud != nil {
		out = append(out, ComputedTraits, ComputedValues, Facts)
	}
	if s.audW != nil {
		out = append(out, Audiences, AudienceMembers, AudienceChanges)
	}
	if s.feed != nil {
		out = append(out, Feed)
	}
	if s.dest != nil {
		out = append(out, Destinations, Deliveries)
	}
	return out
}

func (s *Stream) holds(k Kind) bool {
	for _, x := range s.Kinds() {
		if x == k {
			return true
		}
	}
	return false
}

// Count implements Reader.
func (s *Stream) Count(ctx context.Context, k Kind) (int, error) {
	switch {
	case !s.holds(k):
		return 0, fmt.Errorf("the store %T holds no %s", s.st, k)
	case k == APIKeys:
		return s.access.CountKeys(ctx)
	case k == Consent:
		return s.privacy.CountConsent(ctx)
	case k == SuppressionKey:
		key, err := s.privacy.StoredSuppressionKey(ctx)
		if key == nil {
			return 0, err
		}
		return 1, err
	case k == Suppressed:
		return s.privacy.CountSuppressed(ctx)
	case k == Receipts:
		return s.privacy.CountReceipts(ctx)
	case k == Feed:
		return s.countFeed(ctx)
	case k == ComputedTraits:
		cs, err := s.aud.ComputedTraits(ctx)
		return len(cs), err
	case k == ComputedValues || k == Facts || k == Audiences || k == AudienceMembers || k == AudienceChanges ||
		k == Destinations || k == Deliveries:
		// No count in the contracts: page through them.
		n, after := 0, ""
		for {
			b, err := s.Page(ctx, k, after, 1000)
			if err != nil {
				return 0, err
			}
			n += b.Len()
			if b.Next == "" {
				return n, nil
			}
			after = b.Next
		}
	case k == Audit:
		// The contract has no count: page through the log.
		n, after := 0, ""
		for {
			b, err := s.Page(ctx, Audit, after, access.MaxPage)
			if err != nil {
				return 0, err
			}
			n += len(b.Audit)
			if b.Next == "" {
				return n, nil
			}
			after = b.Next
		}
	}
	return s.r.Count(ctx, k)
}

// Page implements Reader. API keys come by id, the audit log newest first.
func (s *Stream) Page(ctx context.Context, k Kind, after string, limit int) (Batch, error) {
	limit = max(1, limit)
	switch {
	case !s.holds(k):
		return Batch{}, fmt.Errorf("the store %T holds no %s", s.st, k)
	case k == APIKeys:
		limit = min(limit, access.MaxPage)
		keys, err := s.access.Keys(ctx, limit, after)
		if err != nil {
			return Batch{}, err
		}
		b := Batch{Kind: k, APIKeys: keys}
		if len(keys) == limit {
			b.Next = keys[len(keys)-1].ID
		}
		return b, nil
	case k == Audit:
		limit = min(limit, access.MaxPage)
		q := access.AuditQuery{Limit: limit}
		if after != "" {
			c, err := parseCursor(after)
			if err != nil {
				return Batch{}, err
			}
			q.After = c
		}
		entries, err := s.access.Audit(ctx, q)
		if err != nil {
			return Batch{}, err
		}
		b := Batch{Kind: k, Audit: entries}
		if len(entries) == limit {
			b.Next = formatCursor(entries[len(entries)-1].At, entries[len(entries)-1].ID)
		}
		return b, nil
	case k == ComputedTraits:
		// At most audience.MaxComputedTraits: one page.
		cs, err := s.aud.ComputedTraits(ctx)
		return Batch{Kind: k, ComputedTraits: cs}, err
	case k == ComputedValues || k == Facts:
		return s.byProfile(ctx, k, after, limit)
	case k == Audiences:
		return s.pageAudiences(ctx, after, limit)
	case k == Feed:
		return s.pageFeed(ctx, after, limit)
	case k == Destinations:
		return s.pageDestinations(ctx, after, limit)
	case k == Deliveries:
		return s.pageDeliveries(ctx, after, limit)
	case k == AudienceMembers || k == AudienceChanges:
		return s.pageAudienceItems(ctx, k, after, limit)
	case k == Consent:
		recs, err := s.privacy.ConsentPage(ctx, after, limit)
		if err != nil {
			return Batch{}, err
		}
		b := Batch{Kind: k, Consent: recs}
		if len(recs) == limit {
			b.Next = recs[len(recs)-1].ID
		}
		return b, nil
	case k == SuppressionKey:
		key, err := s.privacy.StoredSuppressionKey(ctx)
		return Batch{Kind: k, SuppressionKey: key}, err
	case k == Suppressed:
		entries, err := s.privacy.SuppressionPage(ctx, after, limit)
		if err != nil {
			return Batch{}, err
		}
		b := Batch{Kind: k, Suppressed: entries}
		if len(entries) == limit {
			b.Next = entries[len(entries)-1].Hash
		}
		return b, nil
	case k == Receipts:
		limit = min(limit, privacy.MaxReceiptPage)
		q := privacy.ReceiptQuery{Limit: limit}
		if after != "" {
			c, err := parseCursor(after)
			if err != nil {
				return Batch{}, err
			}
			q.After = &privacy.ReceiptCursor{At: c.At, ID: c.ID}
		}
		rs, err := s.privacy.Receipts(ctx, q)
		if err != nil {
			return Batch{}, err
		}
		b := Batch{Kind: k, Receipts: rs}
		if len(rs) == limit {
			b.Next = formatCursor(rs[len(rs)-1].At, rs[len(rs)-1].ID)
		}
		return b, nil
	}
	return s.r.Page(ctx, k, after, limit)
}

// parseCursor reads a time-and-id cursor made by formatCursor.
func parseCursor(c string) (access.AuditCursor, error) {
	at, id, ok := strings.Cut(c, " ")
	t, err := time.Parse(time.RFC3339Nano, at)
	if !ok || err != nil {
		return access.AuditCursor{}, fmt.Errorf("bad cursor %q", c)
	}
	return access.AuditCursor{At: t, ID: id}, nil
}

func formatCursor(at time.Time, id string) string {
	return at.UTC().Format(time.RFC3339Nano) + " " + id
}

// Load writes b into the stream's store as Load does; API keys and audit
// entries already stored (by id) are kept as they are. Keys are written
// one transaction each (the contract creates one at a time; stores hold
// few), audit entries one transaction per batch.
func (s *Stream) Load(ctx context.Context, b Batch) error {
	switch b.Kind {
	case APIKeys, Audit:
		if s.access == nil {
			return fmt.Errorf("the store %T holds no %s", s.st, b.Kind)
		}
	case Audiences, AudienceMembers, AudienceChanges:
		if s.audW == nil {
			return fmt.Errorf("the store %T holds no %s", s.st, b.Kind)
		}
		return s.loadAudiences(ctx, b)
	case ComputedTraits, ComputedValues, Facts:
		if s.aud == nil {
			return fmt.Errorf("the store %T holds no %s", s.st, b.Kind)
		}
		return s.loadAudience(ctx, b)
	case Destinations, Deliveries:
		if s.dest == nil {
			return fmt.Errorf("the store %T keeps no %s", s.st, b.Kind)
		}
		return s.loadDestinations(ctx, b)
	case Feed:
		if s.feed == nil {
			return fmt.Errorf("the store %T keeps no %s", s.st, b.Kind)
		}
		return s.loadFeed(ctx, b)
	case Consent, SuppressionKey, Suppressed, Receipts:
		if s.privacy == nil {
			return fmt.Errorf("the store %T holds no %s", s.st, b.Kind)
		}
		return s.loadPrivacy(ctx, b)
	default:
		return Load(ctx, s.st, b)
	}
	if b.Kind == APIKeys {
		// A key is loaded as the source holds it: a name stored before a
		// rule of new keys existed is kept (access.Loader).
		create := func(ctx context.Context, k access.Key) error { return s.access.CreateKey(ctx, k) }
		if l, ok := s.access.(access.Loader); ok {
			create = l.LoadKey
		}
		for _, k := range b.APIKeys {
			err := create(ctx, k)
			if graph.ErrorCode(err) == graph.ECONFLICT {
				// Stored by an earlier run: a key changes only by its
				// revocation and its last use, which the source may have
				// seen since. A key revoked there must not stay usable here.
				err = s.refreshKey(ctx, k, err)
			}
			if err != nil {
				return fmt.Errorf("API key %s: %w", k.ID, err)
			}
		}
		return nil
	}
	if len(b.Audit) == 0 {
		return nil
	}
	err := s.access.AppendAudit(ctx, b.Audit)
	if graph.ErrorCode(err) != graph.ECONFLICT {
		return err
	}
	// Some are stored already (a copy run again): append the others.
	for _, e := range b.Audit {
		if err := s.access.AppendAudit(ctx, []access.AuditEntry{e}); err != nil && graph.ErrorCode(err) != graph.ECONFLICT {
			return fmt.Errorf("audit entry %s: %w", e.ID, err)
		}
	}
	return nil
}

// refreshKey brings the stored key of k's id up to k's revocation and last
// use (each store keeps the earlier revocation and the later use). A
// conflict on the hash of a key stored under another id is conflict.
func (s *Stream) refreshKey(ctx context.Context, k access.Key, conflict error) error {
	if !k.RevokedAt.IsZero() {
		if _, _, err := s.access.RevokeKey(ctx, k.ID, k.RevokedAt); err != nil {
			if graph.ErrorCode(err) == graph.ENOTFOUND {
				return conflict
			}
			return err
		}
	}
	if !k.LastUsedAt.IsZero() {
		if err := s.access.TouchKey(ctx, k.ID, k.LastUsedAt); err != nil {
			if graph.ErrorCode(err) == graph.ENOTFOUND {
				return conflict
			}
			return err
		}
	}
	return nil
}

// CountAll counts every kind the stream holds.
func (s *Stream) CountAll(ctx context.Context) (Counts, error) {
	out := Counts{}
	for _, k := range s.Kinds() {
		n, err := s.Count(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("count %s: %w", k, err)
		}
		out[k] = n
	}
	return out, nil
}

// loadPrivacy writes a batch of a privacy kind: consent records and
// suppressed hashes in one transaction each batch (both contracts keep
// what is stored already), the secret as it is, receipts in one
// transaction per batch, one at a time only when some are stored already.
func (s *Stream) loadPrivacy(ctx context.Context, b Batch) error {
	switch b.Kind {
	case Consent:
		if len(b.Consent) == 0 {
			return nil
		}
		return s.privacy.PutConsent(ctx, b.Consent)
	case SuppressionKey:
		if b.SuppressionKey == nil {
			return nil
		}
		// A secret that keys no hash yet (any server makes one at start)
		// is replaced; one that keys hashes, suppressed identifiers or
		// retired profile ids, must not be.
		n, err := s.privacy.CountSuppressed(ctx)
		if err != nil {
			return err
		}
		retired, err := s.r.Count(ctx, RetiredIDs)
		if err != nil {
			return err
		}
		return s.privacy.PutSuppressionKey(ctx, b.SuppressionKey, n == 0 && retired == 0)
	case Suppressed:
		if len(b.Suppressed) == 0 {
			return nil
		}
		return s.privacy.Suppress(ctx, b.Suppressed)
	}
	put := func(rs []privacy.ErasureReceipt) error {
		return s.st.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
			for _, r := range rs {
				if err := privacy.PutReceiptInTx(ctx, tx, r); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if len(b.Receipts) == 0 {
		return nil
	}
	err := put(b.Receipts)
	if graph.ErrorCode(err) != graph.ECONFLICT {
		return err
	}
	for _, r := range b.Receipts {
		if err := put([]privacy.ErasureReceipt{r}); err != nil && graph.ErrorCode(err) != graph.ECONFLICT {
			return fmt.Errorf("erasure receipt %s: %w", r.ID, err)
		}
	}
	return nil
}

// byProfile reads the computed values or facts of the next limit profile
// ids that hold some, after the profile id after. The ids come from the
// values and facts themselves (AudienceReader), not from the profiles:
// they are kept apart, and nothing in a store keeps them from outliving
// their profile (graph.Engine's erasures leave them unless the audience
// hook runs in the same transaction), so paging the profiles would leave
// out, uncopied and uncounted, those of an id that is no profile.
func (s *Stream) byProfile(ctx context.Context, k Kind, after string, limit int) (Batch, error) {
	if s.audR == nil {
		return Batch{}, fmt.Errorf("the store %T cannot list its %s", s.st, k)
	}
	var ids []string
	var err error
	if k == Facts {
		ids, err = s.audR.FactsProfileIDs(ctx, after, limit)
	} else {
		ids, err = s.audR.ComputedValueProfileIDs(ctx, after, limit)
	}
	if err != nil {
		return Batch{}, err
	}
	b := Batch{Kind: k}
	if len(ids) == 0 {
		return b, nil
	}
	if len(ids) == limit {
		b.Next = ids[len(ids)-1]
	}
	if k == Facts {
		fs, err := s.aud.Facts(ctx, ids)
		if err != nil {
			return Batch{}, err
		}
		for _, id := range ids {
			if f, ok := fs[id]; ok {
				b.Facts = append(b.Facts, f)
			}
		}
		return b, nil
	}
	vs, err := s.aud.ComputedValues(ctx, ids)
	if err != nil {
		return Batch{}, err
	}
	for _, id := range ids {
		names := make([]string, 0, len(vs[id]))
		for n := range vs[id] {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			b.ComputedValues = append(b.ComputedValues, vs[id][n])
		}
	}
	return b, nil
}

// loadAudience writes computed trait definitions (one transaction each: a
// store holds at most audience.MaxComputedTraits), values and facts (one
// transaction per batch). A definition already stored keeps its creation
// time; a value or facts of the same profile is replaced.
func (s *Stream) loadAudience(ctx context.Context, b Batch) error {
	switch {
	case b.Kind == ComputedTraits:
		for _, c := range b.ComputedTraits {
			if err := s.aud.PutComputedTrait(ctx, c); err != nil {
				return fmt.Errorf("computed trait %s: %w", c.Name, err)
			}
		}
	case b.Kind == ComputedValues && len(b.ComputedValues) > 0:
		return s.aud.PutComputedValues(ctx, b.ComputedValues)
	case b.Kind == Facts && len(b.Facts) > 0:
		return s.aud.PutFacts(ctx, b.Facts)
	}
	return nil
}
