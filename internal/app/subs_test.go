package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/server"
)

// wsMsg is a graphql-transport-ws message.
type wsMsg struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// wsClient speaks graphql-transport-ws over a real websocket, answering
// the server's pings.
type wsClient struct {
	t       *testing.T
	c       *websocket.Conn
	pending map[string][]wsMsg // messages read for a subscription not yet asked for
}

// wsLimit bounds every wait of the client: a liveness bound, not a timing
// assertion.
const wsLimit = 30 * time.Second

// dialWS opens a websocket to dial's /graphql with header; it returns the
// HTTP status of a refused upgrade.
func dialWS(t *testing.T, dial string, header http.Header) (*wsClient, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wsLimit)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws://"+dial+"/graphql", &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: header,
	})
	if err != nil {
		if resp != nil {
			return nil, resp.StatusCode
		}
		t.Fatalf("dial: %v", err)
	}
	if c.Subprotocol() != "graphql-transport-ws" {
		t.Fatalf("negotiated subprotocol %q", c.Subprotocol())
	}
	c.SetReadLimit(1 << 20)
	w := &wsClient{t: t, c: c, pending: map[string][]wsMsg{}}
	t.Cleanup(func() { _ = c.CloseNow() })
	return w, http.StatusSwitchingProtocols
}

func (w *wsClient) send(m wsMsg) {
	w.t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wsLimit)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageText, b); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

// read returns the next message other than ping and pong, or the close
// status and reason when the server closes the connection.
func (w *wsClient) read() (m wsMsg, closed websocket.StatusCode, reason string) {
	w.t.Helper()
	// One bound for the whole wait: the server's pings must not extend it.
	ctx, cancel := context.WithTimeout(context.Background(), wsLimit)
	defer cancel()
	for {
		_, b, err := w.c.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				return wsMsg{}, ce.Code, ce.Reason
			}
			w.t.Fatalf("read: %v", err)
		}
		if err := json.Unmarshal(b, &m); err != nil {
			w.t.Fatalf("message %s: %v", b, err)
		}
		switch m.Type {
		case "ping":
			w.send(wsMsg{Type: "pong"})
			continue
		case "pong":
			continue
		}
		return m, 0, ""
	}
}

// init sends connection_init with payload and returns the server's answer.
func (w *wsClient) init(payload map[string]any) (wsMsg, websocket.StatusCode, string) {
	w.t.Helper()
	p, _ := json.Marshal(payload)
	if payload == nil {
		p = nil
	}
	w.send(wsMsg{Type: "connection_init", Payload: p})
	return w.read()
}

// mustInit opens the connection, failing unless acknowledged.
func (w *wsClient) mustInit(payload map[string]any) *wsClient {
	w.t.Helper()
	if m, code, reason := w.init(payload); m.Type != "connection_ack" {
		w.t.Fatalf("connection_init: %+v (close %d %s)", m, code, reason)
	}
	return w
}

// readFor returns the next message of subscription id, keeping those of
// others for later.
func (w *wsClient) readFor(id string) (wsMsg, websocket.StatusCode, string) {
	w.t.Helper()
	if q := w.pending[id]; len(q) > 0 {
		w.pending[id] = q[1:]
		return q[0], 0, ""
	}
	for {
		m, code, reason := w.read()
		if code != 0 || m.ID == id || m.ID == "" {
			return m, code, reason
		}
		w.pending[m.ID] = append(w.pending[m.ID], m)
	}
}

func (w *wsClient) subscribe(id, query string) {
	w.t.Helper()
	p, _ := json.Marshal(map[string]any{"query": query})
	w.send(wsMsg{Type: "subscribe", ID: id, Payload: p})
}

// change is a ChangeEvent as the wire carries it.
type change struct {
	Cursor      string   `json:"cursor"`
	Kind        string   `json:"kind"`
	At          string   `json:"at"`
	ProfileID   *string  `json:"profileId"`
	PreviousIds []string `json:"previousIds"`
	EventID     *string  `json:"eventId"`
}

// short renders a change as KIND profile [previous] event, with profile
// ids replaced by their names in names.
func (c change) short(names map[string]string) string {
	name := func(p *string) string {
		if p == nil {
			return "-"
		}
		if n, ok := names[*p]; ok {
			return n
		}
		return *p
	}
	var prev []string
	for _, p := range c.PreviousIds {
		prev = append(prev, name(&p))
	}
	return fmt.Sprintf("%s %s %v %s", c.Kind, name(c.ProfileID), prev, name(c.EventID))
}

// nextChanges reads messages until one for each id of want arrives, and
// returns them by subscription id; any other message fails the test.
func (w *wsClient) nextChange(id, field string) change {
	w.t.Helper()
	m, code, reason := w.readFor(id)
	if m.Type != "next" || m.ID != id {
		w.t.Fatalf("want a change on %s, got %s %s %s (close %d %s)", id, m.Type, m.ID, m.Payload, code, reason)
	}
	var p struct {
		Data   map[string]change `json:"data"`
		Errors []any             `json:"errors"`
	}
	if err := json.Unmarshal(m.Payload, &p); err != nil || len(p.Errors) > 0 {
		w.t.Fatalf("payload %s: %v", m.Payload, err)
	}
	return p.Data[field]
}

// gqlError is one error of an error message or a next payload.
type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

// subError reads the next message, which must end subscription id with an
// error (an error message, or a next with errors and then complete), and
// returns it.
func (w *wsClient) subError(id string) gqlError {
	w.t.Helper()
	m, code, reason := w.readFor(id)
	var errs []gqlError
	switch {
	case m.Type == "error" && m.ID == id:
		if err := json.Unmarshal(m.Payload, &errs); err != nil {
			w.t.Fatal(err)
		}
	case m.Type == "next" && m.ID == id:
		var p struct {
			Errors []gqlError `json:"errors"`
		}
		if err := json.Unmarshal(m.Payload, &p); err != nil {
			w.t.Fatal(err)
		}
		errs = p.Errors
		if len(errs) == 0 {
			w.t.Fatalf("want an error on %s, got %s", id, m.Payload)
		}
		if c, _, _ := w.readFor(id); c.Type != "complete" || c.ID != id {
			w.t.Fatalf("after the error, %+v, want complete", c)
		}
	default:
		w.t.Fatalf("want an error on %s, got %+v (close %d %s)", id, m, code, reason)
	}
	if len(errs) == 0 {
		w.t.Fatalf("no error in %s", m.Payload)
	}
	return errs[0]
}

// startSubs starts a service on st with the feed configured as feed and
// returns it and its address.
func startSubs(t *testing.T, st graph.Store, feed app.FeedConfig, mod func(*app.Config)) (*app.Service, string) {
	t.Helper()
	ln, err := server.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := app.Defaults()
	cfg.Store, cfg.Listener, cfg.Logger = st, ln, zerolog.Nop()
	cfg.Feed = feed
	if mod != nil {
		mod(&cfg)
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
	return svc, net.JoinHostPort("127.0.0.1", port)
}

// waitActive waits until svc holds n subscriptions: each has then read
// the feed's head it starts from.
func waitActive(t *testing.T, svc *app.Service, n int) {
	t.Helper()
	deadline := time.Now().Add(wsLimit)
	for svc.Feed.Stats().Active != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscriptions active, want %d", svc.Feed.Stats().Active, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func track(t *testing.T, dial, body string) {
	t.Helper()
	if code, b := post(t, "http://"+dial+"/v1/track", "", body); code != http.StatusOK {
		t.Fatalf("track %s: %d %s", body, code, b)
	}
}

func profileOf(t *testing.T, dial, typ, value string) string {
	t.Helper()
	var d struct {
		P struct {
			ID string `json:"id"`
		} `json:"profileByIdentifier"`
	}
	gqlData(t, dial, "", fmt.Sprintf(`{ profileByIdentifier(type: %q, value: %q) { id } }`, typ, value), &d)
	return d.P.ID
}

const changeFields = `cursor kind at profileId previousIds eventId`

// Over a real websocket, on both stores: profileChanged follows a person
// through an event, a merge into a larger profile (it then follows the
// survivor) and a consent decision; changes sees the whole feed; and a
// consumer that reconnects with its last cursor gets exactly what it
// missed, then the live changes.
func TestSubscriptionsFollowAndResume(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		svc, dial := startSubs(t, st, app.FeedConfig{}, nil)
		track(t, dial, `{"messageId":"m1","anonymousId":"anon-0","event":"Viewed"}`)
		p1 := profileOf(t, dial, "anonymous_id", "anon-0")

		w, _ := dialWS(t, dial, nil)
		w.mustInit(nil)
		w.subscribe("p", `subscription { profileChanged(identifier: {type: "anonymous_id", value: "anon-0"}) { `+changeFields+` } }`)
		w.subscribe("c", `subscription { changes { `+changeFields+` } }`)
		waitActive(t, svc, 2)

		// An event of the followed person; a larger profile (two
		// identifiers); an event linking both, which merges the followed
		// profile into the larger one; a consent decision.
		track(t, dial, `{"messageId":"m2","anonymousId":"anon-0","event":"Viewed"}`)
		track(t, dial, `{"messageId":"m3","anonymousId":"anon-2","userId":"u-2","event":"Viewed"}`)
		p2 := profileOf(t, dial, "user_id", "u-2")
		track(t, dial, `{"messageId":"m4","anonymousId":"anon-0","userId":"u-2","event":"Bought"}`)
		if got := profileOf(t, dial, "anonymous_id", "anon-0"); got != p2 {
			t.Fatalf("after the linking event anon-0 is in %s, want the larger profile %s", got, p2)
		}
		gqlData(t, dial, "", `mutation { setConsent(input: {identifier: {type: "anonymous_id", value: "anon-0"}, purpose: "email", status: GRANTED}) { id } }`, nil)
		track(t, dial, `{"messageId":"m5","anonymousId":"anon-9","event":"Viewed"}`) // someone else

		names := map[string]string{p1: "P1", p2: "P2"}
		for _, want := range []string{
			"EVENT_ADDED P1 [] default/m2",
			"MERGED P2 [P1] -",
			"EVENT_ADDED P2 [] default/m4",
			"CONSENT_CHANGED P2 [] -",
		} {
			if got := w.nextChange("p", "profileChanged").short(names); got != want {
				t.Fatalf("profileChanged: %s, want %s", got, want)
			}
		}
		var last change
		for _, want := range []string{
			"EVENT_ADDED P1 [] default/m2",
			"EVENT_ADDED P2 [] default/m3",
			"MERGED P2 [P1] -",
			"EVENT_ADDED P2 [] default/m4",
			"CONSENT_CHANGED P2 [] -",
		} {
			last = w.nextChange("c", "changes")
			if got := last.short(names); got != want {
				t.Fatalf("changes: %s, want %s", got, want)
			}
		}
		// The consumer goes away before m5's change; m6 and m7 commit
		// while it is away.
		_ = w.c.Close(websocket.StatusNormalClosure, "")
		waitActive(t, svc, 0)
		track(t, dial, `{"messageId":"m6","anonymousId":"anon-0","event":"Viewed"}`)
		track(t, dial, `{"messageId":"m7","anonymousId":"anon-7","event":"Viewed"}`)
		p9, p7 := profileOf(t, dial, "anonymous_id", "anon-9"), profileOf(t, dial, "anonymous_id", "anon-7")
		names[p9], names[p7] = "P9", "P7"

		w2, _ := dialWS(t, dial, nil)
		w2.mustInit(nil)
		w2.subscribe("r", fmt.Sprintf(`subscription { changes(after: %q) { %s } }`, last.Cursor, changeFields))
		for _, want := range []string{"EVENT_ADDED P9 [] default/m5", "EVENT_ADDED P2 [] default/m6", "EVENT_ADDED P7 [] default/m7"} {
			if got := w2.nextChange("r", "changes").short(names); got != want {
				t.Fatalf("resumed changes: %s, want %s", got, want)
			}
		}
		track(t, dial, `{"messageId":"m8","anonymousId":"anon-0","event":"Viewed"}`)
		if got := w2.nextChange("r", "changes").short(names); got != "EVENT_ADDED P2 [] default/m8" {
			t.Fatalf("live after resuming: %s, want EVENT_ADDED P2 [] default/m8", got)
		}
		// Kinds filter the feed; a bad cursor is refused naming after.
		w2.subscribe("k", `subscription { changes(kinds: [CONSENT_CHANGED]) { `+changeFields+` } }`)
		w2.subscribe("bad", `subscription { changes(after: "nonsense") { cursor } }`)
		if e := w2.subError("bad"); e.Extensions["code"] != "INVALID_ARGUMENT" || !strings.Contains(e.Message, `"after"`) {
			t.Fatalf("bad cursor: %+v, want INVALID_ARGUMENT naming after", e)
		}
		// A merged-away id follows its survivor; neither or both of id and
		// identifier is refused.
		w2.subscribe("old", fmt.Sprintf(`subscription { profileChanged(id: %q) { %s } }`, p1, changeFields))
		w2.subscribe("none", `subscription { profileChanged { cursor } }`)
		if e := w2.subError("none"); e.Extensions["code"] != "INVALID_ARGUMENT" || !strings.Contains(e.Message, `"id"`) {
			t.Fatalf("profileChanged without id or identifier: %+v, want INVALID_ARGUMENT naming id", e)
		}
		waitActive(t, svc, 3)
		track(t, dial, `{"messageId":"m9","anonymousId":"anon-0","event":"Viewed"}`)
		gqlData(t, dial, "", `mutation { setConsent(input: {identifier: {type: "user_id", value: "u-2"}, purpose: "sms", status: DENIED}) { id } }`, nil)
		if got := w2.nextChange("r", "changes").short(names); got != "EVENT_ADDED P2 [] default/m9" {
			t.Fatalf("changes: %s, want EVENT_ADDED P2 [] default/m9", got)
		}
		if got := w2.nextChange("r", "changes").short(names); got != "CONSENT_CHANGED P2 [] -" {
			t.Fatalf("changes: %s, want CONSENT_CHANGED P2 [] -", got)
		}
		for _, want := range []string{"EVENT_ADDED P2 [] default/m9", "CONSENT_CHANGED P2 [] -"} {
			if got := w2.nextChange("old", "profileChanged").short(names); got != want {
				t.Fatalf("profileChanged(id: P1) after the merge: %s, want %s", got, want)
			}
		}
		// The filtered subscription skips m9 and gets the consent change.
		if got := w2.nextChange("k", "changes").short(names); got != "CONSENT_CHANGED P2 [] -" {
			t.Fatalf("changes(kinds: [CONSENT_CHANGED]): %s, want CONSENT_CHANGED P2 [] -", got)
		}
	})
}

// Who may subscribe, on both stores: a connection without a key, or with a
// bad one, is closed at connection_init; a key in the payload or in the
// upgrade request's header opens it; a key without the scope of the
// matching query is refused per subscription; each key holds at most the
// cap; a browser origin other than the server's own needs --cors-origins;
// and a subscription sent over HTTP is refused.
func TestSubscriptionAccess(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		_, reader := addKey(t, st, "profiles:read")
		_, other := addKey(t, st, "profiles:read")
		_, audiences := addKey(t, st, "audiences:read")
		svc, dial := startSubs(t, st, app.FeedConfig{PerKey: 2}, func(c *app.Config) {
			c.GraphQL.Origins = []string{"https://app.example.com"}
		})
		bearer := func(secret string) map[string]any { return map[string]any{"Authorization": "Bearer " + secret} }

		w, _ := dialWS(t, dial, nil)
		if m, code, reason := w.init(nil); code != 4403 || !strings.Contains(reason, "API key is required") {
			t.Fatalf("no key: %+v, close %d %q; want 4403 naming the missing key", m, code, reason)
		}
		w, _ = dialWS(t, dial, nil)
		if m, code, reason := w.init(bearer("cdp_" + strings.Repeat("A", 43))); code != 4401 || reason == "" || strings.Contains(reason, "AAAA") {
			t.Fatalf("unknown key: %+v, close %d %q; want 4401 with a reason that does not repeat the secret", m, code, reason)
		}

		// The header's key, and the scope of the matching query.
		h := http.Header{"Authorization": {"Bearer " + audiences}}
		w, _ = dialWS(t, dial, h)
		w.mustInit(nil)
		w.subscribe("c", `subscription { changes { cursor } }`)
		if e := w.subError("c"); e.Extensions["code"] != "FORBIDDEN" || e.Extensions["scope"] != "profiles:read" {
			t.Fatalf("changes without profiles:read: %+v, want FORBIDDEN naming profiles:read", e)
		}
		w.subscribe("p", `subscription { profileChanged(id: "p_x") { cursor } }`)
		if e := w.subError("p"); e.Extensions["code"] != "FORBIDDEN" {
			t.Fatalf("profileChanged without profiles:read: %+v, want FORBIDDEN", e)
		}

		// The cap counts per key, over connections.
		w1, _ := dialWS(t, dial, nil)
		w1.mustInit(bearer(reader))
		w1.subscribe("a", `subscription { changes { cursor } }`)
		w2, _ := dialWS(t, dial, http.Header{"Authorization": {"Bearer " + reader}})
		w2.mustInit(nil)
		w2.subscribe("b", `subscription { changes { cursor } }`)
		waitActive(t, svc, 2)
		w2.subscribe("c", `subscription { changes { cursor } }`)
		if e := w2.subError("c"); e.Extensions["code"] != "TOO_MANY_SUBSCRIPTIONS" {
			t.Fatalf("third subscription of one key: %+v, want TOO_MANY_SUBSCRIPTIONS", e)
		}
		w3, _ := dialWS(t, dial, nil)
		w3.mustInit(bearer(other))
		w3.subscribe("a", `subscription { changes { cursor } }`)
		waitActive(t, svc, 3)
		// Stopping one frees its place.
		w1.send(wsMsg{Type: "complete", ID: "a"})
		waitActive(t, svc, 2)
		w2.subscribe("d", `subscription { changes { cursor } }`)
		waitActive(t, svc, 3)

		// Browser origins.
		if _, status := dialWS(t, dial, http.Header{"Origin": {"https://evil.example.net"}}); status != http.StatusForbidden {
			t.Fatalf("foreign origin: %d, want 403", status)
		}
		if _, status := dialWS(t, dial, http.Header{"Origin": {"https://app.example.com"}}); status != http.StatusSwitchingProtocols {
			t.Fatalf("--cors-origins origin: %d, want 101", status)
		}

		// A message over the request size limit (1 MiB) closes the
		// connection (1009, message too big).
		big, _ := dialWS(t, dial, nil)
		big.mustInit(bearer(reader))
		big.subscribe("x", `subscription { changes { cursor } } # `+strings.Repeat("x", 1<<20))
		if m, code, _ := big.read(); code != websocket.StatusMessageTooBig {
			t.Fatalf("a message over 1 MiB: %+v, close %d; want 1009", m, code)
		}

		// Over HTTP a subscription would hold the request for one event.
		r := send(t, "POST", "http://"+dial+"/graphql", "", reader, `{"query":"subscription { changes { cursor } }"}`)
		if r.code() != "BAD_REQUEST" || !strings.Contains(r.body, "WebSocket") {
			t.Fatalf("subscription over POST: %d %s", r.status, r.body)
		}
	})
}

// audienceChanged reports the entries and exits of one audience, on both
// stores, and nothing of other audiences or kinds. The entries are
// appended to the feed directly, as the audience keeper appends them.
func TestAudienceChangedSubscription(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		svc, dial := startSubs(t, st, app.FeedConfig{}, nil)
		var d struct {
			A struct {
				ID string `json:"id"`
			} `json:"createAudience"`
		}
		gqlData(t, dial, "", `mutation { createAudience(input: {name: "buyers", filter: {event: {name: "Bought"}}}) { id } }`, &d)
		w, _ := dialWS(t, dial, nil)
		w.mustInit(nil)
		w.subscribe("a", `subscription { audienceChanged(audienceId: "`+d.A.ID+`") { kind profileId at } }`)
		w.subscribe("missing", `subscription { audienceChanged(audienceId: "seg_00000000000000000000000000000000") { kind } }`)
		if e := w.subError("missing"); e.Extensions["code"] != "NOT_FOUND" || !strings.Contains(e.Message, "audienceId") {
			t.Fatalf("unknown audience: %+v, want NOT_FOUND naming audienceId", e)
		}
		w.subscribe("bad", `subscription { audienceChanged(audienceId: "nope") { kind } }`)
		if e := w.subError("bad"); e.Extensions["code"] != "INVALID_ARGUMENT" || !strings.Contains(e.Message, "audienceId") {
			t.Fatalf("malformed audience id: %+v, want INVALID_ARGUMENT naming audienceId", e)
		}
		waitActive(t, svc, 1)
		at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		err := st.Update(context.Background(), func(ctx context.Context, tx graph.Tx) error {
			return graph.AppendFeed(ctx, tx, []graph.FeedEntry{
				{At: at, Kind: graph.FeedAudienceEntered, ProfileID: "p_one", AudienceID: d.A.ID},
				{At: at, Kind: graph.FeedAudienceEntered, ProfileID: "p_two", AudienceID: "seg_ffffffffffffffffffffffffffffffff"},
				{At: at, Kind: graph.FeedComputedChanged, ProfileID: "p_one"},
				{At: at, Kind: graph.FeedAudienceExited, ProfileID: "p_one", AudienceID: d.A.ID},
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		svc.Feed.Wake()
		for _, want := range []string{"ENTERED p_one 2026-05-01T12:00:00Z", "EXITED p_one 2026-05-01T12:00:00Z"} {
			m, code, reason := w.readFor("a")
			var p struct {
				Data struct {
					C struct{ Kind, ProfileID, At string } `json:"audienceChanged"`
				} `json:"data"`
			}
			if m.Type != "next" || json.Unmarshal(m.Payload, &p) != nil {
				t.Fatalf("got %+v (close %d %s)", m, code, reason)
			}
			if got := p.Data.C.Kind + " " + p.Data.C.ProfileID + " " + p.Data.C.At; got != want {
				t.Fatalf("audienceChanged: %s, want %s", got, want)
			}
		}
	})
}

// A subscription that returns personal values unmasked is audited like a
// query, once per answer, on both stores: audienceChanged selecting the
// entering profile's identifiers with a key holding pii:read.
func TestSubscriptionReadsAudited(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		k, secret := addKey(t, st, "audiences:read", "audiences:write", "profiles:read", "pii:read", "events:write")
		svc, dial := startSubs(t, st, app.FeedConfig{}, nil)
		if code, b := post(t, "http://"+dial+"/v1/identify", secret, `{"messageId":"i1","userId":"u-aud","traits":{"email":"Ann@Example.com"}}`); code != http.StatusOK {
			t.Fatalf("identify: %d %s", code, b)
		}
		var d struct {
			P struct {
				ID string `json:"id"`
			} `json:"profileByIdentifier"`
			A struct {
				ID string `json:"id"`
			} `json:"createAudience"`
		}
		gqlData(t, dial, secret, `{ profileByIdentifier(type: "user_id", value: "u-aud") { id } }`, &d)
		// The audience matches nobody until the subscription is open; then
		// its new filter makes the keeper enter the profile, which appends
		// AUDIENCE_ENTERED to the feed.
		gqlData(t, dial, secret, `mutation { createAudience(input: {name: "all", filter: {identifier: {type: "phone"}}}) { id } }`, &d)
		w, _ := dialWS(t, dial, nil)
		w.mustInit(map[string]any{"Authorization": "Bearer " + secret})
		w.subscribe("a", `subscription { audienceChanged(audienceId: "`+d.A.ID+`") { kind profile { identifiers(types: ["email"]) { value } } } }`)
		waitActive(t, svc, 1)
		var u struct{}
		gqlData(t, dial, secret, `mutation { updateAudience(id: "`+d.A.ID+`", input: {name: "all", filter: {identifier: {type: "user_id"}}}) { id } }`, &u)
		m, code, reason := w.readFor("a")
		if m.Type != "next" || !strings.Contains(string(m.Payload), `"value":"ann@example.com"`) {
			t.Fatalf("got %+v (close %d %s), want the unmasked email", m, code, reason)
		}
		var es []access.AuditEntry
		var err error
		deadline := time.Now().Add(wsLimit)
		for len(es) == 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			if es, err = st.(access.Store).Audit(context.Background(), access.AuditQuery{Action: "audienceChanged", Limit: 10}); err != nil {
				t.Fatal(err)
			}
		}
		if len(es) != 1 || es[0].KeyID != k.ID || fmt.Sprint(es[0].ProfileIDs) != "["+d.P.ID+"]" {
			t.Fatalf("audit entries of audienceChanged: %+v, want one by key %s naming %s", es, k.ID, d.P.ID)
		}
	})
}

// A key revoked while its subscriptions are open ends them with
// UNAUTHENTICATED, on both stores, even when revoked on another replica
// (here: in the store, behind this server's back); another key's
// subscription goes on.
func TestRevokedKeyEndsSubscriptions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		k, revoked := addKey(t, st, "profiles:read")
		_, kept := addKey(t, st, "profiles:read")
		_, writer := addKey(t, st, "events:write")
		svc, dial := startSubs(t, st, app.FeedConfig{}, func(c *app.Config) { c.GraphQL.KeyRecheck = 50 * time.Millisecond })
		w, _ := dialWS(t, dial, nil)
		w.mustInit(map[string]any{"Authorization": "Bearer " + revoked})
		w.subscribe("r", `subscription { changes { cursor } }`)
		w2, _ := dialWS(t, dial, nil)
		w2.mustInit(map[string]any{"Authorization": "Bearer " + kept})
		w2.subscribe("k", `subscription { changes { eventId } }`)
		waitActive(t, svc, 2)
		if _, _, err := st.(access.Store).RevokeKey(context.Background(), k.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		if e := w.subError("r"); e.Extensions["code"] != "UNAUTHENTICATED" || !strings.Contains(e.Message, "revoked") {
			t.Fatalf("after revocation: %+v, want UNAUTHENTICATED", e)
		}
		waitActive(t, svc, 1)
		if code, b := post(t, "http://"+dial+"/v1/track", writer, `{"messageId":"after-revoke","anonymousId":"anon-r","event":"Viewed"}`); code != http.StatusOK {
			t.Fatalf("track: %d %s", code, b)
		}
		if c := w2.nextChange("k", "changes"); c.EventID == nil || !strings.HasSuffix(*c.EventID, "/after-revoke") {
			t.Fatalf("the other key's subscription: %+v, want the change of after-revoke", c)
		}
	})
}

// A cursor older than what the feed retains is refused with the oldest
// cursor that resumes, on both stores: the first two changes are trimmed,
// so resuming after the first would miss the second.
func TestExpiredCursorRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		svc, dial := startSubs(t, st, app.FeedConfig{}, nil)
		w, _ := dialWS(t, dial, nil)
		w.mustInit(nil)
		w.subscribe("c", `subscription { changes { `+changeFields+` } }`)
		waitActive(t, svc, 1)
		var got []change
		for i := 1; i <= 3; i++ {
			track(t, dial, fmt.Sprintf(`{"messageId":"m%d","anonymousId":"anon-%d","event":"Viewed"}`, i, i))
			got = append(got, w.nextChange("c", "changes"))
		}
		// Each track commits alone: two transactions are m1's and m2's.
		if n, err := st.(graph.FeedStore).TrimFeed(context.Background(), time.Now().Add(time.Hour), 2); err != nil || n != 2 {
			t.Fatalf("trim the first two changes: %d, %v", n, err)
		}
		w.subscribe("old", fmt.Sprintf(`subscription { changes(after: %q) { cursor } }`, got[0].Cursor))
		e := w.subError("old")
		if e.Extensions["code"] != "CURSOR_EXPIRED" || e.Extensions["cursor"] != got[1].Cursor || !strings.Contains(e.Message, `"after"`) {
			t.Fatalf("resume after a trimmed change: %+v, want CURSOR_EXPIRED with the second change's cursor", e)
		}
		w.subscribe("ok", fmt.Sprintf(`subscription { changes(after: %q) { %s } }`, got[1].Cursor, changeFields))
		if c := w.nextChange("ok", "changes"); c.Cursor != got[2].Cursor {
			t.Fatalf("resume from the oldest cursor: got %s, want the third change %s", c.Cursor, got[2].Cursor)
		}
	})
}
