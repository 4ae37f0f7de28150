package ingest

import (
	"bytes"
	"context"

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
// event id as proof; their ids derive from the event id, identifier and
// purpose (privacy.RecordIDFor), so a resent message writes nothing new.
//
// They are written by an events hook of the Submit call, in the
// transaction that stores the event, and only for events actually stored
// (not rejected, suppressed or duplicates). A hook the caller's context
// already carries runs first, then the consent hook. Categories that map
// to no purpose are skipped and counted in
// cdp_ingest_consent_unknown_categories_total; they are never logged, as
// a category name may be anything a client sends.

// consentMarker is what a message must contain to hold Segment consent;
// messages without it skip the second decode.
var consentMarker = []byte(`categoryPreferences`)

// consentRecords reads the Segment consent of a raw message, parsed as ev,
// and returns its records: nil when it carries none.
//
// Errors: privacy.FromSegment's (EINVALID naming the field), and
// Record.Validate's for a record the message's fields cannot make.
func (c *Collector) consentRecords(raw []byte, ev graph.Event) ([]privacy.Record, error) {
	if c.purposes == nil || (!bytes.Contains(raw, consentMarker) && !bytes.Contains(raw, []byte(privacy.SegmentConsentEvent))) {
		return nil, nil
	}
	v, merr := decodeJSON(raw, "message")
	msg, _ := v.(map[string]any)
	if merr != nil || msg == nil {
		return nil, nil // parseMessage accepted it; cannot happen
	}
	if _, ok := msg["type"]; !ok {
		msg["type"] = ev.Type // implied by the endpoint (/v1/track)
	}
	sc, err := privacy.FromSegment(msg, c.purposes)
	if err != nil {
		return nil, err
	}
	if n := len(sc.Unknown); n > 0 {
		c.m.consentUnknown.Add(float64(n))
	}
	if len(sc.Preferences) == 0 {
		return nil, nil
	}
	norm := c.engine.Normalizer()
	seen := map[string]bool{}
	var out []privacy.Record
	for _, ref := range ev.Identifiers {
		n, why := norm.Normalize(ref)
		if why != "" || seen[n.Key()] {
			continue // the engine drops it too
		}
		seen[n.Key()] = true
		for _, r := range sc.Records(privacy.SegmentStamp{
			Identifier: n.Key(),
			Source:     ev.Source,
			EventID:    ev.ID,
			At:         ev.Timestamp,
			ReceivedAt: ev.ReceivedAt,
		}) {
			if err := r.Validate(c.purposes); err != nil {
				return nil, err
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// withConsent returns ctx with an events hook that, after any hook ctx
// already carries, stores the consent records of each stored event:
// records[i] belongs to the call's event i (nil for none).
func withConsent(ctx context.Context, records [][]privacy.Record) context.Context {
	prev := graph.EventsHookFrom(ctx)
	return graph.WithEventsHook(ctx, func(ctx context.Context, tx graph.Tx, results []graph.EventResult) error {
		if prev != nil {
			if err := prev(ctx, tx, results); err != nil {
				return err
			}
		}
		var put []privacy.Record
		for i, r := range results {
			if i < len(records) && r.Status == graph.StatusStored {
				put = append(put, records[i]...)
			}
		}
		if len(put) == 0 {
			return nil
		}
		return privacy.PutConsentInTx(ctx, tx, put)
	})
}

// purposesOf returns the consent purposes of the engine's rules (the
// default ones when the rules name none), or nil, logged, when they are
// unusable (the rules are checked on load, so only a hand-built engine
// gets here).
func purposesOf(e *graph.Engine, log zerolog.Logger) *privacy.Purposes {
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
