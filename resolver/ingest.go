package resolver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/gql"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/privacy"
)

// segmentMessage renders an EventInput as the Segment JSON message the
// collector would have received, checking that object fields hold objects.
func segmentMessage(in *gql.EventInput) ([]byte, error) {
	m := map[string]any{"type": in.Type}
	str := func(name string, v *string) {
		if v != nil {
			m[name] = *v
		}
	}
	str("messageId", in.MessageID)
	str("userId", in.UserID)
	str("anonymousId", in.AnonymousID)
	str("previousId", in.PreviousID)
	str("groupId", in.GroupID)
	str("event", in.Event)
	str("name", in.Name)
	str("category", in.Category)
	for _, f := range []struct {
		name string
		v    any
	}{{"properties", in.Properties}, {"traits", in.Traits}, {"context", in.Context}, {"integrations", in.Integrations}} {
		if f.v == nil {
			continue
		}
		if _, ok := f.v.(map[string]any); !ok {
			return nil, fmt.Errorf("%s must be a JSON object", f.name)
		}
		m[f.name] = f.v
	}
	for _, f := range []struct {
		name string
		v    *time.Time
	}{{"timestamp", in.Timestamp}, {"originalTimestamp", in.OriginalTimestamp}, {"sentAt", in.SentAt}} {
		if f.v != nil && !f.v.IsZero() {
			m[f.name] = f.v.Format(time.RFC3339Nano)
		}
	}
	return json.Marshal(m)
}

// toEvent converts one message with the collector's parser: the one
// configured (Config.Parse, which counts it in the collector's metrics),
// or else ingest.ParseMessage, the same rules without metrics.
func (r *Resolver) toEvent(in *gql.EventInput, env ingest.Envelope) (graph.Event, error) {
	raw, err := segmentMessage(in)
	if err != nil {
		return graph.Event{}, err
	}
	if len(raw) > MaxMessageBytes {
		return graph.Event{}, fmt.Errorf("message is %d bytes, over the limit of %d bytes", len(raw), MaxMessageBytes)
	}
	if r.cfg.Parse != nil {
		return r.cfg.Parse(raw, env)
	}
	return ingest.ParseMessage(raw, env)
}

func statusOf(s string) gql.IngestStatus {
	switch s {
	case graph.StatusStored:
		return gql.IngestStatusStored
	case graph.StatusDuplicate:
		return gql.IngestStatusDuplicate
	default:
		return gql.IngestStatusRejected
	}
}

// ingestSource is the source that labels the events of the request's
// ingest mutation: its key's source name, or the key's id when it has none;
// in open mode, Config.IngestSource.
func (r *Resolver) ingestSource(ctx context.Context) string {
	if k := access.PrincipalFrom(ctx).Key; k != nil {
		if k.Source != "" {
			return k.Source
		}
		return k.ID
	}
	return r.cfg.IngestSource
}

// ingest converts and submits messages; invalid ones are rejected by index
// and the rest stored. Its audit entry commits with the events (the events
// hook); when no transaction stored anything (every message refused before
// or by the engine's checks), the entry is appended on its own.
func (r *Resolver) ingestEvents(ctx context.Context, events []*gql.EventInput) (*gql.IngestResult, error) {
	entry := newEntry(ctx, "ingest", "")
	if len(events) > MaxIngestEvents {
		err := invalidArg("events", "holds %d messages; at most %d are accepted per call", len(events), MaxIngestEvents)
		r.auditFailure(ctx, entry, err)
		return nil, err
	}
	keepLiteralNumbers(ctx, events)
	source := r.ingestSource(ctx)
	now := graph.Now()
	out := &gql.IngestResult{Results: make([]*gql.IngestItemResult, len(events))}
	var batch []graph.Event
	var at []int
	var consents [][]privacy.Record // by event of batch; nil while none carries consent
	for i, in := range events {
		res := &gql.IngestItemResult{Index: i, MessageID: in.MessageID}
		out.Results[i] = res
		ev, err := r.toEvent(in, ingest.Envelope{ReceivedAt: now, Source: source, Position: i})
		if err != nil {
			res.Status = gql.IngestStatusRejected
			reason := fmt.Sprintf("events[%d]: %s", i, reasonOf(err))
			res.Reason = &reason
			continue
		}
		recs, err := r.ingestConsent(in, ev, i)
		if err != nil {
			res.Status = gql.IngestStatusRejected
			reason := fmt.Sprintf("events[%d]: %s", i, graph.ErrorMessage(err))
			res.Reason = &reason
			continue
		}
		if recs != nil && consents == nil {
			consents = make([][]privacy.Record, len(batch), len(events))
		}
		if consents != nil {
			consents = append(consents, recs)
		}
		id := ev.MessageID
		if id == "" {
			id = ev.ID
		}
		res.MessageID = &id
		batch = append(batch, ev)
		at = append(at, i)
	}
	var pids []string
	hooked := false
	if len(batch) > 0 {
		var ran atomic.Bool
		hook := func(ctx context.Context, tx graph.Tx, results []graph.EventResult) error {
			e := entry // each run starts from the entry as made
			e.SetProfiles(resultProfiles(results))
			if err := access.AppendInTx(ctx, tx, []access.AuditEntry{e}); err != nil {
				return err
			}
			ran.Store(true)
			return nil
		}
		hctx := graph.WithEventsHook(ctx, hook)
		if consents != nil {
			hctx = ingest.WithConsent(hctx, consents) // runs the audit hook first
		}
		rs, err := r.ingest.Submit(hctx, batch)
		if err != nil {
			r.auditFailure(ctx, entry, err)
			return nil, submitErr(ctx, err, len(batch))
		}
		hooked = ran.Load()
		pids = resultProfiles(rs)
		if len(rs) != len(batch) {
			return nil, domainErr(fmt.Errorf("ingester returned %d results for %d events", len(rs), len(batch)))
		}
		for j, er := range rs {
			res := out.Results[at[j]]
			res.Status = statusOf(er.Status)
			if er.Reason != "" {
				reason := fmt.Sprintf("events[%d]: %s", at[j], er.Reason)
				res.Reason = &reason
			}
			if er.ProfileID != "" {
				pid := er.ProfileID
				res.ProfileID = &pid
			}
		}
	}
	if !hooked {
		entry.SetProfiles(pids)
		r.appendAlone(ctx, entry)
	}
	for _, res := range out.Results {
		switch res.Status {
		case gql.IngestStatusStored:
			out.Accepted++
		case gql.IngestStatusDuplicate:
			out.Accepted++
			out.Duplicates++
		default:
			out.Rejected++
		}
	}
	return out, nil
}

// resultProfiles lists the profiles of the events results name.
func resultProfiles(rs []graph.EventResult) []string {
	var ids []string
	for _, r := range rs {
		if r.ProfileID != "" {
			ids = append(ids, r.ProfileID)
		}
	}
	return ids
}

// reasonOf is the client-facing text of a per-message rejection: parse and
// validation errors describe the message itself.
func reasonOf(err error) string {
	if graph.ErrorCode(err) != graph.EINTERNAL {
		return graph.ErrorMessage(err)
	}
	return err.Error()
}

// submitErr maps an Ingester failure. Invalid input keeps its code. A full
// queue, a collector shutting down or a store that is down all mean the
// events may not be stored and a replay is safe, so the client is told to
// retry; the cause goes to the log only.
func submitErr(ctx context.Context, err error, n int) error {
	code := graph.ErrorCode(err)
	if (code != graph.EINTERNAL && code != graph.EUNAVAILABLE) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return domainErr(err)
	}
	zerolog.Ctx(ctx).Warn().Err(err).Int("events", n).Msg("graphql ingest: events not stored")
	return graph.Errorf(graph.EUNAVAILABLE, "the events could not be stored now (ingest overloaded or store unavailable); retry later, replaying them is safe")
}

// ingestConsent returns the consent records of a message, as the collector
// reads them (ingest.ConsentRecords): nil when it carries none. seq is its
// position in the call's events.
func (r *Resolver) ingestConsent(in *gql.EventInput, ev graph.Event, seq int) ([]privacy.Record, error) {
	ctxObj, _ := in.Context.(map[string]any)
	name := ""
	if in.Event != nil {
		name = *in.Event
	}
	if ctxObj["consent"] == nil && name != privacy.SegmentConsentEvent {
		return nil, nil
	}
	ps, err := r.purposes()
	if err != nil {
		return nil, domainErr(err)
	}
	msg := map[string]any{"type": ev.Type, "event": name, "context": ctxObj}
	recs, unknown, err := ingest.ConsentRecords(msg, ev, seq, ps, r.engine.Normalizer())
	if c, ok := r.ingest.(UnknownConsentCounter); ok {
		c.CountUnknownConsent(unknown)
	}
	return recs, err
}

// UnknownConsentCounter is an Ingester that counts the consent categories
// of submitted messages that map to no purpose, as the collector does for
// its own endpoints (ingest.Collector is one).
type UnknownConsentCounter interface {
	CountUnknownConsent(n int)
}
