package server

import (
	"fmt"
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
			errs := httpdrain.Together(4, func(int) error {
				status, answer, err := httpdrain.SlowRequest(c.method, u.Host, c.path, nil, body, false)
				if err != nil {
					return err
				}
				if status != c.status || !strings.Contains(string(answer), c.code) {
					return fmt.Errorf("got %d %.200q, want %d %s", status, answer, c.status, c.code)
				}
				return nil
			})
			for i, err := range errs {
				if err != nil {
					t.Errorf("%s %s, request %d: %v", c.method, c.path, i, err)
				}
			}
		}
	})
}
