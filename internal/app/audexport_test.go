package app_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
	"github.com/idgraph/cdp/server"
)

// The people of the audience export tests, sent through the collector.
// Ann gives two emails (one with spaces and capitals) and a French mobile,
// and grants advertising; Bob, whose user id holds a |, gives a US phone
// and grants advertising; Cy browses anonymously with an email in the
// context and never answers; Dee denies advertising.
var audExportMsgs = []struct{ typ, msg string }{
	{"identify", `{"userId":"u-ann","messageId":"a1","timestamp":"2026-01-01T10:00:00Z","traits":{"email":" Ann@Example.com ","phone":"+33 6 12 34 56 78"},"context":{"consent":{"categoryPreferences":{"Advertising":true}}}}`},
	{"identify", `{"userId":"u-ann","messageId":"a2","timestamp":"2026-01-02T10:00:00Z","traits":{"email":"ann.lee@work.example"}}`},
	{"identify", `{"userId":"u|bob","messageId":"b1","timestamp":"2026-01-01T11:00:00Z","traits":{"phone":"(415) 555-0123"},"context":{"consent":{"categoryPreferences":{"Advertising":true}}}}`},
	{"track", `{"anonymousId":"anon-cy","messageId":"c1","event":"Viewed","timestamp":"2026-01-01T12:00:00Z","context":{"traits":{"email":"Cy@Example.org"}}}`},
	{"identify", `{"userId":"u-dee","messageId":"d1","timestamp":"2026-01-01T13:00:00Z","traits":{"email":"dee@example.net"},"context":{"consent":{"categoryPreferences":{"Advertising":false}}}}`},
}

// startQuietService starts the service on st with no time-driven
// membership refresh, so that membership written by the test stays as
// written while no event arrives. It is started before the test stores
// its audiences: with none stored, the start makes no catch-up round.
func startQuietService(t *testing.T, st graph.Store) (*app.Service, string) {
	t.Helper()
	ln, err := server.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := app.Defaults()
	cfg.Store, cfg.Listener, cfg.Logger = st, ln, zerolog.New(&logBuffer{})
	cfg.AudienceRefresh = -1
	svc, err := app.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc.Start()
	t.Cleanup(func() {
		if err := svc.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	_, port, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return svc, net.JoinHostPort("127.0.0.1", port)
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// errBody decodes an {"error", "code"} answer.
func errBody(r httpReply) (msg, code string) {
	var e struct{ Error, Code string }
	_ = json.Unmarshal([]byte(r.body), &e)
	return e.Error, e.Code
}

// The audience export, on both stores, through the wired service: members
// (written with PutAudience and ApplyMembership, so the keeper plays no
// part) with their identifiers from ingested events, in profile id order;
// CSV and NDJSON byte for byte; SHA-256 of the normalized values; members
// without GRANTED consent for the audience's purpose left out and counted;
// pii:read needed for raw personal values only; 401, 403, 404, 400s and
// 405; one audit entry per request past the key check.
func TestAudienceExport(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ctx := context.Background()
		web := sourcedKey(t, st, "site", "web", "events:write")
		analyst := sourcedKey(t, st, "analyst", "", "audiences:read", "pii:read")
		marketer := sourcedKey(t, st, "marketer", "", "audiences:read")
		reader := sourcedKey(t, st, "reader", "", "profiles:read", "pii:read")

		// The events go in through a first service, stopped before the
		// membership is written, so its keeper has finished.
		svc, dial, _, stop := startService(t, st, "127.0.0.1:0", app.Auth{})
		for _, m := range audExportMsgs {
			sendTo(t, dial, web, m.typ, m.msg)
		}
		pid := profileIDOf(t, svc.Engine)
		ann, bob, cy, dee := pid("user_id", "u-ann"), pid("user_id", "u|bob"), pid("anonymous_id", "anon-cy"), pid("user_id", "u-dee")
		if len(map[string]bool{ann: true, bob: true, cy: true, dee: true}) != 4 {
			t.Fatalf("the four people are not four profiles: %s %s %s %s", ann, bob, cy, dee)
		}
		// A crowd of 1,200 more, each a user id alone, in one batch.
		var batch []graph.Event
		at := time.Date(2026, 1, 3, 10, 0, 0, 0, time.UTC)
		for i := range 1200 {
			batch = append(batch, graph.Event{ID: fmt.Sprintf("test/crowd%04d", i), MessageID: fmt.Sprintf("crowd%04d", i), Type: "identify",
				Source: "test", Timestamp: at, ReceivedAt: at, Identifiers: []graph.IdentifierRef{{Type: "user_id", Value: fmt.Sprintf("u-crowd%04d", i)}}})
		}
		res, err := svc.Engine.ApplyBatch(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		crowd := map[string]string{} // profile id -> user id
		for i, r := range res.Results {
			if r.Status != graph.StatusStored || r.ProfileID == "" {
				t.Fatalf("crowd event %d: %+v", i, r)
			}
			crowd[r.ProfileID] = fmt.Sprintf("u-crowd%04d", i)
		}
		if len(crowd) != 1200 {
			t.Fatalf("the crowd is %d profiles, want 1200", len(crowd))
		}
		stop()
		_, dial = startQuietService(t, st)

		as := st.(audience.Store)
		now := graph.Now()
		everyone, ads, big := audience.NewAudienceID(), audience.NewAudienceID(), audience.NewAudienceID()
		f := audience.Filter{Identifier: &audience.IdentifierCondition{Type: "email"}}
		for _, a := range []audience.Audience{
			{ID: everyone, Name: "everyone", Filter: f, CreatedAt: now, UpdatedAt: now},
			{ID: ads, Name: "ads", Filter: f, Purpose: "advertising", CreatedAt: now, UpdatedAt: now},
			{ID: big, Name: "big", Filter: f, CreatedAt: now, UpdatedAt: now},
		} {
			if err := as.PutAudience(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(as.ApplyMembership(ctx, everyone, []string{ann, bob, cy}, nil, now))
		must(as.ApplyMembership(ctx, ads, []string{ann, bob, cy, dee}, nil, now))
		// big: the three and the crowd, over three pages.
		bigIDs := []string{ann, bob, cy}
		for p := range crowd {
			bigIDs = append(bigIDs, p)
		}
		must(as.ApplyMembership(ctx, big, bigIDs, nil, now))

		url := func(id, query string) string {
			u := "http://" + dial + "/v1/audiences/" + id + "/export"
			if query != "" {
				u += "?" + query
			}
			return u
		}
		// rows sorts lines by profile id (their first field), as the export
		// orders members.
		rows := func(lines ...string) string {
			sort.Strings(lines)
			return strings.Join(lines, "")
		}
		audits := 0

		// Raw CSV, default identifiers, with pii:read.
		r := send(t, "GET", url(everyone, ""), "", analyst, "")
		audits++
		want := "profile_id,email,phone,user_id\n" + rows(
			ann+",ann.lee@work.example|ann@example.com,+33612345678,u-ann\n",
			bob+`,,+14155550123,u\|bob`+"\n",
			cy+",cy@example.org,,\n")
		if r.status != 200 || r.body != want {
			t.Errorf("CSV export: %d\n%s\nwant\n%s", r.status, r.body, want)
		}
		if ct := r.header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
			t.Errorf("CSV Content-Type %q", ct)
		}
		if m, x := r.header.Get("X-CDP-Members"), r.header.Get("X-CDP-Excluded"); m != "3" || x != "0" {
			t.Errorf("CSV export headers: members %q excluded %q, want 3 and 0", m, x)
		}

		// Hashed NDJSON without pii:read; the purpose leaves Cy (no answer)
		// and Dee (denied) out.
		r = send(t, "GET", url(ads, "format=ndjson&identifiers=email,phone&hash=sha256"), "", marketer, "")
		audits++
		want = rows(
			`{"profileId":"`+ann+`","email":["`+sha("ann.lee@work.example")+`","`+sha("ann@example.com")+`"],"phone":["`+sha("+33612345678")+`"]}`+"\n",
			`{"profileId":"`+bob+`","email":[],"phone":["`+sha("+14155550123")+`"]}`+"\n") +
			`{"kind":"summary","members":2,"excluded":2}` + "\n"
		if r.status != 200 || r.body != want {
			t.Errorf("hashed NDJSON export: %d\n%s\nwant\n%s", r.status, r.body, want)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/x-ndjson" {
			t.Errorf("NDJSON Content-Type %q", ct)
		}
		if m, x := r.header.Get("X-CDP-Members"), r.header.Get("X-CDP-Excluded"); m != "2" || x != "2" {
			t.Errorf("NDJSON export headers: members %q excluded %q, want 2 and 2", m, x)
		}

		// A type that is not personal needs no pii:read, even raw.
		r = send(t, "GET", url(ads, "identifiers=user_id"), "", marketer, "")
		audits++
		want = "profile_id,user_id\n" + rows(ann+",u-ann\n", bob+`,u\|bob`+"\n")
		if r.status != 200 || r.body != want || r.header.Get("X-CDP-Excluded") != "2" {
			t.Errorf("user_id export without pii:read: %d %v\n%s\nwant\n%s", r.status, r.header, r.body, want)
		}

		// Hashed CSV of every type, anonymous ids included.
		r = send(t, "GET", url(everyone, "identifiers=anonymous_id,email&hash=sha256"), "", marketer, "")
		audits++
		want = "profile_id,anonymous_id,email\n" + rows(
			ann+",,"+sha("ann.lee@work.example")+"|"+sha("ann@example.com")+"\n",
			bob+",,\n",
			cy+","+sha("anon-cy")+","+sha("cy@example.org")+"\n")
		if r.status != 200 || r.body != want {
			t.Errorf("hashed CSV export: %d\n%s\nwant\n%s", r.status, r.body, want)
		}

		// Three pages: every member once, in id order.
		r = send(t, "GET", url(big, "identifiers=user_id"), "", marketer, "")
		audits++
		lines := []string{ann + ",u-ann\n", bob + `,u\|bob` + "\n", cy + ",\n"}
		for p, u := range crowd {
			lines = append(lines, p+","+u+"\n")
		}
		want = "profile_id,user_id\n" + rows(lines...)
		if r.status != 200 || r.body != want || r.header.Get("X-CDP-Members") != "1203" {
			t.Errorf("export over three pages: %d, %d bytes, members %q; want %d bytes, 1203 members",
				r.status, len(r.body), r.header.Get("X-CDP-Members"), len(want))
		}

		// HEAD: the counts, no body.
		r = send(t, "HEAD", url(ads, "hash=sha256"), "", marketer, "")
		audits++
		if r.status != 200 || r.body != "" || r.header.Get("X-CDP-Members") != "2" || r.header.Get("X-CDP-Excluded") != "2" {
			t.Errorf("HEAD: %d %v %q", r.status, r.header, r.body)
		}

		// Raw personal values without pii:read: 403 naming it.
		r = send(t, "GET", url(everyone, "format=ndjson"), "", marketer, "")
		audits++
		if msg, code := errBody(r); r.status != http.StatusForbidden || code != "FORBIDDEN" || !strings.Contains(msg, "pii:read") {
			t.Errorf("raw export without pii:read: %d %s, want 403 FORBIDDEN naming pii:read", r.status, r.body)
		}
		if strings.Contains(r.body, "example") {
			t.Errorf("the refusal holds personal data: %s", r.body)
		}
		// Without audiences:read, or without a key: the guard refuses; the
		// first is audited, the second not.
		if r := send(t, "GET", url(everyone, ""), "", reader, ""); r.status != http.StatusForbidden || !strings.Contains(r.body, "audiences:read") {
			t.Errorf("export with a key lacking audiences:read: %d %s, want 403 naming audiences:read", r.status, r.body)
		}
		audits++
		if r := send(t, "GET", url(everyone, ""), "", "", ""); r.status != http.StatusUnauthorized {
			t.Errorf("export without a key: %d %s, want 401", r.status, r.body)
		}

		// Unknown audiences: 404.
		for _, id := range []string{audience.NewAudienceID(), "nope"} {
			r = send(t, "GET", url(id, ""), "", analyst, "")
			audits++
			msg, code := errBody(r)
			if r.status != http.StatusNotFound || code != "NOT_FOUND" {
				t.Errorf("export of unknown audience %s: %d %s, want 404 NOT_FOUND", id, r.status, r.body)
			}
			// An id of another shape is said to be one, without repeating it.
			if want := map[bool]string{true: "no audience with this id", false: "not an audience id"}[audience.ValidAudienceID(id)]; !strings.Contains(msg, want) || strings.Contains(msg, id) {
				t.Errorf("export of unknown audience %s says %q, want %q and not the id", id, msg, want)
			}
		}

		// Bad parameters: 400 naming the parameter.
		for _, c := range []struct{ query, name string }{
			{"format=xml", "format"},
			{"hash=md5", "hash"},
			{"identifiers=email,fax", "identifiers"},
			{"identifiers=email,,phone", "identifiers"},
			{"identifiers=email,email", "identifiers"},
			{"identifiers=Ann@Example.com", "identifiers"},
			{"format=csv&format=ndjson", "format"},
			{"identifier=email", "identifier"},
		} {
			r = send(t, "GET", url(everyone, c.query), "", analyst, "")
			audits++
			msg, code := errBody(r)
			if r.status != http.StatusBadRequest || code != "INVALID_ARGUMENT" || !strings.Contains(msg, c.name) {
				t.Errorf("?%s: %d %s, want 400 INVALID_ARGUMENT naming %s", c.query, r.status, r.body, c.name)
			}
			if strings.Contains(msg, "Ann@") {
				t.Errorf("?%s: the error echoes a personal value: %s", c.query, msg)
			}
		}
		if msg, _ := errBody(send(t, "GET", url(everyone, "identifiers=fax"), "", analyst, "")); !strings.Contains(msg, `"fax"`) {
			t.Errorf("unknown identifier type: %q does not name it", msg)
		}
		audits++

		// Another method: 405, not audited.
		if r := send(t, "POST", url(everyone, ""), "", analyst, "{}"); r.status != http.StatusMethodNotAllowed {
			t.Errorf("POST to the export: %d %s, want 405", r.status, r.body)
		}

		// One audit entry per request past the key check.
		es, err := st.(access.Store).Audit(ctx, access.AuditQuery{Action: server.AudienceExportAction, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != audits {
			t.Fatalf("%d audience.export audit entries, want %d", len(es), audits)
		}
		outcomes := map[string]int{}
		var first *access.AuditEntry
		for i, e := range es {
			outcomes[e.Outcome]++
			if e.Reason == "audience "+everyone+"; format=csv; identifiers=email,phone,user_id" && e.KeyName == "analyst" {
				first = &es[i]
			}
		}
		if want := map[string]int{"ok": 6, "FORBIDDEN": 2, "NOT_FOUND": 2, "INVALID_ARGUMENT": 9}; fmt.Sprint(outcomes) != fmt.Sprint(want) {
			t.Errorf("audit outcomes %v, want %v", outcomes, want)
		}
		if first == nil {
			t.Fatalf("no audit entry for the first export: %+v", es)
		}
		if wantIDs := slices.Sorted(slices.Values([]string{ann, bob, cy})); first.Outcome != "ok" || first.ProfileCount != 3 || !slices.Equal(first.ProfileIDs, wantIDs) {
			t.Errorf("first export's entry: %+v, want ok with profiles %v", *first, wantIDs)
		}
		for _, e := range es {
			if e.Reason == "audience "+big+"; format=csv; identifiers=user_id" && (e.ProfileCount != 1203 || len(e.ProfileIDs) != access.MaxAuditProfileIDs) {
				t.Errorf("big export's entry: %d profiles, %d ids; want 1203 and %d", e.ProfileCount, len(e.ProfileIDs), access.MaxAuditProfileIDs)
			}
		}
	})
}

// Consent is read at the time of the export: a grant that expired since
// the membership was kept (the keeper's refresh has not run) leaves the
// member out, counted; a grant with no end, or one that ends later, keeps
// her in.
func TestAudienceExportConsentNow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ctx := context.Background()
		web := sourcedKey(t, st, "site", "web", "events:write")
		marketer := sourcedKey(t, st, "marketer", "", "audiences:read")
		// As above, the events go in through a first service, stopped
		// before the audience exists.
		svc, dial, _, stop := startService(t, st, "127.0.0.1:0", app.Auth{})
		sendTo(t, dial, web, "identify", `{"userId":"u-eve","messageId":"e1","timestamp":"2026-01-01T10:00:00Z","traits":{"email":"eve@example.com"}}`)
		sendTo(t, dial, web, "identify", `{"userId":"u-fay","messageId":"f1","timestamp":"2026-01-01T10:00:00Z","traits":{"email":"fay@example.com"}}`)
		sendTo(t, dial, web, "identify", `{"userId":"u-gus","messageId":"g1","timestamp":"2026-01-01T10:00:00Z","traits":{"email":"gus@example.com"}}`)
		var ids []string
		for _, u := range []string{"u-eve", "u-fay", "u-gus"} {
			p, err := svc.Engine.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: "user_id", Value: u})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, p.ID)
		}
		eve, fay, gus := ids[0], ids[1], ids[2]
		stop()
		_, dial = startQuietService(t, st)
		now := graph.Now()
		grant := func(key string, expires time.Time) privacy.Record {
			at := now.Add(-48 * time.Hour)
			return privacy.Record{ID: privacy.NewRecordID(), Purpose: "advertising", Status: privacy.StatusGranted, At: at, Source: "test",
				LegalBasis: privacy.BasisConsent, Identifier: key, ExpiresAt: expires, ReceivedAt: at, Proof: privacy.Proof{Version: "v1"}}
		}
		// Stored directly: no commit touches the profiles, so the keeper
		// does not see them.
		if err := st.(privacy.ConsentStore).PutConsent(ctx, []privacy.Record{
			grant("user_id:u-eve", now.Add(-time.Hour)),
			grant("email:fay@example.com", time.Time{}),
			grant("user_id:u-gus", now.Add(240*time.Hour)),
		}); err != nil {
			t.Fatal(err)
		}
		as := st.(audience.Store)
		id := audience.NewAudienceID()
		if err := as.PutAudience(ctx, audience.Audience{ID: id, Name: "ads", Purpose: "advertising",
			Filter: audience.Filter{Identifier: &audience.IdentifierCondition{Type: "email"}}, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := as.ApplyMembership(ctx, id, ids, nil, now); err != nil {
			t.Fatal(err)
		}
		r := send(t, "GET", "http://"+dial+"/v1/audiences/"+id+"/export?format=ndjson&identifiers=email&hash=sha256", "", marketer, "")
		lines := []string{
			`{"profileId":"` + fay + `","email":["` + sha("fay@example.com") + `"]}` + "\n",
			`{"profileId":"` + gus + `","email":["` + sha("gus@example.com") + `"]}` + "\n",
		}
		sort.Strings(lines)
		want := strings.Join(lines, "") + `{"kind":"summary","members":2,"excluded":1}` + "\n"
		if r.status != 200 || r.body != want || r.header.Get("X-CDP-Excluded") != "1" || strings.Contains(r.body, eve) {
			t.Errorf("export with Eve's grant expired: %d %v\n%s\nwant\n%s", r.status, r.header, r.body, want)
		}
	})
}

// A member merged away since the keeper last kept the membership is no
// longer a member: its identifiers and consent belong to the profile it
// merged into. The export neither counts it as left out for consent (it
// has no identifiers of its own, so no GRANTED state) nor sends it as an
// empty row: members and excluded add up to the people, each once.
func TestAudienceExportLeavesMergedMembersOut(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ctx := context.Background()
		web := sourcedKey(t, st, "site", "web", "events:write")
		marketer := sourcedKey(t, st, "marketer", "", "audiences:read", "pii:read")
		svc, dial, _, stop := startService(t, st, "127.0.0.1:0", app.Auth{})
		// Hal grants advertising under his user id; his anonymous visit
		// gave an email; Ivy never answers.
		sendTo(t, dial, web, "identify", `{"userId":"u-hal","messageId":"h1","timestamp":"2026-01-01T10:00:00Z","traits":{"email":"hal@example.com"},"context":{"consent":{"categoryPreferences":{"Advertising":true}}}}`)
		sendTo(t, dial, web, "identify", `{"anonymousId":"anon-hal","messageId":"h2","timestamp":"2026-01-01T11:00:00Z","traits":{"email":"hal.other@example.com"}}`)
		sendTo(t, dial, web, "identify", `{"userId":"u-ivy","messageId":"i1","timestamp":"2026-01-01T12:00:00Z","traits":{"email":"ivy@example.com"}}`)
		pid := profileIDOf(t, svc.Engine)
		hal, anon, ivy := pid("user_id", "u-hal"), pid("anonymous_id", "anon-hal"), pid("user_id", "u-ivy")
		if len(map[string]bool{hal: true, anon: true, ivy: true}) != 3 {
			t.Fatalf("the three profiles are not three: %s %s %s", hal, anon, ivy)
		}
		// The two ids of Hal as members, then the merge.
		as := st.(audience.Store)
		now := graph.Now()
		ads, all := audience.NewAudienceID(), audience.NewAudienceID()
		f := audience.Filter{Identifier: &audience.IdentifierCondition{Type: "email"}}
		stop()
		// Started before the audiences are stored, it makes no catch-up
		// round; the merge below goes through another engine, whose
		// commits its keeper does not see.
		_, dial = startQuietService(t, st)
		for _, a := range []audience.Audience{
			{ID: ads, Name: "ads", Filter: f, Purpose: "advertising", CreatedAt: now, UpdatedAt: now},
			{ID: all, Name: "all", Filter: f, CreatedAt: now, UpdatedAt: now},
		} {
			storetest.Must(t, as.PutAudience(ctx, a))
			storetest.Must(t, as.ApplyMembership(ctx, a.ID, []string{hal, anon, ivy}, nil, now))
		}
		// Merged without the keeper knowing, so the membership stays as
		// written: the keeper would drop the merged id within moments.
		survivor, err := graph.NewEngine(st, nil).MergeProfiles(ctx, []string{hal, anon}, "same person")
		storetest.Must(t, err)
		gone := hal
		if survivor.ID == hal {
			gone = anon
		}
		if survivor.ID != hal && survivor.ID != anon {
			t.Fatalf("the merge of %s and %s kept %s", hal, anon, survivor.ID)
		}

		// With the purpose: Hal (under the survivor, granted) sent, Ivy left
		// out; the merged-away id neither.
		r := send(t, "GET", "http://"+dial+"/v1/audiences/"+ads+"/export?format=ndjson&identifiers=email", "", marketer, "")
		want := `{"profileId":"` + survivor.ID + `","email":["hal.other@example.com","hal@example.com"]}` + "\n" +
			`{"kind":"summary","members":1,"excluded":1}` + "\n"
		if r.status != 200 || r.body != want || r.header.Get("X-CDP-Members") != "1" || r.header.Get("X-CDP-Excluded") != "1" {
			t.Errorf("export of an audience with a purpose and a merged-away member %s: %d members %q excluded %q\n%s\nwant\n%s",
				gone, r.status, r.header.Get("X-CDP-Members"), r.header.Get("X-CDP-Excluded"), r.body, want)
		}
		// Without a purpose: Hal once and Ivy, no empty row.
		r = send(t, "GET", "http://"+dial+"/v1/audiences/"+all+"/export?identifiers=email", "", marketer, "")
		lines := []string{survivor.ID + ",hal.other@example.com|hal@example.com\n", ivy + ",ivy@example.com\n"}
		sort.Strings(lines)
		want = "profile_id,email\n" + strings.Join(lines, "")
		if r.status != 200 || r.body != want || r.header.Get("X-CDP-Members") != "2" || r.header.Get("X-CDP-Excluded") != "0" {
			t.Errorf("export of an audience with a merged-away member %s: %d members %q excluded %q\n%s\nwant\n%s",
				gone, r.status, r.header.Get("X-CDP-Members"), r.header.Get("X-CDP-Excluded"), r.body, want)
		}
	})
}
