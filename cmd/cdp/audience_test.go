package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"os"
	"path/filepath"
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
	"github.com/idgraph/cdp/server"
)

// startApp runs the service on st and returns its base URL and a stop
// function (also called at the end of the test). refresh is its
// AudienceRefresh.
func startApp(t *testing.T, st graph.Store, refresh time.Duration) (string, *app.Service, func()) {
	t.Helper()
	ln, err := server.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := app.Defaults()
	cfg.Store, cfg.Listener, cfg.Logger = st, ln, zerolog.Nop()
	cfg.AudienceRefresh = refresh
	svc, err := app.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc.Start()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			if err := svc.Close(context.Background()); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(stop)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return "http://127.0.0.1:" + port, svc, stop
}

func newTestKey(t *testing.T, st graph.Store, name, source string, scopes ...string) string {
	t.Helper()
	k, secret, err := access.NewKey(name, scopes, source, time.Time{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.(access.Store).CreateKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return secret
}

func collect(t *testing.T, base, writeKey, typ, msg string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/v1/"+typ, strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(writeKey, "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d", typ, msg, resp.StatusCode)
	}
}

func hexSHA(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// cdp audience export against a running service, on both stores: the file
// holds the hand-worked CSV or NDJSON, private to the user, and the summary
// line counts members and those left out; refusals exit 1 (403, 404) or 2
// (a 400, bad flags) with one line naming the problem and leave no file.
func TestAudienceExportCommand(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ctx := context.Background()
		web := newTestKey(t, st, "site", "web", "events:write")
		analyst := newTestKey(t, st, "analyst", "", "audiences:read", "pii:read")
		marketer := newTestKey(t, st, "marketer", "", "audiences:read")

		// Events through a first service, stopped (its keeper done) before
		// the membership is written by hand.
		base, svc, stop := startApp(t, st, 0)
		collect(t, base, web, "identify", `{"userId":"u-ann","messageId":"a1","timestamp":"2026-01-01T10:00:00Z","traits":{"email":"Ann@Example.com","phone":"+1 415 555 0100"},"context":{"consent":{"categoryPreferences":{"Advertising":true}}}}`)
		collect(t, base, web, "identify", `{"userId":"u-bob","messageId":"b1","timestamp":"2026-01-01T11:00:00Z","traits":{"email":"bob@example.com"}}`)
		collect(t, base, web, "identify", `{"userId":"u-cat","messageId":"c1","timestamp":"2026-01-01T12:00:00Z","traits":{"email":"cat@example.com"},"context":{"consent":{"categoryPreferences":{"Advertising":true}}}}`)
		var ids []string
		for _, u := range []string{"u-ann", "u-bob", "u-cat"} {
			p, err := svc.Engine.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: "user_id", Value: u})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, p.ID)
		}
		ann, cat := ids[0], ids[2]
		stop()
		// The second service starts before the audience is stored, so its
		// start makes no catch-up round over the membership written here.
		base, _, _ = startApp(t, st, -1)
		now := graph.Now()
		id := audience.NewAudienceID()
		as := st.(audience.Store)
		if err := as.PutAudience(ctx, audience.Audience{ID: id, Name: "ads", Purpose: "advertising",
			Filter: audience.Filter{Identifier: &audience.IdentifierCondition{Type: "email"}}, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := as.ApplyMembership(ctx, id, ids, nil, now); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		sorted := func(lines ...string) string {
			sort.Strings(lines)
			return strings.Join(lines, "")
		}

		// CSV with raw values: Bob gave no consent.
		out := filepath.Join(dir, "ads.csv")
		stdout, stderr, code := runCDP(t, nil, "audience", "export", "--server", base, "--key", analyst, "--out", out, id)
		if code != 0 {
			t.Fatalf("export: exit %d, stderr %s", code, stderr)
		}
		want := "profile_id,email,phone,user_id\n" + sorted(
			ann+",ann@example.com,+14155550100,u-ann\n",
			cat+",cat@example.com,,u-cat\n")
		if b, err := os.ReadFile(out); err != nil || string(b) != want {
			t.Errorf("ads.csv (%v):\n%s\nwant\n%s", err, b, want)
		}
		if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("ads.csv mode %v (%v), want 0600", fi.Mode().Perm(), err)
		}
		if wantOut := "exported 2 members of audience " + id + " to " + out + "; 1 left out for missing consent\n"; stdout != wantOut {
			t.Errorf("stdout %q, want %q", stdout, wantOut)
		}

		// NDJSON (from the file name), hashed, with a key without pii:read
		// given in the environment.
		out = filepath.Join(dir, "ads.ndjson")
		stdout, stderr, code = runCDP(t, []string{"CDP_API_KEY=" + marketer}, "audience", "export", "--server", base,
			"--identifiers", "email", "--hash", "sha256", id, "--out", out)
		if code != 0 {
			t.Fatalf("hashed export: exit %d, stderr %s", code, stderr)
		}
		want = sorted(
			`{"profileId":"`+ann+`","email":["`+hexSHA("ann@example.com")+`"]}`+"\n",
			`{"profileId":"`+cat+`","email":["`+hexSHA("cat@example.com")+`"]}`+"\n") +
			`{"kind":"summary","members":2,"excluded":1}` + "\n"
		if b, err := os.ReadFile(out); err != nil || string(b) != want {
			t.Errorf("ads.ndjson (%v):\n%s\nwant\n%s", err, b, want)
		}
		if !strings.Contains(stdout, "exported 2 members") || !strings.Contains(stdout, "1 left out") {
			t.Errorf("hashed export stdout %q", stdout)
		}

		// To standard output; the summary goes to stderr.
		stdout, stderr, code = runCDP(t, nil, "audience", "export", "--server", base, "--key", marketer,
			"--identifiers", "user_id", "--out", "-", id)
		if want := "profile_id,user_id\n" + sorted(ann+",u-ann\n", cat+",u-cat\n"); code != 0 || stdout != want ||
			!strings.Contains(stderr, "exported 2 members of audience "+id+" to standard output") {
			t.Errorf("export to stdout: exit %d\n%s\nwant\n%s\nstderr %s", code, stdout, want, stderr)
		}

		// Refusals: one line, no file, nothing left behind.
		refused := filepath.Join(dir, "refused.csv")
		for _, c := range []struct {
			name string
			args []string
			code int
			want string
		}{
			{"raw without pii:read", []string{"--key", marketer, id}, 1, "403 FORBIDDEN"},
			{"no key", []string{id}, 1, "401 UNAUTHENTICATED"},
			{"unknown audience", []string{"--key", analyst, audience.NewAudienceID()}, 1, "404 NOT_FOUND"},
			{"unknown identifier type", []string{"--key", analyst, "--identifiers", "fax", id}, 2, `400 INVALID_ARGUMENT: identifiers[0]: unknown identifier type "fax"`},
			{"bad format", []string{"--key", analyst, "--format", "xml", id}, 2, "--format must be csv or ndjson"},
			{"bad hash", []string{"--key", analyst, "--hash", "md5", id}, 2, "--hash must be sha256"},
			{"no id", []string{"--key", analyst}, 2, "give the audience ID"},
		} {
			args := append([]string{"audience", "export", "--server", base, "--out", refused}, c.args...)
			_, stderr, code := runCDP(t, nil, args...)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if code != c.code || len(lines) != 1 || !strings.HasPrefix(lines[0], "cdp audience: ") || !strings.Contains(lines[0], c.want) {
				t.Errorf("%s: exit %d, stderr %q; want exit %d and one line naming %q", c.name, code, stderr, c.code, c.want)
			}
		}
		if _, _, code := runCDP(t, nil, "audience", "export", "--server", base, "--key", analyst, id); code != 2 {
			t.Errorf("no --out: exit %d, want 2", code)
		}
		if _, _, code := runCDP(t, nil, "audience", "export", "--server", "http://127.0.0.1:1", "--key", analyst, "--out", refused, id); code != 1 {
			t.Errorf("server unreachable: exit %d, want 1", code)
		}
		// A file already there: a refused export leaves it as it was, a
		// complete one replaces it.
		csvPath := filepath.Join(dir, "ads.csv")
		before, err := os.ReadFile(csvPath)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, code := runCDP(t, nil, "audience", "export", "--server", base, "--key", marketer, "--out", csvPath, id); code != 1 {
			t.Errorf("refused export over ads.csv: exit %d, want 1", code)
		}
		if b, err := os.ReadFile(csvPath); err != nil || string(b) != string(before) {
			t.Errorf("after a refused export ads.csv holds (%v):\n%s\nwant it as it was:\n%s", err, b, before)
		}
		if _, stderr, code := runCDP(t, nil, "audience", "export", "--server", base, "--key", marketer, "--identifiers", "user_id", "--out", csvPath, id); code != 0 {
			t.Fatalf("export over ads.csv: exit %d, stderr %s", code, stderr)
		}
		if b, err := os.ReadFile(csvPath); err != nil || string(b) != "profile_id,user_id\n"+sorted(ann+",u-ann\n", cat+",u-cat\n") {
			t.Errorf("after a complete export ads.csv holds (%v):\n%s", err, b)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if strings.Join(names, " ") != "ads.csv ads.ndjson" {
			t.Errorf("files in the output directory: %v, want ads.csv ads.ndjson only", names)
		}
	})
}
