package resolver

import (
	"reflect"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// A profile's identifiers are marshalled one after the other when nothing
// selected in them loads (gql/inline.go), concurrently when profile is
// selected; both give the same list, in key order.
func TestIdentifierListInlineAndConcurrent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		seedPeople(e)
		pid := e.profileID("email", "alice@example.com")
		type ident struct {
			Type, Value, Key string
			Sources          []string
			Profile          *struct{ ID string }
		}
		var inline, concurrent, fragment struct {
			P struct{ Identifiers []ident } `json:"profileByIdentifier"`
		}
		vars := map[string]any{"t": "email", "v": "alice@example.com"}
		e.query(`query($t:String!,$v:String!){profileByIdentifier(type:$t,value:$v){identifiers{type value key sources}}}`, vars, &inline)
		e.query(`query($t:String!,$v:String!){profileByIdentifier(type:$t,value:$v){identifiers{type value key sources profile{id}}}}`, vars, &concurrent)
		e.query(`query($t:String!,$v:String!){profileByIdentifier(type:$t,value:$v){identifiers{...F}}} fragment F on Identifier{type value key sources profile{id}}`, vars, &fragment)

		// Alice's three identifiers (seedPeople), in key order, each seen
		// from the source "test".
		var want []ident
		for _, k := range []string{"anonymous_id:a1", "email:alice@example.com", "user_id:u1"} {
			r := graph.SplitKey(k)
			want = append(want, ident{Type: r.Type, Value: r.Value, Key: k, Sources: []string{"test"}})
		}
		if !reflect.DeepEqual(inline.P.Identifiers, want) {
			t.Fatalf("identifiers without profile: %+v, want %+v", inline.P.Identifiers, want)
		}
		for i := range want {
			want[i].Profile = &struct{ ID string }{pid}
		}
		if !reflect.DeepEqual(concurrent.P.Identifiers, want) {
			t.Fatalf("identifiers with profile: %+v, want %+v", concurrent.P.Identifiers, want)
		}
		if !reflect.DeepEqual(fragment.P.Identifiers, want) {
			t.Fatalf("identifiers with profile in a fragment: %+v, want %+v", fragment.P.Identifiers, want)
		}
	})
}
