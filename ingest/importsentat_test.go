package ingest_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestImportNDJSONKeepsTheMessagesOwnTime: a log of Segment messages
// (an archive, a client's undelivered queue) holds each message's sentAt
// from when it was first sent. The server corrects a message's time by
// its sentAt against the moment it receives it, so an imported line kept
// it would be dated at the import, months after it happened. The import
// drops it: each line is dated by its own timestamp (a line holding both,
// as Segment's archives do, by the time Segment corrected), else its
// originalTimestamp, while a line already stored live is still a
// duplicate (the digest and derived id never included sentAt).
func TestImportNDJSONKeepsTheMessagesOwnTime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		live := `{"type":"track","userId":"u-old","event":"Signed Up","messageId":"arch-0","timestamp":"2026-03-01T10:00:00Z"}`
		if r := h.rawPost(t, "/v1/track", []byte(live), map[string]string{"Authorization": basic("wk-crm")}); r.status != http.StatusOK || r.body.Stored != 1 {
			t.Fatalf("live: %d %s", r.status, r.raw)
		}
		lines := []string{
			// The message stored live, as the log holds it: with a sentAt.
			strings.TrimSuffix(live, "}") + `,"sentAt":"2026-03-01T10:00:02Z"}`,
			// sentAt first, with spaces, and an escaped key.
			`{ "sentAt" : "2026-03-02T09:00:05Z", "type":"track","userId":"u-old","event":"Order Completed","messageId":"arch-1","originalTimestamp":"2026-03-02T09:00:00Z","properties":{"total":12.50}}`,
			`{"type":"identify","userId":"u-old","traits":{"plan":"pro"},"originalTimestamp":"2026-03-03T08:00:00.250Z","timestamp":"2026-03-03T08:00:01Z","sent\u0041t":"2026-03-03T08:00:30Z"}`,
		}
		var rejects bytes.Buffer
		stats, err := ingest.Import(context.Background(), strings.NewReader(strings.Join(lines, "\n")+"\n"), ingest.ImportConfig{
			Server: h.srv.URL, WriteKey: "wk-crm", Source: "crm", Format: ingest.FormatNDJSON, Concurrency: 1, Rejects: &rejects})
		if err != nil || stats.Stored != 2 || stats.Duplicates != 1 || stats.Rejected != 0 {
			t.Fatalf("import: %+v %v, rejects %q; want 2 stored and 1 duplicate", stats, err, rejects.String())
		}
		want := map[string]time.Time{
			"Signed Up":       time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
			"Order Completed": time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC),
			"":                time.Date(2026, 3, 3, 8, 0, 1, 0, time.UTC), // timestamp, not originalTimestamp
		}
		evs := h.journey(t, h.profile(t, graph.TypeUserID, "u-old").ID)
		if len(evs) != len(want) {
			t.Fatalf("%d events stored, want %d", len(evs), len(want))
		}
		for _, ev := range evs {
			if w, ok := want[ev.Name]; !ok || !ev.Timestamp.Equal(w) {
				t.Errorf("event %q dated %v, want %v", ev.Name, ev.Timestamp, w)
			}
			if ev.Name == "Order Completed" && ev.Properties["total"] != 12.5 {
				t.Errorf("properties %v, want total 12.50 kept", ev.Properties)
			}
		}
	})
}
