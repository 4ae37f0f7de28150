package audience_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

// An event name is stored up to ingest.MaxEventNameBytes (4096 bytes), so
// an event condition and a computed trait can name any stored event: a
// name of 300 bytes, and one of 4096, select their events on both stores
// (names over 256 bytes were refused, and no filter could reach those
// events). A longer name is refused, naming the field.
func TestEventNamesAsLongAsIngestTakes(t *testing.T) {
	long := strings.Repeat("Checkout step completed / ", 12)[:300]
	longest := strings.Repeat("x", ingest.MaxEventNameBytes)
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		sc := newTwoUsers(s)
		ctx, st, eng, k, now, at, u1, u2 := sc.ctx, sc.st, sc.eng, sc.k, sc.now, sc.at, sc.u1, sc.u2
		mk := func(id, name string, ref graph.IdentifierRef) graph.Event {
			return graph.Event{ID: "test/" + id, Type: "track", Name: name, Channel: "web", Source: "test", Timestamp: at, ReceivedAt: at,
				Identifiers: []graph.IdentifierRef{ref}}
		}
		res, err := eng.ApplyBatch(ctx, []graph.Event{mk("e1", long, u1), mk("e2", long, u1), mk("e3", longest, u2), mk("e4", long[:256], u2)})
		if err != nil || res.Stored != 4 {
			t.Fatalf("ApplyBatch: %+v, %v", res, err)
		}
		p1, p2 := sc.profiles(t)
		for _, c := range []struct {
			name string
			want []string
		}{{long, []string{p1.ID}}, {longest, []string{p2.ID}}} {
			f := &audience.Filter{Event: &audience.EventCondition{Name: c.name}}
			if err := audience.Check(f, audience.Env{}, "filter"); err != nil {
				t.Fatalf("a %d-byte event name: %v", len(c.name), err)
			}
			n, ids, err := k.Preview(ctx, f, "", 5)
			if err != nil || n != len(c.want) || !reflect.DeepEqual(ids, c.want) {
				t.Errorf("Preview of a %d-byte event name: %d %v %v, want %v", len(c.name), n, ids, err, c.want)
			}
		}
		ct := audience.ComputedTrait{Name: "steps", Aggregate: audience.AggCount, Event: long, CreatedAt: now, UpdatedAt: now}
		if err := ct.Validate(); err != nil {
			t.Fatalf("a computed trait of a %d-byte event name: %v", len(long), err)
		}
		storetest.Must(t, st.PutComputedTrait(ctx, ct))
		f := &audience.Filter{Computed: &audience.ComputedCondition{Name: "steps", Op: audience.OpEQ, Value: int64(2)}}
		n, ids, err := k.Preview(ctx, f, "", 5)
		if err != nil || n != 1 || !reflect.DeepEqual(ids, []string{p1.ID}) {
			t.Errorf("Preview of steps = 2: %d %v %v, want [%s]", n, ids, err, p1.ID)
		}
	})
	tooLong := strings.Repeat("x", ingest.MaxEventNameBytes+1)
	if err := audience.Check(&audience.Filter{Event: &audience.EventCondition{Name: tooLong}}, audience.Env{}, "filter"); err == nil || !strings.Contains(err.Error(), "filter.event.name") {
		t.Errorf("a %d-byte event name in a filter: %v, want it refused naming filter.event.name", len(tooLong), err)
	}
	ct := audience.ComputedTrait{Name: "steps", Aggregate: audience.AggCount, Event: tooLong}
	if err := ct.Validate(); err == nil || !strings.Contains(err.Error(), "input.event") {
		t.Errorf("a computed trait of a %d-byte event name: %v, want it refused naming input.event", len(tooLong), err)
	}
}
