package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
)

// Two processes on one Neo4j (two services, each with its own driver): a
// change committed through A reaches a subscriber on B, and one committed
// through B a subscriber on A, each by its own tailer's polling. Neo4j
// only: the embedded store's file is open in one process at a time.
func TestSubscriptionsAcrossProcesses(t *testing.T) {
	sa := storetest.OpenNeo4j(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sb, err := neo4jstore.Open(ctx, storetest.Neo4jConfig()) // under the lock sa holds
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close(context.Background()) }) // after the services close
	feed := app.FeedConfig{Poll: 20 * time.Millisecond}
	svcA, dialA := startSubs(t, sa, feed, nil)
	svcB, dialB := startSubs(t, sb, feed, nil)

	wb, _ := dialWS(t, dialB, nil)
	wb.mustInit(nil)
	wb.subscribe("b", `subscription { changes { `+changeFields+` } }`)
	waitActive(t, svcB, 1)
	wa, _ := dialWS(t, dialA, nil)
	wa.mustInit(nil)
	wa.subscribe("a", `subscription { changes { `+changeFields+` } }`)
	waitActive(t, svcA, 1)

	track(t, dialA, `{"messageId":"via-a","anonymousId":"anon-a","event":"Viewed"}`)
	pa := profileOf(t, dialB, "anonymous_id", "anon-a")
	got := wb.nextChange("b", "changes")
	if got.Kind != "EVENT_ADDED" || *got.EventID != "default/via-a" || *got.ProfileID != pa {
		t.Fatalf("on B: %s %v %v, want EVENT_ADDED of default/via-a into %s", got.Kind, *got.EventID, *got.ProfileID, pa)
	}
	track(t, dialB, `{"messageId":"via-b","anonymousId":"anon-b","event":"Viewed"}`)
	for _, want := range []string{"default/via-a", "default/via-b"} {
		if got := wa.nextChange("a", "changes"); *got.EventID != want {
			t.Fatalf("on A: %s, want %s", *got.EventID, want)
		}
	}
	// One order: B's next change is B's own commit, right after A's.
	if got2 := wb.nextChange("b", "changes"); *got2.EventID != "default/via-b" {
		t.Fatalf("on B: %s, want default/via-b", *got2.EventID)
	}
}
