package resolver

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// An identifier condition's type is compared as identifiers' types are
// stored: trimmed, lower-case, a dot read as "_" (as the collector reads
// Segment's ios.idfa). "Email" selected nobody, and with exists: false
// everyone, since no stored type has a capital or a dot. A definition
// is stored, and shown, with the type in that form.
func TestAudienceIdentifierTypeAsStored(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		at := time.Now().UTC().Add(-time.Hour)
		// ann has an email; bob an IDFA.
		e.apply(
			ev("a1", at, "identify", "user_id:ann", "email:ann@example.com"),
			ev("b1", at, "identify", "user_id:bob", "ios_idfa:6d92078a-8246-4ba4-ae5b-76104861e7dc"),
		)
		ann, bob := e.profileID("user_id", "ann"), e.profileID("user_id", "bob")
		for _, c := range []struct {
			filter string
			want   []string
		}{
			{`{identifier: {type: "email"}}`, []string{ann}},
			{`{identifier: {type: "Email"}}`, []string{ann}},
			{`{identifier: {type: " EMAIL "}}`, []string{ann}},
			{`{identifier: {type: "ios.idfa"}}`, []string{bob}},
			{`{identifier: {type: "IOS.IDFA"}}`, []string{bob}},
			{`{identifier: {type: "Email", exists: false}}`, []string{bob}},
		} {
			var out struct {
				Profiles struct{ Nodes []struct{ ID string } }
			}
			e.query(`{ profiles(filter: `+c.filter+`, first: 10) { nodes { id } } }`, nil, &out)
			got := []string{}
			for _, n := range out.Profiles.Nodes {
				got = append(got, n.ID)
			}
			slices.Sort(got)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("profiles(filter: %s): %v, want %v", c.filter, got, c.want)
			}
		}
		a := createAudience(e, map[string]any{"name": "IDFAs", "filter": map[string]any{
			"identifier": map[string]any{"type": " iOS.IDFA "}}})
		if want := jsonOf(t, `{"identifier": {"type": "ios_idfa"}}`); !reflect.DeepEqual(a.Filter, want) {
			t.Errorf("stored filter %v, want %v", a.Filter, want)
		}
	})
}
