package privacy_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// History reasons name identifiers ("event e linked user_id:u-ann and
// email:bob@example.com", "unlinked ..."). One that a split took away is
// another person's now: Ann's export withholds its value, keeping her own
// identifiers, the type and the rest of the reason. Here Bob's email came
// into Ann's profile with a merge and left it with an unlink; it then
// merged into Bob's profile.
func TestExportHistoryWithholdsOtherPeoplesIdentifiers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		eng := graph.NewEngine(st, nil)
		ctx := context.Background()
		apply(t, eng, event("test/h1", t0, nil, "user_id:u-ann"))
		apply(t, eng, event("test/h2", t0.Add(time.Second), nil, "email:bob@example.com"))
		apply(t, eng, event("test/h3", t0.Add(2*time.Second), nil, "user_id:u-ann", "email:bob@example.com"))
		ann := profileOf(t, eng, "user_id:u-ann")
		if profileOf(t, eng, "email:bob@example.com") != ann {
			t.Fatal("Bob's email did not merge into Ann's profile")
		}
		if _, err := eng.UnlinkIdentifiers(ctx, graph.SplitKey("user_id:u-ann"), graph.SplitKey("email:bob@example.com"), "not hers"); err != nil {
			t.Fatal(err)
		}
		apply(t, eng, event("test/h4", t0.Add(3*time.Second), nil, "user_id:u-bob", "email:bob@example.com"))
		if profileOf(t, eng, "email:bob@example.com") == ann {
			t.Fatal("the unlink left Bob's email in Ann's profile")
		}

		ex, err := privacy.NewExporter(eng).Prepare(ctx, ann)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, v := range collect(t, ex)[privacy.KindHistory] {
			c := v.(privacy.ExportChange)
			got = append(got, c.Change+": "+c.Reason)
		}
		want := []string{
			"merge: event test/h3 linked user_id:u-ann and email:[withheld]",
			"split: unlinked user_id:u-ann and email:[withheld]: not hers",
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Ann's history reasons =\n%q\nwant\n%q", got, want)
		}
	})
}
