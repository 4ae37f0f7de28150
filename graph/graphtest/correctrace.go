package graphtest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/idgraph/cdp/graph"
)

// An unlinkIdentifiers of a and b racing ingestion of events that carry
// a and b together, and b with a new identifier c, ends as a serial order
// would. Worked by hand: a and b are joined by their direct link alone.
// Unlink first: the events carrying both are refused (a manual refusal),
// and c joins b. Events first: they add nothing between a and b, c joins
// b, then the cut leaves a alone and b with c. Either way a is alone,
// b and c are one profile, and the manual refusal of a and b is kept.
func testUnlinkRacingIngest(t *testing.T, open Opener) {
	e := graph.NewEngine(open(t), nil)
	ctx := context.Background()
	var keys []string
	for round := range 15 {
		a, b, c := user(fmt.Sprintf("u%d", round)), email(fmt.Sprintf("r%d@example.com", round)), anon(fmt.Sprintf("c%d", round))
		keys = append(keys, key(a), key(b), key(c))
		apply(t, e, ev(fmt.Sprintf("r%d-join", round), 0, a, b))
		var unlinkErr, ingestErr error
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			_, unlinkErr = e.UnlinkIdentifiers(ctx, a, b, "not the same person")
		}()
		go func() {
			defer wg.Done()
			<-start
			for i := range 4 {
				evs := []graph.Event{ev(fmt.Sprintf("r%d-both%d", round, i), i+1, a, b), ev(fmt.Sprintf("r%d-bc%d", round, i), i+1, b, c)}
				if _, err := e.ApplyBatch(ctx, evs); err != nil {
					ingestErr = err
					return
				}
			}
		}()
		close(start)
		wg.Wait()
		if unlinkErr != nil || ingestErr != nil {
			t.Fatalf("round %d: unlink: %v, ingest: %v", round, unlinkErr, ingestErr)
		}
		pa, pb, pc := profileOf(t, e, a), profileOf(t, e, b), profileOf(t, e, c)
		if pa.ID == pb.ID || pb.ID != pc.ID {
			t.Fatalf("round %d: profiles a %s, b %s, c %s; want a alone, b with c", round, pa.ID, pb.ID, pc.ID)
		}
		if got := members(t, e, pa.ID); !same(got, []string{key(a)}) {
			t.Fatalf("round %d: a's profile holds %v, want a alone", round, got)
		}
		if got := members(t, e, pb.ID); !same(got, sorted(key(b), key(c))) {
			t.Fatalf("round %d: b's profile holds %v, want b and c", round, got)
		}
		if linked(t, e, a, b) {
			t.Fatalf("round %d: a and b are linked after the unlink", round)
		}
	}
	if err := CheckInvariants(ctx, e, keys); err != nil {
		t.Fatal(err)
	}
}
