package main

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/graph/graphtest"
	"github.com/idgraph/cdp/internal/storetest"
)

// cdp copy carries the numbers of traits and properties unchanged:
// 2^53+1 and its negative, the int64 limits, 1.5 and 1e300, at the top
// level and nested, go embedded -> embedded, embedded -> Neo4j and Neo4j
// -> embedded and read back as the values written (graphtest's literals).
// Each trait keeps when it was received too, which decides ties of time.
func TestCopyKeepsNumbersExact(t *testing.T) {
	ctx := context.Background()
	dir1 := t.TempDir()
	src, err := embedded.Open(dir1)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	recv := at.Add(90 * time.Second)
	ev := graph.Event{ID: "test/num", MessageID: "num", Type: "identify", Source: "test", Timestamp: at, ReceivedAt: recv,
		Identifiers: []graph.IdentifierRef{{Type: "user_id", Value: "u-num"}},
		Properties:  graphtest.NumbersPayload(), Traits: graphtest.NumbersPayload()}
	if res, err := graph.NewEngine(src, nil).ApplyBatch(ctx, []graph.Event{ev}); err != nil || res.Stored != 1 {
		t.Fatalf("ApplyBatch: %+v, %v", res, err)
	}
	storetest.Must(t, src.Close(ctx))

	check := func(what string, st graph.Store) {
		t.Helper()
		want := graphtest.NumbersPayload()
		storetest.Must(t, st.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
			evs, err := tx.Events(ctx, []string{"test/num"})
			if err != nil {
				return err
			}
			if got := evs["test/num"].Properties; !reflect.DeepEqual(got, want) {
				t.Errorf("%s: the event's properties are %#v, want %#v", what, got, want)
			}
			if got := evs["test/num"].Traits; !reflect.DeepEqual(got, want) {
				t.Errorf("%s: the event's traits are %#v, want %#v", what, got, want)
			}
			ids, err := tx.Identifiers(ctx, []string{"user_id:u-num"})
			if err != nil {
				return err
			}
			got := map[string]any{}
			for n, tv := range ids["user_id:u-num"].Traits {
				got[n] = tv.Value
				if !tv.At.Equal(at) || !tv.Received.Equal(recv) {
					t.Errorf("%s: trait %s is from %s, received %s; want from %s, received %s", what, n, tv.At, tv.Received, at, recv)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: the identifier's traits are %#v, want %#v", what, got, want)
			}
			return nil
		}))
	}
	reopen := func(dir string) *embedded.Store {
		t.Helper()
		st, err := embedded.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	dir2 := t.TempDir()
	out, errOut, code := copyRun(t, "--from-data-dir", dir1, "--to-data-dir", dir2)
	if code != 0 {
		t.Fatalf("copy embedded -> embedded: exit %d\n%s\n%s", code, out, errOut)
	}
	back := reopen(dir1)
	check("the source", back)
	storetest.Must(t, back.Close(ctx))
	copied := reopen(dir2)
	check("the embedded copy", copied)
	storetest.Must(t, copied.Close(ctx))

	throughNeo4j(t, dir1, check)
}
