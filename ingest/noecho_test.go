package ingest_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

// A refused message's error names the field and what is wrong with it,
// and never repeats the value: a time, a type or a number a client sent
// may be personal data (an email pasted into the wrong field, a birth
// date, a card number), and errors reach logs and dashboards.
func TestMessageErrorsDoNotEchoValues(t *testing.T) {
	const email = "ann.lee@example.com"
	cases := []struct {
		name, raw, field, secret string
	}{
		{"message type", `{"type":"` + email + `","userId":"u"}`, "type", email},
		{"timestamp not a time", `{"type":"track","event":"e","userId":"u","timestamp":"` + email + `"}`, "timestamp", email},
		{"originalTimestamp not a time", `{"type":"track","event":"e","userId":"u","originalTimestamp":"` + email + `"}`, "originalTimestamp", email},
		{"sentAt not a time", `{"type":"track","event":"e","userId":"u","sentAt":"` + email + `"}`, "sentAt", email},
		{"timestamp a birth date", `{"type":"identify","userId":"u","timestamp":"1987-06-05"}`, "timestamp", "1987"},
		{"timestamp far ahead", `{"type":"identify","userId":"u","timestamp":"2031-04-05T06:07:08Z"}`, "timestamp", "2031"},
		{"corrected timestamp", `{"type":"track","event":"e","userId":"u","originalTimestamp":"2025-03-10T12:00:00Z","sentAt":"2024-03-10T12:00:00Z"}`, "timestamp", "2026-03"},
		{"external id type", `{"type":"track","event":"e","userId":"u","context":{"externalIds":[{"id":"x","type":"ga"},{"id":"y","type":"` + email + `"}]}}`, "context.externalIds[1].type", email},
		{"external id type with a space", `{"type":"track","event":"e","userId":"u","context":{"externalIds":[{"id":"x","type":"Ann Lee"}]}}`, "context.externalIds[0].type", "ann lee"},
		{"property number out of range", `{"type":"track","event":"e","userId":"u","properties":{"card":4111111111111111e999}}`, "properties.card", "4111111111111111"},
		{"trait number out of range", `{"type":"identify","userId":"u","traits":{"ssn":123456789e999}}`, "traits.ssn", "123456789"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ingest.ParseMessage([]byte(c.raw), env())
			var me *ingest.MessageError
			if !errors.As(err, &me) {
				t.Fatalf("error %v (%T), want a *MessageError", err, err)
			}
			if strings.Contains(strings.ToLower(me.Message), strings.ToLower(c.secret)) {
				t.Errorf("the error repeats the value %q: %q", c.secret, me.Message)
			}
			if !strings.Contains(me.Message, c.field) {
				t.Errorf("the error %q does not name the field %s", me.Message, c.field)
			}
		})
	}
}

// The same holds for a batch's own sentAt, refused with the whole batch.
func TestBatchSentAtErrorDoesNotEchoValue(t *testing.T) {
	h := newHarness(t, storetest.Embedded(t), ingest.Config{WriteKeys: map[string]string{}})
	const email = "ann.lee@example.com"
	r := h.rawPost(t, "/v1/batch", []byte(`{"batch":[{"type":"track","event":"e","userId":"u"}],"sentAt":"`+email+`"}`), nil)
	if r.status != http.StatusBadRequest || !strings.Contains(r.body.Error, "sentAt") {
		t.Fatalf("%d %s, want 400 naming sentAt", r.status, r.raw)
	}
	if strings.Contains(r.raw, email) {
		t.Errorf("the answer repeats the value: %s", r.raw)
	}
}

// The collector's answers name the header or the method at fault but do
// not repeat a value that can be any text the client sent: a source
// header that is not a source name, a Content-Encoding HTTP does not
// define, a method HTTP does not define.
func TestRequestErrorsDoNotEchoHeaders(t *testing.T) {
	h := newHarness(t, storetest.Embedded(t), ingest.Config{WriteKeys: map[string]string{}})
	const secret = "ann.lee@example.com"
	body := []byte(`{"event":"e","userId":"u"}`)
	r := h.rawPost(t, "/v1/track", body, map[string]string{ingest.SourceHeader: secret})
	if r.status != http.StatusBadRequest || !strings.Contains(r.body.Error, ingest.SourceHeader) || strings.Contains(r.raw, secret) {
		t.Errorf("source header: %d %s, want 400 naming %s without its value", r.status, r.raw, ingest.SourceHeader)
	}
	r = h.rawPost(t, "/v1/track", body, map[string]string{"Content-Encoding": secret})
	if r.status != http.StatusUnsupportedMediaType || !strings.Contains(r.body.Error, "Content-Encoding") || strings.Contains(r.raw, secret) {
		t.Errorf("Content-Encoding: %d %s, want 415 naming Content-Encoding without its value", r.status, r.raw)
	}
	method := "ANN.LEE-EXAMPLE.COM"
	req, err := http.NewRequest(method, h.srv.URL+"/v1/track", nil)
	if err != nil {
		t.Fatal(err)
	}
	r = h.do(t, req)
	if r.status != http.StatusMethodNotAllowed || !strings.Contains(r.body.Error, "takes POST") || strings.Contains(r.raw, method) {
		t.Errorf("method: %d %s, want 405 without the method", r.status, r.raw)
	}
}

// TestMessageErrorsWithholdPersonalKeys: an error names the path of the
// value it refuses, property and trait keys included (they are the
// payload's schema), except a key that looks like personal data itself:
// one holding an @ (an email used as a key) or a run of 7 or more digits
// (a phone or card number, counted across the spaces, dots, dashes,
// slashes, pluses and parentheses written between them). Such a key is
// named "(withheld key)". The paths below are worked out by hand.
func TestMessageErrorsWithholdPersonalKeys(t *testing.T) {
	const beyond = ": the number is beyond the range of a 64-bit float"
	cases := []struct {
		name, raw, want, secret string
	}{
		{"email key", `{"type":"track","event":"e","userId":"u","properties":{"ann.lee@example.com":1e999}}`, "properties.(withheld key)" + beyond, "ann.lee"},
		{"fullwidth at", `{"type":"track","event":"e","userId":"u","properties":{"ann＠example.com":1e999}}`, "properties.(withheld key)" + beyond, "ann"},
		{"phone key", `{"type":"identify","userId":"u","traits":{"+1 (555) 010-0199":1e999}}`, "traits.(withheld key)" + beyond, "555"},
		{"card number under a schema key", `{"type":"track","event":"e","userId":"u","properties":{"cards":{"4111111111111111":{"limit":1e999}}}}`, "properties.cards.(withheld key).limit" + beyond, "4111"},
		{"seven digits", `{"type":"track","event":"e","userId":"u","properties":{"id_5550100":1e999}}`, "properties.(withheld key)" + beyond, "5550100"},
		{"schema keys are named", `{"type":"track","event":"e","userId":"u","properties":{"items":[{"price":1e999}]}}`, "properties.items[0].price" + beyond, ""},
		{"a short digit run is schema", `{"type":"track","event":"e","userId":"u","properties":{"q2_2024":1e999}}`, "properties.q2_2024" + beyond, ""},
		{"six digits", `{"type":"track","event":"e","userId":"u","properties":{"sku_123456":1e999}}`, "properties.sku_123456" + beyond, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ingest.ParseMessage([]byte(c.raw), env())
			var me *ingest.MessageError
			if !errors.As(err, &me) {
				t.Fatalf("error %v (%T), want a *MessageError", err, err)
			}
			if me.Message != c.want {
				t.Errorf("message %q, want %q", me.Message, c.want)
			}
			if c.secret != "" && strings.Contains(me.Message, c.secret) {
				t.Errorf("the error repeats the key: %q", me.Message)
			}
		})
	}
}

// A consent category is a key of the payload like a property's: the
// refusal of its value names it, unless it looks like personal data (an
// email or a phone number sent as a category name), which is withheld as
// every such key is. A value of another JSON type than a boolean or a
// string is told every value the collector takes, the strings included.
func TestConsentCategoryErrorWithholdsPersonalKeys(t *testing.T) {
	h := newHarness(t, storetest.Embedded(t), ingest.Config{WriteKeys: map[string]string{}})
	const allowed = ` must be true, false, "granted", "denied" or "withdrawn"`
	cases := []struct {
		name, category, value, want, secret string
	}{
		{"email category", "ann.lee@example.com", "1", "context.consent.categoryPreferences.(withheld key)" + allowed, "ann.lee"},
		{"phone category", "+1 (555) 010-0199", "1", "context.consent.categoryPreferences.(withheld key)" + allowed, "555"},
		{"schema category", "Advertising", "1", "context.consent.categoryPreferences.Advertising" + allowed, ""},
		{"null", "Advertising", "null", "context.consent.categoryPreferences.Advertising" + allowed, ""},
		{"object", "Advertising", `{"on":true}`, "context.consent.categoryPreferences.Advertising" + allowed, ""},
		{"beside a string", "Advertising", `1,"Analytics":"granted"`, "context.consent.categoryPreferences.Advertising" + allowed, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := `{"userId":"u","event":"e","context":{"consent":{"categoryPreferences":{"` + c.category + `":` + c.value + `}}}}`
			r := h.rawPost(t, "/v1/track", []byte(body), nil)
			if r.status != http.StatusBadRequest || r.body.Error != c.want {
				t.Errorf("%d %s, want 400 with %q", r.status, r.raw, c.want)
			}
			if c.secret != "" && strings.Contains(r.raw, c.secret) {
				t.Errorf("the answer repeats the category: %s", r.raw)
			}
		})
	}
}

// A string value of a category that is no decision (cdp's extension takes
// "granted", "denied" and "withdrawn" besides Segment's booleans) is
// refused naming the category, as any other bad value is, not by its
// position among the categories; one that looks like personal data is
// withheld, and the value is never repeated.
func TestConsentCategoryStringErrorNamesTheCategory(t *testing.T) {
	h := newHarness(t, storetest.Embedded(t), ingest.Config{WriteKeys: map[string]string{}})
	const allowed = ` must be true, false, "granted", "denied" or "withdrawn"`
	cases := []struct {
		name, prefs, want, secret string
	}{
		{"schema category", `{"Advertising":"maybe-later"}`, "context.consent.categoryPreferences.Advertising" + allowed, "maybe-later"},
		{"second of two", `{"Analytics":"granted","Push":"maybe-later"}`, "context.consent.categoryPreferences.Push" + allowed, "maybe-later"},
		{"email category", `{"ann.lee@example.com":"maybe-later"}`, "context.consent.categoryPreferences.(withheld key)" + allowed, "ann.lee"},
		{"phone category", `{"+1 (555) 010-0199":"maybe-later"}`, "context.consent.categoryPreferences.(withheld key)" + allowed, "555"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := `{"userId":"u","event":"e","context":{"consent":{"categoryPreferences":` + c.prefs + `}}}`
			r := h.rawPost(t, "/v1/track", []byte(body), nil)
			if r.status != http.StatusBadRequest || r.body.Error != c.want {
				t.Errorf("%d %s, want 400 with %q", r.status, r.raw, c.want)
			}
			if strings.Contains(r.raw, c.secret) || strings.Contains(r.raw, "maybe-later") {
				t.Errorf("the answer repeats the category or its value: %s", r.raw)
			}
		})
	}
}
