package resolver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

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
