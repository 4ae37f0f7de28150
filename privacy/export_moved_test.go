package privacy_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// exportedIDs returns the identifier keys and event ids of an export's
// records, in the order written.
func exportedIDs(got map[string][]any) (idents, events []string) {
	for _, v := range got[privacy.KindIdentifier] {
		m := v.(privacy.ExportIdentifier)
		idents = append(idents, m.Type+":"+m.Value)
	}
	for _, v := range got[privacy.KindEvent] {
		events = append(events, v.(privacy.ExportEvent).ID)
	}
	return idents, events
}

// eachStore is storetest.Each, with an embedded store whose memory map
// the file never outgrows: a write committed while a read holds its
// snapshot need not wait for it (in the read's own goroutine it would wait
// for ever).
func eachStore(t *testing.T, fn func(t *testing.T, st graph.Store, name string)) {
	t.Run("embedded", func(t *testing.T) {
		s, err := embedded.OpenWith(t.TempDir(), embedded.Options{InitialMmapSize: 64 << 20})
		storetest.Must(t, err)
		t.Cleanup(func() { _ = s.Close(context.Background()) })
		fn(t, s, "embedded")
	})
	t.Run("neo4j", func(t *testing.T) { fn(t, storetest.Neo4j(t), "neo4j") })
}

// Lee (three visits) and Sam (one purchase, older than every visit) are
// strangers when Lee's export begins; a sign-in that links them commits
// between its first and second page of events (two a page). The export is
// then of one state of the person: before the sign-in, Lee's identifier
// and visits alone (the embedded store reads one snapshot), or after it,
// both identifiers and all five events, the sign-in included (Neo4j reads
// the profile again). Paging on across the merge gave Lee's identifier
// alone with Sam's purchase among the events, a person of neither state.
func TestExportOfOneStateWhenMergedBetweenPages(t *testing.T) {
	eachStore(t, func(t *testing.T, st graph.Store, name string) {
		eng := graph.NewEngine(st, nil)
		ctx := context.Background()
		apply(t, eng,
			event("test/l1", t0.Add(1*time.Second), nil, "anonymous_id:lee"),
			event("test/l2", t0.Add(2*time.Second), nil, "anonymous_id:lee"),
			event("test/l3", t0.Add(3*time.Second), nil, "anonymous_id:lee"))
		apply(t, eng, event("test/s1", t0, nil, "user_id:sam"))
		pid := profileOf(t, eng, "anonymous_id:lee")
		merged := false
		defer privacy.SetEventPage(2, func() {
			if !merged {
				merged = true
				apply(t, eng, event("test/link", t0.Add(10*time.Second), nil, "anonymous_id:lee", "user_id:sam"))
			}
		})()
		ex, err := privacy.NewExporter(eng).Prepare(ctx, pid)
		storetest.Must(t, err)
		if got := profileOf(t, eng, "user_id:sam"); got != pid {
			t.Fatalf("the sign-in left Sam in %s, not in Lee's %s", got, pid)
		}
		idents, events := exportedIDs(collect(t, ex))
		before := fmt.Sprint([]string{"anonymous_id:lee"}, []string{"test/l3", "test/l2", "test/l1"})
		after := fmt.Sprint([]string{"anonymous_id:lee", "user_id:sam"}, []string{"test/link", "test/l3", "test/l2", "test/l1", "test/s1"})
		want := map[string]string{"embedded": before, "neo4j": after}[name]
		if got := fmt.Sprint(idents, events); !merged || got != want {
			t.Fatalf("export during the merge (made: %v): identifiers and events %s; want %s (before it: %s; after it: %s)", merged, got, want, before, after)
		}
	})
}
