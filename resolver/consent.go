package resolver

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/gql"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// The consent ledger in GraphQL: Profile.consent, Profile.consentHistory
// and setConsent.
//
// A profile's records are those of its identifiers (privacy: records hang on
// identifiers), read through the request's loaders: the profiles of one
// answer share one members read and one ConsentOf call.

// defaultConsentSource labels a setConsent record given without a source.
const defaultConsentSource = "graphql"

// purposes returns the consent purposes of the engine's rules.
func (r *Resolver) purposes() (*privacy.Purposes, error) {
	var c graph.ConsentRules
	if rules := r.engine.Normalizer().Rules(); rules != nil {
		c = rules.Consent
	}
	if len(c.Purposes) == 0 {
		c.Purposes = graph.DefaultConsentPurposes()
	}
	p, err := privacy.NewPurposes(c)
	if err != nil {
		return nil, fmt.Errorf("resolver: consent purposes of the rules: %w", err)
	}
	return p, nil
}

// consentStore is Config.Consent, or the engine's store as a consent
// ledger; a store that wraps another (Unwrap() graph.Store) answers with
// the one it wraps.
func (r *Resolver) consentStore() (privacy.ConsentStore, error) {
	if r.cfg.Consent != nil {
		return r.cfg.Consent, nil
	}
	s := r.engine.Store()
	for {
		if cs, ok := s.(privacy.ConsentStore); ok {
			return cs, nil
		}
		w, ok := s.(interface{ Unwrap() graph.Store })
		if !ok {
			return nil, fmt.Errorf("resolver: the store %T holds no consent ledger", r.engine.Store())
		}
		s = w.Unwrap()
	}
}

// consentFetch loads the records of profiles: their members through the
// members loader (one read for sibling profiles), then one ConsentOf call
// for all their keys.
func (r *Resolver) consentFetch(s *loaderState) fetchFunc[[]privacy.Record] {
	return func(ctx context.Context, pids []string) (map[string][]privacy.Record, error) {
		cs, err := r.consentStore()
		if err != nil {
			return nil, err
		}
		keysOf := make(map[string][]string, len(pids))
		var keys []string
		for _, pid := range pids {
			ms, _, err := s.members.load(ctx, pid)
			if err != nil {
				return nil, err
			}
			for _, m := range ms {
				keysOf[pid] = append(keysOf[pid], m.Key)
				keys = append(keys, m.Key)
			}
		}
		if len(keys) == 0 {
			return map[string][]privacy.Record{}, nil
		}
		byKey, err := cs.ConsentOf(ctx, keys)
		if err != nil {
			return nil, err
		}
		out := make(map[string][]privacy.Record, len(pids))
		for pid, ks := range keysOf {
			var rs []privacy.Record
			for _, k := range ks {
				rs = append(rs, byKey[k]...)
			}
			if len(rs) > 0 {
				out[pid] = rs
			}
		}
		return out, nil
	}
}

// consentOf returns every record of a profile's identifiers, in no order.
func (r *Resolver) consentOf(ctx context.Context, p *graph.Profile) ([]privacy.Record, error) {
	s := r.loaders(ctx)
	s.mu.Lock()
	if s.consent == nil {
		s.consent = newBatch(s.profileSibs, r.consentFetch(s))
	}
	b := s.consent
	s.mu.Unlock()
	rs, _, err := b.load(ctx, p.ID)
	return rs, domainErr(err)
}

func (r *Resolver) profileConsent(ctx context.Context, p *graph.Profile) ([]*privacy.ConsentState, error) {
	ps, err := r.purposes()
	if err != nil {
		return nil, domainErr(err)
	}
	rs, err := r.consentOf(ctx, p)
	if err != nil {
		return nil, err
	}
	states := privacy.States(rs, ps, graph.Now())
	out := make([]*privacy.ConsentState, len(states))
	for i := range states {
		out[i] = &states[i]
	}
	return out, nil
}

// Profile.consentHistory pages by keyset: a record's cursor carries its
// whole sort key (privacy.Compare: at, receivedAt, id), so a page starts
// strictly after the position it names whether or not that record is still
// stored, and records written while a client pages (a decision back-dated
// between two pages included) never make it skip or repeat one. The order
// is one for every purpose, so a cursor holds its place whatever `purpose`
// selects. It carries two times and the record id (random, or a hash for
// records read from events); never the identifier or the proof.

const cursorKindConsent = "consentHistory"

// consentCursor returns a record's cursor: T its at, ID its receivedAt and
// id separated by a space, the times with every digit the store gave, so
// that the comparison on decode is privacy.Compare's.
func consentCursor(rec *privacy.Record) string {
	return encodeCursor(cursorBody{
		V:  cursorVersion,
		K:  cursorKindConsent,
		ID: rec.ReceivedAt.UTC().Format(time.RFC3339Nano) + " " + rec.ID,
		T:  rec.At.UTC().Format(time.RFC3339Nano),
	})
}

// decodeConsentCursor parses a consent history cursor into the sort key it
// names, as a record holding only that key.
func decodeConsentCursor(arg, s string) (privacy.Record, error) {
	c, err := decodeCursor(arg, cursorKindConsent, s)
	if err != nil {
		return privacy.Record{}, err
	}
	at, aerr := time.Parse(time.RFC3339Nano, c.T)
	recv, id, ok := strings.Cut(c.ID, " ")
	received, rerr := time.Parse(time.RFC3339Nano, recv)
	if aerr != nil || rerr != nil || !ok || id == "" {
		return privacy.Record{}, graph.Errorf(graph.EINVALID, "argument %q is not a valid %s cursor: bad position", arg, cursorKindConsent)
	}
	return privacy.Record{At: at, ReceivedAt: received, ID: id}, nil
}

func (r *Resolver) profileConsentHistory(ctx context.Context, p *graph.Profile, purpose *string, first *int, after *string) ([]*privacy.Record, error) {
	n, err := checkPage("first", first, r.cfg.MaxPage, r.cfg.MaxPage)
	if err != nil {
		return nil, err
	}
	var pos *privacy.Record
	if after != nil {
		c, err := decodeConsentCursor("after", *after)
		if err != nil {
			return nil, err
		}
		pos = &c
	}
	rs, err := r.consentOf(ctx, p)
	if err != nil {
		return nil, err
	}
	want := ""
	if purpose != nil {
		want = *purpose
	}
	if want != "" { // "" selects every purpose, as no purpose does
		if err := r.checkHistoryPurpose(ctx, want, rs); err != nil {
			return nil, err
		}
	}
	h := privacy.History(rs, want)
	if pos != nil {
		// Newest first: what follows the cursor is older by Compare.
		i := 0
		for i < len(h) && privacy.Compare(h[i], *pos) >= 0 {
			i++
		}
		h = h[i:]
	}
	if len(h) > n {
		h = h[:n]
	}
	out := make([]*privacy.Record, len(h))
	for i := range h {
		out[i] = &h[i]
	}
	return out, nil
}

// checkHistoryPurpose refuses a consentHistory purpose that the rules do
// not name and no stored record holds: most likely a typo, which would
// otherwise read as "no history". A purpose removed from the rules whose
// records are still stored stays readable, for every profile. The
// profile's own records (rs) answer first; the store is asked once per
// request, and only when the store can tell (privacy.PurposeStore).
//
// Errors: EINVALID naming the argument (never the purpose given), with the rules'
// purposes.
func (r *Resolver) checkHistoryPurpose(ctx context.Context, purpose string, rs []privacy.Record) error {
	ps, err := r.purposes()
	if err != nil {
		return domainErr(err)
	}
	if ps.Known(purpose) || slices.ContainsFunc(rs, func(rec privacy.Record) bool { return rec.Purpose == purpose }) {
		return nil
	}
	stored, err := r.purposeStored(ctx, purpose)
	if err != nil || stored {
		return err
	}
	// The value is not repeated: a field typed into by hand may hold
	// anything, an email included.
	return graph.Errorf(graph.EINVALID, "argument %q is not a consent purpose: the rules do not name it and no stored record holds it; the purposes are %s",
		"purpose", ps.String())
}

// purposeCall is one request's answer to whether a purpose is stored.
type purposeCall struct {
	once   sync.Once
	stored bool
	err    error
}

// purposeStored reports whether a stored consent record has purpose,
// asking the store once per request; true when the store cannot tell, so
// that nothing readable is refused.
func (r *Resolver) purposeStored(ctx context.Context, purpose string) (bool, error) {
	s := r.loaders(ctx)
	s.purposesMu.Lock()
	if s.purposesStored == nil {
		s.purposesStored = map[string]*purposeCall{}
	}
	c := s.purposesStored[purpose]
	if c == nil {
		c = &purposeCall{}
		s.purposesStored[purpose] = c
	}
	s.purposesMu.Unlock()
	c.once.Do(func() {
		cs, err := r.consentStore()
		if err != nil {
			c.err = err
			return
		}
		ps, ok := cs.(privacy.PurposeStore)
		if !ok {
			c.stored = true
			return
		}
		c.stored, c.err = ps.ConsentPurposeStored(ctx, purpose)
		c.err = domainErr(c.err)
	})
	return c.stored, c.err
}

// setConsent records one decision and its audit entry in one transaction.
func (r *Resolver) setConsent(ctx context.Context, in gql.SetConsentInput) (*graph.Profile, error) {
	entry := newEntry(ctx, "setConsent", "")
	fail := func(err error) (*graph.Profile, error) {
		r.auditFailure(ctx, entry, err)
		return nil, err
	}
	var ident gql.IdentifierInput
	if in.Identifier != nil {
		ident = *in.Identifier
	}
	n, err := r.normalizeInput("input.identifier.type", "input.identifier.value", ident.Type, ident.Value)
	if err != nil {
		return fail(err)
	}
	rec, err := r.consentRecord(in, n.Key())
	if err != nil {
		return fail(err)
	}
	entry.Reason = clip(fmt.Sprintf("%s %s", rec.Purpose, rec.Status), access.MaxReasonLen)
	var pid string
	given := rec
	err = r.engine.Store().Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		pid, rec = "", given
		// Locked, as ingest locks it, so that no merge moves it to another
		// profile before its profile is touched below.
		ref := graph.SplitKey(rec.Identifier)
		ids, err := tx.LockIdentifiers(ctx, []graph.IdentifierSeen{{Key: rec.Identifier, Type: ref.Type, Value: ref.Value}}, false)
		if err != nil {
			return err
		}
		id, ok := ids[rec.Identifier]
		if !ok {
			return graph.Errorf(graph.ENOTFOUND, "argument %q: identifier not found", "input.identifier")
		}
		pid = id.ProfileID
		if in.At == nil {
			if rec, err = r.latestDecision(ctx, tx, pid, rec); err != nil {
				return err
			}
		}
		if err := privacy.PutConsentInTx(ctx, tx, []privacy.Record{rec}); err != nil {
			return err
		}
		// The profile changed: a keeper round that read it before this
		// decision must not overwrite one that read it after.
		if err := graph.TouchProfiles(ctx, tx, []string{pid}, rec.ReceivedAt); err != nil {
			return err
		}
		if pid != "" {
			ch := graph.FeedEntry{At: rec.ReceivedAt, Kind: graph.FeedConsentChanged, ProfileID: pid}
			if err := graph.AppendFeed(ctx, tx, []graph.FeedEntry{ch}); err != nil {
				return err
			}
		}
		e := entry
		if pid != "" {
			e.SetProfiles([]string{pid})
		}
		return access.AppendInTx(ctx, tx, []access.AuditEntry{e})
	})
	if err != nil {
		return fail(domainErr(err))
	}
	p, ok, err := r.lookupProfile(ctx, n)
	if err != nil {
		return nil, err
	}
	if !ok {
		// Erased between the write and this read.
		return nil, graph.Errorf(graph.ENOTFOUND, "argument %q: identifier not found", "input.identifier")
	}
	if !p.Live() {
		r.loaders(ctx).hintProfiles([]*graph.Profile{p})
	}
	return p, nil
}

// latestDecision dates rec, a decision given without at (dated now), just
// after the newest record of its purpose among the profile's when that one
// is not older than now: a record dated ahead of this server's clock (by a
// replica whose clock is fast) would otherwise outrank a decision the
// person made after it, until this clock caught up.
//
// Errors: the store's; EINVALID naming input.expiresAt when rec expires
// before the date it gets.
func (r *Resolver) latestDecision(ctx context.Context, tx graph.Tx, pid string, rec privacy.Record) (privacy.Record, error) {
	if pid == "" {
		return rec, nil
	}
	ms, err := tx.Members(ctx, []string{pid})
	if err != nil {
		return rec, err
	}
	keys := make([]string, 0, len(ms[pid]))
	for _, m := range ms[pid] {
		keys = append(keys, m.Key)
	}
	if len(keys) == 0 {
		return rec, nil
	}
	byKey, err := privacy.ConsentInTx(ctx, tx, keys)
	if err != nil {
		return rec, err
	}
	var all []privacy.Record
	for _, rs := range byKey {
		all = append(all, rs...)
	}
	newest := privacy.StateOf(all, rec.Purpose, rec.At).Record
	if newest == nil || newest.At.Before(rec.At) {
		return rec, nil
	}
	rec.At = newest.At.Add(time.Microsecond)
	if !rec.ExpiresAt.IsZero() && !rec.ExpiresAt.After(rec.At) {
		return rec, invalidArg("input.expiresAt", "must be after at (%s, just after the newest decision for %s)", rec.At.UTC().Format(time.RFC3339Nano), rec.Purpose)
	}
	return rec, nil
}

// consentRecord builds and checks the record of a setConsent input; errors
// name the argument and never repeat the identifier.
func (r *Resolver) consentRecord(in gql.SetConsentInput, key string) (privacy.Record, error) {
	ps, err := r.purposes()
	if err != nil {
		return privacy.Record{}, domainErr(err)
	}
	if !ps.Known(in.Purpose) {
		return privacy.Record{}, invalidArg("input.purpose", "is not a known purpose; the purposes are %s", ps.String())
	}
	now := graph.Now()
	rec := privacy.Record{
		ID:         privacy.NewRecordID(),
		Purpose:    in.Purpose,
		Status:     privacy.Status(in.Status),
		At:         now,
		Source:     defaultConsentSource,
		LegalBasis: privacy.BasisConsent,
		Identifier: key,
		ReceivedAt: now,
	}
	if !in.Status.IsValid() {
		return privacy.Record{}, invalidArg("input.status", "must be one of GRANTED, DENIED, WITHDRAWN")
	}
	if in.LegalBasis != nil {
		if !in.LegalBasis.IsValid() {
			return privacy.Record{}, invalidArg("input.legalBasis", "is not a legal basis")
		}
		rec.LegalBasis = privacy.LegalBasis(*in.LegalBasis)
	}
	if in.Source != nil {
		rec.Source = *in.Source
	}
	if in.At != nil {
		if in.At.IsZero() {
			return privacy.Record{}, invalidArg("input.at", "is not a time")
		}
		if in.At.After(now) {
			return privacy.Record{}, invalidArg("input.at", "is in the future; give the time the person decided, or leave it out for now")
		}
		rec.At = *in.At
	}
	if in.ExpiresAt != nil {
		if !in.ExpiresAt.After(rec.At) {
			return privacy.Record{}, invalidArg("input.expiresAt", "must be after at (%s)", rec.At.UTC().Format(time.RFC3339Nano))
		}
		rec.ExpiresAt = *in.ExpiresAt
	}
	if pr := in.Proof; pr != nil {
		rec.Proof = privacy.Proof{Text: deref(pr.Text), Version: deref(pr.Version), Channel: deref(pr.Channel), Collector: deref(pr.Collector)}
	}
	rec = rec.Clean()
	if err := rec.Validate(ps); err != nil {
		msg := graph.ErrorMessage(err)
		arg := "input"
		for _, f := range []string{"source", "proof.text", "proof.version", "proof.channel", "proof.collector", "expiresAt", "identifier"} {
			if strings.HasPrefix(msg, f+" ") {
				arg = "input." + f
				break
			}
		}
		return privacy.Record{}, graph.Errorf(graph.ErrorCode(err), "argument %q: %s", arg, msg)
	}
	return rec, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// priceConsent prices the consent fields: Profile.consent by the number of
// purposes, consentHistory by its first or the page cap.
func (r *Resolver) priceConsent(c *gql.ComplexityRoot, maxPage int) {
	n := 1
	if ps, err := r.purposes(); err == nil {
		n = max(len(ps.List()), 1)
	}
	c.Profile.Consent = func(child int) int { return satAdd(1, satMul(n, child)) }
	c.Profile.ConsentHistory = func(child int, _ *string, first *int, _ *string) int {
		return satAdd(1, satMul(boundOf(first, maxPage), child))
	}
}
