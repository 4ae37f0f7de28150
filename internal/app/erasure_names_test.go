package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
)

// leftovers returns the needles the raw scan of st still finds, ignoring
// ASCII case, each with a little context.
func leftovers(t *testing.T, st graph.Store, needles ...string) []string {
	t.Helper()
	scan := storetest.Scan(t, st)
	lb := []byte(scan) // lowercased byte for byte, so offsets match
	for i, c := range lb {
		if 'A' <= c && c <= 'Z' {
			lb[i] = c + 'a' - 'A'
		}
	}
	var out []string
	for _, n := range needles {
		if i := strings.Index(string(lb), strings.ToLower(n)); i >= 0 {
			a, b := max(0, i-60), min(len(scan), i+len(n)+30)
			out = append(out, fmt.Sprintf("%q in ...%q...", n, scan[a:b]))
		}
	}
	return out
}

// annAndBob stores Bob (u-bobby) and Ann (u-annie, anon-annie-1, her email
// and name), and returns Ann's profile id.
func annAndBob(t *testing.T, svc *app.Service, dial string) string {
	t.Helper()
	sendTo(t, dial, "", "identify", `{"userId":"u-bobby","messageId":"mid-bob-1","traits":{"name":"Bob Roe"}}`)
	sendTo(t, dial, "", "identify", `{"userId":"u-annie","anonymousId":"anon-annie-1","messageId":"mid-ann-1","traits":{"email":"annie@example.com","name":"Annie Leeward"}}`)
	ann, err := svc.Engine.ProfileByIdentifier(context.Background(), graph.IdentifierRef{Type: "user_id", Value: "u-annie"})
	if err != nil {
		t.Fatal(err)
	}
	return ann.ID
}

// An erased value inside a name is erased too: a property name (at any
// depth) of an event shared with someone who stays, and a trait name on
// the identifier of someone who stays, that is or holds the erased email
// or name goes with its value. After forgetProfile the raw scan of the
// store finds neither.
func TestForgetProfileErasesNamesHoldingErasedValues(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		svc, dial, _, _ := startService(t, st, "127.0.0.1:0", app.Auth{})
		ann := annAndBob(t, svc, dial)
		// Ann's device, used by Bob: the events are shared, so they stay
		// for Bob, and his identify gives his user id the traits.
		sendTo(t, dial, "", "track", `{"userId":"u-bobby","anonymousId":"anon-annie-1","messageId":"mid-shared-2","event":"Invited",
			"properties":{"contact annie@example.com":"yes","nested":{"for Annie Leeward here":1},"screen":"tv"}}`)
		sendTo(t, dial, "", "identify", `{"userId":"u-bobby","anonymousId":"anon-annie-1","messageId":"mid-shared-3",
			"traits":{"annie@example.com":"friend","ref annie@example.com":"x","plan":"pro"}}`)
		var out struct {
			R struct{ ScrubbedEvents int } `json:"forgetProfile"`
		}
		gqlData(t, dial, "", fmt.Sprintf(`mutation { forgetProfile(id: %q, reason: "ticket 1") { scrubbedEvents } }`, ann), &out)
		if out.R.ScrubbedEvents != 2 {
			t.Fatalf("scrubbedEvents = %d, want 2 (Bob's shared events)", out.R.ScrubbedEvents)
		}
		if got := leftovers(t, st, "annie@example.com", "annie leeward"); len(got) > 0 {
			t.Errorf("after forgetProfile the store still holds:\n%s", strings.Join(got, "\n"))
		}
		// What is not Ann's stays: Bob's own trait and property.
		if got := leftovers(t, st, "u-bobby", `"plan"`, "screen"); len(got) != 3 {
			t.Errorf("Bob's own data went too: the scan finds only %v", got)
		}
	})
}
