package audience_test

import (
	"strings"
	"testing"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
)

// A computed trait's eventType that is no Segment type is refused naming
// input.eventType and never repeating what was given, as a filter's event
// type is refused: a value in the wrong field may be personal data (an
// email pasted as the type here), and errors reach the caller and the
// audit log.
func TestComputedEventTypeErrorRepeatsNoValue(t *testing.T) {
	for _, typ := range []string{"ann@example.com", "+14155550100", "purchase"} {
		c := audience.ComputedTrait{Name: "orders", Aggregate: audience.AggCount, EventType: typ}
		err := c.Validate()
		if graph.ErrorCode(err) != graph.EINVALID {
			t.Fatalf("eventType %q: got %v, want EINVALID", typ, err)
		}
		msg := graph.ErrorMessage(err)
		if !strings.HasPrefix(msg, "input.eventType:") || !strings.Contains(msg, "identify, track, page, screen, group, alias") {
			t.Errorf("eventType %q: message %q does not name input.eventType and the types", typ, msg)
		}
		if strings.Contains(msg, typ) {
			t.Errorf("eventType %q: message %q repeats the value given", typ, msg)
		}
		// The filter language refuses the same value without repeating it.
		f := audience.Filter{Event: &audience.EventCondition{Type: typ}}
		if ferr := audience.Check(&f, audience.Env{}, "filter"); ferr == nil || strings.Contains(graph.ErrorMessage(ferr), typ) {
			t.Errorf("filter event type %q: got %v", typ, ferr)
		}
	}
}
