package resolver

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/internal/testlog"
)

// A field whose request was cancelled while it ran (a websocket closed
// while its subscription starts, a client that hung up) fails with the
// request's context, which is no failure of the server: it answers
// UNAVAILABLE and is logged at info with the request id, never as an
// internal error at error level, which would page an operator for a
// client's disconnect. The error is the embedded store's own, read with
// the cancelled context, as a resolver hands it on, or wrapped.
func TestCancelledFieldIsNoInternalError(t *testing.T) {
	engine := graph.NewEngine(storetest.Embedded(t), nil)
	logs := &testlog.Buffer{}
	ctx, cancel := context.WithCancel(zerolog.New(logs).With().Str("request_id", "req-42").Logger().WithContext(context.Background()))
	cancel()
	_, readErr := engine.ExplainLink(ctx, graph.IdentifierRef{Type: "user_id", Value: "u1"}, graph.IdentifierRef{Type: "user_id", Value: "u2"})
	if readErr == nil {
		t.Fatal("a read with a cancelled context succeeded")
	}
	for _, err := range []error{domainErr(readErr), fmt.Errorf("changes: %w", readErr)} {
		out := presenter(true)(ctx, err)
		if out.Extensions["code"] != CodeUnavailable || !strings.Contains(out.Message, "cancelled") {
			t.Fatalf("%v: answered %q %v, want UNAVAILABLE saying the request was cancelled", err, out.Message, out.Extensions)
		}
	}
	if s := logs.String(); strings.Contains(s, `"level":"error"`) || strings.Contains(s, "internal error") || !strings.Contains(s, "req-42") {
		t.Fatalf("a cancelled field was logged as an internal error, or without its request id:\n%s", s)
	}

	// A context that is not cancelled keeps the rule: an error that merely
	// wraps context.Canceled is internal.
	logs = &testlog.Buffer{}
	out := presenter(true)(zerolog.New(logs).WithContext(context.Background()), domainErr(context.Canceled))
	if out.Extensions["code"] != CodeInternal || !strings.Contains(logs.String(), "graphql: internal error") {
		t.Fatalf("context.Canceled on a live request: %q %v, log %s", out.Message, out.Extensions, logs.String())
	}
}
