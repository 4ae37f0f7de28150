package privacy

import (
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
)

func storedRecord(id string) Record {
	at := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	return Record{ID: id, Purpose: "email", Status: StatusGranted, At: at, Source: "web",
		LegalBasis: BasisConsent, Identifier: "email:ann@example.com", ReceivedAt: at}
}

// CheckStored accepts any purpose name, where Validate wants a known one,
// and otherwise refuses what Validate refuses.
func TestCheckStoredPurposes(t *testing.T) {
	p, err := NewPurposes(graph.ConsentRules{Purposes: []string{"email"}})
	if err != nil {
		t.Fatal(err)
	}
	r := storedRecord("cns_" + strings.Repeat("0", 32))
	r.Purpose = "fax"
	if err := r.CheckStored(); err != nil {
		t.Fatalf("CheckStored of an unlisted purpose name: %v", err)
	}
	if err := r.Validate(p); graph.ErrorCode(err) != graph.EINVALID {
		t.Fatalf("Validate of an unknown purpose: %v", err)
	}
	r.Purpose = "Fax"
	if err := r.CheckStored(); graph.ErrorCode(err) != graph.EINVALID || !strings.Contains(err.Error(), `purpose "Fax" is not a purpose name`) {
		t.Fatalf("CheckStored of a bad purpose name: %v", err)
	}
	r.Purpose = "email"
	r.Status = "YES"
	if err := r.CheckStored(); graph.ErrorCode(err) != graph.EINVALID || !strings.Contains(err.Error(), "status") {
		t.Fatalf("CheckStored of a bad status: %v", err)
	}
}

// CheckConsent cleans, drops exact repeats, sorts by id, and refuses a
// repeat with other content.
func TestCheckConsent(t *testing.T) {
	a, b := storedRecord("cns_"+strings.Repeat("b", 32)), storedRecord("cns_"+strings.Repeat("a", 32))
	a.At = a.At.Add(999) // below a microsecond
	out, err := CheckConsent([]Record{a, b, a})
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	if len(out) != 2 || out[0].ID != b.ID || out[1].ID != a.ID || !out[1].At.Equal(want) {
		t.Fatalf("CheckConsent = %+v, want b then a, a's time cleaned to %v", out, want)
	}
	c := a
	c.Source = "app"
	_, err = CheckConsent([]Record{a, b, c})
	if graph.ErrorCode(err) != graph.ECONFLICT || !strings.Contains(err.Error(), "consent record 2") {
		t.Fatalf("a repeat with another source: %v, want a conflict naming record 2", err)
	}
	if err := CheckIdentifierKeys([]string{"email:ann@example.com", "phone"}); graph.ErrorCode(err) != graph.EINVALID ||
		!strings.Contains(err.Error(), "identifier key 1") {
		t.Fatalf("CheckIdentifierKeys: %v", err)
	}
}
