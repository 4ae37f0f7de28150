package ingest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/ingest"
)

// TestImportServerErrorsHideThePassword: a --server that is refused
// names the server without a password written into it (Go's HTTP client
// sends one as Basic authentication, so users write them there).
func TestImportServerErrorsHideThePassword(t *testing.T) {
	const password = "Pw-91-never-shown"
	for _, c := range []struct{ server, want string }{
		{"ftp://admin:" + password + "@cdp.example:8080", `"ftp://admin:xxxxx@cdp.example:8080" is not an http:// or https:// URL`},
		{"admin:" + password + "@cdp.example:8080", `"xxxxx@cdp.example:8080" is not an http:// or https:// URL`},
		{"http://admin:" + password + "%zz@cdp.example:8080", `"http://xxxxx@cdp.example:8080" is not a valid URL`},
	} {
		_, err := ingest.Import(context.Background(), strings.NewReader("id\nu-1\n"), ingest.ImportConfig{
			Server: c.server, Source: "crm", Format: ingest.FormatCSV,
			Identifiers: []ingest.Mapping{{Name: "user_id", Column: "id"}},
		})
		var ie *ingest.ImportError
		switch {
		case !errors.As(err, &ie):
			t.Errorf("--server %s: error %v, want an ImportError", c.want, err)
		case strings.Contains(ie.Error(), password):
			t.Errorf("the refusal repeats the password: %s", ie.Error())
		case !strings.Contains(ie.Error(), c.want):
			t.Errorf("refusal %q, want it to hold %q", ie.Error(), c.want)
		}
	}
}

// TestImportRequestErrorsHideThePassword: the errors of requests to a
// server whose URL holds a password show it as xxxxx, as every other
// message does: a server that cannot be reached (Go's HTTP client would
// show *** in its place) and one that answers 200 with a body that is not
// a collector's.
func TestImportRequestErrorsHideThePassword(t *testing.T) {
	const password = "Pw-91-never-shown"
	notCollector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = w.Write([]byte("<html>a proxy's page</html>"))
	}))
	t.Cleanup(notCollector.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	withPassword := func(u string) string { return strings.Replace(u, "http://", "http://admin:"+password+"@", 1) }
	for _, server := range []string{withPassword(closed.URL), withPassword(notCollector.URL)} {
		_, err := ingest.Import(context.Background(), strings.NewReader("id\nu-1\n"), ingest.ImportConfig{
			Server: server, Source: "crm", Format: ingest.FormatCSV, MaxAttempts: 1, MaxRetryWait: time.Millisecond,
			Identifiers: []ingest.Mapping{{Name: "user_id", Column: "id"}},
		})
		switch {
		case err == nil:
			t.Errorf("%s: the import succeeded", redactedForTest(server))
		case strings.Contains(err.Error(), password) || strings.Contains(err.Error(), "***"):
			t.Errorf("the error shows the password, or *** in its place: %s", err)
		case !strings.Contains(err.Error(), "admin:xxxxx@"):
			t.Errorf("error %q, want it to name the server with its password as xxxxx", err)
		}
	}
}

func redactedForTest(s string) string { return strings.ReplaceAll(s, "Pw-91-never-shown", "xxxxx") }
