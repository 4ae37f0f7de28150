package ingest_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

const crmCSV = "\ufeffcustomer_id,Email,Mobile,First Name,Loyalty,signed_up,Store Card\n" +
	"c-1,Ada@Example.com,(415) 555-0100,Ada,gold,2024-01-02,card-1\n" +
	"c-2,bob@example.com,+44 20 7946 0958,Bob,,2024-02-03T10:00:00Z,\n" +
	"c-3,carol@example.com,\"415.555.0199\",\"Carol, Jr.\",silver,2024-03-04 09:15:00,card-3\n" +
	"c-4,dave@example.com,,Dave,,not a date,\n" +
	",,,Nobody,,,\n" +
	"c-6,erin@example.com,,Erin\n" +
	"c-7,frank@example.com,4155550123,Frank,bronze,2024-05-06,card-7\n"

func crmConfig(server string, rejects *bytes.Buffer) ingest.ImportConfig {
	return ingest.ImportConfig{
		Server:   server,
		WriteKey: "wk-crm",
		Source:   "crm",
		Format:   ingest.FormatCSV,
		Identifiers: []ingest.Mapping{
			{Name: "user_id", Column: "customer_id"}, {Name: "email", Column: "Email"},
			{Name: "phone", Column: "Mobile"}, {Name: "loyalty_card", Column: "Store Card"},
		},
		Traits:          []ingest.Mapping{{Name: "first_name", Column: "First Name"}, {Name: "tier", Column: "Loyalty"}},
		TimestampColumn: "signed_up",
		BatchSize:       2,
		Concurrency:     2,
		Rejects:         rejects,
	}
}

// TestImportCSV: a CSV with a column mapping gives the expected profiles,
// phones in E.164; rejected rows are reported with line and reason; a
// second import of the same file adds no events.
func TestImportCSV(t *testing.T) {
	h := newHarness(t, storetest.Embedded(t), ingest.Config{})
	ctx := context.Background()
	var rejects bytes.Buffer
	stats, err := ingest.Import(ctx, strings.NewReader(crmCSV), crmConfig(h.srv.URL, &rejects))
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if stats.Rows != 7 || stats.Stored != 4 || stats.Rejected != 3 || stats.Duplicates != 0 {
		t.Fatalf("stats %+v, want 7 rows: 4 stored, 3 rejected", stats)
	}

	want := []struct{ user, phone, email, name string }{
		{"c-1", "+14155550100", "ada@example.com", "Ada"},
		{"c-2", "+442079460958", "bob@example.com", "Bob"},
		{"c-3", "+14155550199", "carol@example.com", "Carol, Jr."},
		{"c-7", "+14155550123", "frank@example.com", "Frank"},
	}
	for _, w := range want {
		p := h.profile(t, graph.TypeUserID, w.user)
		members, err := h.eng.Members(ctx, []string{p.ID})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, m := range members[p.ID] {
			keys = append(keys, m.Key)
		}
		joined := strings.Join(keys, " ")
		for _, k := range []string{"user_id:" + w.user, "phone:" + w.phone, "email:" + w.email} {
			if !strings.Contains(joined, k) {
				t.Errorf("profile of %s holds %v, missing %s", w.user, keys, k)
			}
		}
		traits := graph.FoldTraits(members[p.ID])
		if traits["first_name"].Value != w.name || traits["first_name"].Source != "crm" {
			t.Errorf("profile of %s: first_name %+v", w.user, traits["first_name"])
		}
		evs := h.journey(t, p.ID)
		if len(evs) != 1 || evs[0].Type != "identify" || evs[0].Source != "crm" {
			t.Errorf("journey of %s: %+v", w.user, evs)
		}
	}
	if p := h.profile(t, "loyalty_card", "card-3"); p.ID != h.profile(t, graph.TypeUserID, "c-3").ID {
		t.Error("the loyalty_card column did not link into the customer's profile")
	}
	c3 := h.journey(t, h.profile(t, graph.TypeUserID, "c-3").ID)[0]
	if !c3.Timestamp.Equal(time.Date(2024, 3, 4, 9, 15, 0, 0, time.UTC)) {
		t.Errorf("c-3 dated %s, want the signed_up column", c3.Timestamp)
	}
	if _, ok := graph.FoldTraits(mustMembers(t, h, "c-2"))["tier"]; ok {
		t.Error("an empty cell became a trait")
	}

	rr := csv.NewReader(strings.NewReader(rejects.String()))
	rr.FieldsPerRecord = -1 // a short row is written back as it was
	recs, err := rr.ReadAll()
	if err != nil {
		t.Fatalf("rejects file is not CSV: %v\n%s", err, rejects.String())
	}
	if strings.Join(recs[0][:3], ",") != "line,reason,customer_id" {
		t.Errorf("rejects header %v", recs[0])
	}
	reasons := map[string]string{}
	for _, r := range recs[1:] {
		reasons[r[0]] = r[1]
	}
	for line, says := range map[string]string{"5": "not an ISO-8601 time", "6": "no identifier", "7": "row has 4 fields, the header has 7"} {
		if !strings.Contains(reasons[line], says) {
			t.Errorf("rejects line %s: %q, want it to contain %q (all: %v)", line, reasons[line], says, reasons)
		}
	}

	// The same file again: every row is already there.
	var rejects2 bytes.Buffer
	again, err := ingest.Import(ctx, strings.NewReader(crmCSV), crmConfig(h.srv.URL, &rejects2))
	if err != nil {
		t.Fatal(err)
	}
	if again.Stored != 0 || again.Duplicates != 4 || again.Rejected != 3 {
		t.Fatalf("second import %+v: want nothing stored, 4 duplicates", again)
	}
	for _, w := range want {
		if n := len(h.journey(t, h.profile(t, graph.TypeUserID, w.user).ID)); n != 1 {
			t.Errorf("after the second import %s has %d events, want 1", w.user, n)
		}
	}
}

func mustMembers(t *testing.T, h *harness, user string) []graph.Identifier {
	t.Helper()
	p := h.profile(t, graph.TypeUserID, user)
	m, err := h.eng.Members(context.Background(), []string{p.ID})
	if err != nil {
		t.Fatal(err)
	}
	return m[p.ID]
}

// TestImportNDJSON: lines are Segment messages; a broken line is rejected
// locally with its number and does not spoil its batch; ids derived from
// content make a second import add nothing.
func TestImportNDJSON(t *testing.T) {
	h := newHarness(t, storetest.Embedded(t), ingest.Config{WriteKeys: map[string]string{}})
	input := strings.Join([]string{
		`{"type":"track","event":"Purchase","userId":"n-1","timestamp":"2024-06-01T10:00:00Z","properties":{"total":12}}`,
		``,
		`{"type":"track","event":"Purchase","userId":"n-1"`,
		`{"type":"identify","userId":"n-2","traits":{"email":"n2@example.com"}}`,
		`["not","an","object"]`,
		`{"type":"track","event":"Purchase","timestamp":"2024-06-01T10:00:00Z"}`,
		`{"type":"page","anonymousId":"n-a","name":"Home"}`,
	}, "\n")
	var rejects bytes.Buffer
	cfg := ingest.ImportConfig{Server: h.srv.URL, Source: "pos", Format: ingest.FormatNDJSON, Rejects: &rejects}
	stats, err := ingest.Import(context.Background(), strings.NewReader(input), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Rows != 6 || stats.Stored != 3 || stats.Rejected != 3 {
		t.Fatalf("stats %+v, want 6 lines: 3 stored, 3 rejected", stats)
	}
	out := rejects.String()
	for _, says := range []string{`"line":3,"reason":"malformed JSON`, `"line":5,"reason":"line must be a JSON object`, `"line":6,"reason":"message carries no identifier`} {
		if !strings.Contains(out, says) {
			t.Errorf("rejects %s\nmissing %s", out, says)
		}
	}
	evs := h.journey(t, h.profile(t, graph.TypeUserID, "n-1").ID)
	if len(evs) != 1 || evs[0].Source != "pos" {
		t.Fatalf("n-1 journey %+v: want one event from source pos (X-CDP-Source with no write keys)", evs)
	}
	cfg.Rejects = nil
	again, err := ingest.Import(context.Background(), strings.NewReader(input), cfg)
	if err != nil || again.Stored != 0 || again.Duplicates != 3 {
		t.Fatalf("second import %+v %v: want 3 duplicates", again, err)
	}
}

// TestImportRetriesBusyServer: 429 and 503 are retried with Retry-After,
// and a refusal of the whole request stops the import with the reason.
func TestImportRetriesBusyServer(t *testing.T) {
	h := newHarness(t, storetest.Embedded(t), ingest.Config{})
	var calls atomic.Int32
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "0")
			http.Error(w, `{"success":false,"error":"too many events waiting to be stored; retry later"}`, http.StatusTooManyRequests)
		case 2:
			http.Error(w, `{"success":false,"error":"the store is unavailable"}`, http.StatusServiceUnavailable)
		default:
			h.coll.Handler().ServeHTTP(w, r)
		}
	}))
	defer busy.Close()
	var rejects bytes.Buffer
	cfg := crmConfig(busy.URL, &rejects)
	cfg.BatchSize, cfg.Concurrency, cfg.MaxRetryWait = 100, 1, time.Millisecond
	stats, err := ingest.Import(context.Background(), strings.NewReader(crmCSV), cfg)
	if err != nil || stats.Stored != 4 || calls.Load() != 3 {
		t.Fatalf("import through a busy server: %+v %v after %d calls", stats, err, calls.Load())
	}

	cfg = crmConfig(h.srv.URL, &rejects)
	cfg.WriteKey = "wk-wrong"
	_, err = ingest.Import(context.Background(), strings.NewReader(crmCSV), cfg)
	var ie *ingest.ImportError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "write key not recognized") {
		t.Fatalf("wrong key: %v", err)
	}

	cfg = crmConfig(h.srv.URL, &rejects)
	cfg.Source = "web" // the key wk-crm belongs to source crm
	if _, err = ingest.Import(context.Background(), strings.NewReader(crmCSV), cfg); err == nil || !strings.Contains(err.Error(), `does not match the write key's source "crm"`) {
		t.Fatalf("source mismatch: %v", err)
	}

	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"success":false,"error":"the store is unavailable"}`, http.StatusServiceUnavailable)
	}))
	defer down.Close()
	cfg = crmConfig(down.URL, &rejects)
	cfg.MaxAttempts, cfg.MaxRetryWait = 3, time.Millisecond
	if _, err = ingest.Import(context.Background(), strings.NewReader(crmCSV), cfg); err == nil || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Fatalf("server that stays down: %v", err)
	}
}

func TestImportConfigErrors(t *testing.T) {
	base := func() ingest.ImportConfig {
		return ingest.ImportConfig{Server: "http://127.0.0.1:1", Source: "crm", Format: ingest.FormatCSV,
			Identifiers: []ingest.Mapping{{Name: "email", Column: "Email"}}}
	}
	cases := []struct {
		name  string
		edit  func(*ingest.ImportConfig)
		input string
		says  string
	}{
		{"no source", func(c *ingest.ImportConfig) { c.Source = "" }, "Email\n", "no source"},
		{"reserved source", func(c *ingest.ImportConfig) { c.Source = "manual" }, "Email\n", `source "manual" is reserved`},
		{"bad format", func(c *ingest.ImportConfig) { c.Format = "xlsx" }, "Email\n", `format "xlsx"`},
		{"no mapping", func(c *ingest.ImportConfig) { c.Identifiers = nil }, "Email\n", "at least one --map"},
		{"bad type", func(c *ingest.ImportConfig) { c.Identifiers[0].Name = "E-mail" }, "Email\n", "not an identifier type"},
		{"missing column", func(c *ingest.ImportConfig) {}, "mail\n", `column "Email" is not in the CSV header, whose first row has 1 cells`},
		{"missing column, one named so but for punctuation", func(c *ingest.ImportConfig) {}, "id,E-mail\n", `did you mean "E-mail"?`},
		{"missing column, one named in another case", func(c *ingest.ImportConfig) {}, "id,EMAIL\n", `did you mean "EMAIL"?`},
		{"empty input", func(c *ingest.ImportConfig) {}, "", "empty"},
		// Taking the first of two columns of one name dropped the
		// other's values without a word.
		{"mapped column twice in the header", func(c *ingest.ImportConfig) {}, "Email,Name,Email\nann@example.com,Ann,ann@home.example\n",
			`--map email=Email: column "Email" appears 2 times in the CSV header (cells 1 and 3)`},
		{"mapped trait column three times", func(c *ingest.ImportConfig) {
			c.Traits = []ingest.Mapping{{Name: "plan", Column: "Plan"}}
		}, "Email,Plan,Plan, Plan\nann@example.com,pro,gold,free\n", `--trait plan=Plan: column "Plan" appears 3 times in the CSV header (cells 2, 3 and 4)`},
		{"not a URL", func(c *ingest.ImportConfig) { c.Server = "localhost:8080" }, "Email\n", "not an http:// or https:// URL"},
		// traits.email is the email identifier: a trait of that name would
		// take the place of the mapped column, which was then lost.
		{"trait over a mapped email", func(c *ingest.ImportConfig) {
			c.Traits = []ingest.Mapping{{Name: "email", Column: "Email2"}}
		}, "Email,Email2\nann@example.com,ann@home.example\n", "--trait email=Email2"},
		{"trait over a mapped phone", func(c *ingest.ImportConfig) {
			c.Identifiers = append(c.Identifiers, ingest.Mapping{Name: "phone", Column: "Mobile"})
			c.Traits = []ingest.Mapping{{Name: "phone", Column: "Home"}}
		}, "Email,Mobile,Home\nann@example.com,+14155550100,+14155550199\n", "--trait phone=Home"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := base()
			c.edit(&cfg)
			_, err := ingest.Import(context.Background(), strings.NewReader(c.input), cfg)
			if err == nil || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("error %v, want it to contain %q", err, c.says)
			}
		})
	}
}

// A file without a header row has a customer in its first row: a column
// that is not found never repeats those cells.
func TestImportMissingColumnRepeatsNoCell(t *testing.T) {
	cfg := ingest.ImportConfig{Server: "http://127.0.0.1:1", Source: "crm", Format: ingest.FormatCSV,
		Identifiers: []ingest.Mapping{{Name: "email", Column: "Email"}, {Name: "phone", Column: "Phone"}}}
	_, err := ingest.Import(context.Background(), strings.NewReader("Emily Quist,ann@example.com,+14155550100,Emil\n"), cfg)
	if err == nil || !strings.Contains(err.Error(), `column "Email" is not in the CSV header, whose first row has 4 cells`) {
		t.Fatalf("error %v, want it to name the column Email and the 4 cells", err)
	}
	for _, cell := range []string{"Emil", "Quist", "ann@example.com", "4155550100"} {
		if strings.Contains(err.Error(), cell) {
			t.Fatalf("error %q repeats the cell %q of the first row", err, cell)
		}
	}
}

// TestImportIdsWhateverTheBatchSize: one file imported one request at a
// time gives every identifier the same profile id whether its rows go one
// per request or all in one. Row 1 carries c-1 alone and row 2 adds an
// email: c-1 was seen first, so its profile keeps its id. Row 3 carries a
// phone alone and row 4 adds c-2 to it: the phone's profile keeps its id.
func TestImportIdsWhateverTheBatchSize(t *testing.T) {
	const file = "customer_id,Email,Mobile\n" +
		"c-1,,\n" +
		"c-1,ann@example.com,\n" +
		",,+14155550100\n" +
		"c-2,,+14155550100\n"
	want := map[graph.IdentifierRef]string{
		{Type: graph.TypeUserID, Value: "c-1"}:            graph.ProfileIDFor("user_id:c-1", 0),
		{Type: graph.TypeEmail, Value: "ann@example.com"}: graph.ProfileIDFor("user_id:c-1", 0),
		{Type: graph.TypePhone, Value: "+14155550100"}:    graph.ProfileIDFor("phone:+14155550100", 0),
		{Type: graph.TypeUserID, Value: "c-2"}:            graph.ProfileIDFor("phone:+14155550100", 0),
	}
	for _, batch := range []int{1, 50} {
		h := newHarness(t, storetest.Embedded(t), ingest.Config{})
		cfg := ingest.ImportConfig{
			Server: h.srv.URL, WriteKey: "wk-crm", Source: "crm", Format: ingest.FormatCSV,
			Identifiers: []ingest.Mapping{{Name: "user_id", Column: "customer_id"}, {Name: "email", Column: "Email"}, {Name: "phone", Column: "Mobile"}},
			BatchSize:   batch, Concurrency: 1, Rejects: &bytes.Buffer{},
		}
		stats, err := ingest.Import(context.Background(), strings.NewReader(file), cfg)
		if err != nil || stats.Stored != 4 {
			t.Fatalf("--batch %d: import: %+v, %v", batch, stats, err)
		}
		for ref, id := range want {
			if got := h.profile(t, ref.Type, ref.Value).ID; got != id {
				t.Errorf("--batch %d: %s %s is in %s, want %s", batch, ref.Type, ref.Value, got, id)
			}
		}
	}
}

// TestImportCountsUnsureDuplicates: a request whose first attempt was
// stored but answered 503 (a lost answer) is sent again, and its rows come
// back as already present; they are counted as Unsure too, since this
// import may have stored them. Rows found present after a 429, which
// stores nothing, or on a plain second import, are not.
func TestImportCountsUnsureDuplicates(t *testing.T) {
	h := newHarness(t, storetest.Embedded(t), ingest.Config{})
	var calls atomic.Int32
	var refusal atomic.Int32 // the status of the first attempt
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			if refusal.Load() == http.StatusServiceUnavailable {
				h.coll.Handler().ServeHTTP(httptest.NewRecorder(), r) // stored, answer lost
			}
			w.Header().Set("Retry-After", "0")
			http.Error(w, `{"success":false,"error":"retry later"}`, int(refusal.Load()))
			return
		}
		h.coll.Handler().ServeHTTP(w, r)
	}))
	defer flaky.Close()
	run := func(status int) ingest.ImportStats {
		t.Helper()
		calls.Store(0)
		refusal.Store(int32(status))
		cfg := crmConfig(flaky.URL, &bytes.Buffer{})
		cfg.BatchSize, cfg.Concurrency, cfg.MaxRetryWait = 100, 1, time.Millisecond
		stats, err := ingest.Import(context.Background(), strings.NewReader(crmCSV), cfg)
		if err != nil || calls.Load() != 2 {
			t.Fatalf("import, first attempt answered %d: %+v %v after %d calls", status, stats, err, calls.Load())
		}
		return stats
	}
	if s := run(http.StatusServiceUnavailable); s.Stored != 0 || s.Duplicates != 4 || s.Unsure != 4 || s.Rejected != 3 {
		t.Errorf("after a lost answer: %+v, want the 4 rows present, all 4 unsure, 3 rejected", s)
	}
	if s := run(http.StatusTooManyRequests); s.Stored != 0 || s.Duplicates != 4 || s.Unsure != 0 {
		t.Errorf("imported again, after a 429: %+v, want the 4 rows present, none unsure", s)
	}
}

// An NDJSON line is the message it would be live: importing messages that
// were already delivered to the collector stores nothing again, whether
// they carry a messageId or get the server's content-derived one.
func TestImportNDJSONOfMessagesSentLive(t *testing.T) {
	for name, msg := range map[string]string{
		"derived id": `{"type":"track","userId":"u-live","event":"Order Completed","properties":{"total":12},"timestamp":"2026-01-02T03:04:05Z"}`,
		"messageId":  `{"type":"track","messageId":"live-2","userId":"u-live","event":"Order Completed","properties":{"total":12},"timestamp":"2026-01-02T03:04:05Z"}`,
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, storetest.Embedded(t), ingest.Config{})
			r := h.rawPost(t, "/v1/track", []byte(msg), map[string]string{"Authorization": basic("wk-crm")})
			if r.status != http.StatusOK || r.body.Stored != 1 {
				t.Fatalf("live: %d %s", r.status, r.raw)
			}
			var rejects bytes.Buffer
			stats, err := ingest.Import(context.Background(), strings.NewReader(msg+"\n"), ingest.ImportConfig{
				Server: h.srv.URL, WriteKey: "wk-crm", Source: "crm", Format: ingest.FormatNDJSON, Concurrency: 1, Rejects: &rejects})
			if err != nil || stats.Duplicates != 1 || stats.Stored != 0 || stats.Rejected != 0 {
				t.Fatalf("import of a message sent live: %+v %v, rejects %q; want 1 duplicate", stats, err, rejects.String())
			}
			if evs := h.journey(t, h.profile(t, graph.TypeUserID, "u-live").ID); len(evs) != 1 {
				t.Fatalf("%d events stored for the person, want 1", len(evs))
			}
		})
	}
}

// TestImportCSVRefusesInvalidUTF8: a row of a file in another encoding
// (Latin-1 José and Josè) is refused as live traffic refuses it
// (invalid_utf8), never stored with U+FFFD in place of its bytes, which
// would make the two customers one; the rejects file keeps the row's
// bytes as read, and the valid row is stored.
func TestImportCSVRefusesInvalidUTF8(t *testing.T) {
	h := newHarness(t, storetest.Embedded(t), ingest.Config{})
	ctx := context.Background()
	in := "customer_id,Email\n" +
		"jos\xe9,jose@example.com\n" +
		"jos\xe8,josee@example.com\n" +
		"ana,ana@example.com\n"
	var rejects bytes.Buffer
	cfg := ingest.ImportConfig{
		Server: h.srv.URL, WriteKey: "wk-crm", Source: "crm", Format: ingest.FormatCSV,
		Identifiers: []ingest.Mapping{{Name: "user_id", Column: "customer_id"}, {Name: "email", Column: "Email"}},
		Rejects:     &rejects,
	}
	stats, err := ingest.Import(ctx, strings.NewReader(in), cfg)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if stats.Rows != 3 || stats.Stored != 1 || stats.Rejected != 2 {
		t.Fatalf("stats %+v, want 3 rows: 1 stored, 2 rejected", stats)
	}
	if p := h.profile(t, graph.TypeEmail, "ana@example.com"); p.ID == "" {
		t.Error("the valid row was not stored")
	}
	if _, err := h.eng.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: graph.TypeUserID, Value: "jos\uFFFD"}); graph.ErrorCode(err) != graph.ENOTFOUND {
		t.Errorf("user_id %q: %v, want not found", "jos\uFFFD", err)
	}
	for _, e := range []string{"jose@example.com", "josee@example.com"} {
		if _, err := h.eng.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: graph.TypeEmail, Value: e}); graph.ErrorCode(err) != graph.ENOTFOUND {
			t.Errorf("email %s of a refused row: %v, want not found", e, err)
		}
	}
	want := []string{
		`2,"invalid_utf8: column ""customer_id"" is not valid UTF-8 (first bad byte at offset 3); CSV input must be UTF-8",jos` + "\xe9" + `,jose@example.com`,
		`3,"invalid_utf8: column ""customer_id"" is not valid UTF-8 (first bad byte at offset 3); CSV input must be UTF-8",jos` + "\xe8" + `,josee@example.com`,
	}
	for _, w := range want {
		if !strings.Contains(rejects.String(), w+"\n") {
			t.Errorf("rejects file lacks the row %q:\n%s", w, rejects.String())
		}
	}
}

// A CSV row keeps the id and digest it had when imports sent
// {"context":{"library":{"name":"cdp-import"}}} as the batch's context: a
// file imported that way is a duplicate when imported again now. The row
// is built here by hand as the importer builds it (README, Bulk import).
func TestImportCSVAgainAfterBatchContextImports(t *testing.T) {
	h := newHarness(t, storetest.Embedded(t), ingest.Config{})
	row := map[string]any{"type": "identify", "userId": "c-9", "traits": map[string]any{"email": "zoe@example.com", "first_name": "Zoe"}}
	row["messageId"] = ingest.MessageID("crm", row)
	body := mustJSON(t, map[string]any{"context": map[string]any{"library": map[string]any{"name": "cdp-import"}}, "batch": []any{row}})
	if r := h.rawPost(t, "/v1/batch", body, map[string]string{"Authorization": basic("wk-crm")}); r.status != http.StatusOK || r.body.Stored != 1 {
		t.Fatalf("the earlier import's request: %d %s", r.status, r.raw)
	}
	var rejects bytes.Buffer
	stats, err := ingest.Import(context.Background(), strings.NewReader("id,mail,name\nc-9,zoe@example.com,Zoe\n"), ingest.ImportConfig{
		Server: h.srv.URL, WriteKey: "wk-crm", Source: "crm", Format: ingest.FormatCSV, Concurrency: 1, Rejects: &rejects,
		Identifiers: []ingest.Mapping{{Name: "user_id", Column: "id"}, {Name: "email", Column: "mail"}},
		Traits:      []ingest.Mapping{{Name: "first_name", Column: "name"}},
	})
	if err != nil || stats.Duplicates != 1 || stats.Stored != 0 || stats.Rejected != 0 {
		t.Fatalf("import again: %+v %v, rejects %q; want 1 duplicate", stats, err, rejects.String())
	}
}

// A library caller may set a per-message limit below the 256 bytes kept
// of a line over it: the line is still refused, whole and alone.
func TestImportSmallMessageLimit(t *testing.T) {
	var rejects bytes.Buffer
	line := `{"type":"track","event":"e","userId":"u","properties":{"x":"` + strings.Repeat("x", 80) + `"}}`
	for _, max := range []int{100, 20} {
		rejects.Reset()
		stats, err := ingest.Import(context.Background(), strings.NewReader(line+"\n"), ingest.ImportConfig{
			Server: "http://127.0.0.1:1", Source: "pos", Format: ingest.FormatNDJSON, MaxMessageBytes: max, Rejects: &rejects})
		if err != nil || stats.Rejected != 1 {
			t.Fatalf("limit %d: stats %+v, err %v; want the line rejected", max, stats, err)
		}
		if got := rejects.String(); !strings.Contains(got, fmt.Sprintf("message is %d bytes", len(line))) || !strings.Contains(got, `userId`) {
			t.Fatalf("limit %d: rejects %q, want the line's size and its start", max, got)
		}
	}
}
