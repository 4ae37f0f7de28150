package resolver

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/idgraph/cdp/internal/storetest"
)

// A method HTTP does not define (any token a caller sends) is refused
// without being repeated; one HTTP defines is named.
func TestMethodNotEchoed(t *testing.T) {
	e := newEnv(t, storetest.Embedded(t), testConfig(), nil)
	for _, c := range []struct{ method, says string }{
		{"ANN.LEE-EXAMPLE.COM", "not repeated"},
		{http.MethodPut, "method PUT is not allowed"},
	} {
		req, err := http.NewRequest(c.method, e.srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(string(body), c.says) || strings.Contains(string(body), "ANN.LEE") {
			t.Errorf("%s answered %d %s, want 405 saying %q", c.method, resp.StatusCode, body, c.says)
		}
	}
}
