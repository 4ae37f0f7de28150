package ingest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

// Content-Encoding is a list of the codings applied, in order (RFC 9110,
// 8.4): identity in it changes nothing, so "gzip, identity" is gzip. A
// list of two real codings is refused saying so, and a coding HTTP does
// not define is refused without repeating it. "gzip, identity" used to be
// refused as no coding HTTP defines.
func TestContentEncodingList(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		msg := []byte(`{"type":"track","event":"e","userId":"u-enc","messageId":"enc-1"}`)
		batch := []byte(`{"batch":[{"type":"track","event":"e","userId":"u-enc","messageId":"enc-2"}]}`)
		for _, c := range []struct {
			enc, path string
			body      []byte
		}{
			{"gzip, identity", "/v1/track", gz(msg)},
			{"identity,GZIP", "/v1/batch", gz(batch)},
		} {
			if r := h.rawPost(t, c.path, c.body, map[string]string{"Content-Encoding": c.enc, "Authorization": basicAuth("wk-node")}); r.status != http.StatusOK || r.body.Stored != 1 {
				t.Errorf("Content-Encoding %q: %d %s, want 200 with 1 stored", c.enc, r.status, r.raw)
			}
		}
		for _, c := range []struct{ enc, want string }{
			{"gzip, gzip", "applies 2 codings"},
			{"gzip, br", "applies 2 codings"},
			{"ann@example.com", "not one HTTP defines"},
			{"gzip, ann@example.com", "not one HTTP defines"},
		} {
			r := h.rawPost(t, "/v1/track", gz(msg), map[string]string{"Content-Encoding": c.enc, "Authorization": basicAuth("wk-node")})
			if r.status != http.StatusUnsupportedMediaType || !strings.Contains(r.body.Error, c.want) || strings.Contains(r.raw, "ann@") {
				t.Errorf("Content-Encoding %q: %d %s, want 415 saying %q without repeating the value", c.enc, r.status, r.raw, c.want)
			}
		}
	})
}
