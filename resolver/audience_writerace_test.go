package resolver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// postFrom sends one operation from a goroutine other than the test's: it
// reports a failure to send or decode as an error instead of stopping the
// test.
func (e *env) postFrom(query string, vars map[string]any) (gqlResponse, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return gqlResponse{}, err
	}
	resp, err := http.Post(e.srv.URL, "application/json", bytes.NewReader(body))
	if err != nil {
		return gqlResponse{}, err
	}
	defer resp.Body.Close()
	var out gqlResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return gqlResponse{}, fmt.Errorf("response (status %d) is not JSON: %w", resp.StatusCode, err)
	}
	out.Status = resp.StatusCode
	return out, nil
}

// race runs the operations at once, from a start barrier, and returns
// their answers in the order given.
func (e *env) race(ops ...func() (gqlResponse, error)) []gqlResponse {
	e.t.Helper()
	out := make([]gqlResponse, len(ops))
	errs := make([]error, len(ops))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, op := range ops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i], errs[i] = op()
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			e.t.Fatal(err)
		}
	}
	return out
}

// An updateAudience racing a deleteAudience of the same audience ends as
// one of the two serial orders would: the update first, then the
// deletion (the update answers the new definition and the audience is
// gone), or the deletion first (the update is refused with NOT_FOUND, as
// for any audience not stored, and the audience is gone). In neither is
// the deleted audience stored again, as a new one of the same id.
func TestUpdateAudienceRacingDeleteLeavesItDeleted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		pro := jsonOf(t, `{"trait":{"name":"plan","op":"EQ","value":"pro"}}`)
		const rounds = 25
		for round := range rounds {
			a := createAudience(e, map[string]any{"name": "before", "filter": pro})
			got := e.race(
				func() (gqlResponse, error) {
					return e.postFrom(updateAudienceOp, map[string]any{"id": a.ID, "in": map[string]any{"name": "after", "filter": pro}})
				},
				func() (gqlResponse, error) {
					return e.postFrom(`mutation($id: ID!) { deleteAudience(id: $id) }`, map[string]any{"id": a.ID})
				},
			)
			upd, del := got[0], got[1]
			var deleted struct{ DeleteAudience *bool }
			if len(del.Errors) > 0 || json.Unmarshal(del.Data, &deleted) != nil || deleted.DeleteAudience == nil || !*deleted.DeleteAudience {
				t.Fatalf("round %d: deleteAudience answered %s %+v, want true", round, del.Data, del.Errors)
			}
			if len(upd.Errors) > 0 && upd.code() != CodeNotFound {
				t.Fatalf("round %d: updateAudience refused with %+v, want success or NOT_FOUND", round, upd.Errors)
			}
			var read struct{ Audience *audienceOut }
			e.query(`query($id: ID!) { audience(id: $id) { id name } }`, map[string]any{"id": a.ID}, &read)
			if read.Audience != nil {
				t.Fatalf("round %d: audience %s is stored after its deletion succeeded (updateAudience answered %+v): %+v",
					round, a.ID, upd.Errors, *read.Audience)
			}
		}
	})
}

// Two editors read an audience at one version and each saves a change of
// another field, naming that version (ifUpdatedAt): in either serial
// order the first is saved and the second refused with CONFLICT, since
// the audience changed since it was read; so exactly one succeeds, and
// the stored definition is the winner's whole, never the loser's. An
// update naming the version now stored succeeds.
func TestUpdateAudienceIfUpdatedAtRefusesAStaleRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		pro := jsonOf(t, `{"trait":{"name":"plan","op":"EQ","value":"pro"}}`)
		team := jsonOf(t, `{"trait":{"name":"plan","op":"EQ","value":"team"}}`)
		const op = `mutation($id: ID!, $in: AudienceInput!, $v: DateTime) { updateAudience(id: $id, input: $in, ifUpdatedAt: $v) { id name filter updatedAt } }`
		for round := range 15 {
			a := createAudience(e, map[string]any{"name": "plan", "filter": pro})
			v := a.UpdatedAt.Format(time.RFC3339Nano)
			rename := map[string]any{"name": "renamed", "filter": pro}
			refilter := map[string]any{"name": "plan", "filter": team}
			got := e.race(
				func() (gqlResponse, error) { return e.postFrom(op, map[string]any{"id": a.ID, "in": rename, "v": v}) },
				func() (gqlResponse, error) { return e.postFrom(op, map[string]any{"id": a.ID, "in": refilter, "v": v}) },
			)
			won := -1
			for i, r := range got {
				switch {
				case len(r.Errors) == 0:
					if won >= 0 {
						t.Fatalf("round %d: both updates from one read were saved", round)
					}
					won = i
				case r.code() != CodeConflict:
					t.Fatalf("round %d: update %d refused with %+v, want CONFLICT", round, i, r.Errors)
				case !strings.Contains(r.Errors[0].Message, `"ifUpdatedAt"`):
					t.Fatalf("round %d: refusal %q does not name ifUpdatedAt", round, r.Errors[0].Message)
				}
			}
			if won < 0 {
				t.Fatalf("round %d: neither update was saved: %+v / %+v", round, got[0].Errors, got[1].Errors)
			}
			var read struct{ Audience *audienceOut }
			e.query(`query($id: ID!) { audience(id: $id) { id name filter updatedAt } }`, map[string]any{"id": a.ID}, &read)
			want := map[int][2]any{0: {"renamed", pro}, 1: {"plan", team}}[won]
			if read.Audience == nil || read.Audience.Name != want[0] || !reflect.DeepEqual(read.Audience.Filter, want[1]) {
				t.Fatalf("round %d: stored %+v, want the definition of update %d whole", round, read.Audience, won)
			}
			// Naming the version stored now, an update is saved.
			var upd struct{ UpdateAudience *audienceOut }
			e.query(op, map[string]any{"id": a.ID, "in": rename, "v": read.Audience.UpdatedAt.Format(time.RFC3339Nano)}, &upd)
			if upd.UpdateAudience == nil || upd.UpdateAudience.Name != "renamed" {
				t.Fatalf("round %d: update at the stored version answered %+v", round, upd.UpdateAudience)
			}
		}
	})
}
