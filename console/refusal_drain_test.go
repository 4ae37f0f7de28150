package console

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/idgraph/cdp/internal/httpdrain"
)

// The console's 405 (a method other than GET and HEAD) and 404 (a file
// under vendor/ or with an extension that is not there), answered to a
// request with a large body on a slow uplink, reach the client: the rest
// of the body is read first, as for every 404 and 405 of the endpoints,
// not left for the connection to be reset.
func TestRefusalsReachSlowClients(t *testing.T) {
	srv := httptest.NewServer(Handler(Options{}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(strings.Repeat("x", 900_000))
	for _, c := range []struct {
		method, path string
		status       int
		text         string
	}{
		{"POST", Prefix, http.StatusMethodNotAllowed, "method not allowed"},
		{"PUT", Prefix + "mode.json", http.StatusMethodNotAllowed, "method not allowed"},
		{"GET", Prefix + "vendor/nothing.js", http.StatusNotFound, "not found"},
		{"GET", Prefix + "nothing.png", http.StatusNotFound, "not found"},
	} {
		for i, err := range httpdrain.SlowAnswers(4, c.method, u.Host, c.path, body, c.status, c.text) {
			if err != nil {
				t.Errorf("%s %s, request %d: %v", c.method, c.path, i, err)
			}
		}
	}
}
