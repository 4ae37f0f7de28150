package app_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/server"
)

// A HEAD of the audience export answers the status and headers a GET
// would, and is audited, but sends no member: its audit entry names no
// profile and counts none, and its reason says it was a HEAD. The GET
// that follows names the members it sent.
func TestAudienceExportHeadAuditsNoMembers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ctx := context.Background()
		svc, dial := startQuietService(t, st)
		marketer := sourcedKey(t, st, "marketer", "", "audiences:read")
		as := st.(audience.Store)
		now := graph.Now()
		id := audience.NewAudienceID()
		if err := as.PutAudience(ctx, audience.Audience{ID: id, Name: "all",
			Filter: audience.Filter{Identifier: &audience.IdentifierCondition{Type: "email"}}, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		// Three people, each a user id alone.
		at := time.Date(2026, 1, 3, 10, 0, 0, 0, time.UTC)
		var batch []graph.Event
		for _, u := range []string{"u-one", "u-two", "u-three"} {
			batch = append(batch, graph.Event{ID: "test/" + u, MessageID: u, Type: "identify", Source: "test", Timestamp: at, ReceivedAt: at,
				Identifiers: []graph.IdentifierRef{{Type: "user_id", Value: u}}})
		}
		if _, err := svc.Engine.ApplyBatch(ctx, batch); err != nil {
			t.Fatal(err)
		}
		pid := profileIDOf(t, svc.Engine)
		members := []string{pid("user_id", "u-one"), pid("user_id", "u-two"), pid("user_id", "u-three")}
		if len(map[string]bool{members[0]: true, members[1]: true, members[2]: true}) != 3 {
			t.Fatalf("the three people are not three profiles: %v", members)
		}
		if err := as.ApplyMembership(ctx, id, members, nil, now); err != nil {
			t.Fatal(err)
		}
		url := "http://" + dial + "/v1/audiences/" + id + "/export?identifiers=user_id"

		head := send(t, http.MethodHead, url, "", marketer, "")
		get := send(t, http.MethodGet, url, "", marketer, "")
		if head.status != http.StatusOK || head.body != "" {
			t.Fatalf("HEAD: %d %q, want 200 with no body", head.status, head.body)
		}
		for _, h := range []string{"Content-Type", "Content-Disposition", "Cache-Control", "X-CDP-Members", "X-CDP-Excluded"} {
			if head.header.Get(h) != get.header.Get(h) {
				t.Errorf("header %s: HEAD %q, GET %q", h, head.header.Get(h), get.header.Get(h))
			}
		}
		if m := head.header.Get("X-CDP-Members"); m != "3" {
			t.Errorf("HEAD X-CDP-Members %q, want 3", m)
		}

		es, err := st.(access.Store).Audit(ctx, access.AuditQuery{Action: server.AudienceExportAction, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != 2 {
			t.Fatalf("%d audience.export entries, want 2: %+v", len(es), es)
		}
		base := "audience " + id + "; format=csv; identifiers=user_id"
		var headEntry, getEntry *access.AuditEntry
		for i, e := range es {
			switch e.Reason {
			case base + "; method=HEAD":
				headEntry = &es[i]
			case base:
				getEntry = &es[i]
			}
		}
		if headEntry == nil || getEntry == nil {
			t.Fatalf("entries %+v: want one with reason %q and one with reason %q", es, base+"; method=HEAD", base)
		}
		if headEntry.Outcome != access.OutcomeOK || headEntry.ProfileCount != 0 || len(headEntry.ProfileIDs) != 0 {
			t.Errorf("HEAD's entry: outcome %s, %d profiles %v; want ok with none (a HEAD sends no member)",
				headEntry.Outcome, headEntry.ProfileCount, headEntry.ProfileIDs)
		}
		if want := slices.Sorted(slices.Values(members)); getEntry.Outcome != access.OutcomeOK || getEntry.ProfileCount != 3 || !slices.Equal(getEntry.ProfileIDs, want) {
			t.Errorf("GET's entry: outcome %s, %d profiles %v; want ok with %v", getEntry.Outcome, getEntry.ProfileCount, getEntry.ProfileIDs, want)
		}
		for i, m := range members {
			if !strings.Contains(get.body, m) || !strings.Contains(get.body, []string{"u-one", "u-two", "u-three"}[i]) {
				t.Errorf("GET body lacks member %s or its user id:\n%s", m, get.body)
			}
		}
	})
}
