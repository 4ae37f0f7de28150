package resolver

import (
	"reflect"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// A profile's identifiers are marshalled one after the other when nothing
// selected in them loads (gql/inline.go), concurrently when profile is
// selected; both give the same list, ordered by type and value.
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

// Profile.identifiers promises "ordered by type and value". Types may hold
// digits ([a-z][a-z0-9_]*), and "crm" sorts before "crm2" by type, while the
// keys "crm2:..." < "crm:..." byte-wise (':' is 0x3A, '2' is 0x32).
func TestIdentifiersOrderedByTypeThenValue(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		e.apply(ev("o1", t0, "identify", "crm:b", "crm2:a", "user_id:u1"))
		var out struct {
			P struct {
				All   []struct{ Type, Value string } `json:"all"`
				First []struct{ Type, Value string } `json:"first"`
			} `json:"profileByIdentifier"`
		}
		e.query(`{profileByIdentifier(type:"user_id",value:"u1"){all: identifiers{type value} first: identifiers(first:1){type value}}}`, nil, &out)
		want := []string{"crm:b", "crm2:a", "user_id:u1"}
		var got []string
		for _, i := range out.P.All {
			got = append(got, i.Type+":"+i.Value)
		}
		if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
			t.Errorf("identifiers = %v, want ordered by type then value %v", got, want)
		}
		if len(out.P.First) != 1 || out.P.First[0].Type != "crm" {
			t.Errorf("identifiers(first:1) = %v, want the first by type, crm:b", out.P.First)
		}
	})
}

// List filters take type and channel names as ingest stores them would
// be given (profileByIdentifier("EMAIL") finds the profile; so must
// identifiers(types: ["EMAIL"]) list its email): seedPeople gives u1's
// profile one email and two identify events.
func TestListFiltersTakeNamesAsStored(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		seedPeople(e)
		var out struct {
			P struct {
				Identifiers []struct{ Key string }
				Journey     struct {
					Edges []struct{ Node struct{ Type string } }
				}
			} `json:"profileByIdentifier"`
		}
		e.query(`{ profileByIdentifier(type: "USER_ID", value: "u1") {
		  identifiers(types: [" EMAIL "]) { key }
		  journey(types: ["IDENTIFY"]) { edges { node { type } } } } }`, nil, &out)
		if len(out.P.Identifiers) != 1 || out.P.Identifiers[0].Key != "email:alice@example.com" {
			t.Errorf("identifiers(types: [\" EMAIL \"]) = %+v, want email:alice@example.com", out.P.Identifiers)
		}
		if n := len(out.P.Journey.Edges); n != 2 || out.P.Journey.Edges[0].Node.Type != "identify" || out.P.Journey.Edges[1].Node.Type != "identify" {
			t.Errorf("journey(types: [\"IDENTIFY\"]) = %+v, want u1's two identify events", out.P.Journey.Edges)
		}
	})
}
