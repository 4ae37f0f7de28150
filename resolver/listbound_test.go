package resolver

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/idgraph/cdp/gql"
)

// boundedLists are the list fields without `first` that are bounded by what
// they hold; growingLists those that grow with the data, which the schema's
// description names.
var (
	boundedLists = []string{
		"ApiKey.scopes", "AuditEntry.profileIds", "ChangeEvent.previousIds",
		"Destination.audienceIds", "Destination.headerNames", "Destination.kinds",
		"Funnel.steps", "IngestResult.results", "LookalikeMatch.reasons",
		"Path.events", "Profile.consent", "Query.computedTraits", "Query.lookalike",
		"Viewer.scopes",
	}
	growingLists = []string{"Attribution.credits", "Event.identifiers", "FunnelStep.byChannel", "Identifier.sources"}
)

// TestListsWithoutFirstAreTheOnesNamed: every list field of an output type
// takes `first` (or `last`), but the fields of a connection (bounded by its
// page) and those listed above, a new one among which must be placed in one
// of the two lists; the schema's description names the growing ones.
func TestListsWithoutFirstAreTheOnesNamed(t *testing.T) {
	schema := gql.NewExecutableSchema(gql.Config{}).Schema()
	var unpaged []string
	for name, def := range schema.Types {
		if strings.HasPrefix(name, "__") || def.Kind != "OBJECT" || name == "Mutation" || strings.HasSuffix(name, "Connection") {
			continue
		}
		for _, f := range def.Fields {
			if f.Type.Elem == nil || strings.HasPrefix(f.Name, "__") {
				continue
			}
			if f.Arguments.ForName("first") == nil && f.Arguments.ForName("last") == nil {
				unpaged = append(unpaged, name+"."+f.Name)
			}
		}
	}
	sort.Strings(unpaged)
	want := slices.Concat(boundedLists, growingLists)
	sort.Strings(want)
	if !slices.Equal(unpaged, want) {
		t.Errorf("list fields without first: %v, want %v", unpaged, want)
	}
	desc := strings.Join(strings.Fields(schema.Description), " ")
	for _, f := range growingLists {
		if !strings.Contains(desc, "`"+f+"`") {
			t.Errorf("the schema's description does not name %s", f)
		}
	}
}
