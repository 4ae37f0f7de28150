package app_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/coder/websocket"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
)

// dialSmallWindow opens a websocket whose socket receives into a small
// buffer, so that a client that stops reading stalls the server's writes
// after a few messages rather than megabytes.
func dialSmallWindow(t *testing.T, dial string) *wsClient {
	t.Helper()
	d := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048) })
		if err != nil {
			return err
		}
		return serr
	}}
	ctx, cancel := context.WithTimeout(context.Background(), wsLimit)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+dial+"/graphql", &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"},
		HTTPClient:   &http.Client{Transport: &http.Transport{DialContext: d.DialContext}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	return &wsClient{t: t, c: c, pending: map[string][]wsMsg{}}
}

// A consumer that stops reading is ended, on both stores, once more
// changes wait for it than its buffer holds: it then receives what was
// sent before, in order, and an error with code SLOW_CONSUMER whose
// cursor is the last change it received; resuming after that cursor
// continues with the very next change. Ingest goes on meanwhile.
func TestSlowSubscriberEnded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		svc, dial := startSubs(t, st, app.FeedConfig{Buffer: 8}, nil)
		w := dialSmallWindow(t, dial)
		w.mustInit(nil)
		w.subscribe("s", `subscription { changes { `+changeFields+` } }`)
		waitActive(t, svc, 1)
		// The client reads nothing while batches commit, until the server
		// has ended its subscription.
		const perBatch = 100
		sent := 0
		for svc.Feed.Stats().SlowClosed == 0 {
			if sent >= 200*perBatch {
				t.Fatalf("%d events committed and the stalled subscriber is still open", sent)
			}
			var msgs []string
			for range perBatch {
				msgs = append(msgs, fmt.Sprintf(`{"type":"track","messageId":"s-%d","anonymousId":"anon-slow","event":"E"}`, sent))
				sent++
			}
			if code, b := post(t, "http://"+dial+"/v1/batch", "", `{"batch":[`+strings.Join(msgs, ",")+`]}`); code != http.StatusOK {
				t.Fatalf("batch: %d %s", code, b)
			}
		}
		var last change
		n := 0
		for {
			m, code, reason := w.readFor("s")
			if code != 0 {
				t.Fatalf("connection closed (%d %s) before the subscription's error", code, reason)
			}
			if m.Type == "next" {
				w.pending["s"] = append([]wsMsg{m}, w.pending["s"]...)
				last = w.nextChange("s", "changes")
				if want := fmt.Sprintf("EVENT_ADDED default/s-%d", n); last.Kind+" "+*last.EventID != want {
					t.Fatalf("change %d: %s %s, want %s", n, last.Kind, *last.EventID, want)
				}
				n++
				continue
			}
			w.pending["s"] = append([]wsMsg{m}, w.pending["s"]...)
			e := w.subError("s")
			if e.Extensions["code"] != "SLOW_CONSUMER" || e.Extensions["cursor"] != last.Cursor || n == 0 {
				t.Fatalf("after %d changes: %+v, want SLOW_CONSUMER with cursor %s", n, e, last.Cursor)
			}
			break
		}
		if n >= sent {
			t.Fatalf("received all %d changes; the subscriber was not behind", n)
		}
		w.subscribe("r", fmt.Sprintf(`subscription { changes(after: %q) { %s } }`, last.Cursor, changeFields))
		if got := w.nextChange("r", "changes"); *got.EventID != fmt.Sprintf("default/s-%d", n) {
			t.Fatalf("resumed at %s, want default/s-%d", *got.EventID, n)
		}
	})
}
