package resolver

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// seedPeople stores Alice (user u1, her email, anonymous a1) and Bob (user
// u2, his email), and one event that tries to join u2 to Alice's email,
// which the user_id limit refuses.
func seedPeople(e *env) {
	e.t.Helper()
	e1 := withTraits(ev("e1", t0, "identify", "user_id:u1", "email:alice@example.com"), map[string]any{"name": "Alice"})
	e2 := withTraits(withChannel(ev("e2", t0.Add(time.Hour), "track", "anonymous_id:a1", "email:alice@example.com"), "mobile"), map[string]any{"plan": "free"})
	e2.Name = "Viewed"
	e3 := withChannel(withTraits(ev("e3", t0.Add(2*time.Hour), "identify", "user_id:u1"), map[string]any{"plan": "pro"}), "server")
	e4 := ev("e4", t0.Add(3*time.Hour), "page", "anonymous_id:a1")
	b1 := withTraits(ev("b1", t0, "identify", "email:bob@example.com", "user_id:u2"), map[string]any{"name": "Bob"})
	c1 := ev("c1", t0.Add(4*time.Hour), "track", "user_id:u2", "email:alice@example.com")
	e.apply(e1, e2, e3, e4, b1)
	e.apply(c1)
}

func TestProfileQueries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		seedPeople(e)

		var out struct {
			P struct {
				ID          string
				Size        int
				CreatedAt   time.Time
				UpdatedAt   time.Time
				Identifiers []struct {
					Type, Value, Key    string
					FirstSeen, LastSeen time.Time
					Sources             []string
					Profile             struct{ ID string }
					Traits              []struct{ Name string }
				}
				Traits      map[string]any
				TraitValues []struct {
					Name       string
					Value      any
					Source     string
					At         time.Time
					Identifier struct{ Key string }
				}
				TraitSources []struct {
					Value any
					At    time.Time
				}
				Journey struct {
					Edges []struct {
						Cursor string
						Node   struct {
							ID, Type      string
							Name, Channel *string
							Source        *string
							Timestamp     time.Time
							ReceivedAt    time.Time
							Properties    map[string]any
							Traits        map[string]any
							Identifiers   []struct{ Key string }
							Shared        bool
						}
					}
					PageInfo struct {
						HasNextPage, HasPreviousPage bool
						StartCursor, EndCursor       *string
					}
				}
				History       []struct{ Kind string }
				IdentityGraph struct {
					ProfileID string
					Nodes     []struct {
						ID        string
						InProfile bool
						ProfileID *string
					}
					Edges []struct {
						From, To, Source, Evidence string
						Rejected                   bool
						Reason                     *string
						Count                      int
					}
				}
				ExplainLink struct {
					Linked bool
					Path   []struct {
						From, To      struct{ Key string }
						Source        string
						Evidence      string
						EvidenceEvent *struct{ ID string }
					}
				}
			} `json:"profileByIdentifier"`
		}
		e.query(`query($v: String!) {
		  profileByIdentifier(type: "email", value: $v) {
		    id size createdAt updatedAt
		    identifiers(first: 20) { type value key firstSeen lastSeen sources profile { id } traits(first: 20) { name } }
		    traits
		    traitValues { name value source at identifier { key } }
		    traitSources(name: "plan") { value at }
		    journey(first: 10) {
		      edges { cursor node { id type name channel source timestamp receivedAt properties traits identifiers { key } shared } }
		      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
		    }
		    history { kind }
		    identityGraph { profileId nodes { id inProfile profileId } edges { from to source evidence rejected reason count } }
		    explainLink(a: {type: "user_id", value: "u1"}, b: {type: "anonymous_id", value: "a1"}) {
		      linked path { from { key } to { key } source evidence evidenceEvent { id } }
		    }
		  }
		}`, map[string]any{"v": "  Alice@Example.COM "}, &out)
		p := out.P

		if p.ID == "" || p.Size != 3 {
			t.Fatalf("profile: got id %q size %d, want a profile of 3 identifiers", p.ID, p.Size)
		}
		if p.CreatedAt.IsZero() || p.UpdatedAt.Before(p.CreatedAt) {
			t.Errorf("createdAt %v, updatedAt %v", p.CreatedAt, p.UpdatedAt)
		}
		var keys []string
		for _, id := range p.Identifiers {
			keys = append(keys, id.Key)
			if id.Profile.ID != p.ID {
				t.Errorf("identifier %s: profile %q, want %q", id.Key, id.Profile.ID, p.ID)
			}
			if id.Key != id.Type+":"+id.Value || id.FirstSeen.IsZero() || id.LastSeen.Before(id.FirstSeen) || !reflect.DeepEqual(id.Sources, []string{"test"}) {
				t.Errorf("identifier %+v", id)
			}
		}
		var u1Traits []string
		for _, tr := range p.Identifiers[2].Traits {
			u1Traits = append(u1Traits, tr.Name)
		}
		if !reflect.DeepEqual(u1Traits, []string{"name", "plan"}) {
			t.Errorf("traits reported with user_id:u1: %v, want name and plan", u1Traits)
		}
		if want := []string{"anonymous_id:a1", "email:alice@example.com", "user_id:u1"}; !reflect.DeepEqual(keys, want) {
			t.Errorf("identifiers %v, want %v", keys, want)
		}
		if want := map[string]any{"name": "Alice", "plan": "pro"}; !reflect.DeepEqual(p.Traits, want) {
			t.Errorf("traits %v, want %v", p.Traits, want)
		}
		if len(p.TraitValues) != 2 || p.TraitValues[1].Name != "plan" || p.TraitValues[1].Value != "pro" ||
			p.TraitValues[1].Source != "test" || !p.TraitValues[1].At.Equal(t0.Add(2*time.Hour)) || p.TraitValues[1].Identifier.Key != "user_id:u1" {
			t.Errorf("traitValues %+v", p.TraitValues)
		}
		if len(p.TraitSources) != 2 || p.TraitSources[0].Value != "pro" || p.TraitSources[1].Value != "free" {
			t.Errorf("traitSources(plan) %+v, want pro then free", p.TraitSources)
		}

		var journey []string
		for _, ed := range p.Journey.Edges {
			journey = append(journey, ed.Node.ID)
			if ed.Cursor == "" || ed.Node.ReceivedAt.IsZero() || (ed.Node.Properties["n"] != ed.Node.ID) != ed.Node.Shared {
				t.Errorf("edge %+v", ed)
			}
		}
		if want := []string{"c1", "e4", "e3", "e2", "e1"}; !reflect.DeepEqual(journey, want) {
			t.Errorf("journey %v, want newest first %v", journey, want)
		}
		e2 := p.Journey.Edges[3].Node
		if e2.Type != "track" || e2.Name == nil || *e2.Name != "Viewed" || e2.Channel == nil || *e2.Channel != "mobile" ||
			e2.Source == nil || *e2.Source != "test" || !e2.Timestamp.Equal(t0.Add(time.Hour)) || len(e2.Identifiers) != 2 {
			t.Errorf("event e2 %+v", e2)
		}
		if e1 := p.Journey.Edges[4].Node; !reflect.DeepEqual(e1.Traits, map[string]any{"name": "Alice"}) || len(p.Journey.Edges[3].Node.Properties) != 1 {
			t.Errorf("event e1 traits %v, e2 properties %v", e1.Traits, p.Journey.Edges[3].Node.Properties)
		}
		// c1 carried Bob's user id and Alice's email, a link the rules
		// refused: Alice sees it with her email only, and without its
		// payload, which is Bob's.
		if c1 := p.Journey.Edges[0].Node; len(c1.Identifiers) != 1 || c1.Identifiers[0].Key != "email:alice@example.com" ||
			!c1.Shared || len(c1.Properties) != 0 || len(c1.Traits) != 0 {
			t.Errorf("c1 in Alice's journey = %+v, want shared, her email only, no payload", c1)
		}
		for _, ed := range p.Journey.Edges[1:] {
			if ed.Node.Shared {
				t.Errorf("%s is Alice's own event, not shared", ed.Node.ID)
			}
		}
		if pi := p.Journey.PageInfo; pi.HasNextPage || pi.HasPreviousPage || pi.StartCursor == nil || *pi.StartCursor != p.Journey.Edges[0].Cursor {
			t.Errorf("pageInfo %+v", pi)
		}
		if len(p.History) != 0 {
			t.Errorf("history %+v, want none", p.History)
		}

		g := p.IdentityGraph
		if g.ProfileID != p.ID || len(g.Nodes) != 4 {
			t.Fatalf("identityGraph %+v: want 3 own nodes and u2", g)
		}
		for _, n := range g.Nodes {
			if n.InProfile != (n.ID != "user_id:u2") || n.ProfileID == nil {
				t.Errorf("node %+v", n)
			}
		}
		accepted, rejected := 0, 0
		for _, ed := range g.Edges {
			if ed.Rejected {
				rejected++
				if ed.Reason == nil || !strings.Contains(*ed.Reason, "limit") || ed.Evidence != "c1" || ed.Source != graph.SourceRules {
					t.Errorf("rejected edge %+v", ed)
				}
			} else {
				accepted++
				if ed.Count != 1 || ed.Source != "test" {
					t.Errorf("edge %+v", ed)
				}
			}
		}
		if accepted != 2 || rejected != 1 {
			t.Errorf("edges: %d accepted, %d rejected; want 2 and 1", accepted, rejected)
		}

		ex := p.ExplainLink
		if !ex.Linked || len(ex.Path) != 2 {
			t.Fatalf("explainLink u1-a1: %+v", ex)
		}
		if ex.Path[0].From.Key != "user_id:u1" || ex.Path[0].To.Key != "email:alice@example.com" || ex.Path[0].Evidence != "e1" ||
			ex.Path[0].EvidenceEvent == nil || ex.Path[0].EvidenceEvent.ID != "e1" ||
			ex.Path[1].To.Key != "anonymous_id:a1" || ex.Path[1].Evidence != "e2" || ex.Path[1].Source != "test" {
			t.Errorf("path %+v", ex.Path)
		}
	})
}

func TestRootQueries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		seedPeople(e)
		alice := e.profileID("user_id", "u1")
		bob := e.profileID("user_id", "u2")

		var out struct {
			Profile    struct{ ID string }
			Missing    *struct{ ID string }
			NoOne      *struct{ ID string }
			Identifier struct {
				Key     string
				Profile struct{ ID string }
			}
			NoIdent *struct{ Key string }
			Event   struct {
				ID          string
				Identifiers []struct {
					Key     string
					Profile struct{ ID string }
				}
			}
			NoEvent     *struct{ ID string }
			ExplainLink struct {
				Linked             bool
				ProfileA, ProfileB string
				Path               []any
				Refusals           []struct {
					A, B          struct{ Key string }
					Source        string
					Reason        string
					Evidence      string
					EvidenceEvent *struct{ ID string }
					At            time.Time
				}
			}
		}
		e.query(`query($id: ID!) {
		  profile(id: $id) { id }
		  missing: profile(id: "p_nothing") { id }
		  noOne: profileByIdentifier(type: "email", value: "nobody@example.com") { id }
		  identifier(type: "email", value: "ALICE@example.com") { key profile { id } }
		  noIdent: identifier(type: "user_id", value: "zz") { key }
		  event(id: "c1") { id identifiers { key profile { id } } }
		  noEvent: event(id: "nope") { id }
		  explainLink(a: {type: "email", value: "alice@example.com"}, b: {type: "user_id", value: "u2"}) {
		    linked profileA profileB path { source }
		    refusals { a { key } b { key } source reason evidence evidenceEvent { id } at }
		  }
		}`, map[string]any{"id": alice}, &out)
		if out.Profile.ID != alice || out.Missing != nil || out.NoOne != nil || out.NoIdent != nil || out.NoEvent != nil {
			t.Errorf("lookups: %+v", out)
		}
		if out.Identifier.Key != "email:alice@example.com" || out.Identifier.Profile.ID != alice {
			t.Errorf("identifier %+v", out.Identifier)
		}
		owners := map[string]string{}
		for _, id := range out.Event.Identifiers {
			owners[id.Key] = id.Profile.ID
		}
		if want := map[string]string{"user_id:u2": bob, "email:alice@example.com": alice}; out.Event.ID != "c1" || !reflect.DeepEqual(owners, want) {
			t.Errorf("event c1 %+v, want identifiers owned %v", out.Event, want)
		}
		ex := out.ExplainLink
		if ex.Linked || ex.ProfileA != alice || ex.ProfileB != bob || len(ex.Path) != 0 || len(ex.Refusals) != 1 {
			t.Fatalf("explainLink alice-u2: %+v", ex)
		}
		if r := ex.Refusals[0]; r.Evidence != "c1" || r.EvidenceEvent == nil || r.EvidenceEvent.ID != "c1" ||
			!strings.Contains(r.Reason, "user_id") || r.At.IsZero() || r.Source != graph.SourceRules {
			t.Errorf("refusal %+v", r)
		}

		// Unusable values and unknown identifiers name the argument.
		e.refused(`{profileByIdentifier(type: "email", value: "not-an-email") { id }}`, nil, CodeInvalidArgument, `"value"`, "invalid email")
		e.refused(`{explainLink(a: {type: "email", value: "alice@example.com"}, b: {type: "user_id", value: "nobody"}) { linked }}`, nil, CodeNotFound, `argument "b"`, "not found")
		e.refused(`{explainLink(a: {type: "email", value: ""}, b: {type: "user_id", value: "u1"}) { linked }}`, nil, CodeInvalidArgument, `"a.value"`, "empty")
		e.refused(`{profileByIdentifier(type: "e mail", value: "x@example.com") { id }}`, nil, CodeInvalidArgument, `"type"`)
	})
}

func TestGET(t *testing.T) {
	e := newEnv(t, storetest.Embedded(t), testConfig(), nil)
	seedPeople(e)
	resp, err := e.srv.Client().Get(e.srv.URL + "?query=" + urlQuery(`{profileByIdentifier(type:"user_id", value:"u1"){ size }}`))
	if err != nil {
		t.Fatal(err)
	}
	r := decodeResponse(t, resp)
	if len(r.Errors) > 0 || string(r.Data) != `{"profileByIdentifier":{"size":3}}` {
		t.Fatalf("GET query: %d %s %+v", r.Status, r.Data, r.Errors)
	}
	resp, err = e.srv.Client().Get(e.srv.URL + "?query=" + urlQuery(`mutation{removeIdentifier(type:"user_id", value:"u1", reason:"x"){ id }}`))
	if err != nil {
		t.Fatal(err)
	}
	if r := decodeResponse(t, resp); r.Status != 406 || r.code() != CodeBadRequest || !strings.Contains(r.Errors[0].Message, "only carry a query") {
		t.Fatalf("GET mutation: %d %+v", r.Status, r.Errors)
	}
	if e.profileID("user_id", "u1") == "" {
		t.Fatal("a GET mutation changed data")
	}
	// Malformed parameters get 400 BAD_REQUEST naming the parameter, as a
	// malformed POST body does.
	for params, part := range map[string]string{
		"":                  `"query"`,
		"?variables=%7B%7D": `"query"`,
		"?query=%7Bviewer%7Bopen%7D%7D&variables=%7Bbad":  `"variables"`,
		"?query=%7Bviewer%7Bopen%7D%7D&variables=%5B1%5D": `"variables"`,
		"?query=%7Bviewer%7Bopen%7D%7D&extensions=x":      `"extensions"`,
	} {
		resp, err := e.srv.Client().Get(e.srv.URL + params)
		if err != nil {
			t.Fatal(err)
		}
		if r := decodeResponse(t, resp); r.Status != 400 || r.code() != CodeBadRequest || !strings.Contains(r.Errors[0].Message, part) {
			t.Errorf("GET %s: %d %+v, want 400 BAD_REQUEST naming %s", params, r.Status, r.Errors, part)
		}
	}
	// A null or empty variables parameter is no variables.
	resp, err = e.srv.Client().Get(e.srv.URL + "?query=" + urlQuery(`{viewer{open}}`) + "&variables=null")
	if err != nil {
		t.Fatal(err)
	}
	if r := decodeResponse(t, resp); r.Status != 200 || len(r.Errors) > 0 {
		t.Errorf("GET with variables=null: %d %+v", r.Status, r.Errors)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
