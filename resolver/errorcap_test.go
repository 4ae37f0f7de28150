package resolver

import (
	"fmt"
	"strings"
	"testing"

	"github.com/idgraph/cdp/internal/storetest"
)

// A document refused before it runs answers its first 100 errors and one
// that says how many more there were, rather than thousands: 3,000 unused
// variables, a 40 KB document within the token limit, would have been
// answered with 3,000 errors, 400 KB. A refusal of a few errors is
// answered whole.
func TestRefusedDocumentAnswersAtMost100Errors(t *testing.T) {
	e := newEnv(t, storetest.Embedded(t), testConfig(), nil)
	var vars []string
	for i := range 3000 {
		vars = append(vars, fmt.Sprintf("$v%d: Int", i))
	}
	r := e.post("query("+strings.Join(vars, " ")+") { __typename }", nil)
	if r.Status != 422 {
		t.Errorf("status %d, want 422", r.Status)
	}
	if len(r.Errors) != maxRefusalErrors+1 {
		t.Fatalf("%d errors, want %d and one more saying how many were left out", len(r.Errors), maxRefusalErrors+1)
	}
	for i, er := range r.Errors[:maxRefusalErrors] {
		if want := fmt.Sprintf(`Variable "$v%d" is never used.`, i); er.Message != want {
			t.Fatalf("error %d: %q, want %q", i, er.Message, want)
		}
	}
	last := r.Errors[maxRefusalErrors]
	if last.Extensions["code"] != "GRAPHQL_VALIDATION_FAILED" || !strings.Contains(last.Message, "2900 more errors") {
		t.Errorf("last error %+v, want GRAPHQL_VALIDATION_FAILED saying 2900 more errors were left out", last)
	}

	r = e.post("query($a: Int, $b: Int, $c: Int) { __typename }", nil)
	if len(r.Errors) != 3 {
		t.Errorf("a refusal of 3 errors answered %d: %+v", len(r.Errors), r.Errors)
	}
}
