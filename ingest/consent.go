package ingest

import (
	"bytes"
	"context"
	"maps"
	"slices"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// Consent read from Segment messages.
//
// A message carrying context.consent.categoryPreferences (on any message,
// and always on the privacy.SegmentConsentEvent track) gives consent
// records: one per purpose its categories map to (privacy.FromSegment), for
// EVERY identifier the message carries, normalized as the event stores
// them. Every identifier is the faithful choice: the message says the
// person behind all of them decided, and the ledger hangs records on
// identifiers, so a later split leaves each part with the decision. The
// records take the message's timestamp as at, its source, and the stored
// event id as proof; their ids derive from the event id, identifier,
// purpose, the message's time and its position in its request
// (privacy.DatedRecordIDFor), so that decisions of one request dated alike
// keep the request's order; a resent message is a duplicate, which writes
// nothing.
//
// They are written by an events hook of the Submit call, in the
// transaction that stores the event, and only for events actually stored
// (not rejected, suppressed or duplicates). A hook the caller's context
// already carries runs first, then the consent hook. Categories that map
// to no purpose are skipped and counted in
// cdp_ingest_consent_unknown_categories_total; they are never logged, as
// a category name may be anything a client sends.

// consentMarker is what a message must contain to hold Segment consent;
// messages without it, the consent event's name and any \u escape (JSON
// may spell either with escapes) skip the second decode.
var consentMarker = []byte(`categoryPreferences`)

// mayHoldConsent reports whether raw may hold Segment consent: it names
// the marker or the consent event as written, or holds a \u escape, which
// could spell either.
func mayHoldConsent(raw []byte) bool {
	return bytes.Contains(raw, consentMarker) || bytes.Contains(raw, []byte(privacy.SegmentConsentEvent)) || bytes.Contains(raw, []byte(`\u`))
}

// consentRecords reads the Segment consent of a raw message, parsed as ev
// under the batch-level context batchCtx (nil: none), and returns its
// records: nil when it carries none; seq is its position in the request.
// The message's context is merged over
// batchCtx first, as parseMessage merges it, so consent given for a whole
// batch counts for each of its messages. Unknown categories are counted;
// under strict (ConsentPurposesHeader) a category of categoryPreferences
// that resolves to no purpose is an error instead.
//
// Errors: those of ConsentRecords; under strict, EINVALID naming the
// category and the purposes.
func (c *Collector) consentRecords(raw []byte, batchCtx map[string]any, ev graph.Event, seq int, strict bool) ([]privacy.Record, error) {
	_, batchConsent := batchCtx["consent"]
	if (c.purposes == nil && !strict) || (!batchConsent && !mayHoldConsent(raw)) {
		return nil, nil
	}
	v, merr := decodeJSON(raw, "message")
	msg, _ := v.(map[string]any)
	if merr != nil || msg == nil {
		return nil, nil // parseMessage accepted it; cannot happen
	}
	if len(batchCtx) > 0 {
		own, _ := msg["context"].(map[string]any) // parseMessage accepted it: an object or absent
		msg["context"] = mergeMaps(batchCtx, own)
	}
	if strict {
		// The sender named these as purposes (cdp import --consent): one
		// that is none would be dropped while its row counts as stored.
		cx, _ := msg["context"].(map[string]any)
		co, _ := cx["consent"].(map[string]any)
		prefs, _ := co["categoryPreferences"].(map[string]any)
		for _, k := range slices.Sorted(maps.Keys(prefs)) {
			if c.purposes == nil {
				return nil, graph.Errorf(graph.EINVALID, "consent is not read: the server's consent purposes are unusable (its log says why)")
			}
			if _, ok := c.purposes.Resolve(k); !ok {
				return nil, graph.Errorf(graph.EINVALID, "consent purpose %q is not known; the purposes are %s", clip(graph.MessageKey(k), 70), c.purposes.String())
			}
		}
		if c.purposes == nil {
			return nil, nil
		}
	}
	recs, unknown, err := ConsentRecords(msg, ev, seq, c.purposes, c.engine.Normalizer())
	if unknown > 0 {
		c.m.consentUnknown.Add(float64(unknown))
	}
	return recs, err
}

// ConsentRecords returns the consent records of a decoded Segment message
// msg, parsed as ev: for each preference (privacy.FromSegment) a record on
// every identifier of ev that norm accepts, with ev's timestamp, source and
// id (as proof), checked by Record.Validate. seq is the message's position
// in the request that brought it (privacy.SegmentStamp.Seq). A message without consent
// gives none. unknown is how many of its categories map to no purpose.
// A msg without "type" is read as ev's type (the endpoint implied it).
//
// Errors: privacy.FromSegment's (EINVALID naming the field), and
// Record.Validate's.
func ConsentRecords(msg map[string]any, ev graph.Event, seq int, p *privacy.Purposes, norm *graph.Normalizer) (records []privacy.Record, unknown int, err error) {
	if _, ok := msg["type"]; !ok {
		msg["type"] = ev.Type
	}
	msg, withdrawn, err := takeStatuses(msg)
	if err != nil {
		return nil, 0, err
	}
	sc, err := privacy.FromSegment(msg, p)
	if err != nil {
		return nil, 0, err
	}
	unknown = len(sc.Unknown)
	for _, c := range withdrawn {
		purpose, ok := p.Resolve(c)
		if !ok {
			unknown++
			continue
		}
		i := slices.IndexFunc(sc.Preferences, func(pr privacy.Preference) bool { return pr.Purpose == purpose })
		switch {
		case i < 0:
			sc.Preferences = append(sc.Preferences, privacy.Preference{Purpose: purpose, Status: privacy.StatusWithdrawn, Categories: []string{c}})
		case sc.Preferences[i].Status == privacy.StatusGranted:
			// Two names of one purpose disagree: the lesser consent wins.
			sc.Preferences[i].Status = privacy.StatusWithdrawn
		}
	}
	if len(withdrawn) > 0 {
		order := p.List()
		slices.SortStableFunc(sc.Preferences, func(a, b privacy.Preference) int {
			return slices.Index(order, a.Purpose) - slices.Index(order, b.Purpose)
		})
	}
	if len(sc.Preferences) == 0 {
		return nil, unknown, nil
	}
	seen := map[string]bool{}
	for _, ref := range ev.Identifiers {
		n, why := norm.Normalize(ref)
		if why != "" || seen[n.Key()] {
			continue // the engine drops it too
		}
		seen[n.Key()] = true
		// Records dates no decision after it reached the server (a
		// message may be dated up to a day ahead, and a grant dated
		// tomorrow would outrank every withdrawal made meanwhile), and
		// keeps the order of decisions it so dates alike: it needs the
		// message's own time.
		for _, r := range sc.Records(privacy.SegmentStamp{
			Identifier: n.Key(),
			Source:     ev.Source,
			EventID:    ev.ID,
			At:         ev.Timestamp,
			ReceivedAt: ev.ReceivedAt,
			Seq:        seq,
		}) {
			if err := r.Validate(p); err != nil {
				return nil, unknown, err
			}
			records = append(records, r)
		}
	}
	return records, unknown, nil
}

// WithConsent returns ctx with an events hook for a Submit call that, after
// any hook ctx already carries (an audit entry's), stores the consent
// records of each of the call's events that is stored: records[i] belongs
// to the call's event i (nil for none). Rejected, suppressed and duplicate
// events write none.
//
// A record is stored only on an identifier the event's own profile holds
// once the event is resolved. An identifier the event could not link (a
// device shared with another person, an identifier a limit or a manual
// refusal keeps apart) belongs to someone else, and one person's decision
// must not become another's: Bob granting advertising on the tablet Ann
// signed in on first would otherwise make Ann GRANTED.
func WithConsent(ctx context.Context, records [][]privacy.Record) context.Context {
	prev := graph.EventsHookFrom(ctx)
	return graph.WithEventsHook(ctx, func(ctx context.Context, tx graph.Tx, results []graph.EventResult) error {
		if prev != nil {
			if err := prev(ctx, tx, results); err != nil {
				return err
			}
		}
		var keys []string
		for i, r := range results {
			if i < len(records) && r.Status == graph.StatusStored {
				for _, rec := range records[i] {
					keys = append(keys, rec.Identifier)
				}
			}
		}
		if len(keys) == 0 {
			return nil
		}
		slices.Sort(keys)
		idents, err := tx.Identifiers(ctx, slices.Compact(keys))
		if err != nil {
			return err
		}
		var put []privacy.Record
		changed := map[string]bool{}
		for i, r := range results {
			if i >= len(records) || r.Status != graph.StatusStored {
				continue
			}
			for _, rec := range records[i] {
				if id, ok := idents[rec.Identifier]; ok && id.ProfileID != "" && id.ProfileID == r.ProfileID {
					put = append(put, rec)
					changed[r.ProfileID] = true
				}
			}
		}
		if len(put) == 0 {
			return nil
		}
		if err := privacy.PutConsentInTx(ctx, tx, put); err != nil {
			return err
		}
		// One CONSENT_CHANGED per profile, in the transaction that
		// records the decisions.
		now := graph.Now()
		feed := make([]graph.FeedEntry, 0, len(changed))
		for _, p := range slices.Sorted(maps.Keys(changed)) {
			feed = append(feed, graph.FeedEntry{At: now, Kind: graph.FeedConsentChanged, ProfileID: p})
		}
		return graph.AppendFeed(ctx, tx, feed)
	})
}

// PurposesOf returns the consent purposes of the engine's rules (the
// default ones when the rules name none), or nil, logged, when they are
// unusable (the rules are checked on load, so only a hand-built engine
// gets here).
func PurposesOf(e *graph.Engine, log zerolog.Logger) *privacy.Purposes {
	var r graph.ConsentRules
	if rules := e.Normalizer().Rules(); rules != nil {
		r = rules.Consent
	}
	if len(r.Purposes) == 0 {
		r.Purposes = graph.DefaultConsentPurposes()
	}
	p, err := privacy.NewPurposes(r)
	if err != nil {
		log.Error().Err(err).Msg("ingest: the rules' consent purposes are unusable; consent in messages is not read")
		return nil
	}
	return p
}

// takeStatuses applies cdp's extension of categoryPreferences, which cdp
// import uses: besides Segment's true and false, a value may be the string
// "granted", "denied" or "withdrawn" (any case). It returns msg with the
// granted and denied strings made booleans and the withdrawn categories
// taken out (a copy of msg's context when it changes anything), and the
// withdrawn categories.
//
// Errors: EINVALID for another string or a value of another JSON type,
// naming the first such category in name order (withheld when it looks like
// personal data), not the value, and every value taken.
func takeStatuses(msg map[string]any) (map[string]any, []string, error) {
	ctx, _ := msg["context"].(map[string]any)
	consent, _ := ctx["consent"].(map[string]any)
	prefs, _ := consent["categoryPreferences"].(map[string]any)
	hasString, hasOther := false, false
	for _, v := range prefs {
		switch v.(type) {
		case bool:
		case string:
			hasString = true
		default:
			hasOther = true
		}
	}
	if !hasString && !hasOther {
		return msg, nil, nil
	}
	// Named as privacy.FromSegment names a category: one that looks like
	// personal data is withheld (graph.MessageKey), and the value is never
	// repeated.
	refuse := func(c string) error {
		return graph.Errorf(graph.EINVALID, "context.consent.categoryPreferences.%s must be true, false, \"granted\", \"denied\" or \"withdrawn\"", clip(graph.MessageKey(c), 70))
	}
	names := slices.Sorted(maps.Keys(prefs))
	np := make(map[string]any, len(prefs))
	var withdrawn []string
	for _, c := range names {
		var sv string
		switch v := prefs[c].(type) {
		case bool:
			np[c] = v
			continue
		case string:
			sv = v
		default:
			return nil, nil, refuse(c)
		}
		st, err := privacy.ParseImportValue(sv)
		if err != nil {
			return nil, nil, refuse(c)
		}
		switch st {
		case privacy.StatusGranted:
			np[c] = true
		case privacy.StatusDenied:
			np[c] = false
		default:
			withdrawn = append(withdrawn, c)
		}
	}
	nc := maps.Clone(consent)
	nc["categoryPreferences"] = np
	nctx := maps.Clone(ctx)
	nctx["consent"] = nc
	nm := maps.Clone(msg)
	nm["context"] = nctx
	return nm, withdrawn, nil
}
