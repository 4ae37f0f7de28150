package ingest_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
)

var recv = time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)

func env() ingest.Envelope {
	return ingest.Envelope{Source: "web", ReceivedAt: recv}
}

func parse(t *testing.T, raw string, e ingest.Envelope) graph.Event {
	t.Helper()
	ev, err := ingest.ParseMessage([]byte(raw), e)
	if err != nil {
		t.Fatalf("ParseMessage(%s): %v", raw, err)
	}
	return ev
}

func refs(ev graph.Event) []string {
	var out []string
	for _, r := range ev.Identifiers {
		out = append(out, r.Type+"="+r.Value)
	}
	sort.Strings(out)
	return out
}

func TestParseMessageIdentifiers(t *testing.T) {
	cases := []struct {
		name string
		raw  string
		want []string
	}{
		{"identify", `{"type":"identify","messageId":"m1","userId":"u1","anonymousId":"a1",
			"traits":{"email":"A@x.com","phone":"+1 415 555 0100","plan":"pro"},
			"context":{"traits":{"email":"b@x.com"},"device":{"id":"d1"},
			"externalIds":[{"id":"cus_1","type":"Stripe_Customer_ID","collection":"users","encoding":"none"}]}}`,
			[]string{"anonymous_id=a1", "device_id=d1", "email=A@x.com", "email=b@x.com", "phone=+1 415 555 0100", "stripe_customer_id=cus_1", "user_id=u1"}},
		{"numeric user id kept exactly", `{"type":"track","event":"e","userId":12345678901234567890}`,
			[]string{"user_id=12345678901234567890"}},
		{"numeric ids beyond float64 or with trailing zeros kept as text", `{"type":"track","event":"e","userId":1e400,"context":{"device":{"id":1.50},"externalIds":[{"type":"crm","id":-0.0e-999}]}}`,
			[]string{"crm=-0.0e-999", "device_id=1.50", "user_id=1e400"}},
		{"alias links previousId as anonymous_id", `{"type":"alias","userId":"u2","previousId":"anon-9"}`,
			[]string{"anonymous_id=anon-9", "user_id=u2"}},
		{"externalIds of another collection than users are not the person's", `{"type":"track","event":"e","userId":"u4","context":{"externalIds":[
			{"id":"acme","type":"group_id","collection":"accounts"},{"id":"cus_2","type":"crm_id","collection":" Users "},{"id":"c-3","type":"crm_id","collection":null}]}}`,
			[]string{"crm_id=c-3", "crm_id=cus_2", "user_id=u4"}},
		// Segment's own external id types hold a dot, which identifier
		// types do not: read as "_", the message is kept.
		{"Segment's dotted externalIds types", `{"type":"track","event":"e","context":{"externalIds":[
			{"id":"6D92078A-8246-4BA4-AE5B-76104861E7DC","type":"ios.idfa","collection":"users","encoding":"none"},{"id":"tok-1","type":"Android.Push_Token"}]}}`,
			[]string{"android_push_token=tok-1", "ios_idfa=6D92078A-8246-4BA4-AE5B-76104861E7DC"}},
		{"group traits are not the person's", `{"type":"group","groupId":"g1","userId":"u3","traits":{"email":"team@x.com"}}`,
			[]string{"user_id=u3"}},
		{"track traits ignored, context traits used", `{"type":"track","event":"e","anonymousId":"a","traits":{"email":"no@x.com"},"context":{"traits":{"phone":"5550100"}}}`,
			[]string{"anonymous_id=a", "phone=5550100"}},
		{"null and empty ids are absent", `{"type":"track","event":"e","userId":null,"anonymousId":"","context":{"device":{"id":"d"}}}`,
			[]string{"device_id=d"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := parse(t, c.raw, env())
			if got := refs(ev); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("identifiers = %v, want %v", got, c.want)
			}
		})
	}
}

func TestParseMessageFields(t *testing.T) {
	ev := parse(t, `{"type":"identify","messageId":"m1","userId":"u1","traits":{"plan":"pro","seats":3,"ratio":0.5},
		"context":{"traits":{"plan":"free","city":"Oslo"}}}`, env())
	want := map[string]any{"plan": "pro", "seats": int64(3), "ratio": 0.5, "city": "Oslo"}
	if !reflect.DeepEqual(ev.Traits, want) {
		t.Fatalf("traits = %#v, want %#v (identify traits win over context.traits)", ev.Traits, want)
	}
	if ev.ID != "web/m1" || ev.MessageID != "m1" || ev.Type != "identify" || ev.Source != "web" || !ev.ReceivedAt.Equal(recv) {
		t.Fatalf("event = %+v", ev)
	}

	tr := parse(t, `{"type":"track","event":"Order Completed","userId":"u","properties":{"total":99.5,"items":[{"sku":"a"}]}}`, env())
	if tr.Name != "Order Completed" || tr.Properties["total"] != 99.5 || tr.Traits != nil {
		t.Fatalf("track = %+v", tr)
	}
	pg := parse(t, `{"type":"page","name":"Home","category":"Docs","anonymousId":"a"}`, env())
	if pg.Name != "Home" || pg.Properties["category"] != "Docs" {
		t.Fatalf("page = %+v", pg)
	}
	gr := parse(t, `{"type":"group","groupId":42,"userId":"u","traits":{"name":"Acme"}}`, env())
	if gr.Properties["groupId"] != "42" || gr.Traits != nil {
		t.Fatalf("group = %+v", gr)
	}
}

func TestParseMessageChannel(t *testing.T) {
	cases := []struct{ raw, want string }{
		{`{"type":"track","event":"e","userId":"u","context":{"channel":"Email"}}`, "email"},
		{`{"type":"track","event":"e","userId":"u","context":{"userAgent":"Mozilla/5.0"}}`, "web"},
		{`{"type":"track","event":"e","userId":"u","context":{"page":{"path":"/"}}}`, "web"},
		{`{"type":"track","event":"e","userId":"u","context":{"app":{"name":"Shop"},"userAgent":"okhttp"}}`, "mobile"},
		{`{"type":"track","event":"e","userId":"u","context":{"device":{"type":"ios"}}}`, "mobile"},
		{`{"type":"screen","name":"Home","userId":"u"}`, "mobile"},
		{`{"type":"page","userId":"u"}`, "web"},
		{`{"type":"track","event":"e","userId":"u","context":{"library":{"name":"analytics-go"}}}`, "server"},
		// A device type as a hand-built payload writes it, with spaces;
		// a userAgent that is null or blank says no browser.
		{`{"type":"track","event":"e","userId":"u","context":{"device":{"type":" Android "}}}`, "mobile"},
		{`{"type":"track","event":"e","userId":"u","context":{"userAgent":null}}`, "server"},
		{`{"type":"track","event":"e","userId":"u","context":{"userAgent":"  "}}`, "server"},
		// Over 64 bytes: cut on a character boundary, not refused (the
		// 64th byte is inside the é).
		{`{"type":"track","event":"e","userId":"u","context":{"channel":"` + strings.Repeat("c", 63) + `é more"}}`, strings.Repeat("c", 63)},
		{`{"type":"track","event":"e","userId":"u","context":{"channel":"` + strings.Repeat("c", 70) + `"}}`, strings.Repeat("c", 64)},
	}
	for _, c := range cases {
		if got := parse(t, c.raw, env()).Channel; got != c.want {
			t.Errorf("%s: channel %q, want %q", c.raw, got, c.want)
		}
	}
}

func TestParseMessageTime(t *testing.T) {
	cases := []struct {
		name   string
		raw    string
		sentAt time.Time
		want   time.Time
	}{
		{"skew corrected with message sentAt",
			`{"type":"track","event":"e","userId":"u","originalTimestamp":"2025-03-10T13:00:00Z","sentAt":"2025-03-10T13:00:05Z"}`,
			time.Time{}, recv.Add(-5 * time.Second)},
		{"skew corrected with batch sentAt, timestamp as base",
			`{"type":"track","event":"e","userId":"u","timestamp":"2025-03-10T11:59:00.5+01:00"}`,
			time.Date(2025, 3, 10, 11, 0, 0, 0, time.UTC), recv.Add(-(59*time.Second + 500*time.Millisecond))},
		{"originalTimestamp wins over timestamp",
			`{"type":"track","event":"e","userId":"u","timestamp":"2020-01-01T00:00:00Z","originalTimestamp":"2025-03-10T12:00:00Z","sentAt":"2025-03-10T12:00:01Z"}`,
			time.Time{}, recv.Add(-time.Second)},
		{"no sentAt: taken as is",
			`{"type":"track","event":"e","userId":"u","timestamp":"2024-02-29T10:00:00Z"}`,
			time.Time{}, time.Date(2024, 2, 29, 10, 0, 0, 0, time.UTC)},
		{"no time at all: receivedAt",
			`{"type":"track","event":"e","userId":"u"}`, time.Time{}, recv},
		// A clock far off dates both times wrong; only the corrected
		// time is checked (README, Time).
		{"a clock two days fast, corrected",
			`{"type":"track","event":"e","userId":"u","originalTimestamp":"2025-03-12T11:59:00Z","sentAt":"2025-03-12T12:00:00Z"}`,
			time.Time{}, recv.Add(-time.Minute)},
		{"a clock reset to 1970, corrected by the batch's sentAt",
			`{"type":"track","event":"e","userId":"u","timestamp":"1970-01-01T00:05:00Z"}`,
			time.Date(1970, 1, 1, 0, 5, 30, 0, time.UTC), recv.Add(-30 * time.Second)},
		{"space and no zone means UTC",
			`{"type":"identify","userId":"u","timestamp":"2024-05-01 08:30:00"}`, time.Time{}, time.Date(2024, 5, 1, 8, 30, 0, 0, time.UTC)},
		{"space and a zone without colon",
			`{"type":"identify","userId":"u","timestamp":"2024-05-01 08:30:00.25+0200"}`, time.Time{}, time.Date(2024, 5, 1, 6, 30, 0, 250e6, time.UTC)},
		// RFC 3339 (5.6) allows a lower-case t and z.
		{"lower-case t and z",
			`{"type":"identify","userId":"u","timestamp":"2024-05-01t08:30:00.5z"}`, time.Time{}, time.Date(2024, 5, 1, 8, 30, 0, 500e6, time.UTC)},
		{"lower-case t with an offset",
			`{"type":"identify","userId":"u","timestamp":"2024-05-01t08:30:00+02:00"}`, time.Time{}, time.Date(2024, 5, 1, 6, 30, 0, 0, time.UTC)},
		{"lower-case z",
			`{"type":"identify","userId":"u","timestamp":"2024-05-01T08:30:00z"}`, time.Time{}, time.Date(2024, 5, 1, 8, 30, 0, 0, time.UTC)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := env()
			e.SentAt = c.sentAt
			if got := parse(t, c.raw, e).Timestamp; !got.Equal(c.want) {
				t.Fatalf("timestamp %s, want %s", got, c.want)
			}
		})
	}
}

func TestParseMessageBatchContext(t *testing.T) {
	e := env()
	e.Context = map[string]any{"library": map[string]any{"name": "analytics-node"}, "device": map[string]any{"id": "d-batch", "type": "android"}}
	ev := parse(t, `{"type":"track","event":"e","userId":"u","context":{"device":{"model":"Pixel"}}}`, e)
	if got := refs(ev); !reflect.DeepEqual(got, []string{"device_id=d-batch", "user_id=u"}) {
		t.Fatalf("identifiers %v: batch context must be merged under the message's", got)
	}
	if ev.Channel != "mobile" {
		t.Fatalf("channel %q", ev.Channel)
	}
	ev = parse(t, `{"type":"track","event":"e","userId":"u","context":{"device":{"id":"d-own"}}}`, e)
	if got := refs(ev); !reflect.DeepEqual(got, []string{"device_id=d-own", "user_id=u"}) {
		t.Fatalf("identifiers %v: the message's own context must win", got)
	}
}

func TestParseMessageDerivedID(t *testing.T) {
	raw := `{"type":"track","event":"Signed Up","userId":"u","timestamp":"2025-03-10T11:00:00Z","sentAt":"2025-03-10T11:00:01Z"}`
	a := parse(t, raw, env())
	b := parse(t, strings.Replace(raw, `"sentAt":"2025-03-10T11:00:01Z"`, `"sentAt":"2025-03-10T11:00:09Z","writeKey":"k"`, 1), env())
	if a.ID == "" || a.ID != b.ID {
		t.Fatalf("ids %q and %q: a retry (new sentAt, writeKey) must keep the derived id", a.ID, b.ID)
	}
	other := env()
	other.Source = "crm"
	if c := parse(t, raw, other); c.ID == a.ID {
		t.Fatal("the same content from another source must get another id")
	}
	if d := parse(t, strings.Replace(raw, "Signed Up", "Logged In", 1), env()); d.ID == a.ID {
		t.Fatal("different content must get another id")
	}
	reordered := `{"userId":"u","event":"Signed Up","timestamp":"2025-03-10T11:00:00Z","type":"track"}`
	if e := parse(t, reordered, env()); e.ID != a.ID {
		t.Fatal("key order must not change the derived id")
	}
	implied := env()
	implied.Type = "track"
	if f := parse(t, `{"event":"Signed Up","userId":"u","timestamp":"2025-03-10T11:00:00Z"}`, implied); f.ID != a.ID {
		t.Fatal("a type implied by the endpoint must derive the same id as an explicit one")
	}
	if !strings.HasPrefix(a.MessageID, "h_") || a.ID != "web/"+a.MessageID {
		t.Fatalf("derived id %q, message id %q: want web/h_...", a.ID, a.MessageID)
	}
}

// TestParseMessageDigest: the digest is the SHA-256 of the canonical JSON
// of the message without its transport fields, the same content the
// derived ids hash; the reference here is that JSON written by hand.
func TestParseMessageDigest(t *testing.T) {
	raw := `{"type":"track","event":"Signed Up","userId":"u","timestamp":"2025-03-10T11:00:00Z","sentAt":"2025-03-10T11:00:01Z","messageId":"m-9"}`
	canonical := `{"event":"Signed Up","timestamp":"2025-03-10T11:00:00Z","type":"track","userId":"u"}`
	sum := sha256.Sum256([]byte(canonical))
	a := parse(t, raw, env())
	if a.Digest != hex.EncodeToString(sum[:]) {
		t.Fatalf("digest %s, want SHA-256 of %s", a.Digest, canonical)
	}
	if a.ID != "web/m-9" || a.MessageID != "m-9" {
		t.Fatalf("id %q, message id %q", a.ID, a.MessageID)
	}
	other := env()
	other.Source = "crm"
	for name, c := range map[string]struct {
		raw  string
		env  ingest.Envelope
		same bool
	}{
		"retry with a new sentAt and writeKey": {strings.Replace(raw, `"sentAt":"2025-03-10T11:00:01Z"`, `"sentAt":"2025-03-10T11:09:00Z","writeKey":"k"`, 1), env(), true},
		"another message id":                   {strings.Replace(raw, "m-9", "m-10", 1), env(), true},
		"no message id":                        {strings.Replace(raw, `,"messageId":"m-9"`, "", 1), env(), true},
		"another source":                       {raw, other, true},
		"another event name":                   {strings.Replace(raw, "Signed Up", "Logged In", 1), env(), false},
		"another time":                         {strings.Replace(raw, "11:00:00Z", "10:59:00Z", 1), env(), false},
		"a property more":                      {strings.Replace(raw, `"userId":"u"`, `"userId":"u","properties":{"a":1}`, 1), env(), false},
	} {
		b := parse(t, c.raw, c.env)
		if (b.Digest == a.Digest) != c.same {
			t.Errorf("%s: digest %s, first %s; want same=%v", name, b.Digest, a.Digest, c.same)
		}
	}
	// Under a batch-level context the content holds the context as
	// merged, the message's own over the batch's; written by hand.
	batched := env()
	batched.Context = map[string]any{"traits": map[string]any{"email": "ann@example.com"}, "page": map[string]any{"path": "/b", "title": "T"}}
	withCtx := `{"type":"track","event":"Signed Up","userId":"u","timestamp":"2025-03-10T11:00:00Z","context":{"page":{"path":"/a"}}}`
	mergedJSON := `{"context":{"page":{"path":"/a","title":"T"},"traits":{"email":"ann@example.com"}},"event":"Signed Up","timestamp":"2025-03-10T11:00:00Z","type":"track","userId":"u"}`
	sum = sha256.Sum256([]byte(mergedJSON))
	if d := parse(t, withCtx, batched); d.Digest != hex.EncodeToString(sum[:]) {
		t.Fatalf("digest under a batch context %s, want SHA-256 of %s", d.Digest, mergedJSON)
	}
	if c := parse(t, raw, other); c.ID != "crm/m-9" || c.ID == a.ID {
		t.Fatalf("the same message id from another source: id %q", c.ID)
	}
	e := env()
	e.Source = "bad/source"
	if _, err := ingest.ParseMessage([]byte(raw), e); err == nil || !strings.Contains(err.Error(), "source name") {
		t.Fatalf("a source with a slash: %v", err)
	}
}

func TestParseMessageRejects(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 70) + "1" + strings.Repeat("}", 70)
	cases := []struct {
		name, raw, reason, says string
	}{
		{"truncated", `{"type":"track","event":"e","userId":"u"`, ingest.ReasonMalformed, "ends before"},
		{"not an object", `[{"type":"track"}]`, ingest.ReasonMalformed, "not an array"},
		{"trailing data", `{"type":"track","event":"e","userId":"u"} {}`, ingest.ReasonMalformed, "after the value"},
		{"empty", ``, ingest.ReasonMalformed, "empty"},
		{"invalid utf-8", "{\"type\":\"track\",\"event\":\"\xff\",\"userId\":\"u\"}", ingest.ReasonInvalidUTF8, "offset 25"},
		{"too deep", `{"type":"track","event":"e","userId":"u","properties":` + deep + `}`, ingest.ReasonTooDeep, "64 levels"},
		{"too large", `{"type":"track","event":"e","userId":"u","properties":{"x":"` + strings.Repeat("x", 33000) + `"}}`, ingest.ReasonTooLarge, "32 KiB"},
		{"missing type", `{"userId":"u"}`, ingest.ReasonUnknownType, "type is missing"},
		{"unknown type", `{"type":"purchase","userId":"u"}`, ingest.ReasonUnknownType, "type is not one of"},
		{"type not a string", `{"type":7,"userId":"u"}`, ingest.ReasonInvalidField, "type must be a string"},
		{"no identifier", `{"type":"track","event":"e"}`, ingest.ReasonNoIdentifier, "no identifier"},
		{"userId object", `{"type":"track","event":"e","userId":{"id":1}}`, ingest.ReasonInvalidField, "userId must be a string or a number, not an object"},
		{"properties array", `{"type":"track","event":"e","userId":"u","properties":[1,2]}`, ingest.ReasonInvalidField, "properties must be an object, not an array"},
		{"context string", `{"type":"track","event":"e","userId":"u","context":"web"}`, ingest.ReasonInvalidField, "context must be an object"},
		{"traits array", `{"type":"identify","userId":"u","traits":["a"]}`, ingest.ReasonInvalidField, "traits must be an object"},
		{"track without event", `{"type":"track","userId":"u"}`, ingest.ReasonInvalidField, "event is required"},
		{"event not a string", `{"type":"track","event":5,"userId":"u"}`, ingest.ReasonInvalidField, "event must be a string"},
		{"alias without previousId", `{"type":"alias","userId":"u"}`, ingest.ReasonInvalidField, "previousId is required"},
		{"alias without userId", `{"type":"alias","previousId":"p","anonymousId":"a"}`, ingest.ReasonInvalidField, "userId is required"},
		{"group without groupId", `{"type":"group","userId":"u"}`, ingest.ReasonInvalidField, "groupId is required"},
		// Spaces alone are no id: the identifier they would make is dropped
		// as empty, and the alias or group would be stored without it.
		{"alias with a blank userId", `{"type":"alias","userId":"  ","previousId":"p"}`, ingest.ReasonInvalidField, "userId is required"},
		{"alias with a blank previousId", `{"type":"alias","userId":"u","previousId":" \t"}`, ingest.ReasonInvalidField, "previousId is required"},
		{"group with a blank groupId", `{"type":"group","userId":"u","groupId":" "}`, ingest.ReasonInvalidField, "groupId is required"},
		{"externalIds object", `{"type":"track","event":"e","userId":"u","context":{"externalIds":{"id":"x"}}}`, ingest.ReasonInvalidField, "externalIds must be an array"},
		{"externalIds bad type", `{"type":"track","event":"e","userId":"u","context":{"externalIds":[{"id":"x","type":"ga client"}]}}`, ingest.ReasonInvalidField, "externalIds[0].type"},
		{"externalIds type starting with a dot", `{"type":"track","event":"e","userId":"u","context":{"externalIds":[{"id":"x","type":".idfa"}]}}`, ingest.ReasonInvalidField, "externalIds[0].type is not an identifier type"},
		{"externalIds collection not a string", `{"type":"track","event":"e","userId":"u","context":{"externalIds":[{"id":"x","type":"crm_id","collection":7}]}}`, ingest.ReasonInvalidField, "externalIds[0].collection must be a string"},
		{"only an account's externalIds", `{"type":"track","event":"e","context":{"externalIds":[{"id":"acme","type":"group_id","collection":"accounts"}]}}`, ingest.ReasonNoIdentifier, "carries no identifier"},
		{"externalIds no id", `{"type":"track","event":"e","userId":"u","context":{"externalIds":[{"type":"ga"}]}}`, ingest.ReasonInvalidField, "externalIds[0].id is missing"},
		{"year 9999", `{"type":"track","event":"e","userId":"u","timestamp":"9999-12-31T23:59:59Z"}`, ingest.ReasonBadTimestamp, "timestamp is more than 24h after receipt"},
		{"year 1970", `{"type":"track","event":"e","userId":"u","timestamp":"1970-01-01T00:00:00Z"}`, ingest.ReasonBadTimestamp, "timestamp is before 2000-01-01"},
		{"skew puts it in the future", `{"type":"track","event":"e","userId":"u","originalTimestamp":"2025-03-10T12:00:00Z","sentAt":"2024-03-10T12:00:00Z"}`, ingest.ReasonBadTimestamp, "after clock-skew correction"},
		{"timestamp not a time", `{"type":"track","event":"e","userId":"u","timestamp":"yesterday"}`, ingest.ReasonBadTimestamp, "timestamp is not an ISO-8601 time"},
		{"sentAt not a time, no timestamp", `{"type":"track","event":"e","userId":"u","sentAt":"nope"}`, ingest.ReasonBadTimestamp, "sentAt is not an ISO-8601 time"},
		{"timestamp a number", `{"type":"track","event":"e","userId":"u","timestamp":1700000000}`, ingest.ReasonBadTimestamp, "must be an ISO-8601 string"},
		{"number out of range", `{"type":"track","event":"e","userId":"u","properties":{"n":1e999}}`, ingest.ReasonInvalidField, "properties.n: the number is beyond"},
		{"identifier trait out of range", `{"type":"identify","userId":"u","traits":{"phone":1e400}}`, ingest.ReasonInvalidField, "traits.phone: the number is beyond"},
		{"messageId too long", `{"type":"track","event":"e","userId":"u","messageId":"` + strings.Repeat("m", 300) + `"}`, ingest.ReasonInvalidField, "messageId is 300 bytes"},
		{"channel not a string", `{"type":"track","event":"e","userId":"u","context":{"channel":1}}`, ingest.ReasonInvalidField, "context.channel must be a string"},
		// A consent record's proof names the event, and a proof holds no
		// control character: an id with one could not be the proof of
		// the consent its message carries.
		{"messageId with a control character", `{"type":"track","event":"e","userId":"u","messageId":"m\u0007-1"}`, ingest.ReasonInvalidField, "messageId holds a control character"},
		{"messageId with a C1 control character", `{"type":"track","event":"e","userId":"u","messageId":"m\u0085"}`, ingest.ReasonInvalidField, "messageId holds a control character"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ingest.ParseMessage([]byte(c.raw), env())
			var me *ingest.MessageError
			if !errors.As(err, &me) {
				t.Fatalf("error %v (%T), want a *MessageError", err, err)
			}
			if me.Reason != c.reason || !strings.Contains(me.Message, c.says) {
				t.Fatalf("got %s: %q; want %s containing %q", me.Reason, me.Message, c.reason, c.says)
			}
			if graph.ErrorCode(err) != graph.EINVALID {
				t.Fatalf("graph code %q, want %q", graph.ErrorCode(err), graph.EINVALID)
			}
		})
	}
}

func TestParseMessageEndpointType(t *testing.T) {
	e := env()
	e.Type = ingest.TypeTrack
	if ev := parse(t, `{"event":"e","userId":"u"}`, e); ev.Type != "track" {
		t.Fatalf("type %q, want the endpoint's", ev.Type)
	}
	if _, err := ingest.ParseMessage([]byte(`{"type":"identify","userId":"u"}`), e); err == nil || !strings.Contains(err.Error(), "does not match the endpoint") {
		t.Fatalf("identify on /v1/track: %v", err)
	}
}

// TestParseMessageKeepsLoneSurrogates: an unpaired surrogate escape in an
// identifier field reaches the engine in WTF-8 form, so two different ones
// stay different (and are refused there); a U+FFFD really sent, a pair, and
// a lone surrogate outside identifier fields decode as encoding/json does.
func TestParseMessageKeepsLoneSurrogates(t *testing.T) {
	ev := parse(t, `{"type":"identify","userId":"\ud800","anonymousId":"\ufffd","previousId":"x",
		"traits":{"email":"a\udc00@b.co","name":"\udbff"},
		"context":{"device":{"id":"\ud83d\ude00"},"externalIds":[{"type":"crm_id","id":"c-\udfff"}]}}`, env())
	want := []string{"anonymous_id=\ufffd", "crm_id=c-\xed\xbf\xbf", "device_id=\U0001F600", "email=a\xed\xb0\x80@b.co", "user_id=\xed\xa0\x80"}
	if got := refs(ev); !reflect.DeepEqual(got, want) {
		t.Fatalf("identifiers %q, want %q", got, want)
	}
	// traits.email is a trait as well as an identifier: the trait is
	// stored as the decoder gave it, never as invalid UTF-8.
	if ev.Traits["name"] != "\ufffd" || ev.Traits["email"] != "a\ufffd@b.co" {
		t.Fatalf("traits %q", ev.Traits)
	}
	ev = parse(t, `{"type":"group","groupId":"g","userId":"u","traits":{"email":"\udc00\ud800x"}}`, env())
	if tr, _ := ev.Properties["traits"].(map[string]any); tr["email"] != "\ufffd\ufffdx" {
		t.Fatalf("group traits %q", ev.Properties["traits"])
	}
	// A key given twice: the decoder keeps the last value, and so does this.
	ev = parse(t, `{"type":"identify","userId":"\ud800","userId":"u-1"}`, env())
	if got := refs(ev); !reflect.DeepEqual(got, []string{"user_id=u-1"}) {
		t.Fatalf("repeated key: identifiers %q", got)
	}
	// The batch context's identifiers too.
	e := env()
	e.Context = map[string]any{"device": map[string]any{"id": "\ufffd"}}
	ev = parse(t, `{"type":"track","event":"e","anonymousId":"a"}`, e)
	if got := refs(ev); !reflect.DeepEqual(got, []string{"anonymous_id=a", "device_id=\ufffd"}) {
		t.Fatalf("context identifiers %q", got)
	}
}

// An empty externalIds id is dropped like an empty userId, and the message
// stands on its other identifiers; an id left out is still refused.
func TestEmptyExternalIDIsDropped(t *testing.T) {
	ev := parse(t, `{"type":"track","event":"e","userId":"u1","context":{"externalIds":[{"type":"crm_id","id":""}]}}`, env())
	got, _ := graph.NewNormalizer(graph.DefaultRules()).NormalizeAll(ev.Identifiers)
	if len(got) != 1 || got[0] != "user_id:u1" {
		t.Fatalf("identifiers %v normalize to %v, want user_id:u1 alone", refs(ev), got)
	}
}

// A message is measured against the 32 KiB without the JSON whitespace
// around it, as a batch's messages are: a body ending in a newline is not
// a byte over.
func TestParseMessageMeasuredWithoutSurroundingSpace(t *testing.T) {
	msg := func(n int) string {
		head, tail := `{"type":"track","event":"e","userId":"u","properties":{"x":"`, `"}}`
		return head + strings.Repeat("x", n-len(head)-len(tail)) + tail
	}
	at := msg(ingest.DefaultMaxMessageBytes)
	if _, err := ingest.ParseMessage([]byte(" \t"+at+"\r\n"), env()); err != nil {
		t.Fatalf("a message of exactly the limit, with spaces and a line end around it: %v", err)
	}
	_, err := ingest.ParseMessage([]byte(msg(ingest.DefaultMaxMessageBytes+1)+"\n"), env())
	var me *ingest.MessageError
	if !errors.As(err, &me) || me.Reason != ingest.ReasonTooLarge || !strings.Contains(me.Message, strconv.Itoa(ingest.DefaultMaxMessageBytes+1)) {
		t.Fatalf("a byte over the limit: %v", err)
	}
}

// A number beyond float64 is refused naming the field of the message that
// holds it, as the sender wrote it: context.traits on any message (a
// track has no traits field to look in), a group's traits (kept as the
// property traits, but sent as traits), and on an identify whichever of
// traits and context.traits holds it. The paths are worked out by hand.
func TestNumberErrorsNameTheMessageField(t *testing.T) {
	const beyond = ": the number is beyond the range of a 64-bit float"
	cases := []struct {
		name, raw, want string
	}{
		{"track context.traits", `{"type":"track","event":"e","userId":"u","context":{"traits":{"plan":{"seats":1e400}}}}`, "context.traits.plan.seats" + beyond},
		{"page context.traits", `{"type":"page","userId":"u","context":{"traits":{"n":1e400}}}`, "context.traits.n" + beyond},
		{"identify context.traits", `{"type":"identify","userId":"u","traits":{"plan":"pro"},"context":{"traits":{"n":1e400}}}`, "context.traits.n" + beyond},
		{"identify traits", `{"type":"identify","userId":"u","traits":{"n":1e400},"context":{"traits":{"plan":"pro"}}}`, "traits.n" + beyond},
		{"group traits", `{"type":"group","userId":"u","groupId":"g","traits":{"employees":1e400}}`, "traits.employees" + beyond},
		{"properties", `{"type":"track","event":"e","userId":"u","properties":{"n":1e400}}`, "properties.n" + beyond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ingest.ParseMessage([]byte(c.raw), env())
			var me *ingest.MessageError
			if !errors.As(err, &me) {
				t.Fatalf("error %v (%T), want a *MessageError", err, err)
			}
			if me.Message != c.want || me.Reason != ingest.ReasonInvalidField {
				t.Errorf("%s %q, want %s %q", me.Reason, me.Message, ingest.ReasonInvalidField, c.want)
			}
		})
	}
	// A batch's context.traits is merged into the message's context, and
	// named so.
	e := env()
	e.Context = map[string]any{"traits": map[string]any{"n": json.Number("1e400")}}
	_, err := ingest.ParseMessage([]byte(`{"type":"track","event":"e","userId":"u"}`), e)
	if want := "context.traits.n" + beyond; err == nil || err.Error() != want {
		t.Errorf("batch context: %v, want %q", err, want)
	}
}

// A zone offset is hours 00 to 23 and minutes 00 to 59 (RFC 3339, 5.6;
// ISO 8601 alike). One past them is no time: it is refused, not read as
// another offset (+05:60 as +06:00, +24:00 as a whole day off).
func TestParseMessageRefusesZoneOffsetsOutOfRange(t *testing.T) {
	// The bounds themselves are offsets.
	checkTimestamps(t, map[string]time.Time{
		"2024-03-01T10:00:00+23:59":  time.Date(2024, 2, 29, 10, 1, 0, 0, time.UTC),
		"2024-03-01T10:00:00-23:59":  time.Date(2024, 3, 2, 9, 59, 0, 0, time.UTC),
		"2024-03-01 10:00:00.5+0559": time.Date(2024, 3, 1, 4, 1, 0, 500e6, time.UTC),
		"2024-03-01T10:00:00-00:00":  time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC),
	},
		"2024-03-01T10:00:00+24:00",
		"2024-03-01T10:00:00-24:00",
		"2024-03-01T10:00:00+23:60",
		"2024-03-01T10:00:00+05:60",
		"2024-03-01T10:00:00.5+2400",
		"2024-03-01 10:00:00+24:00",
		"2024-03-01 10:00:00-0060",
	)
}

// A zone of hours alone, as PostgreSQL prints timestamptz
// ("2024-03-01 10:00:00+00", "2024-03-01 10:00:00.25-05"), is ISO 8601
// and read as such; its hours run from 00 to 23 like any zone's. Such a
// time was refused, so a CSV exported from PostgreSQL lost every row.
func TestParseMessageReadsHourOnlyZones(t *testing.T) {
	checkTimestamps(t, map[string]time.Time{
		"2024-03-01 10:00:00+00":     time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC),
		"2024-03-01 10:00:00.25-05":  time.Date(2024, 3, 1, 15, 0, 0, 250e6, time.UTC),
		"2024-03-01T10:00:00+02":     time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC),
		"2024-03-01T10:00:00.5-23":   time.Date(2024, 3, 2, 9, 0, 0, 500e6, time.UTC),
		"2024-03-01 10:00:00+05:30":  time.Date(2024, 3, 1, 4, 30, 0, 0, time.UTC),
		"2024-03-01T10:00:00.000Z":   time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC),
		"2024-03-01 10:00:00.123456": time.Date(2024, 3, 1, 10, 0, 0, 123456e3, time.UTC),
	}, "2024-03-01 10:00:00+24", "2024-03-01T10:00:00-25", "2024-03-01T10:00:00+5", "2024-03-01T10:00:00+005")
}

// checkTimestamps checks that a message dated by each key of want is
// dated at its value, and that one dated by each of refused is refused as
// bad_timestamp, no time.
func checkTimestamps(t *testing.T, want map[string]time.Time, refused ...string) {
	t.Helper()
	for ts, at := range want {
		if got := parse(t, `{"type":"identify","userId":"u","timestamp":"`+ts+`"}`, env()).Timestamp; !got.Equal(at) {
			t.Errorf("%s: timestamp %s, want %s", ts, got, at)
		}
	}
	for _, ts := range refused {
		raw := `{"type":"identify","userId":"u","timestamp":"` + ts + `"}`
		_, err := ingest.ParseMessage([]byte(raw), env())
		var me *ingest.MessageError
		if !errors.As(err, &me) || me.Reason != ingest.ReasonBadTimestamp || me.Message != "timestamp is not an ISO-8601 time" {
			t.Errorf("%s: %v, want bad_timestamp %q", ts, err, "timestamp is not an ISO-8601 time")
		}
	}
}

// A time to the minute, as ISO 8601 allows and spreadsheets write it
// ("2024-03-01 10:00", "2024-03-01T10:00Z"), is read with 0 seconds, with
// any zone the forms with seconds take. Such a time was refused, so a CSV
// saved from a spreadsheet lost every row. A time of hours alone, or with
// a minute of 60, is still refused.
func TestParseMessageReadsMinuteTimes(t *testing.T) {
	checkTimestamps(t, map[string]time.Time{
		"2024-03-01 10:00":       time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC),
		"2024-03-01T10:07":       time.Date(2024, 3, 1, 10, 7, 0, 0, time.UTC),
		"2024-03-01T10:00Z":      time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC),
		"2024-03-01t10:00z":      time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC),
		"2024-03-01T10:00+02:00": time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC),
		"2024-03-01 10:00-0530":  time.Date(2024, 3, 1, 15, 30, 0, 0, time.UTC),
		"2024-03-01 23:59+01":    time.Date(2024, 3, 1, 22, 59, 0, 0, time.UTC),
	}, "2024-03-01 10", "2024-03-01T10Z", "2024-03-01 10:60", "2024-03-01T24:00Z", "2024-03-01T10:00+24:00", "2024-03-01T10:0")
}

// A time of spaces alone counts as absent, as an empty one does (and as
// a userId of spaces counts as missing): the event is dated on receipt.
// It was refused as no ISO-8601 time, while "" was taken as absent.
func TestParseMessageBlankTimeIsAbsent(t *testing.T) {
	for _, field := range []string{"timestamp", "originalTimestamp", "sentAt"} {
		for _, blank := range []string{"", " ", "\t  "} {
			raw := `{"type":"identify","userId":"u","` + field + `":"` + strings.ReplaceAll(blank, "\t", `\t`) + `"}`
			if got := parse(t, raw, env()).Timestamp; !got.Equal(env().ReceivedAt) {
				t.Errorf("%s %q: timestamp %s, want the time of receipt %s", field, blank, got, env().ReceivedAt)
			}
		}
	}
}

// The messages of one request are received a microsecond apart in its
// order, with a time of their own or not: the fourth message (Position 3)
// of a request received at recv is received at recv + 3 µs, and one with
// no time is dated then too.
func TestParseMessageReceivedInTheRequestsOrder(t *testing.T) {
	e := env()
	e.Position = 3
	for _, c := range []struct {
		raw  string
		when time.Time
	}{
		{`{"type":"identify","userId":"u","timestamp":"2024-02-29T10:00:00Z","traits":{"plan":"pro"}}`, time.Date(2024, 2, 29, 10, 0, 0, 0, time.UTC)},
		{`{"type":"identify","userId":"u","traits":{"plan":"pro"}}`, recv.Add(3 * time.Microsecond)},
	} {
		ev := parse(t, c.raw, e)
		if want := recv.Add(3 * time.Microsecond); !ev.ReceivedAt.Equal(want) || !ev.Timestamp.Equal(c.when) {
			t.Errorf("%s at position 3: received %s, dated %s; want received %s, dated %s", c.raw, ev.ReceivedAt, ev.Timestamp, want, c.when)
		}
	}
}
