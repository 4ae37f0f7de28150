package ingest_test

import (
	"strings"
	"testing"

	"github.com/idgraph/cdp/ingest"
)

// context.campaign.name is kept on the event, trimmed, and cut to 256
// bytes on a rune boundary; the batch's context gives it to messages
// without their own. A name that is not a string is refused, naming it.
func TestCampaignKept(t *testing.T) {
	long := strings.Repeat("x", 255) + "é-and-more" // é's two bytes straddle byte 256
	for _, c := range []struct{ raw, want string }{
		{`{"type":"track","userId":"u","event":"e","context":{"campaign":{"name":"spring_sale","source":"newsletter","medium":"email"}}}`, "spring_sale"},
		{`{"type":"track","userId":"u","event":"e","context":{"campaign":{"name":"  Été 2026 "}}}`, "Été 2026"},
		{`{"type":"track","userId":"u","event":"e","context":{"campaign":{"name":"` + long + `"}}}`, strings.Repeat("x", 255)},
		{`{"type":"track","userId":"u","event":"e","context":{"campaign":{"name":null}}}`, ""},
		{`{"type":"track","userId":"u","event":"e","context":{"campaign":{"source":"x"}}}`, ""},
		{`{"type":"track","userId":"u","event":"e"}`, ""},
	} {
		if got := parse(t, c.raw, env()).Campaign; got != c.want {
			t.Errorf("%.90s: campaign %q, want %q", c.raw, got, c.want)
		}
	}
	e := env()
	e.Context = map[string]any{"campaign": map[string]any{"name": "from-batch"}}
	if got := parse(t, `{"type":"page","userId":"u"}`, e).Campaign; got != "from-batch" {
		t.Errorf("the batch's campaign: %q, want from-batch", got)
	}
	if got := parse(t, `{"type":"page","userId":"u","context":{"campaign":{"name":"own"}}}`, e).Campaign; got != "own" {
		t.Errorf("a message's own campaign over the batch's: %q, want own", got)
	}
	for raw, want := range map[string]string{
		`{"type":"track","userId":"u","event":"e","context":{"campaign":"spring"}}`:         "context.campaign must be an object, not a string",
		`{"type":"track","userId":"u","event":"e","context":{"campaign":{"name":["a"]}}}`:   "context.campaign.name must be a string, not an array",
		`{"type":"track","userId":"u","event":"e","context":{"campaign":{"name":{"a":1}}}}`: "context.campaign.name must be a string",
	} {
		_, err := ingest.ParseMessage([]byte(raw), env())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", raw, err, want)
		}
	}
}
