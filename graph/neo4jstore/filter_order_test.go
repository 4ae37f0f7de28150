package neo4jstore_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
)

// TestCompiledStringOrderIsUTF16: LT and GT on strings give the compiled
// filter's answer and the embedded evaluator's alike, where UTF-16 order
// and code point order differ (a character above U+FFFF against one from
// U+E000). The profiles that match are worked out by hand.
func TestCompiledStringOrderIsUTF16(t *testing.T) {
	s := neo4jStore(t)
	ctx := context.Background()
	eng := graph.NewEngine(s, nil)
	nicks := []string{"😀", "\uE000", "a", "\uFFFD"}
	pids := map[string]string{}
	for i, nick := range nicks {
		ref := graph.IdentifierRef{Type: "user_id", Value: fmt.Sprintf("order-%d", i)}
		ev := event(fmt.Sprintf("test/order-%d", i), i, ref)
		ev.Type, ev.Name, ev.Traits = "identify", "", map[string]any{"nick": nick}
		if _, err := eng.ApplyBatch(ctx, []graph.Event{ev}); err != nil {
			t.Fatal(err)
		}
		p, err := eng.ProfileByIdentifier(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		pids[nick] = p.ID
	}
	for _, c := range []struct {
		op    audience.Op
		value string
		want  []string // nicks
	}{
		{audience.OpLT, "\uE000", []string{"😀", "a"}},
		{audience.OpGT, "😀", []string{"\uE000", "\uFFFD"}},
		{audience.OpGT, "\uFFFD", nil},
		{audience.OpLT, "😀", []string{"a"}},
	} {
		f := audience.Filter{Trait: &audience.TraitCondition{Name: "nick", Op: c.op, Value: c.value}}
		n, ids, err := s.CountFilter(ctx, audience.FilterQuery{Filter: &f, Now: t0.Add(time.Hour), Sample: 10})
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, nick := range c.want {
			want = append(want, pids[nick])
			if !f.Eval(&audience.Subject{Traits: map[string]any{"nick": nick}}, t0) {
				t.Errorf("the embedded evaluator: %q %s %q is false", nick, c.op, c.value)
			}
		}
		slices.Sort(want)
		slices.Sort(ids)
		if n != len(c.want) || !slices.Equal(ids, want) {
			t.Errorf("nick %s %q: Neo4j counts %d %v, want %d %v", c.op, c.value, n, ids, len(want), want)
		}
	}
}
