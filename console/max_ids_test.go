package console_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
)

// Under identity rules whose maxIdentifiers is below the 100 identifiers
// the 360 view asks for, the API refuses first: 100 on
// Profile.identifiers (no profile can hold more than maxIdentifiers, and
// the API lists no more). The profile page used to show only that
// refusal, for every profile; it now lists the identifiers.
func TestProfileUnderASmallMaxIdentifiers(t *testing.T) {
	s, keys := startServiceConfig(t, map[string][]string{"admin": allScopes, "site": {"events:write"}}, false, func(c *app.Config) {
		r := graph.DefaultRules()
		r.MaxIdentifiers = 20
		c.Rules = r
	})
	s.seed(t, keys["site"])
	annID := s.profileID(t, keys["admin"], "email", "ann@example.com")
	tb := newTab(t, s)
	tb.allowed = []string{"HTTP 422 " + s.base + "/graphql", "status of 422 (Unprocessable Entity) " + s.base + "/graphql"}
	tb.signIn(s.base, keys["admin"])
	for i := 0; i < 2; i++ { // the second view as the first
		tb.run(chromedp.Navigate(s.base + "/console/#/search"))
		tb.waitJS("the search page", `document.getElementById("find-identifier")`)
		tb.run(chromedp.Navigate(s.base + "/console/#/profile/" + annID))
		tb.waitJS("the profile or an error", `document.getElementById("main").getAttribute("data-rendered") || document.querySelector("#main .error")`)
		shown := tb.text(`document.getElementById("main").innerText`)
		// Ann's four identifiers (hand-counted from the seed: user id,
		// anonymous id, device id, email).
		for _, want := range []string{"u-ann", "anon-ann", "dev-ann-phone", "ann@example.com"} {
			if !strings.Contains(shown, want) {
				t.Fatalf("view %d: Ann's profile under maxIdentifiers 20 shows:\n%s\nwant her identifier %s", i+1, shown, want)
			}
		}
	}
}
