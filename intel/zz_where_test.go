package intel_test

import (
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/intel"
)

func TestAdvWhereShared(t *testing.T) {
	mk := func(id string, at time.Time, props map[string]any, ids ...string) graph.Event {
		e := graph.Event{ID: id, Type: "track", Name: "A", Channel: "web", Timestamp: at, ReceivedAt: intel.T0, Properties: props}
		for _, k := range ids {
			e.Identifiers = append(e.Identifiers, graph.SplitKey(k))
		}
		return e
	}
	a := onBothStores(t, []graph.Event{
		mk("s/1", intel.T0, map[string]any{"v": 1.0, "s": "x", "n": nil, "l": []any{"a", 1.0}, "o": map[string]any{"k": "y"}, "big": int64(9007199254740993)}, "device_id:d1", "user_id:u1"),
		mk("s/2", intel.T0.Add(time.Minute), map[string]any{"v": 2.0}, "device_id:d1", "user_id:u2"),
	}, 1)
	for _, c := range []struct {
		w    audience.PropertyFilter
		want int
	}{
		{audience.PropertyFilter{Path: "v", Op: audience.OpNotExists}, 1},
		{audience.PropertyFilter{Path: "v", Op: audience.OpExists}, 2},
		{audience.PropertyFilter{Path: "v", Op: audience.OpNEQ, Value: 5.0}, 2},
		{audience.PropertyFilter{Path: "n", Op: audience.OpNotExists}, 3},
		{audience.PropertyFilter{Path: "n", Op: audience.OpExists}, 0},
		{audience.PropertyFilter{Path: "v", Op: audience.OpEQ, Value: "1"}, 0},
		{audience.PropertyFilter{Path: "v", Op: audience.OpIN, Value: []any{1.0, "2"}}, 1},
		{audience.PropertyFilter{Path: "l", Op: audience.OpContains, Value: "a"}, 1},
		{audience.PropertyFilter{Path: "l", Op: audience.OpContains, Value: 1.0}, 1},
		{audience.PropertyFilter{Path: "l", Op: audience.OpContains, Value: "1"}, 0},
		{audience.PropertyFilter{Path: "o.k", Op: audience.OpEQ, Value: "y"}, 1},
		{audience.PropertyFilter{Path: "o", Op: audience.OpExists}, 1},
		{audience.PropertyFilter{Path: "s", Op: audience.OpGT, Value: "w"}, 1},
		{audience.PropertyFilter{Path: "big", Op: audience.OpEQ, Value: 9007199254740992.0}, 1},
		{audience.PropertyFilter{Path: "big", Op: audience.OpGT, Value: 9007199254740992.0}, 0},
		{audience.PropertyFilter{Path: "v", Op: audience.OpGTE, Value: -0.0}, 2},
	} {
		q := intel.PathsQuery{Start: intel.EventMatch{Where: []audience.PropertyFilter{c.w}}, Depth: 1, First: 5}
		for name, r := range a.paths(q) {
			if r.Starts != c.want {
				t.Errorf("%+v on %s: %d starts, want %d", c.w, name, r.Starts, c.want)
			}
		}
	}
}
