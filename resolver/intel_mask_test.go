package resolver

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// The keys of funnel, attribution and paths are totals over many people,
// so a person's own values cannot be searched for in them as a journey's
// are: without pii:read, a key that looks like personal data (an @, or 7
// or more digits in a row, as graph.MessageKey withholds it) reads ***,
// and keys that become equal are one key, their figures added, before the
// most frequent paths are chosen. With pii:read the keys are shown as
// stored, and an answer that shows such a key is audited (one entry for
// its root field, naming no profile: a total names none); one that shows
// none is not.
//
// By hand: six people u1..u6 each sign up (channels web, web, "referral
// 0100 2030 40", ann@example.com, mobile, mobile), then one event (Invite
// sent to ann@example.com, Invite sent to bob@example.com, Called +44 20
// 7946 0958, Viewed plan 2024 twice, Help), then complete an order, a
// minute apart, the last two on the web.
//   - paths from Signup, depth 2, first 2: masked, [***, Order Completed]
//     3 (0.5) and [Viewed plan 2024, Order Completed] 2 (1/3); cut before
//     merging, *** would have had 1. With pii:read, [Viewed plan 2024,
//     Order Completed] 2 and, of the four tied at 1, the least in UTF-16
//     order, [Called +44 20 7946 0958, Order Completed].
//   - attribution of the orders, EVENT, LINEAR: each order gives 0.5 to
//     Signup and 0.5 to the event between: Signup 3 (0.5), *** 1.5 (0.25),
//     Viewed plan 2024 1 (1/6), Help 0.5 (1/12), 6 in all.
//   - attribution, CHANNEL, FIRST_TOUCH: the sign-up's channel: ***, mobile
//     and web 2 each (ties by key: "***" sorts first).
//   - funnel Signup then Order Completed, byChannel: step 1 as above, step 2
//     web 6.
func TestIntelAnswersWithholdKeysThatLookPersonal(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		signup := []string{"web", "web", "referral 0100 2030 40", "ann@example.com", "mobile", "mobile"}
		middle := []string{"Invite sent to ann@example.com", "Invite sent to bob@example.com", "Called +44 20 7946 0958", "Viewed plan 2024", "Viewed plan 2024", "Help"}
		var evs []graph.Event
		for i := range 6 {
			u := fmt.Sprintf("user_id:u%d", i+1)
			a := ev(fmt.Sprintf("s%d", i), t0, "track", u)
			a.Name, a.Channel = "Signup", signup[i]
			b := ev(fmt.Sprintf("m%d", i), t0.Add(time.Minute), "track", u)
			b.Name = middle[i]
			c := ev(fmt.Sprintf("o%d", i), t0.Add(2*time.Minute), "track", u)
			c.Name = "Order Completed"
			evs = append(evs, a, b, c)
		}
		e.apply(evs...)
		masked, _ := e.key("masked", "", access.ScopeProfilesRead)
		pii, _ := e.key("pii", "", access.ScopeProfilesRead, access.ScopePIIRead)

		type path struct {
			Events []string
			Count  int
			Share  float64
		}
		type credit struct {
			Key           string
			Credit, Share float64
		}
		type channel struct {
			Channel string
			Count   int
		}
		const (
			pathsOp    = `{ paths(start: {name: "Signup"}, depth: 2, first: $first) { events count share } }`
			byEventOp  = `{ attribution(conversion: {name: "Order Completed"}, dimension: EVENT, model: LINEAR, lookback: "P1D") { conversions credits { key credit share } } }`
			byChanOp   = `{ attribution(conversion: {name: "Order Completed"}, dimension: CHANNEL, model: FIRST_TOUCH, lookback: "P1D") { conversions credits { key credit share } } }`
			funnelOp   = `{ funnel(steps: [{name: "Signup"}, {name: "Order Completed"}], within: "P1D", byChannel: true) { profiles steps { count byChannel { channel count } } } }`
			ordered    = "Order Completed"
			third      = 1.0 / 3
			sixth      = 1.0 / 6
			twelfth    = 1.0 / 12
			withheld   = access.Masked
			personal1  = "Called +44 20 7946 0958"
			personalCh = "ann@example.com"
		)
		paths := func(secret string, first int) []path {
			var out struct{ Paths []path }
			e.ok(secret, strings.Replace(pathsOp, "$first", fmt.Sprint(first), 1), nil, &out)
			return out.Paths
		}
		samePaths := func(who string, got, want []path) {
			t.Helper()
			ok := len(got) == len(want)
			for i := 0; ok && i < len(got); i++ {
				ok = slices.Equal(got[i].Events, want[i].Events) && got[i].Count == want[i].Count && math.Abs(got[i].Share-want[i].Share) < 1e-12
			}
			if !ok {
				t.Errorf("%s: paths %+v, want %+v", who, got, want)
			}
		}
		attribution := func(secret, op string) (int, []credit) {
			var out struct {
				Attribution struct {
					Conversions int
					Credits     []credit
				}
			}
			e.ok(secret, op, nil, &out)
			return out.Attribution.Conversions, out.Attribution.Credits
		}
		sameCredits := func(who string, conversions int, got []credit, want []credit) {
			t.Helper()
			ok := conversions == 6 && len(got) == len(want)
			sum := 0.0
			for i := 0; ok && i < len(got); i++ {
				ok = got[i].Key == want[i].Key && math.Abs(got[i].Credit-want[i].Credit) < 1e-9 && math.Abs(got[i].Share-want[i].Share) < 1e-9
				sum += got[i].Credit
			}
			if !ok || math.Abs(sum-6) > 1e-9 {
				t.Errorf("%s: %d conversions, credits %+v, want 6 and %+v", who, conversions, got, want)
			}
		}
		funnel := func(secret string) [][]channel {
			var out struct {
				Funnel struct {
					Profiles int
					Steps    []struct {
						Count     int
						ByChannel []channel
					}
				}
			}
			e.ok(secret, funnelOp, nil, &out)
			var chans [][]channel
			for _, s := range out.Funnel.Steps {
				chans = append(chans, s.ByChannel)
			}
			if out.Funnel.Profiles != 6 || len(out.Funnel.Steps) != 2 || out.Funnel.Steps[0].Count != 6 || out.Funnel.Steps[1].Count != 6 {
				t.Errorf("funnel: %+v, want 6 profiles reaching both steps", out.Funnel)
			}
			return chans
		}
		sameChannels := func(who string, got, want [][]channel) {
			t.Helper()
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: funnel by channel %+v, want %+v", who, got, want)
			}
		}
		audited := func(who, action string, want int) {
			t.Helper()
			es := e.audit(action)
			if len(es) != want {
				t.Errorf("%s: %d %s audit entries, want %d", who, len(es), action, want)
				return
			}
			for _, x := range es {
				if x.ProfileCount != 0 || len(x.ProfileIDs) != 0 {
					t.Errorf("%s: %s audit entry names profiles %v (%d), want none", who, action, x.ProfileIDs, x.ProfileCount)
				}
			}
		}

		// Without pii:read.
		samePaths("masked", paths(masked, 2), []path{
			{[]string{withheld, ordered}, 3, 0.5},
			{[]string{"Viewed plan 2024", ordered}, 2, third},
		})
		conv, cr := attribution(masked, byEventOp)
		sameCredits("masked EVENT", conv, cr, []credit{{"Signup", 3, 0.5}, {withheld, 1.5, 0.25}, {"Viewed plan 2024", 1, sixth}, {"Help", 0.5, twelfth}})
		conv, cr = attribution(masked, byChanOp)
		sameCredits("masked CHANNEL", conv, cr, []credit{{withheld, 2, third}, {"mobile", 2, third}, {"web", 2, third}})
		sameChannels("masked", funnel(masked), [][]channel{{{withheld, 2}, {"mobile", 2}, {"web", 2}}, {{"web", 6}}})
		for _, a := range []string{"paths", "attribution", "funnel"} {
			audited("masked", a, 0)
		}

		// With pii:read: an answer showing no such key is not audited.
		samePaths("pii, first 1", paths(pii, 1), []path{{[]string{"Viewed plan 2024", ordered}, 2, third}})
		audited("pii, first 1", "paths", 0)
		samePaths("pii", paths(pii, 2), []path{
			{[]string{"Viewed plan 2024", ordered}, 2, third},
			{[]string{personal1, ordered}, 1, sixth},
		})
		audited("pii", "paths", 1)
		conv, cr = attribution(pii, byEventOp)
		sameCredits("pii EVENT", conv, cr, []credit{{"Signup", 3, 0.5}, {"Viewed plan 2024", 1, sixth},
			{personal1, 0.5, twelfth}, {"Help", 0.5, twelfth}, {"Invite sent to ann@example.com", 0.5, twelfth}, {"Invite sent to bob@example.com", 0.5, twelfth}})
		audited("pii EVENT", "attribution", 1)
		conv, cr = attribution(pii, byChanOp)
		sameCredits("pii CHANNEL", conv, cr, []credit{{"mobile", 2, third}, {"web", 2, third}, {personalCh, 1, sixth}, {"referral 0100 2030 40", 1, sixth}})
		audited("pii CHANNEL", "attribution", 2)
		sameChannels("pii", funnel(pii), [][]channel{{{"mobile", 2}, {"web", 2}, {personalCh, 1}, {"referral 0100 2030 40", 1}}, {{"web", 6}}})
		audited("pii", "funnel", 1)
	})
}
