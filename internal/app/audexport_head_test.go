package app_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

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
		_, dial := startQuietService(t, st)
		marketer := sourcedKey(t, st, "marketer", "", "audiences:read")
		as := st.(audience.Store)
		now := graph.Now()
		id := audience.NewAudienceID()
		if err := as.PutAudience(ctx, audience.Audience{ID: id, Name: "all",
			Filter: audience.Filter{Identifier: &audience.IdentifierCondition{Type: "email"}}, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		// Profiles merged away since membership was kept: listed, sent
		// with no identifiers.
		members := []string{"p_headone", "p_headtwo", "p_headthree"}
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
		for _, m := range members {
			if !strings.Contains(get.body, m) {
				t.Errorf("GET body lacks member %s:\n%s", m, get.body)
			}
		}
	})
}
