package bench

import (
	"context"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// timedStore wraps the service's store and adds up the time spent in each
// store method, so the report can say where the time goes inside the
// store without a profiler attached to the database. "Update" and "View"
// are whole transactions, commit included; the other names are the
// methods called inside them.
type timedStore struct {
	graph.Store
	mu    sync.Mutex
	stats map[string]*MethodTime
}

// MethodTime is the time spent in one store method during a phase.
type MethodTime struct {
	Method  string  `json:"method"`
	Calls   int     `json:"calls"`
	Seconds float64 `json:"seconds"`
}

func newTimedStore(s graph.Store) *timedStore {
	return &timedStore{Store: s, stats: map[string]*MethodTime{}}
}

func (s *timedStore) add(method string, start time.Time) {
	d := time.Since(start)
	s.mu.Lock()
	m := s.stats[method]
	if m == nil {
		m = &MethodTime{Method: method}
		s.stats[method] = m
	}
	m.Calls++
	m.Seconds += d.Seconds()
	s.mu.Unlock()
}

// take returns the times so far, largest first, and starts again from zero.
func (s *timedStore) take() []MethodTime {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]MethodTime, 0, len(s.stats))
	for _, m := range s.stats {
		m.Seconds = math.Round(m.Seconds*1e6) / 1e6
		out = append(out, *m)
	}
	s.stats = map[string]*MethodTime{}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Seconds != out[j].Seconds {
			return out[i].Seconds > out[j].Seconds
		}
		return out[i].Method < out[j].Method
	})
	return out
}

// SerialWrites implements graph.SerialWriter as the store it times does.
func (s *timedStore) SerialWrites() bool { return graph.SerialWrites(s.Store) }

// Snapshot implements graph.Snapshotter with the store it times: the
// scans the bench measures read one snapshot where `cdp serve`'s do.
func (s *timedStore) Snapshot(ctx context.Context, fn func(ctx context.Context) error) error {
	return graph.InSnapshot(ctx, s.Store, fn)
}

func (s *timedStore) Update(ctx context.Context, fn func(ctx context.Context, tx graph.Tx) error) error {
	defer s.add("Update", time.Now())
	return s.Store.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		return fn(ctx, &timedTx{timedRead: timedRead{rt: tx, s: s}, tx: tx})
	})
}

func (s *timedStore) View(ctx context.Context, fn func(ctx context.Context, tx graph.ReadTx) error) error {
	defer s.add("View", time.Now())
	return s.Store.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
		return fn(ctx, &timedRead{rt: tx, s: s})
	})
}

type timedRead struct {
	rt graph.ReadTx
	s  *timedStore
}

func (t *timedRead) Identifiers(ctx context.Context, keys []string) (map[string]graph.Identifier, error) {
	defer t.s.add("Identifiers", time.Now())
	return t.rt.Identifiers(ctx, keys)
}

func (t *timedRead) Profiles(ctx context.Context, ids []string) (map[string]graph.Profile, error) {
	defer t.s.add("Profiles", time.Now())
	return t.rt.Profiles(ctx, ids)
}

func (t *timedRead) TakenProfileIDs(ctx context.Context, cands []graph.ProfileIDCandidate) (map[string]bool, error) {
	defer t.s.add("TakenProfileIDs", time.Now())
	return t.rt.TakenProfileIDs(ctx, cands)
}

func (t *timedRead) Members(ctx context.Context, ids []string) (map[string][]graph.Identifier, error) {
	defer t.s.add("Members", time.Now())
	return t.rt.Members(ctx, ids)
}

func (t *timedRead) Links(ctx context.Context, keys []string) ([]graph.Link, error) {
	defer t.s.add("Links", time.Now())
	return t.rt.Links(ctx, keys)
}

func (t *timedRead) LinksBetween(ctx context.Context, pairs []graph.LinkKey) (map[graph.LinkKey]graph.Link, error) {
	defer t.s.add("LinksBetween", time.Now())
	return t.rt.LinksBetween(ctx, pairs)
}

func (t *timedRead) Rejected(ctx context.Context, keys []string) ([]graph.RejectedLink, error) {
	defer t.s.add("Rejected", time.Now())
	return t.rt.Rejected(ctx, keys)
}

// MemberKeys and ProfileIDs pass the store's optional readers through
// (graph.MemberKeys and graph.ProfileIDs fall back as the engine would),
// so that a timed store reads as fast as the store under it.
func (t *timedRead) MemberKeys(ctx context.Context, ids []string) (map[string][]string, error) {
	defer t.s.add("MemberKeys", time.Now())
	return graph.MemberKeys(ctx, t.rt, ids)
}

func (t *timedRead) ProfileIDs(ctx context.Context, q graph.PageQuery) ([]string, error) {
	defer t.s.add("ProfileIDs", time.Now())
	return graph.ProfileIDs(ctx, t.rt, q)
}

func (t *timedRead) Journeys(ctx context.Context, ids []string, q graph.JourneyQuery) (map[string][]graph.Event, error) {
	defer t.s.add("Journeys", time.Now())
	return t.rt.Journeys(ctx, ids, q)
}

func (t *timedRead) Events(ctx context.Context, ids []string) (map[string]graph.Event, error) {
	defer t.s.add("Events", time.Now())
	return t.rt.Events(ctx, ids)
}

func (t *timedRead) EventsBy(ctx context.Context, keys []string) ([]graph.Event, error) {
	defer t.s.add("EventsBy", time.Now())
	return t.rt.EventsBy(ctx, keys)
}

func (t *timedRead) ProfilesPage(ctx context.Context, q graph.PageQuery) ([]graph.Profile, error) {
	defer t.s.add("ProfilesPage", time.Now())
	return t.rt.ProfilesPage(ctx, q)
}

func (t *timedRead) CountProfiles(ctx context.Context) (int, error) {
	defer t.s.add("CountProfiles", time.Now())
	return t.rt.CountProfiles(ctx)
}

func (t *timedRead) Changes(ctx context.Context, ids []string) ([]graph.ProfileChange, error) {
	defer t.s.add("Changes", time.Now())
	return t.rt.Changes(ctx, ids)
}

func (t *timedRead) LookupProfiles(ctx context.Context, keys []string, withMembers bool) (map[string]graph.Identifier, map[string]graph.Profile, map[string][]graph.Identifier, error) {
	defer t.s.add("LookupProfiles", time.Now())
	return t.rt.LookupProfiles(ctx, keys, withMembers)
}

type timedTx struct {
	timedRead
	tx graph.Tx
}

func (t *timedTx) ClaimEvents(ctx context.Context, claims []graph.EventClaim) (map[string]string, error) {
	defer t.s.add("ClaimEvents", time.Now())
	return t.tx.ClaimEvents(ctx, claims)
}

func (t *timedTx) LockIdentifiers(ctx context.Context, seen []graph.IdentifierSeen, create bool) (map[string]graph.Identifier, error) {
	defer t.s.add("LockIdentifiers", time.Now())
	return t.tx.LockIdentifiers(ctx, seen, create)
}

func (t *timedTx) LockProfiles(ctx context.Context, ids []string) (map[string]graph.Profile, error) {
	defer t.s.add("LockProfiles", time.Now())
	return t.tx.LockProfiles(ctx, ids)
}

func (t *timedTx) Apply(ctx context.Context, w *graph.Write) error {
	defer t.s.add("Apply", time.Now())
	return t.tx.Apply(ctx, w)
}

var (
	_ graph.ReadTx = (*timedRead)(nil)
	_ graph.Tx     = (*timedTx)(nil)
)

// The service needs the store's suppression list (app.New refuses a store
// without one) and its transactions' consent, suppression and receipt
// writes: the wrapper passes them through to the store it wraps, timing
// only the list's check, which every ingest batch makes.

func (s *timedStore) suppression() privacy.SuppressionStore {
	ss, _ := s.Store.(privacy.SuppressionStore)
	return ss
}

func (s *timedStore) SuppressionKey(ctx context.Context) ([]byte, error) {
	return s.suppression().SuppressionKey(ctx)
}

func (s *timedStore) Suppress(ctx context.Context, entries []privacy.Suppression) error {
	return s.suppression().Suppress(ctx, entries)
}

func (s *timedStore) Unsuppress(ctx context.Context, hash string) (bool, error) {
	return s.suppression().Unsuppress(ctx, hash)
}

func (s *timedStore) Suppressed(ctx context.Context, hashes []string) (map[string]bool, error) {
	defer s.add("Suppressed", time.Now())
	return s.suppression().Suppressed(ctx, hashes)
}

func (s *timedStore) CountSuppressed(ctx context.Context) (int, error) {
	return s.suppression().CountSuppressed(ctx)
}

func (t *timedTx) PutConsent(ctx context.Context, records []privacy.Record) error {
	defer t.s.add("PutConsent", time.Now())
	return privacy.PutConsentInTx(ctx, t.tx, records)
}

func (t *timedTx) ConsentOf(ctx context.Context, keys []string) (map[string][]privacy.Record, error) {
	return privacy.ConsentInTx(ctx, t.tx, keys)
}

func (t *timedTx) DeleteConsent(ctx context.Context, keys []string) (int, error) {
	return privacy.DeleteConsentInTx(ctx, t.tx, keys)
}

// DeleteFacts implements audience.TxFacts, so that an erasure through the
// timed store deletes profile facts in its transaction.
func (t *timedTx) DeleteFacts(ctx context.Context, profileIDs []string) error {
	return audience.DeleteFactsInTx(ctx, t.tx, profileIDs)
}

func (t *timedTx) Suppress(ctx context.Context, entries []privacy.Suppression) error {
	return privacy.SuppressInTx(ctx, t.tx, entries)
}

// Suppressed is the collector's check of a micro-batch against the list,
// inside the batch's transaction: timed as "Suppressed", as the store's
// own read was.
func (t *timedTx) Suppressed(ctx context.Context, hashes []string) (map[string]bool, error) {
	defer t.s.add("Suppressed", time.Now())
	return privacy.SuppressedInTx(ctx, t.tx, hashes)
}

func (t *timedTx) Unsuppress(ctx context.Context, hash string) (bool, error) {
	return privacy.UnsuppressInTx(ctx, t.tx, hash)
}

func (t *timedTx) PutReceipt(ctx context.Context, r privacy.ErasureReceipt) error {
	return privacy.PutReceiptInTx(ctx, t.tx, r)
}

var (
	_ privacy.SuppressionStore = (*timedStore)(nil)
	_ privacy.TxConsent        = (*timedTx)(nil)
	_ privacy.TxSuppression    = (*timedTx)(nil)
	_ privacy.TxUnsuppress     = (*timedTx)(nil)
	_ privacy.TxReceipts       = (*timedTx)(nil)
)

// AppendFeed implements graph.FeedTx, so that the timed store keeps the
// change feed as the store under it does (its time is counted).
func (t *timedTx) AppendFeed(ctx context.Context, entries []graph.FeedEntry) error {
	defer t.s.add("AppendFeed", time.Now())
	return graph.AppendFeed(ctx, t.tx, entries)
}
