package resolver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/gql"
	"github.com/idgraph/cdp/graph"
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

// toEvent converts one message: with the collector's parser when configured,
// else with basicEvent.
func (r *Resolver) toEvent(in *gql.EventInput, receivedAt time.Time) (graph.Event, error) {
	raw, err := segmentMessage(in)
	if err != nil {
		return graph.Event{}, err
	}
	if len(raw) > MaxMessageBytes {
		return graph.Event{}, fmt.Errorf("message is %d bytes, over the limit of %d bytes", len(raw), MaxMessageBytes)
	}
	if r.cfg.Parse != nil {
		return r.cfg.Parse(raw, receivedAt, r.cfg.IngestSource)
	}
	return basicEvent(in, raw, receivedAt, r.cfg.IngestSource)
}

var segmentTypes = map[string]bool{"track": true, "identify": true, "page": true, "screen": true, "group": true, "alias": true}

// basicEvent maps a Segment message to an event as the ingestion rules say,
// for handlers built without the collector's parser.
func basicEvent(in *gql.EventInput, raw []byte, receivedAt time.Time, source string) (graph.Event, error) {
	typ := strings.ToLower(strings.TrimSpace(in.Type))
	if !segmentTypes[typ] {
		return graph.Event{}, fmt.Errorf("type %q is not one of track, identify, page, screen, group, alias", in.Type)
	}
	ev := graph.Event{Type: typ, Source: source, ReceivedAt: receivedAt}
	if in.MessageID != nil && strings.TrimSpace(*in.MessageID) != "" {
		ev.MessageID = strings.TrimSpace(*in.MessageID)
	} else {
		sum := sha256.Sum256(raw)
		ev.MessageID = "gql-" + hex.EncodeToString(sum[:16])
	}
	// As the collector does: ids are scoped by source, and the digest of
	// the content without its transport fields tells a retry from a reuse.
	ev.ID = source + "/" + ev.MessageID
	content := *in
	content.MessageID, content.SentAt = nil, nil
	if data, err := segmentMessage(&content); err == nil {
		sum := sha256.Sum256(data)
		ev.Digest = hex.EncodeToString(sum[:])
	}
	ctxObj, _ := in.Context.(map[string]any)
	traits, _ := in.Traits.(map[string]any)
	ctxTraits, _ := ctxObj["traits"].(map[string]any)
	ev.Properties, _ = in.Properties.(map[string]any)

	add := func(t string, v any) {
		s, ok := v.(string)
		if !ok {
			if v == nil {
				return
			}
			s = fmt.Sprint(v)
		}
		if strings.TrimSpace(s) != "" {
			ev.Identifiers = append(ev.Identifiers, graph.IdentifierRef{Type: t, Value: s})
		}
	}
	if in.UserID != nil {
		add(graph.TypeUserID, *in.UserID)
	}
	if in.AnonymousID != nil {
		add(graph.TypeAnonymousID, *in.AnonymousID)
	}
	if typ == "alias" && in.PreviousID != nil {
		// previousId is most often the anonymous id the user had before
		// signing in; anonymous_id's generous limit never refuses it.
		add(graph.TypeAnonymousID, *in.PreviousID)
	}
	for _, tm := range []map[string]any{traits, ctxTraits} {
		add(graph.TypeEmail, tm["email"])
		add(graph.TypePhone, tm["phone"])
	}
	if dev, ok := ctxObj["device"].(map[string]any); ok {
		add(graph.TypeDeviceID, dev["id"])
	}
	if ext, ok := ctxObj["externalIds"].([]any); ok {
		for _, x := range ext {
			if o, ok := x.(map[string]any); ok {
				if t, ok := o["type"].(string); ok {
					add(t, o["id"])
				}
			}
		}
	}
	if typ == "identify" || len(ctxTraits) > 0 {
		ev.Traits = map[string]any{}
		for k, v := range ctxTraits {
			ev.Traits[k] = v
		}
		if typ == "identify" {
			for k, v := range traits {
				ev.Traits[k] = v
			}
		}
	}
	switch typ {
	case "track":
		if in.Event != nil {
			ev.Name = *in.Event
		}
	case "page", "screen":
		if in.Name != nil {
			ev.Name = *in.Name
		}
	}
	ev.Channel = "server"
	if c, ok := ctxObj["channel"].(string); ok && c != "" {
		ev.Channel = c
	}
	// Clock skew: timestamp = receivedAt - (sentAt - originalTimestamp).
	switch {
	case in.Timestamp != nil && !in.Timestamp.IsZero():
		ev.Timestamp = *in.Timestamp
	case in.OriginalTimestamp != nil && !in.OriginalTimestamp.IsZero() && in.SentAt != nil && !in.SentAt.IsZero():
		ev.Timestamp = receivedAt.Add(-in.SentAt.Sub(*in.OriginalTimestamp))
	case in.OriginalTimestamp != nil && !in.OriginalTimestamp.IsZero():
		ev.Timestamp = *in.OriginalTimestamp
	default:
		ev.Timestamp = receivedAt
	}
	if len(ev.Identifiers) == 0 {
		return graph.Event{}, fmt.Errorf("message carries no identifier (userId, anonymousId, traits.email, traits.phone, context.device.id or context.externalIds)")
	}
	return ev, nil
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

// ingest converts and submits messages; invalid ones are rejected by index
// and the rest stored.
func (r *Resolver) ingestEvents(ctx context.Context, events []*gql.EventInput) (*gql.IngestResult, error) {
	if len(events) > MaxIngestEvents {
		return nil, invalidArg("events", "holds %d messages; at most %d are accepted per call", len(events), MaxIngestEvents)
	}
	now := graph.Now()
	out := &gql.IngestResult{Results: make([]*gql.IngestItemResult, len(events))}
	var batch []graph.Event
	var at []int
	for i, in := range events {
		res := &gql.IngestItemResult{Index: i, MessageID: in.MessageID}
		out.Results[i] = res
		ev, err := r.toEvent(in, now)
		if err != nil {
			res.Status = gql.IngestStatusRejected
			reason := fmt.Sprintf("events[%d]: %s", i, reasonOf(err))
			res.Reason = &reason
			continue
		}
		id := ev.MessageID
		if id == "" {
			id = ev.ID
		}
		res.MessageID = &id
		batch = append(batch, ev)
		at = append(at, i)
	}
	if len(batch) > 0 {
		rs, err := r.ingest.Submit(ctx, batch)
		if err != nil {
			return nil, submitErr(ctx, err, len(batch))
		}
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
