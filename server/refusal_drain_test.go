package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/httpdrain"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// TestEndpointRefusalsReachSlowClients: the 404 and 405 of the privacy
// export, the audience export and the backup, answered to a request
// with a large body on a slow uplink, reach the client: the rest of the
// body is read first, not left for the connection to be reset.
func TestEndpointRefusalsReachSlowClients(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		eng := graph.NewEngine(st, nil)
		mux := http.NewServeMux()
		mux.Handle("/v1/privacy/", PrivacyHandler(privacy.NewExporter(eng), nil, zerolog.Nop()))
		mux.Handle("/v1/audiences/", AudienceHandler(AudienceExport{Engine: eng, Audiences: st.(audience.Store), Log: zerolog.Nop()}))
		mux.Handle(BackupPath, BackupHandler(st, nil, zerolog.Nop()))
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		u, err := url.Parse(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		body := []byte(strings.Repeat("x", 900_000))
		for _, c := range []struct {
			method, path string
			status       int
			code         string
		}{
			{"PUT", "/v1/privacy/profiles/p_abc/export", http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED"},
			{"POST", "/v1/privacy/nothing", http.StatusNotFound, "NOT_FOUND"},
			{"PUT", "/v1/audiences/seg_00000000000000000000000000000000/export", http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED"},
			{"POST", "/v1/audiences/nothing", http.StatusNotFound, "NOT_FOUND"},
			{"PUT", BackupPath, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED"},
		} {
			for i, err := range httpdrain.SlowAnswers(4, c.method, u.Host, c.path, body, c.status, c.code) {
				if err != nil {
					t.Errorf("%s %s, request %d: %v", c.method, c.path, i, err)
				}
			}
		}
	})
}
