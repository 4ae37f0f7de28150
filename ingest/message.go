package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/idgraph/cdp/graph"
)

// Message types of the Segment spec.
const (
	TypeIdentify = "identify"
	TypeTrack    = "track"
	TypePage     = "page"
	TypeScreen   = "screen"
	TypeGroup    = "group"
	TypeAlias    = "alias"
)

var messageTypes = []string{TypeIdentify, TypeTrack, TypePage, TypeScreen, TypeGroup, TypeAlias}

// Limits on one message.
const (
	DefaultMaxMessageBytes = 32 << 10
	// MaxMessageIDBytes bounds a client's messageId: ids are unique keys in
	// every store.
	MaxMessageIDBytes = 256
	// MaxExternalIDs bounds context.externalIds; more than this is not a
	// person's identity but a list of something else.
	MaxExternalIDs = 100
	// MaxCampaignBytes bounds context.campaign.name as kept on the event;
	// SDKs fill it from a page's utm_campaign, which no one checks, so a
	// longer name is cut (on a rune boundary) rather than refused.
	MaxCampaignBytes = 256
	// MaxEventNameBytes bounds a track's event and a page's or screen's
	// name (graph.MaxEventNameBytes).
	MaxEventNameBytes = graph.MaxEventNameBytes
	// MaxChannelBytes bounds context.channel as kept on the event; a longer
	// one is cut (on a rune boundary), as a campaign is.
	MaxChannelBytes = 64
	// MaxFuture is how far past its receipt an event may be dated.
	MaxFuture = 24 * time.Hour
)

// MinTimestamp is the earliest event time accepted. Earlier dates are
// almost always a zero or epoch value from a broken client clock.
var MinTimestamp = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Rejection reasons: stable, low-cardinality codes used as metric labels.
// The MessageError's Message says what exactly was wrong.
const (
	ReasonMalformed     = "malformed"
	ReasonTooLarge      = "too_large"
	ReasonTooDeep       = "too_deep"
	ReasonInvalidUTF8   = "invalid_utf8"
	ReasonInvalidField  = "invalid_field"
	ReasonUnknownType   = "unknown_type"
	ReasonNoIdentifier  = "no_identifier"
	ReasonBadTimestamp  = "bad_timestamp"
	ReasonUnusableIdent = "no_usable_identifier" // every identifier failed normalization
	// ReasonInvalidConsent: context.consent.categoryPreferences is not an
	// object of booleans, or the consent track event carries none.
	ReasonInvalidConsent = "invalid_consent"
)

// MessageError says why a message was refused. It unwraps to a graph.Error
// with code EINVALID, so the GraphQL layer presents it like any other
// invalid input.
type MessageError struct {
	Reason  string // one of the Reason constants
	Message string // names the field and the problem; never echoes identifier values
}

func (e *MessageError) Error() string { return e.Message }

// Unwrap exposes the domain code.
func (e *MessageError) Unwrap() error { return &graph.Error{Code: graph.EINVALID, Message: e.Message} }

func invalid(format string, args ...any) *MessageError {
	return &MessageError{Reason: ReasonInvalidField, Message: fmt.Sprintf(format, args...)}
}

// Envelope is what a message inherits from the request that carried it.
type Envelope struct {
	// Source is the source name the event is recorded with (the write key's
	// source, or the import's --source).
	Source string
	// ReceivedAt is when the collector received the request. A message is
	// received that many microseconds after it as its Position says (the
	// event's ReceivedAt), so that the messages of one request are
	// received in its order: of two values of a trait from the same time,
	// the one received later wins (graph.NewerTrait).
	ReceivedAt time.Time
	// SentAt is the batch-level sentAt; a message's own sentAt wins.
	SentAt time.Time
	// Context is the batch-level context; the message's own context is
	// merged over it, nested objects included.
	Context map[string]any
	// Type is the type the endpoint implies ("track" for /v1/track), or ""
	// for /v1/batch where every message names its own.
	Type string
	// MaxBytes caps the raw message; 0 means DefaultMaxMessageBytes.
	MaxBytes int
	// Position is the message's place in its request (0 for the first).
	// A message with no time of its own is dated ReceivedAt plus that many
	// microseconds, so that the messages of one request keep its order:
	// a later one's trait wins over an earlier one's, whichever of the
	// person's identifiers each came with.
	Position int
}

// ParseMessage turns one Segment message (the JSON object an SDK sends to
// /v1/track, /v1/identify, ... or one item of /v1/batch) into a graph.Event.
// The result carries the identifiers, traits, channel, campaign, corrected
// timestamp and a messageId (derived from the content when the message has
// none); the engine normalizes the identifier values. Errors are *MessageError naming
// the field at fault. ParseMessage never panics on any input, and the same
// input and envelope always give the same event.
//
// Rules (README.md has the full table):
//   - userId → user_id, anonymousId → anonymous_id, context.device.id →
//     device_id, context.externalIds[{id,type}] → type; email and phone from
//     context.traits on any message and from traits on identify (a group's
//     traits describe the group, not the person).
//   - alias: userId → user_id and previousId → anonymous_id.
//   - context.campaign.name → the event's Campaign (CutCampaign).
//   - time: with a sentAt, base = originalTimestamp, else timestamp, and
//     the clock skew is corrected: receivedAt − (sentAt − base). Without a
//     sentAt, the event is dated timestamp, else originalTimestamp. Without
//     either the event is dated receivedAt. Results before 2000-01-01 or
//     more than 24h after receipt are refused.
func ParseMessage(raw []byte, env Envelope) (graph.Event, error) {
	ev, merr := parseMessage(raw, env)
	if merr != nil {
		return graph.Event{}, merr
	}
	return ev, nil
}

func parseMessage(raw []byte, env Envelope) (graph.Event, *MessageError) {
	max := env.MaxBytes
	if max <= 0 {
		max = DefaultMaxMessageBytes
	}
	// Measured without the JSON whitespace around it, as a batch's
	// messages and an import's lines are: a body's trailing newline is
	// not part of the message.
	raw = bytes.Trim(raw, " \t\r\n")
	if len(raw) > max {
		return graph.Event{}, &MessageError{Reason: ReasonTooLarge, Message: fmt.Sprintf("message is %d bytes, over the %s per-message limit", len(raw), sizeName(max))}
	}
	if e := checkJSON(raw, MaxDepth, "message"); e != nil {
		return graph.Event{}, e
	}
	v, e := decodeJSON(raw, "message")
	if e != nil {
		return graph.Event{}, e
	}
	msg, ok := v.(map[string]any)
	if !ok {
		return graph.Event{}, &MessageError{Reason: ReasonMalformed, Message: fmt.Sprintf("message must be a JSON object, not %s", jsonType(v))}
	}
	if e := keepSurrogates(raw, msg, messageIdentifierPath, "message"); e != nil {
		return graph.Event{}, e
	}
	return fromMap(msg, env)
}

func fromMap(msg map[string]any, env Envelope) (graph.Event, *MessageError) {
	typ, e := messageType(msg, env.Type)
	if e != nil {
		return graph.Event{}, e
	}
	ctx, e := object(msg, "context", "context")
	if e != nil {
		return graph.Event{}, e
	}
	ctx = mergeMaps(env.Context, ctx)
	ctxTraits, e := object(ctx, "traits", "context.traits")
	if e != nil {
		return graph.Event{}, e
	}
	var traits map[string]any
	if typ == TypeIdentify {
		if traits, e = object(msg, "traits", "traits"); e != nil {
			return graph.Event{}, e
		}
	}

	source := env.Source
	switch {
	case source == "":
		source = DefaultSource
	case strings.Contains(source, "/"):
		// Event ids are "<source>/<messageId>"; a "/" in the source would
		// let two sources' ids meet. Sources are checked where they are
		// configured (ValidSource), so this is a wiring mistake.
		return graph.Event{}, invalid("source name %q holds a \"/\"; source names are letters, digits, _ . and -", clip(source, 70))
	}
	ev := graph.Event{Type: typ, Source: source}
	if !env.ReceivedAt.IsZero() {
		ev.ReceivedAt = env.ReceivedAt.Add(time.Duration(env.Position) * time.Microsecond)
	}
	add := func(t string, val any, field string) *MessageError {
		s, ok, e := idValue(val, field)
		if e != nil {
			return e
		}
		if ok {
			ev.Identifiers = append(ev.Identifiers, graph.IdentifierRef{Type: t, Value: s})
		}
		return nil
	}
	if e := add(graph.TypeUserID, msg["userId"], "userId"); e != nil {
		return graph.Event{}, e
	}
	if e := add(graph.TypeAnonymousID, msg["anonymousId"], "anonymousId"); e != nil {
		return graph.Event{}, e
	}
	if typ == TypeIdentify {
		if e := add(graph.TypeEmail, traits["email"], "traits.email"); e != nil {
			return graph.Event{}, e
		}
		if e := add(graph.TypePhone, traits["phone"], "traits.phone"); e != nil {
			return graph.Event{}, e
		}
	}
	if e := add(graph.TypeEmail, ctxTraits["email"], "context.traits.email"); e != nil {
		return graph.Event{}, e
	}
	if e := add(graph.TypePhone, ctxTraits["phone"], "context.traits.phone"); e != nil {
		return graph.Event{}, e
	}
	device, e := object(ctx, "device", "context.device")
	if e != nil {
		return graph.Event{}, e
	}
	if e := add(graph.TypeDeviceID, device["id"], "context.device.id"); e != nil {
		return graph.Event{}, e
	}
	ext, e := externalIDs(ctx["externalIds"])
	if e != nil {
		return graph.Event{}, e
	}
	ev.Identifiers = append(ev.Identifiers, ext...)

	var props map[string]any
	switch typ {
	case TypeTrack:
		name, ok, e := text(msg, "event")
		if e != nil {
			return graph.Event{}, e
		}
		if !ok || strings.TrimSpace(name) == "" {
			return graph.Event{}, invalid("event is required for a track message")
		}
		if len(name) > MaxEventNameBytes {
			return graph.Event{}, invalid("event is %d bytes; at most %d are accepted", len(name), MaxEventNameBytes)
		}
		ev.Name = name
		if props, e = object(msg, "properties", "properties"); e != nil {
			return graph.Event{}, e
		}
	case TypePage, TypeScreen:
		if ev.Name, _, e = text(msg, "name"); e != nil {
			return graph.Event{}, e
		}
		if len(ev.Name) > MaxEventNameBytes {
			return graph.Event{}, invalid("name is %d bytes; at most %d are accepted", len(ev.Name), MaxEventNameBytes)
		}
		if props, e = object(msg, "properties", "properties"); e != nil {
			return graph.Event{}, e
		}
		cat, ok, e := text(msg, "category")
		if e != nil {
			return graph.Event{}, e
		}
		if ok {
			if _, taken := props["category"]; !taken {
				props = mergeMaps(props, map[string]any{"category": cat})
			}
		}
	case TypeGroup:
		gid, ok, e := idValue(msg["groupId"], "groupId")
		if e != nil {
			return graph.Event{}, e
		}
		if !ok || strings.TrimSpace(gid) == "" {
			return graph.Event{}, invalid("groupId is required for a group message")
		}
		gtraits, e := object(msg, "traits", "traits")
		if e != nil {
			return graph.Event{}, e
		}
		props = map[string]any{"groupId": gid}
		if gtraits != nil {
			// Checked here, so that a refusal names the field as sent
			// (traits), not as kept (properties.traits).
			p, err := plain(gtraits, "traits")
			if err != nil {
				return graph.Event{}, invalid("%v", err)
			}
			props["traits"] = p
		}
	case TypeAlias:
		prev, ok, e := idValue(msg["previousId"], "previousId")
		if e != nil {
			return graph.Event{}, e
		}
		if !ok || strings.TrimSpace(prev) == "" {
			return graph.Event{}, invalid("previousId is required for an alias message")
		}
		if u, ok, _ := idValue(msg["userId"], "userId"); !ok || strings.TrimSpace(u) == "" {
			return graph.Event{}, invalid("userId is required for an alias message")
		}
		ev.Identifiers = append(ev.Identifiers, graph.IdentifierRef{Type: graph.TypeAnonymousID, Value: prev})
	}
	if len(ev.Identifiers) == 0 {
		return graph.Event{}, &MessageError{Reason: ReasonNoIdentifier, Message: "message carries no identifier: send userId, anonymousId, traits.email, traits.phone, context.device.id or context.externalIds"}
	}

	if typ == TypeIdentify {
		ev.Traits = mergeMaps(ctxTraits, traits)
	} else {
		ev.Traits = ctxTraits
	}
	p, err := plain(props, "properties")
	if err != nil {
		return graph.Event{}, invalid("%v", err)
	}
	if m, _ := p.(map[string]any); len(m) > 0 {
		ev.Properties = m
	}
	t, err := plain(ev.Traits, "traits")
	if err != nil {
		return graph.Event{}, invalid("%v", traitsError(err, traits, ctxTraits))
	}
	ev.Traits = nil
	if m, _ := t.(map[string]any); len(m) > 0 {
		ev.Traits = m
	}

	ch, e := channel(ctx, typ)
	if e != nil {
		return graph.Event{}, e
	}
	ev.Channel = ch
	if ev.Campaign, e = campaign(ctx); e != nil {
		return graph.Event{}, e
	}
	if ev.Timestamp, e = eventTime(msg, env); e != nil {
		return graph.Event{}, e
	}
	if ev.MessageID, ev.Digest, e = messageID(msg, env.Context, ctx, typ, ev.Source); e != nil {
		return graph.Event{}, e
	}
	ev.ID = EventID(ev.Source, ev.MessageID)
	return ev, nil
}

// traitsError names the field of the message that holds the number plain
// refused in the traits merged from traits (identify's own, nil on other
// types) over ctxTraits: a refusal must name the field the sender wrote,
// and a track has no traits field to look in.
func traitsError(err error, traits, ctxTraits map[string]any) error {
	if _, e := plain(traits, "traits"); e != nil {
		return e
	}
	if _, e := plain(ctxTraits, "context.traits"); e != nil {
		return e
	}
	return err
}

func messageType(msg map[string]any, implied string) (string, *MessageError) {
	raw, present := msg["type"]
	s, isString := raw.(string)
	switch {
	case !present || raw == nil:
		if implied == "" {
			return "", &MessageError{Reason: ReasonUnknownType, Message: "type is missing: it must be one of " + strings.Join(messageTypes, ", ")}
		}
		return implied, nil
	case !isString:
		return "", invalid("type must be a string, not %s", jsonType(raw))
	}
	t := strings.ToLower(strings.TrimSpace(s))
	known := false
	for _, k := range messageTypes {
		known = known || k == t
	}
	if !known {
		// Not echoed, as no value of a message is: it may be personal data
		// sent in the wrong field.
		return "", &MessageError{Reason: ReasonUnknownType, Message: "type is not one of " + strings.Join(messageTypes, ", ")}
	}
	if implied != "" && t != implied {
		return "", invalid("type %q does not match the endpoint, which takes %q messages", t, implied)
	}
	return t, nil
}

// object returns m[key] as an object; absent and null give nil.
func object(m map[string]any, key, path string) (map[string]any, *MessageError) {
	v, ok := m[key]
	if !ok || v == nil {
		return nil, nil
	}
	o, ok := v.(map[string]any)
	if !ok {
		return nil, invalid("%s must be an object, not %s", path, jsonType(v))
	}
	return o, nil
}

// text returns m[key] as a string; absent and null report false.
func text(m map[string]any, key string) (string, bool, *MessageError) {
	v, ok := m[key]
	if !ok || v == nil {
		return "", false, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", false, invalid("%s must be a string, not %s", key, jsonType(v))
	}
	return s, true, nil
}

// idValue reads an identifier: SDKs send strings, and analytics-node also
// allows numbers, kept exactly as written. Absent, null and "" report false.
func idValue(v any, field string) (string, bool, *MessageError) {
	switch x := v.(type) {
	case nil:
		return "", false, nil
	case string:
		return x, x != "", nil
	case json.Number:
		return string(x), true, nil
	case float64, int, int64:
		return fmt.Sprint(x), true, nil
	}
	return "", false, invalid("%s must be a string or a number, not %s", field, jsonType(v))
}

func externalIDs(v any) ([]graph.IdentifierRef, *MessageError) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, invalid("context.externalIds must be an array, not %s", jsonType(v))
	}
	if len(list) > MaxExternalIDs {
		return nil, invalid("context.externalIds has %d entries; at most %d are accepted", len(list), MaxExternalIDs)
	}
	var out []graph.IdentifierRef
	for i, item := range list {
		o, ok := item.(map[string]any)
		if !ok {
			return nil, invalid("context.externalIds[%d] must be an object, not %s", i, jsonType(item))
		}
		path := fmt.Sprintf("context.externalIds[%d]", i)
		// An id of another collection than users (Segment's "accounts")
		// names a group of people, not a person: taken as an identifier,
		// it would merge everyone of one account.
		if c, ok := o["collection"]; ok && c != nil {
			cs, ok := c.(string)
			if !ok {
				return nil, invalid("%s.collection must be a string, not %s", path, jsonType(c))
			}
			if cs = strings.ToLower(strings.TrimSpace(cs)); cs != "" && cs != "users" {
				continue
			}
		}
		t, ok := o["type"].(string)
		if !ok {
			return nil, invalid("%s.type must be a string, not %s", path, jsonType(o["type"]))
		}
		// Segment names some types with a dot (ios.idfa, android.id,
		// android.push_token); identifier types hold none, so it is read
		// as "_" (ios_idfa), rather than losing the message.
		t = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(t)), ".", "_")
		if !typeRe.MatchString(t) {
			return nil, invalid("%s.type is not an identifier type: use lowercase letters, digits, _ and ., starting with a letter (at most 64)", path)
		}
		id, _, e := idValue(o["id"], path+".id")
		if e != nil {
			return nil, e
		}
		if o["id"] == nil {
			return nil, invalid("%s.id is missing", path)
		}
		// An empty id is kept, for normalization to drop as empty, as an
		// empty userId is: the message stands on its other identifiers.
		out = append(out, graph.IdentifierRef{Type: t, Value: id})
	}
	return out, nil
}

var typeRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// channel: context.channel when given; otherwise mobile for app/mobile
// device context, web for browser context, the message type's home
// (screen → mobile, page → web), and server for the rest.
func channel(ctx map[string]any, typ string) (string, *MessageError) {
	if v, ok := ctx["channel"]; ok && v != nil {
		s, ok := v.(string)
		if !ok {
			return "", invalid("context.channel must be a string, not %s", jsonType(v))
		}
		// Cut, not refused, as a campaign is: a long channel is no reason
		// to lose the message's identifiers.
		if s = CutChannel(s); s != "" {
			return s, nil
		}
	}
	device, _ := ctx["device"].(map[string]any)
	dt, _ := device["type"].(string)
	switch strings.ToLower(strings.TrimSpace(dt)) {
	case "ios", "android", "mobile", "tablet":
		return "mobile", nil
	}
	if _, ok := ctx["app"].(map[string]any); ok {
		return "mobile", nil
	}
	// A browser's: null or blank names none.
	if ua, _ := ctx["userAgent"].(string); strings.TrimSpace(ua) != "" {
		return "web", nil
	}
	if _, ok := ctx["page"].(map[string]any); ok {
		return "web", nil
	}
	switch typ {
	case TypeScreen:
		return "mobile", nil
	case TypePage:
		return "web", nil
	}
	return "server", nil
}

// campaign: context.campaign.name, trimmed and cut to MaxCampaignBytes;
// "" when the message names no campaign.
func campaign(ctx map[string]any) (string, *MessageError) {
	c, e := object(ctx, "campaign", "context.campaign")
	if e != nil {
		return "", e
	}
	v, ok := c["name"]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", invalid("context.campaign.name must be a string, not %s", jsonType(v))
	}
	return CutCampaign(s), nil
}

// CutChannel is a context.channel as the event keeps it: trimmed,
// lower-cased and cut to MaxChannelBytes on a rune boundary ("" when
// nothing is left, and the channel is then inferred instead). Queries that
// select events by channel put the channel they are given in this form, so
// that the value a message sent selects the events it was kept on.
func CutChannel(s string) string {
	return cutBytes(strings.ToLower(strings.TrimSpace(s)), MaxChannelBytes)
}

// CutCampaign trims a campaign name and cuts it to MaxCampaignBytes on a
// rune boundary: every path that stores an event's campaign keeps it
// bounded the same way.
func CutCampaign(s string) string {
	return cutBytes(strings.TrimSpace(s), MaxCampaignBytes)
}

// cutBytes cuts s to at most max bytes on a character boundary, and trims
// the spaces the cut leaves at its end.
func cutBytes(s string, max int) string {
	if len(s) <= max {
		return s
	}
	n := max
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return strings.TrimSpace(s[:n])
}

func eventTime(msg map[string]any, env Envelope) (time.Time, *MessageError) {
	recv := env.ReceivedAt
	if recv.IsZero() {
		recv = time.Now()
	}
	// sentAt is read even when there is nothing for it to correct, so a
	// malformed one is refused whether or not the message has a time.
	sent, hasSent, e := timeField(msg, "sentAt")
	if e != nil {
		return time.Time{}, e
	}
	if !hasSent && !env.SentAt.IsZero() {
		sent, hasSent = env.SentAt, true
	}
	// The base is the first of these fields the message has. With a
	// sentAt, originalTimestamp comes first: the skew is the client's clock
	// against ours, and originalTimestamp is read on the client's clock
	// (RudderStack's SDKs send only it). Without one, timestamp comes
	// first: a message holding both is one a server already corrected (a
	// Segment archive, export or webhook), and its timestamp is that
	// corrected time, the one Segment's spec gives for replays and
	// historical imports; its originalTimestamp is the client's clock,
	// however wrong.
	names := [2]string{"originalTimestamp", "timestamp"}
	if !hasSent {
		names = [2]string{"timestamp", "originalTimestamp"}
	}
	// The times a client sends are range-checked only as the event's
	// time: with a sentAt, the skew-corrected one. A device whose clock
	// reset to 1970, or runs two days fast, dates both its timestamp and
	// its sentAt wrong, and the correction rights them.
	var base time.Time
	ok, name := false, ""
	for _, n := range names {
		if base, ok, e = timeField(msg, n); e != nil {
			return time.Time{}, e
		}
		if ok {
			name = n
			break
		}
	}
	if !ok {
		return recv.Add(time.Duration(env.Position) * time.Microsecond), nil
	}
	if !hasSent {
		if e := inRange(base, recv, name); e != nil {
			return time.Time{}, e
		}
		return base, nil
	}
	// The client's clock is off by (sentAt − receivedAt); the event's age
	// as the client saw it, sentAt − base, is right whatever the offset.
	t := recv.Add(-sent.Sub(base))
	if e := inRange(t, recv, "timestamp after clock-skew correction"); e != nil {
		return time.Time{}, e
	}
	return t, nil
}

func timeField(msg map[string]any, key string) (time.Time, bool, *MessageError) {
	v, ok := msg[key]
	if !ok || v == nil {
		return time.Time{}, false, nil
	}
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false, &MessageError{Reason: ReasonBadTimestamp, Message: fmt.Sprintf("%s must be an ISO-8601 string, not %s", key, jsonType(v))}
	}
	// Empty, or spaces alone (a blank CSV cell), is absent, as a userId
	// of spaces is missing.
	if strings.TrimSpace(s) == "" {
		return time.Time{}, false, nil
	}
	t, err := ParseTime(s)
	if err != nil {
		return time.Time{}, false, &MessageError{Reason: ReasonBadTimestamp, Message: key + " " + err.Error()}
	}
	return t, true, nil
}

// inRange refuses a time before MinTimestamp or more than MaxFuture past
// recv. The error says which bound it crossed, not the time itself: a
// date a client sent may be personal (a birth date in the wrong field).
func inRange(t, recv time.Time, what string) *MessageError {
	var why string
	switch {
	case t.Before(MinTimestamp):
		why = "is before 2000-01-01"
	case t.After(recv.Add(MaxFuture)):
		why = "is more than 24h after receipt"
	default:
		return nil
	}
	return &MessageError{Reason: ReasonBadTimestamp, Message: what + " " + why + ", outside the accepted range (from 2000-01-01 to 24h after receipt)"}
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999",
	// A zone of hours alone, as PostgreSQL prints timestamptz.
	"2006-01-02T15:04:05.999999999Z07",
	"2006-01-02 15:04:05.999999999Z07",
	// To the minute, as ISO 8601 allows and spreadsheets write.
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04Z0700",
	"2006-01-02T15:04Z07",
	"2006-01-02T15:04",
	"2006-01-02 15:04Z07:00",
	"2006-01-02 15:04Z0700",
	"2006-01-02 15:04Z07",
	"2006-01-02 15:04",
	"2006-01-02",
}

// ParseTime reads the ISO-8601 forms SDKs and spreadsheet exports write:
// RFC 3339 with any fraction, a zone without colon or of hours alone, a
// space instead of T, a time to the minute, and a bare date. A time without a zone is taken as UTC. Its error does
// not repeat s: the caller names the field before it ("sentAt is not an
// ISO-8601 time").
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	// RFC 3339 (5.6) allows a lower-case t and z; Go's layouts do not.
	if len(s) > 10 && s[10] == 't' {
		s = s[:10] + "T" + s[11:]
	}
	if len(s) > 10 && s[len(s)-1] == 'z' {
		s = s[:len(s)-1] + "Z"
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			if strings.Contains(l, "Z07") && !zoneInRange(s) {
				break
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, errNotTime
}

// zoneOffset is the numeric zone at the end of a time: its hours, and its
// minutes with or without a colon, or none.
var zoneOffset = regexp.MustCompile(`[+-]([0-9]{2})(?::?([0-9]{2}))?$`)

// zoneInRange reports whether the zone offset s ends with, if any, has
// hours 00 to 23 and minutes 00 to 59 (RFC 3339, 5.6). Go's parser takes
// hours up to 24 and minutes up to 60, reading +05:60 as +06:00 and +24:00
// as a whole day off.
func zoneInRange(s string) bool {
	m := zoneOffset.FindStringSubmatch(s)
	return m == nil || m[1] < "24" && m[2] < "60" // m[2] is "" for hours alone
}

// errNotTime is ParseTime's error. It does not repeat the value, which may
// be personal data; the caller puts the field's name before it.
var errNotTime = errors.New("is not an ISO-8601 time")

// messageID returns the message's id as sent, or derived from its content
// when it has none, and the digest of its content. The content is the
// message without its transport fields (messageId, sentAt, writeKey,
// receivedAt, and _metadata, the SDK's bookkeeping: analytics.js sets
// _metadata.retryCount on a retry and lists its bundled destinations
// there), which change on retries of the same message and are not stored,
// and with its type as parsed; the digest is the hex SHA-256 of its
// canonical JSON.
//
// Under a batch-level context (batchCtx not empty) the content holds the
// context as merged (merged), not the message's own: the batch's context
// gives the event identifiers, traits, channel and campaign, so two
// messages that differ only there are two events, and a resend under
// another batch context is a conflict, not a duplicate. A message with no
// batch context hashes as it always did, so its derived id is unchanged.
func messageID(msg, batchCtx, merged map[string]any, typ, source string) (id, digest string, e *MessageError) {
	id, ok, e := idValue(msg["messageId"], "messageId")
	if e != nil {
		return "", "", e
	}
	if ok && len(id) > MaxMessageIDBytes {
		return "", "", invalid("messageId is %d bytes; at most %d are accepted", len(id), MaxMessageIDBytes)
	}
	if ok && !utf8.ValidString(id) {
		// keepSurrogates put an unpaired surrogate escape back in WTF-8.
		return "", "", invalid("messageId holds an unpaired UTF-16 surrogate escape (such as \\ud800 alone); send it as valid Unicode")
	}
	if ok && strings.ContainsFunc(id, unicode.IsControl) {
		// The id names the event in a consent record's proof, which holds
		// no control character, and in journeys and exports.
		return "", "", invalid("messageId holds a control character (U+0000 to U+001F or U+007F to U+009F); send printable text")
	}
	content := make(map[string]any, len(msg)+1)
	for k, v := range msg {
		switch k {
		case "messageId", "sentAt", "writeKey", "receivedAt", "_metadata":
			continue
		}
		content[k] = v
	}
	content["type"] = typ
	if len(batchCtx) > 0 {
		content["context"] = merged
	}
	data := canonicalJSON(content)
	sum := sha256.Sum256(data)
	if !ok {
		id = derivedID(source, data)
	}
	return id, hex.EncodeToString(sum[:]), nil
}

// EventID is the stored id of a message: its source name, "/", and its
// message id. Source names hold no "/", so the ids of two sources never
// meet, whatever message ids they send.
func EventID(source, messageID string) string { return source + "/" + messageID }

// ValidSource returns an error naming the problem when name cannot be a
// source name: 1 to 64 letters, digits, _ . and -, starting with a letter
// or digit. Event ids embed it (EventID), so it must hold no "/".
func ValidSource(name string) error {
	if !sourceRe.MatchString(name) {
		return fmt.Errorf("source name %q is not valid: use letters, digits, _ . and - (at most 64, starting with a letter or digit)", clip(name, 70))
	}
	if graph.ReservedSource(name) {
		return fmt.Errorf("source name %q is %s", name, reservedWhy)
	}
	return nil
}

// reservedWhy ends the refusal of a reserved source name.
const reservedWhy = `reserved: the service labels manual corrections ("manual") and identity-rule refusals ("rules") with it; choose another`

// MessageID derives a message id from a source name and content: the
// SHA-256 of the source and the content's canonical JSON (object keys
// sorted), so the same content from the same source always gets the same
// id, and replaying it changes nothing.
func MessageID(source string, content any) string {
	return derivedID(source, canonicalJSON(content))
}

func canonicalJSON(content any) []byte {
	data, err := json.Marshal(content)
	if err != nil {
		// Content decoded from JSON always encodes again; anything else
		// still gets a stable form from its printed value.
		data = []byte(fmt.Sprintf("%#v", content))
	}
	return data
}

func derivedID(source string, data []byte) string {
	h := sha256.New()
	h.Write([]byte(source))
	h.Write([]byte{0})
	h.Write(data)
	return "h_" + hex.EncodeToString(h.Sum(nil)[:20])
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary so the message stays valid UTF-8.
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

func sizeName(n int) string {
	if n%1024 == 0 {
		return fmt.Sprintf("%d KiB", n/1024)
	}
	return fmt.Sprintf("%d-byte", n)
}
