package neo4jstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/idgraph/cdp/graph"
)

// retryRead reruns a read after the failures the driver reruns a managed
// transaction for (a lost connection, a transient error), at once the
// first time, and gives up on any other error, when ctx ends, and when the
// next wait would pass its limit.
func TestRetryRead(t *testing.T) {
	lost := func() error {
		return fmt.Errorf("lookup profiles: %w", &neo4j.ConnectivityError{Inner: errors.New("connection reset by peer")})
	}
	unavailable := &neo4j.Neo4jError{Code: "Neo.TransientError.General.DatabaseUnavailable", Msg: "database unavailable"}
	syntax := &neo4j.Neo4jError{Code: "Neo.ClientError.Statement.SyntaxError", Msg: "bad statement"}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name      string
		ctx       context.Context
		limit     time.Duration
		fails     []error // returned by the first calls, in order; then nil
		wantCalls int
		wantErr   error // nil: success
	}{
		{"lost connection, then success", context.Background(), time.Minute, []error{lost()}, 2, nil},
		{"lost, transient, then success", context.Background(), time.Minute, []error{lost(), fmt.Errorf("read: %w", unavailable)}, 3, nil},
		{"an error no retry mends", context.Background(), time.Minute, []error{syntax}, 1, syntax},
		{"ctx ended", cancelled, time.Minute, []error{lost()}, 1, &neo4j.ConnectivityError{}},
		// At once, then a second later: past a limit of half a second.
		{"limit", context.Background(), 500 * time.Millisecond, []error{lost(), lost(), lost()}, 2, &neo4j.ConnectivityError{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			err := retryRead(c.ctx, c.limit, func() error {
				calls++
				if calls <= len(c.fails) {
					return c.fails[calls-1]
				}
				return nil
			})
			if calls != c.wantCalls {
				t.Errorf("%d calls, want %d", calls, c.wantCalls)
			}
			switch want := c.wantErr.(type) {
			case nil:
				if err != nil {
					t.Errorf("err = %v, want success", err)
				}
			case *neo4j.ConnectivityError:
				var ce *neo4j.ConnectivityError
				if !errors.As(err, &ce) {
					t.Errorf("err = %v, want the last lost connection", err)
				}
			default:
				if !errors.Is(err, want) {
					t.Errorf("err = %v, want %v", err, want)
				}
			}
		})
	}
}

// A Neo4j server error reaches callers, and the logs, as its code alone:
// its message can quote a stored value (here a constraint violation names
// the identifier key it found). The driver's error stays reachable for
// errors.As, and an unavailable one is still UNAVAILABLE.
func TestClassifyWithholdsNeo4jMessages(t *testing.T) {
	s := &Store{uri: "bolt://127.0.0.1:7687"}
	const key = "email:ann@example.com"
	for _, c := range []struct {
		err  error
		code string
	}{
		{&neo4j.Neo4jError{Code: "Neo.ClientError.Schema.ConstraintValidationFailed", Msg: "Node(7) already exists with label `Identifier` and property `key` = '" + key + "'"}, graph.EINTERNAL},
		{fmt.Errorf("lock identifiers: %w", &neo4j.Neo4jError{Code: "Neo.TransientError.Transaction.DeadlockDetected", Msg: "ForsetiClient can't acquire lock for '" + key + "'"}), graph.EUNAVAILABLE},
	} {
		err := s.classify(c.err)
		if strings.Contains(err.Error(), "ann@example.com") {
			t.Errorf("classify(%v) = %q, repeats the key", c.err, err)
		}
		var ne *neo4j.Neo4jError
		if !errors.As(err, &ne) || !strings.Contains(err.Error(), ne.Code) {
			t.Errorf("classify(%v) = %q: the driver's error is not reachable, or its code is not named", c.err, err)
		}
		if got := graph.ErrorCode(err); got != c.code {
			t.Errorf("classify(%v): code %s, want %s", c.err, got, c.code)
		}
	}
	if !constraintFailed(s.classify(&neo4j.Neo4jError{Code: "Neo.ClientError.Schema.ConstraintValidationFailed"})) {
		t.Error("a classified constraint violation is no longer seen as one")
	}
}
