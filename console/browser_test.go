package console_test

// Browser tests: Debian's chromium, driven by chromedp, against the real
// service running in this process on the embedded store. Each flow saves
// a screenshot in the test's artifact directory (go test -artifacts keeps
// them under -outputdir; CDP_CONSOLE_SHOTS names another directory). Every
// test fails on a console error, an uncaught exception or a failed request.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/server"
)

// chromium finds Debian's chromium. Under CI=true its absence fails the
// test; elsewhere the test is skipped (dev/test installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (apt-get install -y chromium; dev/test installs it)")
	}
	t.Skip("chromium is not installed; dev/test installs it")
	return ""
}

// service is the real service on a fresh embedded store.
type service struct {
	base  string // http://127.0.0.1:port
	store *embedded.Store
	// reg holds the service's metrics (waitSubscribed reads them).
	reg *prometheus.Registry
}

// startService starts the service; keys, when given, are created before it
// starts (scopes per name), so keys are enforced. It returns their secrets.
func startService(t *testing.T, keys map[string][]string) (*service, map[string]string) {
	t.Helper()
	return startServiceGraphiQL(t, keys, len(keys) == 0) // as cdp serve decides it: on in open mode
}

// startServiceGraphiQL is startService with GraphiQL served or not.
func startServiceGraphiQL(t *testing.T, keys map[string][]string, graphiql bool) (*service, map[string]string) {
	t.Helper()
	return startServiceConfig(t, keys, graphiql, nil)
}

// startServiceConfig is startServiceGraphiQL with the configuration
// changed by set, when not nil, before the service starts.
func startServiceConfig(t *testing.T, keys map[string][]string, graphiql bool, set func(*app.Config)) (*service, map[string]string) {
	t.Helper()
	st, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	secrets := map[string]string{}
	for name, scopes := range keys {
		source := ""
		if name == "site" {
			source = "web"
		}
		k, secret, err := access.NewKey(name, scopes, source, time.Time{}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateKey(context.Background(), k); err != nil {
			t.Fatal(err)
		}
		secrets[name] = secret
	}
	ln, err := server.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := app.Defaults()
	cfg.Store, cfg.Listener, cfg.Logger = st, ln, zerolog.New(io.Discard)
	cfg.GraphiQL = graphiql
	if set != nil {
		set(&cfg)
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
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
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return &service{base: "http://127.0.0.1:" + port, store: st, reg: cfg.Registry}, secrets
}

// waitSubscribed waits until the service holds n subscriptions open
// (cdp_subscriptions_active). The console says it is live once it has
// asked to subscribe, before the service has read the feed's head the
// subscription starts after: a change sent in between is never shown.
// A subscription the service counts reads every change committed after.
func (s *service) waitSubscribed(t *testing.T, n int) {
	t.Helper()
	got := -1.0
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		mfs, err := s.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got = -1
		for _, mf := range mfs {
			if mf.GetName() == "cdp_subscriptions_active" && len(mf.GetMetric()) == 1 {
				got = mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		if got == float64(n) {
			return
		}
	}
	t.Fatalf("the service holds %v subscriptions open, want %d", got, n)
}

// The people the flows look at. Ann's anonymous id also came with
// Mallory's user id: the rules refused that link (one user_id a profile).
var seedMessages = []struct{ typ, msg string }{
	{"identify", `{"userId":"u-ann","anonymousId":"anon-ann","messageId":"m1","timestamp":"2026-11-01T10:00:00Z","traits":{"email":"ann@example.com","name":"Ann Lee","plan":"gold"},"context":{"consent":{"categoryPreferences":{"Advertising":true,"Email":true}}}}`},
	{"track", `{"anonymousId":"anon-ann","messageId":"m2","event":"Product Viewed","timestamp":"2026-11-02T10:00:00Z","properties":{"sku":"A-1","price":20},"context":{"channel":"web","device":{"id":"dev-ann-phone"}}}`},
	{"track", `{"userId":"u-ann","messageId":"m3","event":"Order Completed","timestamp":"2026-11-03T10:00:00Z","properties":{"total":120,"currency":"EUR"},"context":{"channel":"mobile"}}`},
	{"page", `{"anonymousId":"anon-ann","messageId":"m4","name":"Home","timestamp":"2026-11-04T10:00:00Z"}`},
	{"identify", `{"userId":"u-mallory","anonymousId":"anon-ann","messageId":"m5","timestamp":"2026-11-05T10:00:00Z","traits":{"email":"mallory@example.org"}}`},
	{"identify", `{"userId":"u-bob","messageId":"b1","timestamp":"2026-11-01T11:00:00Z","traits":{"email":"bob@example.com","phone":"+14155550123","plan":"silver"},"context":{"consent":{"categoryPreferences":{"Advertising":false}}}}`},
	{"track", `{"userId":"u-bob","messageId":"b2","event":"Order Completed","timestamp":"2026-11-03T12:00:00Z","properties":{"total":30}}`},
	{"identify", `{"userId":"u-cy","messageId":"c1","timestamp":"2026-11-01T12:00:00Z","traits":{"email":"cy@example.net","plan":"gold"}}`},
	{"identify", `{"userId":"u-dee","messageId":"d1","timestamp":"2026-11-01T13:00:00Z","traits":{"email":"dee@example.net","plan":"bronze"}}`},
}

// seed sends the messages, and 45 more page views of Ann's, so that her
// journey is longer than a page.
func (s *service) seed(t *testing.T, writeKey string) {
	t.Helper()
	msgs := append([]struct{ typ, msg string }{}, seedMessages...)
	for i := 0; i < 45; i++ {
		msgs = append(msgs, struct{ typ, msg string }{"track", fmt.Sprintf(
			`{"userId":"u-ann","messageId":"v%d","event":"Page Scrolled","timestamp":"2026-10-%02dT%02d:00:00Z","properties":{"n":%d}}`, i, i%28+1, i%24, i)})
	}
	for _, m := range msgs {
		s.send(t, writeKey, m.typ, m.msg)
	}
}

// send posts one message to the collector.
func (s *service) send(t *testing.T, writeKey, typ, msg string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.base+"/v1/"+typ, strings.NewReader(msg))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(writeKey, "")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("sending %s: %d %s", typ, res.StatusCode, b)
	}
}

// goldAudience creates, with key, an audience named name of the profiles
// whose plan is gold, and returns its id.
func (s *service) goldAudience(t *testing.T, key, name string) string {
	t.Helper()
	var made struct{ CreateAudience struct{ ID string } }
	s.gql(t, key, `mutation($n:String!){createAudience(input:{name:$n,filter:{trait:{name:"plan",op:EQ,value:"gold"}}}){id}}`, map[string]any{"n": name}, &made)
	return made.CreateAudience.ID
}

// gql asks the API directly, apart from the browser: the independent
// expectation the console's answers are checked against.
func (s *service) gql(t *testing.T, key, query string, vars map[string]any, out any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, s.base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var env struct {
		Data   json.RawMessage
		Errors []struct{ Message string }
	}
	if err := json.NewDecoder(res.Body).Decode(&env); err != nil {
		t.Fatal(err)
	}
	if len(env.Errors) > 0 {
		t.Fatalf("%s: %s", query, env.Errors[0].Message)
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		t.Fatal(err)
	}
}

// waitFile waits for a download to land and returns its content.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return string(b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s was not downloaded within a minute", filepath.Base(path))
	return ""
}

// waitSize waits for the audience keeper to give the audience its size.
func (s *service) waitSize(t *testing.T, key, id string, want int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var a struct{ Audience struct{ Size int } }
		s.gql(t, key, `query($id:ID!){audience(id:$id){size}}`, map[string]any{"id": id}, &a)
		if a.Audience.Size == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("audience %s holds %d members, want %d", id, a.Audience.Size, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// revokeKey revokes, with the admin key, the key named name, and returns
// its id.
func (s *service) revokeKey(t *testing.T, admin, name string) string {
	t.Helper()
	var ks struct {
		APIKeys struct{ Nodes []struct{ ID, Name string } }
	}
	s.gql(t, admin, `{apiKeys{nodes{id name}}}`, nil, &ks)
	id := ""
	for _, k := range ks.APIKeys.Nodes {
		if k.Name == name {
			id = k.ID
		}
	}
	if id == "" {
		t.Fatalf("no key named %q", name)
	}
	var rv struct{ RevokeApiKey struct{ ID string } }
	s.gql(t, admin, `mutation($id:ID!){revokeApiKey(id:$id){id}}`, map[string]any{"id": id}, &rv)
	return id
}

func (s *service) profileID(t *testing.T, key, typ, value string) string {
	t.Helper()
	var d struct{ ProfileByIdentifier *struct{ ID string } }
	s.gql(t, key, `query($t:String!,$v:String!){profileByIdentifier(type:$t,value:$v){id}}`, map[string]any{"t": typ, "v": value}, &d)
	if d.ProfileByIdentifier == nil {
		return ""
	}
	return d.ProfileByIdentifier.ID
}

// tab is one browser tab with what went wrong in it recorded.
type tab struct {
	ctx      context.Context
	t        *testing.T
	shots    string
	mu       sync.Mutex
	problems []string
	allowed  []string // problems a test provokes on purpose
	gqlPosts int      // POST /graphql requests sent
	requests int      // every request sent
}

func newTab(t *testing.T, s *service) *tab {
	t.Helper()
	exe := chromium(t)
	// Not t.TempDir: chromium may still write to it while the test's
	// directories are removed.
	profile, err := os.MkdirTemp("", "cdp-console-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	ctx, cancelT := context.WithTimeout(ctx, 8*time.Minute)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA(); _ = os.RemoveAll(profile) })
	shots := os.Getenv("CDP_CONSOLE_SHOTS")
	if shots == "" {
		shots = t.ArtifactDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	tb := &tab{ctx: ctx, t: t, shots: shots}
	chromedp.ListenTarget(ctx, func(ev any) {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.APITypeError || e.Type == runtime.APITypeAssert {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				tb.problems = append(tb.problems, "console."+string(e.Type)+": "+strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			tb.problems = append(tb.problems, "uncaught: "+msg)
		case *log.EventEntryAdded:
			if e.Entry.Level == log.LevelError {
				tb.problems = append(tb.problems, "log: "+e.Entry.Text+" "+e.Entry.URL)
			}
		case *network.EventRequestWillBeSent:
			tb.requests++
			if e.Request.Method == http.MethodPost && strings.HasSuffix(e.Request.URL, "/graphql") {
				tb.gqlPosts++
			}
		case *network.EventResponseReceived:
			if e.Response.Status >= 400 {
				tb.problems = append(tb.problems, fmt.Sprintf("HTTP %d %s", e.Response.Status, e.Response.URL))
			}
		case *network.EventLoadingFailed:
			if !e.Canceled {
				tb.problems = append(tb.problems, "request failed: "+e.ErrorText)
			}
		}
	})
	tb.run(network.Enable(), log.Enable(), runtime.Enable(),
		browser.SetDownloadBehavior(browser.SetDownloadBehaviorBehaviorAllow).WithDownloadPath(shots).WithEventsEnabled(true))
	t.Cleanup(func() {
		tb.mu.Lock()
		defer tb.mu.Unlock()
	next:
		for _, p := range tb.problems {
			for _, a := range tb.allowed {
				if strings.Contains(p, a) {
					continue next
				}
			}
			t.Errorf("browser: %s", p)
		}
	})
	return tb
}

func (tb *tab) run(actions ...chromedp.Action) {
	tb.t.Helper()
	if err := chromedp.Run(tb.ctx, actions...); err != nil {
		tb.shot("failure")
		tb.t.Fatal(err)
	}
}

// eval runs JavaScript and decodes its result into out.
func (tb *tab) eval(js string, out any) {
	tb.t.Helper()
	tb.run(chromedp.Evaluate(js, out, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
}

// waitJS waits until the expression is true.
func (tb *tab) waitJS(what, js string) {
	tb.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var ok bool
		// A page that is navigating (a click on a link, a redirect) answers
		// "Inspected target navigated or closed" or "Execution context was
		// destroyed": the condition is asked again on the new page. Any
		// error still there at the deadline fails the test, and so does a
		// closed browser.
		err := chromedp.Run(tb.ctx, chromedp.Evaluate("(function () { try { return !!("+js+"); } catch (e) { return false; } })()", &ok))
		if err != nil && tb.ctx.Err() != nil {
			tb.t.Fatalf("waiting for %s: %v", what, err)
		}
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			tb.shot("timeout")
			if err != nil {
				tb.t.Fatalf("waiting for %s: gave up; the page answers: %v", what, err)
			}
			var text string
			_ = chromedp.Run(tb.ctx, chromedp.Evaluate(`document.getElementById("main").innerText.slice(0, 1500)`, &text))
			tb.t.Fatalf("waiting for %s: gave up; the page shows:\n%s", what, text)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (tb *tab) shot(name string) string {
	var buf []byte
	if err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(&buf, 100)); err != nil {
		tb.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	p := filepath.Join(tb.shots, name+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	return p
}

// viewShot saves what the window shows (the top of the page), or the card
// holding the element sel: the pictures docs/ shows.
func (tb *tab) viewShot(name, sel string) {
	tb.t.Helper()
	var buf []byte
	if sel == "" {
		tb.run(chromedp.CaptureScreenshot(&buf))
	} else {
		tb.run(chromedp.Screenshot(".card:has("+sel+")", &buf, chromedp.ByQuery))
	}
	if err := os.WriteFile(filepath.Join(tb.shots, name+".png"), buf, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

func (tb *tab) all() int {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.requests
}

func (tb *tab) posts() int {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.gqlPosts
}

// setValue types into an input through the events a user's typing fires.
func (tb *tab) setValue(sel, value string) {
	tb.t.Helper()
	tb.run(chromedp.WaitVisible(sel, chromedp.ByQuery), chromedp.Focus(sel, chromedp.ByQuery))
	sj, _ := json.Marshal(sel)
	vj, _ := json.Marshal(value)
	var ok bool
	tb.eval(fmt.Sprintf(`(function () { var el = document.querySelector(%s); if (!el) return false; el.value = ""; el.value = %s;
		el.dispatchEvent(new Event("input", { bubbles: true })); el.dispatchEvent(new Event("change", { bubbles: true })); return true; })()`, sj, vj), &ok)
	if !ok {
		tb.t.Fatalf("no %s to type into", sel)
	}
}

func (tb *tab) text(js string) string {
	var s string
	tb.eval(js, &s)
	return s
}

// axe runs the vendored axe-core on the page and fails on serious or
// critical violations.
func (tb *tab) axe(page string) {
	tb.t.Helper()
	var out struct {
		Passes     int
		Violations []struct {
			ID     string `json:"id"`
			Impact string `json:"impact"`
			Help   string `json:"help"`
			Nodes  []string
		}
	}
	// axe-core is not served (testdata, not static): it is evaluated
	// through the DevTools protocol, which the page's CSP does not govern.
	src, err := os.ReadFile("testdata/axe.min.js")
	if err != nil {
		tb.t.Fatal(err)
	}
	tb.run(chromedp.Evaluate("if (!window.axe) {"+string(src)+"\n}", nil))
	tb.eval(`axe.run(document).then(function (r) {
		return { Passes: r.passes.length, Violations: r.violations.filter(function (v) { return v.impact === "serious" || v.impact === "critical"; })
			.map(function (v) { return { id: v.id, impact: v.impact, help: v.help, Nodes: v.nodes.slice(0, 3).map(function (n) { return n.target.join(" "); }) }; }) };
	})`, &out)
	if out.Passes == 0 {
		tb.t.Errorf("axe on %s checked nothing", page)
	}
	for _, v := range out.Violations {
		tb.t.Errorf("axe on %s: %s (%s): %s at %v", page, v.ID, v.Impact, v.Help, v.Nodes)
	}
}

var allScopes = []string{"profiles:read", "pii:read", "events:write", "identity:write", "consent:write", "privacy:read",
	"privacy:write", "audiences:read", "audiences:write", "audit:read", "keys:admin"}

// signIn opens the console and signs in with the key.
func (tb *tab) signIn(base, key string) {
	tb.t.Helper()
	tb.run(chromedp.Navigate(base+"/console/"), chromedp.WaitVisible("#signin input[name=key]", chromedp.ByQuery))
	tb.setValue("#signin input[name=key]", key)
	tb.run(chromedp.Click("#signin button[type=submit]", chromedp.ByQuery))
	tb.waitJS("the search page", `document.getElementById("find-identifier")`)
}

// findByEmail searches for a profile by email and waits for its 360 view.
func (tb *tab) findByEmail(email string) string {
	tb.t.Helper()
	tb.run(chromedp.Navigate(strings.Split(tb.url(), "#")[0] + "#/search"))
	tb.waitJS("the search page", `document.getElementById("find-identifier")`)
	tb.setValue("#find-identifier input[name=type]", "email")
	tb.setValue("#find-identifier input[name=value]", email)
	tb.run(chromedp.Click("#find-identifier button[type=submit]", chromedp.ByQuery))
	tb.waitJS("the profile", `document.getElementById("main").getAttribute("data-rendered")`)
	return tb.text(`document.getElementById("main").getAttribute("data-rendered")`)
}

func (tb *tab) url() string {
	var u string
	tb.run(chromedp.Location(&u))
	return u
}

// The flows, in order, as one signed-in user with every scope.
func TestConsoleFlows(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	s.seed(t, keys["site"])
	admin := keys["admin"]
	tb := newTab(t, s)
	annID := s.profileID(t, admin, "email", "ann@example.com")
	if annID == "" {
		t.Fatal("Ann has no profile")
	}
	// A computed trait and an audience, so the 360 view has them to show.
	var made struct{ CreateAudience struct{ ID string } }
	s.gql(t, admin, `mutation{defineComputedTrait(input:{name:"orders",aggregate:COUNT,event:"Order Completed"}){name}}`, nil, &struct{}{})
	s.gql(t, admin, `mutation{createAudience(input:{name:"Buyers",filter:{event:{name:"Order Completed"}}}){id}}`, nil, &made)
	s.waitSize(t, admin, made.CreateAudience.ID, 2) // Ann and Bob

	// Sign in with a key.
	tb.signIn(s.base, admin)
	if got := tb.text(`document.getElementById("session").innerText`); !strings.Contains(got, "audit:read") || !strings.Contains(got, "Sign out") {
		t.Errorf("session shows %q, want the key's read scopes and a sign-out", got)
	}
	tb.shot("01-signed-in")
	tb.axe("search")

	// Search by filter: plan is gold or silver, as many as the API counts.
	tb.setValue("#main .builder .cond input", "plan")
	tb.eval(`(function () { var c = document.querySelector("#main .builder .cond"); var ops = c.querySelectorAll("select"); ops[1].value = "IN"; ops[1].dispatchEvent(new Event("change", { bubbles: true })); return true; })()`, nil)
	// An IN list is edited one value a row: a comma is part of a value.
	tb.setValue("#main .builder .cond input:not([spellcheck])", "gold")
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("#main .builder button"), function (b) { return b.textContent === "Add value"; }).click()`, nil)
	tb.waitJS("a second value", `document.querySelectorAll("#main .builder .cond input[name=value]").length === 2`)
	tb.setValue("#main .builder .cond .item:nth-child(2) input[name=value]", "silver")
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("#main button"), function (b) { return b.textContent === "Search"; }).click()`, nil)
	var filtered struct{ Profiles struct{ TotalCount int } }
	s.gql(t, admin, `query($f:AudienceFilter){profiles(filter:$f){totalCount}}`,
		map[string]any{"f": map[string]any{"and": []any{map[string]any{"trait": map[string]any{"name": "plan", "op": "IN", "value": []string{"gold", "silver"}}}}}}, &filtered)
	if filtered.Profiles.TotalCount < 2 {
		t.Fatalf("the API counts %d gold or silver profiles", filtered.Profiles.TotalCount)
	}
	tb.waitJS("the filtered profiles", fmt.Sprintf(`document.getElementById("main").innerText.indexOf("%d profiles match; page 1.") >= 0`, filtered.Profiles.TotalCount))
	var rows int
	tb.eval(`document.querySelectorAll('#main tbody tr').length`, &rows)
	if rows != filtered.Profiles.TotalCount {
		t.Errorf("the filtered search lists %d rows, the API counts %d", rows, filtered.Profiles.TotalCount)
	}

	// Find a profile by email: the profile the API names.
	if got := tb.findByEmail("Ann@Example.com"); got != annID {
		t.Fatalf("the console opened %s, the API says Ann is %s", got, annID)
	}

	// The 360 view in one GraphQL request, from a fresh page load.
	tb.run(chromedp.Navigate("about:blank"))
	before, beforeAll := tb.posts(), tb.all()
	tb.run(chromedp.Navigate(s.base + "/console/#/profile/" + annID))
	tb.waitJS("the profile", `document.getElementById("main").getAttribute("data-rendered")`)
	tb.waitJS("the graph drawn", `document.getElementById("graph").cy`)
	if n := tb.posts() - before; n != 2 { // the sign-in probe of a fresh page, then the 360 view
		t.Errorf("loading the profile page sent %d GraphQL requests, want 2 (scopes, then the 360 view)", n)
	}
	var views []struct {
		Requests int
		Ms       float64
	}
	tb.eval(`window.cdpConsoleStats.views`, &views)
	if len(views) != 1 || views[0].Requests != 1 {
		t.Errorf("the 360 view took %+v, want one view of one request", views)
	}
	var firstRender float64
	tb.eval(`performance.getEntriesByName("cdp-profile-rendered")[0].startTime`, &firstRender)
	t.Logf("time to first render of the profile page (from navigation start): %.0f ms; the 360 request and render: %.0f ms", firstRender, views[0].Ms)
	t.Logf("a fresh load of the profile page sent %d HTTP requests in all (files, mode.json, GraphQL; the subscription's websocket is not one)", tb.all()-beforeAll)
	_ = os.WriteFile(filepath.Join(tb.shots, "profile-render.txt"), []byte(fmt.Sprintf("navigation_to_render_ms %.0f\nview_ms %.0f\nview_graphql_requests %d\nload_requests %d\n",
		firstRender, views[0].Ms, views[0].Requests, tb.all()-beforeAll)), 0o644)
	page := tb.text(`document.getElementById("main").innerText`)
	for _, want := range []string{"ann@example.com", "anon-ann", "dev-ann-phone", "plan", "gold", "advertising", "GRANTED", "Order Completed", "orders", "Buyers"} {
		if !strings.Contains(page, want) {
			t.Errorf("the 360 view lacks %q", want)
		}
	}
	tb.shot("02-profile-360")
	tb.run(emulation.SetDeviceMetricsOverride(1280, 1500, 1, false))
	tb.viewShot("profile-360", "")
	tb.run(emulation.ClearDeviceMetricsOverride())
	tb.axe("profile")

	// See its journey, to the end through infinite scroll.
	var journey struct {
		Profile struct {
			Journey struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
	}
	s.gql(t, admin, `query($id:ID!){profile(id:$id){journey(first:500){edges{node{id}}}}}`, map[string]any{"id": annID}, &journey)
	total := len(journey.Profile.Journey.Edges)
	if total <= 20 {
		t.Fatalf("Ann's journey has %d events; the test needs more than a page", total)
	}
	// Scrolled to the last event listed until every page is in, however
	// slowly they load (ten scrolls could all come while one page
	// loaded, and nothing then asked for the next). The end of the list
	// is scrolled out of sight and back each time, with a pause after
	// each move in which the page draws: the list's end coming into
	// sight is what asks for the next page.
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		var n int
		tb.eval(`(function () { document.getElementById("journey").firstElementChild.scrollIntoView(); return true; })()`, new(bool))
		time.Sleep(150 * time.Millisecond)
		tb.eval(`(function () { var l = document.getElementById("journey"); l.lastElementChild.scrollIntoView(); return l.children.length; })()`, &n)
		if n == total {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	tb.waitJS(fmt.Sprintf("all %d journey events", total), fmt.Sprintf(`document.getElementById("journey").children.length === %d`, total))
	tb.shot("03-journey")

	// Open an edge's explanation: first from the drawing.
	tb.run(chromedp.Evaluate(`window.scrollTo(0, document.getElementById("graph").getBoundingClientRect().top + window.scrollY - 80)`, nil))
	tb.eval(`(function () { var cy = document.getElementById("graph").cy; cy.edges("[refused = 1]").first().emit("tap"); return true; })()`, nil)
	tb.waitJS("the refusal explained", `(document.getElementById("explanation") || {}).innerText && document.getElementById("explanation").innerText.indexOf("limit 1") >= 0`)
	// Then the link between Ann's user id and anonymous id, from the list.
	edge := `(function () { var rows = document.querySelectorAll("tr[data-edge]"); for (var i = 0; i < rows.length; i++) {
		var t = rows[i].innerText; if (t.indexOf("anon-ann") >= 0 && t.indexOf("u-ann") >= 0 && t.indexOf("refused") < 0) return rows[i]; } return null; })()`
	tb.eval(edge+`.querySelector("button").click()`, nil)
	tb.waitJS("the link explained", `(document.getElementById("explanation") || {}).innerText && document.getElementById("explanation").innerText.indexOf("web/m1") >= 0 && document.querySelector("#explanation button")`)
	tb.shot("04-identity-graph")
	tb.viewShot("identity-graph", "#h-graph")

	// Unlink it, with a reason and a confirmation, then see the split.
	tb.run(chromedp.Click("#explanation button", chromedp.ByQuery), chromedp.WaitVisible("dialog[open] textarea", chromedp.ByQuery))
	tb.run(chromedp.Click(`dialog[open] button[value=ok]`, chromedp.ByQuery)) // no reason yet: refused
	tb.waitJS("the reason asked for", `document.querySelector("dialog[open]") && document.querySelector("dialog[open]").innerText.indexOf("A reason is required") >= 0`)
	tb.setValue("dialog[open] textarea", "support ticket 42: shared tablet")
	tb.run(chromedp.Click(`dialog[open] button[value=ok]`, chromedp.ByQuery))
	tb.waitJS("the split shown", `(document.getElementById("notice") || {}).innerText && document.getElementById("notice").innerText.indexOf("split into") >= 0 && document.getElementById("main").getAttribute("data-rendered")`)
	annAfter, anonAfter := s.profileID(t, admin, "email", "ann@example.com"), s.profileID(t, admin, "anonymous_id", "anon-ann")
	if annAfter == anonAfter {
		t.Fatalf("after the unlink the API still has Ann's email and anonymous id in one profile %s", annAfter)
	}
	notice := tb.text(`document.getElementById("notice").innerText`)
	if !strings.Contains(notice, annAfter) || !strings.Contains(notice, anonAfter) {
		t.Errorf("the split notice %q does not name both parts %s and %s", notice, annAfter, anonAfter)
	}
	if h := tb.text(`(document.getElementById("history") || {innerText: ""}).innerText`); !strings.Contains(h, "SPLIT") {
		t.Errorf("the history after the unlink shows %q, want a SPLIT", h)
	}
	tb.shot("05-after-unlink")

	// Build an audience: plan is gold. Its live count is previewAudience's.
	tb.run(chromedp.Navigate(s.base+"/console/#/audiences"), chromedp.WaitVisible("#audience-form", chromedp.ByQuery))
	tb.setValue("#audience-form input[name=name]", "Gold plan")
	tb.setValue("#audience-form .cond input", "plan")
	tb.setValue("#audience-form .cond input:not([spellcheck])", "gold")
	filter := map[string]any{"and": []any{map[string]any{"trait": map[string]any{"name": "plan", "op": "EQ", "value": "gold"}}}}
	var pv struct{ PreviewAudience struct{ Count int } }
	s.gql(t, admin, `query($f:AudienceFilter!){previewAudience(filter:$f){count}}`, map[string]any{"f": filter}, &pv)
	want := pv.PreviewAudience.Count
	if want == 0 {
		t.Fatal("previewAudience counts no gold profile; the test needs some")
	}
	tb.waitJS(fmt.Sprintf("the live count %d", want), fmt.Sprintf(`(document.getElementById("preview-count") || {}).textContent === "%d"`, want))
	tb.shot("06-audience-builder")
	tb.axe("audiences")
	tb.run(chromedp.Click(`#audience-form button[type=submit]`, chromedp.ByQuery))
	tb.waitJS("the audience saved", `document.getElementById("saved")`)
	audID := tb.text(`document.getElementById("saved").getAttribute("data-id")`)
	var saved struct{ Audience *struct{ Name string } }
	s.gql(t, admin, `query($id:ID!){audience(id:$id){name}}`, map[string]any{"id": audID}, &saved)
	if saved.Audience == nil || saved.Audience.Name != "Gold plan" {
		t.Fatalf("the API has %+v under the saved id", saved.Audience)
	}
	// The keeper fills the membership within moments; export once it has.
	s.waitSize(t, admin, audID, want)
	tb.run(chromedp.Navigate(s.base + "/console/#/audiences"))
	tb.waitJS("the audience listed", fmt.Sprintf(`document.querySelector('tr[data-audience="%s"]')`, audID))
	tb.run(chromedp.Click(fmt.Sprintf(`tr[data-audience="%s"] button`, audID), chromedp.ByQuery))
	tb.waitJS("the export done", `document.getElementById("export-result")`)
	if got := tb.text(`document.getElementById("export-result").getAttribute("data-members")`); got != fmt.Sprint(want) {
		t.Errorf("the export holds %q members, want %d", got, want)
	}
	body := waitFile(t, filepath.Join(tb.shots, "audience-"+audID+".csv"))
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	if len(lines) != want+1 || lines[0] != "profile_id,email,phone,user_id" || !strings.Contains(string(body), "cy@example.net") {
		t.Errorf("the downloaded CSV is %q, want a header and %d rows, Cy's email among them", body, want)
	}
	tb.shot("07-audience-exported")
	// Hashed: SHA-256 of the stored values, which needs no pii:read.
	tb.run(chromedp.Click("input[name=hashed]", chromedp.ByQuery))
	tb.eval(`document.getElementById("export-result").remove()`, nil)
	tb.run(chromedp.Click(fmt.Sprintf(`tr[data-audience="%s"] button`, audID), chromedp.ByQuery))
	tb.waitJS("the hashed export done", `document.getElementById("export-result")`)
	hashed := waitFile(t, filepath.Join(tb.shots, "audience-"+audID+"-sha256.csv"))
	cy := sha256.Sum256([]byte("cy@example.net"))
	if !strings.Contains(hashed, hex.EncodeToString(cy[:])) || strings.Contains(hashed, "cy@example.net") {
		t.Errorf("the hashed CSV is %q, want Cy's email as its SHA-256 only", hashed)
	}

	// Edit the audience's name, then delete the other one.
	tb.run(chromedp.Navigate(s.base + "/console/#/audiences/" + audID))
	tb.waitJS("the audience in the editor", `document.querySelector("#audience-form input[name=name]") && document.querySelector("#audience-form input[name=name]").value === "Gold plan" && document.querySelector("#audience-form .cond input").value === "plan"`)
	tb.setValue("#audience-form input[name=name]", "Gold plan, edited")
	tb.run(chromedp.Click(`#audience-form button[type=submit]`, chromedp.ByQuery))
	tb.waitJS("the audience saved", `document.getElementById("saved")`)
	s.gql(t, admin, `query($id:ID!){audience(id:$id){name}}`, map[string]any{"id": audID}, &saved)
	if saved.Audience == nil || saved.Audience.Name != "Gold plan, edited" {
		t.Errorf("after the edit the API has %+v", saved.Audience)
	}
	buyers := made.CreateAudience.ID
	tb.waitJS("Buyers listed", fmt.Sprintf(`document.querySelector('tr[data-audience="%s"]')`, buyers))
	tb.eval(fmt.Sprintf(`Array.prototype.find.call(document.querySelectorAll('tr[data-audience="%s"] button'), function (b) { return b.textContent === "Delete"; }).click()`, buyers), nil)
	tb.run(chromedp.WaitVisible("dialog[open]", chromedp.ByQuery), chromedp.Click(`dialog[open] button[value=ok]`, chromedp.ByQuery))
	tb.waitJS("Buyers gone from the list", fmt.Sprintf(`document.querySelector('tr[data-audience="%s"]') === null && document.querySelector('tr[data-audience="%s"]')`, buyers, audID))
	var gone struct{ Audience *struct{ ID string } }
	s.gql(t, admin, `query($id:ID!){audience(id:$id){id}}`, map[string]any{"id": buyers}, &gone)
	if gone.Audience != nil {
		t.Errorf("the API still has the deleted audience")
	}

	// Forget a profile (Bob) and see the receipt.
	bobID := s.profileID(t, admin, "email", "bob@example.com")
	tb.run(chromedp.Navigate(s.base+"/console/#/privacy?profile="+bobID), chromedp.WaitVisible("input[name=profile]", chromedp.ByQuery))
	tb.axe("privacy")
	// Bob's data export, downloaded before he is forgotten.
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("button"), function (b) { return b.textContent === "Download data export"; }).click()`, nil)
	tb.waitJS("the data export downloaded", `document.getElementById("export-done")`)
	export := waitFile(t, filepath.Join(tb.shots, "profile-"+bobID+".ndjson"))
	if first, _, _ := strings.Cut(export, "\n"); !strings.Contains(first, `"kind":"header"`) || !strings.Contains(export, "bob@example.com") {
		t.Errorf("the data export is %q, want the NDJSON header first and Bob's email unmasked", export)
	}
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("button"), function (b) { return b.textContent.indexOf("Forget") === 0; }).click()`, nil)
	tb.run(chromedp.WaitVisible("dialog[open] textarea", chromedp.ByQuery))
	tb.setValue("dialog[open] textarea", "erasure request by email")
	tb.setValue("dialog[open] input[name=confirm]", "wrong")
	tb.run(chromedp.Click(`dialog[open] button[value=ok]`, chromedp.ByQuery))
	tb.waitJS("the typed confirmation refused", `document.querySelector("dialog[open]") && document.querySelector("dialog[open]").innerText.indexOf("exactly to confirm") >= 0`)
	if id := s.profileID(t, admin, "email", "bob@example.com"); id != bobID {
		t.Fatalf("Bob was erased before the confirmation was typed")
	}
	tb.setValue("dialog[open] input[name=confirm]", bobID)
	tb.run(chromedp.Click(`dialog[open] button[value=ok]`, chromedp.ByQuery))
	tb.waitJS("the receipt", `document.getElementById("receipt")`)
	receipt := tb.text(`document.getElementById("receipt").innerText`)
	var rec struct {
		ErasureReceipts struct {
			Nodes []struct {
				ID          string
				Identifiers int
			}
		}
	}
	s.gql(t, admin, `{erasureReceipts(first:1){nodes{id identifiers}}}`, nil, &rec)
	if len(rec.ErasureReceipts.Nodes) != 1 || !strings.Contains(receipt, rec.ErasureReceipts.Nodes[0].ID) ||
		!strings.Contains(receipt, fmt.Sprintf("Identifiers erased\n%d", rec.ErasureReceipts.Nodes[0].Identifiers)) {
		t.Errorf("the receipt shown:\n%s\ndoes not match the API's %+v", receipt, rec.ErasureReceipts.Nodes)
	}
	if id := s.profileID(t, admin, "email", "bob@example.com"); id != "" {
		t.Errorf("Bob is still stored as %s after the receipt", id)
	}
	tb.shot("08-forget-receipt")
	// The audit log, filtered by action, lists the erasure.
	tb.setValue("input[name=profileId]", "")
	tb.setValue("input[name=action]", "forgetProfile")
	tb.eval(`(function () { document.querySelector("input[name=action]").form.requestSubmit(); return true; })()`, nil)
	tb.waitJS("the audit log lists the erasure", `(function () { var t = document.getElementById("main").innerText;
		return t.indexOf("forgetProfile") >= 0 && t.indexOf("Profile360") < 0 && t.indexOf("erasure request by email") >= 0; })()`)
	tb.shot("09-audit-log")

	// The console follows the system's dark theme, and reads at 390 px.
	tb.run(emulation.SetEmulatedMedia().WithFeatures([]*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}),
		chromedp.Navigate(s.base+"/console/#/profile/"+annAfter))
	tb.waitJS("the profile", `document.getElementById("main").getAttribute("data-rendered")`)
	if bg := tb.text(`getComputedStyle(document.body).backgroundColor`); bg != "rgb(17, 20, 24)" {
		t.Errorf("dark theme: body background %s", bg)
	}
	tb.axe("profile (dark)")
	// A change to the profile appears without a reload, through the
	// profileChanged subscription.
	tb.waitJS("the subscription", `document.getElementById("live").textContent.indexOf("Live") === 0`)
	s.waitSubscribed(t, 1)
	tb.eval(`window.sameDocument = true`, nil)
	s.send(t, keys["site"], "track", `{"userId":"u-ann","messageId":"live1","event":"Coupon Redeemed","timestamp":"2026-11-20T10:00:00Z"}`)
	tb.waitJS("the new event shown", `window.sameDocument && document.getElementById("journey").innerText.indexOf("Coupon Redeemed") >= 0`)
	tb.shot("10-profile-dark")
	tb.run(emulation.SetDeviceMetricsOverride(390, 844, 2, true), chromedp.Reload())
	tb.waitJS("the profile", `document.getElementById("main").getAttribute("data-rendered")`)
	var wide int
	tb.eval(`document.documentElement.scrollWidth`, &wide)
	if wide > 390 {
		t.Errorf("at 390 px the page is %d px wide: it scrolls sideways", wide)
	}
	tb.shot("11-profile-390px")

	// Merge Ann's parts again, the other found by search, with a reason.
	tb.run(emulation.ClearDeviceMetricsOverride(), chromedp.Navigate(s.base+"/console/#/profile/"+annAfter))
	tb.waitJS("the profile", `document.getElementById("main").getAttribute("data-rendered")`)
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("#main button"), function (b) { return b.textContent.indexOf("Merge with") === 0; }).click()`, nil)
	tb.run(chromedp.WaitVisible("dialog[open] input[name=mvalue]", chromedp.ByQuery))
	tb.setValue("dialog[open] input[name=mtype]", "anonymous_id")
	tb.setValue("dialog[open] input[name=mvalue]", "anon-ann")
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("dialog[open] button"), function (b) { return b.textContent === "Find"; }).click()`, nil)
	tb.waitJS("the other profile found", fmt.Sprintf(`document.querySelector("dialog[open]").innerText.indexOf("Found %s") >= 0`, anonAfter))
	tb.setValue("dialog[open] textarea", "same person, confirmed by phone")
	tb.run(chromedp.Click(`dialog[open] button[value=ok]`, chromedp.ByQuery))
	tb.waitJS("the merged profile", `document.getElementById("main").getAttribute("data-rendered") && document.querySelectorAll("#main tr[data-key]").length === 4`)
	if a, b := s.profileID(t, admin, "email", "ann@example.com"), s.profileID(t, admin, "anonymous_id", "anon-ann"); a != b {
		t.Errorf("after the merge the API has Ann in %s and %s", a, b)
	}
	tb.shot("12-merged")
}

// A key without pii:read sees masked values only, and what its scopes
// forbid is disabled with the reason.
func TestConsoleMaskedWithoutPII(t *testing.T) {
	s, keys := startService(t, map[string][]string{"support": {"profiles:read"}, "site": {"events:write"}})
	s.seed(t, keys["site"])
	tb := newTab(t, s)
	// A wrong key is refused, and said so.
	tb.mu.Lock()
	tb.allowed = append(tb.allowed, "HTTP 401 "+s.base+"/graphql", "status of 401 (Unauthorized) "+s.base+"/graphql")
	tb.mu.Unlock()
	tb.run(chromedp.Navigate(s.base+"/console/"), chromedp.WaitVisible("#signin input[name=key]", chromedp.ByQuery))
	tb.setValue("#signin input[name=key]", "cdp_not_a_key")
	tb.run(chromedp.Click("#signin button[type=submit]", chromedp.ByQuery))
	tb.waitJS("the refusal", `document.getElementById("main").innerText.indexOf("The key was refused") >= 0 && document.getElementById("signin")`)
	// Signed in with the keyboard alone: the key field has the focus.
	tb.run(chromedp.Reload(), chromedp.WaitVisible("#signin input[name=key]", chromedp.ByQuery))
	tb.waitJS("the focus in the key field", `document.activeElement && document.activeElement.name === "key"`)
	tb.run(chromedp.KeyEvent(keys["support"]), chromedp.KeyEvent("\r"))
	tb.waitJS("the search page", `document.getElementById("find-identifier")`)
	tb.findByEmail("ann@example.com")
	// A link explained from the keyboard: its button focused, then Enter.
	tb.eval(`(function () { document.querySelector("tr[data-edge] button").focus(); return document.activeElement.textContent; })()`, nil)
	tb.run(chromedp.KeyEvent("\r"))
	tb.waitJS("the link's details", `document.querySelector("#edge-panel h3")`)
	page := tb.text(`document.body.innerText`)
	for _, raw := range []string{"ann@example.com", "mallory@example.org", "Ann Lee"} {
		if strings.Contains(page, raw) {
			t.Errorf("a key without pii:read sees %q", raw)
		}
	}
	// Known from viewer at sign-in, before any refusal: the write
	// controls are disabled with the reason from the start.
	for _, want := range []string{"a***@example.com", "Personal values are masked", "Needs the audiences:read scope", "Needs the identity:write scope"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	var disabled bool
	tb.eval(`Array.prototype.some.call(document.querySelectorAll("button"), function (b) { return b.textContent.indexOf("Download data export") === 0 && b.disabled; })`, &disabled)
	if !disabled {
		t.Errorf("the data export is not disabled for a key without privacy:read; the session shows %q", tb.text(`document.getElementById("session").innerText + Array.prototype.map.call(document.querySelectorAll("button"), function (b) { return b.outerHTML; }).join("\n")`))
	}
	var hidden bool
	tb.eval(`document.getElementById("nav-graphiql").hidden`, &hidden)
	if !hidden {
		t.Error("the console links GraphiQL, which this server does not serve")
	}
	tb.shot("masked-profile")
	tb.axe("profile (masked)")
}

// GraphiQL loads from the embedded files alone: no request leaves the
// server, and the editor renders.
func TestGraphiQLOffline(t *testing.T) {
	s, _ := startService(t, nil)
	tb := newTab(t, s)
	var external []string
	var mu sync.Mutex
	chromedp.ListenTarget(tb.ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && !strings.HasPrefix(e.Request.URL, s.base) && !strings.HasPrefix(e.Request.URL, "data:") && !strings.HasPrefix(e.Request.URL, "blob:") {
			mu.Lock()
			external = append(external, e.Request.URL)
			mu.Unlock()
		}
	})
	// Open mode: the console needs no key, and links GraphiQL.
	tb.run(chromedp.Navigate(s.base + "/console/"))
	tb.waitJS("the search page without a key", `document.getElementById("find-identifier") && document.getElementById("session").innerText.indexOf("Open mode") === 0 && !document.getElementById("nav-graphiql").hidden`)
	tb.run(chromedp.Click("#nav-graphiql a", chromedp.ByQuery))
	tb.waitJS("GraphiQL's editor", `document.querySelector(".graphiql-container .CodeMirror")`)
	tb.shot("graphiql")
	mu.Lock()
	defer mu.Unlock()
	if len(external) > 0 {
		t.Errorf("GraphiQL requested other hosts: %v", external)
	}
}

// GraphiQL's query history holds each query's headers, the console's key
// among them: it is kept in the tab's sessionStorage with the key, never in
// localStorage, which outlives the tab and the console's sign-out.
func TestGraphiQLKeepsTheKeyInTheTab(t *testing.T) {
	s, _ := startService(t, nil)
	tb := newTab(t, s)
	const key = "cdp_ZZnotakeyZZ"
	tb.run(chromedp.Navigate(s.base + "/console/"))
	tb.eval(`sessionStorage.setItem("cdp.console.key", "`+key+`"); localStorage.clear(); true`, new(bool))
	tb.run(chromedp.Navigate(s.base + "/graphiql"))
	tb.waitJS("GraphiQL's editor", `document.querySelector(".graphiql-query-editor .CodeMirror")`)
	tb.eval(`document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.setValue("{ __typename }"); true`, new(bool))
	tb.run(chromedp.Click(".graphiql-execute-button", chromedp.ByQuery))
	tb.waitJS("the query in the tab's history", `(sessionStorage.getItem("graphiql:queries") || "").indexOf("__typename") >= 0`)
	var stored string
	tb.eval(`JSON.stringify(Object.keys(localStorage).map(function (k) { return k + "=" + localStorage.getItem(k); }))`, &stored)
	if strings.Contains(stored, key) || strings.Contains(stored, "graphiql:queries") {
		t.Errorf("localStorage holds GraphiQL's history or the key: %s", stored)
	}
}

// A GraphiQL page left by Back, then the console signed out: Forward must
// not bring back the page with the key in its headers editor (a browser
// keeps pages for back and forward). The page is served no-store and,
// should a browser keep it anyway, reloads when the tab's key changed.
func TestGraphiQLForgetsTheKeyAfterSignOut(t *testing.T) {
	s, keys := startServiceGraphiQL(t, map[string][]string{"admin": allScopes}, true)
	secret := keys["admin"]
	tb := newTab(t, s)
	tb.signIn(s.base, secret)
	tb.run(chromedp.Click("#nav-graphiql a", chromedp.ByQuery))
	tb.waitJS("GraphiQL's editor", `document.querySelector(".graphiql-query-editor .CodeMirror")`)
	var headers string
	tb.eval(`Array.prototype.map.call(document.querySelectorAll(".CodeMirror"), function (c) { return c.CodeMirror.getValue(); }).join(" | ")`, &headers)
	if !strings.Contains(headers, secret) {
		t.Fatalf("signed in, GraphiQL's editors hold no key: %q", headers)
	}
	tb.eval(`window.__left = "this page"; history.back(); true`, new(bool))
	tb.waitJS("the console", `document.getElementById("find-identifier")`)
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("#session button"), function (b) { return b.textContent === "Sign out"; }).click(); true`, new(bool))
	tb.waitJS("signed out", `document.getElementById("signin") && sessionStorage.length === 0`)
	// Loaded again without a key, GraphiQL's own schema request is refused.
	tb.allowed = append(tb.allowed, "HTTP 401 "+s.base+"/graphql", "status of 401 (Unauthorized) "+s.base+"/graphql")
	tb.eval(`history.forward(); true`, new(bool))
	// A page loaded afresh has no marker; the one left behind would.
	tb.waitJS("GraphiQL loaded again", `window.__left === undefined && document.querySelector(".graphiql-query-editor .CodeMirror")`)
	tb.eval(`Array.prototype.map.call(document.querySelectorAll(".CodeMirror"), function (c) { return c.CodeMirror.getValue(); }).join(" | ")`, &headers)
	var stored string
	tb.eval(`JSON.stringify(sessionStorage)`, &stored)
	if strings.Contains(headers, secret) || strings.Contains(stored, secret) {
		t.Errorf("after sign-out GraphiQL still holds the key: editors %q, sessionStorage %d bytes holding it: %v", headers, len(stored), strings.Contains(stored, secret))
	}
}

// Where keys are enforced the console's files answer without a key (they
// hold no data) while the API does not, and mode.json says keys are
// needed; in open mode it says none is.
func TestConsoleServedWithoutKey(t *testing.T) {
	get := func(url string) (int, string) {
		t.Helper()
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	enforced, _ := startService(t, map[string][]string{"admin": allScopes})
	for path, want := range map[string]int{"/console/": 200, "/console/app.js": 200, "/console/vendor/cytoscape.min.js": 200, "/graphql?query=%7B__typename%7D": 401, "/graphiql": 401} {
		if code, _ := get(enforced.base + path); code != want {
			t.Errorf("enforced, no key: %s answers %d, want %d", path, code, want)
		}
	}
	if _, body := get(enforced.base + "/console/mode.json"); body != `{"open":false,"graphiql":false}` {
		t.Errorf("enforced: mode.json says %s", body)
	}
	open, _ := startService(t, nil)
	if _, body := get(open.base + "/console/mode.json"); body != `{"open":true,"graphiql":true}` {
		t.Errorf("open: mode.json says %s", body)
	}
}

// An event condition holds any number of property filters, all of which
// must hold: built in the console, saved, opened again with every filter
// in its row, and one removed.
func TestConsoleEventPropertyFilters(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	s.seed(t, keys["site"])
	admin := keys["admin"]
	count := func(filter string) int {
		var f map[string]any
		if err := json.Unmarshal([]byte(filter), &f); err != nil {
			t.Fatal(err)
		}
		var pv struct{ PreviewAudience struct{ Count int } }
		s.gql(t, admin, `query($f:AudienceFilter!){previewAudience(filter:$f){count}}`, map[string]any{"f": f}, &pv)
		return pv.PreviewAudience.Count
	}
	// Orders: Ann's of 120 EUR, Bob's of 30 with no currency.
	both := `{"and":[{"event":{"name":"Order Completed","where":[{"path":"total","op":"GT","value":20},{"path":"currency","op":"EQ","value":"EUR"}]}}]}`
	second := `{"and":[{"event":{"name":"Order Completed","where":[{"path":"currency","op":"EQ","value":"EUR"}]}}]}`
	if n := count(`{"and":[{"event":{"name":"Order Completed","where":[{"path":"total","op":"GT","value":20}]}}]}`); n != 2 {
		t.Fatalf("the API counts %d orders over 20, want Ann's and Bob's", n)
	}
	wantBoth := count(both)
	if wantBoth != 1 {
		t.Fatalf("the API counts %d orders over 20 in EUR, want Ann's", wantBoth)
	}

	tb := newTab(t, s)
	tb.signIn(s.base, admin)
	tb.run(chromedp.Navigate(s.base+"/console/#/audiences"), chromedp.WaitVisible("#audience-form", chromedp.ByQuery))
	tb.setValue("#audience-form input[name=name]", "EUR orders over 20")
	tb.eval(`(function () { var k = document.querySelector("#audience-form .cond select"); k.value = "event"; k.dispatchEvent(new Event("change", { bubbles: true })); return true; })()`, nil)
	tb.setValue("#audience-form .cond input", "Order Completed")
	addFilter := `Array.prototype.find.call(document.querySelectorAll("#audience-form button"), function (b) { return b.textContent === "Add property filter"; }).click()`
	tb.eval(addFilter, nil)
	tb.eval(addFilter, nil)
	tb.waitJS("two property filter rows", `document.querySelectorAll("#audience-form .where").length === 2`)
	setOp := func(row int, op string) {
		tb.eval(fmt.Sprintf(`(function () { var s = document.querySelectorAll("#audience-form .where")[%d].querySelector("select"); s.value = %q; s.dispatchEvent(new Event("change", { bubbles: true })); return true; })()`, row, op), nil)
	}
	tb.setValue("#audience-form .where:nth-of-type(1) input[name=path]", "total")
	setOp(0, "GT")
	tb.setValue("#audience-form .where:nth-of-type(1) input[name=pvalue]", "20")
	tb.setValue("#audience-form .where:nth-of-type(2) input[name=path]", "currency")
	setOp(1, "EQ")
	tb.setValue("#audience-form .where:nth-of-type(2) input[name=pvalue]", "EUR")
	tb.waitJS(fmt.Sprintf("the live count %d", wantBoth), fmt.Sprintf(`(document.getElementById("preview-count") || {}).textContent === "%d"`, wantBoth))
	tb.axe("audience builder with property filters")
	tb.run(chromedp.Click(`#audience-form button[type=submit]`, chromedp.ByQuery))
	tb.waitJS("the audience saved", `document.getElementById("saved")`)
	id := tb.text(`document.getElementById("saved").getAttribute("data-id")`)
	savedFilter := func() any {
		var got struct{ Audience *struct{ Filter any } }
		s.gql(t, admin, `query($id:ID!){audience(id:$id){filter}}`, map[string]any{"id": id}, &got)
		if got.Audience == nil {
			t.Fatalf("no audience %s", id)
		}
		return got.Audience.Filter
	}
	sameJSON := func(got any, want string) bool {
		var w any
		if err := json.Unmarshal([]byte(want), &w); err != nil {
			t.Fatal(err)
		}
		return reflect.DeepEqual(got, w)
	}
	if got := savedFilter(); !sameJSON(got, both) {
		t.Fatalf("saved filter %v, want %s", got, both)
	}

	// Opened again, each filter is in its own row; the first removed, the
	// saved audience keeps the second alone.
	tb.run(chromedp.Navigate(s.base + "/console/#/audiences/" + id))
	tb.waitJS("the editor", `document.getElementById("h-builder") && document.getElementById("h-builder").textContent.indexOf("Edit") === 0`)
	tb.waitJS("both rows filled", `(function () { var r = document.querySelectorAll("#audience-form .where input[name=path]");
		return r.length === 2 && r[0].value === "total" && r[1].value === "currency"; })()`)
	tb.eval(`document.querySelector('#audience-form button[aria-label="Remove property filter 1"]').click()`, nil)
	tb.waitJS("one row left", `document.querySelectorAll("#audience-form .where").length === 1`)
	tb.run(chromedp.Click(`#audience-form button[type=submit]`, chromedp.ByQuery))
	tb.waitJS("the audience saved again", `document.getElementById("saved")`)
	if got := savedFilter(); !sameJSON(got, second) {
		t.Fatalf("after removing the first property filter the saved filter is %v, want %s", got, second)
	}
}

// Signing out ends the live updates of the profile page: its websocket,
// authenticated with the key, is closed, so no change to the person can
// reach the signed-out tab (one used to replace the sign-in page).
func TestSignOutEndsLiveUpdates(t *testing.T) {
	s, keys := startService(t, map[string][]string{"reader": {"profiles:read"}, "site": {"events:write"}})
	s.seed(t, keys["site"])
	annID := s.profileID(t, keys["reader"], "email", "ann@example.com")
	tb := newTab(t, s)
	// Count the page's open websockets. A socket closed before it opened
	// (the page drawn again while the first was still connecting, which a
	// loaded machine makes likely) was never counted, and is not taken off.
	tb.run(chromedp.ActionFunc(func(ctx context.Context) error {
		_, err := page.AddScriptToEvaluateOnNewDocument(`(function () {
  var W = window.WebSocket; window.openSockets = 0;
  window.WebSocket = function (u, p) {
    var ws = new W(u, p), opened = false;
    ws.addEventListener("open", function () { opened = true; window.openSockets++; });
    ws.addEventListener("close", function () { if (opened) window.openSockets--; });
    return ws;
  };
})();`).Do(ctx)
		return err
	}))
	tb.signIn(s.base, keys["reader"])
	tb.run(chromedp.Navigate(s.base + "/console/#/profile/" + annID))
	tb.waitJS("the profile", `document.getElementById("main").getAttribute("data-rendered")`)
	tb.waitJS("the subscription", `document.getElementById("live").textContent.indexOf("Live") === 0 && window.openSockets === 1`)
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("#session button"), function (b) { return b.textContent === "Sign out"; }).click(); true`, new(bool))
	tb.waitJS("the sign-in page", `document.querySelector("#signin input[name=key]")`)
	tb.waitJS("the live websocket closed", `window.openSockets === 0`)
}

// A filter saved through the API and opened in the console keeps every
// value's JSON type when it is saved again: the string "02134" is not the
// number 2134, "true" is not true, "Washington, DC" is one value of an IN
// list and not two. Saving after changing only the name sends the filter
// back as it was; saving after an edit rebuilds it with the same values.
// A string that looks like a number can be written, and a filter whose
// top is one condition can be added to and removed from.
func TestConsoleKeepsValueTypes(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	s.seed(t, keys["site"])
	admin := keys["admin"]
	jsonOf := func(text string) any {
		var v any
		if err := json.Unmarshal([]byte(text), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	create := func(name, filter string) string {
		var made struct{ CreateAudience struct{ ID string } }
		s.gql(t, admin, `mutation($in:AudienceInput!){createAudience(input:$in){id}}`,
			map[string]any{"in": map[string]any{"name": name, "filter": jsonOf(filter)}}, &made)
		return made.CreateAudience.ID
	}
	type saved struct {
		Name   string
		Filter any
	}
	read := func(id string) saved {
		var got struct{ Audience *saved }
		s.gql(t, admin, `query($id:ID!){audience(id:$id){name filter}}`, map[string]any{"id": id}, &got)
		if got.Audience == nil {
			t.Fatalf("no audience %s", id)
		}
		return *got.Audience
	}
	wantFilter := func(when, id, want string) {
		t.Helper()
		if got := read(id).Filter; !reflect.DeepEqual(got, jsonOf(want)) {
			gj, _ := json.Marshal(got)
			t.Fatalf("%s: the saved filter is\n%s\nwant\n%s", when, gj, want)
		}
	}
	const typed = `{"and":[
		{"trait":{"name":"zip","op":"EQ","value":"02134"}},
		{"trait":{"name":"flag","op":"EQ","value":"true"}},
		{"trait":{"name":"city","op":"IN","value":["Washington, DC","Paris"]}},
		{"trait":{"name":"age","op":"GTE","value":18}},
		{"event":{"name":"Order Completed","where":[{"path":"sku","op":"EQ","value":"123"},{"path":"gift","op":"EQ","value":false}]}}]}`
	id := create("Typed", typed)
	wantFilter("as created through the API", id, typed)

	tb := newTab(t, s)
	tb.signIn(s.base, admin)
	// setIn types into the element the expression finds, as setValue does.
	setIn := func(el, value string) {
		t.Helper()
		vj, _ := json.Marshal(value)
		var ok bool
		tb.eval(fmt.Sprintf(`(function () { var el = %s; if (!el) return false; el.value = %s;
			el.dispatchEvent(new Event("input", { bubbles: true })); el.dispatchEvent(new Event("change", { bubbles: true })); return true; })()`, el, vj), &ok)
		if !ok {
			t.Fatalf("nothing to type into: %s", el)
		}
	}
	click := func(text string) {
		t.Helper()
		tj, _ := json.Marshal(text)
		var ok bool
		tb.eval(fmt.Sprintf(`(function () { var b = Array.prototype.find.call(document.querySelectorAll("#audience-form button"), function (b) { return b.textContent === %s; });
			if (!b) return false; b.click(); return true; })()`, tj), &ok)
		if !ok {
			t.Fatalf("no %q button", text)
		}
	}
	open := func(id, name, ready string) {
		t.Helper()
		// From another page: the same address again would not load it anew.
		tb.run(chromedp.Navigate(s.base + "/console/#/audiences/new"))
		tb.waitJS("a new audience", `document.getElementById("h-builder").textContent === "New audience"`)
		tb.run(chromedp.Navigate(s.base + "/console/#/audiences/" + id))
		tb.waitJS("the editor of "+name, fmt.Sprintf(`document.getElementById("h-builder").textContent === %q && document.querySelector("#audience-form input[name=name]").value === %q && (%s)`,
			"Edit "+name, name, ready))
	}
	save := func() {
		t.Helper()
		tb.eval(`(function () { var s = document.getElementById("saved"); if (s) s.remove(); return true; })()`, nil)
		tb.run(chromedp.Click(`#audience-form button[type=submit]`, chromedp.ByQuery))
		tb.waitJS("the audience saved", `document.getElementById("saved") || document.querySelector("#audience-form .error")`)
		if msg := tb.text(`(function () { var e = document.querySelector("#audience-form .error"); return e ? e.textContent : ""; })()`); msg != "" {
			t.Fatalf("saving failed: %s", msg)
		}
	}

	// Renamed only: the filter is as it was.
	open(id, "Typed", `document.querySelectorAll("#audience-form .cond").length === 5`)
	tb.setValue("#audience-form input[name=name]", "Typed, renamed")
	save()
	if got := read(id).Name; got != "Typed, renamed" {
		t.Fatalf("the audience is named %q after the rename", got)
	}
	wantFilter("after a rename in the console", id, typed)

	// Edited: each saved value is shown with its type, IN values one a
	// row; a new condition's "10" is guessed a number, and sent as the
	// string chosen.
	open(id, "Typed, renamed", `document.querySelectorAll("#audience-form .cond").length === 5`)
	var shown []string
	tb.eval(`Array.prototype.map.call(document.querySelectorAll("#audience-form input[name=value], #audience-form input[name=pvalue]"), function (i) {
		return i.value + ":" + i.closest("label").nextElementSibling.querySelector("select").value; })`, &shown)
	if want := []string{"02134:string", "true:string", "Washington, DC:string", "Paris:string", "18:number", "123:string", "false:boolean"}; !reflect.DeepEqual(shown, want) {
		t.Errorf("the editor shows the values %q, want %q", shown, want)
	}
	click("Add condition")
	last := `(function () { var c = document.querySelectorAll("#audience-form .cond"); return c[c.length - 1]; })()`
	tb.waitJS("a sixth condition", `document.querySelectorAll("#audience-form .cond").length === 6`)
	setIn(last+`.querySelector("input[spellcheck]")`, "code")
	setIn(last+`.querySelector("input[name=value]")`, "10")
	tb.waitJS("10 guessed a number", last+`.querySelector("select[name=vtype]").value === "number"`)
	setIn(last+`.querySelector("select[name=vtype]")`, "string")
	save()
	wantFilter("after adding a condition in the console", id, `{"and":[
		{"trait":{"name":"zip","op":"EQ","value":"02134"}},
		{"trait":{"name":"flag","op":"EQ","value":"true"}},
		{"trait":{"name":"city","op":"IN","value":["Washington, DC","Paris"]}},
		{"trait":{"name":"age","op":"GTE","value":18}},
		{"event":{"name":"Order Completed","where":[{"path":"sku","op":"EQ","value":"123"},{"path":"gift","op":"EQ","value":false}]}},
		{"trait":{"name":"code","op":"EQ","value":"10"}}]}`)

	// A filter that is one condition: it can be added to, and its
	// condition removed; one condition left is saved alone.
	one := create("One", `{"trait":{"name":"zip","op":"EQ","value":"02134"}}`)
	open(one, "One", `document.querySelectorAll("#audience-form .cond").length === 1`)
	click("Add condition")
	tb.waitJS("a second condition", `document.querySelectorAll("#audience-form .cond").length === 2`)
	setIn(last+`.querySelector("input[spellcheck]")`, "plan")
	setIn(last+`.querySelector("input[name=value]")`, "gold")
	save()
	wantFilter("after adding a condition to a one-condition filter", one,
		`{"and":[{"trait":{"name":"zip","op":"EQ","value":"02134"}},{"trait":{"name":"plan","op":"EQ","value":"gold"}}]}`)
	one2 := create("One again", `{"trait":{"name":"zip","op":"EQ","value":"02134"}}`)
	open(one2, "One again", `document.querySelectorAll("#audience-form .cond").length === 1`)
	click("Add condition")
	tb.waitJS("a second condition", `document.querySelectorAll("#audience-form .cond").length === 2`)
	setIn(last+`.querySelector("input[spellcheck]")`, "plan")
	setIn(last+`.querySelector("input[name=value]")`, "gold")
	tb.eval(`document.querySelector('#audience-form button[aria-label="Remove condition"]').click()`, nil)
	tb.waitJS("one condition left", `document.querySelectorAll("#audience-form .cond").length === 1`)
	save()
	wantFilter("after replacing the condition of a one-condition filter", one2, `{"trait":{"name":"plan","op":"EQ","value":"gold"}}`)
}

// A static audience (saved by createLookalikeAudience, with no filter)
// opened in the console can be renamed; it keeps its members and stays
// without a filter.
func TestConsoleRenamesStaticAudience(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	s.seed(t, keys["site"])
	admin := keys["admin"]
	// Twelve members of a club, the seed of the lookalike.
	for i := 0; i < 12; i++ {
		s.send(t, keys["site"], "identify", fmt.Sprintf(`{"userId":"u-club-%d","messageId":"club-%d","timestamp":"2026-11-02T10:00:00Z","traits":{"club":"yes","plan":"gold"}}`, i, i))
	}
	var made struct{ CreateAudience struct{ ID string } }
	s.gql(t, admin, `mutation{createAudience(input:{name:"Club",filter:{trait:{name:"club",op:EQ,value:"yes"}}}){id}}`, nil, &made)
	s.waitSize(t, admin, made.CreateAudience.ID, 12)
	var look struct{ CreateLookalikeAudience struct{ ID string } }
	s.gql(t, admin, `mutation($a:ID!){createLookalikeAudience(audienceId:$a,size:3,name:"Like the club"){id}}`,
		map[string]any{"a": made.CreateAudience.ID}, &look)
	id := look.CreateLookalikeAudience.ID
	type static struct {
		Name, Description string
		Static            bool
		Filter            any
		Members           struct{ Nodes []struct{ ID string } }
	}
	read := func() static {
		var got struct{ Audience *static }
		s.gql(t, admin, `query($id:ID!){audience(id:$id){name description static filter members(first:100){nodes{id}}}}`, map[string]any{"id": id}, &got)
		if got.Audience == nil {
			t.Fatalf("no audience %s", id)
		}
		return *got.Audience
	}
	before := read()
	if !before.Static || before.Filter != nil || len(before.Members.Nodes) == 0 {
		t.Fatalf("the lookalike audience is %+v, want a static one with members", before)
	}

	tb := newTab(t, s)
	tb.signIn(s.base, admin)
	tb.run(chromedp.Navigate(s.base + "/console/#/audiences/" + id))
	tb.waitJS("the editor", `document.getElementById("h-builder").textContent === "Edit Like the club" && document.querySelector("#audience-form input[name=name]").value === "Like the club"`)
	var note string
	tb.eval(`(function () { var n = document.getElementById("static-note"); return n ? n.textContent : ""; })()`, &note)
	if !strings.Contains(note, "static audience") || tb.text(`String(document.querySelectorAll("#audience-form .builder").length)`) != "0" {
		t.Errorf("the editor of a static audience shows the note %q and a filter builder, want the note alone", note)
	}
	tb.axe("static audience editor")
	tb.setValue("#audience-form input[name=name]", "Like the club, renamed")
	tb.setValue("#audience-form [name=description]", "for the spring campaign")
	tb.run(chromedp.Click(`#audience-form button[type=submit]`, chromedp.ByQuery))
	tb.waitJS("the audience saved", `document.getElementById("saved") || document.querySelector("#audience-form .error")`)
	if msg := tb.text(`(function () { var e = document.querySelector("#audience-form .error"); return e ? e.textContent : ""; })()`); msg != "" {
		t.Fatalf("saving failed: %s", msg)
	}
	after := read()
	want := before
	want.Name, want.Description = "Like the club, renamed", "for the spring campaign"
	if !reflect.DeepEqual(after, want) {
		t.Fatalf("after the rename the audience is %+v, want %+v", after, want)
	}
}
