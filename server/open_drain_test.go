package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/idgraph/cdp/internal/httpdrain"
)

// TestOpenModeRefusalsReachSlowClients: in open mode on loopback, the 421
// of a foreign Host and the 403 of a foreign Origin, answered to a
// request with a large body on a slow uplink, reach the client: the rest
// of the body is read first, as for every other refusal, not left for
// the connection to be reset.
func TestOpenModeRefusalsReachSlowClients(t *testing.T) {
	dial := hostServer(t, "127.0.0.1:0")
	body := []byte(`{"query":"{ viewer { open } }\n#` + strings.Repeat("x", 900_000) + `"}`)
	for _, c := range []struct {
		name, path string
		hdr        map[string]string
		status     int
		want       string
	}{
		{"a foreign Host", "/graphql", map[string]string{"Host": "evil.example"}, http.StatusMisdirectedRequest, "DNS rebinding"},
		{"a foreign Host, collector", "/v1/track", map[string]string{"Host": "evil.example:8080"}, http.StatusMisdirectedRequest, "DNS rebinding"},
		{"a foreign Origin", "/graphql", map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden, "may not send this request"},
	} {
		c.hdr["Content-Type"] = "application/json"
		errs := httpdrain.Together(4, func(int) error {
			status, answer, err := httpdrain.SlowPost(dial, c.path, c.hdr, body, false)
			if err != nil {
				return err
			}
			if status != c.status || !strings.Contains(string(answer), c.want) {
				return fmt.Errorf("got %d %.200q, want %d naming %q", status, answer, c.status, c.want)
			}
			return nil
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("%s, post %d: %v", c.name, i, err)
			}
		}
	}
}
