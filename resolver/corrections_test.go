package resolver

import (
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

func sorted(xs []string) []string {
	out := append([]string(nil), xs...)
	sort.Strings(out)
	return out
}

type mutProfile struct {
	ID          string
	Size        int
	Identifiers []struct{ Key string }
}

func (p mutProfile) keys() []string {
	var out []string
	for _, id := range p.Identifiers {
		out = append(out, id.Key)
	}
	return out
}

func TestMergeProfilesRedirects(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		e.apply(
			ev("m1", t0, "identify", "email:ann@example.com", "anonymous_id:x1"),
			ev("m2", t0.Add(time.Minute), "track", "anonymous_id:x2"),
			ev("m3", t0.Add(2*time.Minute), "identify", "user_id:other", "email:other@example.com"),
			ev("m4", t0.Add(3*time.Minute), "identify", "user_id:third"),
		)
		big := e.profileID("email", "ann@example.com")
		small := e.profileID("anonymous_id", "x2")

		var out struct {
			MergeProfiles mutProfile
		}
		e.query(`mutation($ids: [ID!]!) { mergeProfiles(ids: $ids, reason: "same person, told us by phone") { id size identifiers { key } } }`,
			map[string]any{"ids": []string{small, big}}, &out)
		if out.MergeProfiles.ID != big || out.MergeProfiles.Size != 3 {
			t.Fatalf("merge: %+v, want survivor %s of size 3", out.MergeProfiles, big)
		}
		if want := []string{"anonymous_id:x1", "anonymous_id:x2", "email:ann@example.com"}; !reflect.DeepEqual(out.MergeProfiles.keys(), want) {
			t.Fatalf("merged identifiers %v, want %v", out.MergeProfiles.keys(), want)
		}

		// The old id answers with the survivor, its journey and history.
		var red struct {
			Profile struct {
				ID      string
				Journey struct{ Nodes []struct{ ID string } }
				History []struct {
					Kind, From, Into, Reason string
					At                       time.Time
				}
			}
		}
		e.query(`query($id: ID!) { profile(id: $id) { id journey { nodes { id } } history { kind from into reason at } } }`, map[string]any{"id": small}, &red)
		if red.Profile.ID != big {
			t.Fatalf("profile(%s) = %s, want the survivor %s", small, red.Profile.ID, big)
		}
		if got := len(red.Profile.Journey.Nodes); got != 2 {
			t.Fatalf("survivor journey holds %d events, want m1 and m2", got)
		}
		if h := red.Profile.History; len(h) != 1 || h[0].Kind != "MERGE" || h[0].From != small || h[0].Into != big ||
			!strings.Contains(h[0].Reason, "told us by phone") || h[0].At.IsZero() {
			t.Fatalf("history %+v", h)
		}
		// The manual link explains the merge.
		var ex struct {
			ExplainLink struct {
				Linked bool
				Path   []struct{ Source, Evidence string }
			}
		}
		e.query(`{ explainLink(a: {type: "anonymous_id", value: "x2"}, b: {type: "email", value: "ann@example.com"}) { linked path { source evidence } } }`, nil, &ex)
		if !ex.ExplainLink.Linked || len(ex.ExplainLink.Path) != 1 || ex.ExplainLink.Path[0].Source != graph.SourceManual {
			t.Fatalf("explain manual merge: %+v", ex.ExplainLink)
		}

		const merge = `mutation($ids: [ID!]!, $r: String!) { mergeProfiles(ids: $ids, reason: $r) { id } }`
		e.refused(merge, map[string]any{"ids": []string{big, "p_unknown"}, "r": "x"}, CodeNotFound, "p_unknown")
		e.refused(merge, map[string]any{"ids": []string{big, small}, "r": "x"}, CodeInvalidArgument, "two distinct")
		e.refused(merge, map[string]any{"ids": []string{big, e.profileID("user_id", "third")}, "r": " "}, CodeInvalidArgument, "reason")
		e.refused(merge, map[string]any{"ids": []string{e.profileID("user_id", "other"), e.profileID("user_id", "third")}, "r": "x"}, CodeConflict, "user_id")
		tooMany := make([]string, 101)
		for i := range tooMany {
			tooMany[i] = big
		}
		e.refused(merge, map[string]any{"ids": tooMany, "r": "x"}, CodeInvalidArgument, `"ids"`, "100")
	})
}

// chain stores U–E–D: user u, email e and device d linked by two events,
// plus one event carried by each alone.
func chain(e *env) {
	e.t.Helper()
	e.apply(
		ev("ue", t0, "identify", "user_id:u", "email:e@example.com"),
		ev("ed", t0.Add(time.Minute), "track", "email:e@example.com", "device_id:d"),
		ev("u-only", t0.Add(2*time.Minute), "track", "user_id:u"),
		ev("d-only", t0.Add(3*time.Minute), "track", "device_id:d"),
		ev("e-only", t0.Add(4*time.Minute), "track", "email:e@example.com"),
	)
}

const splitFields = `id size identifiers { key } journey(first: 100) { nodes { id } }`

type splitProfile struct {
	mutProfile
	Journey struct{ Nodes []struct{ ID string } }
}

func (p splitProfile) events() []string {
	var out []string
	for _, n := range p.Journey.Nodes {
		out = append(out, n.ID)
	}
	return sorted(out)
}

func TestUnlinkIdentifiersSplitsEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		chain(e)
		before := e.profileID("user_id", "u")

		var out struct{ UnlinkIdentifiers []splitProfile }
		e.query(`mutation { unlinkIdentifiers(a: {type: "user_id", value: "u"}, b: {type: "email", value: "E@example.com"}, reason: "shared family email") { `+splitFields+` } }`, nil, &out)
		if len(out.UnlinkIdentifiers) != 2 {
			t.Fatalf("unlink gave %d profiles, want 2", len(out.UnlinkIdentifiers))
		}
		byKeys := map[string]splitProfile{}
		for _, p := range out.UnlinkIdentifiers {
			byKeys[strings.Join(p.keys(), ",")] = p
		}
		u, ok1 := byKeys["user_id:u"]
		ed, ok2 := byKeys["device_id:d,email:e@example.com"]
		if !ok1 || !ok2 {
			t.Fatalf("unlink parts %v", byKeys)
		}
		// Each part keeps exactly the events its identifiers carried.
		if want := []string{"u-only", "ue"}; !reflect.DeepEqual(u.events(), want) {
			t.Errorf("user part events %v, want %v", u.events(), want)
		}
		if want := []string{"d-only", "e-only", "ed", "ue"}; !reflect.DeepEqual(ed.events(), want) {
			t.Errorf("email+device part events %v, want %v", ed.events(), want)
		}
		if ed.ID != before {
			t.Errorf("the larger part should keep id %s, got %s", before, ed.ID)
		}

		// A new event carrying both does not join them again, and the
		// explanation shows the manual refusal.
		e.apply(ev("again", t0.Add(time.Hour), "track", "user_id:u", "email:e@example.com"))
		var ex struct {
			ExplainLink struct {
				Linked   bool
				Refusals []struct{ Source, Reason string }
			}
		}
		e.query(`{ explainLink(a: {type: "user_id", value: "u"}, b: {type: "email", value: "e@example.com"}) { linked refusals { source reason } } }`, nil, &ex)
		if ex.ExplainLink.Linked || len(ex.ExplainLink.Refusals) == 0 {
			t.Fatalf("after unlink: %+v", ex.ExplainLink)
		}
		var history struct {
			Profile struct {
				History []struct{ Kind, From, Into string }
			}
		}
		e.query(`query($id: ID!) { profile(id: $id) { history { kind from into } } }`, map[string]any{"id": u.ID}, &history)
		if h := history.Profile.History; len(h) != 1 || h[0].Kind != "SPLIT" || h[0].From != before || h[0].Into != u.ID {
			t.Errorf("split history %+v", h)
		}

		e.refused(`mutation { unlinkIdentifiers(a: {type: "user_id", value: "u"}, b: {type: "device_id", value: "d"}, reason: "x") { id } }`, nil, CodeNotFound, "not linked directly")
		e.refused(`mutation { unlinkIdentifiers(a: {type: "user_id", value: "u"}, b: {type: "device_id", value: "nope"}, reason: "x") { id } }`, nil, CodeNotFound, `argument "b"`, "not found")
		e.refused(`mutation { unlinkIdentifiers(a: {type: "user_id", value: "u"}, b: {type: "email", value: "not an email"}, reason: "x") { id } }`, nil, CodeInvalidArgument, `"b.value"`, "invalid email")
	})
}

func TestRemoveIdentifierSplitsEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		chain(e)

		var out struct{ RemoveIdentifier []splitProfile }
		e.query(`mutation { removeIdentifier(type: "email", value: " e@EXAMPLE.com", reason: "erasure request 42") { `+splitFields+` } }`, nil, &out)
		if len(out.RemoveIdentifier) != 2 {
			t.Fatalf("remove gave %d profiles, want 2", len(out.RemoveIdentifier))
		}
		got := map[string][]string{}
		for _, p := range out.RemoveIdentifier {
			got[strings.Join(p.keys(), ",")] = p.events()
		}
		want := map[string][]string{
			"user_id:u":   {"u-only", "ue"},
			"device_id:d": {"d-only", "ed"},
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("parts after removal %v, want %v", got, want)
		}
		// The event only the email carried is gone; the email too.
		var q struct {
			Event      *struct{ ID string }
			Identifier *struct{ Key string }
			Shared     struct{ Identifiers []struct{ Key string } } `json:"shared"`
		}
		e.query(`{ event(id: "e-only") { id } identifier(type: "email", value: "e@example.com") { key } shared: event(id: "ue") { identifiers { key } } }`, nil, &q)
		if q.Event != nil || q.Identifier != nil {
			t.Errorf("after removal: event %+v identifier %+v", q.Event, q.Identifier)
		}
		if len(q.Shared.Identifiers) != 1 || q.Shared.Identifiers[0].Key != "user_id:u" {
			t.Errorf("event ue now carries %+v, want only user_id:u", q.Shared.Identifiers)
		}

		// Removing the last identifier leaves no profile.
		var last struct{ RemoveIdentifier []splitProfile }
		e.query(`mutation { removeIdentifier(type: "device_id", value: "d", reason: "erasure") { id } }`, nil, &last)
		if len(last.RemoveIdentifier) != 0 {
			t.Errorf("removing the only identifier returned %+v", last.RemoveIdentifier)
		}
		e.refused(`mutation { removeIdentifier(type: "device_id", value: "d", reason: "again") { id } }`, nil, CodeNotFound, "not found")
		e.refused(`mutation { removeIdentifier(type: "user_id", value: "u", reason: "") { id } }`, nil, CodeInvalidArgument, "reason")
		e.refused(`mutation { removeIdentifier(type: "phone", value: "call me", reason: "x") { id } }`, nil, CodeInvalidArgument, `"value"`, "invalid phone")
	})
}

// A value pasted where a profile id belongs (an email) is never repeated
// in an error: mergeProfiles, forgetProfile, identityGraph's and
// dataExport's not-found messages name no such value.
func TestProfileIDArgumentsDoNotRepeatAPastedValue(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		e.apply(ev("m1", t0, "identify", "user_id:u1"), ev("m2", t0, "identify", "user_id:u2"))
		p1 := e.profileID("user_id", "u1")
		const email = "ann.secret@example.com"
		for name, c := range map[string]struct {
			q    string
			vars map[string]any
		}{
			"mergeProfiles": {`mutation($ids:[ID!]!){ mergeProfiles(ids:$ids, reason:"r"){ id } }`, map[string]any{"ids": []string{p1, email}}},
			"forgetProfile": {`mutation($id:ID!){ forgetProfile(id:$id, reason:"r"){ id } }`, map[string]any{"id": email}},
			"dataExport":    {`query($id:ID!){ dataExport(profileId:$id) }`, map[string]any{"id": email}},
		} {
			r := e.post(c.q, c.vars)
			if len(r.Errors) == 0 {
				t.Errorf("%s: no error", name)
				continue
			}
			for _, er := range r.Errors {
				if strings.Contains(er.Message, email) || strings.Contains(er.Message, "ann.secret") {
					t.Errorf("%s: error message repeats the pasted value: %q", name, er.Message)
				}
			}
		}
		// A well-formed id that names nothing is still named.
		r := e.post(`mutation($id:ID!){ forgetProfile(id:$id, reason:"r"){ id } }`, map[string]any{"id": "p_nobody"})
		if len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, `"p_nobody"`) {
			t.Errorf("forgetProfile of p_nobody: %+v, want NOT_FOUND naming it", r.Errors)
		}
	})
}
