package privacy

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
)

func segmentPurposes(t *testing.T) *Purposes {
	t.Helper()
	r := graph.DefaultRules().Consent
	r.Categories = map[string]string{"C0004": "advertising", "Marketing Emails": "email"}
	p, err := NewPurposes(r)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func prefString(prefs []Preference) string {
	var s []string
	for _, p := range prefs {
		s = append(s, p.Purpose+"="+string(p.Status)+"("+strings.Join(p.Categories, "+")+")")
	}
	return strings.Join(s, " ")
}

func TestConsentFromSegment(t *testing.T) {
	p := segmentPurposes(t)
	cases := []struct {
		name    string
		msg     string
		prefs   string
		unknown string
		event   bool
	}{
		{
			name: "identify with preferences",
			msg: `{"type": "identify", "userId": "u1", "context": {"consent": {"categoryPreferences":
				{"Advertising": true, "Analytics": false, "Functional": true, "Marketing Emails": true, "SMS": false}}}}`,
			// The purposes' order, not the message's.
			prefs:   "analytics=DENIED(Analytics) advertising=GRANTED(Advertising) email=GRANTED(Marketing Emails) sms=DENIED(SMS)",
			unknown: "Functional",
		},
		{
			name:  "two categories for one purpose: the denial wins",
			msg:   `{"type": "page", "context": {"consent": {"categoryPreferences": {"Advertising": true, "C0004": false}}}}`,
			prefs: "advertising=DENIED(Advertising+C0004)",
		},
		{
			name:  "two categories that agree",
			msg:   `{"type": "page", "context": {"consent": {"categoryPreferences": {"advertising": true, "C0004": true}}}}`,
			prefs: "advertising=GRANTED(C0004+advertising)",
		},
		{
			name:  "the consent event",
			msg:   `{"type": "track", "event": "Segment Consent Preference Updated", "context": {"consent": {"categoryPreferences": {"Push": false}}}}`,
			prefs: "push=DENIED(Push)",
			event: true,
		},
		{
			name:    "only unknown categories",
			msg:     `{"type": "track", "event": "Order Completed", "context": {"consent": {"categoryPreferences": {"Functional": true, "C0002": false}}}}`,
			unknown: "C0002,Functional",
		},
		{name: "no context", msg: `{"type": "track", "event": "Order Completed"}`},
		{name: "context without consent", msg: `{"type": "track", "context": {"ip": "10.0.0.1"}}`},
		{name: "consent without preferences", msg: `{"type": "track", "context": {"consent": {"domains": []}}}`},
		{name: "null preferences", msg: `{"type": "track", "context": {"consent": {"categoryPreferences": null}}}`},
		{name: "empty preferences", msg: `{"type": "identify", "context": {"consent": {"categoryPreferences": {}}}}`},
		{name: "the event name on another type", msg: `{"type": "screen", "event": "Segment Consent Preference Updated"}`},
	}
	for _, c := range cases {
		got, err := ParseSegment([]byte(c.msg), p)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if prefString(got.Preferences) != c.prefs || strings.Join(got.Unknown, ",") != c.unknown || got.Event != c.event {
			t.Errorf("%s: got %s unknown %v event %v, want %s unknown %s event %v", c.name, prefString(got.Preferences), got.Unknown, got.Event, c.prefs, c.unknown, c.event)
		}
		if empty := c.prefs == "" && c.unknown == "" && !c.event; got.Empty() != empty {
			t.Errorf("%s: Empty() = %v, want %v", c.name, got.Empty(), empty)
		}
	}
}

func TestConsentFromSegmentErrors(t *testing.T) {
	p := segmentPurposes(t)
	many := make([]string, MaxSegmentCategories+1)
	for i := range many {
		many[i] = `"c` + strings.Repeat("x", i) + `": true`
	}
	cases := []struct{ msg, want string }{
		{`{"type": "track", "event": "Segment Consent Preference Updated"}`, `the "Segment Consent Preference Updated" event has no context.consent.categoryPreferences`},
		{`{"type": "track", "event": "Segment Consent Preference Updated", "context": {"consent": {}}}`, "has no context.consent.categoryPreferences"},
		{`{"type": "track", "context": {"consent": "yes"}}`, "context.consent must be an object"},
		{`{"type": "track", "context": {"consent": {"categoryPreferences": ["Advertising"]}}}`, "context.consent.categoryPreferences must be an object"},
		{`{"type": "track", "context": {"consent": {"categoryPreferences": {"Advertising": "true"}}}}`, "context.consent.categoryPreferences.Advertising must be true or false"},
		{`{"type": "track", "context": {"consent": {"categoryPreferences": {"Analytics": true, "Push": 1}}}}`, "context.consent.categoryPreferences.Push must be true or false"},
		{`{"type": "track", "context": {"consent": {"categoryPreferences": {"Functional": null}}}}`, "context.consent.categoryPreferences.Functional must be true or false"},
		{`{"type": "track", "context": {"consent": {"categoryPreferences": {` + strings.Join(many, ",") + `}}}}`, "has 257 categories, more than 256"},
		{`[1, 2]`, "the message is not a JSON object"},
		{`{"type": `, "the message is not a JSON object"},
		{`null`, "the message is not a JSON object"},
	}
	for _, c := range cases {
		_, err := ParseSegment([]byte(c.msg), p)
		if graph.ErrorCode(err) != graph.EINVALID || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseSegment(%.80s) error = %v, want EINVALID mentioning %q", c.msg, err, c.want)
		}
	}
}

func TestConsentFromSegmentMap(t *testing.T) {
	// A caller that has already decoded the message passes the map.
	msg := map[string]any{
		"type": "identify",
		"context": map[string]any{"consent": map[string]any{
			"categoryPreferences": map[string]any{"Email": false, "personalization": true},
		}},
	}
	got, err := FromSegment(msg, segmentPurposes(t))
	if err != nil {
		t.Fatal(err)
	}
	if s := prefString(got.Preferences); s != "personalization=GRANTED(personalization) email=DENIED(Email)" {
		t.Fatalf("preferences = %s", s)
	}
}

func TestConsentSegmentRecords(t *testing.T) {
	p := segmentPurposes(t)
	got, err := ParseSegment([]byte(`{"type": "track", "event": "Segment Consent Preference Updated",
		"context": {"consent": {"categoryPreferences": {"Advertising": true, "SMS": false, "Functional": true}}}}`), p)
	if err != nil {
		t.Fatal(err)
	}
	rome := time.FixedZone("CEST", 2*3600)
	recs := got.Records(SegmentStamp{
		Identifier: "email:ann@example.com",
		Source:     "web",
		EventID:    "web/m-1",
		At:         time.Date(2026, 5, 1, 12, 0, 0, 123456789, rome),
		ReceivedAt: time.Date(2026, 5, 1, 12, 0, 2, 0, rome),
	})
	if len(recs) != 2 {
		t.Fatalf("got %d records, want 2: %+v", len(recs), recs)
	}
	at := time.Date(2026, 5, 1, 10, 0, 0, 123456000, time.UTC)
	received := time.Date(2026, 5, 1, 10, 0, 2, 0, time.UTC)
	want := []Record{
		{ID: "cns_0650bea4db8a400000ecc0d074461c33", Purpose: "advertising", Status: StatusGranted, At: at, Source: "web",
			LegalBasis: BasisConsent, Identifier: "email:ann@example.com", Proof: Proof{EventID: "web/m-1"}, ReceivedAt: received},
		{ID: DatedRecordIDFor("web/m-1", "email:ann@example.com", "sms", at, 0), Purpose: "sms", Status: StatusDenied, At: at, Source: "web",
			LegalBasis: BasisConsent, Identifier: "email:ann@example.com", Proof: Proof{EventID: "web/m-1"}, ReceivedAt: received},
	}
	for i := range want {
		if recs[i] != want[i] {
			t.Errorf("record %d = %+v\nwant %+v", i, recs[i], want[i])
		}
		if err := recs[i].Validate(p); err != nil {
			t.Errorf("record %d does not validate: %v", i, err)
		}
	}
	// The same message for another identifier gives other ids.
	other := got.Records(SegmentStamp{Identifier: "user_id:u1", Source: "web", EventID: "web/m-1", At: at, ReceivedAt: received})
	if other[0].ID == recs[0].ID || other[0].Identifier != "user_id:u1" {
		t.Errorf("records for another identifier: %+v", other[0])
	}
}

// A device whose clock is an hour fast sends, in one request, a grant
// then a withdrawal a minute later. Both are dated when the request
// arrived (never later), so they tie on at and receivedAt; their ids,
// from the messages' own times, keep the withdrawal newest whatever the
// messages' ids hash to. A message dated in the past keeps its time
// (in its id too).
func TestSegmentRecordsClampedKeepTheirOrder(t *testing.T) {
	p := segmentPurposes(t)
	grant := SegmentConsent{Preferences: []Preference{{Purpose: "advertising", Status: StatusGranted, Categories: []string{"Advertising"}}}}
	deny := SegmentConsent{Preferences: []Preference{{Purpose: "advertising", Status: StatusWithdrawn, Categories: []string{"Advertising"}}}}
	received := time.Date(2026, 5, 1, 10, 0, 2, 345678000, time.UTC)
	ahead := received.Add(time.Hour)
	const key = "user_id:u-clk"
	// Message ids whose plain record ids sort the grant after the
	// withdrawal, so that the plain id tie-break would pick the grant.
	var g, d string
	for i := 0; g == ""; i++ {
		if RecordIDFor(fmt.Sprintf("web/g%d", i), key, "advertising") > RecordIDFor(fmt.Sprintf("web/d%d", i), key, "advertising") {
			g, d = fmt.Sprintf("web/g%d", i), fmt.Sprintf("web/d%d", i)
		}
	}
	var recs []Record
	for _, m := range []struct {
		sc    SegmentConsent
		event string
		at    time.Time
	}{{grant, g, ahead}, {deny, d, ahead.Add(time.Minute)}} {
		rs := m.sc.Records(SegmentStamp{Identifier: key, Source: "web", EventID: m.event, At: m.at, ReceivedAt: received})
		if len(rs) != 1 {
			t.Fatalf("%s gave %d records, want 1", m.event, len(rs))
		}
		r := rs[0]
		if !r.At.Equal(received) || !r.ReceivedAt.Equal(received) {
			t.Errorf("%s: at %s, receivedAt %s; want both %s (when it arrived)", m.event, r.At, r.ReceivedAt, received)
		}
		if want := DatedRecordIDFor(m.event, key, "advertising", m.at, 0); r.ID != want {
			t.Errorf("%s: id %s, want %s", m.event, r.ID, want)
		}
		if err := r.Validate(p); err != nil {
			t.Errorf("%s: %v", m.event, err)
		}
		// The same message read again gives the same record.
		if again := m.sc.Records(SegmentStamp{Identifier: key, Source: "web", EventID: m.event, At: m.at, ReceivedAt: received}); again[0] != r {
			t.Errorf("%s read twice: %+v then %+v", m.event, r, again[0])
		}
		recs = append(recs, r)
	}
	if st := StateOf(recs, "advertising", received); st.State != StateWithdrawn || st.Record.Proof.EventID != d {
		t.Errorf("state %s from %s; the withdrawal came a minute after the grant: want WITHDRAWN from %s", st.State, st.Record.Proof.EventID, d)
	}
	if h := History(recs, ""); h[0].Proof.EventID != d {
		t.Errorf("history starts with %s, want the withdrawal %s", h[0].Proof.EventID, d)
	}
	// A message dated before it arrived keeps its time and its plain id.
	past := grant.Records(SegmentStamp{Identifier: key, Source: "web", EventID: g, At: received.Add(-time.Minute), ReceivedAt: received})
	if r := past[0]; !r.At.Equal(received.Add(-time.Minute)) || r.ID != DatedRecordIDFor(g, key, "advertising", received.Add(-time.Minute), 0) {
		t.Errorf("a message dated in the past gave at %s id %s, want %s and its time in its id", r.At, r.ID, received.Add(-time.Minute))
	}
}
