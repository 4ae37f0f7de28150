package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
)

// An audienceChanged subscription whose audience is deleted ends with
// NOT_FOUND and the cursor to resume from, on both stores, rather than
// staying open with nothing ever to send (and holding one of its key's
// subscriptions): the deletion appends no exits to the feed.
func TestAudienceChangedEndsWhenItsAudienceIsDeleted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		svc, dial := startSubs(t, st, app.FeedConfig{}, func(c *app.Config) { c.GraphQL.KeyRecheck = 50 * time.Millisecond })
		var d struct {
			A struct {
				ID string `json:"id"`
			} `json:"createAudience"`
		}
		gqlData(t, dial, "", `mutation { createAudience(input: {name: "buyers", filter: {event: {name: "Bought"}}}) { id } }`, &d)
		w, _ := dialWS(t, dial, nil)
		w.mustInit(nil)
		w.subscribe("a", `subscription { audienceChanged(audienceId: "`+d.A.ID+`") { kind profileId } }`)
		waitActive(t, svc, 1)
		var del struct {
			Deleted bool `json:"deleteAudience"`
		}
		gqlData(t, dial, "", `mutation { deleteAudience(id: "`+d.A.ID+`") }`, &del)
		if !del.Deleted {
			t.Fatal("deleteAudience answered false")
		}
		e := w.subError("a")
		if e.Extensions["code"] != "NOT_FOUND" || !strings.Contains(e.Message, "deleted") || e.Extensions["cursor"] == nil {
			t.Fatalf("after the audience's deletion: %+v, want NOT_FOUND saying it was deleted, with a cursor", e)
		}
		waitActive(t, svc, 0)
	})
}
