package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
)

// Concurrent consent decisions for one person lose none: one client sends
// setConsent decisions, another the collector's messages carrying
// categoryPreferences, at once, each with its own time, in shuffled order
// (so older decisions often arrive after newer ones). On Neo4j they go to
// two services on one database (two replicas); on the embedded store, to
// one. A small model says what must hold once they are all answered: the
// history holds every decision, once, with its time and status; the state
// is the status of the decision with the latest time; and the kept
// membership of an audience of GRANTED email consent follows that state
// on every service (without the periodic refresh, which would hide a lost
// evaluation).
func TestConcurrentConsentDecisionsLoseNone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, gs graph.Store) {
		noRefresh := func(c *app.Config) { c.AudienceRefresh = -1 }
		_, a := startSubs(t, gs, app.FeedConfig{}, noRefresh)
		dials := []string{a, a}
		if _, ok := gs.(*neo4jstore.Store); ok {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			sb, err := neo4jstore.Open(ctx, storetest.Neo4jConfig())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = sb.Close(context.Background()) }) // after the service closes
			_, b := startSubs(t, sb, app.FeedConfig{}, noRefresh)
			dials[1] = b
		}
		track(t, a, `{"messageId":"m-cy","userId":"cy","event":"Signed Up"}`)
		pid := profileOf(t, a, "user_id", "cy")
		var ca struct {
			C struct{ ID string } `json:"createAudience"`
		}
		gqlData(t, a, "", `mutation { createAudience(input: {name: "email ok", filter: {consent: {purpose: "email", status: GRANTED}}}) { id } }`, &ca)
		// Profiles with a marker event enter this one: a marker sent after
		// the decisions, once kept, says that its service's keeper has
		// ended a round that took every decision sent before it.
		var cm struct {
			C struct{ ID string } `json:"createAudience"`
		}
		gqlData(t, a, "", `mutation { createAudience(input: {name: "marked", filter: {event: {name: "Round Marker"}}}) { id } }`, &cm)

		// The decisions: n each way, at distinct minutes of yesterday, in
		// a shuffled order; each client sends its own in that order.
		const n = 12
		type decision struct {
			at     time.Time
			status string
		}
		base := time.Now().UTC().Add(-24 * time.Hour).Truncate(time.Minute)
		statuses := []string{"GRANTED", "DENIED", "WITHDRAWN"}
		minutes := rand.Perm(2 * n)
		var byClient [2][]decision
		for i, m := range minutes {
			byClient[i%2] = append(byClient[i%2], decision{at: base.Add(time.Duration(m) * time.Minute), status: statuses[rand.IntN(3)]})
		}
		// The latest decision is GRANTED or not at random; the model
		// reads it off the list.
		var want []decision
		for _, ds := range byClient {
			want = append(want, ds...)
		}
		latest := slices.MaxFunc(want, func(x, y decision) int { return x.at.Compare(y.at) })

		errs := make(chan error, 2*n)
		var wg sync.WaitGroup
		for c := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i, d := range byClient[c] {
					var err error
					if c == 0 {
						q := fmt.Sprintf(`mutation { setConsent(input: {identifier: {type: "user_id", value: "cy"}, purpose: "email", status: %s, at: %q}) { id } }`,
							d.status, d.at.Format(time.RFC3339))
						err = postNoFail("http://"+dials[c]+"/graphql", mustJSON(map[string]any{"query": q}))
					} else {
						msg := map[string]any{"messageId": fmt.Sprintf("m-consent-%d", i), "userId": "cy", "event": "Segment Consent Preference Updated",
							"timestamp": d.at.Format(time.RFC3339),
							"context":   map[string]any{"consent": map[string]any{"categoryPreferences": map[string]any{"email": strings.ToLower(d.status)}}}}
						err = postNoFail("http://"+dials[c]+"/v1/track", mustJSON(msg))
					}
					if err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}

		type state struct {
			Profile struct {
				Consent []struct {
					Purpose, Status string
					At              time.Time
				}
				ConsentHistory []struct {
					At     time.Time
					Status string
				}
			}
			Audience struct{ Size int }
		}
		q := fmt.Sprintf(`{ profile(id: %q) { consent { purpose status at } consentHistory(purpose: "email", first: 500) { at status } }
			audience(id: %q) { size } }`, pid, ca.C.ID)
		wantHistory := make([]string, 0, len(want))
		for _, d := range want {
			wantHistory = append(wantHistory, d.at.Format(time.RFC3339)+" "+d.status)
		}
		slices.Sort(wantHistory)
		wantSize := 0
		if latest.status == "GRANTED" {
			wantSize = 1
		}
		// Each service's keeper has evaluated the decisions it was sent:
		// a marker sent to it after them is kept, and so is a second one
		// sent after that (the round that kept the first, which may have
		// evaluated the decisions too, has then ended, its evaluations
		// written again after a refusal included). Without this wait, a
		// latest decision other than GRANTED read an audience of size 0
		// before any keeper ran, and a lost evaluation went unseen.
		for round := range 2 {
			var markers []string
			for c, dial := range dials {
				m := fmt.Sprintf("marker-%d-%d", round, c)
				track(t, dial, fmt.Sprintf(`{"messageId":"m-%s","userId":%q,"event":"Round Marker"}`, m, m))
				markers = append(markers, profileOf(t, dial, "user_id", m))
			}
			eventually(t, fmt.Sprintf("the markers of round %d are kept", round), func() bool {
				var d struct {
					Audience struct {
						Members struct{ Nodes []struct{ ID string } }
					}
				}
				gqlData(t, a, "", fmt.Sprintf(`{ audience(id: %q) { members(first: 500) { nodes { id } } } }`, cm.C.ID), &d)
				for _, m := range markers {
					if !slices.ContainsFunc(d.Audience.Members.Nodes, func(n struct{ ID string }) bool { return n.ID == m }) {
						return false
					}
				}
				return true
			})
		}

		for _, dial := range dials {
			var s state
			gqlData(t, dial, "", q, &s)
			var got []string
			for _, h := range s.Profile.ConsentHistory {
				got = append(got, h.At.UTC().Format(time.RFC3339)+" "+h.Status)
			}
			slices.Sort(got)
			if !slices.Equal(got, wantHistory) {
				t.Errorf("%s: history\n%q\nwant every decision once\n%q", dial, got, wantHistory)
			}
			i := slices.IndexFunc(s.Profile.Consent, func(c struct {
				Purpose, Status string
				At              time.Time
			}) bool {
				return c.Purpose == "email"
			})
			if i < 0 || s.Profile.Consent[i].Status != latest.status || !s.Profile.Consent[i].At.Equal(latest.at) {
				t.Errorf("%s: email consent %+v, want %s at %s", dial, s.Profile.Consent, latest.status, latest.at)
			}
			if s.Audience.Size != wantSize {
				t.Errorf("%s: the kept audience has %d members after the keepers' rounds, want %d (the latest decision is %s)", dial, s.Audience.Size, wantSize, latest.status)
			}
		}
	})
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// postNoFail posts body and returns an error unless the answer is 200
// without GraphQL errors: it may run outside the test's goroutine.
func postNoFail(url, body string) error {
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || strings.Contains(string(b), `"errors"`) {
		return fmt.Errorf("%s: %d %s", url, resp.StatusCode, b)
	}
	return nil
}
