package server

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/privacy"
)

// failingWriter takes the headers but fails every write of the body, as a
// client that went away does.
type failingWriter struct{ *httptest.ResponseRecorder }

func (w failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

// A privacy export whose client goes away mid-body is logged; the log line
// must not name the profile (the access log and spans take care never to
// hold a profile's id).
func TestExportEndedEarlyLogsNoProfileID(t *testing.T) {
	st, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())
	eng := graph.NewEngine(st, nil)
	ev := graph.Event{ID: "src/m1", Type: "identify", Source: "src", Channel: "web", Timestamp: time.Now().UTC().Add(-time.Minute),
		Identifiers: []graph.IdentifierRef{{Type: "user_id", Value: "u1"}}}
	if _, err := eng.ApplyBatch(context.Background(), []graph.Event{ev}); err != nil {
		t.Fatal(err)
	}
	p, err := eng.ProfileByIdentifier(context.Background(), graph.IdentifierRef{Type: "user_id", Value: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	h := PrivacyHandler(privacy.NewExporter(eng), nil, zerolog.New(&logs))
	req := httptest.NewRequest("GET", "/v1/privacy/profiles/"+p.ID+"/export", nil)
	func() {
		defer func() { _ = recover() }() // http.ErrAbortHandler
		h.ServeHTTP(failingWriter{httptest.NewRecorder()}, req)
	}()
	if !strings.Contains(logs.String(), "ended early") {
		t.Fatalf("no 'ended early' line:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), p.ID) {
		t.Errorf("log holds the profile id %s:\n%s", p.ID, logs.String())
	}
}
