package resolver

import (
	"net/http"
	"strings"
	"testing"

	"github.com/idgraph/cdp/internal/storetest"
)

// The JSON decoder the POST transport uses matches field names in any
// case ("Variables" fills variables), so a body whose member of the wrong
// type is spelled in another case is refused like any other, with
// BAD_REQUEST naming the member and without repeating the body.
func TestBodyMembersInAnotherCaseRefusedWithoutEcho(t *testing.T) {
	e := newEnv(t, storetest.Embedded(t), testConfig(), nil)
	const secret = "ann.secret@example.com"
	for _, c := range []struct{ body, names string }{
		{`{"query": "{ profiles { totalCount } }", "Variables": "` + secret + `"}`, `"variables"`},
		{`{"query": "{ profiles { totalCount } }", "EXTENSIONS": ["` + secret + `"]}`, `"extensions"`},
		{`{"query": "{ profiles { totalCount } }", "OperationName": {"n": "` + secret + `"}}`, `"operationName"`},
		{`{"query": "{ profiles { totalCount } }", "Query": ["` + secret + `"]}`, `"query"`},
	} {
		r := e.postRaw([]byte(c.body))
		if r.Status != http.StatusBadRequest || r.code() != CodeBadRequest {
			t.Errorf("%s: answered %d %+v, want 400 BAD_REQUEST", c.body, r.Status, r.Errors)
			continue
		}
		if msg := r.Errors[0].Message; strings.Contains(msg, "secret") || !strings.Contains(msg, c.names) {
			t.Errorf("%s: message %q, want one naming %s and not repeating the body", c.body, msg, c.names)
		}
	}
}
