package resolver

import (
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestDescriptionsAreText: the free-text descriptions (a computed trait's,
// an audience's) follow one rule: no control character but tab and
// newline. A refusal names input.description and never repeats it; a
// description with a tab and a newline is kept as given.
func TestDescriptionsAreText(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		const marker = "MARKER-desc"
		ct := func(desc string) map[string]any {
			return map[string]any{"in": map[string]any{"name": "orders", "aggregate": "COUNT", "event": "Order Completed", "description": desc}}
		}
		aud := func(desc string) map[string]any {
			return map[string]any{"name": "Buyers", "description": desc, "filter": jsonOf(t, `{"identifier":{"type":"user_id"}}`)}
		}
		a := createAudience(e, aud("first"))
		muts := []struct {
			name string
			op   string
			vars func(desc string) map[string]any
		}{
			{"defineComputedTrait", defineCTOp, ct},
			{"createAudience", createAudienceOp, func(d string) map[string]any { return map[string]any{"in": aud(d)} }},
			{"updateAudience", updateAudienceOp, func(d string) map[string]any { return map[string]any{"id": a.ID, "in": aud(d)} }},
		}
		for _, m := range muts {
			for _, bad := range []string{marker + "\x00", marker + "\x1b[2J", marker + "\r\n", marker + "\x7f", marker + "\u009b"} {
				r := e.refused(m.op, m.vars(bad), CodeInvalidArgument, "input.description", "control character")
				if strings.Contains(r.Errors[0].Message, marker) || strings.Contains(string(r.Data), marker) {
					t.Errorf("%s: the refusal repeats the description: %+v", m.name, r.Errors)
				}
			}
		}
		// Nothing of the refusals was stored.
		var got struct {
			ComputedTraits []struct{ Name string }
			Audiences      struct {
				Nodes []struct{ Description *string }
			}
		}
		e.query(`{ computedTraits { name } audiences(first: 10) { nodes { description } } }`, nil, &got)
		if len(got.ComputedTraits) != 0 || len(got.Audiences.Nodes) != 1 || got.Audiences.Nodes[0].Description == nil || *got.Audiences.Nodes[0].Description != "first" {
			t.Fatalf("after the refusals: %+v", got)
		}

		// Tab and newline are text.
		const ok = "Orders\tcompleted\nsince launch"
		var def struct{ DefineComputedTrait struct{ Description string } }
		e.query(defineCTOp, ct(ok), &def)
		if def.DefineComputedTrait.Description != ok {
			t.Errorf("computed trait description %q, want %q", def.DefineComputedTrait.Description, ok)
		}
		if b := createAudience(e, aud(ok)); b.Description == nil || *b.Description != ok {
			t.Errorf("audience description %v, want %q", b.Description, ok)
		}
	})
}
