package app_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// A HEAD of a profile's data export answers the status and headers a GET
// would and sends no record. It is audited, naming the profile (its
// status and headers tell whether the profile exists and which id answers
// for it), with the reason "method=HEAD", so the log tells it from an
// export that sent the person's data; the GET's entry has no reason. A
// HEAD of an unknown id is audited as NOT_FOUND with the same reason.
func TestDataExportHeadIsAuditedAsAHead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ctx := context.Background()
		svc, dial := startQuietService(t, st)
		officer := sourcedKey(t, st, "privacy officer", "", "privacy:read")
		at := time.Date(2026, 1, 3, 10, 0, 0, 0, time.UTC)
		if _, err := svc.Engine.ApplyBatch(ctx, []graph.Event{{ID: "test/h1", MessageID: "h1", Type: "identify", Source: "test",
			Timestamp: at, ReceivedAt: at, Identifiers: []graph.IdentifierRef{{Type: "user_id", Value: "u-head"}}}}); err != nil {
			t.Fatal(err)
		}
		id := profileIDOf(t, svc.Engine)("user_id", "u-head")
		url := "http://" + dial + "/v1/privacy/profiles/" + id + "/export"
		missing := "p_" + strings.Repeat("z", 21)

		head := send(t, http.MethodHead, url, "", officer, "")
		get := send(t, http.MethodGet, url, "", officer, "")
		gone := send(t, http.MethodHead, "http://"+dial+"/v1/privacy/profiles/"+missing+"/export", "", officer, "")
		if head.status != http.StatusOK || head.body != "" {
			t.Fatalf("HEAD: %d %q, want 200 with no body", head.status, head.body)
		}
		if get.status != http.StatusOK || !strings.Contains(get.body, "u-head") {
			t.Fatalf("GET: %d %q, want 200 with the export", get.status, get.body)
		}
		if gone.status != http.StatusNotFound {
			t.Fatalf("HEAD of an unknown id: %d, want 404", gone.status)
		}
		for _, h := range []string{"Content-Type", "Content-Disposition", "Cache-Control"} {
			if head.header.Get(h) != get.header.Get(h) {
				t.Errorf("header %s: HEAD %q, GET %q", h, head.header.Get(h), get.header.Get(h))
			}
		}

		es := exportAudit(t, st)
		type row struct {
			reason, outcome string
			ids             []string
		}
		var got []row
		for _, e := range es {
			got = append(got, row{e.Reason, e.Outcome, e.ProfileIDs})
		}
		want := []row{
			{"method=HEAD", access.OutcomeOK, []string{id}},
			{"", access.OutcomeOK, []string{id}},
			{"method=HEAD", "NOT_FOUND", nil},
		}
		key := func(r row) string { return r.reason + "|" + r.outcome + "|" + strings.Join(r.ids, ",") }
		sortRows := func(rs []row) {
			slices.SortFunc(rs, func(a, b row) int { return strings.Compare(key(a), key(b)) })
		}
		sortRows(got)
		sortRows(want)
		if !slices.EqualFunc(got, want, func(a, b row) bool { return key(a) == key(b) }) {
			t.Errorf("privacy.export entries (reason, outcome, profiles) = %+v\nwant %+v", got, want)
		}
	})
}
