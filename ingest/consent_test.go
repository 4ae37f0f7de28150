package ingest_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

var tConsent = time.Date(2026, 3, 10, 8, 30, 0, 0, time.UTC)

// ledger returns the stored records of keys as "key purpose STATUS at
// source eventId basis", sorted.
func ledger(t *testing.T, s graph.Store, keys ...string) []string {
	t.Helper()
	cs, ok := s.(privacy.ConsentStore)
	if !ok {
		t.Fatalf("%T is not a privacy.ConsentStore", s)
	}
	m, err := cs.ConsentOf(context.Background(), keys)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for k, rs := range m {
		for _, r := range rs {
			if r.Identifier != k {
				t.Errorf("record %s listed under %s hangs on %s", r.ID, k, r.Identifier)
			}
			out = append(out, k+" "+r.Purpose+" "+string(r.Status)+" "+r.At.UTC().Format(time.RFC3339)+" "+r.Source+" "+r.Proof.EventID+" "+string(r.LegalBasis))
		}
	}
	slices.Sort(out)
	return out
}

func prefs(m map[string]any) map[string]any {
	return map[string]any{"consent": map[string]any{"categoryPreferences": m}}
}

// TestSegmentConsentStored: consent preferences on an identify and on
// Segment's consent track become records on every identifier of the
// message, with its time, source and event id; a message without them
// gives none; unknown categories are skipped and counted; a malformed
// preference rejects its message alone; a duplicate or conflicting resend
// writes nothing more.
func TestSegmentConsentStored(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		t1, t2 := tConsent.Format(time.RFC3339), tConsent.Add(time.Hour).Format(time.RFC3339)
		batch := map[string]any{"batch": []any{
			map[string]any{"type": "identify", "messageId": "m1", "userId": "u1", "timestamp": t1,
				"traits":  map[string]any{"email": " Ann@Example.COM "},
				"context": prefs(map[string]any{"Advertising": true, "Analytics": false, "Carrier Pigeons": true})},
			map[string]any{"type": "track", "event": privacy.SegmentConsentEvent, "messageId": "m2", "anonymousId": "a2", "timestamp": t2,
				"context": prefs(map[string]any{"email": true, "SMS": false})},
			map[string]any{"type": "track", "event": "Viewed", "messageId": "m3", "userId": "u3", "timestamp": t1},
			map[string]any{"type": "track", "event": "Viewed", "messageId": "m4", "userId": "u4", "timestamp": t1,
				"context": prefs(map[string]any{"Advertising": "yes"})},
		}}
		r := h.sdkPost(t, "/v1/batch", "wk-node", batch)
		if r.status != http.StatusOK || r.body.Stored != 3 || r.body.Rejected != 1 || len(r.body.Errors) != 1 || r.body.Errors[0].Index != 3 {
			t.Fatalf("batch answered %d %s; want 200, 3 stored, item 3 rejected", r.status, r.raw)
		}
		if got := stored(t, h.eng, "node/m4"); len(got) != 0 {
			t.Errorf("the message with malformed consent was stored")
		}
		keys := []string{"user_id:u1", "email:ann@example.com", "anonymous_id:a2", "user_id:u3", "user_id:u4"}
		want := []string{
			"anonymous_id:a2 email GRANTED 2026-03-10T09:30:00Z node node/m2 CONSENT",
			"anonymous_id:a2 sms DENIED 2026-03-10T09:30:00Z node node/m2 CONSENT",
			"email:ann@example.com advertising GRANTED 2026-03-10T08:30:00Z node node/m1 CONSENT",
			"email:ann@example.com analytics DENIED 2026-03-10T08:30:00Z node node/m1 CONSENT",
			"user_id:u1 advertising GRANTED 2026-03-10T08:30:00Z node node/m1 CONSENT",
			"user_id:u1 analytics DENIED 2026-03-10T08:30:00Z node node/m1 CONSENT",
		}
		if got := ledger(t, s, keys...); !slices.Equal(got, want) {
			t.Fatalf("ledger\n got %q\nwant %q", got, want)
		}
		if n := h.metric(t, "cdp_ingest_consent_unknown_categories_total"); n != 1 {
			t.Errorf("cdp_ingest_consent_unknown_categories_total = %v, want 1", n)
		}

		// The same message again is a duplicate; the same id with other
		// content a conflict: neither writes a record.
		again := h.sdkPost(t, "/v1/batch", "wk-node", batch)
		if again.status != http.StatusOK || again.body.Duplicates != 3 {
			t.Fatalf("resend answered %d %s; want 3 duplicates", again.status, again.raw)
		}
		r = h.sdkPost(t, "/v1/identify", "wk-node", map[string]any{"messageId": "m1", "userId": "u1", "timestamp": t1,
			"traits": map[string]any{"email": "ann@example.com", "plan": "pro"}, "context": prefs(map[string]any{"Push": true})})
		if r.status != http.StatusConflict {
			t.Fatalf("conflicting resend answered %d %s; want 409", r.status, r.raw)
		}
		if got := ledger(t, s, keys...); !slices.Equal(got, want) {
			t.Fatalf("ledger after resends\n got %q\nwant %q", got, want)
		}

		// A later change of mind, from another source, on the user id alone.
		r = h.sdkPost(t, "/v1/track", "wk-js", map[string]any{"event": privacy.SegmentConsentEvent, "messageId": "m5", "userId": "u1",
			"timestamp": tConsent.Add(2 * time.Hour).Format(time.RFC3339), "context": prefs(map[string]any{"advertising": false})})
		if r.status != http.StatusOK || r.body.Stored != 1 {
			t.Fatalf("m5 answered %d %s", r.status, r.raw)
		}
		var all []privacy.Record
		m, err := s.(privacy.ConsentStore).ConsentOf(context.Background(), []string{"user_id:u1", "email:ann@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		for _, rs := range m {
			all = append(all, rs...)
		}
		st := privacy.StateOf(all, "advertising", graph.Now())
		if st.State != privacy.StateDenied || st.Source != "web" || st.Record.Proof.EventID != "web/m5" {
			t.Errorf("advertising state %+v, want DENIED from web/m5", st)
		}
	})
}

// TestFutureDatedGrantDoesNotOutrankALaterWithdrawal: a message dated
// ahead of the server's clock (accepted up to a day ahead) gives consent
// records dated when it arrived, so a withdrawal sent after it wins.
func TestFutureDatedGrantDoesNotOutrankALaterWithdrawal(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		before := time.Now()
		r := h.sdkPost(t, "/v1/identify", "wk-node", map[string]any{"messageId": "f1", "userId": "u9",
			"timestamp": before.Add(20 * time.Hour).UTC().Format(time.RFC3339), "context": prefs(map[string]any{"Advertising": true})})
		if r.status != http.StatusOK || r.body.Stored != 1 {
			t.Fatalf("the grant dated 20 h ahead answered %d %s", r.status, r.raw)
		}
		sent := time.Now()
		r = h.sdkPost(t, "/v1/track", "wk-node", map[string]any{"event": privacy.SegmentConsentEvent, "messageId": "f2", "userId": "u9",
			"timestamp": sent.UTC().Format(time.RFC3339Nano), "context": prefs(map[string]any{"advertising": false})})
		if r.status != http.StatusOK || r.body.Stored != 1 {
			t.Fatalf("the withdrawal answered %d %s", r.status, r.raw)
		}
		m, err := s.(privacy.ConsentStore).ConsentOf(context.Background(), []string{"user_id:u9"})
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range m["user_id:u9"] {
			if rec.Status == privacy.StatusGranted && (rec.At.Before(before.Add(-time.Second)) || rec.At.After(sent)) {
				t.Errorf("the grant is dated %s; want when it arrived, between %s and %s", rec.At, before, sent)
			}
		}
		if st := privacy.StateOf(m["user_id:u9"], "advertising", time.Now()); st.State != privacy.StateDenied || st.Record.Proof.EventID != "node/f2" {
			t.Errorf("advertising state %+v, want DENIED from node/f2, the withdrawal sent after the grant arrived", st)
		}
	})
}

// TestSegmentConsentEventWithoutPreferences: the consent track must carry
// preferences; without them it is refused, naming the field, and stored
// nowhere.
func TestSegmentConsentEventWithoutPreferences(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		r := h.sdkPost(t, "/v1/track", "wk-node", map[string]any{"event": privacy.SegmentConsentEvent, "messageId": "m1", "userId": "u1"})
		if r.status != http.StatusBadRequest {
			t.Fatalf("answered %d %s; want 400", r.status, r.raw)
		}
		if got := stored(t, h.eng, "node/m1"); len(got) != 0 {
			t.Errorf("the refused consent event was stored")
		}
		if got := ledger(t, s, "user_id:u1"); len(got) != 0 {
			t.Errorf("ledger %q, want empty", got)
		}
	})
}

const consentCSV = "id,Email,news,ads,texts,when\n" +
	"c-1,ada@example.com,true,denied,withdrawn,2024-01-02T10:00:00Z\n" +
	"c-2,,Granted,,FALSE,2024-02-03T10:00:00Z\n" +
	"c-3,,maybe,true,,2024-02-03T10:00:00Z\n" +
	"c-4,,,,,2024-02-03T10:00:00Z\n"

// TestImportConsent: cdp import --consent PURPOSE=COLUMN records each
// row's decisions on every identifier of the row, at the row's time, with
// WITHDRAWN carried through; empty cells record nothing; a cell that is no
// decision rejects its row without repeating the value.
func TestImportConsent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		var rejects bytes.Buffer
		cfg := ingest.ImportConfig{
			Server: h.srv.URL, WriteKey: "wk-crm", Source: "crm", Format: ingest.FormatCSV,
			Identifiers:     []ingest.Mapping{{Name: "user_id", Column: "id"}, {Name: "email", Column: "Email"}},
			Consent:         []ingest.Mapping{{Name: "email", Column: "news"}, {Name: "advertising", Column: "ads"}, {Name: "sms", Column: "texts"}},
			TimestampColumn: "when",
			Rejects:         &rejects,
		}
		stats, err := ingest.Import(context.Background(), strings.NewReader(consentCSV), cfg)
		if err != nil {
			t.Fatalf("import: %v", err)
		}
		if stats.Rows != 4 || stats.Stored != 3 || stats.Rejected != 1 {
			t.Fatalf("stats %+v, want 4 rows: 3 stored, 1 rejected", stats)
		}
		if !strings.Contains(rejects.String(), "--consent email=news") || strings.Contains(strings.SplitN(rejects.String(), "\n", 2)[1], "maybe\"") {
			t.Errorf("rejects %q", rejects.String())
		}
		rej := strings.Split(strings.TrimSpace(rejects.String()), "\n")
		if len(rej) != 2 || !strings.HasPrefix(rej[1], "4,") {
			t.Errorf("rejects %q, want the header and line 4", rejects.String())
		}
		got := ledger(t, s, "user_id:c-1", "email:ada@example.com", "user_id:c-2", "user_id:c-3", "user_id:c-4")
		var lines []string
		for _, l := range got {
			f := strings.Fields(l) // key purpose STATUS at source eventId basis
			lines = append(lines, strings.Join([]string{f[0], f[1], f[2], f[3], f[4], f[6]}, " "))
			if !strings.HasPrefix(f[5], "crm/") {
				t.Errorf("record %q: proof is not the event id", l)
			}
		}
		want := []string{
			"email:ada@example.com advertising DENIED 2024-01-02T10:00:00Z crm CONSENT",
			"email:ada@example.com email GRANTED 2024-01-02T10:00:00Z crm CONSENT",
			"email:ada@example.com sms WITHDRAWN 2024-01-02T10:00:00Z crm CONSENT",
			"user_id:c-1 advertising DENIED 2024-01-02T10:00:00Z crm CONSENT",
			"user_id:c-1 email GRANTED 2024-01-02T10:00:00Z crm CONSENT",
			"user_id:c-1 sms WITHDRAWN 2024-01-02T10:00:00Z crm CONSENT",
			"user_id:c-2 email GRANTED 2024-02-03T10:00:00Z crm CONSENT",
			"user_id:c-2 sms DENIED 2024-02-03T10:00:00Z crm CONSENT",
		}
		if !slices.Equal(lines, want) {
			t.Errorf("ledger\n got %q\nwant %q", lines, want)
		}

		// The same file again: nothing new.
		stats, err = ingest.Import(context.Background(), strings.NewReader(consentCSV), cfg)
		if err != nil || stats.Duplicates != 3 {
			t.Fatalf("second import %+v, %v; want 3 duplicates", stats, err)
		}
		if again := ledger(t, s, "user_id:c-1", "email:ada@example.com", "user_id:c-2", "user_id:c-3", "user_id:c-4"); !slices.Equal(again, got) {
			t.Errorf("second import changed the ledger")
		}
	})
}

// TestImportConsentRefusesBadPurposeName: --consent needs a purpose name.
func TestImportConsentRefusesBadPurposeName(t *testing.T) {
	_, err := ingest.Import(context.Background(), strings.NewReader(consentCSV), ingest.ImportConfig{
		Server: "http://127.0.0.1:1", Source: "crm", Format: ingest.FormatCSV,
		Identifiers: []ingest.Mapping{{Name: "user_id", Column: "id"}},
		Consent:     []ingest.Mapping{{Name: "Email News", Column: "news"}},
	})
	var ie *ingest.ImportError
	if !errors.As(err, &ie) || !strings.Contains(ie.Msg, "--consent Email News=news") {
		t.Fatalf("error %v, want an ImportError naming the flag", err)
	}
}

// TestEscapedConsentStored: JSON may spell the consent fields, or the
// consent event's name, with \u escapes; the message decodes to the same
// consent, which is recorded, or, for the consent event without
// preferences, refused, as when written plainly.
func TestEscapedConsentStored(t *testing.T) {
	h := newHarness(t, storetest.Embedded(t), ingest.Config{})
	ts := tConsent.Format(time.RFC3339)
	auth := map[string]string{"Content-Type": "application/json", "Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("wk-node:"))}
	r := h.rawPost(t, "/v1/identify", []byte(`{"userId":"u-esc","messageId":"esc1","timestamp":"`+ts+`",`+
		`"context":{"consent":{"categoryPreferenc\u0065s":{"Advertising":false}}}}`), auth)
	if r.status != http.StatusOK || r.body.Stored != 1 {
		t.Fatalf("escaped consent answered %d %s", r.status, r.raw)
	}
	want := []string{"user_id:u-esc advertising DENIED 2026-03-10T08:30:00Z node node/esc1 CONSENT"}
	if got := ledger(t, h.store, "user_id:u-esc"); !slices.Equal(got, want) {
		t.Errorf("ledger\n got %q\nwant %q", got, want)
	}
	// The consent event, its name escaped, without preferences: refused
	// as the plain one is.
	for _, name := range []string{privacy.SegmentConsentEvent, strings.Replace(privacy.SegmentConsentEvent, "C", `\u0043`, 1)} {
		r = h.rawPost(t, "/v1/track", []byte(`{"userId":"u-esc2","event":"`+name+`","timestamp":"`+ts+`"}`), auth)
		if r.status != http.StatusBadRequest || !strings.Contains(r.raw, "has no context.consent.categoryPreferences") {
			t.Errorf("consent event %s without preferences answered %d %s; want 400 naming the missing preferences", name, r.status, r.raw)
		}
	}
}

// TestFastClockBatchKeepsTheOrderOfItsDecisions: one batch from a device
// whose clock is an hour ahead grants advertising, then withdraws it a
// minute later. Both records are dated when the batch arrived (the clamp
// of TestFutureDatedGrantDoesNotOutrankALaterWithdrawal), so they tie on
// at and receivedAt; the withdrawal must still be the newest, in the
// state rule read in Go and in the Neo4j store's own (Cypher) consent
// condition. The message ids are picked so that ids derived from the
// event alone would put the grant last.
func TestFastClockBatchKeepsTheOrderOfItsDecisions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		const key = "user_id:u-clk"
		var grantID, denyID string
		for i := 0; grantID == ""; i++ {
			g, d := fmt.Sprintf("g%d", i), fmt.Sprintf("d%d", i)
			if privacy.RecordIDFor("node/"+g, key, "advertising") > privacy.RecordIDFor("node/"+d, key, "advertising") {
				grantID, denyID = g, d
			}
		}
		before := time.Now()
		ahead := before.Add(time.Hour).UTC()
		r := h.sdkPost(t, "/v1/batch", "wk-node", map[string]any{"batch": []any{
			map[string]any{"type": "track", "event": privacy.SegmentConsentEvent, "messageId": grantID, "userId": "u-clk",
				"timestamp": ahead.Format(time.RFC3339Nano), "context": prefs(map[string]any{"Advertising": true})},
			map[string]any{"type": "track", "event": privacy.SegmentConsentEvent, "messageId": denyID, "userId": "u-clk",
				"timestamp": ahead.Add(time.Minute).Format(time.RFC3339Nano), "context": prefs(map[string]any{"Advertising": "withdrawn"})},
		}})
		if r.status != http.StatusOK || r.body.Stored != 2 {
			t.Fatalf("batch: %d %s", r.status, r.raw)
		}
		sent := time.Now()
		m, err := s.(privacy.ConsentStore).ConsentOf(context.Background(), []string{key})
		if err != nil {
			t.Fatal(err)
		}
		if len(m[key]) != 2 {
			t.Fatalf("%d records, want 2", len(m[key]))
		}
		for _, rec := range m[key] {
			if rec.At.Before(before.Add(-time.Second)) || rec.At.After(sent) || !rec.At.Equal(rec.ReceivedAt) {
				t.Errorf("record from %s dated %s, received %s; want dated when it arrived", rec.Proof.EventID, rec.At, rec.ReceivedAt)
			}
		}
		if st := privacy.StateOf(m[key], "advertising", time.Now()); st.State != privacy.StateWithdrawn || st.Record.Proof.EventID != "node/"+denyID {
			t.Errorf("advertising state %s from %s; the person withdrew a minute after granting: want WITHDRAWN from node/%s",
				st.State, st.Record.Proof.EventID, denyID)
		}
		if fc, ok := s.(audience.FilterCounter); ok {
			p := h.profile(t, "user_id", "u-clk")
			for _, c := range []struct {
				state privacy.State
				want  int
			}{{privacy.StateWithdrawn, 1}, {privacy.StateGranted, 0}} {
				n, ids, err := fc.CountFilter(context.Background(), audience.FilterQuery{Now: time.Now(), Sample: 10,
					Filter: &audience.Filter{Consent: &audience.ConsentCondition{Purpose: "advertising", Status: c.state}}})
				if err != nil {
					t.Fatal(err)
				}
				if n != c.want || (c.want == 1 && (len(ids) != 1 || ids[0] != p.ID)) {
					t.Errorf("the store counts %d profiles (%v) whose advertising consent is %s, want %d", n, ids, c.state, c.want)
				}
			}
		}
	})
}
