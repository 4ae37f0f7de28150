package ingest_test

import (
	"context"
	"errors"
	"strings"
	"testing"

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
