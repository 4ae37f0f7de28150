package resolver

import (
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// audience/SEMANTICS.md, "Refused filters": "an empty or over-long trait
// name, identifier type, event name or type ..." and "a bad
// duration" are refused with INVALID_ARGUMENT naming the place. An empty
// string is not an absent field: dropping it silently turns "events named
// ”" into "any event" and "within ”" into "all time", widening the
// audience without a word.
func TestEventConditionEmptyStringsRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		seedPeople(e)
		for _, c := range []struct {
			field string
			cond  map[string]any
		}{
			{"input.filter.event.name", map[string]any{"name": ""}},
			{"input.filter.event.type", map[string]any{"name": "Viewed", "type": ""}},
			{"input.filter.event.within", map[string]any{"name": "Viewed", "within": ""}},
		} {
			r := e.post(createAudienceOp, map[string]any{"in": map[string]any{"name": "empty " + c.field, "filter": map[string]any{"event": c.cond}}})
			if len(r.Errors) == 0 {
				t.Errorf("%s empty: accepted, stored filter %s", c.field, r.Data)
				continue
			}
			if r.code() != CodeInvalidArgument || !strings.Contains(r.Errors[0].Message, c.field) {
				t.Errorf("%s empty: want INVALID_ARGUMENT naming it, got %+v", c.field, r.Errors)
			}
		}
	})
}

// ComputedTraitInput.window: "An ISO-8601 duration such as `P30D` ...
// Absent: all time." COMPUTED.md: window follows ParseDuration's rules,
// which refuse "P" (no parts). An empty window is given, not absent, and is
// not a duration; it is silently stored as "all time".
func TestComputedTraitEmptyFieldsRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		e.refused(defineCTOp, map[string]any{"in": map[string]any{"name": "views_recent", "aggregate": "COUNT", "event": "Viewed", "window": ""}},
			CodeInvalidArgument, "input.window", "all time")
		e.refused(defineCTOp, map[string]any{"in": map[string]any{"name": "views_any", "aggregate": "COUNT", "event": "", "eventType": "track"}},
			CodeInvalidArgument, "input.event")
		e.refused(defineCTOp, map[string]any{"in": map[string]any{"name": "views_typed", "aggregate": "COUNT", "event": "Viewed", "eventType": ""}},
			CodeInvalidArgument, "input.eventType")
	})
}

// README, Errors: INVALID_ARGUMENT "... the message names the argument".
// createApiKey names "input.expiresAt" and (FORBIDDEN) "input.scopes", but
// its name, scope and source refusals come from access.Key.Validate and
// name no argument ("key name is empty", "unknown scope ...").
func TestCreateApiKeyErrorsNameTheField(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		op := `mutation($in:CreateApiKeyInput!){createApiKey(input:$in){key{id}}}`
		e.refused(op, map[string]any{"in": map[string]any{"name": " ", "scopes": []string{"profiles:read"}}}, CodeInvalidArgument, "input.name")
		e.refused(op, map[string]any{"in": map[string]any{"name": "k", "scopes": []string{"profiles:read", "root"}}}, CodeInvalidArgument, "input.scopes")
		e.refused(op, map[string]any{"in": map[string]any{"name": "k", "scopes": []string{"events:write"}, "source": "a b"}}, CodeInvalidArgument, "input.source")
	})
}

// A name of spaces only is refused by every mutation that names something
// (createApiKey always did): it would show as nothing in every list.
func TestBlankNamesRefused(t *testing.T) {
	e := newEnv(t, storetest.Embedded(t), testConfig(), nil)
	seedPeople(e)
	filter := map[string]any{"identifier": map[string]any{"type": "email"}}
	e.refused(createAudienceOp, map[string]any{"in": map[string]any{"name": "   ", "filter": filter}}, CodeInvalidArgument, "input.name", "only spaces")
	e.refused(createDestOp, map[string]any{"in": map[string]any{"name": " \t ", "url": "https://93.184.215.14/hook", "secret": "blank-name-secret-0123"}},
		CodeInvalidArgument, "input.name", "only spaces")
	var a struct{ CreateAudience struct{ ID string } }
	e.query(createAudienceOp, map[string]any{"in": map[string]any{"name": "emails", "filter": filter}}, &a)
	e.refused(createLookalikeOp, map[string]any{"a": a.CreateAudience.ID, "n": 10, "name": "  "}, CodeInvalidArgument, `"name"`, "only spaces")
	// A name with spaces around it is a name.
	e.query(createAudienceOp, map[string]any{"in": map[string]any{"name": " vip ", "filter": filter}}, nil)
}
